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

// checkWindow reports whether the window fits the input; otherwise an error naming both.
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
// The fast convolution: im2col followed by one matrix product per image.

// convFast computes y = conv(x, w) (+ b) through im2col and GEMM.
type convFast struct {
	g    convGeom
	bias bool
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
	xs, ws := in[0].Shape(), in[1].Shape()
	switch out.Dtype() {
	case tensor.Float32:
		var b []float32
		if k.bias {
			b = data[float32](in[2])
		}
		convForward(k.g, xs, ws, data[float32](in[0]), data[float32](in[1]), b, data[float32](out))
	case tensor.Float64:
		var b []float64
		if k.bias {
			b = data[float64](in[2])
		}
		convForward(k.g, xs, ws, data[float64](in[0]), data[float64](in[1]), b, data[float64](out))
	default:
		return fmt.Errorf("unsupported dtype %v", out.Dtype())
	}
	return nil
}

func (k convFast) grads(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	dx, err := apply(convGradX{k.g, in[0].Shape().Clone()}, in[1], grad)
	if err != nil {
		return nil, err
	}
	dw, err := apply(convGradW{k.g, in[1].Shape().Clone()}, in[0], grad)
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

// im2col unrolls one image x [C,H,W] into col [C*K*K, OH*OW].
func im2col[T Float](g convGeom, c, h, w, oh, ow int, x, col []T) {
	row := 0
	for ci := 0; ci < c; ci++ {
		xc := x[ci*h*w : (ci+1)*h*w]
		for u := 0; u < g.K; u++ {
			for v := 0; v < g.K; v++ {
				dst := col[row*oh*ow : (row+1)*oh*ow]
				row++
				for i := 0; i < oh; i++ {
					r := i*g.S + u - g.P
					d := dst[i*ow : (i+1)*ow]
					if r < 0 || r >= h {
						clear(d)
						continue
					}
					src := xc[r*w : (r+1)*w]
					for j := range d {
						cc := j*g.S + v - g.P
						if cc < 0 || cc >= w {
							d[j] = 0
						} else {
							d[j] = src[cc]
						}
					}
				}
			}
		}
	}
}

// col2im adds col [C*K*K, OH*OW] back into one image dx [C,H,W] (which it does not clear).
func col2im[T Float](g convGeom, c, h, w, oh, ow int, col, dx []T) {
	row := 0
	for ci := 0; ci < c; ci++ {
		xc := dx[ci*h*w : (ci+1)*h*w]
		for u := 0; u < g.K; u++ {
			for v := 0; v < g.K; v++ {
				src := col[row*oh*ow : (row+1)*oh*ow]
				row++
				for i := 0; i < oh; i++ {
					r := i*g.S + u - g.P
					if r < 0 || r >= h {
						continue
					}
					d := xc[r*w : (r+1)*w]
					s := src[i*ow : (i+1)*ow]
					for j, val := range s {
						cc := j*g.S + v - g.P
						if cc >= 0 && cc < w {
							d[cc] += val
						}
					}
				}
			}
		}
	}
}

func convForward[T Float](g convGeom, xs, ws tensor.Shape, x, w, b, y []T) {
	n, c, h, wd := xs[0], xs[1], xs[2], xs[3]
	p := ws[0]
	oh, ow := g.out(h), g.out(wd)
	kk := c * g.K * g.K
	col := make([]T, kk*oh*ow)
	for i := 0; i < n; i++ {
		yi := y[i*p*oh*ow : (i+1)*p*oh*ow]
		im2col(g, c, h, wd, oh, ow, x[i*c*h*wd:(i+1)*c*h*wd], col)
		var beta T
		if b != nil {
			for q := 0; q < p; q++ {
				row := yi[q*oh*ow : (q+1)*oh*ow]
				for j := range row {
					row[j] = b[q]
				}
			}
			beta = 1
		}
		gemm(false, false, p, oh*ow, kk, 1, w, kk, col, oh*ow, beta, yi, oh*ow)
	}
}

// convGradX computes dx from w and dy.
type convGradX struct {
	g  convGeom
	xs tensor.Shape
}

func (k convGradX) String() string     { return fmt.Sprintf("Conv2DGradX(%v %v)", k.g, k.xs) }
func (k convGradX) dims() ([]int, int) { return []int{4, 4}, 4 }
func (k convGradX) shape(in ...tensor.Shape) (tensor.Shape, error) {
	return k.xs.Clone(), nil
}
func (k convGradX) do(out gorgonia.Value, in ...gorgonia.Value) error {
	ws := in[0].Shape()
	switch out.Dtype() {
	case tensor.Float32:
		convBackwardX(k.g, k.xs, ws, data[float32](in[0]), data[float32](in[1]), data[float32](out))
	case tensor.Float64:
		convBackwardX(k.g, k.xs, ws, data[float64](in[0]), data[float64](in[1]), data[float64](out))
	default:
		return fmt.Errorf("unsupported dtype %v", out.Dtype())
	}
	return nil
}

func convBackwardX[T Float](g convGeom, xs, ws tensor.Shape, w, dy, dx []T) {
	n, c, h, wd := xs[0], xs[1], xs[2], xs[3]
	p := ws[0]
	oh, ow := g.out(h), g.out(wd)
	kk := c * g.K * g.K
	col := make([]T, kk*oh*ow)
	clear(dx)
	for i := 0; i < n; i++ {
		// col = w^T [kk,p] x dy_i [p, oh*ow]
		gemm(true, false, kk, oh*ow, p, 1, w, kk, dy[i*p*oh*ow:(i+1)*p*oh*ow], oh*ow, 0, col, oh*ow)
		col2im(g, c, h, wd, oh, ow, col, dx[i*c*h*wd:(i+1)*c*h*wd])
	}
}

// convGradW computes dw from x and dy.
type convGradW struct {
	g  convGeom
	ws tensor.Shape
}

func (k convGradW) String() string     { return fmt.Sprintf("Conv2DGradW(%v %v)", k.g, k.ws) }
func (k convGradW) dims() ([]int, int) { return []int{4, 4}, 4 }
func (k convGradW) shape(in ...tensor.Shape) (tensor.Shape, error) {
	return k.ws.Clone(), nil
}
func (k convGradW) do(out gorgonia.Value, in ...gorgonia.Value) error {
	xs := in[0].Shape()
	switch out.Dtype() {
	case tensor.Float32:
		convBackwardW(k.g, xs, k.ws, data[float32](in[0]), data[float32](in[1]), data[float32](out))
	case tensor.Float64:
		convBackwardW(k.g, xs, k.ws, data[float64](in[0]), data[float64](in[1]), data[float64](out))
	default:
		return fmt.Errorf("unsupported dtype %v", out.Dtype())
	}
	return nil
}

func convBackwardW[T Float](g convGeom, xs, ws tensor.Shape, x, dy, dw []T) {
	n, c, h, wd := xs[0], xs[1], xs[2], xs[3]
	p := ws[0]
	oh, ow := g.out(h), g.out(wd)
	kk := c * g.K * g.K
	col := make([]T, kk*oh*ow)
	clear(dw)
	for i := 0; i < n; i++ {
		im2col(g, c, h, wd, oh, ow, x[i*c*h*wd:(i+1)*c*h*wd], col)
		// dw [p,kk] += dy_i [p, oh*ow] x col^T [oh*ow, kk]
		gemm(false, true, p, kk, oh*ow, 1, dy[i*p*oh*ow:(i+1)*p*oh*ow], oh*ow, col, oh*ow, 1, dw, kk)
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

func sumChannels[T Float](s tensor.Shape, dy, db []T) {
	n, c := s[0], s[1]
	inner := 1
	for _, d := range s[2:] {
		inner *= d
	}
	clear(db)
	for i := 0; i < n; i++ {
		for q := 0; q < c; q++ {
			var acc T
			for _, v := range dy[(i*c+q)*inner : (i*c+q+1)*inner] {
				acc += v
			}
			db[q] += acc
		}
	}
}
