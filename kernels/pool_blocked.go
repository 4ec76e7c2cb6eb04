package kernels

import "math"

// The gradients of max pooling and of global average pooling on maps in the channel-blocked
// layout (see layout.go), where training programs keep them between oneDNN's convolutions.
// Each gives, blocked, what its NCHW counterpart gives, to the bit.

// BlockedPoolBackward is a Pool that also computes max pooling's input gradient on maps in
// the channel-blocked layout, where d.Planes counts the channels of all the images (N*C).
type BlockedPoolBackward[T Float] interface {
	// AcceptsBlockedPoolBackward reports whether the implementation runs the gradient of
	// max pooling d of maps in channel blocks of b.
	AcceptsBlockedPoolBackward(d PoolDims, b int) bool
	// PoolBackwardBlocked computes dx [Planes/b][H][W][b] from x, relu (nil: none) of that
	// layout and y, dy [Planes/b][OH][OW][b] as the implementation's PoolBackward does in
	// NCHW, NaN included (where a window's gradient goes when its maximum is NaN is each
	// implementation's choice). y must not be nil.
	PoolBackwardBlocked(d PoolDims, b int, x, y, dy, dx, relu []T)
}

// PoolBackwardBlocked is max pooling's input gradient (see PoolBackward) on maps in the
// channel-blocked layout of block b: x, dx and relu (nil: none) [N][C/b][H][W][b], y and dy
// [N][C/b][OH][OW][b]. d.Mode must be PoolMax and d.Planes = N*C a multiple of b. Each
// window's gradient goes to its first input equal to its maximum, in row-major order; given
// relu (the output of a ReLU before the pooling) dx is zero where relu is not positive. The
// workers split the blocks of channels, on the first enabled implementation that takes the
// pooling, else in Go (PoolBackwardBlockedGo, which also takes y nil: it then works out each
// window's maximum again).
func PoolBackwardBlocked[T Float](d PoolDims, b int, x, y, dy, dx, relu []T) {
	j := BorrowJob[poolGradJob[T]]()
	*j = poolGradJob[T]{d: d, b: b, x: x, y: y, dy: dy, dx: dx, relu: relu}
	for _, e := range setOf[T]().pool {
		if k, ok := e.k.(BlockedPoolBackward[T]); ok && y != nil && e.m.enabled() && k.AcceptsBlockedPoolBackward(d, b) {
			e.m.mark()
			j.k = k
			break
		}
	}
	runSplit(len(x), d.Planes/b, j)
	ReturnJob(j)
}

// poolGradJob is PoolBackwardBlocked over the blocks of channels [lo, hi), on k (nil: in Go).
type poolGradJob[T Float] struct {
	d                  PoolDims
	b                  int
	x, y, dy, dx, relu []T
	k                  BlockedPoolBackward[T]
}

func (j *poolGradJob[T]) Run(_, lo, hi int) {
	b, part := j.b, j.d
	part.Planes = (hi - lo) * b
	in, out := j.d.H*j.d.W*b, j.d.OH*j.d.OW*b
	var y, relu []T
	if j.y != nil {
		y = j.y[lo*out : hi*out]
	}
	if j.relu != nil {
		relu = j.relu[lo*in : hi*in]
	}
	x, dy, dx := j.x[lo*in:hi*in], j.dy[lo*out:hi*out], j.dx[lo*in:hi*in]
	if j.k != nil {
		j.k.PoolBackwardBlocked(part, b, x, y, dy, dx, relu)
	} else {
		PoolBackwardBlockedGo(part, b, x, y, dy, dx, relu)
	}
}

// PoolBackwardBlockedGo is PoolBackwardBlocked on the calling goroutine, in Go, as purego's
// PoolBackward has it, NaN and -0 included: a window none of whose inputs equals its maximum
// (which is then NaN) gives its gradient to its last input if it is a 2x2 window
// (PoolDims.Is2x2), which is written as it is (-0 kept) where the others add theirs to +0,
// else to its first largest number (its first input if it holds no number above -Inf). y
// nil: each window's maximum is worked out again, as MaxPoolBlockedGo has it.
func PoolBackwardBlockedGo[T Float](d PoolDims, b int, x, y, dy, dx, relu []T) {
	in, out := d.H*d.W*b, d.OH*d.OW*b
	last := d.Is2x2()
	for pl := range d.Planes / b {
		xp, dxp := x[pl*in:(pl+1)*in], dx[pl*in:(pl+1)*in]
		clear(dxp)
		for i := range d.OH {
			for j := range d.OW {
				r0, r1, c0, c1, _ := d.Window(i, j)
				o := pl*out + (i*d.OW+j)*b
				for l := range b {
					var m T
					if y != nil {
						m = y[o+l]
					} else {
						m = T(math.Inf(-1))
						for r := r0; r < r1; r++ {
							for c := c0; c < c1; c++ {
								m = max(m, xp[(r*d.W+c)*b+l])
							}
						}
					}
					at := gradAt(d.W, b, xp[l:], r0, r1, c0, c1, m, last)*b + l
					if last {
						dxp[at] = dy[o+l] // as purego's 2x2 kernel writes it, -0 kept
					} else {
						dxp[at] += dy[o+l]
					}
				}
			}
		}
		if relu != nil {
			for k, v := range relu[pl*in : (pl+1)*in] {
				if !(v > 0) {
					dxp[k] = 0
				}
			}
		}
	}
}

// gradAt returns the position (row times w plus column) of the window [r0, r1) x [c0, c1)
// that takes its gradient, xl[p*b] being the value at position p: the first equal to its
// maximum m, in row-major order; if none is, the last (last) or the first largest number.
func gradAt[T Float](w, b int, xl []T, r0, r1, c0, c1 int, m T, last bool) int {
	for r := r0; r < r1; r++ {
		for c := c0; c < c1; c++ {
			if xl[(r*w+c)*b] == m {
				return r*w + c
			}
		}
	}
	if last {
		return (r1-1)*w + c1 - 1
	}
	best, at := T(math.Inf(-1)), r0*w+c0
	for r := r0; r < r1; r++ {
		for c := c0; c < c1; c++ {
			if v := xl[(r*w+c)*b]; v > best {
				best, at = v, r*w+c
			}
		}
	}
	return at
}

// SpreadPlanesBlocked is global average pooling's gradient on blocked maps: each value of
// dy [n][c] (the same in both layouts) divided by hw and written over the hw positions of
// its channel's map in dx [n][c/b][hw][b], as purego.SpreadPlanes does in NCHW. The workers
// split the blocks of channels.
func SpreadPlanesBlocked[T Float](n, c, hw, b int, dy, dx []T) {
	j := BorrowJob[spreadJob[T]]()
	*j = spreadJob[T]{hw: hw, b: b, dy: dy, dx: dx}
	runSplit(n*c*hw, n*c/b, j)
	ReturnJob(j)
}

// spreadJob is SpreadPlanesBlocked over the blocks of channels [lo, hi).
type spreadJob[T Float] struct {
	hw, b  int
	dy, dx []T
}

func (j *spreadJob[T]) Run(_, lo, hi int) {
	b := j.b
	for blk := lo; blk < hi; blk++ {
		// The block's first position, divided as SpreadPlanes divides, then copied over the rest.
		first := j.dx[blk*j.hw*b : (blk*j.hw+1)*b]
		for l, g := range j.dy[blk*b : (blk+1)*b] {
			first[l] = g / T(j.hw)
		}
		for p := 1; p < j.hw; p++ {
			copy(j.dx[(blk*j.hw+p)*b:(blk*j.hw+p+1)*b], first)
		}
	}
}
