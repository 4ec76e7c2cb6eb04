//go:build cgo

package simd

// #cgo CFLAGS: -O3
// #include "bconv.h"
// #include "simd.h"
import "C"

import (
	"fmt"
	"slices"

	"github.com/nndl/cnn/kernels"
)

// The broadcast convolution: a frozen program's forward pass on one image, or a few of
// small maps (a ResNet's later stages at 32x32). There im2col's matrix product has a handful
// of columns and the time goes to reading the weights, which a matrix product packs again
// at every call; and oneDNN's kernels, made for batches, split one image poorly. Here the
// weights are packed once, in groups of filters that fill a block of registers, and each
// output position's window reads the zero-padded input where it lies: every
// weight is loaded once per block of positions, every input value broadcast once per group
// of filters (the scheme of ONNX Runtime's NCHWc kernels, on the maps as they lie), and a
// block skips the taps that read only padding (on a 1x1 map, all but the centre of a 3x3
// window). BenchmarkPreparedConv measures it against im2col and sgemm (purego) and oneDNN
// on ResNet18's layers.

// bconvImages and bconvPositions bound the convolutions of more than one image that the
// broadcast kernel takes: beyond them the weights are reused enough for im2col's matrix
// product or oneDNN to do as well (measured on ResNet18's layers at 32x32 and 224x224).
const (
	bconvImages    = 4
	bconvPositions = 256
	// bconvChunkBytes is the size of the weights of a chunk of input channels of a group
	// (a quarter of a core's L2 on the CPUs measured).
	bconvChunkBytes = 256 << 10
	// bconvWidePositions is the most output positions of a map that AVX2's broadcast kernels
	// take 6 (or 4) at a time for 16 filters, its 16 registers holding their sums; on larger
	// maps they take 3 at a time for 32 filters (ONNX Runtime's FMA3 kernels' shape), which
	// reads each weight for 3 products where the other reads it for 6, but each input value
	// for 4 products where the other reads it for 2. Only on a 2x2 map, where the weights are
	// most of what is read, is the narrow kernel ahead: one core, BenchmarkPreparedConv,
	// capped for AVX2 on a Xeon, 87-93 GFLOP/s against 84-86 at 256x2x2, and 121-124 against
	// 141 at 128x4x4; torchvision's ResNet18 on one image ran in 17.3-17.8 ms against 18.0-18.4
	// with 64 here, ResNet18 at 32x32 in 482-484 us against 491-502 (medians of 3
	// alternating runs).
	bconvWidePositions = 4
	// bconvRowChannels is the most channels for which the broadcast kernels take a window
	// a row at a time (rowTaps).
	bconvRowChannels = 4
)

// acceptsBconv reports whether the broadcast convolution runs d's prepared forward pass: one
// image, or a few of small maps.
func acceptsBconv(d kernels.ConvDims) bool {
	return d.G.Groups == 1 && (d.N == 1 || d.N <= bconvImages && d.OHW <= bconvPositions)
}

// bconv is a convolution's forward pass prepared for the broadcast kernels of one
// instruction set.
type bconv struct {
	isa    C.int
	wide   bool // on the instruction set's wide kernel (bconvWidePositions)
	d      kernels.ConvDims
	dims   C.cnn_bconv
	hp, wp int  // the padded input's height and width
	last   bool // the padded input is laid out channels last (rowTaps)
	g      int  // filters in a group
	w, b   []float32
	tr, tc []int32 // the live taps' row and column offsets in the window
}

// rowTaps reports whether the broadcast kernels take d's window a row at a time, over the
// maps laid out channels last: with few channels (a network's stem), a tap of one channel
// would leave too little work between the block's bookkeeping, while a row of the window
// over all channels is one run of memory (KW*C values) when the columns are not dilated.
func rowTaps(d kernels.ConvDims) bool { return d.C <= bconvRowChannels && d.G.DW == 1 }

