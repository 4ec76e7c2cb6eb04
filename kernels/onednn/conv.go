//go:build dnnl

package onednn

// #cgo LDFLAGS: -ldnnl
// #include <stdlib.h>
// #include "conv.h"
import "C"

import (
	"fmt"
	"slices"
	"sync"
	"unsafe"

	"github.com/nndl/cnn/kernels"
)

// Shallow layers split the batch between the workers,
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
	g             kernels.ConvGeom
	fwd           forwardOpts
	threads       int
}

// forwardOpts are what a forward kernel adds to the convolution, whether its weights come
// packed, and the channel block of its input and output maps (and of their gradients, for
// the other two kernels), 0 for NCHW (see cnn_conv_create).
type forwardOpts struct {
	bias, fold, packed bool
	xblock, yblock     int
}

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
		C.int(k.g.KH), C.int(k.g.SH), C.int(k.g.PH), flag(k.fwd.bias), flag(k.fwd.fold), flag(k.fwd.packed), C.int(k.fwd.xblock), C.int(k.fwd.yblock),
		C.int(k.threads), &buf[0], errLen)
	if cv == nil {
		err := fmt.Errorf("oneDNN convolution [%d,%d,%d,%d] * [%d,%d,%d,%d] (%v): %s",
			k.n, k.c, k.h, k.w, k.p, k.c, k.g.KH, k.g.KW, k.g, C.GoString(&buf[0]))
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
// scales are the kernel's inputs (see cnn_conv_run: for the input gradient a is dy and b is
// w), already cut to those images where they are per-image.
func runPrim(ws *kernels.Scratch, kind convKind, d kernels.ConvDims, lo, hi, threads int, fwd forwardOpts, a, b, bs, scales, out []float32) error {
	k := keyOf(kind, d, hi-lo, threads, fwd)
	cv, err := getPrim(k)
	if err != nil {
		return err
	}
	// The maps (x, and dy) may be shared with the run's other kernels that read them; the
	// weights are laid out differently by each kernel.
	s0, ready0 := lend(ws, k, cv, 0, a)
	var s1 *shared
	var ready1 bool
	if kind == convGradWKernel {
		s1, ready1 = lend(ws, k, cv, 1, b)
	}
	st := C.cnn_conv_run_shared(cv, ptr(a), ptr(b), ptr(bs), ptr(scales), ptr(out), s0.buffer(), flag(ready0), s1.buffer(), flag(ready1))
	putPrim(k, cv)
	if st != 0 {
		return fmt.Errorf("oneDNN convolution %v on [%d,%d,%d,%d]: status %d", d.G, hi-lo, d.C, d.H, d.W, int(st))
	}
	s0.filled()
	s1.filled()
	return nil
}

// keyOf is the primitive of kernel kind for n of d's images on the given number of threads.
func keyOf(kind convKind, d kernels.ConvDims, n, threads int, fwd forwardOpts) primKey {
	return primKey{kind: kind, n: n, c: d.C, h: d.H, w: d.W, p: d.P, g: d.G, fwd: fwd, threads: threads}
}

// runWhole runs kernel kind over all of d's images on wholeThreads(d) OpenMP threads. (libgomp keeps
// a team of threads for each thread that starts a parallel region; a goroutine may run on any
// of the Go runtime's threads, so a process gathers a few teams, asleep when unused: a
// ResNet18 training run has 10 threads in all. Running these from one locked thread instead
// was no faster here, and often slower.)
func runWhole(ws *kernels.Scratch, kind convKind, d kernels.ConvDims, fwd forwardOpts, a, b, bs, scales, out []float32) error {
	return runPrim(ws, kind, d, 0, d.N, wholeThreads(d), fwd, a, b, bs, scales, out)
}

// Sharing the maps' blocked copies. Within a run of a training program (kernels.Scratch.Run),
// the forward kernel's copy of x serves the weight gradient's, and the input gradient's copy
// of dy the weight gradient's (or the other way round): a tensor is identified by its first
// element and length, and its copy by the kernel and operand whose layout it holds.

type shareKey struct {
	at *float32
	n  int
}

// shared is one map's blocked copy.
type shared struct {
	run  uint64 // the last run it was lent in
	full bool   // filled in that run
	prim primKey
	op   int
	buf  []float32
}

// lend returns the copy kernel k (cv) should use for its input operand i, the map v: one
// filled earlier in this run in the same layout (ready), or a buffer for it to fill. It
// returns nil where nothing is shared: outside a run, or where the kernel reads v as it lies.
func lend(ws *kernels.Scratch, k primKey, cv *C.cnn_conv, i int, v []float32) (e *shared, ready bool) {
	if ws == nil || ws.Run == 0 || len(v) == 0 {
		return nil, false
	}
	size := int(C.cnn_conv_inner_size(cv, C.int(i)))
	if size == 0 {
		return nil, false
	}
	key := shareKey{&v[0], len(v)}
	e, _ = ws.Kept(key).(*shared)
	if e == nil {
		// A map new to this scratch: forget those no kernel has read since the run before
		// this one (the values of operations that make a new one at every run), which would
		// otherwise pile up.
		ws.Forget(func(_, v any) bool { s, ok := v.(*shared); return ok && s.run+1 < ws.Run })
		e = &shared{}
		ws.Keep(key, e)
	}
	if e.run == ws.Run && e.full && sameLayout(e.prim, e.op, k, cv, i) {
		return e, true
	}
	if len(e.buf) < (size+3)/4 {
		e.buf = aligned((size + 3) / 4)
	}
	e.run, e.full, e.prim, e.op = ws.Run, false, k, i
	return e, false
}

func (e *shared) buffer() *C.float {
	if e == nil {
		return nil
	}
	return ptr(e.buf)
}

// filled records that the call succeeded: the copy holds the map for the rest of the run.
func (e *shared) filled() {
	if e != nil {
		e.full = true
	}
}

// aligned returns n float32s starting on a 64-byte boundary, as oneDNN's kernels may assume
// of the buffers they lay a tensor out in.
func aligned(n int) []float32 {
	buf := make([]float32, n+16)
	off := int(uintptr(unsafe.Pointer(&buf[0]))%64) / 4
	if off != 0 {
		off = 16 - off
	}
	return buf[off : off+n : off+n]
}

// layouts remembers whether two kernels' operands have the same layout.
var layouts struct {
	sync.Mutex
	same map[[2]layoutOf]bool
}

type layoutOf struct {
	k  primKey
	op int
}

// sameLayout reports whether kernel a's operand i and kernel b's (cvb) operand j have the
// same layout.
func sameLayout(a primKey, i int, b primKey, cvb *C.cnn_conv, j int) bool {
	if a == b && i == j {
		return true
	}
	pair := [2]layoutOf{{a, i}, {b, j}}
	layouts.Lock()
	same, ok := layouts.same[pair]
	layouts.Unlock()
	if ok {
		return same
	}
	cva, err := getPrim(a)
	if err != nil {
		return false
	}
	same = C.cnn_conv_inner_equal(cva, C.int(i), cvb, C.int(j)) != 0
	putPrim(a, cva)
	layouts.Lock()
	if layouts.same == nil {
		layouts.same = map[[2]layoutOf]bool{}
	}
	layouts.same[pair] = same
	layouts.Unlock()
	return same
}

// wholeThreads is the number of OpenMP threads a primitive over d's whole batch runs on: the
// workers, but one for a small convolution of fewer images than workers (one image of a
// 32x32 network), where waking the other threads for each of its reorders and its kernel
// costs more than it shares: 1 against 2 threads here, with AVX-512, 15 against 165 us for
// a 64->128 1x1 stride-2 convolution on 8x8 maps, 24 against 49 us for ResNet18's stem.
func wholeThreads(d kernels.ConvDims) int {
	if d.N < kernels.Workers() && d.N*d.P*d.OHW*d.K < 1<<23 {
		return 1
	}
	return kernels.Workers()
}

// splitBatch reports whether a convolution of at least as many images as workers runs as one
// single-threaded primitive per worker, each on its share of the batch, rather than as one
// primitive over the whole batch on OpenMP's threads. Every run reorders the weights into the
// primitive's blocked layout (but a prepared one, see PrepareConv), and the weight gradient
// back out of it: where the images outweigh the weights (shallow layers),
// splitting the batch costs little and keeps the workers apart; on the small maps of deep
// layers the weights dominate, and are better reordered once (BenchmarkConv shows both).
func splitBatch(d kernels.ConvDims) bool { return d.P*d.K <= 2*d.N*d.C*d.HW }

// runsWhole reports whether a convolution runs as one primitive over the whole batch: a deep
// layer (see splitBatch), fewer images than workers, which then all work on them, or much
// work an image (wholeImageMACs), which oneDNN's threads share well and whose weights are
// then reordered once rather than once a worker.
func runsWhole(d kernels.ConvDims) bool {
	return !splitBatch(d) || d.N < kernels.Workers() || d.P*d.OHW*d.K >= wholeImageMACs
}

// wholeImageMACs is the least work an image (multiply-adds) for which a convolution runs
// over the whole batch rather than split: torchvision's ResNet18 on 16 images at 224x224
// (its layers 28 to 118 million an image) took 151-156 ms against 166-172 split for
// inference and 714-731 against 748-776 for a training step, alternating on a Xeon with
// AVX-512 (inference no different on an AMD EPYC Zen 4), while ResNet18's inference on 64
// images at 32x32 (2.4 million at most) took 12-14 ms whole against 10 split.
const wholeImageMACs = 1 << 24

// foldEpilogue folds the inference BatchNorm of the forward kernel's epilogue ep, if any,
// into the convolution: (conv(x, w) + b - mean)*a + shift = conv(x, w*a) + (b - mean)*a +
// shift, oneDNN scaling the weights by the factors a as it reorders them. It returns the
// options, the bias and the factors to run with (in the scratch's worker-0 slot 1). A ReLU
// stays with the Go epilogue: oneDNN's would turn NaN into 0, and hide a diverged run.
func foldEpilogue(ws *kernels.Scratch, d kernels.ConvDims, b []float32, ep *kernels.Epilogue) (forwardOpts, []float32, []float32) {
	fwd := forwardOpts{bias: b != nil}
	if ep == nil || ep.Mean == nil {
		return fwd, b, nil
	}
	fwd.bias, fwd.fold = true, true
	ws.Reserve(kernels.Workers(), 2)
	buf := kernels.Buffer[float32](ws, 0, 1, 2*d.P)
	scales, bias := buf[:d.P], buf[d.P:]
	foldInto(d, b, ep, scales, bias)
	return fwd, bias, scales
}

// foldInto writes the factors and the bias of foldEpilogue into scales and bias.
func foldInto(d kernels.ConvDims, b []float32, ep *kernels.Epilogue, scales, bias []float32) {
	for q := range d.P {
		scales[q] = float32(ep.A[q])
	}
	kernels.FoldedBias(b, ep, bias)
}

// conv implements kernels.Conv for float32 on oneDNN's primitives.
type conv struct{}

// AcceptsConv takes every square convolution without dilation or groups (the forms its C
// side declares) but these:
//   - a window over the whole input (a plain matrix product);
//   - a deep layer with fewer images than workers (inference on one image), where the Go
//     kernel, which splits the filters between the workers, is faster;
//   - output maps of 2x2 and smaller, which the Go kernel runs as matrix products over the
//     batch with only the taps that touch data (see purego's taps.go). Measured with
//     BenchmarkConv at batch 64 (ms, oneDNN / Go kernel): 512 to 512 channels on a 1x1 map,
//     weight gradient 5.2-6.6 / 1.3 with AVX-512 and 134-146 / 3.6-4.6 with AVX2; 256 to
//     256 on 2x2 with AVX-512, forward 1.9-2.0 / 1.9, input gradient 1.7-1.9 / 1.8, weight
//     gradient 3.1 / 2.2.
func (conv) AcceptsConv(d kernels.ConvDims) bool {
	return d.G.IsSquare() && !d.FullWindow() && (splitBatch(d) || d.N >= kernels.Workers()) &&
		!d.TinyOutput()
}

// reluOnly is the part of an epilogue left to the Go side after foldEpilogue (see forward).
var reluOnly = &kernels.Epilogue{ReLU: true}

// ConvForward applies the epilogue's BatchNorm through the weights (see foldEpilogue) and
// its ReLU after the kernel: oneDNN's would turn NaN into 0 and hide a diverged run.
func (c conv) ConvForward(ws *kernels.Scratch, d kernels.ConvDims, x, w, b, y []float32, ep *kernels.Epilogue) error {
	return c.ConvForwardIn(ws, d, kernels.ConvLayout{}, x, w, b, y, ep)
}

// ConvBlock is the channel block oneDNN's kernels take their maps in on this CPU (see
// ChannelBlock), for a convolution it takes, else 0.
func (c conv) ConvBlock(d kernels.ConvDims) int {
	if !c.AcceptsConv(d) {
		return 0
	}
	return int(C.cnn_conv_block())
}

// ConvForwardIn is ConvForward on maps in layout l.
func (conv) ConvForwardIn(ws *kernels.Scratch, d kernels.ConvDims, l kernels.ConvLayout, x, w, b, y []float32, ep *kernels.Epilogue) error {
	fwd, bias, scales := foldEpilogue(ws, d, b, ep)
	fwd.xblock, fwd.yblock = l.X, l.Y
	return forward(ws, d, fwd, x, w, nil, bias, scales, y, ep != nil && ep.ReLU)
}

// forward runs the forward kernel over d's images, as one primitive over the batch or one
// per worker's share of it (see runsWhole), each on the weights w or, given p, on the
// weights p packed for that primitive; then the ReLU, with relu.
func forward(ws *kernels.Scratch, d kernels.ConvDims, fwd forwardOpts, x, w []float32, p *prepared, bias, scales, y []float32, relu bool) error {
	c := forwardCall{ws, d, fwd, x, w, p, bias, scales}
	if !runsWhole(d) {
		return c.split(y, relu)
	}
	err := c.run(0, d.N, wholeThreads(d), y)
	if err == nil && relu {
		kernels.ApplyReLU(y, y)
	}
	return err
}

// split runs the forward kernel on each worker's share of the images, one thread each.
func (c forwardCall) split(y []float32, relu bool) error {
	j := kernels.BorrowJob[splitJob]()
	j.call, j.out, j.relu = c, y, relu
	return j.run(c.d.N)
}

// splitJob is a pass run on each worker's share of the images, one thread each: the forward
// pass of call into out (then the ReLU, with relu); with kind convGradXKernel the input
// gradient of the weights a and dy b into out; with convGradWKernel (SumImages) the weight
// gradient of x a and dy b. The gradients' maps are in the layout of call.fwd's blocks.
type splitJob struct {
	call      forwardCall
	kind      convKind
	a, b, out []float32
	relu      bool
	f         failure
}

func (j *splitJob) Run(_, lo, hi int) {
	d := j.call.d
	in, outImg := d.C*d.HW, d.P*d.OHW
	if j.kind == convGradXKernel {
		j.f.keep(runPrim(j.call.ws, convGradXKernel, d, lo, hi, 1, j.call.fwd, j.b[lo*outImg:hi*outImg], j.a, nil, nil, j.out[lo*in:hi*in]))
		return
	}
	yi := j.out[lo*outImg : hi*outImg]
	if j.f.keep(j.call.run(lo, hi, 1, yi)) && j.relu {
		kernels.ApplyEpilogue(reluOnly, d, yi)
	}
}

func (j *splitJob) SumImages(_ int, dst []float32, lo, hi int) {
	d := j.call.d
	in, outImg := d.C*d.HW, d.P*d.OHW
	j.f.keep(runPrim(j.call.ws, convGradWKernel, d, lo, hi, 1, j.call.fwd, j.a[lo*in:hi*in], j.b[lo*outImg:hi*outImg], nil, nil, dst))
}

// run runs the job over n images, gives it back and returns the first error.
func (j *splitJob) run(n int) error {
	kernels.RunJob(n, j)
	err := j.f.err
	kernels.ReturnJob(j)
	return err
}

// forwardCall is forward's arguments.
type forwardCall struct {
	ws           *kernels.Scratch
	d            kernels.ConvDims
	fwd          forwardOpts
	x, w         []float32
	p            *prepared
	bias, scales []float32
}

// run runs the forward kernel on images [lo, hi) on the given number of threads into yi.
func (c forwardCall) run(lo, hi, threads int, yi []float32) error {
	w := c.w
	if c.p != nil { // the run must use the primitive the weights were packed for
		var err error
		if w, err = c.p.packed(keyOf(convForwardKernel, c.d, hi-lo, threads, c.fwd)); err != nil {
			return err
		}
	}
	in := c.d.C * c.d.HW
	return runPrim(c.ws, convForwardKernel, c.d, lo, hi, threads, c.fwd, c.x[lo*in:hi*in], w, c.bias, c.scales, yi)
}

func (c conv) ConvBackwardData(ws *kernels.Scratch, d kernels.ConvDims, w, dy, dx []float32) error {
	return c.ConvBackwardDataIn(ws, d, kernels.ConvLayout{}, w, dy, dx)
}

// ConvBackwardDataIn is ConvBackwardData on maps in layout l.
func (conv) ConvBackwardDataIn(ws *kernels.Scratch, d kernels.ConvDims, l kernels.ConvLayout, w, dy, dx []float32) error {
	maps := forwardOpts{xblock: l.X, yblock: l.Y}
	if runsWhole(d) {
		return runWhole(ws, convGradXKernel, d, maps, dy, w, nil, nil, dx)
	}
	j := kernels.BorrowJob[splitJob]()
	j.call, j.kind, j.a, j.b, j.out = forwardCall{ws: ws, d: d, fwd: maps}, convGradXKernel, w, dy, dx
	return j.run(d.N)
}

func (c conv) ConvBackwardWeights(ws *kernels.Scratch, d kernels.ConvDims, x, dy, dw []float32) error {
	return c.ConvBackwardWeightsIn(ws, d, kernels.ConvLayout{}, x, dy, dw)
}

// ConvBackwardWeightsIn is ConvBackwardWeights on maps in layout l.
func (conv) ConvBackwardWeightsIn(ws *kernels.Scratch, d kernels.ConvDims, l kernels.ConvLayout, x, dy, dw []float32) error {
	maps := forwardOpts{xblock: l.X, yblock: l.Y}
	if runsWhole(d) {
		return runWhole(ws, convGradWKernel, d, maps, x, dy, nil, nil, dw)
	}
	j := kernels.BorrowJob[splitJob]()
	j.call, j.kind, j.a, j.b = forwardCall{ws: ws, d: d, fwd: maps}, convGradWKernel, x, dy
	kernels.SumOverImages(ws, 0, d.N, dw, j)
	err := j.f.err
	kernels.ReturnJob(j)
	return err
}

// AcceptsPreparedConv takes what AcceptsConv takes.
func (c conv) AcceptsPreparedConv(d kernels.ConvDims) bool { return c.AcceptsConv(d) }

// PrepareConv packs the weights into the forward kernel's layout once (an inference BatchNorm
// folded in as they are packed), for each shape of primitive the pass runs: one over the
// batch, or one per worker's share of it (see runsWhole). The activations are still
// reordered at every call.
func (conv) PrepareConv(d kernels.ConvDims, w, b []float32, ep *kernels.Epilogue) (kernels.PreparedConv[float32], error) {
	p := &prepared{d: d, w: slices.Clone(w), bias: slices.Clone(b), relu: ep != nil && ep.ReLU,
		fwd: forwardOpts{bias: b != nil, packed: true}, packs: map[primKey][]float32{}}
	if ep != nil && ep.Mean != nil {
		p.fwd.bias, p.fwd.fold = true, true
		p.scales, p.bias = make([]float32, d.P), make([]float32, d.P)
		foldInto(d, b, ep, p.scales, p.bias)
	}
	return p, nil
}

// prepared is a convolution's forward pass with its weights packed.
type prepared struct {
	d      kernels.ConvDims
	w      []float32 // the plain weights, to pack for a primitive of a new shape
	bias   []float32 // with a folded BatchNorm, its shift
	scales []float32 // with a folded BatchNorm, its factors
	relu   bool
	fwd    forwardOpts

	mu    sync.Mutex
	packs map[primKey][]float32 // the weights as each primitive takes them
}

// packed returns the weights packed for primitive k, packing them on first use.
func (p *prepared) packed(k primKey) ([]float32, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if w, ok := p.packs[k]; ok {
		return w, nil
	}
	cv, err := getPrim(k)
	if err != nil {
		return nil, err
	}
	w := aligned(int(C.cnn_conv_packed_size(cv)+3) / 4)
	st := C.cnn_conv_pack(cv, ptr(p.w), ptr(p.scales), ptr(w))
	putPrim(k, cv)
	if st != 0 {
		return nil, fmt.Errorf("oneDNN convolution %v on [%d,%d,%d,%d]: packing the weights: status %d", p.d.G, k.n, p.d.C, p.d.H, p.d.W, int(st))
	}
	p.packs[k] = w
	return w, nil
}

func (p *prepared) Forward(ws *kernels.Scratch, x, y []float32) error {
	return forward(ws, p.d, p.fwd, x, nil, p, p.bias, nil, y, p.relu)
}

// ChannelBlock is the layout oneDNN's inference kernels take their maps in on this CPU:
// channels last (kernels.ChannelsLast) where they are its brgemm-based ones (AVX-512), else
// the block of channels of the forward kernels (16 with AVX-512, 8 with AVX2), or 0. On fewer
// images than workers it is the forward kernels' block, that of the broadcast kernels,
// which run the other layers of such a program.
func (p *prepared) ChannelBlock() int {
	if p.d.N < kernels.Workers() {
		return int(C.cnn_conv_block())
	}
	return int(C.cnn_conv_inference_block())
}

// Blocked returns the pass with its input (in) or output (out) in that layout: its kernel
// then reads or writes those maps as they lie.
func (p *prepared) Blocked(in, out bool) (kernels.PreparedConv[float32], error) {
	b := p.ChannelBlock()
	if b == 0 && (in || out) {
		return nil, fmt.Errorf("oneDNN convolution %v: no blocked layout on this CPU", p.d.G)
	}
	fwd := p.fwd
	fwd.xblock, fwd.yblock = 0, 0
	if in {
		if !kernels.FitsBlocks(p.d.C, b) {
			return nil, fmt.Errorf("oneDNN convolution %v: %d input channels are not blocks of %d", p.d.G, p.d.C, b)
		}
		fwd.xblock = b
	}
	if out {
		if !kernels.FitsBlocks(p.d.P, b) {
			return nil, fmt.Errorf("oneDNN convolution %v: %d output channels are not blocks of %d", p.d.G, p.d.P, b)
		}
		fwd.yblock = b
	}
	return &prepared{d: p.d, w: p.w, bias: p.bias, scales: p.scales, relu: p.relu, fwd: fwd,
		packs: map[primKey][]float32{}}, nil
}

// failure keeps the first error of the workers.
type failure struct {
	mu  sync.Mutex
	err error
}

// keep records err if it is the first, and reports whether it is nil.
func (f *failure) keep(err error) bool {
	if err == nil {
		return true
	}
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
	return false
}

func flag(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
