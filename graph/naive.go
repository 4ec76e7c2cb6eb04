package graph

import (
	"fmt"
	"math"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The chapter's hand-written operators (section 5.1-5.2): convolution and pooling written as
// the nested loops of formula (5.5), with backward passes written out the same way. They
// give the same numbers as the fast operators, only slower.

// convNaive is the direct nested-loop convolution.
type convNaive struct {
	g    convGeom
	bias bool
}

func (k convNaive) String() string { return fmt.Sprintf("NaiveConv2D(%v bias=%v)", k.g, k.bias) }
func (k convNaive) dims() ([]int, int) {
	if k.bias {
		return []int{4, 4, 1}, 4
	}
	return []int{4, 4}, 4
}
func (k convNaive) shape(in ...tensor.Shape) (tensor.Shape, error) { return convShape(k.g, in...) }
func (k convNaive) diffWRT() []bool {
	return convFast{g: k.g, bias: k.bias}.diffWRT()
}

func (k convNaive) do(out gorgonia.Value, in ...gorgonia.Value) error {
	xs, ws := in[0].Shape(), in[1].Shape()
	switch out.Dtype() {
	case tensor.Float32:
		var b []float32
		if k.bias {
			b = data[float32](in[2])
		}
		naiveConv(k.g, xs, ws, data[float32](in[0]), data[float32](in[1]), b, data[float32](out))
	case tensor.Float64:
		var b []float64
		if k.bias {
			b = data[float64](in[2])
		}
		naiveConv(k.g, xs, ws, data[float64](in[0]), data[float64](in[1]), b, data[float64](out))
	default:
		return fmt.Errorf("unsupported dtype %v", out.Dtype())
	}
	return nil
}

// naiveConv: y[n,p,i,j] = b[p] + sum_d sum_u sum_v w[p,d,u,v] * x[n,d,i*S+u-P,j*S+v-P],
// with x read as zero outside the image.
func naiveConv[T Float](g convGeom, xs, ws tensor.Shape, x, w, b, y []T) {
	n, c, h, wd := xs[0], xs[1], xs[2], xs[3]
	p := ws[0]
	oh, ow := g.out(h), g.out(wd)
	for ni := 0; ni < n; ni++ {
		for q := 0; q < p; q++ {
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					var acc T
					if b != nil {
						acc = b[q]
					}
					for d := 0; d < c; d++ {
						for u := 0; u < g.K; u++ {
							r := i*g.S + u - g.P
							if r < 0 || r >= h {
								continue
							}
							for v := 0; v < g.K; v++ {
								cc := j*g.S + v - g.P
								if cc < 0 || cc >= wd {
									continue
								}
								acc += w[((q*c+d)*g.K+u)*g.K+v] * x[((ni*c+d)*h+r)*wd+cc]
							}
						}
					}
					y[((ni*p+q)*oh+i)*ow+j] = acc
				}
			}
		}
	}
}

func (k convNaive) grads(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	var gs gorgonia.Nodes
	for i := range in {
		gi, err := apply(convNaiveGrad{k.g, i, in[i].Shape().Clone()}, in[0], in[1], grad)
		if err != nil {
			return nil, err
		}
		gs = append(gs, gi)
	}
	return gs, nil
}

// convNaiveGrad computes the gradient of the naive convolution with respect to input wrt
// (0 x, 1 w, 2 b) from x, w and dy, by the same loops run backwards.
type convNaiveGrad struct {
	g   convGeom
	wrt int
	s   tensor.Shape
}

func (k convNaiveGrad) String() string {
	return fmt.Sprintf("NaiveConv2DGrad(%v wrt=%d %v)", k.g, k.wrt, k.s)
}
func (k convNaiveGrad) dims() ([]int, int) { return []int{4, 4, 4}, len(k.s) }
func (k convNaiveGrad) shape(in ...tensor.Shape) (tensor.Shape, error) {
	return k.s.Clone(), nil
}
func (k convNaiveGrad) do(out gorgonia.Value, in ...gorgonia.Value) error {
	xs, ws := in[0].Shape(), in[1].Shape()
	switch out.Dtype() {
	case tensor.Float32:
		naiveConvGrad(k.g, k.wrt, xs, ws, data[float32](in[0]), data[float32](in[1]), data[float32](in[2]), data[float32](out))
	case tensor.Float64:
		naiveConvGrad(k.g, k.wrt, xs, ws, data[float64](in[0]), data[float64](in[1]), data[float64](in[2]), data[float64](out))
	default:
		return fmt.Errorf("unsupported dtype %v", out.Dtype())
	}
	return nil
}