// prepareBconv packs convolution d's weights w, bias b (nil: none) and epilogue ep for the
// broadcast kernels of isa.
func prepareBconv(isa C.int, d kernels.ConvDims, w, b []float32, ep *kernels.Epilogue) *bconv {
	g, ob := int(C.cnn_simd_bconv_g(isa, 0)), 4
	if d.OHW >= 6 {
		ob = 6
	}
	wide := d.OHW > bconvWidePositions && C.cnn_simd_bconv_g(isa, 1) != 0
	if wide {
		g, ob = int(C.cnn_simd_bconv_g(isa, 1)), 3
	}
	geo := d.G
	p := &bconv{isa: isa, wide: wide, d: d, last: rowTaps(d),
		hp: max((d.OH-1)*geo.SH+(geo.KH-1)*geo.DH+1, d.H+geo.PH),
		wp: max((d.OW-1)*geo.SW+(geo.KW-1)*geo.DW+1, d.W+geo.PW)}
	blocks, groups := (d.OHW+ob-1)/ob, (d.P+g-1)/g

	// data reports whether output position o reads data (not padding) at tap t.
	data := func(o, t int) bool {
		r, c := o/d.OW*geo.SH+t/geo.KW*geo.DH-geo.PH, o%d.OW*geo.SW+t%geo.KW*geo.DW-geo.PW
		return r >= 0 && r < d.H && c >= 0 && c < d.W
	}
	kk := geo.KH * geo.KW
	var live []int // the taps some position reads data with
	for t := range kk {
		for o := range d.OHW {
			if data(o, t) {
				live = append(live, t)
				break
			}
		}
	}
	// A kernel's tap: a tap of the window, or with rowTaps a row of it; values is the
	// number of weights of one filter at one of them, and value(q, s, j) where filter q's
	// j-th one at the s-th lies in w [P][C][KH*KW].
	var taps, values int
	var value func(q, s, j int) int
	dims := C.cnn_bconv{image: C.int(d.C * p.hp * p.wp), h: C.int(d.H), w: C.int(d.W), ph: C.int(geo.PH), pw: C.int(geo.PW)}
	if p.last {
		var rows []int // the window's rows that some position reads data with
		for _, t := range live {
			if u := t / geo.KW; !slices.Contains(rows, u) {
				rows = append(rows, u)
			}
		}
		for _, u := range rows {
			p.tr, p.tc = append(p.tr, int32(u*geo.DH)), append(p.tc, 0)
		}
		taps, values = len(rows), geo.KW*d.C
		value = func(q, s, j int) int { return (q*d.C+j%d.C)*kk + rows[s]*geo.KW + j/d.C }
		// Every column counts as data: a row of the window reads some.
		dims.rs, dims.cols, dims.cs, dims.run, dims.pw, dims.w = C.int(p.wp*d.C), C.int(d.C), 1, C.int(values), 0, C.int(p.wp)
	} else {
		for _, t := range live {
			p.tr, p.tc = append(p.tr, int32(t/geo.KW*geo.DH)), append(p.tc, int32(t%geo.KW*geo.DW))
		}
		taps, values = len(live), d.C
		value = func(q, s, j int) int { return (q*d.C+j)*kk + live[s] }
		dims.rs, dims.cols, dims.cs, dims.run = C.int(p.wp), 1, C.int(p.hp*p.wp), C.int(values)
	}

	fw, fb, relu := kernels.FoldEpilogue(d, w, b, ep)
	p.w = make([]float32, groups*taps*values*g)
	for q := range d.P {
		gi, lane := q/g, q%g
		for s := range taps {
			for j := range values {
				p.w[((gi*taps+s)*values+j)*g+lane] = fw[value(q, s, j)]
			}
		}
	}
	if fb != nil {
		p.b = slices.Grow(fb, groups*g-d.P)[:groups*g]
		clear(p.b[d.P:])
	}
	// The blocks of a group reuse its weights: a chunk of their values stays in the core's
	// cache meanwhile. A chunk is whole blocks of 16 channels, as Blocked's layout takes them.
	chunk := values
	if blocks > 1 && taps > 0 {
		chunk = min(values, max(16, bconvChunkBytes/(4*taps*g)/16*16))
	}
	dims.C, dims.ow, dims.sh, dims.sw = C.int(values), C.int(d.OW), C.int(geo.SH), C.int(geo.SW)
	dims.taps, dims.groups, dims.blocks, dims.ob, dims.chunk = C.int(taps), C.int(groups), C.int(blocks), C.int(ob), C.int(chunk)
	dims.P, dims.OHW, dims.relu = C.int(d.P), C.int(d.OHW), flag(relu)
	p.dims, p.g = dims, g
	return p
}

