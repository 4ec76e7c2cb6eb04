package graph

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/graph/cost"
	"github.com/nndl/cnn/kernels"
)

// convGeom is the geometry of a convolution or pooling window.
type convGeom = kernels.ConvGeom

// convShape is the shape rule shared by both convolution kernels: x [N,C,H,W], w
// [P,C/Groups,KH,KW], optional b [P].
func convShape(g convGeom, in ...tensor.Shape) (tensor.Shape, error) {
	x, w := in[0], in[1]
	g = g.Norm()
	if err := cost.CheckWindow(g, x); err != nil {
		return nil, err
	}
	if x[1]%g.Groups != 0 || len(w) != 4 || w[0]%g.Groups != 0 || w[1] != x[1]/g.Groups || w[2] != g.KH || w[3] != g.KW {
		return nil, fmt.Errorf("weight shape %v does not fit input %v with a %dx%d kernel in %d groups (want [out,%d/%d,%d,%d])",
			w, x, g.KH, g.KW, g.Groups, x[1], g.Groups, g.KH, g.KW)
	}
	if len(in) == 3 && (len(in[2]) != 1 || in[2][0] != w[0]) {
		return nil, fmt.Errorf("bias shape %v does not fit weight %v (want [%d])", in[2], w, w[0])
	}
	return tensor.Shape{x[0], w[0], g.OutH(x[2]), g.OutW(x[3])}, nil
}

// convArity is the inputs' ranks of a convolution: x, w and, with a bias, b.
func convArity(bias bool) []int {
	if bias {
		return []int{4, 4, 1}
	}
	return []int{4, 4}
}

// convFast computes y = conv(x, w) (+ b) on the kernels' implementations, its maps in
// layout l.
type convFast[T kernels.Float] struct {
	g    convGeom
	bias bool
	ws   *kernels.Scratch
	l    kernels.ConvLayout
}

func (k convFast[T]) kind() string { return "Conv2D" }
func (k convFast[T]) String() string {
	return fmt.Sprintf("Conv2D(%v bias=%v)%s", k.g, k.bias, layoutString(k.l))
}

// layoutString describes a convolution's layout l, "" for NCHW.
func layoutString(l kernels.ConvLayout) string {
	if l == (kernels.ConvLayout{}) {
		return ""
	}
	return fmt.Sprintf(" (channel blocks: in %s, out %s)", blockName(l.X), blockName(l.Y))
}

// blocking: the input and output may each be blocked, in the block of the kernel that runs
// the convolution.
func (k convFast[T]) blocking(in []tensor.Shape) Blocking {
	b := kernels.ConvBlock[T](kernels.NewConvDims(k.g, in[0], in[1]))
	if b == 0 {
		return Blocking{}
	}
	l := layouts(len(in), NCHW)
	l[0] = Either
	return Blocking{Block: b, In: l, Out: Either}
}

func (k convFast[T]) relayout(b int, in []bool, out bool) (kernel, error) {
	k.l = kernels.ConvLayout{X: blockOf(b, in[0]), Y: blockOf(b, out)}
	return k, nil
}
func (k convFast[T]) dims() ([]int, int)                             { return convArity(k.bias), 4 }
func (k convFast[T]) shape(in ...tensor.Shape) (tensor.Shape, error) { return convShape(k.g, in...) }
func (k convFast[T]) diffWRT() []bool                                { return trues(len(convArity(k.bias))) }

