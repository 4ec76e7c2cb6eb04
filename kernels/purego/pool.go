package purego

import (
	"math"

	"github.com/nndl/cnn/kernels"
)

// pool implements kernels.Pool for every window: one pass over each window, a branch-free
// pass over pairs of rows for the chapter's 2x2 windows, two separable passes for other
// maximums.
type pool[T kernels.Float] struct{}

func (pool[T]) AcceptsPool(kernels.PoolDims) bool { return true }

func (pool[T]) PoolForward(d kernels.PoolDims, x, y []T) {
	if d.Mode == kernels.PoolMax && !d.Is2x2() && fitsWindows(d) {
		poolMaxPlanes(d, x, y)
		return
	}
	in, out := d.H*d.W, d.OH*d.OW
	for pl := 0; pl < d.Planes; pl++ {
		poolPlane(d, x[pl*in:(pl+1)*in], y[pl*out:(pl+1)*out])
	}
}

func (pool[T]) PoolBackward(d kernels.PoolDims, x, y, dy, dx, relu []T) {
	if d.Mode == kernels.PoolMax && !d.Is2x2() && fitsWindows(d) {
		poolMaxPlanesGrad(d, x, y, dy, dx, relu)
		return
	}
	in, out := d.H*d.W, d.OH*d.OW
	for pl := 0; pl < d.Planes; pl++ {
		xp, dxp, dyp := x[pl*in:(pl+1)*in], dx[pl*in:(pl+1)*in], dy[pl*out:(pl+1)*out]
		var rp []T
		if relu != nil {
			rp = relu[pl*in : (pl+1)*in]
		}
		if d.Mode == kernels.PoolMax && d.Is2x2() {
			poolMax2Grad(d.H, d.W, xp, dyp, dxp, rp)
			continue
		}
		poolPlaneGrad(d, xp, dyp, dxp)
		for i, v := range rp {
			if !(v > 0) {
				dxp[i] = 0
			}
		}
	}
}

// windows are the clipped windows of every output row and column (see PoolDims.Window),
// worked out once for all the planes.
type windows struct {
	r0, r1, c0, c1 [maxRowMax]int32
}

// fitsWindows reports whether pooling d's rows and columns fit a windows and a row buffer.
func fitsWindows(d kernels.PoolDims) bool {
	return d.OH <= maxRowMax && d.OW <= maxRowMax && d.W <= maxRowMax
}

func (b *windows) set(d kernels.PoolDims) {
	for i := 0; i < d.OH; i++ {
		r0, r1, _, _, _ := d.Window(i, 0)
		b.r0[i], b.r1[i] = int32(r0), int32(r1)
	}
	for j := 0; j < d.OW; j++ {
		_, _, c0, c1, _ := d.Window(0, j)
		b.c0[j], b.c1[j] = int32(c0), int32(c1)
	}
}

// poolMaxPlanes max-pools every plane, one output row at a time (see maxRow).
func poolMaxPlanes[T kernels.Float](d kernels.PoolDims, x, y []T) {
	var b windows
	b.set(d)
	var buf [maxRowMax]T
	in, out := d.H*d.W, d.OH*d.OW
	for pl := 0; pl < d.Planes; pl++ {
		xp, yp := x[pl*in:(pl+1)*in], y[pl*out:(pl+1)*out]
		for i := 0; i < d.OH; i++ {
			maxRow(d, &b, xp, buf[:d.W], yp[i*d.OW:(i+1)*d.OW], i)
		}
	}
}

// maxRow writes output row i of plane xp's maxima into yr in two separable passes: the
// maximum of the window's rows, column by column, into m (a row of the input), then of each
// window's columns. (The padding is at most half the window, and in ceil mode the last
// window starts inside the input or its left padding, so every window holds some input.)
func maxRow[T kernels.Float](d kernels.PoolDims, b *windows, xp, m, yr []T, i int) {
	w, r0, r1 := d.W, int(b.r0[i]), int(b.r1[i])
	copy(m, xp[r0*w:(r0+1)*w])
	for r := r0 + 1; r < r1; r++ {
		for c, v := range xp[r*w : (r+1)*w] {
			m[c] = max(m[c], v)
		}
	}
	for j := range yr {
		c0, c1 := int(b.c0[j]), int(b.c1[j])
		best := m[c0]
		for _, v := range m[c0+1 : c1] {
			best = max(best, v)
		}
		yr[j] = best
	}
}

