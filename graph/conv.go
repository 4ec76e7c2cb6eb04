package graph

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// convGeom is the geometry of a square 2-D convolution or pooling window over an NCHW input.
type convGeom struct {
	K, S, P int // kernel side, stride, zero padding on every side
}

// out returns the output side for an input side m: (m + 2P - K)/S + 1, floored.
func (g convGeom) out(m int) int { return (m+2*g.P-g.K)/g.S + 1 }

func (g convGeom) String() string { return fmt.Sprintf("k%d s%d p%d", g.K, g.S, g.P) }

// check reports whether the window fits the input; otherwise an error naming both.
func (g convGeom) check(in tensor.Shape) error {
	if len(in) != 4 {
		return fmt.Errorf("input shape %v is not [N,C,H,W]", in)
	}
	if g.K < 1 || g.S < 1 || g.P < 0 {
		return fmt.Errorf("kernel %d, stride %d, padding %d: want kernel and stride >= 1, padding >= 0", g.K, g.S, g.P)
	}
	if in[2]+2*g.P < g.K || in[3]+2*g.P < g.K {
		return fmt.Errorf("input %dx%d with padding %d is smaller than the %dx%d window", in[2], in[3], g.P, g.K, g.K)
	}
	return nil
}

// convShape is the shape rule shared by both convolution kernels: x [N,C,H,W], w [P,C,K,K],
// optional b [P].
func convShape(g convGeom, in ...tensor.Shape) (tensor.Shape, error) {
	x, w := in[0], in[1]
	if err := g.check(x); err != nil {
		return nil, err
	}
	if len(w) != 4 || w[1] != x[1] || w[2] != g.K || w[3] != g.K {
		return nil, fmt.Errorf("weight shape %v does not fit input %v with a %dx%d kernel (want [out,%d,%d,%d])", w, x, g.K, g.K, x[1], g.K, g.K)
	}
	if len(in) == 3 && (len(in[2]) != 1 || in[2][0] != w[0]) {
		return nil, fmt.Errorf("bias shape %v does not fit weight %v (want [%d])", in[2], w, w[0])
	}
	return tensor.Shape{x[0], w[0], g.out(x[2]), g.out(x[3])}, nil
}

// ---------------------------------------------------------------------------------------
// The fast convolution: the batch is split between the workers; each unrolls its images with
// im2col into one matrix and multiplies it with the weights in a single GEMM.

// convFast computes y = conv(x, w) (+ b) through im2col and GEMM.
type convFast struct {
	g    convGeom
	bias bool
	ws   *scratch
}

func (k convFast) String() string { return fmt.Sprintf("Conv2D(%v bias=%v)", k.g, k.bias) }
func (k convFast) dims() ([]int, int) {
	if k.bias {
		return []int{4, 4, 1}, 4
	}
	return []int{4, 4}, 4
}
func (k convFast) shape(in ...tensor.Shape) (tensor.Shape, error) { return convShape(k.g, in...) }
func (k convFast) diffWRT() []bool {
	if k.bias {
		return []bool{true, true, true}
	}
	return []bool{true, true}
}

func (k convFast) do(out gorgonia.Value, in ...gorgonia.Value) error {
	d := newConvDims(k.g, in[0].Shape(), in[1].Shape())
	switch out.Dtype() {
	case tensor.Float32:
		var b []float32
		if k.bias {
			b = data[float32](in[2])
		}
		return convForward(k.ws, d, data[float32](in[0]), data[float32](in[1]), b, data[float32](out), nil)
	case tensor.Float64:
		var b []float64
		if k.bias {
			b = data[float64](in[2])
		}
		return convForward(k.ws, d, data[float64](in[0]), data[float64](in[1]), b, data[float64](out), nil)
	default:
		return fmt.Errorf("unsupported dtype %v", out.Dtype())
	}
}

