//go:build cgo

package simd

// #cgo CFLAGS: -O3
// #include "avx512.h"
import "C"

import "github.com/nndl/cnn/kernels"

func init() {
	missing := ""
	if C.cnn_avx512_ok() == 0 {
		missing = "this CPU lacks AVX-512 F, BW and VL, or FMA"
	}
	kernels.Register(kernels.Impl{Name: "avx512", Doc: "direct AVX-512 kernels for small convolutions, 2x2 pooling and element-wise work",
		Priority: 50, ISA: kernels.AVX512, Missing: missing}, direct{avx512})
}

func ptr(s []float32) *C.float {
	if len(s) == 0 {
		return nil
	}
	return (*C.float)(&s[0])
}

func flag(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

var avx512 = &isa{
	maxK: C.CNN_AVX512_MAX_K,
	weights: func(w, wt []float32, p, c, k int, flip bool) {
		C.cnn_avx512_weights(ptr(w), ptr(wt), C.int(p), C.int(c), C.int(k), flag(flip))
	},
	forward: func(x, wt, b, y []float32, n, c, h, w, p, k int, relu bool) {
		C.cnn_avx512_forward(ptr(x), ptr(wt), ptr(b), ptr(y), C.int(n), C.int(c), C.int(h), C.int(w), C.int(p), C.int(k), flag(relu))
	},
	backwardX: func(wt, dy, dx []float32, n, c, h, w, p, k int, pad []float32) {
		C.cnn_avx512_backward_x(ptr(wt), ptr(dy), ptr(dx), C.int(n), C.int(c), C.int(h), C.int(w), C.int(p), C.int(k), ptr(pad))
	},
	backwardW: func(x, dy, dw []float32, n, c, h, w, p, k int) {
		C.cnn_avx512_backward_w(ptr(x), ptr(dy), ptr(dw), C.int(n), C.int(c), C.int(h), C.int(w), C.int(p), C.int(k))
	},
	pool2: func(x, y []float32, planes, h, w int, avg bool) {
		C.cnn_avx512_pool2(ptr(x), ptr(y), C.int(planes), C.int(h), C.int(w), flag(avg))
	},
	pool2Grad: func(x, dy, relu, dx []float32, planes, h, w int, avg bool) {
		C.cnn_avx512_pool2_grad(ptr(x), ptr(dy), ptr(relu), ptr(dx), C.int(planes), C.int(h), C.int(w), flag(avg))
	},
	relu:     func(x, y []float32) { C.cnn_avx512_relu(ptr(x), ptr(y), C.long(len(x))) },
	reluGrad: func(y, dy, dx []float32) { C.cnn_avx512_relu_grad(ptr(y), ptr(dy), ptr(dx), C.long(len(y))) },
	sum: func(dy []float32, n, c, inner, c0, c1 int, db []float32) {
		C.cnn_avx512_sum_channels(ptr(dy), C.int(n), C.int(c), C.long(inner), C.int(c0), C.int(c1), ptr(db))
	},
	axpy: func(a float32, x, y []float32) { C.cnn_avx512_axpy(C.float(a), ptr(x), ptr(y), C.long(len(x))) },
}