// poolMaxPlanesGrad routes dy back to the first maximum of each window of every plane, in
// row-major order, as PyTorch does; given relu (the output of a ReLU before the pooling),
// only where that is positive. It takes each window's maximum from y, or without y works it
// out as the forward pass does, then finds the first input equal to it (a window holding
// NaN is searched the slow way: its maximum is the largest number in it).
func poolMaxPlanesGrad[T kernels.Float](d kernels.PoolDims, x, y, dy, dx, relu []T) {
	var b windows
	b.set(d)
	var buf, maxima [maxRowMax]T
	w, in, out := d.W, d.H*d.W, d.OH*d.OW
	for pl := 0; pl < d.Planes; pl++ {
		xp, dxp, dyp := x[pl*in:(pl+1)*in], dx[pl*in:(pl+1)*in], dy[pl*out:(pl+1)*out]
		clear(dxp)
		for i := 0; i < d.OH; i++ {
			yr := maxima[:d.OW]
			if y != nil {
				yr = y[pl*out+i*d.OW : pl*out+(i+1)*d.OW]
			} else {
				maxRow(d, &b, xp, buf[:w], yr, i)
			}
			r0, r1 := int(b.r0[i]), int(b.r1[i])
			for j, gy := range dyp[i*d.OW : (i+1)*d.OW] {
				c0, c1 := int(b.c0[j]), int(b.c1[j])
				at := firstEqual(xp, w, r0, r1, c0, c1, yr[j])
				if at < 0 {
					at = firstMax(xp, w, r0, r1, c0, c1)
				}
				if relu != nil && !(relu[pl*in+at] > 0) {
					continue // the ReLU's gradient zeroes it
				}
				dxp[at] += gy
			}
		}
	}
}

// firstEqual returns the offset of the first element of window [r0,r1) x [c0,c1) of plane x
// (rows of w) equal to v, in row-major order, or -1.
func firstEqual[T kernels.Float](x []T, w, r0, r1, c0, c1 int, v T) int {
	for r := r0; r < r1; r++ {
		for c, u := range x[r*w+c0 : r*w+c1] {
			if u == v {
				return r*w + c0 + c
			}
		}
	}
	return -1
}

// firstMax returns the offset of the window's first largest number (its first element if
// it holds none but NaN and -Inf).
func firstMax[T kernels.Float](x []T, w, r0, r1, c0, c1 int) int {
	best, at := T(math.Inf(-1)), r0*w+c0
	for r := r0; r < r1; r++ {
		for c, v := range x[r*w+c0 : r*w+c1] {
			if v > best {
				best, at = v, r*w+c0+c
			}
		}
	}
	return at
}

// poolPlane pools one plane x [H,W] into y [OH,OW].
func poolPlane[T kernels.Float](d kernels.PoolDims, x, y []T) {
	mode, w, oh, ow := d.Mode, d.W, d.OH, d.OW
	if d.Is2x2() {
		// The chapter's 2x2 windows: a branch-free pass over pairs of rows.
		for i := 0; i < oh; i++ {
			r0, r1, yr := x[2*i*w:], x[(2*i+1)*w:], y[i*ow:(i+1)*ow]
			for j := range yr {
				a, b, c, d := r0[2*j], r0[2*j+1], r1[2*j], r1[2*j+1]
				if mode == kernels.PoolMax {
					yr[j] = max(max(a, b), max(c, d))
				} else {
					yr[j] = (a + b + c + d) / 4
				}
			}
		}
		return
	}
	for i := 0; i < oh; i++ {
		for j := 0; j < ow; j++ {
			r0, r1, c0, c1, area := d.Window(i, j)
			if mode == kernels.PoolMax {
				best := T(math.Inf(-1))
				for r := r0; r < r1; r++ {
					for _, v := range x[r*w+c0 : r*w+c1] {
						best = max(best, v)
					}
				}
				y[i*ow+j] = best
				continue
			}
			var sum T
			for r := r0; r < r1; r++ {
				for _, v := range x[r*w+c0 : r*w+c1] {
					sum += v
				}
			}
			y[i*ow+j] = sum / T(area)
		}
	}
}

