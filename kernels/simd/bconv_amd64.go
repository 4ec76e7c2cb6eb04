//go:build cgo

package simd

// #cgo CFLAGS: -O3
// #include "bconv.h"
import "C"

import (
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
	d      kernels.ConvDims
	dims   C.cnn_bconv
	hp, wp int // the padded input's height and width
	g      int // filters in a group
	w, b   []float32
	tr, tc []int32 // the live taps' row and column offsets in the window
}

// prepareBconv packs convolution d's weights w, bias b (nil: none) and epilogue ep for the
// broadcast kernels of isa.
func prepareBconv(isa C.int, d kernels.ConvDims, w, b []float32, ep *kernels.Epilogue) *bconv {
	g, ob := int(C.cnn_simd_bconv_g(isa)), 4
	if d.OHW >= 6 {
		ob = 6
	}
	geo := d.G
	p := &bconv{isa: isa, d: d,
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
	for _, t := range live {
		p.tr, p.tc = append(p.tr, int32(t/geo.KW*geo.DH)), append(p.tc, int32(t%geo.KW*geo.DW))
	}

	fw, fb, relu := kernels.FoldEpilogue(d, w, b, ep)
	p.w = make([]float32, groups*len(live)*d.C*g)
	for q := range d.P {
		gi, lane := q/g, q%g
		for s, t := range live {
			for c := range d.C {
				p.w[((gi*len(live)+s)*d.C+c)*g+lane] = fw[(q*d.C+c)*kk+t]
			}
		}
	}
	if fb != nil {
		p.b = slices.Grow(fb, groups*g-d.P)[:groups*g]
		clear(p.b[d.P:])
	}
	// The blocks of a group reuse its weights: a chunk of input channels of them stays in
	// the core's cache meanwhile.
	chunk := d.C
	if blocks > 1 {
		chunk = min(d.C, max(16, bconvChunkBytes/(4*len(live)*g)))
	}
	p.dims = C.cnn_bconv{C: C.int(d.C), h: C.int(d.H), w: C.int(d.W), wp: C.int(p.wp), plane: C.int(p.hp * p.wp),
		ph: C.int(geo.PH), pw: C.int(geo.PW), ow: C.int(d.OW), sh: C.int(geo.SH), sw: C.int(geo.SW),
		taps: C.int(len(live)), groups: C.int(groups), blocks: C.int(blocks), ob: C.int(ob), chunk: C.int(chunk),
		P: C.int(d.P), OHW: C.int(d.OHW), relu: flag(relu)}
	p.g = g
	return p
}

// Forward lays the images out zero-padded, then splits the units (a group of filters for a
// block of positions) between the workers.
func (p *bconv) Forward(ws *kernels.Scratch, x, y []float32) error {
	d := p.d
	if len(p.tr) == 0 { // every window reads padding only
		p.fill(y)
		return nil
	}
	xp := x
	if p.hp != d.H || p.wp != d.W {
		xp = p.padded(ws)
		C.cnn_bconv_pad(ptr(x), ptr(xp), C.int(d.N*d.C), C.int(d.H), C.int(d.W), C.int(p.hp), C.int(p.wp),
			C.int(d.G.PH), C.int(d.G.PW))
	}
	units := int(p.dims.groups * p.dims.blocks)
	per := min(int(p.dims.blocks), (units+kernels.Workers()-1)/kernels.Workers()) * int(p.dims.ob) * p.g
	ws.Reserve(kernels.Workers(), 1)
	kernels.Parallel(units, func(wk, lo, hi int) {
		part := kernels.Buffer[float32](ws, wk, 0, per)
		C.cnn_simd_bconv(p.isa, &p.dims, ptr(p.w), ptr(p.b), (*C.int)(&p.tr[0]), (*C.int)(&p.tc[0]),
			ptr(xp), ptr(y), ptr(part), 0, C.int(d.N), C.int(lo), C.int(hi))
	})
	return nil
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

// fill writes the output of windows that read padding only: the bias, through the ReLU.
func (p *bconv) fill(y []float32) {
	d := p.d
	for n := range d.N {
		for q := range d.P {
			var v float32
			if p.b != nil {
				v = p.b[q]
			}
			if p.dims.relu != 0 {
				v = max(v, 0)
			}
			plane := y[(n*d.P+q)*d.OHW : (n*d.P+q+1)*d.OHW]
			for i := range plane {
				plane[i] = v
			}
		}
	}
}
