//go:build dnnl

package onednn

// #cgo LDFLAGS: -ldnnl -lgomp
// #include <oneapi/dnnl/dnnl.h>
// void omp_set_num_threads(int);
//
// // The kernels split their work between goroutines themselves, each calling a
// // single-threaded GEMM. OpenMP's thread count is a per-thread setting, and a goroutine
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
)

// sgemm implements kernels.Gemm for float32 on oneDNN's sgemm, which picks its kernel for the
// CPU it runs on.
type sgemm struct{}

func ctrans(t bool) C.char {
	if t {
		return 'T'
	}
	return 'N'
}

// Gemm runs dnnl_sgemm. The slices' bounds are the callers' responsibility, as in any BLAS
// call.
func (sgemm) Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	st := C.sgemm1(ctrans(transA), ctrans(transB), C.dnnl_dim_t(m), C.dnnl_dim_t(n), C.dnnl_dim_t(k),
		C.float(alpha), (*C.float)(unsafe.Pointer(&a[0])), C.dnnl_dim_t(lda), (*C.float)(unsafe.Pointer(&b[0])), C.dnnl_dim_t(ldb),
		C.float(beta), (*C.float)(unsafe.Pointer(&c[0])), C.dnnl_dim_t(ldc))
	if st != C.dnnl_success {
		panic(fmt.Sprintf("onednn: dnnl_sgemm(%dx%dx%d) failed with status %d", m, n, k, int(st)))
	}
}
