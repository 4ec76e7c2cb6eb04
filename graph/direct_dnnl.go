//go:build dnnl

package graph

// #cgo CFLAGS: -O3
// #include "direct.h"
import "C"

// The dnnl build runs small float32 convolutions (stride 1, no padding, fewer than 16 channels
// in or out: LeNet-5's conv1 and conv3), 2x2 pooling, the ReLU, bias gradients and the SGD
// update on the direct AVX-512 kernels of direct.c, where the CPU has AVX-512.

// directCPU reports whether this CPU runs the direct kernels.
var directCPU = C.cnn_direct_ok() != 0

// directConv reports whether convolution d runs on the direct kernels. With 16 channels in
// and out, oneDNN's layout wastes nothing and its kernels are as fast or faster (measured
// here: 16 to 16 channels, 3x3 on 64 maps of 18x18, input gradient 0.43 ms on oneDNN against
// 0.74 on the direct kernel).
func directConv(d convDims) bool {
	return directCPU && d.g.S == 1 && d.g.P == 0 && d.g.K <= C.CNN_DIRECT_MAX_K &&
		d.c <= 16 && d.p <= 16 && (d.c < 16 || d.p < 16) && !d.fullWindow()
}

// runDirect runs one of the kernels of a float32 convolution on the direct kernels, with the
// arguments of nativeConv, splitting the images between the workers.
func runDirect(ws *scratch, kind convKind, d convDims, a, b, bs, out []float32, ep *epilogue) {
	in, outImg := d.c*d.hw, d.p*d.ohw
	K := C.int(d.g.K)
	switch kind {
	case convForwardKernel:
		relu := ep != nil && ep.relu && ep.mean == nil
		ws.reserve(workers(), 1)
		wt := buffer[float32](ws, 0, 0, len(b))
		C.cnn_direct_weights(ptr(b), ptr(wt), C.int(d.p), C.int(d.c), K, 0)
		parallel(d.n, func(_, lo, hi int) {
			y := out[lo*outImg : hi*outImg]
			C.cnn_direct_forward(ptr(a[lo*in:]), ptr(wt), ptr(bs), ptr(y), C.int(hi-lo),
				C.int(d.c), C.int(d.h), C.int(d.w), C.int(d.p), K, cbool(relu))
			if ep != nil && !relu {
				applyEpilogue(ep, d, y)
			}
		})
	case convGradXKernel:
		ws.reserve(workers(), 2)
		wt := buffer[float32](ws, 0, 1, len(a))
		C.cnn_direct_weights(ptr(a), ptr(wt), C.int(d.p), C.int(d.c), K, 1)
		pad := (d.oh + 2*d.g.K - 2) * (d.ow + 2*d.g.K - 2) * d.p
		parallel(d.n, func(wk, lo, hi int) {
			C.cnn_direct_backward_x(ptr(wt), ptr(b[lo*outImg:]), ptr(out[lo*in:]), C.int(hi-lo),
				C.int(d.c), C.int(d.h), C.int(d.w), C.int(d.p), K, ptr(buffer[float32](ws, wk, 0, pad)))
		})
	case convGradWKernel:
		sumOverImages(ws, 0, d.n, out, func(_ int, dst []float32, lo, hi int) {
			C.cnn_direct_backward_w(ptr(a[lo*in:]), ptr(b[lo*outImg:]), ptr(dst), C.int(hi-lo),
				C.int(d.c), C.int(d.h), C.int(d.w), C.int(d.p), K)
		})
	}
}

// cbool is a C flag.
func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// pool2Native pools (y != nil) or routes the gradient back (dx != nil) on the direct kernels,
// for float32 2x2 windows of stride 2 without padding; it reports false, doing nothing,
// otherwise. The arguments are pool's.
func pool2Native[T Float](g convGeom, mode poolMode, s []int, x, dy, y, dx, relu []T) bool {
	x32, ok := any(x).([]float32)
	if !ok || !directCPU || g.K != 2 || g.S != 2 || g.P != 0 {
		return false
	}
	avg := cbool(mode != poolMax) // without padding, both averages divide by 4
	h, w := s[2], s[3]
	oh, ow := h/2, w/2
	y32, dy32, dx32, relu32 := any(y).([]float32), any(dy).([]float32), any(dx).([]float32), any(relu).([]float32)
	parallel(s[0]*s[1], func(_, lo, hi int) {
		xs := ptr(x32[lo*h*w:])
		if y32 != nil {
			C.cnn_pool2(xs, ptr(y32[lo*oh*ow:]), C.int(hi-lo), C.int(h), C.int(w), avg)
			return
		}
		var r *C.float
		if relu32 != nil {
			r = ptr(relu32[lo*h*w:])
		}
		C.cnn_pool2_grad(xs, ptr(dy32[lo*oh*ow:]), r, ptr(dx32[lo*h*w:]), C.int(hi-lo), C.int(h), C.int(w), avg)
	})
	return true
}

// reluNative computes y = max(x, 0) (x may be y) on the direct kernel, keeping NaN; it
// reports false, doing nothing, for other element types or CPUs.
func reluNative[T Float](x, y []T) bool {
	x32, ok := any(x).([]float32)
	if !ok || !directCPU || len(x32) == 0 {
		return false
	}
	C.cnn_relu(ptr(x32), ptr(any(y).([]float32)), C.long(len(x32)))
	return true
}

// reluGradNative passes dy to dx where y is positive on the direct kernel; it reports false,
// doing nothing, for other element types or CPUs.
func reluGradNative[T Float](y, dy, dx []T) bool {
	y32, ok := any(y).([]float32)
	if !ok || !directCPU || len(y32) == 0 {
		return false
	}
	C.cnn_relu_grad(ptr(y32), ptr(any(dy).([]float32)), ptr(any(dx).([]float32)), C.long(len(y32)))
	return true
}

// sumChannelsNative sums dy [N,C,inner] per channel into db on the direct kernel, for float32
// planes of at least a vector; it reports false, doing nothing, otherwise.
func sumChannelsNative[T Float](n, c, inner int, dy, db []T) bool {
	dy32, ok := any(dy).([]float32)
	if !ok || !directCPU || inner < 16 {
		return false
	}
	db32 := any(db).([]float32)
	if !sumSplit(n * c * inner) {
		C.cnn_sum_channels(ptr(dy32), C.int(n), C.int(c), C.long(inner), 0, C.int(c), ptr(db32))
		return true
	}
	parallel(c, func(_, lo, hi int) {
		C.cnn_sum_channels(ptr(dy32), C.int(n), C.int(c), C.long(inner), C.int(lo), C.int(hi), ptr(db32))
	})
	return true
}

// axpyNative computes y += a*x on the direct kernel; it reports false, doing nothing, for
// other element types or CPUs.
func axpyNative[T Float](a T, x, y []T) bool {
	x32, ok := any(x).([]float32)
	if !ok || !directCPU || len(x32) == 0 {
		return false
	}
	C.cnn_axpy(C.float(float32(a)), ptr(x32), ptr(any(y).([]float32)), C.long(len(x32)))
	return true
}
