package graph

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/graph/cost"
	"github.com/nndl/cnn/tensorio"
)

// Operator is a layer kind of one's own: its shape rule, its forward and backward passes and
// its accounting. Net.Apply adds it to a network as the built-in layers are added: its shapes
// checked as it is declared, a Layer record that the summary, the FLOPs table and the DOT
// show, and a gradient in training programs.
//
// Forward and Backward see tensors of the network's element type: F32 slices in a float32
// network, F64 in a float64 one (gradient checks). They must write every element of their
// output, which is reused from run to run.
type Operator struct {
	// Type is the layer type the reports show ("Swish").
	Type string
	// Shape returns the output shape for the inputs' shapes, batch first; nil keeps the
	// first input's shape.
	Shape func(in [][]int) ([]int, error)
	// Forward computes out from the inputs.
	Forward func(out tensorio.Tensor, in []tensorio.Tensor) error
	// Backward computes din, the gradient of the loss with respect to input i, from the
	// gradient of the output dout, the output and the inputs. Nil: the operator has no
	// gradient, and a training program that needs one fails to compile, naming it.
	Backward func(i int, din, dout, out tensorio.Tensor, in []tensorio.Tensor) error
	// Cost returns the operator's MACs and FLOPs and how it grows the receptive field, for
	// the inputs' shapes and the output's; nil counts none. Its parameters are counted from
	// the inputs that are parameters (see Net.Param).
	Cost func(in [][]int, out []int) cost.Counts
}

// Param adds a trainable parameter of the given shape, initialised by init, and returns its
// node, for an Operator that learns: pass it to Net.Apply as an input. Its name is prefixed
// by the enclosing blocks; fanIn and fanOut serve the initialisers that need them.
func (n *Net) Param(name string, shape []int, init Init, fanIn, fanOut int) *gorgonia.Node {
	name = n.fullName(name, "Param")
	if n.err != nil {
		return nil
	}
	node, err := n.param(name, tensor.Shape(shape), true, init, fanIn, fanOut)
	if err != nil {
		n.err = fmt.Errorf("parameter %s: %w", name, err)
		return nil
	}
	return node
}

// Apply adds operator op on the inputs as a layer named name (when empty, the type in lower
// case and a count). Its accounting is op.Cost's, with the trainable values of the inputs
// that are parameters.
func (n *Net) Apply(name string, op Operator, in ...*gorgonia.Node) *gorgonia.Node {
	name = n.fullName(name, op.Type)
	if n.err != nil {
		return firstNode(in)
	}
	if len(in) == 0 || op.Type == "" || op.Forward == nil {
		n.err = fmt.Errorf("layer %s: an operator needs a Type, a Forward and at least one input", name)
		return firstNode(in)
	}
	for i, x := range in {
		if x == nil {
			n.err = fmt.Errorf("layer %s (%s): input %d is nil", name, op.Type, i)
			return firstNode(in)
		}
	}
	shapes := make([][]int, len(in))
	for i, x := range in {
		shapes[i] = x.Shape().Clone()
	}
	k := custom{op: &op, ranks: make([]int, len(in))}
	for i, s := range shapes {
		k.ranks[i] = len(s)
	}
	out := in[0].Shape().Clone()
	if op.Shape != nil {
		var err error
		if out, err = op.Shape(shapes); err != nil {
			n.fail(name, op.Type, in[0], err)
			return in[0]
		}
	}
	k.out = len(out)
	var counts cost.Counts
	if op.Cost != nil {
		counts = op.Cost(shapes, out)
	}
	for _, x := range in {
		if p := n.paramOf[x]; p != nil && p.Trainable {
			counts.Trainable += x.Shape().TotalSize()
		}
	}
	return n.add(&Layer{Name: name, Type: op.Type, Counts: counts}, k, in...)
}

func firstNode(in []*gorgonia.Node) *gorgonia.Node {
	if len(in) == 0 {
		return nil
	}
	return in[0]
}

// custom runs an Operator's Forward.
type custom struct {
	op    *Operator // one per layer: its address tells two layers of the same type apart
	ranks []int
	out   int
}

func (k custom) kind() string                                   { return k.op.Type }
func (k custom) String() string                                 { return fmt.Sprintf("%s(%p)", k.op.Type, k.op) }
func (k custom) dims() ([]int, int)                             { return k.ranks, k.out }
func (k custom) diffWRT() []bool                                { return trues(len(k.ranks)) }
func (k custom) shape(in ...tensor.Shape) (tensor.Shape, error) { return customShape(k.op, in) }

func customShape(op *Operator, in []tensor.Shape) (tensor.Shape, error) {
	if op.Shape == nil {
		return in[0].Clone(), nil
	}
	shapes := make([][]int, len(in))
	for i, s := range in {
		shapes[i] = s
	}
	s, err := op.Shape(shapes)
	return tensor.Shape(s), err
}

func (k custom) do(out gorgonia.Value, in ...gorgonia.Value) error {
	return k.op.Forward(view(out), views(in))
}

func (k custom) grads(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if k.op.Backward == nil {
		return nil, fmt.Errorf("operator %s has no Backward", k.op.Type)
	}
	args := append(append(gorgonia.Nodes{}, in...), out, grad)
	gs := make(gorgonia.Nodes, len(in))
	for i := range in {
		g, err := apply(customGrad{op: k.op, wrt: i, of: in[i].Shape().Clone(), ranks: append(append([]int{}, k.ranks...), k.out, k.out)}, args...)
		if err != nil {
			return nil, err
		}
		gs[i] = g
	}
	return gs, nil
}

// customGrad runs an Operator's Backward for input wrt; its inputs are the operator's, then
// its output and the output's gradient.
type customGrad struct {
	op    *Operator
	wrt   int
	of    tensor.Shape // the input's shape
	ranks []int
}

func (k customGrad) kind() string { return k.op.Type + "Grad" }
func (k customGrad) String() string {
	return fmt.Sprintf("%sGrad(%p input %d)", k.op.Type, k.op, k.wrt)
}
func (k customGrad) dims() ([]int, int) { return k.ranks, len(k.of) }
func (k customGrad) shape(...tensor.Shape) (tensor.Shape, error) {
	return k.of.Clone(), nil
}
func (k customGrad) do(out gorgonia.Value, in ...gorgonia.Value) error {
	n := len(in) - 2
	return k.op.Backward(k.wrt, view(out), view(in[n+1]), view(in[n]), views(in[:n]))
}

// view returns a value's elements as a tensor, without copying them.
func view(v gorgonia.Value) tensorio.Tensor {
	if v.Dtype() == tensor.Float64 {
		return tensorio.NewFloat64(v.Shape(), data[float64](v))
	}
	return tensorio.NewFloat32(v.Shape(), data[float32](v))
}

func views(vs []gorgonia.Value) []tensorio.Tensor {
	out := make([]tensorio.Tensor, len(vs))
	for i, v := range vs {
		out[i] = view(v)
	}
	return out
}
