// Package reference holds the chapter's hand-written kernels (sections 5.1-5.2): convolution
// and pooling as the nested loops of formula (5.5), their backward passes written out the
// same way, and plain loops for the other operations of the contract. They are the
// yardstick: every other implementation is tested against them. They register under the
// name "reference", below every other, so they run only when pinned (CNN_KERNELS=reference).
package reference

import "github.com/nndl/cnn/kernels"

func init() {
	kernels.Register(kernels.Impl{Name: "reference", Doc: "the chapter's nested loops, single-threaded", Priority: 0},
		impl[float32]{}, impl[float64]{})
}

// impl offers every operation of the contract on the loops below.
type impl[T kernels.Float] struct{}

// Conv computes y[n,q,i,j] = b[q] + sum_c sum_u sum_v w[q,c,u,v] * x[n,g*C'+c,i*SH+u*DH-PH,
// j*SW+v*DW-PW], where output channel q is in group g and each group has C' = C/Groups input
// channels, with x read as zero outside the image. b may be nil.
func Conv[T kernels.Float](d kernels.ConvDims, x, w, b, y []T) {
	for ni := 0; ni < d.N; ni++ {
		for q := 0; q < d.P; q++ {
			for i := 0; i < d.OH; i++ {
				for j := 0; j < d.OW; j++ {
					var acc T
					if b != nil {
						acc = b[q]
					}
					taps(d, ni, q, i, j, func(wi, xi int) { acc += w[wi] * x[xi] })
					y[((ni*d.P+q)*d.OH+i)*d.OW+j] = acc
				}
			}
		}
	}
}

// taps calls f with the offsets in w and x of every product that output (n, q, i, j) of a
// convolution sums, skipping the padding, in the order (c, u, v).
func taps(d kernels.ConvDims, n, q, i, j int, f func(wi, xi int)) {
	g := d.G
	cg := d.C / g.Groups
	c0 := q / (d.P / g.Groups) * cg
	for c := 0; c < cg; c++ {
		for u := 0; u < g.KH; u++ {
			r := i*g.SH + u*g.DH - g.PH
			if r < 0 || r >= d.H {
				continue
			}
			for v := 0; v < g.KW; v++ {
				cc := j*g.SW + v*g.DW - g.PW
				if cc < 0 || cc >= d.W {
					continue
				}
				f(((q*cg+c)*g.KH+u)*g.KW+v, ((n*d.C+c0+c)*d.H+r)*d.W+cc)
			}
		}
	}
}

// ConvGrad computes the gradient of Conv with respect to its input number wrt (0 x, 1 w,
// 2 b) into out from x, w and dy, by the same loops run backwards.
func ConvGrad[T kernels.Float](d kernels.ConvDims, wrt int, x, w, dy, out []T) {
	clear(out)
	for ni := 0; ni < d.N; ni++ {
		for q := 0; q < d.P; q++ {
			for i := 0; i < d.OH; i++ {
				for j := 0; j < d.OW; j++ {
					gy := dy[((ni*d.P+q)*d.OH+i)*d.OW+j]
					switch wrt {
					case 2:
						out[q] += gy
					case 0:
						taps(d, ni, q, i, j, func(wi, xi int) { out[xi] += w[wi] * gy })
					default:
						taps(d, ni, q, i, j, func(wi, xi int) { out[wi] += x[xi] * gy })
					}
				}
			}
		}
	}
}

// Pool computes y from x (when y != nil), or dx from x and dy (when dx != nil), over d's
// windows (see kernels.PoolDims.Window). The maximum ignores the padding and is Go's max:
// NaN wins, and +0 over -0. Its gradient goes to the window's first pixel, in row-major
// order, equal to the maximum (to the first NaN if it is NaN). The average divides by the
// window's area as PoolDims.Window gives it.
func Pool[T kernels.Float](d kernels.PoolDims, x, dy, y, dx []T) {
	if dx != nil {
		clear(dx)
	}
	for pl := 0; pl < d.Planes; pl++ {
		plane := x[pl*d.H*d.W : (pl+1)*d.H*d.W]
		for i := 0; i < d.OH; i++ {
			for j := 0; j < d.OW; j++ {
				// The window's pixels inside the image: rows [r0,r1), columns [c0,c1).
				r0, r1, c0, c1, n := d.Window(i, j)
				o := (pl*d.OH+i)*d.OW + j
				if d.Mode == kernels.PoolMax {
					best := plane[r0*d.W+c0]
					for r := r0; r < r1; r++ {
						for c := c0; c < c1; c++ {
							best = max(best, plane[r*d.W+c])
						}
					}
					if y != nil {
						y[o] = best
					} else {
						dx[pl*d.H*d.W+first(plane, d.W, r0, r1, c0, c1, best)] += dy[o]
					}
					continue
				}
				area := T(n)
				if y != nil {
					var sum T
					for r := r0; r < r1; r++ {
						for c := c0; c < c1; c++ {
							sum += plane[r*d.W+c]
						}
					}
					y[o] = sum / area
					continue
				}
				gy := dy[o] / area
				for r := r0; r < r1; r++ {
					for c := c0; c < c1; c++ {
						dx[pl*d.H*d.W+r*d.W+c] += gy
					}
				}
			}
		}
	}
}

