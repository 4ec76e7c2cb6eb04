//go:build openblas

// Package openblas runs the matrix products on OpenBLAS (float32 and float64). It is built
// with -tags openblas and links libopenblas.
package openblas

// #cgo LDFLAGS: -lopenblas
// #include <cblas.h>
// void openblas_set_num_threads(int);
import "C"

import (
	"sync"
	"unsafe"

	"github.com/nndl/cnn/kernels"
)

func init() {
	kernels.Register(kernels.Impl{Name: "openblas", Doc: "OpenBLAS's sgemm and dgemm", Priority: 20}, gemm[float32]{}, gemm[float64]{})
}

// gemm implements kernels.Gemm on cblas_sgemm and cblas_dgemm.
type gemm[T kernels.Float] struct{}

// single turns off OpenBLAS's own threads on first use: the kernels split their work between
// goroutines themselves, each calling a single-threaded GEMM.
var single sync.Once

func ctrans(t bool) C.enum_CBLAS_TRANSPOSE {
	if t {
		return C.CblasTrans
	}
	return C.CblasNoTrans
}

// Gemm runs cblas_sgemm or cblas_dgemm. The slices' bounds are the callers' responsibility,
// as in any BLAS call.
func (gemm[T]) Gemm(transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	single.Do(func() { C.openblas_set_num_threads(1) })
	ta, tb := ctrans(transA), ctrans(transB)
	switch a := any(a).(type) {
	case []float32:
		b, c := any(b).([]float32), any(c).([]float32)
		C.cblas_sgemm(C.CblasRowMajor, ta, tb, C.blasint(m), C.blasint(n), C.blasint(k),
			C.float(float32(alpha)), (*C.float)(unsafe.Pointer(&a[0])), C.blasint(lda), (*C.float)(unsafe.Pointer(&b[0])), C.blasint(ldb),
			C.float(float32(beta)), (*C.float)(unsafe.Pointer(&c[0])), C.blasint(ldc))
	case []float64:
		b, c := any(b).([]float64), any(c).([]float64)
		C.cblas_dgemm(C.CblasRowMajor, ta, tb, C.blasint(m), C.blasint(n), C.blasint(k),
			C.double(float64(alpha)), (*C.double)(unsafe.Pointer(&a[0])), C.blasint(lda), (*C.double)(unsafe.Pointer(&b[0])), C.blasint(ldb),
			C.double(float64(beta)), (*C.double)(unsafe.Pointer(&c[0])), C.blasint(ldc))
	}
}
