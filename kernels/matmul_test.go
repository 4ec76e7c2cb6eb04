package kernels_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/nndl/cnn/kernels"
)

// TestMatmulColumns: a product of a few rows by a large transposed B, which the workers
// split by B's rows (a linear layer on one image), gives the reference's product, with and
// without beta, A transposed or not, C wider than the product.
func TestMatmulColumns(t *testing.T) {
	ref := kernels.Named[float64]("reference").Gemm
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct{ m, n, k int }{{1, 1000, 512}, {3, 700, 400}, {4, 4096, 64}} {
		for _, ta := range []bool{false, true} {
			for _, beta := range []float32{0, 1} {
				t.Run(fmt.Sprintf("%dx%dx%d/transA=%v/beta=%v", c.m, c.n, c.k, ta, beta), func(t *testing.T) {
					ldc := c.n + 3
					a, b := random[float32](rng, c.m*c.k), random[float32](rng, c.n*c.k)
					lda := c.k
					if ta {
						lda = c.m
					}
					got := random[float32](rng, c.m*ldc)
					want := f64(got)
					kernels.Matmul(ta, true, c.m, c.n, c.k, 1.5, a, lda, b, c.k, beta, got, ldc)
					ref.Gemm(ta, true, c.m, c.n, c.k, 1.5, f64(a), lda, f64(b), c.k, float64(beta), want, ldc)
					if e := relErr(got, want); !(e <= tol[float32]()) {
						t.Errorf("relative error %.3g", e)
					}
				})
			}
		}
	}
}
