package graph

import (
	"fmt"
	"math"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// poolShape is the output shape of a K x K pooling window with stride S and padding P.
func poolShape(g convGeom, x tensor.Shape) (tensor.Shape, error) {
	if err := g.check(x); err != nil {
		return nil, err
	}
	if g.P > g.K/2 {
		return nil, fmt.Errorf("padding %d is more than half the %dx%d window", g.P, g.K, g.K)
	}
	return tensor.Shape{x[0], x[1], g.out(x[2]), g.out(x[3])}, nil
}

// poolMode selects what a pooling window computes.
type poolMode int

const (
	poolMax          poolMode = iota // the maximum; padding never wins
	poolAvg                          // the mean over the whole window, padded zeros counted (PyTorch's default)
	poolAvgExclusive                 // the mean over the window's pixels inside the image (Paddle's default)
)

func (m poolMode) String() string {
	return [...]string{"max", "avg", "avg-exclusive"}[m]
}

// poolFast is the fast pooling kernel, one pass over each window.
type poolFast struct {
	g    convGeom
	mode poolMode
}

func (k poolFast) String() string                                 { return fmt.Sprintf("Pool2D(%v %v)", k.g, k.mode) }
func (k poolFast) dims() ([]int, int)                             { return []int{4}, 4 }
func (k poolFast) diffWRT() []bool                                { return []bool{true} }
func (k poolFast) shape(in ...tensor.Shape) (tensor.Shape, error) { return poolShape(k.g, in[0]) }
func (k poolFast) do(out gorgonia.Value, in ...gorgonia.Value) error {
	s := in[0].Shape()
	switch out.Dtype() {
	case tensor.Float32:
		pool(k.g, k.mode, s, data[float32](in[0]), nil, data[float32](out), nil, nil)
	case tensor.Float64:
		pool(k.g, k.mode, s, data[float64](in[0]), nil, data[float64](out), nil, nil)
	default:
		return fmt.Errorf("unsupported dtype %v", out.Dtype())
	}
	return nil
}
func (k poolFast) grads(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	dx, err := apply(poolFastGrad(k), in[0], grad)
	return gorgonia.Nodes{dx}, err
}

// poolFastGrad computes dx from x and dy.
type poolFastGrad poolFast

func (k poolFastGrad) String() string     { return fmt.Sprintf("Pool2DGrad(%v %v)", k.g, k.mode) }
func (k poolFastGrad) dims() ([]int, int) { return []int{4, 4}, 4 }
func (k poolFastGrad) shape(in ...tensor.Shape) (tensor.Shape, error) {
	return in[0].Clone(), nil
}
func (k poolFastGrad) do(out gorgonia.Value, in ...gorgonia.Value) error {
	s := in[0].Shape()
	switch out.Dtype() {
	case tensor.Float32:
		pool(k.g, k.mode, s, data[float32](in[0]), data[float32](in[1]), nil, data[float32](out), nil)
	case tensor.Float64:
		pool(k.g, k.mode, s, data[float64](in[0]), data[float64](in[1]), nil, data[float64](out), nil)
	default:
		return fmt.Errorf("unsupported dtype %v", out.Dtype())
	}
	return nil
}

// poolGradReLU is a pooling's gradient followed by the gradient of the ReLU before the
// pooling: dx is kept where the ReLU's output (input 2) is positive and zeroed elsewhere.
type poolGradReLU struct{ poolFastGrad }

func (k poolGradReLU) String() string     { return k.poolFastGrad.String() + "+ReLUGrad" }
func (k poolGradReLU) dims() ([]int, int) { return []int{4, 4, 4}, 4 }
func (k poolGradReLU) do(out gorgonia.Value, in ...gorgonia.Value) error {
	s := in[0].Shape()
	switch out.Dtype() {
	case tensor.Float32:
		pool(k.g, k.mode, s, data[float32](in[0]), data[float32](in[1]), nil, data[float32](out), data[float32](in[2]))
	case tensor.Float64:
		pool(k.g, k.mode, s, data[float64](in[0]), data[float64](in[1]), nil, data[float64](out), data[float64](in[2]))
	default:
		return fmt.Errorf("unsupported dtype %v", out.Dtype())
	}
	return nil
}

// pool computes y from x (y != nil) or dx from x and dy (dx != nil), splitting the planes
// between the workers. With relu set, dx is then zeroed where relu is not positive.
func pool[T Float](g convGeom, mode poolMode, s tensor.Shape, x, dy, y, dx, relu []T) {
	if pool2Native(g, mode, s, x, dy, y, dx, relu) {
		return
	}
	h, w := s[2], s[3]
	oh, ow := g.out(h), g.out(w)
	parallel(s[0]*s[1], func(_, lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			xp := x[pl*h*w : (pl+1)*h*w]
			if y != nil {
				poolPlane(g, mode, h, w, xp, y[pl*oh*ow:(pl+1)*oh*ow])
			} else {
				dxp, dyp := dx[pl*h*w:(pl+1)*h*w], dy[pl*oh*ow:(pl+1)*oh*ow]
				var rp []T
				if relu != nil {
					rp = relu[pl*h*w : (pl+1)*h*w]
				}
				if mode == poolMax && g.K == 2 && g.S == 2 && g.P == 0 {
					poolMax2Grad(h, w, xp, dyp, dxp, rp)
					continue
				}
				poolPlaneGrad(g, mode, h, w, xp, dyp, dxp)
				for i, v := range rp {
					if !(v > 0) {
						dxp[i] = 0
					}
				}
			}
		}
	})
}

