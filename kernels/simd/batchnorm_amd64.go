//go:build cgo

package simd

// #include "batchnorm.h"
import "C"

import "github.com/nndl/cnn/kernels"

// direct offers all of BatchNorm's passes: a missing one would leave it out of the table.
var _ kernels.BatchNorm[float32] = direct{}

// The BatchNorm passes, the same AVX2 kernels for both instruction sets (batchnorm_amd64.c).

func dptr(s []float64) *C.double {
	if len(s) == 0 {
		return nil
	}
	return (*C.double)(&s[0])
}

func (direct) BatchNormSums(n, c, hw, c0, c1 int, x, dy []float32, k, s []float64) {
	C.cnn_bn_sums(ptr(x), ptr(dy), C.int(n), C.int(c), C.long(hw), C.int(c0), C.int(c1), dptr(k), dptr(s))
}

func (direct) BatchNormApply(n, c, hw, c0, c1 int, x, y []float32, p []float64, relu bool) {
	C.cnn_bn_apply(ptr(x), ptr(y), C.int(n), C.int(c), C.long(hw), C.int(c0), C.int(c1), dptr(p), flag(relu))
}

func (direct) BatchNormGrad(n, c, hw, c0, c1 int, x, dy, dx []float32, p []float64) {
	C.cnn_bn_grad(ptr(x), ptr(dy), ptr(dx), C.int(n), C.int(c), C.long(hw), C.int(c0), C.int(c1), dptr(p))
}

func (direct) BatchNormSumsBlocked(n, c, hw, b, c0, c1 int, x, dy []float32, k, s []float64) {
	C.cnn_bn_sums_blocked(ptr(x), ptr(dy), C.int(n), C.int(c), C.long(hw), C.int(b), C.int(c0), C.int(c1), dptr(k), dptr(s))
}

func (direct) BatchNormApplyBlocked(n, c, hw, b, c0, c1 int, x, y []float32, p []float64, relu bool) {
	C.cnn_bn_apply_blocked(ptr(x), ptr(y), C.int(n), C.int(c), C.long(hw), C.int(b), C.int(c0), C.int(c1), dptr(p), flag(relu))
}

func (direct) BatchNormGradBlocked(n, c, hw, b, c0, c1 int, x, dy, dx []float32, p []float64) {
	C.cnn_bn_grad_blocked(ptr(x), ptr(dy), ptr(dx), C.int(n), C.int(c), C.long(hw), C.int(b), C.int(c0), C.int(c1), dptr(p))
}