// maxRowMax is the widest row (and the most output rows and columns) poolMaxPlanes takes:
// its buffers live on the stack.
const maxRowMax = 512

// max2At returns the first maximum of a 2x2 window in row-major order (the one that takes
// the gradient, as in PyTorch). It is written to compile to conditional moves: on a ReLU's
// output the comparisons go either way at random, and branches would mispredict.
func max2At[T kernels.Float](x []T, a, b, c, d int) int {
	va, vb, vc, vd := x[a], x[b], x[c], x[d]
	m := max(max(va, vb), max(vc, vd))
	at := d
	if vc == m {
		at = c
	}
	if vb == m {
		at = b
	}
	if va == m {
		at = a
	}
	return at
}

// poolMax2Grad is the gradient of 2x2 stride-2 max pooling over one plane, in one pass: each
// input takes dy where it is its window's maximum (and, given relu, the output of a ReLU
// before the pooling, where that is positive), 0 elsewhere.
func poolMax2Grad[T kernels.Float](h, w int, x, dy, dx, relu []T) {
	oh, ow := h/2, w/2
	if h%2 == 1 {
		clear(dx[(h-1)*w:])
	}
	for i := 0; i < oh; i++ {
		r0, r1 := 2*i*w, (2*i+1)*w
		if w%2 == 1 {
			dx[r0+w-1], dx[r1+w-1] = 0, 0
		}
		for j, gy := range dy[i*ow : (i+1)*ow] {
			a, b, c, d := r0+2*j, r0+2*j+1, r1+2*j, r1+2*j+1
			at := max2At(x, a, b, c, d)
			dx[a], dx[b], dx[c], dx[d] = 0, 0, 0, 0
			if relu != nil && !(relu[at] > 0) {
				gy = 0
			}
			dx[at] = gy
		}
	}
}

// poolPlaneGrad routes dy [OH,OW] back to dx [H,W]: to the first maximum of each window, or
// spread evenly over it for the average.
func poolPlaneGrad[T kernels.Float](d kernels.PoolDims, x, dy, dx []T) {
	mode, w, oh, ow := d.Mode, d.W, d.OH, d.OW
	clear(dx)
	if d.Is2x2() { // averages: PoolBackward gives 2x2 maximums to poolMax2Grad
		for i := 0; i < oh; i++ {
			r0, r1 := 2*i*w, (2*i+1)*w
			for j, gy := range dy[i*ow : (i+1)*ow] {
				gy /= 4
				dx[r0+2*j], dx[r0+2*j+1], dx[r1+2*j], dx[r1+2*j+1] = gy, gy, gy, gy
			}
		}
		return
	}
	for i := 0; i < oh; i++ {
		for j := 0; j < ow; j++ {
			r0, r1, c0, c1, area := d.Window(i, j)
			gy := dy[i*ow+j]
			if mode == kernels.PoolMax {
				best, at := T(math.Inf(-1)), r0*w+c0
				for r := r0; r < r1; r++ {
					for c := c0; c < c1; c++ {
						if v := x[r*w+c]; v > best {
							best, at = v, r*w+c
						}
					}
				}
				dx[at] += gy
				continue
			}
			gy /= T(area)
			for r := r0; r < r1; r++ {
				d := dx[r*w+c0 : r*w+c1]
				for q := range d {
					d[q] += gy
				}
			}
		}
	}
}

// MeanPlanes averages each plane of hw values of x into one value of y: global average
// pooling.
func MeanPlanes[T kernels.Float](hw int, x, y []T) {
	for i := range y {
		var sum T
		for _, v := range x[i*hw : (i+1)*hw] {
			sum += v
		}
		y[i] = sum / T(hw)
	}
}

// SpreadPlanes spreads each value of dy evenly over a plane of hw values of dx: the gradient
// of MeanPlanes.
func SpreadPlanes[T kernels.Float](hw int, dy, dx []T) {
	for i, g := range dy {
		g /= T(hw)
		d := dx[i*hw : (i+1)*hw]
		for j := range d {
			d[j] = g
		}
	}
}