// window returns the rows [r0, r1) and columns [c0, c1) of output (i, j)'s window, clipped to
// the image.
func window(g convGeom, h, w, i, j int) (r0, r1, c0, c1 int) {
	return max(i*g.S-g.P, 0), min(i*g.S-g.P+g.K, h), max(j*g.S-g.P, 0), min(j*g.S-g.P+g.K, w)
}

// poolPlane pools one plane x [h,w] into y [oh,ow].
func poolPlane[T Float](g convGeom, mode poolMode, h, w int, x, y []T) {
	oh, ow := g.out(h), g.out(w)
	if g.K == 2 && g.S == 2 && g.P == 0 {
		// The chapter's 2x2 windows: a branch-free pass over pairs of rows.
		for i := 0; i < oh; i++ {
			r0, r1, yr := x[2*i*w:], x[(2*i+1)*w:], y[i*ow:(i+1)*ow]
			for j := range yr {
				a, b, c, d := r0[2*j], r0[2*j+1], r1[2*j], r1[2*j+1]
				if mode == poolMax {
					yr[j] = max(max(a, b), max(c, d))
				} else {
					yr[j] = (a + b + c + d) / 4
				}
			}
		}
		return
	}
	if mode == poolMax && w <= maxRowMax {
		poolMaxPlane(g, h, w, x, y)
		return
	}
	for i := 0; i < oh; i++ {
		for j := 0; j < ow; j++ {
			r0, r1, c0, c1 := window(g, h, w, i, j)
			if mode == poolMax {
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
			y[i*ow+j] = sum / poolArea[T](g, mode, r0, r1, c0, c1)
		}
	}
}

// maxRowMax is the widest row poolMaxPlane takes (its row buffer lives on the stack).
const maxRowMax = 512

// poolMaxPlane max-pools one plane in two separable passes per output row: the maximum of the
// window's rows, column by column, then of that row's window columns. (The padding is at
// most half the window, so every window holds some input.)
func poolMaxPlane[T Float](g convGeom, h, w int, x, y []T) {
	oh, ow := g.out(h), g.out(w)
	var buf [maxRowMax]T
	m := buf[:w]
	for i := 0; i < oh; i++ {
		r0, r1 := max(i*g.S-g.P, 0), min(i*g.S-g.P+g.K, h)
		yr := y[i*ow : (i+1)*ow]
		copy(m, x[r0*w:(r0+1)*w])
		for r := r0 + 1; r < r1; r++ {
			for c, v := range x[r*w : (r+1)*w] {
				m[c] = max(m[c], v)
			}
		}
		for j := range yr {
			c0, c1 := max(j*g.S-g.P, 0), min(j*g.S-g.P+g.K, w)
			best := m[c0]
			for _, v := range m[c0+1 : c1] {
				best = max(best, v)
			}
			yr[j] = best
		}
	}
}

// max2At returns the first maximum of a 2x2 window in row-major order (the one that takes
// the gradient, as in PyTorch). It is written to compile to conditional moves: on a ReLU's
// output the comparisons go either way at random, and branches would mispredict.
func max2At[T Float](x []T, a, b, c, d int) int {
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
func poolMax2Grad[T Float](h, w int, x, dy, dx, relu []T) {
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

func poolArea[T Float](g convGeom, mode poolMode, r0, r1, c0, c1 int) T {
	if mode == poolAvgExclusive {
		return T((r1 - r0) * (c1 - c0))
	}
	return T(g.K * g.K)
}

// poolPlaneGrad routes dy [oh,ow] back to dx [h,w]: to the first maximum of each window, or
// spread evenly over it for the average.
func poolPlaneGrad[T Float](g convGeom, mode poolMode, h, w int, x, dy, dx []T) {
	oh, ow := g.out(h), g.out(w)
	clear(dx)
	if g.K == 2 && g.S == 2 && g.P == 0 {
		for i := 0; i < oh; i++ {
			r0, r1 := 2*i*w, (2*i+1)*w
			for j, gy := range dy[i*ow : (i+1)*ow] {
				a, b, c, d := r0+2*j, r0+2*j+1, r1+2*j, r1+2*j+1
				if mode != poolMax {
					gy /= 4
					dx[a], dx[b], dx[c], dx[d] = gy, gy, gy, gy
					continue
				}
				dx[max2At(x, a, b, c, d)] = gy
			}
		}
		return
	}
	for i := 0; i < oh; i++ {
		for j := 0; j < ow; j++ {
			r0, r1, c0, c1 := window(g, h, w, i, j)
			gy := dy[i*ow+j]
			if mode == poolMax {
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
			gy /= poolArea[T](g, mode, r0, r1, c0, c1)
			for r := r0; r < r1; r++ {
				d := dx[r*w+c0 : r*w+c1]
				for q := range d {
					d[q] += gy
				}
			}
		}
	}
}

// globalAvg averages each channel's whole map: [N,C,H,W] -> [N,C,1,1].
type globalAvg struct{}

func (globalAvg) String() string     { return "GlobalAvgPool2D" }
func (globalAvg) dims() ([]int, int) { return []int{4}, 4 }
func (globalAvg) diffWRT() []bool    { return []bool{true} }
func (globalAvg) shape(in ...tensor.Shape) (tensor.Shape, error) {
	x := in[0]
	if len(x) != 4 {
		return nil, fmt.Errorf("input shape %v is not [N,C,H,W]", x)
	}
	return tensor.Shape{x[0], x[1], 1, 1}, nil
}
func (globalAvg) do(out gorgonia.Value, in ...gorgonia.Value) error {
	s := in[0].Shape()
	hw := s[2] * s[3]
	switch out.Dtype() {
	case tensor.Float32:
		meanPlanes(hw, data[float32](in[0]), data[float32](out))
	case tensor.Float64:
		meanPlanes(hw, data[float64](in[0]), data[float64](out))
	default:
		return fmt.Errorf("unsupported dtype %v", out.Dtype())
	}
	return nil
}
func (globalAvg) grads(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	dx, err := apply(globalAvgGrad{in[0].Shape().Clone()}, grad)
	return gorgonia.Nodes{dx}, err
}

func meanPlanes[T Float](hw int, x, y []T) {
	for i := range y {
		var sum T
		for _, v := range x[i*hw : (i+1)*hw] {
			sum += v
		}
		y[i] = sum / T(hw)
	}
}

// globalAvgGrad spreads dy [N,C,1,1] evenly over each map.
type globalAvgGrad struct{ xs tensor.Shape }

func (k globalAvgGrad) String() string     { return fmt.Sprintf("GlobalAvgPool2DGrad(%v)", k.xs) }
func (k globalAvgGrad) dims() ([]int, int) { return []int{4}, 4 }
func (k globalAvgGrad) shape(in ...tensor.Shape) (tensor.Shape, error) {
	return k.xs.Clone(), nil
}
func (k globalAvgGrad) do(out gorgonia.Value, in ...gorgonia.Value) error {
	hw := k.xs[2] * k.xs[3]
	switch out.Dtype() {
	case tensor.Float32:
		spreadPlanes(hw, data[float32](in[0]), data[float32](out))
	case tensor.Float64:
		spreadPlanes(hw, data[float64](in[0]), data[float64](out))
	default:
		return fmt.Errorf("unsupported dtype %v", out.Dtype())
	}
	return nil
}

func spreadPlanes[T Float](hw int, dy, dx []T) {
	for i, g := range dy {
		g /= T(hw)
		d := dx[i*hw : (i+1)*hw]
		for j := range d {
			d[j] = g
		}
	}
}
