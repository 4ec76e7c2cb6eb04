package graph

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/graph/cost"
	"github.com/nndl/cnn/kernels"
)

// Add adds two tensors of the same shape element by element: the join of a residual block,
// y = F(x) + shortcut(x). Both inputs are the layer's Inputs, a first. Shapes that differ are
// a declaration error naming both.
//
// Accounting: no parameters; one FLOP per output element under the FLOPs convention and none
// under paddle.flops (which does not count additions). The receptive field and jump are the
// larger of the two inputs'.
func (n *Net) Add(name string, a, b *gorgonia.Node) *gorgonia.Node {
	name = n.fullName(name, "Add")
	if n.err != nil {
		return a
	}
	_, counts, err := cost.Add(a.Shape(), b.Shape())
	if err != nil {
		n.fail(name, "Add", a, err)
		return a
	}
	return n.add(&Layer{Name: name, Type: "Add", Counts: counts, Attrs: "residual"}, n.typed.add(a.Dims()), a, b)
}

// add computes a + b for two tensors of the same shape; any rank.
type add[T kernels.Float] struct {
	rank int
	relu bool // apply a following ReLU too (see Fuse)
}

func (k add[T]) kind() string       { return "Add" + reluSuffix(k.relu) }
func (k add[T]) String() string     { return fmt.Sprintf("Add(rank %d)%s", k.rank, reluSuffix(k.relu)) }
func (k add[T]) dims() ([]int, int) { return []int{k.rank, k.rank}, k.rank }
func (k add[T]) diffWRT() []bool    { return []bool{true, true} }
func (k add[T]) shape(in ...tensor.Shape) (tensor.Shape, error) {
	if !in[0].Eq(in[1]) {
		return nil, fmt.Errorf("cannot add shapes %v and %v: want the same shape", in[0], in[1])
	}
	return in[0].Clone(), nil
}
func (k add[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	kernels.ApplyAdd(data[T](in[0]), data[T](in[1]), data[T](out), k.relu)
	return nil
}

func (k add[T]) blocking([]tensor.Shape) Blocking           { return elementwise(2) }
func (k add[T]) relayout(int, []bool, bool) (kernel, error) { return k, nil }

// grads passes the upstream gradient unchanged to both inputs.
func (k add[T]) grads(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	return gorgonia.Nodes{grad, grad}, nil
}
