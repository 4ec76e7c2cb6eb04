package graph

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/graph/cost"
	"github.com/nndl/cnn/kernels"
	"github.com/nndl/cnn/kernels/purego"
)

// poolShape is the output shape of pooling window g over x.
func poolShape(g convGeom, x tensor.Shape) (tensor.Shape, error) {
	s, _, err := cost.Pool2D(x, g, false)
	return s, err
}

// poolMode selects what a pooling window computes.
type poolMode = kernels.PoolMode

// poolFast is the fast pooling kernel, one pass over each window; a max pooling's maps may be
// in the channel-blocked layout of block (0: NCHW).
type poolFast[T kernels.Float] struct {
	g     convGeom
	mode  poolMode
	block int
}

func (k poolFast[T]) kind() string { return "Pool2D" }
func (k poolFast[T]) String() string {
	return fmt.Sprintf("Pool2D(%v %v)%s", k.g, k.mode, blocksString("in and out", k.block))
}
func (k poolFast[T]) dims() ([]int, int)                             { return []int{4}, 4 }
func (k poolFast[T]) diffWRT() []bool                                { return []bool{true} }
func (k poolFast[T]) shape(in ...tensor.Shape) (tensor.Shape, error) { return poolShape(k.g, in[0]) }
func (k poolFast[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	d := kernels.NewPoolDims(k.g, k.mode, in[0].Shape())
	if k.block != 0 {
		kernels.MaxPoolBlocked(d, kernels.BlockOf(k.block, in[0].Shape()[1]), data[T](in[0]), data[T](out), false)
		return nil
	}
	kernels.PoolForward(d, data[T](in[0]), data[T](out))
	return nil
}

// blocking: a max pooling works on each channel's map alone, its input and output in one
// layout (the gradient's maps too).
func (k poolFast[T]) blocking(in []tensor.Shape) Blocking {
	if k.mode != kernels.PoolMax {
		return Blocking{}
	}
	return Blocking{In: layouts(len(in), Joined), Out: Joined}
}

func (k poolFast[T]) relayout(b int, in []bool, out bool) (kernel, error) {
	var err error
	k.block, err = joined(b, in, out, 0)
	return k, err
}
func (k poolFast[T]) grads(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	dx, err := apply(poolFastGrad[T](k), in[0], out, grad)
	return gorgonia.Nodes{dx}, err
}

// poolReLU is max pooling followed by a ReLU, the form a compiler gives a ReLU followed by a
// max pooling (SinkReLU): the two commute, and the ReLU then runs over the pooled maps. It
// only runs forward.
type poolReLU[T kernels.Float] struct {
	g     convGeom
	block int // the channel block of its maps, 0 for NCHW
}

func (k poolReLU[T]) kind() string { return "Pool2D+ReLU" }
func (k poolReLU[T]) String() string {
	return fmt.Sprintf("Pool2D(%v %v)%s+ReLU", k.g, kernels.PoolMax, blocksString("in and out", k.block))
}
func (k poolReLU[T]) dims() ([]int, int)                             { return []int{4}, 4 }
func (k poolReLU[T]) shape(in ...tensor.Shape) (tensor.Shape, error) { return poolShape(k.g, in[0]) }
func (k poolReLU[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	d := kernels.NewPoolDims(k.g, kernels.PoolMax, in[0].Shape())
	if k.block != 0 {
		kernels.MaxPoolBlocked(d, kernels.BlockOf(k.block, in[0].Shape()[1]), data[T](in[0]), data[T](out), true)
		return nil
	}
	kernels.PoolForwardReLU(d, data[T](in[0]), data[T](out))
	return nil
}

func (k poolReLU[T]) blocking(in []tensor.Shape) Blocking {
	return Blocking{In: layouts(len(in), Joined), Out: Joined}
}

func (k poolReLU[T]) relayout(b int, in []bool, out bool) (kernel, error) {
	var err error
	k.block, err = joined(b, in, out, 0)
	return k, err
}

// poolFastGrad computes dx from x, the pooling's output y (which gives each window's
// maximum) and dy.
type poolFastGrad[T kernels.Float] poolFast[T]

func (k poolFastGrad[T]) kind() string { return "Pool2DGrad" }
func (k poolFastGrad[T]) String() string {
	return fmt.Sprintf("Pool2DGrad(%v %v)%s", k.g, k.mode, blocksString("in and out", k.block))
}
func (k poolFastGrad[T]) dims() ([]int, int) { return []int{4, 4, 4}, 4 }
func (k poolFastGrad[T]) shape(in ...tensor.Shape) (tensor.Shape, error) {
	want, err := poolShape(k.g, in[0])
	if err != nil {
		return nil, err
	}
	if !in[1].Eq(want) || !in[2].Eq(want) {
		return nil, fmt.Errorf("pooled output %v and its gradient %v: want %v", in[1], in[2], want)
	}
	return in[0].Clone(), nil
}
func (k poolFastGrad[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	return k.backward(out, in, nil)
}

// backward computes dx into out from x, y and dy (in), then zeroes it where relu is not
// positive (nil: nowhere).
func (k poolFastGrad[T]) backward(out gorgonia.Value, in []gorgonia.Value, relu []T) error {
	d := kernels.NewPoolDims(k.g, k.mode, in[0].Shape())
	if k.block != 0 {
		kernels.PoolBackwardBlocked(d, kernels.BlockOf(k.block, in[0].Shape()[1]), data[T](in[0]), data[T](in[1]), data[T](in[2]), data[T](out), relu)
		return nil
	}
	kernels.PoolBackward(d, data[T](in[0]), data[T](in[1]), data[T](in[2]), data[T](out), relu)
	return nil
}

func (k poolFastGrad[T]) blocking(in []tensor.Shape) Blocking { return poolFast[T](k).blocking(in) }

func (k poolFastGrad[T]) relayout(b int, in []bool, out bool) (kernel, error) {
	var err error
	k.block, err = joined(b, in, out, 0, 1, 2)
	return k, err
}

// poolGradReLU is a pooling's gradient followed by the gradient of the ReLU before the
// pooling: dx is kept where the ReLU's output (input 3) is positive and zeroed elsewhere.
type poolGradReLU[T kernels.Float] struct{ poolFastGrad[T] }

func (k poolGradReLU[T]) kind() string       { return "Pool2DGrad+ReLUGrad" }
func (k poolGradReLU[T]) String() string     { return k.poolFastGrad.String() + "+ReLUGrad" }
func (k poolGradReLU[T]) dims() ([]int, int) { return []int{4, 4, 4, 4}, 4 }
func (k poolGradReLU[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	return k.backward(out, in, data[T](in[3]))
}

func (k poolGradReLU[T]) relayout(b int, in []bool, out bool) (kernel, error) {
	var err error
	k.block, err = joined(b, in, out, 0, 1, 2, 3)
	return k, err
}

// globalAvg averages each channel's whole map: [N,C,H,W] -> [N,C,1,1], its input in the
// channel-blocked layout of block (0: NCHW; the output is the same in both).
type globalAvg[T kernels.Float] struct{ block int }

func (globalAvg[T]) kind() string       { return "GlobalAvgPool2D" }
func (k globalAvg[T]) String() string   { return "GlobalAvgPool2D" + blocksString("in", k.block) }
func (globalAvg[T]) dims() ([]int, int) { return []int{4}, 4 }
func (globalAvg[T]) diffWRT() []bool    { return []bool{true} }
func (globalAvg[T]) shape(in ...tensor.Shape) (tensor.Shape, error) {
	x := in[0]
	if len(x) != 4 {
		return nil, fmt.Errorf("input shape %v is not [N,C,H,W]", x)
	}
	return tensor.Shape{x[0], x[1], 1, 1}, nil
}
func (k globalAvg[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	s := in[0].Shape()
	if k.block != 0 {
		kernels.MeanPlanesBlocked(data[T](in[0]), data[T](out), s[0], s[1], s[2]*s[3], kernels.BlockOf(k.block, s[1]))
		return nil
	}
	purego.MeanPlanes(s[2]*s[3], data[T](in[0]), data[T](out))
	return nil
}

func (globalAvg[T]) blocking([]tensor.Shape) Blocking { return Blocking{In: []Layout{Either}} }

func (k globalAvg[T]) relayout(b int, in []bool, _ bool) (kernel, error) {
	k.block = blockOf(b, in[0])
	return k, nil
}
func (globalAvg[T]) grads(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	dx, err := apply(globalAvgGrad[T]{xs: in[0].Shape().Clone()}, grad)
	return gorgonia.Nodes{dx}, err
}

// globalAvgGrad spreads dy [N,C,1,1] evenly over each map, written in the channel-blocked
// layout of block (0: NCHW).
type globalAvgGrad[T kernels.Float] struct {
	xs    tensor.Shape
	block int
}

func (k globalAvgGrad[T]) kind() string { return "GlobalAvgPool2DGrad" }
func (k globalAvgGrad[T]) String() string {
	return fmt.Sprintf("GlobalAvgPool2DGrad(%v)%s", k.xs, blocksString("out", k.block))
}
func (k globalAvgGrad[T]) dims() ([]int, int) { return []int{4}, 4 }
func (k globalAvgGrad[T]) shape(in ...tensor.Shape) (tensor.Shape, error) {
	return k.xs.Clone(), nil
}
func (k globalAvgGrad[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	if k.block != 0 {
		kernels.SpreadPlanesBlocked(k.xs[0], k.xs[1], k.xs[2]*k.xs[3], kernels.BlockOf(k.block, k.xs[1]), data[T](in[0]), data[T](out))
		return nil
	}
	purego.SpreadPlanes(k.xs[2]*k.xs[3], data[T](in[0]), data[T](out))
	return nil
}

func (globalAvgGrad[T]) blocking([]tensor.Shape) Blocking {
	return Blocking{In: []Layout{NCHW}, Out: Either}
}

func (k globalAvgGrad[T]) relayout(b int, _ []bool, out bool) (kernel, error) {
	k.block = blockOf(b, out)
	return k, nil
}
