package purego

import "github.com/nndl/cnn/kernels"

// Tiny maps. A convolution whose output is 2x2 or smaller (the last stages of a network on
// 32x32 images) reads padding with most of its window: on a 1x1 map a 3x3 window touches
// data with its centre tap only, on a 2x2 map with four taps of nine, and im2col would
// multiply the rest as rows of zeros. Here the maps and the weights are first laid out by
// position and by tap, xT [H*W][N][C] and wT [live tap][P][C]; then each pair of an output
// position o and a tap t that reads input position s is one matrix product over the whole
// batch, yT[o] [N,P] += xT[s] [N,C] x wT[t]^T, with only the arithmetic that touches data.
// The workers split the filters (or, for the input gradient, the channels).
//
// On one image, im2col with the filters split between the workers reads the weights once
// where this reads them twice (to lay them out, then to multiply), so a batch of one stays
// with it, unless the weights were laid out once beforehand (PrepareConv).

// tiny reports whether convolution d runs by positions and taps: a tiny shape (tinyShape) of
// at least two images.
func tiny(d kernels.ConvDims) bool { return tinyShape(d) && d.N >= 2 }

// tinyShape reports whether d's output map is tiny and the taps' layout serves it: one group,
// a window that does not cover the whole input.
func tinyShape(d kernels.ConvDims) bool {
	return d.TinyOutput() && d.G.Groups == 1 && !d.FullWindow()
}

// tapPairs returns, cached in the scratch, the triples (o, i, s) of d in order of output
// position: output position o's window reads input position s at tap live[i] (a tap is
// u*KW+v); and live, the taps that any position reads, in order.
func tapPairs(ws *kernels.Scratch, d kernels.ConvDims) (pairs, live []int32) {
	tab := ws.Table(tableKey(tapTable, d), func() []int32 {
		pairs, live := tapList(d)
		return append(append(pairs, live...), int32(len(pairs)))
	})
	n := int(tab[len(tab)-1])
	return tab[:n], tab[n : len(tab)-1]
}

// tapList computes tapPairs' tables.
func tapList(d kernels.ConvDims) (pairs, live []int32) {
	g := d.G
	kk := g.KH * g.KW
	reads := func(i, j, t int) (int, bool) {
		r, c := i*g.SH+t/g.KW*g.DH-g.PH, j*g.SW+t%g.KW*g.DW-g.PW
		return r*d.W + c, r >= 0 && r < d.H && c >= 0 && c < d.W
	}
	slot := make([]int32, kk)
	for t := range kk {
		slot[t] = -1
		for o := 0; o < d.OHW && slot[t] < 0; o++ {
			if _, ok := reads(o/d.OW, o%d.OW, t); ok {
				slot[t] = int32(len(live))
				live = append(live, int32(t))
			}
		}
	}
	for o := 0; o < d.OHW; o++ {
		for t := range kk {
			if s, ok := reads(o/d.OW, o%d.OW, t); ok {
				pairs = append(pairs, int32(o), slot[t], int32(s))
			}
		}
	}
	return pairs, live
}

// layOutWeights copies filters [lo, hi) of w [P, C, KH*KW] at the live taps into
// wT [len(live)][P][C].
func layOutWeights[T kernels.Float](d kernels.ConvDims, live []int32, w, wT []T, lo, hi int) {
	kk := d.G.KH * d.G.KW
	for q := lo; q < hi; q++ {
		src := w[q*d.C*kk : (q+1)*d.C*kk]
		for i, t := range live {
			dst := wT[(i*d.P+q)*d.C : (i*d.P+q+1)*d.C]
			for c := range dst {
				dst[c] = src[c*kk+int(t)]
			}
		}
	}
}

// layOutMaps copies images [lo, hi) of x [N, C, H*W] into xT [H*W][N][C].
func layOutMaps[T kernels.Float](d kernels.ConvDims, x, xT []T, lo, hi int) {
	for n := lo; n < hi; n++ {
		for c := 0; c < d.C; c++ {
			for s, v := range x[(n*d.C+c)*d.HW : (n*d.C+c+1)*d.HW] {
				xT[(s*d.N+n)*d.C+c] = v
			}
		}
	}
}

