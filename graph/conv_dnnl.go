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
// the padding instead of unrolling it. Shallow layers split the batch between the workers,
// each running a single-threaded primitive on its images; deep layers run one primitive over
// the batch on OpenMP's threads (see splitBatch).

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
	fwd           forwardOpts
	threads       int
}

// forwardOpts are what a forward kernel adds to the convolution (see cnn_conv_create).
type forwardOpts struct{ bias, fold bool }

// prims holds the idle primitives of each shape, for the life of the process. A primitive
// serves one call at a time (it owns the buffers of its reorders); concurrent calls of one
// shape get one each. A shape oneDNN refuses is remembered, and refused again at once.
var prims struct {
	sync.Mutex
	idle   map[primKey][]*C.cnn_conv
	failed map[primKey]error
}

func getPrim(k primKey) (*C.cnn_conv, error) {
	prims.Lock()
	if err := prims.failed[k]; err != nil {
		prims.Unlock()
		return nil, err
	}
	if l := prims.idle[k]; len(l) > 0 {
		cv := l[len(l)-1]
		prims.idle[k] = l[:len(l)-1]
		prims.Unlock()
		return cv, nil
	}
	prims.Unlock()
	var buf [errLen]C.char
	cv := C.cnn_conv_create(C.int(k.kind), C.int(k.n), C.int(k.c), C.int(k.h), C.int(k.w), C.int(k.p),
		C.int(k.g.K), C.int(k.g.S), C.int(k.g.P), cbool(k.fwd.bias), cbool(k.fwd.fold), C.int(k.threads), &buf[0], errLen)
	if cv == nil {
		err := fmt.Errorf("oneDNN convolution [%d,%d,%d,%d] * [%d,%d,%d,%d] (%v): %s",
			k.n, k.c, k.h, k.w, k.p, k.c, k.g.K, k.g.K, k.g, C.GoString(&buf[0]))
		prims.Lock()
		if prims.failed == nil {
			prims.failed = map[primKey]error{}
		}
		prims.failed[k] = err
		prims.Unlock()
		return nil, err
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

// runPrim runs kernel kind on images [lo,hi) on the given number of threads: a, b, bs and
// scales are the kernel's inputs (see cnn_conv_run), already cut to those images where they
// are per-image.
func runPrim(kind convKind, d convDims, lo, hi, threads int, fwd forwardOpts, a, b, bs, scales, out []float32) error {
	k := primKey{kind: kind, n: hi - lo, c: d.c, h: d.h, w: d.w, p: d.p, g: d.g, fwd: fwd, threads: threads}
	cv, err := getPrim(k)
	if err != nil {
		return err
	}
	st := C.cnn_conv_run(cv, ptr(a), ptr(b), ptr(bs), ptr(scales), ptr(out))
	putPrim(k, cv)
	if st != 0 {
		return fmt.Errorf("oneDNN convolution %v on [%d,%d,%d,%d]: status %d", d.g, hi-lo, d.c, d.h, d.w, int(st))
	}
	return nil
}

// runWhole runs kernel kind over all of d's images on workers() OpenMP threads. (libgomp keeps
// a team of threads for each thread that starts a parallel region; a goroutine may run on any
// of the Go runtime's threads, so a process gathers a few teams, asleep when unused: a
// ResNet18 training run has 10 threads in all. Running these from one locked thread instead
// was no faster here, and often slower.)
func runWhole(kind convKind, d convDims, fwd forwardOpts, a, b, bs, scales, out []float32) error {
	return runPrim(kind, d, 0, d.n, workers(), fwd, a, b, bs, scales, out)
}

// splitBatch reports whether a convolution runs as one single-threaded primitive per worker,
// each on its share of the batch, rather than as one primitive over the whole batch on
// OpenMP's threads. Every run reorders the weights into the primitive's blocked layout, and
// the weight gradient back out of it: where the images outweigh the weights (shallow layers),
// splitting the batch costs little and keeps the workers apart; on the small maps of deep
// layers the weights dominate, and are better reordered once (BenchmarkConv shows both).
func splitBatch(d convDims) bool { return d.p*d.k <= 2*d.n*d.c*d.hw }

// foldEpilogue folds the inference BatchNorm of the forward kernel's epilogue ep, if any,
// into the convolution: (conv(x, w) + b - mean)*a + shift = conv(x, w*a) + (b - mean)*a +
// shift, oneDNN scaling the weights by the factors a as it reorders them. It returns the
// options, the bias and the factors to run with (in the scratch's worker-0 slot 1). A ReLU
// stays with the Go epilogue: oneDNN's would turn NaN into 0, and hide a diverged run.
func foldEpilogue(ws *scratch, d convDims, b []float32, ep *epilogue) (forwardOpts, []float32, []float32) {
	fwd := forwardOpts{bias: b != nil}
	if ep == nil || ep.mean == nil {
		return fwd, b, nil
	}
	fwd.bias, fwd.fold = true, true
	ws.reserve(workers(), 2)
	buf := buffer[float32](ws, 0, 1, 2*d.p)
	scales, bias := buf[:d.p], buf[d.p:]
	for q := range d.p {
		var bq float64
		if b != nil {
			bq = float64(b[q])
		}
		scales[q] = float32(ep.a[q])
		bias[q] = float32((bq-ep.mean[q])*ep.a[q] + ep.shift[q])
	}
	return fwd, bias, scales
}

// nativeConv runs one of the kernels of a float32 convolution through oneDNN; it reports
// false, doing nothing, for other element types. For the forward kernel a = x, b = w,
// bs = the bias or nil, out = y, and ep is applied to y as it is written (nil: nothing); for
// the input gradient a = w, b = dy, out = dx; for the weight gradient a = x, b = dy, out = dw.
func nativeConv[T Float](ws *scratch, kind convKind, d convDims, a, b, bs, out []T, ep *epilogue) (bool, error) {
	a32, ok := any(a).([]float32)
	if !ok {
		return false, nil
	}
	b32, bs32, out32 := any(b).([]float32), any(bs).([]float32), any(out).([]float32)
	if directConv(d) {
		runDirect(ws, kind, d, a32, b32, bs32, out32, ep)
		return true, nil
	}
	in, outImg := d.c*d.hw, d.p*d.ohw
	split := splitBatch(d)
	if !split && d.n < workers() {
		// Fewer images than workers in a deep layer (inference on one image): the Go kernels
		// are faster (the forward one splits the filters between the workers).
		return false, nil
	}
	var fwd forwardOpts
	var scales []float32
	var rest *epilogue // what of ep is left to apply after oneDNN's kernel
	if kind == convForwardKernel {
		fwd, bs32, scales = foldEpilogue(ws, d, bs32, ep)
		if ep != nil && ep.relu {
			rest = &epilogue{relu: true}
		}
	}
	if !split {
		var err error
		switch kind {
		case convForwardKernel:
			if err = runWhole(kind, d, fwd, a32, b32, bs32, scales, out32); err == nil && rest != nil {
				parallel(d.n, func(_, lo, hi int) { applyEpilogue(rest, d, out32[lo*outImg:hi*outImg]) })
			}
		case convGradXKernel:
			err = runWhole(kind, d, fwd, b32, a32, nil, nil, out32)
		case convGradWKernel:
			err = runWhole(kind, d, fwd, a32, b32, nil, nil, out32)
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
			if err := runPrim(kind, d, lo, hi, 1, fwd, a32[lo*in:hi*in], b32, bs32, scales, y); err != nil {
				fail(err)
				return
			}
			applyEpilogue(rest, d, y)
		})
	case convGradXKernel:
		parallel(d.n, func(_, lo, hi int) {
			if err := runPrim(kind, d, lo, hi, 1, fwd, b32[lo*outImg:hi*outImg], a32, nil, nil, out32[lo*in:hi*in]); err != nil {
				fail(err)
			}
		})
	case convGradWKernel:
		sumOverImages(ws, 0, d.n, out32, func(_ int, dst []float32, lo, hi int) {
			if err := runPrim(kind, d, lo, hi, 1, fwd, a32[lo*in:hi*in], b32[lo*outImg:hi*outImg], nil, nil, dst); err != nil {
				fail(err)
			}
		})
	}
	return true, first
}
