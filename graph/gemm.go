package graph

// Float is the element type of every kernel: the project computes in float32 (the default,
// as PyTorch does) or float64 (for finite-difference gradient checks).
type Float interface{ ~float32 | ~float64 }

// gemm computes c = alpha*op(a)*op(b) + beta*c for row-major matrices, where op(a) is m x k
// and op(b) is k x n. It calls the BLAS the binary was built with (see BLAS).
func gemm[T Float](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		scale(beta, c, m, n, ldc)
		return
	}
	switch a := any(a).(type) {
	case []float32:
		sgemm(transA, transB, m, n, k, float32(alpha), a, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		dgemm(transA, transB, m, n, k, float64(alpha), a, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	}
}

func scale[T Float](beta T, c []T, m, n, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		for j := range row {
			row[j] *= beta
		}
	}
}