// layOutGrad copies filters [lo, hi) of dy [N, P, OH*OW] into dyT [OH*OW][N][P].
func layOutGrad[T kernels.Float](d kernels.ConvDims, dy, dyT []T, lo, hi int) {
	for n := 0; n < d.N; n++ {
		for q := lo; q < hi; q++ {
			for o, v := range dy[(n*d.P+q)*d.OHW : (n*d.P+q+1)*d.OHW] {
				dyT[(o*d.N+n)*d.P+q] = v
			}
		}
	}
}

// tinyBuffers returns the scratch's buffers for xT, wT and yT (or their gradients).
func tinyBuffers[T kernels.Float](ws *kernels.Scratch, d kernels.ConvDims, live []int32) (xT, wT, yT []T) {
	ws.Reserve(kernels.Workers(), 3)
	return kernels.Buffer[T](ws, 0, 0, d.HW*d.N*d.C), kernels.Buffer[T](ws, 0, 1, len(live)*d.P*d.C),
		kernels.Buffer[T](ws, 0, 2, d.OHW*d.N*d.P)
}

func tinyForward[T kernels.Float](ws *kernels.Scratch, d kernels.ConvDims, x, w, b, y []T, ep *kernels.Epilogue) {
	j := newTinyJob[T](ws, d)
	j.x, j.w, j.b, j.y = x, w, b, y
	j.keepWeights(ws, w)
	j.run(tinyMaps, d.N)
	j.run(tinyForwardFilters, d.P)
	kernels.ReturnJob(j)
	kernels.ApplyEpilogue(ep, d, y)
}

// tinyJob is a tiny map's pass, whose steps (tinyStep) the workers split: its operands
// (x, w, b, y, or their gradients), the tap pairs and live taps, and the laid-out copies.
type tinyJob[T kernels.Float] struct {
	step        tinyStep
	d           kernels.ConvDims
	pairs, live []int32
	x, w, b, y  []T
	xT, wT, yT  []T
}

// tinyStep names a step of a tiny map's pass.
type tinyStep int

const (
	tinyMaps           tinyStep = iota // lay x out for images [lo, hi)
	tinyForwardFilters                 // lay w out (unless nil: wT holds it) and compute y, filters [lo, hi)
	tinyGradXFilters                   // lay w and dy (in y) out, filters [lo, hi)
	tinyGradXChannels                  // compute dx (in x), channels [lo, hi)
	tinyGradWFilters                   // lay dy (in y) out and compute dw (in w), filters [lo, hi)
)

// newTinyJob borrows a job for a pass of d, with its tap pairs and buffers (see tinyBuffers).
func newTinyJob[T kernels.Float](ws *kernels.Scratch, d kernels.ConvDims) *tinyJob[T] {
	j := kernels.BorrowJob[tinyJob[T]]()
	j.d = d
	j.pairs, j.live = tapPairs(ws, d)
	j.xT, j.wT, j.yT = tinyBuffers[T](ws, d, j.live)
	return j
}

// Within a run of a training program (kernels.Scratch.Run), the forward pass's copy of the
// weights laid out by tap serves the input gradient's too: on a 1x1 map, picking the centre
// taps out of all nine reads the whole weight tensor, and costs more than the product.

// tapKey names the copy of the weights at (at, n) laid out for convolution d.
type tapKey[T kernels.Float] struct {
	at *T
	n  int
	d  kernels.ConvDims
}

// tapCopy is a copy of the weights laid out by tap, filled in run run.
type tapCopy[T kernels.Float] struct {
	run uint64
	wT  []T
}

// keepWeights points j.wT at the copy of w kept for this run, and reports whether it is
// already filled; then j.w is set to nil, as the forward step reads it (a filled copy is
// not laid out again). Outside a run it leaves j as it is and reports false.
func (j *tinyJob[T]) keepWeights(ws *kernels.Scratch, w []T) (filled bool) {
	if ws.Run == 0 {
		return false
	}
	key := tapKey[T]{&w[0], len(w), j.d}
	c, _ := ws.Kept(key).(*tapCopy[T])
	if c == nil {
		// Forget the copies of weights no pass has read since the run before this one
		// (weights made anew at every run), which would otherwise pile up.
		ws.Forget(func(_, v any) bool { c, ok := v.(*tapCopy[T]); return ok && c.run+1 < ws.Run })
		c = &tapCopy[T]{wT: make([]T, len(j.live)*j.d.P*j.d.C)}
		ws.Keep(key, c)
	}
	j.wT, filled = c.wT, c.run == ws.Run
	if filled {
		j.w = nil
	}
	c.run = ws.Run
	return filled
}

