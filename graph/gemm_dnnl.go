//go:build dnnl

package graph

// #cgo LDFLAGS: -ldnnl -lgomp
// #include <oneapi/dnnl/dnnl.h>
// void omp_set_num_threads(int);
//
// // The kernels split their work between goroutines themselves (see parallel), each calling
// // a single-threaded GEMM. OpenMP's thread count is a per-thread setting, and a goroutine
// // may run on any thread, so every call sets it for the thread it runs on.
// static dnnl_status_t sgemm1(char ta, char tb, dnnl_dim_t m, dnnl_dim_t n, dnnl_dim_t k,
//         float alpha, const float *a, dnnl_dim_t lda, const float *b, dnnl_dim_t ldb,
//         float beta, float *c, dnnl_dim_t ldc) {
//     omp_set_num_threads(1);
//     return dnnl_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
// }
import "C"

import (
	"fmt"
	"unsafe"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// BLAS names the matrix-multiply implementation this binary runs on: here oneDNN, for the
// float32 GEMMs and, where they are faster, the convolutions (float64 runs on gonum).
const BLAS = "oneDNN"

// FastConv says how the fast operators (graph.Fast) compute a float32 convolution.
var FastConv = fastConv()

func fastConv() string {
	s := "oneDNN's convolution kernels; im2col and GEMM in float64 and for one image of a deep layer"
	if directCPU {
		s = "direct AVX-512 kernels for small stride-1 unpadded convolutions, " + s
	}
	return s
}

func ctrans(t bool) C.char {
	if t {
		return 'T'
	}
	return 'N'
}

// The slices' bounds are the callers' responsibility, as in any BLAS call; every caller in
// this package passes whole, correctly sized buffers.

// sgemm runs oneDNN's GEMM, the one PyTorch's CPU kernels are built on. It picks its kernel
// for the CPU it runs on (AVX-512 where there is one).
func sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	st := C.sgemm1(ctrans(transA), ctrans(transB), C.dnnl_dim_t(m), C.dnnl_dim_t(n), C.dnnl_dim_t(k),
		C.float(alpha), (*C.float)(unsafe.Pointer(&a[0])), C.dnnl_dim_t(lda), (*C.float)(unsafe.Pointer(&b[0])), C.dnnl_dim_t(ldb),
		C.float(beta), (*C.float)(unsafe.Pointer(&c[0])), C.dnnl_dim_t(ldc))
	if st != C.dnnl_success {
		panic(fmt.Sprintf("graph: dnnl_sgemm(%dx%dx%d) failed with status %d", m, n, k, int(st)))
	}
}

var impl gonum.Implementation

// dgemm serves the float64 builds, which exist for finite-difference checks, not speed.
func dgemm(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	t := func(t bool) blas.Transpose {
		if t {
			return blas.Trans
		}
		return blas.NoTrans
	}
	impl.Dgemm(t(transA), t(transB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
