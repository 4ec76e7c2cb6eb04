// Package purego holds the kernels in plain Go, built on every platform: im2col + GEMM
// convolutions (gonum's GEMM, or a faster BLAS registered beside it; 1x1 output maps on
// their live taps only), single-pass pooling, the element-wise operations, BatchNorm's
// passes and the loss. It accepts every shape, so it serves every call the other
// implementations refuse (kernels.Impl.Fallback). The operations no other implementation
// offers (the global average, the loss) are plain functions here, which package graph
// calls directly.
package purego

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/nndl/cnn/kernels"
)

func init() {
	kernels.Register(kernels.Impl{Name: "purego", Doc: "im2col + GEMM and single-pass loops in Go; gonum's GEMM", Priority: 10, Fallback: true},
		impl[float32]{}, impl[float64]{})
}

// impl offers every operation of the contract.
type impl[T kernels.Float] struct {
	conv[T]
	pool[T]
}

var gonumBLAS gonum.Implementation

func trans(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}

func (impl[T]) Gemm(transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	switch a := any(a).(type) {
	case []float32:
		gonumBLAS.Sgemm(trans(transA), trans(transB), m, n, k, float32(alpha), a, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		gonumBLAS.Dgemm(trans(transA), trans(transB), m, n, k, float64(alpha), a, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	}
}

func (impl[T]) ReLU(x, y []T) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] = max(v, 0)
	}
}

func (impl[T]) ReLUBackward(y, dy, dx []T) {
	dy, dx = dy[:len(y)], dx[:len(y)]
	for i, v := range y {
		if v > 0 {
			dx[i] = dy[i]
		} else {
			dx[i] = 0
		}
	}
}

func (impl[T]) AcceptsChannelSum(n, c, inner int) bool { return true }

// ChannelSum adds each plane in four interleaved sums, and the planes in float64.
func (impl[T]) ChannelSum(n, c, inner, c0, c1 int, dy, db []T) {
	for q := c0; q < c1; q++ {
		var total float64
		for i := 0; i < n; i++ {
			total += float64(sum(dy[(i*c+q)*inner : (i*c+q+1)*inner]))
		}
		db[q] = T(total)
	}
}

// sum adds up v in four interleaved sums: one chain of dependent additions would wait on
// each one's latency.
func sum[T kernels.Float](v []T) T {
	var a0, a1, a2, a3 T
	i := 0
	for ; i+4 <= len(v); i += 4 {
		a0 += v[i]
		a1 += v[i+1]
		a2 += v[i+2]
		a3 += v[i+3]
	}
	for ; i < len(v); i++ {
		a0 += v[i]
	}
	return (a0 + a1) + (a2 + a3)
}

func (impl[T]) Axpy(a T, x, y []T) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += T(a * v) // the conversion rounds the product: no fused multiply-add
	}
}

// Add computes y = a + b element-wise, then max(y, 0) with relu: NaN kept, +0 for -0.
func (impl[T]) Add(a, b, y []T, relu bool) {
	b = b[:len(a)]
	y = y[:len(a)]
	if relu {
		for i, v := range a {
			y[i] = max(v+b[i], 0)
		}
		return
	}
	for i, v := range a {
		y[i] = v + b[i]
	}
}