// run runs step over [0, n) on the workers.
func (j *tinyJob[T]) run(step tinyStep, n int) {
	j.step = step
	kernels.RunJob(n, j)
}

func (j *tinyJob[T]) Run(_, lo, hi int) {
	d := j.d
	switch j.step {
	case tinyMaps:
		layOutMaps(d, j.x, j.xT, lo, hi)
	case tinyForwardFilters:
		if j.w != nil {
			layOutWeights(d, j.live, j.w, j.wT, lo, hi)
		}
		tinyProducts(d, j.pairs, j.xT, j.wT, j.b, j.yT, j.y, lo, hi)
	case tinyGradXFilters:
		if j.w != nil {
			layOutWeights(d, j.live, j.w, j.wT, lo, hi)
		}
		layOutGrad(d, j.y, j.yT, lo, hi)
	case tinyGradXChannels:
		tinyGradX(d, j.pairs, j.wT, j.yT, j.xT, j.x, lo, hi)
	default:
		layOutGrad(d, j.y, j.yT, lo, hi)
		tinyGradW(d, j.pairs, j.live, j.xT, j.yT, j.wT, j.w, lo, hi)
	}
}

// tinyProducts computes filters [lo, hi) of y [N, P, OH*OW] (+ b) from xT and wT, through
// yT [OH*OW][N][P].
func tinyProducts[T kernels.Float](d kernels.ConvDims, pairs []int32, xT, wT, b, yT, y []T, lo, hi int) {
	for o := 0; o < d.OHW; o++ {
		yo := yT[o*d.N*d.P:]
		var beta T
		for k := 0; k < len(pairs); k += 3 {
			if t, s := int(pairs[k+1]), int(pairs[k+2]); int(pairs[k]) == o {
				// yT[o][:, lo:hi] (+)= xT[s] x wT[t][lo:hi]^T
				kernels.Matmul(false, true, d.N, hi-lo, d.C, 1, xT[s*d.N*d.C:], d.C, wT[(t*d.P+lo)*d.C:], d.C, beta, yo[lo:], d.P)
				beta = 1
			}
		}
		for n := 0; n < d.N; n++ {
			row := yo[n*d.P : (n+1)*d.P]
			for q := lo; q < hi; q++ {
				var v T
				if beta != 0 { // some tap reads data
					v = row[q]
				}
				if b != nil {
					v += b[q]
				}
				y[(n*d.P+q)*d.OHW+o] = v
			}
		}
	}
}

// AcceptsPreparedConv takes every convolution, as AcceptsConv does.
func (conv[T]) AcceptsPreparedConv(kernels.ConvDims) bool { return true }

// PrepareConv lays a tiny map's weights out by tap once, an inference BatchNorm folded in,
// for any batch: the passes then read the live taps' weights only (on a 1x1 map, one ninth
// of them), once. Other shapes run on copies.
func (c conv[T]) PrepareConv(d kernels.ConvDims, w, b []T, ep *kernels.Epilogue) (kernels.PreparedConv[T], error) {
	if !tinyShape(d) {
		return kernels.CopiedConv[T](c, d, w, b, ep), nil
	}
	fw, fb, relu := kernels.FoldEpilogue(d, w, b, ep)
	p := tinyPrepared[T]{d: d, b: fb, relu: relu}
	var live []int32
	p.pairs, live = tapList(d)
	p.wT = make([]T, len(live)*d.P*d.C)
	layOutWeights(d, live, fw, p.wT, 0, d.P)
	return p, nil
}

// tinyPrepared is a tiny map's forward pass with its weights laid out by tap.
type tinyPrepared[T kernels.Float] struct {
	d     kernels.ConvDims
	pairs []int32
	wT, b []T
	relu  bool
}