func naiveConvGrad[T Float](g convGeom, wrt int, xs, ws tensor.Shape, x, w, dy, d []T) {
	n, c, h, wd := xs[0], xs[1], xs[2], xs[3]
	p := ws[0]
	oh, ow := g.out(h), g.out(wd)
	clear(d)
	for ni := 0; ni < n; ni++ {
		for q := 0; q < p; q++ {
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					gy := dy[((ni*p+q)*oh+i)*ow+j]
					if wrt == 2 {
						d[q] += gy
						continue
					}
					for dc := 0; dc < c; dc++ {
						for u := 0; u < g.K; u++ {
							r := i*g.S + u - g.P
							if r < 0 || r >= h {
								continue
							}
							for v := 0; v < g.K; v++ {
								cc := j*g.S + v - g.P
								if cc < 0 || cc >= wd {
									continue
								}
								wi := ((q*c+dc)*g.K+u)*g.K + v
								xi := ((ni*c+dc)*h+r)*wd + cc
								if wrt == 0 {
									d[xi] += w[wi] * gy
								} else {
									d[wi] += x[xi] * gy
								}
							}
						}
					}
				}
			}
		}
	}
}

// poolNaive is the chapter's Pool2D: max or average over K x K windows with stride S and no
// padding, as nested loops.
type poolNaive struct {
	g   convGeom
	max bool
}

func (k poolNaive) String() string {
	return fmt.Sprintf("NaivePool2D(%v max=%v)", k.g, k.max)
}
func (k poolNaive) dims() ([]int, int) { return []int{4}, 4 }
func (k poolNaive) diffWRT() []bool    { return []bool{true} }
func (k poolNaive) shape(in ...tensor.Shape) (tensor.Shape, error) {
	return poolShape(k.g, in[0])
}
func (k poolNaive) do(out gorgonia.Value, in ...gorgonia.Value) error {
	s := in[0].Shape()
	switch out.Dtype() {
	case tensor.Float32:
		naivePool(k.g, k.max, s, data[float32](in[0]), nil, data[float32](out), nil)
	case tensor.Float64:
		naivePool(k.g, k.max, s, data[float64](in[0]), nil, data[float64](out), nil)
	default:
		return fmt.Errorf("unsupported dtype %v", out.Dtype())
	}
	return nil
}
func (k poolNaive) grads(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	dx, err := apply(poolNaiveGrad(k), in[0], grad)
	return gorgonia.Nodes{dx}, err
}

// poolNaiveGrad routes dy back through the naive pooling windows: to the first maximum of
// each window, or evenly over the window for the average.
type poolNaiveGrad poolNaive

func (k poolNaiveGrad) String() string {
	return fmt.Sprintf("NaivePool2DGrad(%v max=%v)", k.g, k.max)
}
func (k poolNaiveGrad) dims() ([]int, int) { return []int{4, 4}, 4 }
func (k poolNaiveGrad) shape(in ...tensor.Shape) (tensor.Shape, error) {
	return in[0].Clone(), nil
}
func (k poolNaiveGrad) do(out gorgonia.Value, in ...gorgonia.Value) error {
	s := in[0].Shape()
	switch out.Dtype() {
	case tensor.Float32:
		naivePool(k.g, k.max, s, data[float32](in[0]), data[float32](in[1]), nil, data[float32](out))
	case tensor.Float64:
		naivePool(k.g, k.max, s, data[float64](in[0]), data[float64](in[1]), nil, data[float64](out))
	default:
		return fmt.Errorf("unsupported dtype %v", out.Dtype())
	}
	return nil
}

// naivePool computes y from x (when y != nil), or dx from x and dy (when dx != nil).
// Padding is read as -Inf for the maximum and 0 for the average, which counts it.
func naivePool[T Float](g convGeom, max bool, s tensor.Shape, x, dy, y, dx []T) {
	n, c, h, w := s[0], s[1], s[2], s[3]
	oh, ow := g.out(h), g.out(w)
	if dx != nil {
		clear(dx)
	}
	area := T(g.K * g.K)
	for ni := 0; ni < n*c; ni++ {
		plane := x[ni*h*w : (ni+1)*h*w]
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				best, at := T(math.Inf(-1)), -1
				var sum T
				for u := 0; u < g.K; u++ {
					r := i*g.S + u - g.P
					if r < 0 || r >= h {
						continue
					}
					for v := 0; v < g.K; v++ {
						cc := j*g.S + v - g.P
						if cc < 0 || cc >= w {
							continue
						}
						val := plane[r*w+cc]
						sum += val
						if at < 0 || val > best {
							best, at = val, r*w+cc
						}
					}
				}
				o := (ni*oh+i)*ow + j
				switch {
				case y != nil && max:
					y[o] = best
				case y != nil:
					y[o] = sum / area
				case max:
					dx[ni*h*w+at] += dy[o]
				default:
					gy := dy[o] / area
					for u := 0; u < g.K; u++ {
						r := i*g.S + u - g.P
						if r < 0 || r >= h {
							continue
						}
						for v := 0; v < g.K; v++ {
							cc := j*g.S + v - g.P
							if cc >= 0 && cc < w {
								dx[ni*h*w+r*w+cc] += gy
							}
						}
					}
				}
			}
		}
	}
}
