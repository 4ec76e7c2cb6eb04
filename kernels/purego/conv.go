package purego

import "github.com/nndl/cnn/kernels"

// The convolution: the batch is split between the workers; each unrolls its images with
// im2col into one matrix and multiplies it with the weights in a single GEMM (one per group
// of a grouped convolution: group g's filters with the unrolled rows of its channels). A window that
// covers the whole input is a plain matrix product; one image of a deep layer is unrolled
// once and its filters split between the workers. Output maps of 2x2 and smaller run on
// the taps that touch data (taps.go).

// conv implements kernels.Conv for every shape.
type conv[T kernels.Float] struct{}

func (conv[T]) AcceptsConv(kernels.ConvDims) bool { return true }

func (conv[T]) ConvForward(ws *kernels.Scratch, d kernels.ConvDims, x, w, b, y []T, ep *kernels.Epilogue) error {
	if tiny(d) {
		tinyForward(ws, d, x, w, b, y, ep)
		return nil
	}
	convForward(ws, dims{ConvDims: d}, x, w, b, y, ep)
	return nil
}

func (conv[T]) ConvBackwardData(ws *kernels.Scratch, d kernels.ConvDims, w, dy, dx []T) error {
	if tiny(d) {
		tinyBackwardX(ws, d, w, dy, dx)
		return nil
	}
	convBackwardX(ws, dims{ConvDims: d}, w, dy, dx)
	return nil
}

func (conv[T]) ConvBackwardWeights(ws *kernels.Scratch, d kernels.ConvDims, x, dy, dw []T) error {
	if tiny(d) {
		tinyBackwardW(ws, d, x, dy, dw)
		return nil
	}
	convBackwardW(ws, dims{ConvDims: d}, x, dy, dw)
	return nil
}

// dims are a convolution's sizes with, for small maps, its patch offsets (see patchIndex).
type dims struct {
	kernels.ConvDims
	idx []int32
}

// index sets the patch table of a small map, taken from the scratch's cache.
func (d *dims) index(ws *kernels.Scratch) {
	if d.OW < smallMap {
		d.idx = ws.Table(tableKey(patchTable, d.ConvDims), func() []int32 { return patchIndex(*d) })
	}
}

// The tables a convolution caches in its scratch: im2col's patch offsets (patchIndex) and
// the live taps of a tiny map (tapPairs).
const (
	patchTable = iota
	tapTable
)

// tableKey is the scratch key of table kind for convolution d's geometry and input size.
func tableKey(kind int, d kernels.ConvDims) [8]int {
	g := d.G
	pair := func(a, b int) int { return a<<32 | b }
	return [8]int{kind, pair(g.KH, g.KW), pair(g.SH, g.SW), pair(g.PH, g.PW), pair(g.DH, g.DW), d.H, d.W}
}

// A full-window convolution (see kernels.ConvDims.FullWindow) is a matrix product, split between the workers
// where it is big enough to share: the forward product and the input gradient by images, the
// weight gradient by filters.

func splitRows(d dims, rows int, f func(lo, hi int)) {
	if d.N*d.P*d.K < 1<<20 {
		f(0, rows)
		return
	}
	kernels.Parallel(rows, func(_, lo, hi int) { f(lo, hi) })
}

// fullForward: y [N,P] = x [N,C*K*K] w^T (+ b).
func fullForward[T kernels.Float](d dims, x, w, b, y []T, ep *kernels.Epilogue) {
	splitRows(d, d.N, func(lo, hi int) {
		var beta T
		if b != nil {
			for i := lo; i < hi; i++ {
				copy(y[i*d.P:(i+1)*d.P], b)
			}
			beta = 1
		}
		kernels.Matmul(false, true, hi-lo, d.P, d.K, 1, x[lo*d.K:], d.K, w, d.K, beta, y[lo*d.P:], d.P)
		kernels.ApplyEpilogue(ep, d.ConvDims, y[lo*d.P:hi*d.P])
	})
}

// fullBackwardX: dx [N,C*K*K] = dy [N,P] w.
func fullBackwardX[T kernels.Float](d dims, w, dy, dx []T) {
	splitRows(d, d.N, func(lo, hi int) {
		kernels.Matmul(false, false, hi-lo, d.K, d.P, 1, dy[lo*d.P:], d.P, w, d.K, 0, dx[lo*d.K:], d.K)
	})
}