func (p tinyPrepared[T]) Forward(ws *kernels.Scratch, x, y []T) error {
	d := p.d
	ws.Reserve(kernels.Workers(), 3)
	j := kernels.BorrowJob[tinyJob[T]]()
	j.d, j.pairs, j.x, j.wT, j.b, j.y = d, p.pairs, x, p.wT, p.b, y
	j.xT, j.yT = kernels.Buffer[T](ws, 0, 0, d.HW*d.N*d.C), kernels.Buffer[T](ws, 0, 2, d.OHW*d.N*d.P)
	j.run(tinyMaps, d.N)
	j.run(tinyForwardFilters, d.P)
	kernels.ReturnJob(j)
	if p.relu {
		kernels.ApplyReLU(y, y)
	}
	return nil
}

func tinyBackwardX[T kernels.Float](ws *kernels.Scratch, d kernels.ConvDims, w, dy, dx []T) {
	j := newTinyJob[T](ws, d)
	j.w, j.y, j.x = w, dy, dx
	j.keepWeights(ws, w)
	j.run(tinyGradXFilters, d.P)
	j.run(tinyGradXChannels, d.C)
	kernels.ReturnJob(j)
}

// tinyGradX computes channels [lo, hi) of dx [N, C, H*W] from the laid-out wT and dyT,
// through dxT [H*W][N][C].
func tinyGradX[T kernels.Float](d kernels.ConvDims, pairs []int32, wT, dyT, dxT, dx []T, lo, hi int) {
	for s := 0; s < d.HW; s++ {
		for n := 0; n < d.N; n++ {
			clear(dxT[(s*d.N+n)*d.C+lo : (s*d.N+n)*d.C+hi])
		}
	}
	for k := 0; k < len(pairs); k += 3 {
		o, t, s := int(pairs[k]), int(pairs[k+1]), int(pairs[k+2])
		// dxT[s][:, lo:hi] += dyT[o] x wT[t][:, lo:hi]
		kernels.Matmul(false, false, d.N, hi-lo, d.P, 1, dyT[o*d.N*d.P:], d.P, wT[t*d.P*d.C+lo:], d.C, 1, dxT[s*d.N*d.C+lo:], d.C)
	}
	for n := 0; n < d.N; n++ {
		for c := lo; c < hi; c++ {
			plane := dx[(n*d.C+c)*d.HW : (n*d.C+c+1)*d.HW]
			for s := range plane {
				plane[s] = dxT[(s*d.N+n)*d.C+c]
			}
		}
	}
}

func tinyBackwardW[T kernels.Float](ws *kernels.Scratch, d kernels.ConvDims, x, dy, dw []T) {
	j := newTinyJob[T](ws, d)
	j.x, j.y, j.w = x, dy, dw
	j.run(tinyMaps, d.N)
	j.run(tinyGradWFilters, d.P)
	kernels.ReturnJob(j)
}

// tinyGradW computes filters [lo, hi) of dw [P, C, KH*KW] from the laid-out xT and dyT,
// through dwT [live taps][P][C].
func tinyGradW[T kernels.Float](d kernels.ConvDims, pairs, live []int32, xT, dyT, dwT, dw []T, lo, hi int) {
	kk := d.G.KH * d.G.KW
	for i := range live {
		dst := dwT[(i*d.P+lo)*d.C:]
		var beta T
		for k := 0; k < len(pairs); k += 3 {
			if o, s := int(pairs[k]), int(pairs[k+2]); int(pairs[k+1]) == i {
				// dwT[t][lo:hi] (+)= dyT[o][:, lo:hi]^T x xT[s]
				kernels.Matmul(true, false, hi-lo, d.C, d.N, 1, dyT[o*d.N*d.P+lo:], d.P, xT[s*d.N*d.C:], d.C, beta, dst, d.C)
				beta = 1
			}
		}
	}
	// One filter's gradient at a time, zeroed and filled while it sits in the L1 cache: dw is
	// written once (on a 1x1 map, nine tenths of it zeros).
	for q := lo; q < hi; q++ {
		dst := dw[q*d.C*kk : (q+1)*d.C*kk]
		clear(dst)
		for i, t := range live {
			for c, v := range dwT[(i*d.P+q)*d.C : (i*d.P+q+1)*d.C] {
				dst[c*kk+int(t)] = v
			}
		}
	}
}