// Forward lays the images out zero-padded (blocked input is read where it lies), then splits
// the units (a group of filters for a block of positions) between the workers.
func (p *bconv) Forward(ws *kernels.Scratch, x, y []float32) error { return p.forward(ws, x, nil, y) }

// Residual returns the pass adding a residual to the output, then the ReLU with relu: the
// kernels add it as they write each block.
func (p *bconv) Residual(relu bool) kernels.ResidualConv[float32] {
	q := *p
	q.dims.relu = flag(relu)
	return residualBconv{&q}
}

type residualBconv struct{ p *bconv }

func (r residualBconv) ForwardResidual(ws *kernels.Scratch, x, res, y []float32) error {
	return r.p.forward(ws, x, res, y)
}

// forward computes y from x, then the residual r (nil: none), then the ReLU.
func (p *bconv) forward(ws *kernels.Scratch, x, r, y []float32) error {
	d := p.d
	if len(p.tr) == 0 { // every window reads padding only
		p.fill(r, y)
		return nil
	}
	xp := x
	switch {
	case p.dims.unpadded != 0: // blocked (Blocked): read as it lies, zeros outside the map
	case p.last:
		xp = p.padded(ws)
		pad(d.N*d.H, padJob{last: true, c: d.C, x: x, xp: xp, h: d.H, w: d.W, hp: p.hp, wp: p.wp, ph: d.G.PH, pw: d.G.PW})
	case p.hp != d.H || p.wp != d.W:
		xp = p.padded(ws)
		pad(d.N*d.C, padJob{x: x, xp: xp, h: d.H, w: d.W, hp: p.hp, wp: p.wp, ph: d.G.PH, pw: d.G.PW})
	}
	units := int(p.dims.groups * p.dims.blocks)
	ws.Reserve(kernels.Workers(), 1)
	j := kernels.BorrowJob[bconvJob]()
	j.p, j.ws, j.xp, j.r, j.y = p, ws, xp, r, y
	pieces := p.pieces(units)
	j.per = min(int(p.dims.blocks), (units+pieces-1)/pieces) * int(p.dims.ob) * p.g
	kernels.RunShared(units, pieces, j)
	kernels.ReturnJob(j)
	return nil
}

// pad runs the padding copy job, the workers splitting its n planes (or rows, with last).
func pad(n int, job padJob) {
	j := kernels.BorrowJob[padJob]()
	*j = job
	kernels.RunJob(n, j)
	kernels.ReturnJob(j)
}

// padJob is a padding copy the workers split: the planes x [planes][h][w] into the inside of
// xp [planes][hp][wp] at row ph and column pw (cnn_bconv_pad), or with last the rows of the
// images laid out channels last (cnn_bconv_pad_last, c channels).
type padJob struct {
	last                    bool
	x, xp                   []float32
	c, h, w, hp, wp, ph, pw int
}

func (j *padJob) Run(_, lo, hi int) {
	if j.last {
		C.cnn_bconv_pad_last(ptr(j.x), ptr(j.xp), C.int(j.c), C.int(j.h), C.int(j.w), C.int(j.hp), C.int(j.wp),
			C.int(j.ph), C.int(j.pw), C.int(lo), C.int(hi))
		return
	}
	C.cnn_bconv_pad(ptr(j.x[lo*j.h*j.w:]), ptr(j.xp[lo*j.hp*j.wp:]), C.int(hi-lo), C.int(j.h), C.int(j.w),
		C.int(j.hp), C.int(j.wp), C.int(j.ph), C.int(j.pw))
}

// bconvPieceFLOPs is about the least work in a piece of a call the workers share
// (kernels.RunShared): some tens of microseconds, against a fraction of one to take it.
const bconvPieceFLOPs = 4 << 20

