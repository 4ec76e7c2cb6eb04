package graph

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/graph/cost"
	"github.com/nndl/cnn/kernels"
)

// AdaptiveAvgPool2D averages [N,C,H,W] down (or up) to [N,C,oh,ow], as
// torch.nn.AdaptiveAvgPool2d((oh, ow)) does: output row i averages input rows
// [floor(i*H/oh), ceil((i+1)*H/oh)), and columns alike, so any input size gives the same
// output size. Both implementations (Fast and Naive) run it on the same kernel.
func (n *Net) AdaptiveAvgPool2D(name string, x *gorgonia.Node, oh, ow int) *gorgonia.Node {
	name = n.fullName(name, "AdaptiveAvgPool2D")
	if n.err != nil {
		return x
	}
	_, counts, err := cost.AdaptiveAvgPool2D(x.Shape(), oh, ow)
	if err != nil {
		n.fail(name, "AdaptiveAvgPool2D", x, err)
		return x
	}
	l := &Layer{Name: name, Type: "AdaptiveAvgPool2D", Counts: counts, Attrs: fmt.Sprintf("to %dx%d", oh, ow),
		Settings: AdaptiveSettings{OH: oh, OW: ow}}
	return n.add(l, n.typed.adaptiveAvg(oh, ow), x)
}

// adaptiveAvg is adaptive average pooling to oh x ow.
type adaptiveAvg[T kernels.Float] struct{ oh, ow int }

func (k adaptiveAvg[T]) kind() string { return "AdaptiveAvgPool2D" }
func (k adaptiveAvg[T]) String() string {
	return fmt.Sprintf("AdaptiveAvgPool2D(%dx%d)", k.oh, k.ow)
}
func (k adaptiveAvg[T]) dims() ([]int, int) { return []int{4}, 4 }
func (k adaptiveAvg[T]) diffWRT() []bool    { return []bool{true} }
func (k adaptiveAvg[T]) shape(in ...tensor.Shape) (tensor.Shape, error) {
	s, _, err := cost.AdaptiveAvgPool2D(in[0], k.oh, k.ow)
	return s, err
}
func (k adaptiveAvg[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	d := kernels.NewAdaptivePoolDims(k.oh, k.ow, in[0].Shape())
	kernels.PoolForward(d, data[T](in[0]), data[T](out))
	return nil
}
func (k adaptiveAvg[T]) grads(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	dx, err := apply(adaptiveAvgGrad[T](k), in[0], grad)
	return gorgonia.Nodes{dx}, err
}

// adaptiveAvgGrad spreads each output's gradient evenly over its window.
type adaptiveAvgGrad[T kernels.Float] adaptiveAvg[T]

func (k adaptiveAvgGrad[T]) kind() string { return "AdaptiveAvgPool2DGrad" }
func (k adaptiveAvgGrad[T]) String() string {
	return fmt.Sprintf("AdaptiveAvgPool2DGrad(%dx%d)", k.oh, k.ow)
}
func (k adaptiveAvgGrad[T]) dims() ([]int, int) { return []int{4, 4}, 4 }
func (k adaptiveAvgGrad[T]) shape(in ...tensor.Shape) (tensor.Shape, error) {
	return in[0].Clone(), nil
}
func (k adaptiveAvgGrad[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	d := kernels.NewAdaptivePoolDims(k.oh, k.ow, in[0].Shape())
	kernels.PoolBackward(d, data[T](in[0]), nil, data[T](in[1]), data[T](out), nil)
	return nil
}
