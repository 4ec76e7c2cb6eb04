package kernels_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/nndl/cnn/kernels"
)

// TestMatmulColumns: a product of a few rows by a large B, which the workers split by its
// columns (a linear layer on one image or a few), gives the reference's product, with and
// without beta, A and B transposed or not, B and C wider than the product.
func TestMatmulColumns(t *testing.T) {
	ref := kernels.Named[float64]("reference").Gemm
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct{ m, n, k int }{{1, 1000, 512}, {3, 700, 400}, {4, 4096, 64}, {16, 1000, 512}} {
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				for _, beta := range []float32{0, 1} {
					t.Run(fmt.Sprintf("%dx%dx%d/transA=%v/transB=%v/beta=%v", c.m, c.n, c.k, ta, tb, beta), func(t *testing.T) {
						ldc := c.n + 3
						a := random[float32](rng, c.m*c.k)
						lda, ldb := c.k, c.k
						if ta {
							lda = c.m
						}
						if !tb {
							ldb = c.n + 5
						}
						b := random[float32](rng, max(c.n, c.k)*ldb)
						got := random[float32](rng, c.m*ldc)
						want := f64(got)
						kernels.Matmul(ta, tb, c.m, c.n, c.k, 1.5, a, lda, b, ldb, beta, got, ldc)
						ref.Gemm(ta, tb, c.m, c.n, c.k, 1.5, f64(a), lda, f64(b), ldb, float64(beta), want, ldc)
						if e := relErr(got, want); !(e <= tol[float32]()) {
							t.Errorf("relative error %.3g", e)
						}
					})
				}
			}
		}
	}
}