// pieces is the number of pieces the workers share a call's units in: up to 16 each, so that
// a worker slowed down by another program on its core holds the others up for little (an
// even split between 2 workers ran torchvision's ResNet18 on one 224x224 image 5-20%
// slower on this shared machine, with AVX2 20-25%), but none of less than
// bconvPieceFLOPs. With at least 2 groups of filters per worker, a piece is a whole group:
// each group's weights are then read in by one core, once for all its blocks (a deep layer
// on small maps is mostly weights: ResNet18's 7x7 layers at 224x224 ran 10-20% faster).
func (p *bconv) pieces(units int) int {
	d := p.d
	flops := 2 * d.N * d.P * d.OHW * d.K
	w := kernels.Workers()
	n := min(units, max(w, min(16*w, (flops/bconvPieceFLOPs+w-1)/w*w))) // the workers' share even
	if g := int(p.dims.groups); g >= 2*w && n > g {
		n = g
	}
	return n
}

// bconvJob is a call of a broadcast convolution on the padded input xp into y, whose units
// the workers split, each with partial sums of per floats.
type bconvJob struct {
	p        *bconv
	ws       *kernels.Scratch
	xp, r, y []float32
	per      int
}

func (j *bconvJob) Run(wk, lo, hi int) {
	p := j.p
	part := kernels.Buffer[float32](j.ws, wk, 0, j.per)
	C.cnn_simd_bconv(p.isa, flag(p.wide), &p.dims, ptr(p.w), ptr(p.b), (*C.int)(&p.tr[0]), (*C.int)(&p.tc[0]),
		ptr(j.r), ptr(j.xp), ptr(j.y), ptr(part), 0, C.int(p.d.N), C.int(lo), C.int(hi))
}

// padded returns the scratch's padded input buffer of this convolution, its border zero: it
// is kept under p, so that only the inside is written at each call.
func (p *bconv) padded(ws *kernels.Scratch) []float32 {
	if b, ok := ws.Kept(p).([]float32); ok {
		return b
	}
	b := make([]float32, p.d.N*p.d.C*p.hp*p.wp)
	ws.Keep(p, b)
	return b
}

// fill writes the output of windows that read padding only: the bias, plus the residual r
// (nil: none), through the ReLU.
func (p *bconv) fill(r, y []float32) {
	d := p.d
	for n := range d.N {
		for q := range d.P {
			var b float32
			if p.b != nil {
				b = p.b[q]
			}
			at, step := (n*d.P+q)*d.OHW, 1
			if l := int(p.dims.yb); l != 0 {
				at, step = (n*d.P+q/l*l)*d.OHW+q%l, l
			}
			for i := range d.OHW {
				v := b
				if r != nil {
					v += r[at+i*step]
				}
				if p.dims.relu != 0 && !(v > 0 || v != v) {
					v = 0 // as the kernels' ReLU: NaN kept, -0 made +0
				}
				y[at+i*step] = v
			}
		}
	}
}

// ChannelBlock is the block of channels of the layout Blocked takes: the instruction set's
// vector width (16 floats with AVX-512, 8 with AVX2), the block oneDNN's kernels take on it.
// Torchvision's ResNet18 on one 224x224 image took 11.3-12.0 ms blocked against 14.2-16.3 as
// the maps lie with AVX-512, 20.1-20.2 against 22.7-22.8 with AVX2 (alternating runs on a
// Xeon, capped for AVX2).
func (p *bconv) ChannelBlock() int {
	if p.isa == C.CNN_SIMD_AVX512 {
		return 16
	}
	return 8
}

// Blocked returns the pass reading its input (in) or writing its output (out) in the
// channel-blocked layout of ChannelBlock: the kernels then broadcast a position's channels
// from one run of memory, and store a block of them as one vector.
func (p *bconv) Blocked(in, out bool) (kernels.PreparedConv[float32], error) {
	d, l := p.d, p.ChannelBlock()
	q := *p
	q.dims.yb, q.dims.unpadded = 0, 0
	if in {
		if p.last || d.C%l != 0 {
			return nil, fmt.Errorf("broadcast convolution %v: %d input channels are not blocks of %d", d.G, d.C, l)
		}
		q.dims.rs, q.dims.cols, q.dims.cs, q.dims.run = C.int(d.W*l), C.int(l), 1, C.int(l)
		q.dims.rjump, q.dims.image, q.dims.unpadded = C.int((d.H*d.W-1)*l), C.int(d.C*d.H*d.W), 1
	}
	if out {
		if d.P%l != 0 {
			return nil, fmt.Errorf("broadcast convolution %v: %d output channels are not blocks of %d", d.G, d.P, l)
		}
		q.dims.yb = C.int(l)
	}
	return &q, nil
}
