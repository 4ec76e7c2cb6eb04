//go:build dnnl

package graph

// #cgo LDFLAGS: -ldnnl
// #include <stdlib.h>
// #include "dnnl_conv.h"
import "C"

import (
	"fmt"
	"sync"
	"unsafe"
)

// The dnnl build runs float32 convolutions through oneDNN's convolution primitives, the
// kernels under PyTorch's CPU convolutions: direct, blocked AVX-512 (or AVX2) loops that skip
// the padding instead of unrolling it. The batch is split between the workers as in the Go
// kernels, each running a single-threaded primitive on its images.

// convKind is one of a convolution's three kernels.
type convKind int

const (
	convForwardKernel convKind = C.CNN_CONV_FORWARD
	convGradXKernel   convKind = C.CNN_CONV_BACKWARD_DATA
	convGradWKernel   convKind = C.CNN_CONV_BACKWARD_WEIGHTS
	errLen                     = 256
)

type primKey struct {
	kind          convKind
	n, c, h, w, p int
	g             convGeom
	bias          bool
	threads       int
}

// prims holds the idle primitives of each shape. A primitive serves one call at a time (it
// owns the buffers of its reorders); concurrent calls of one shape get one each.
var prims struct {
	sync.Mutex
	idle map[primKey][]*C.cnn_conv
}

func getPrim(k primKey) (*C.cnn_conv, error) {
	prims.Lock()
	if l := prims.idle[k]; len(l) > 0 {
		cv := l[len(l)-1]
		prims.idle[k] = l[:len(l)-1]
		prims.Unlock()
		return cv, nil
	}
	prims.Unlock()
	var buf [errLen]C.char
	b := 0
	if k.bias {
		b = 1
	}
	cv := C.cnn_conv_create(C.int(k.kind), C.int(k.n), C.int(k.c), C.int(k.h), C.int(k.w), C.int(k.p),
		C.int(k.g.K), C.int(k.g.S), C.int(k.g.P), C.int(b), C.int(k.threads), &buf[0], errLen)
	if cv == nil {
		return nil, fmt.Errorf("oneDNN convolution [%d,%d,%d,%d] * [%d,%d,%d,%d] (%v): %s",
			k.n, k.c, k.h, k.w, k.p, k.c, k.g.K, k.g.K, k.g, C.GoString(&buf[0]))
	}
	return cv, nil
}

func putPrim(k primKey, cv *C.cnn_conv) {
	prims.Lock()
	if prims.idle == nil {
		prims.idle = map[primKey][]*C.cnn_conv{}
	}
	prims.idle[k] = append(prims.idle[k], cv)
	prims.Unlock()
}

func ptr(s []float32) *C.float {
	if len(s) == 0 {
		return nil
	}
	return (*C.float)(unsafe.Pointer(&s[0]))
}

// runPrim runs kernel kind on images [lo,hi) on the given number of threads: a and b are the
// kernel's inputs (see cnn_conv_run), already cut to those images where they are per-image.
func runPrim(kind convKind, d convDims, lo, hi, threads int, bias bool, a, b, bs, out []float32) error {
	k := primKey{kind: kind, n: hi - lo, c: d.c, h: d.h, w: d.w, p: d.p, g: d.g, bias: bias, threads: threads}
	cv, err := getPrim(k)
	if err != nil {
		return err
	}
	st := C.cnn_conv_run(cv, ptr(a), ptr(b), ptr(bs), ptr(out))
	putPrim(k, cv)
	if st != 0 {
		return fmt.Errorf("oneDNN convolution %v on [%d,%d,%d,%d]: status %d", d.g, hi-lo, d.c, d.h, d.w, int(st))
	}
	return nil
}

// splitBatch reports whether a convolution runs as one single-threaded primitive per worker,
// each on its share of the batch, rather than as one primitive over the whole batch on
// OpenMP's threads. Every run reorders the weights into the primitive's blocked layout, and
// the weight gradient back out of it: where the images outweigh the weights (shallow layers),
// splitting the batch costs little and keeps the workers apart; on the small maps of deep
// layers the weights dominate, and are better reordered once (BenchmarkConv shows both).
func splitBatch(d convDims) bool { return d.p*d.k <= 2*d.n*d.c*d.hw }

// nativeConv runs one of the kernels of a float32 convolution through oneDNN; it reports
// false, doing nothing, for other element types. For the forward kernel a = x, b = w,
// bs = the bias or nil, out = y, and ep is applied to y (nil: nothing); for the input
// gradient a = w, b = dy, out = dx; for the weight gradient a = x, b = dy, out = dw.
func nativeConv[T Float](ws *scratch, kind convKind, d convDims, a, b, bs, out []T, ep *epilogue) (bool, error) {
	a32, ok := any(a).([]float32)
	if !ok {
		return false, nil
	}
	b32, bs32, out32 := any(b).([]float32), any(bs).([]float32), any(out).([]float32)
	in, outImg := d.c*d.hw, d.p*d.ohw
	if !splitBatch(d) {
		if d.n < workers() {
			// One image of a deep layer: the Go kernels split its filters between the
			// workers, which beats both oneDNN's threads and a single thread.
			return false, nil
		}
		var err error
		switch kind {
		case convForwardKernel:
			if err = runPrim(kind, d, 0, d.n, workers(), bs32 != nil, a32, b32, bs32, out32); err == nil && ep != nil {
				parallel(d.n, func(_, lo, hi int) { applyEpilogue(ep, d, out32[lo*outImg:hi*outImg]) })
			}
		case convGradXKernel:
			err = runPrim(kind, d, 0, d.n, workers(), false, b32, a32, nil, out32)
		case convGradWKernel:
			err = runPrim(kind, d, 0, d.n, workers(), false, a32, b32, nil, out32)
		}
		return true, err
	}
	var (
		mu    sync.Mutex
		first error
	)
	fail := func(err error) {
		mu.Lock()
		if first == nil {
			first = err
		}
		mu.Unlock()
	}
	switch kind {
	case convForwardKernel:
		parallel(d.n, func(_, lo, hi int) {
			y := out32[lo*outImg : hi*outImg]
			if err := runPrim(kind, d, lo, hi, 1, bs32 != nil, a32[lo*in:hi*in], b32, bs32, y); err != nil {
				fail(err)
				return
			}
			applyEpilogue(ep, d, y)
		})
	case convGradXKernel:
		parallel(d.n, func(_, lo, hi int) {
			if err := runPrim(kind, d, lo, hi, 1, false, b32[lo*outImg:hi*outImg], a32, nil, out32[lo*in:hi*in]); err != nil {
				fail(err)
			}
		})
	case convGradWKernel:
		ws.reserve(workers(), 1)
		k := parallel(d.n, func(wk, lo, hi int) {
			dst := out32
			if wk > 0 {
				dst = buffer[float32](ws, wk, 0, len(out32))
			}
			if err := runPrim(kind, d, lo, hi, 1, false, a32[lo*in:hi*in], b32[lo*outImg:hi*outImg], nil, dst); err != nil {
				fail(err)
			}
		})
		// The partial sums are added in worker order, so the result does not depend on timing.
		for wk := 1; wk < k; wk++ {
			for i, v := range buffer[float32](ws, wk, 0, len(out32)) {
				out32[i] += v
			}
		}
	}
	return true, first
}