// fullBackwardW: dw [P,C*K*K] = dy^T x.
func fullBackwardW[T kernels.Float](d dims, x, dy, dw []T) {
	splitRows(d, d.P, func(lo, hi int) {
		kernels.Matmul(true, false, hi-lo, d.K, d.N, 1, dy[lo:], d.P, x, d.K, 0, dw[lo*d.K:], d.K)
	})
}

// validCols returns the output columns [lo, hi) whose input column j*SW+v*DW-PW lies inside
// a row of width w.
func validCols(g kernels.ConvGeom, v, w, ow int) (lo, hi int) {
	if t := g.PW - v*g.DW; t > 0 {
		lo = (t + g.SW - 1) / g.SW
	}
	if t := w - 1 + g.PW - v*g.DW; t >= 0 {
		hi = min(ow, t/g.SW+1)
	}
	if hi <= lo {
		return 0, 0
	}
	return lo, hi
}

// im2col unrolls one image x [C,H,W] into the columns [off, off+OH*OW) of col, a
// [C*KH*KW, ld] matrix: row (c,u,v), column (i,j) holds x[c, i*SH+u*DH-PH, j*SW+v*DW-PW], or
// 0 outside.
func im2col[T kernels.Float](d dims, x, col []T, ld, off int) {
	if d.idx != nil {
		im2colSmall(d, x, col, ld, off)
		return
	}
	g := d.G
	row := 0
	for ci := 0; ci < d.C; ci++ {
		xc := x[ci*d.HW : (ci+1)*d.HW]
		for u := 0; u < g.KH; u++ {
			for v := 0; v < g.KW; v++ {
				dst := col[row*ld+off : row*ld+off+d.OHW]
				row++
				lo, hi := validCols(g, v, d.W, d.OW)
				at := v*g.DW - g.PW // the input column of output column 0
				for i := 0; i < d.OH; i++ {
					dr := dst[i*d.OW : (i+1)*d.OW]
					r := i*g.SH + u*g.DH - g.PH
					if r < 0 || r >= d.H || hi == 0 {
						clear(dr)
						continue
					}
					clear(dr[:lo])
					clear(dr[hi:])
					src := xc[r*d.W : (r+1)*d.W]
					if g.SW == 1 {
						copy(dr[lo:hi], src[lo+at:hi+at])
						continue
					}
					for j := lo; j < hi; j++ {
						dr[j] = src[j*g.SW+at]
					}
				}
			}
		}
	}
}

// col2im adds the columns [off, off+OH*OW) of col back into one image dx [C,H,W], which it
// does not clear first.
func col2im[T kernels.Float](d dims, col []T, ld, off int, dx []T) {
	if d.idx != nil {
		col2imSmall(d, col, ld, off, dx)
		return
	}
	g := d.G
	row := 0
	for ci := 0; ci < d.C; ci++ {
		xc := dx[ci*d.HW : (ci+1)*d.HW]
		for u := 0; u < g.KH; u++ {
			for v := 0; v < g.KW; v++ {
				src := col[row*ld+off : row*ld+off+d.OHW]
				row++
				lo, hi := validCols(g, v, d.W, d.OW)
				if hi == 0 {
					continue
				}
				at := v*g.DW - g.PW
				for i := 0; i < d.OH; i++ {
					r := i*g.SH + u*g.DH - g.PH
					if r < 0 || r >= d.H {
						continue
					}
					dst := xc[r*d.W : (r+1)*d.W]
					s := src[i*d.OW : (i+1)*d.OW]
					if g.SW == 1 {
						dr := dst[lo+at : hi+at]
						for j, val := range s[lo:hi] {
							dr[j] += val
						}
						continue
					}
					for j := lo; j < hi; j++ {
						dst[j*g.SW+at] += s[j]
					}
				}
			}
		}
	}
}