// first returns the offset of the first pixel of rows [r0,r1) and columns [c0,c1) of a plane
// of width w that equals best (or is NaN, when best is).
func first[T kernels.Float](plane []T, w, r0, r1, c0, c1 int, best T) int {
	for r := r0; r < r1; r++ {
		for c := c0; c < c1; c++ {
			if v := plane[r*w+c]; v == best || v != v && best != best {
				return r*w + c
			}
		}
	}
	return r0*w + c0
}

func (impl[T]) Gemm(transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	at := func(i, p int) T {
		if transA {
			return a[p*lda+i]
		}
		return a[i*lda+p]
	}
	bt := func(p, j int) T {
		if transB {
			return b[j*ldb+p]
		}
		return b[p*ldb+j]
	}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var acc T
			for p := 0; p < k; p++ {
				acc += at(i, p) * bt(p, j)
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * acc
			} else {
				c[i*ldc+j] = alpha*acc + beta*c[i*ldc+j]
			}
		}
	}
}

func (impl[T]) AcceptsConv(kernels.ConvDims) bool { return true }

func (impl[T]) ConvForward(_ *kernels.Scratch, d kernels.ConvDims, x, w, b, y []T, ep *kernels.Epilogue) error {
	Conv(d, x, w, b, y)
	if ep == nil {
		return nil
	}
	for o := 0; o < len(y); o++ {
		q := o / d.OHW % d.P
		v := y[o]
		if ep.Mean != nil {
			v = T((float64(v)-ep.Mean[q])*ep.A[q] + ep.Shift[q])
		}
		if ep.ReLU {
			v = relu(v)
		}
		y[o] = v
	}
	return nil
}

func (impl[T]) ConvBackwardData(_ *kernels.Scratch, d kernels.ConvDims, w, dy, dx []T) error {
	ConvGrad(d, 0, nil, w, dy, dx)
	return nil
}

func (impl[T]) ConvBackwardWeights(_ *kernels.Scratch, d kernels.ConvDims, x, dy, dw []T) error {
	ConvGrad(d, 1, x, nil, dy, dw)
	return nil
}

func (impl[T]) AcceptsPool(kernels.PoolDims) bool { return true }

func (impl[T]) PoolForward(d kernels.PoolDims, x, y []T) { Pool(d, x, nil, y, nil) }

// PoolBackward works out the maxima again: the yardstick does not trust y.
func (impl[T]) PoolBackward(d kernels.PoolDims, x, _, dy, dx, relu []T) {
	Pool(d, x, dy, nil, dx)
	for i, v := range relu {
		if !(v > 0) {
			dx[i] = 0
		}
	}
}

// relu is max(v, 0) as Go's max gives it: NaN kept, +0 for -0.
func relu[T kernels.Float](v T) T { return max(v, 0) }

func (impl[T]) ReLU(x, y []T) {
	for i, v := range x {
		y[i] = relu(v)
	}
}

func (impl[T]) Add(a, b, y []T, relu bool) {
	for i, v := range a {
		y[i] = v + b[i]
		if relu {
			y[i] = max(y[i], 0)
		}
	}
}

func (impl[T]) ReLUBackward(y, dy, dx []T) {
	for i, v := range y {
		if v > 0 {
			dx[i] = dy[i]
		} else {
			dx[i] = 0
		}
	}
}

func (impl[T]) AcceptsChannelSum(n, c, inner int) bool { return true }

func (impl[T]) ChannelSum(n, c, inner, c0, c1 int, dy, db []T) {
	for q := c0; q < c1; q++ {
		var total float64
		for i := 0; i < n; i++ {
			for _, v := range dy[(i*c+q)*inner : (i*c+q+1)*inner] {
				total += float64(v)
			}
		}
		db[q] = T(total)
	}
}

func (impl[T]) Axpy(a T, x, y []T) {
	for i, v := range x {
		y[i] += T(a * v)
	}
}
