//go:build openblas && !dnnl

package graph

// #cgo LDFLAGS: -lopenblas
// #include <cblas.h>
// void openblas_set_num_threads(int);
import "C"

import "unsafe"

// The kernels split their work between goroutines themselves (see parallel), each calling a
// single-threaded GEMM; OpenBLAS's own threads would only compete with them.
func init() { C.openblas_set_num_threads(1) }

// BLAS names the matrix-multiply implementation this binary runs on.
const BLAS = "OpenBLAS"

// FastConv says how the fast operators (graph.Fast) compute a float32 convolution.
const FastConv = "im2col + OpenBLAS GEMM"

func ctrans(t bool) C.enum_CBLAS_TRANSPOSE {
	if t {
		return C.CblasTrans
	}
	return C.CblasNoTrans
}

// The slices' bounds are the callers' responsibility, as in any BLAS call; every caller in
// this package passes whole, correctly sized buffers.

func sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	C.cblas_sgemm(C.CblasRowMajor, ctrans(transA), ctrans(transB), C.blasint(m), C.blasint(n), C.blasint(k),
		C.float(alpha), (*C.float)(unsafe.Pointer(&a[0])), C.blasint(lda), (*C.float)(unsafe.Pointer(&b[0])), C.blasint(ldb),
		C.float(beta), (*C.float)(unsafe.Pointer(&c[0])), C.blasint(ldc))
}

func dgemm(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	C.cblas_dgemm(C.CblasRowMajor, ctrans(transA), ctrans(transB), C.blasint(m), C.blasint(n), C.blasint(k),
		C.double(alpha), (*C.double)(unsafe.Pointer(&a[0])), C.blasint(lda), (*C.double)(unsafe.Pointer(&b[0])), C.blasint(ldb),
		C.double(beta), (*C.double)(unsafe.Pointer(&c[0])), C.blasint(ldc))
}
