package graph

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/kernels"
	"github.com/nndl/cnn/kernels/reference"
)

// The chapter's hand-written operators (graph.Naive): convolution and pooling on the
// reference kernels, the nested loops of formula (5.5), with backward passes written out the
// same way. They give the same numbers as the fast operators, only slower.

// convNaive is the direct nested-loop convolution.
type convNaive[T kernels.Float] struct {
	g    convGeom
	bias bool
}

func (k convNaive[T]) kind() string { return "NaiveConv2D" }
func (k convNaive[T]) String() string {
	return fmt.Sprintf("NaiveConv2D(%v bias=%v)", k.g, k.bias)
}
func (k convNaive[T]) dims() ([]int, int)                             { return convArity(k.bias), 4 }
func (k convNaive[T]) shape(in ...tensor.Shape) (tensor.Shape, error) { return convShape(k.g, in...) }
func (k convNaive[T]) diffWRT() []bool                                { return trues(len(convArity(k.bias))) }

func (k convNaive[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	var b []T
	if k.bias {
		b = data[T](in[2])
	}
	d := kernels.NewConvDims(k.g, in[0].Shape(), in[1].Shape())
	reference.Conv(d, data[T](in[0]), data[T](in[1]), b, data[T](out))
	return nil
}

func (k convNaive[T]) grads(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	var gs gorgonia.Nodes
	for i := range in {
		gi, err := apply(convNaiveGrad[T]{k.g, i, in[i].Shape().Clone()}, in[0], in[1], grad)
		if err != nil {
			return nil, err
		}
		gs = append(gs, gi)
	}
	return gs, nil
}

// convNaiveGrad computes the gradient of the naive convolution with respect to input wrt
// (0 x, 1 w, 2 b) from x, w and dy, by the same loops run backwards.
type convNaiveGrad[T kernels.Float] struct {
	g   convGeom
	wrt int
	s   tensor.Shape
}

func (k convNaiveGrad[T]) kind() string { return "NaiveConv2DGrad" }
func (k convNaiveGrad[T]) String() string {
	return fmt.Sprintf("NaiveConv2DGrad(%v wrt=%d %v)", k.g, k.wrt, k.s)
}
func (k convNaiveGrad[T]) dims() ([]int, int) { return []int{4, 4, 4}, len(k.s) }
func (k convNaiveGrad[T]) shape(in ...tensor.Shape) (tensor.Shape, error) {
	return k.s.Clone(), nil
}
func (k convNaiveGrad[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	d := kernels.NewConvDims(k.g, in[0].Shape(), in[1].Shape())
	reference.ConvGrad(d, k.wrt, data[T](in[0]), data[T](in[1]), data[T](in[2]), data[T](out))
	return nil
}

// poolNaive is the chapter's Pool2D: max or average over K x K windows with stride S and no
// padding, as nested loops.
type poolNaive[T kernels.Float] struct {
	g    convGeom
	mode poolMode
}

func (k poolNaive[T]) kind() string       { return "NaivePool2D" }
func (k poolNaive[T]) String() string     { return fmt.Sprintf("NaivePool2D(%v %v)", k.g, k.mode) }
func (k poolNaive[T]) dims() ([]int, int) { return []int{4}, 4 }
func (k poolNaive[T]) diffWRT() []bool    { return []bool{true} }
func (k poolNaive[T]) shape(in ...tensor.Shape) (tensor.Shape, error) {
	return poolShape(k.g, in[0])
}
func (k poolNaive[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	reference.Pool(kernels.NewPoolDims(k.g, k.mode, in[0].Shape()), data[T](in[0]), nil, data[T](out), nil)
	return nil
}
func (k poolNaive[T]) grads(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	dx, err := apply(poolNaiveGrad[T](k), in[0], grad)
	return gorgonia.Nodes{dx}, err
}

// poolNaiveGrad routes dy back through the naive pooling windows: to the first maximum of
// each window, or evenly over the window for the average.
type poolNaiveGrad[T kernels.Float] poolNaive[T]

func (k poolNaiveGrad[T]) kind() string       { return "NaivePool2DGrad" }
func (k poolNaiveGrad[T]) String() string     { return fmt.Sprintf("NaivePool2DGrad(%v %v)", k.g, k.mode) }
func (k poolNaiveGrad[T]) dims() ([]int, int) { return []int{4, 4}, 4 }
func (k poolNaiveGrad[T]) shape(in ...tensor.Shape) (tensor.Shape, error) {
	return in[0].Clone(), nil
}
func (k poolNaiveGrad[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	d := kernels.NewPoolDims(k.g, k.mode, in[0].Shape())
	reference.Pool(d, data[T](in[0]), data[T](in[1]), nil, data[T](out))
	return nil
}