// chunkImages is how many images a worker unrolls at a time: few enough that the unrolled
// matrix stays in the core's cache, enough for a GEMM at least minCols columns wide (deep
// layers have small maps, and a skinny GEMM runs far below the BLAS's peak).
func chunkImages(d dims) int {
	const target = 1 << 16 // elements of the unrolled matrix
	const minCols = 512
	return max(1, target/(d.Rows()*d.OHW), (minCols+d.OHW-1)/d.OHW)
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

// patchIndex returns, for kernel offset r = u*KW+v and output position o, the offset in an
// input plane that im2col reads (entry r*OH*OW+o), or -1 where it reads padding.
func patchIndex(d dims) []int32 {
	g := d.G
	idx := make([]int32, g.KH*g.KW*d.OHW)
	for u := 0; u < g.KH; u++ {
		for v := 0; v < g.KW; v++ {
			row := idx[(u*g.KW+v)*d.OHW:]
			for i := 0; i < d.OH; i++ {
				for j := 0; j < d.OW; j++ {
					r, c := i*g.SH+u*g.DH-g.PH, j*g.SW+v*g.DW-g.PW
					if r < 0 || r >= d.H || c < 0 || c >= d.W {
						row[i*d.OW+j] = -1
					} else {
						row[i*d.OW+j] = int32(r*d.W + c)
					}
				}
			}
		}
	}
	return idx
}

func im2colSmall[T kernels.Float](d dims, x, col []T, ld, off int) {
	idx := d.idx
	kk := d.G.KH * d.G.KW
	for ci := 0; ci < d.C; ci++ {
		xc := x[ci*d.HW : (ci+1)*d.HW]
		for r := 0; r < kk; r++ {
			dst := col[(ci*kk+r)*ld+off : (ci*kk+r)*ld+off+d.OHW]
			for o, at := range idx[r*d.OHW : (r+1)*d.OHW] {
				if at < 0 {
					dst[o] = 0
				} else {
					dst[o] = xc[at]
				}
			}
		}
	}
}

func col2imSmall[T kernels.Float](d dims, col []T, ld, off int, dx []T) {
	idx := d.idx
	kk := d.G.KH * d.G.KW
	for ci := 0; ci < d.C; ci++ {
		xc := dx[ci*d.HW : (ci+1)*d.HW]
		for r := 0; r < kk; r++ {
			src := col[(ci*kk+r)*ld+off : (ci*kk+r)*ld+off+d.OHW]
			for o, at := range idx[r*d.OHW : (r+1)*d.OHW] {
				if at >= 0 {
					xc[at] += src[o]
				}
			}
		}
	}
}

// convForward computes y = conv(x, w) (+ b), then applies ep (nil: nothing) to each chunk
// of images as soon as it is computed.
func convForward[T kernels.Float](ws *kernels.Scratch, d dims, x, w, b, y []T, ep *kernels.Epilogue) {
	if d.FullWindow() {
		fullForward(d, x, w, b, y, ep)
		return
	}
	ws.Reserve(kernels.Workers(), 2)
	d.index(ws)
	if d.G.Groups == 1 && d.N < kernels.Workers() && d.P >= 2*kernels.Workers() && d.P*d.K*d.OHW >= 1<<20 {
		convForwardByFilters(ws, d, x, w, b, y)
		kernels.ApplyEpilogue(ep, d.ConvDims, y)
		return
	}
	cs := chunkImages(d)
	kernels.Parallel(d.N, func(wk, from, to int) {
		chunks(from, to, cs, func(lo, hi int) {
			cols := (hi - lo) * d.OHW
			col := kernels.Buffer[T](ws, wk, 0, d.Rows()*cols)
			for i := lo; i < hi; i++ {
				im2col(d, x[i*d.C*d.HW:(i+1)*d.C*d.HW], col, cols, (i-lo)*d.OHW)
			}
			tmp := kernels.Buffer[T](ws, wk, 1, d.P*cols)
			pg := d.P / d.G.Groups
			for g := range d.G.Groups {
				// tmp [pg, cols] of group g = w [pg, K] x col [K, cols] of its channels
				kernels.Matmul(false, false, pg, cols, d.K, 1, w[g*pg*d.K:], d.K, col[g*d.K*cols:], cols, 0, tmp[g*pg*cols:], cols)
			}
			for i := lo; i < hi; i++ {
				for q := 0; q < d.P; q++ {
					dst := y[(i*d.P+q)*d.OHW : (i*d.P+q+1)*d.OHW]
					src := tmp[q*cols+(i-lo)*d.OHW : q*cols+(i-lo+1)*d.OHW]
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
			kernels.ApplyEpilogue(ep, d.ConvDims, y[lo*d.P*d.OHW:hi*d.P*d.OHW])
		})
	})
}

// convForwardByFilters serves batches smaller than the number of workers (inference on one
// image) in layers big enough to share: each image is unrolled once, and the workers split
// the filters between them.
func convForwardByFilters[T kernels.Float](ws *kernels.Scratch, d dims, x, w, b, y []T) {
	col := kernels.Buffer[T](ws, 0, 0, d.K*d.OHW)
	for i := 0; i < d.N; i++ {
		im2col(d, x[i*d.C*d.HW:(i+1)*d.C*d.HW], col, d.OHW, 0)
		yi := y[i*d.P*d.OHW : (i+1)*d.P*d.OHW]
		kernels.Parallel(d.P, func(_, lo, hi int) {
			var beta T
			if b != nil {
				for q := lo; q < hi; q++ {
					row := yi[q*d.OHW : (q+1)*d.OHW]
					for j := range row {
						row[j] = b[q]
					}
				}
				beta = 1
			}
			kernels.Matmul(false, false, hi-lo, d.OHW, d.K, 1, w[lo*d.K:], d.K, col, d.OHW, beta, yi[lo*d.OHW:], d.OHW)
		})
	}
}

// gatherGrad copies dy [N,P,OH*OW] of images [lo,hi) into dyT [P, (hi-lo)*OH*OW].
func gatherGrad[T kernels.Float](d dims, dy, dyT []T, lo, hi int) {
	cols := (hi - lo) * d.OHW
	for i := lo; i < hi; i++ {
		for q := 0; q < d.P; q++ {
			copy(dyT[q*cols+(i-lo)*d.OHW:q*cols+(i-lo+1)*d.OHW], dy[(i*d.P+q)*d.OHW:(i*d.P+q+1)*d.OHW])
		}
	}
}

func convBackwardX[T kernels.Float](ws *kernels.Scratch, d dims, w, dy, dx []T) {
	if d.FullWindow() {
		fullBackwardX(d, w, dy, dx)
		return
	}
	ws.Reserve(kernels.Workers(), 2)
	d.index(ws)
	cs := chunkImages(d)
	kernels.Parallel(d.N, func(wk, from, to int) {
		chunks(from, to, cs, func(lo, hi int) {
			cols := (hi - lo) * d.OHW
			dyT := kernels.Buffer[T](ws, wk, 0, d.P*cols)
			gatherGrad(d, dy, dyT, lo, hi)
			col := kernels.Buffer[T](ws, wk, 1, d.Rows()*cols)
			pg := d.P / d.G.Groups
			for g := range d.G.Groups {
				// col [K, cols] of group g = w^T [K, pg] x dyT [pg, cols]
				kernels.Matmul(true, false, d.K, cols, pg, 1, w[g*pg*d.K:], d.K, dyT[g*pg*cols:], cols, 0, col[g*d.K*cols:], cols)
			}
			for i := lo; i < hi; i++ {
				xi := dx[i*d.C*d.HW : (i+1)*d.C*d.HW]
				clear(xi)
				col2im(d, col, cols, (i-lo)*d.OHW, xi)
			}
		})
	})
}

// convBackwardW: each worker computes the weight gradient of its images (see sumOverImages).
func convBackwardW[T kernels.Float](ws *kernels.Scratch, d dims, x, dy, dw []T) {
	if d.FullWindow() {
		fullBackwardW(d, x, dy, dw)
		return
	}
	ws.Reserve(kernels.Workers(), 2)
	d.index(ws)
	cs := chunkImages(d)
	kernels.SumOverImages(ws, 2, d.N, dw, kernels.SumFunc[T](func(wk int, out []T, from, to int) {
		var beta T
		chunks(from, to, cs, func(lo, hi int) {
			cols := (hi - lo) * d.OHW
			dyT := kernels.Buffer[T](ws, wk, 0, d.P*cols)
			gatherGrad(d, dy, dyT, lo, hi)
			col := kernels.Buffer[T](ws, wk, 1, d.Rows()*cols)
			for i := lo; i < hi; i++ {
				im2col(d, x[i*d.C*d.HW:(i+1)*d.C*d.HW], col, cols, (i-lo)*d.OHW)
			}
			pg := d.P / d.G.Groups
			for g := range d.G.Groups {
				// out [pg, K] of group g (+)= dyT [pg, cols] x col^T [cols, K]
				kernels.Matmul(false, true, pg, d.K, cols, 1, dyT[g*pg*cols:], cols, col[g*d.K*cols:], cols, beta, out[g*pg*d.K:], d.K)
			}
			beta = 1
		})
	}))
}