func (k convFast[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	return k.forward(out, in, nil)
}

// forward computes the convolution into out, applying ep as it writes (nil: nothing).
func (k convFast[T]) forward(out gorgonia.Value, in []gorgonia.Value, ep *kernels.Epilogue) error {
	d := kernels.NewConvDims(k.g, in[0].Shape(), in[1].Shape())
	var b []T
	if k.bias {
		b = data[T](in[2])
	}
	return kernels.ConvForwardIn(k.ws, d, k.l, data[T](in[0]), data[T](in[1]), b, data[T](out), ep)
}

func (k convFast[T]) grads(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	dx, err := apply(convGradX[T]{g: k.g, xs: in[0].Shape().Clone(), ws: k.ws}, in[1], grad)
	if err != nil {
		return nil, err
	}
	dw, err := apply(convGradW[T]{g: k.g, wt: in[1].Shape().Clone(), ws: k.ws}, in[0], grad)
	if err != nil {
		return nil, err
	}
	if !k.bias {
		return gorgonia.Nodes{dx, dw}, nil
	}
	db, err := apply(biasGrad[T]{rank: 4}, grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{dx, dw, db}, nil
}

// convGradX computes dx from w and dy, the maps in layout l.
type convGradX[T kernels.Float] struct {
	g  convGeom
	xs tensor.Shape
	ws *kernels.Scratch
	l  kernels.ConvLayout
}

func (k convGradX[T]) kind() string { return "Conv2DGradX" }
func (k convGradX[T]) String() string {
	return fmt.Sprintf("Conv2DGradX(%v %v)%s", k.g, k.xs, layoutString(k.l))
}

// blocking: dy and dx may each be blocked, as the forward pass's output and input.
func (k convGradX[T]) blocking(in []tensor.Shape) Blocking {
	b := kernels.ConvBlock[T](kernels.NewConvDims(k.g, k.xs, in[0]))
	if b == 0 {
		return Blocking{}
	}
	return Blocking{Block: b, In: []Layout{NCHW, Either}, Out: Either}
}

func (k convGradX[T]) relayout(b int, in []bool, out bool) (kernel, error) {
	k.l = kernels.ConvLayout{X: blockOf(b, out), Y: blockOf(b, in[1])}
	return k, nil
}
func (k convGradX[T]) dims() ([]int, int) { return []int{4, 4}, 4 }
func (k convGradX[T]) shape(in ...tensor.Shape) (tensor.Shape, error) {
	return k.xs.Clone(), nil
}
func (k convGradX[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	d := kernels.NewConvDims(k.g, k.xs, in[0].Shape())
	return kernels.ConvBackwardDataIn(k.ws, d, k.l, data[T](in[0]), data[T](in[1]), data[T](out))
}

// convGradW computes dw from x and dy, the maps in layout l.
type convGradW[T kernels.Float] struct {
	g  convGeom
	wt tensor.Shape
	ws *kernels.Scratch
	l  kernels.ConvLayout
}

func (k convGradW[T]) kind() string { return "Conv2DGradW" }
func (k convGradW[T]) String() string {
	return fmt.Sprintf("Conv2DGradW(%v %v)%s", k.g, k.wt, layoutString(k.l))
}

// blocking: x and dy may each be blocked; dw is no map.
func (k convGradW[T]) blocking(in []tensor.Shape) Blocking {
	b := kernels.ConvBlock[T](kernels.NewConvDims(k.g, in[0], k.wt))
	if b == 0 {
		return Blocking{}
	}
	return Blocking{Block: b, In: []Layout{Either, Either}}
}

func (k convGradW[T]) relayout(b int, in []bool, _ bool) (kernel, error) {
	k.l = kernels.ConvLayout{X: blockOf(b, in[0]), Y: blockOf(b, in[1])}
	return k, nil
}
func (k convGradW[T]) dims() ([]int, int) { return []int{4, 4}, 4 }
func (k convGradW[T]) shape(in ...tensor.Shape) (tensor.Shape, error) {
	return k.wt.Clone(), nil
}
func (k convGradW[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	d := kernels.NewConvDims(k.g, in[0].Shape(), k.wt)
	return kernels.ConvBackwardWeightsIn(k.ws, d, k.l, data[T](in[0]), data[T](in[1]), data[T](out))
}

// biasGrad sums dy [N,P,H,W] (or [N,P]) over every axis but the channel axis.
type biasGrad[T kernels.Float] struct{ rank int }

func (k biasGrad[T]) kind() string       { return "BiasGrad" }
func (k biasGrad[T]) String() string     { return fmt.Sprintf("BiasGrad(rank %d)", k.rank) }
func (k biasGrad[T]) dims() ([]int, int) { return []int{k.rank}, 1 }
func (biasGrad[T]) shape(in ...tensor.Shape) (tensor.Shape, error) {
	if len(in[0]) < 2 {
		return nil, fmt.Errorf("gradient shape %v has no channel axis", in[0])
	}
	return tensor.Shape{in[0][1]}, nil
}
func (biasGrad[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	s := in[0].Shape()
	inner := 1
	for _, d := range s[2:] {
		inner *= d
	}
	kernels.SumChannels(s[0], s[1], inner, data[T](in[0]), data[T](out))
	return nil
}

// trues returns n true values: the inputs a kernel differentiates.
func trues(n int) []bool {
	out := make([]bool, n)
	for i := range out {
		out[i] = true
	}
	return out
}