func (k convFast) grads(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	dx, err := apply(convGradX{k.g, in[0].Shape().Clone(), k.ws}, in[1], grad)
	if err != nil {
		return nil, err
	}
	dw, err := apply(convGradW{k.g, in[1].Shape().Clone(), k.ws}, in[0], grad)
	if err != nil {
		return nil, err
	}
	if !k.bias {
		return gorgonia.Nodes{dx, dw}, nil
	}
	db, err := apply(biasGrad{rank: 4}, grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{dx, dw, db}, nil
}

// convDims are the sizes of one convolution.
type convDims struct {
	g                  convGeom
	n, c, h, w, p      int     // batch, input channels, input side, output channels
	oh, ow, hw, ohw, k int     // output side, input and output plane sizes, rows of the unrolled input (C*K*K)
	idx                []int32 // for small maps, the patch offsets (see patchIndex); nil otherwise
}

func newConvDims(g convGeom, xs, ws tensor.Shape) convDims {
	d := convDims{g: g, n: xs[0], c: xs[1], h: xs[2], w: xs[3], p: ws[0], oh: g.out(xs[2]), ow: g.out(xs[3])}
	d.hw, d.ohw, d.k = d.h*d.w, d.oh*d.ow, d.c*g.K*g.K
	return d
}

// fullWindow reports whether the window covers the whole unpadded input, as in LeNet-5's
// last convolution: then each image is one row of the unrolled input as it lies in memory,
// and the convolution is a plain matrix product.
func (d convDims) fullWindow() bool {
	return d.g.P == 0 && d.g.K == d.h && d.g.K == d.w
}

// A full-window convolution (see fullWindow) is a matrix product, split between the workers
// where it is big enough to share: the forward product and the input gradient by images, the
// weight gradient by filters.

func splitRows(d convDims, rows int, f func(lo, hi int)) {
	if d.n*d.p*d.k < 1<<20 {
		f(0, rows)
		return
	}
	parallel(rows, func(_, lo, hi int) { f(lo, hi) })
}

// fullForward: y [N,P] = x [N,C*K*K] w^T (+ b).
func fullForward[T Float](d convDims, x, w, b, y []T, ep *epilogue) {
	splitRows(d, d.n, func(lo, hi int) {
		var beta T
		if b != nil {
			for i := lo; i < hi; i++ {
				copy(y[i*d.p:(i+1)*d.p], b)
			}
			beta = 1
		}
		gemm(false, true, hi-lo, d.p, d.k, 1, x[lo*d.k:], d.k, w, d.k, beta, y[lo*d.p:], d.p)
		applyEpilogue(ep, d, y[lo*d.p:hi*d.p])
	})
}

// fullBackwardX: dx [N,C*K*K] = dy [N,P] w.
func fullBackwardX[T Float](d convDims, w, dy, dx []T) {
	splitRows(d, d.n, func(lo, hi int) {
		gemm(false, false, hi-lo, d.k, d.p, 1, dy[lo*d.p:], d.p, w, d.k, 0, dx[lo*d.k:], d.k)
	})
}

// fullBackwardW: dw [P,C*K*K] = dy^T x.
func fullBackwardW[T Float](d convDims, x, dy, dw []T) {
	splitRows(d, d.p, func(lo, hi int) {
		gemm(true, false, hi-lo, d.k, d.n, 1, dy[lo:], d.p, x, d.k, 0, dw[lo*d.k:], d.k)
	})
}

// withIndex returns d with its patch table, for small maps, taken from the scratch's cache.
func (d convDims) withIndex(ws *scratch) convDims {
	if d.ow < smallMap {
		d.idx = ws.patchIndex(d)
	}
	return d
}

// validCols returns the output columns [lo, hi) whose input column j*S+v-P lies inside a row
// of width w.
func validCols(g convGeom, v, w, ow int) (lo, hi int) {
	if t := g.P - v; t > 0 {
		lo = (t + g.S - 1) / g.S
	}
	if t := w - 1 + g.P - v; t >= 0 {
		hi = min(ow, t/g.S+1)
	}
	if hi <= lo {
		return 0, 0
	}
	return lo, hi
}

// im2col unrolls one image x [C,H,W] into the columns [off, off+OH*OW) of col, a
// [C*K*K, ld] matrix: row (c,u,v), column (i,j) holds x[c, i*S+u-P, j*S+v-P], or 0 outside.
func im2col[T Float](d convDims, x, col []T, ld, off int) {
	if d.idx != nil {
		im2colSmall(d, x, col, ld, off)
		return
	}
	g := d.g
	row := 0
	for ci := 0; ci < d.c; ci++ {
		xc := x[ci*d.hw : (ci+1)*d.hw]
		for u := 0; u < g.K; u++ {
			for v := 0; v < g.K; v++ {
				dst := col[row*ld+off : row*ld+off+d.ohw]
				row++
				lo, hi := validCols(g, v, d.w, d.ow)
				for i := 0; i < d.oh; i++ {
					dr := dst[i*d.ow : (i+1)*d.ow]
					r := i*g.S + u - g.P
					if r < 0 || r >= d.h || hi == 0 {
						clear(dr)
						continue
					}
					clear(dr[:lo])
					clear(dr[hi:])
					src := xc[r*d.w : (r+1)*d.w]
					if g.S == 1 {
						copy(dr[lo:hi], src[lo+v-g.P:hi+v-g.P])
						continue
					}
					for j := lo; j < hi; j++ {
						dr[j] = src[j*g.S+v-g.P]
					}
				}
			}
		}
	}
}

// col2im adds the columns [off, off+OH*OW) of col back into one image dx [C,H,W], which it
// does not clear first.
func col2im[T Float](d convDims, col []T, ld, off int, dx []T) {
	if d.idx != nil {
		col2imSmall(d, col, ld, off, dx)
		return
	}
	g := d.g
	row := 0
	for ci := 0; ci < d.c; ci++ {
		xc := dx[ci*d.hw : (ci+1)*d.hw]
		for u := 0; u < g.K; u++ {
			for v := 0; v < g.K; v++ {
				src := col[row*ld+off : row*ld+off+d.ohw]
				row++
				lo, hi := validCols(g, v, d.w, d.ow)
				if hi == 0 {
					continue
				}
				for i := 0; i < d.oh; i++ {
					r := i*g.S + u - g.P
					if r < 0 || r >= d.h {
						continue
					}
					dst := xc[r*d.w : (r+1)*d.w]
					s := src[i*d.ow : (i+1)*d.ow]
					if g.S == 1 {
						dr := dst[lo+v-g.P : hi+v-g.P]
						for j, val := range s[lo:hi] {
							dr[j] += val
						}
						continue
					}
					for j := lo; j < hi; j++ {
						dst[j*g.S+v-g.P] += s[j]
					}
				}
			}
		}
	}
}

// chunkImages is how many images a worker unrolls at a time: few enough that the unrolled
// matrix stays in the core's cache, enough for a GEMM at least minCols columns wide (deep
// layers have small maps, and a skinny GEMM runs far below the BLAS's peak).
func chunkImages(d convDims) int {
	const target = 1 << 16 // elements of the unrolled matrix
	const minCols = 512
	return max(1, target/(d.k*d.ohw), (minCols+d.ohw-1)/d.ohw)
}

// chunks calls f for consecutive chunks [lo, hi) of at most size images within [from, to).
func chunks(from, to, size int, f func(lo, hi int)) {
	for lo := from; lo < to; lo += size {
		f(lo, min(lo+size, to))
	}
}

// smallMap is the output width below which im2col and col2im go through a table of source
// offsets instead of copying row segments: deep layers have maps of 4x4 and less, where the
// per-segment work would cost more than the GEMM.
const smallMap = 8

// patchIndex returns, for kernel offset r = u*K+v and output position o, the offset in an
// input plane that im2col reads (entry r*OH*OW+o), or -1 where it reads padding.
func patchIndex(d convDims) []int32 {
	g := d.g
	idx := make([]int32, g.K*g.K*d.ohw)
	for u := 0; u < g.K; u++ {
		for v := 0; v < g.K; v++ {
			row := idx[(u*g.K+v)*d.ohw:]
			for i := 0; i < d.oh; i++ {
				for j := 0; j < d.ow; j++ {
					r, c := i*g.S+u-g.P, j*g.S+v-g.P
					if r < 0 || r >= d.h || c < 0 || c >= d.w {
						row[i*d.ow+j] = -1
					} else {
						row[i*d.ow+j] = int32(r*d.w + c)
					}
				}
			}
		}
	}
	return idx
}

func im2colSmall[T Float](d convDims, x, col []T, ld, off int) {
	idx := d.idx
	kk := d.g.K * d.g.K
	for ci := 0; ci < d.c; ci++ {
		xc := x[ci*d.hw : (ci+1)*d.hw]
		for r := 0; r < kk; r++ {
			dst := col[(ci*kk+r)*ld+off : (ci*kk+r)*ld+off+d.ohw]
			for o, at := range idx[r*d.ohw : (r+1)*d.ohw] {
				if at < 0 {
					dst[o] = 0
				} else {
					dst[o] = xc[at]
				}
			}
		}
	}
}

func col2imSmall[T Float](d convDims, col []T, ld, off int, dx []T) {
	idx := d.idx
	kk := d.g.K * d.g.K
	for ci := 0; ci < d.c; ci++ {
		xc := dx[ci*d.hw : (ci+1)*d.hw]
		for r := 0; r < kk; r++ {
			src := col[(ci*kk+r)*ld+off : (ci*kk+r)*ld+off+d.ohw]
			for o, at := range idx[r*d.ohw : (r+1)*d.ohw] {
				if at >= 0 {
					xc[at] += src[o]
				}
			}
		}
	}
}

// convForward computes y = conv(x, w) (+ b), then applies ep (nil: nothing) to each chunk
// of images as soon as it is computed.
func convForward[T Float](ws *scratch, d convDims, x, w, b, y []T, ep *epilogue) error {
	if d.fullWindow() {
		fullForward(d, x, w, b, y, ep)
		return nil
	}
	if ok, err := nativeConv(ws, convForwardKernel, d, x, w, b, y, ep); ok {
		return err
	}
	ws.reserve(workers(), 2)
	d = d.withIndex(ws)
	if d.n < workers() && d.p >= 2*workers() && d.p*d.k*d.ohw >= 1<<20 {
		convForwardByFilters(ws, d, x, w, b, y)
		applyEpilogue(ep, d, y)
		return nil
	}
	cs := chunkImages(d)
	parallel(d.n, func(wk, from, to int) {
		chunks(from, to, cs, func(lo, hi int) {
			cols := (hi - lo) * d.ohw
			col := buffer[T](ws, wk, 0, d.k*cols)
			for i := lo; i < hi; i++ {
				im2col(d, x[i*d.c*d.hw:(i+1)*d.c*d.hw], col, cols, (i-lo)*d.ohw)
			}
			tmp := buffer[T](ws, wk, 1, d.p*cols)
			gemm(false, false, d.p, cols, d.k, 1, w, d.k, col, cols, 0, tmp, cols)
			for i := lo; i < hi; i++ {
				for q := 0; q < d.p; q++ {
					dst := y[(i*d.p+q)*d.ohw : (i*d.p+q+1)*d.ohw]
					src := tmp[q*cols+(i-lo)*d.ohw : q*cols+(i-lo+1)*d.ohw]
					if b == nil {
						copy(dst, src)
						continue
					}
					bq := b[q]
					for j, v := range src {
						dst[j] = v + bq
					}
				}
			}
			applyEpilogue(ep, d, y[lo*d.p*d.ohw:hi*d.p*d.ohw])
		})
	})
	return nil
}

// convForwardByFilters serves batches smaller than the number of workers (inference on one
// image) in layers big enough to share: each image is unrolled once, and the workers split
// the filters between them.
func convForwardByFilters[T Float](ws *scratch, d convDims, x, w, b, y []T) {
	col := buffer[T](ws, 0, 0, d.k*d.ohw)
	for i := 0; i < d.n; i++ {
		im2col(d, x[i*d.c*d.hw:(i+1)*d.c*d.hw], col, d.ohw, 0)
		yi := y[i*d.p*d.ohw : (i+1)*d.p*d.ohw]
		parallel(d.p, func(_, lo, hi int) {
			var beta T
			if b != nil {
				for q := lo; q < hi; q++ {
					row := yi[q*d.ohw : (q+1)*d.ohw]
					for j := range row {
						row[j] = b[q]
					}
				}
				beta = 1
			}
			gemm(false, false, hi-lo, d.ohw, d.k, 1, w[lo*d.k:], d.k, col, d.ohw, beta, yi[lo*d.ohw:], d.ohw)
		})
	}
}

// gatherGrad copies dy [N,P,OH*OW] of images [lo,hi) into dyT [P, (hi-lo)*OH*OW].
func gatherGrad[T Float](d convDims, dy, dyT []T, lo, hi int) {
	cols := (hi - lo) * d.ohw
	for i := lo; i < hi; i++ {
		for q := 0; q < d.p; q++ {
			copy(dyT[q*cols+(i-lo)*d.ohw:q*cols+(i-lo+1)*d.ohw], dy[(i*d.p+q)*d.ohw:(i*d.p+q+1)*d.ohw])
		}
	}
}

// convGradX computes dx from w and dy.
type convGradX struct {
	g  convGeom
	xs tensor.Shape
	ws *scratch
}

func (k convGradX) String() string     { return fmt.Sprintf("Conv2DGradX(%v %v)", k.g, k.xs) }
func (k convGradX) dims() ([]int, int) { return []int{4, 4}, 4 }
func (k convGradX) shape(in ...tensor.Shape) (tensor.Shape, error) {
	return k.xs.Clone(), nil
}
func (k convGradX) do(out gorgonia.Value, in ...gorgonia.Value) error {
	d := newConvDims(k.g, k.xs, in[0].Shape())
	switch out.Dtype() {
	case tensor.Float32:
		return convBackwardX(k.ws, d, data[float32](in[0]), data[float32](in[1]), data[float32](out))
	case tensor.Float64:
		return convBackwardX(k.ws, d, data[float64](in[0]), data[float64](in[1]), data[float64](out))
	default:
		return fmt.Errorf("unsupported dtype %v", out.Dtype())
	}
}

func convBackwardX[T Float](ws *scratch, d convDims, w, dy, dx []T) error {
	if d.fullWindow() {
		fullBackwardX(d, w, dy, dx)
		return nil
	}
	if ok, err := nativeConv(ws, convGradXKernel, d, w, dy, nil, dx, nil); ok {
		return err
	}
	ws.reserve(workers(), 2)
	d = d.withIndex(ws)
	cs := chunkImages(d)
	parallel(d.n, func(wk, from, to int) {
		chunks(from, to, cs, func(lo, hi int) {
			cols := (hi - lo) * d.ohw
			dyT := buffer[T](ws, wk, 0, d.p*cols)
			gatherGrad(d, dy, dyT, lo, hi)
			col := buffer[T](ws, wk, 1, d.k*cols)
			// col [k, cols] = w^T [k, p] x dyT [p, cols]
			gemm(true, false, d.k, cols, d.p, 1, w, d.k, dyT, cols, 0, col, cols)
			for i := lo; i < hi; i++ {
				xi := dx[i*d.c*d.hw : (i+1)*d.c*d.hw]
				clear(xi)
				col2im(d, col, cols, (i-lo)*d.ohw, xi)
			}
		})
	})
	return nil
}

// convGradW computes dw from x and dy.
type convGradW struct {
	g  convGeom
	wt tensor.Shape
	ws *scratch
}

func (k convGradW) String() string     { return fmt.Sprintf("Conv2DGradW(%v %v)", k.g, k.wt) }
func (k convGradW) dims() ([]int, int) { return []int{4, 4}, 4 }
func (k convGradW) shape(in ...tensor.Shape) (tensor.Shape, error) {
	return k.wt.Clone(), nil
}
func (k convGradW) do(out gorgonia.Value, in ...gorgonia.Value) error {
	d := newConvDims(k.g, in[0].Shape(), k.wt)
	switch out.Dtype() {
	case tensor.Float32:
		return convBackwardW(k.ws, d, data[float32](in[0]), data[float32](in[1]), data[float32](out))
	case tensor.Float64:
		return convBackwardW(k.ws, d, data[float64](in[0]), data[float64](in[1]), data[float64](out))
	default:
		return fmt.Errorf("unsupported dtype %v", out.Dtype())
	}
}

// convBackwardW: each worker computes the weight gradient of its images (see sumOverImages).
func convBackwardW[T Float](ws *scratch, d convDims, x, dy, dw []T) error {
	if d.fullWindow() {
		fullBackwardW(d, x, dy, dw)
		return nil
	}
	if ok, err := nativeConv(ws, convGradWKernel, d, x, dy, nil, dw, nil); ok {
		return err
	}
	ws.reserve(workers(), 2)
	d = d.withIndex(ws)
	cs := chunkImages(d)
	sumOverImages(ws, 2, d.n, dw, func(wk int, out []T, from, to int) {
		var beta T
		chunks(from, to, cs, func(lo, hi int) {
			cols := (hi - lo) * d.ohw
			dyT := buffer[T](ws, wk, 0, d.p*cols)
			gatherGrad(d, dy, dyT, lo, hi)
			col := buffer[T](ws, wk, 1, d.k*cols)
			for i := lo; i < hi; i++ {
				im2col(d, x[i*d.c*d.hw:(i+1)*d.c*d.hw], col, cols, (i-lo)*d.ohw)
			}
			// out [p, k] (+)= dyT [p, cols] x col^T [cols, k]
			gemm(false, true, d.p, d.k, cols, 1, dyT, cols, col, cols, beta, out, d.k)
			beta = 1
		})
	})
	return nil
}

// sumOverImages splits n images between the workers, each adding up its share with f into
// dst: out itself for the first worker, its scratch slot for the others. The partial sums are
// then added into out in worker order, so that the result does not depend on timing.
func sumOverImages[T Float](ws *scratch, slot, n int, out []T, f func(wk int, dst []T, lo, hi int)) {
	ws.reserve(workers(), slot+1)
	k := parallel(n, func(wk, lo, hi int) {
		dst := out
		if wk > 0 {
			dst = buffer[T](ws, wk, slot, len(out))
		}
		f(wk, dst, lo, hi)
	})
	for wk := 1; wk < k; wk++ {
		for i, v := range buffer[T](ws, wk, slot, len(out)) {
			out[i] += v
		}
	}
}

// biasGrad sums dy [N,P,H,W] (or [N,P]) over every axis but the channel axis.
type biasGrad struct{ rank int }

func (k biasGrad) String() string     { return fmt.Sprintf("BiasGrad(rank %d)", k.rank) }
func (k biasGrad) dims() ([]int, int) { return []int{k.rank}, 1 }
func (biasGrad) shape(in ...tensor.Shape) (tensor.Shape, error) {
	if len(in[0]) < 2 {
		return nil, fmt.Errorf("gradient shape %v has no channel axis", in[0])
	}
	return tensor.Shape{in[0][1]}, nil
}
func (biasGrad) do(out gorgonia.Value, in ...gorgonia.Value) error {
	s := in[0].Shape()
	switch out.Dtype() {
	case tensor.Float32:
		sumChannels(s, data[float32](in[0]), data[float32](out))
	case tensor.Float64:
		sumChannels(s, data[float64](in[0]), data[float64](out))
	default:
		return fmt.Errorf("unsupported dtype %v", out.Dtype())
	}
	return nil
}

// sum adds up v in four interleaved sums: one chain of dependent additions would wait on
// each one's latency.
func sum[T Float](v []T) T {
	var a0, a1, a2, a3 T
	i := 0
	for ; i+4 <= len(v); i += 4 {
		a0 += v[i]
		a1 += v[i+1]
		a2 += v[i+2]
		a3 += v[i+3]
	}
	for ; i < len(v); i++ {
		a0 += v[i]
	}
	return (a0 + a1) + (a2 + a3)
}

// sumChannels sums dy [N,C,...] per channel into db [C]; the workers split the channels.
func sumChannels[T Float](s tensor.Shape, dy, db []T) {
	n, c := s[0], s[1]
	inner := 1
	for _, d := range s[2:] {
		inner *= d
	}
	if sumChannelsNative(n, c, inner, dy, db) {
		return
	}
	channels := func(_, lo, hi int) {
		for q := lo; q < hi; q++ {
			var total float64
			for i := 0; i < n; i++ {
				total += float64(sum(dy[(i*c+q)*inner : (i*c+q+1)*inner]))
			}
			db[q] = T(total)
		}
	}
	if !sumSplit(n * c * inner) {
		channels(0, 0, c)
		return
	}
	parallel(c, channels)
}

// sumSplit reports whether per-channel sums of size elements are split between the workers.
func sumSplit(size int) bool { return size >= 1<<14 }
