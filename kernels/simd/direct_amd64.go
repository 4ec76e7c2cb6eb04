//go:build cgo

package simd

// #cgo CFLAGS: -O3
// #include "simd.h"
// #include "avx2.h" // cnn_avx2_maxpool_blocked, which both instruction sets run
import "C"

import "github.com/nndl/cnn/kernels"

func init() {
	for _, s := range []struct {
		isa     C.int
		impl    kernels.Impl
		missing string
	}{
		{C.CNN_SIMD_AVX512, kernels.Impl{Name: "avx512", Priority: 50, ISA: kernels.AVX512,
			Doc: "direct AVX-512 kernels for small convolutions, pooling and element-wise work"},
			"this CPU lacks AVX-512 F, BW and VL, or FMA"},
		{C.CNN_SIMD_AVX2, kernels.Impl{Name: "avx2", Priority: 40, ISA: kernels.AVX2,
			Doc: "direct AVX2 kernels for small convolutions, pooling and element-wise work"},
			"this CPU lacks AVX2 or FMA"},
	} {
		if C.cnn_simd_ok(s.isa) == 0 {
			s.impl.Missing = s.missing
		}
		kernels.Register(s.impl, direct{isa: s.isa, maxK: int(C.cnn_simd_max_k(s.isa))})
	}
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

// direct implements the contract's float32 operations on one instruction set's kernels.
type direct struct {
	isa  C.int
	maxK int // the largest kernel side of the convolutions
}

// AcceptsConv takes square stride-1 unpadded convolutions without dilation or groups, with
// at most 16 channels in and out. With
// 16 of both, oneDNN's layout wastes nothing and its kernels are as fast or faster (measured:
// 16 to 16 channels, 3x3 on 64 maps of 18x18, input gradient 0.43 ms on oneDNN against 0.74
// on the AVX-512 kernel). A window over the whole input is a matrix product (purego).
func (k direct) AcceptsConv(d kernels.ConvDims) bool {
	return d.G.IsSquare() && d.G.SH == 1 && d.G.PH == 0 && d.G.KH <= k.maxK &&
		d.C <= 16 && d.P <= 16 && (d.C < 16 || d.P < 16) && !d.FullWindow()
}

// AcceptsPreparedConv takes what AcceptsConv takes, and the convolutions of one image, or
// of a few of small maps, that the broadcast kernels run (acceptsBconv).
func (k direct) AcceptsPreparedConv(d kernels.ConvDims) bool {
	return k.AcceptsConv(d) || acceptsBconv(d)
}

// PrepareConv runs the direct kernels on copies where they take d (few channels, which
// would leave most of a group of the broadcast kernels' filters empty), and packs the
// weights for the broadcast kernels elsewhere.
func (k direct) PrepareConv(d kernels.ConvDims, w, b []float32, ep *kernels.Epilogue) (kernels.PreparedConv[float32], error) {
	if k.AcceptsConv(d) {
		return kernels.CopiedConv[float32](k, d, w, b, ep), nil
	}
	return prepareBconv(k.isa, d, w, b, ep), nil
}

func (k direct) ConvForward(ws *kernels.Scratch, d kernels.ConvDims, x, w, b, y []float32, ep *kernels.Epilogue) error {
	ws.Reserve(kernels.Workers(), 1)
	j := newDirectJob(k, d, ws, w, kernels.Buffer[float32](ws, 0, 0, len(w)), 0)
	j.x, j.b, j.y, j.ep = x, b, y, ep
	j.relu = ep != nil && ep.ReLU && ep.Mean == nil
	kernels.RunJob(d.N, j)
	kernels.ReturnJob(j)
	return nil
}

// ConvBackwardData runs the forward kernel on the zero-padded output gradient with the
// flipped weights.
func (k direct) ConvBackwardData(ws *kernels.Scratch, d kernels.ConvDims, w, dy, dx []float32) error {
	ws.Reserve(kernels.Workers(), 2)
	j := newDirectJob(k, d, ws, w, kernels.Buffer[float32](ws, 0, 1, len(w)), 1)
	j.dy, j.x, j.gradX = dy, dx, true
	kernels.RunJob(d.N, j)
	kernels.ReturnJob(j)
	return nil
}

func (k direct) ConvBackwardWeights(ws *kernels.Scratch, d kernels.ConvDims, x, dy, dw []float32) error {
	j := kernels.BorrowJob[directJob]()
	j.k, j.d, j.x, j.dy = k, d, x, dy
	kernels.SumOverImages(ws, 0, d.N, dw, j)
	kernels.ReturnJob(j)
	return nil
}

// directJob is a call of the direct kernels, split by images: the forward pass of x into y
// (the weights laid out in wt), or with gradX the input gradient of dy into dx (in x); as an
// ImageSum, the weight gradient of x and dy.
type directJob struct {
	k           direct
	d           kernels.ConvDims
	ws          *kernels.Scratch
	x, b, y, dy []float32
	wt          []float32
	ep          *kernels.Epilogue
	relu, gradX bool
}

// newDirectJob borrows a job with w laid out in wt for the forward kernel (flip 0) or
// flipped for the input gradient (flip 1).
func newDirectJob(k direct, d kernels.ConvDims, ws *kernels.Scratch, w, wt []float32, flip int) *directJob {
	C.cnn_simd_weights(k.isa, ptr(w), ptr(wt), C.int(d.P), C.int(d.C), C.int(d.G.KH), C.int(flip))
	j := kernels.BorrowJob[directJob]()
	j.k, j.d, j.ws, j.wt = k, d, ws, wt
	return j
}

func (j *directJob) Run(wk, lo, hi int) {
	d, isa := j.d, j.k.isa
	in, out := d.C*d.HW, d.P*d.OHW
	if j.gradX {
		pad := (d.OH + 2*d.G.KH - 2) * (d.OW + 2*d.G.KH - 2) * d.P
		C.cnn_simd_backward_x(isa, ptr(j.wt), ptr(j.dy[lo*out:]), ptr(j.x[lo*in:]), C.int(hi-lo),
			C.int(d.C), C.int(d.H), C.int(d.W), C.int(d.P), C.int(d.G.KH), ptr(kernels.Buffer[float32](j.ws, wk, 0, pad)))
		return
	}
	yi := j.y[lo*out : hi*out]
	C.cnn_simd_forward(isa, ptr(j.x[lo*in:]), ptr(j.wt), ptr(j.b), ptr(yi), C.int(hi-lo),
		C.int(d.C), C.int(d.H), C.int(d.W), C.int(d.P), C.int(d.G.KH), flag(j.relu))
	if j.ep != nil && !j.relu {
		kernels.ApplyEpilogue(j.ep, d, yi)
	}
}

func (j *directJob) SumImages(_ int, dst []float32, lo, hi int) {
	d := j.d
	in, out := d.C*d.HW, d.P*d.OHW
	C.cnn_simd_backward_w(j.k.isa, ptr(j.x[lo*in:]), ptr(j.dy[lo*out:]), ptr(dst), C.int(hi-lo),
		C.int(d.C), C.int(d.H), C.int(d.W), C.int(d.P), C.int(d.G.KH))
}

// AcceptsPool takes 2x2 windows of stride 2 without padding (where both averages divide by
// 4), and the maximum over windows 3 columns wide at a column stride of 2 with a column of
// padding (ResNet's 3x3 stride-2 stem pooling), of any height.
func (direct) AcceptsPool(d kernels.PoolDims) bool { return d.Is2x2() || maxpool3(d) }

// maxpool3 reports whether d is a pooling cnn_maxpool3 computes: its row padding at most half
// the window, as PyTorch requires, so that every window holds an input row.
func maxpool3(d kernels.PoolDims) bool {
	g := d.G
	return d.Mode == kernels.PoolMax && g.KW == 3 && g.SW == 2 && g.PW == 1 && g.DH == 1 && g.DW == 1 && 2*g.PH <= g.KH
}

func (k direct) PoolForward(d kernels.PoolDims, x, y []float32) {
	if !d.Is2x2() {
		m := maxpool3Dims(d)
		C.cnn_simd_maxpool3(k.isa, m, ptr(x), ptr(y))
		return
	}
	C.cnn_simd_pool2(k.isa, ptr(x), ptr(y), C.int(d.Planes), C.int(d.H), C.int(d.W), flag(d.Mode != kernels.PoolMax))
}

// PoolBackward compares the inputs of each 2x2 window, which costs less than reading y; a
// 3-column window finds its maximum in y.
func (k direct) PoolBackward(d kernels.PoolDims, x, y, dy, dx, relu []float32) {
	if !d.Is2x2() {
		m := maxpool3Dims(d)
		C.cnn_simd_maxpool3_grad(k.isa, m, ptr(x), ptr(y), ptr(dy), ptr(relu), ptr(dx))
		return
	}
	C.cnn_simd_pool2_grad(k.isa, ptr(x), ptr(dy), ptr(relu), ptr(dx), C.int(d.Planes), C.int(d.H), C.int(d.W), flag(d.Mode != kernels.PoolMax))
}

// AcceptsBlockedMaxPool takes max pooling of maps blocked by a multiple of 8 channels.
func (direct) AcceptsBlockedMaxPool(d kernels.PoolDims, b int) bool {
	return d.Mode == kernels.PoolMax && b%8 == 0 && d.G.DH == 1 && d.G.DW == 1
}

// MaxPoolBlocked runs cnn_avx2_maxpool_blocked: both instruction sets have AVX2, and an
// AVX-512 kernel taking a 16-channel block in one vector measured within this machine's noise
// of the AVX2 one taking a window at a time (3.5-4.0 ms against 3.8-4.2 on torchvision
// ResNet18's stem output at b16, on a Xeon).
func (direct) MaxPoolBlocked(d kernels.PoolDims, b int, x, y []float32) {
	if d.Planes == 0 {
		return
	}
	p := blockedDims(d, b)
	C.cnn_avx2_maxpool_blocked(p, ptr(x), ptr(y))
}

// AcceptsBlockedPoolBackward takes the gradients of the poolings AcceptsBlockedMaxPool takes.
func (k direct) AcceptsBlockedPoolBackward(d kernels.PoolDims, b int) bool {
	return k.AcceptsBlockedMaxPool(d, b)
}

// PoolBackwardBlocked runs cnn_avx2_maxpool_blocked_grad on both instruction sets, as
// MaxPoolBlocked does; it gives what PoolBackward's NCHW kernel for d gives, NaN and -0
// included: this implementation's for the windows it takes (maxpool3, Is2x2), purego's for
// the others.
func (direct) PoolBackwardBlocked(d kernels.PoolDims, b int, x, y, dy, dx, relu []float32) {
	if d.Planes == 0 {
		return
	}
	like := C.int(C.CNN_POOL_LIKE_PUREGO)
	if maxpool3(d) {
		like = C.CNN_POOL_LIKE_MAXPOOL3
	} else if d.Is2x2() {
		like = C.CNN_POOL_LIKE_POOL2
	}
	p := blockedDims(d, b)
	C.cnn_avx2_maxpool_blocked_grad(p, ptr(x), ptr(y), ptr(dy), ptr(relu), ptr(dx), like,
		flag(len(dx) >= streamFloats))
}

// streamFloats is the smallest gradient the blocked pooling writes past the cache: 8 MB, a
// quarter of this machine's L3, which its reader would not find there.
const streamFloats = 2 << 20

// blockedDims is d, blocked by b, as the kernels of blocked maps take it (by value: a Go
// pointer handed to C would move the struct to the heap at every call).
func blockedDims(d kernels.PoolDims, b int) C.cnn_pool_blocked {
	g := d.G
	return C.cnn_pool_blocked{planes: C.int(d.Planes / b), b: C.int(b), h: C.int(d.H), w: C.int(d.W), oh: C.int(d.OH), ow: C.int(d.OW),
		kh: C.int(g.KH), kw: C.int(g.KW), sh: C.int(g.SH), sw: C.int(g.SW), ph: C.int(g.PH), pw: C.int(g.PW)}
}

// maxpool3Dims is d as cnn_maxpool3 takes it.
func maxpool3Dims(d kernels.PoolDims) C.cnn_maxpool3 {
	g := d.G
	return C.cnn_maxpool3{planes: C.int(d.Planes), h: C.int(d.H), w: C.int(d.W), oh: C.int(d.OH), ow: C.int(d.OW),
		kh: C.int(g.KH), sh: C.int(g.SH), ph: C.int(g.PH)}
}

func (k direct) ReLU(x, y []float32) {
	if len(x) > 0 {
		C.cnn_simd_relu(k.isa, ptr(x), ptr(y[:len(x)]), C.long(len(x)))
	}
}

func (k direct) Add(a, b, y []float32, relu bool) {
	if len(a) > 0 {
		C.cnn_simd_add(k.isa, ptr(a), ptr(b[:len(a)]), ptr(y[:len(a)]), C.long(len(a)), flag(relu))
	}
}

func (k direct) ReLUBackward(y, dy, dx []float32) {
	if len(y) > 0 {
		C.cnn_simd_relu_grad(k.isa, ptr(y), ptr(dy[:len(y)]), ptr(dx[:len(y)]), C.long(len(y)))
	}
}

// AcceptsChannelSum takes planes of at least 16 values.
func (direct) AcceptsChannelSum(n, c, inner int) bool { return inner >= 16 }

func (k direct) ChannelSum(n, c, inner, c0, c1 int, dy, db []float32) {
	C.cnn_simd_sum_channels(k.isa, ptr(dy), C.int(n), C.int(c), C.long(inner), C.int(c0), C.int(c1), ptr(db))
}

func (k direct) Axpy(a float32, x, y []float32) {
	if len(x) > 0 {
		C.cnn_simd_axpy(k.isa, C.float(a), ptr(x), ptr(y[:len(x)]), C.long(len(x)))
	}
}
