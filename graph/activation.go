package graph

import (
	"fmt"
	"math"
	"strings"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/graph/cost"
	"github.com/nndl/cnn/kernels"
	"github.com/nndl/cnn/kernels/purego"
)

// Act is an element-wise activation function for Net.Activation: one of the variables
// below, or LeakyReLU(slope). The zero value is ReLU. Each follows PyTorch's definition,
// forward and gradient, the gradient at the kinks included (purego.ActivateBackward lists
// them).
type Act struct {
	fn    purego.Act
	slope float64 // LeakyReLU's negative slope
}

// The activations without settings.
var (
	ReLU        = Act{fn: purego.ActReLU}        // max(x, 0)
	ReLU6       = Act{fn: purego.ActReLU6}       // min(max(x, 0), 6)
	Sigmoid     = Act{fn: purego.ActSigmoid}     // 1 / (1 + exp(-x))
	Tanh        = Act{fn: purego.ActTanh}        // tanh(x)
	SiLU        = Act{fn: purego.ActSiLU}        // x * sigmoid(x), also called Swish
	GELU        = Act{fn: purego.ActGELU}        // x/2 * (1 + erf(x/sqrt(2))), the exact form (PyTorch's default)
	Hardswish   = Act{fn: purego.ActHardswish}   // x * min(max(x+3, 0), 6) / 6
	Hardsigmoid = Act{fn: purego.ActHardsigmoid} // min(max(x+3, 0), 6) / 6
)

// LeakyReLU is x for x > 0 and slope*x otherwise (PyTorch's default slope is 0.01).
func LeakyReLU(slope float64) Act { return Act{fn: purego.ActLeakyReLU, slope: slope} }

// Slope returns a LeakyReLU's negative slope (0 for the other activations).
func (a Act) Slope() float64 { return a.slope }

// Type returns the layer type the activation records: PyTorch's module name ("ReLU6",
// "LeakyReLU", "Hardswish").
func (a Act) Type() string { return a.fn.String() }

// String describes the activation with its setting: "GELU", "LeakyReLU(0.1)".
func (a Act) String() string {
	if a.fn == purego.ActLeakyReLU {
		return fmt.Sprintf("LeakyReLU(%g)", a.slope)
	}
	return a.Type()
}

// Activation applies activation a element-wise to x, of any shape, as a layer named name
// (when empty, the type in lower case and a count: "relu6_1", "gelu_2"). n.ReLU(x) is
// n.Activation("", x, graph.ReLU).
//
// Accounting: no parameters, the receptive field unchanged; FLOPs per element as
// cost.Activation states them (1 for ReLU, ReLU6 and LeakyReLU; Hardsigmoid 3, Hardswish 4,
// Sigmoid 3, Tanh 1, SiLU 4, GELU 5, each exp, tanh or erf counting 1); paddle.flops counts
// a LeakyReLU 1 per element and the others 0, as it does.
func (n *Net) Activation(name string, x *gorgonia.Node, a Act) *gorgonia.Node {
	typ := a.Type()
	name = n.fullName(name, typ)
	if n.err != nil {
		return x
	}
	if a.fn == purego.ActLeakyReLU && (math.IsNaN(a.slope) || math.IsInf(a.slope, 0)) {
		n.fail(name, typ, x, fmt.Errorf("negative slope %v: want a finite number", a.slope))
		return x
	}
	_, counts, err := cost.Activation(x.Shape(), typ)
	if err != nil {
		n.fail(name, typ, x, err)
		return x
	}
	l := &Layer{Name: name, Type: typ, Counts: counts, Settings: a}
	if a.fn == purego.ActLeakyReLU {
		l.Attrs = fmt.Sprintf("slope %g", a.slope)
	}
	k := n.typed.relu(x.Dims())
	if a.fn != purego.ActReLU {
		k = n.typed.activation(a, x.Dims())
	}
	return n.add(l, k, x)
}

// activation computes an Act element-wise; any rank. (ReLU has its own kernel, relu, which
// the fast implementations and the VM's fusions know.)
type activation[T kernels.Float] struct {
	a    Act
	rank int
}

func (k activation[T]) kind() string       { return k.a.Type() }
func (k activation[T]) String() string     { return fmt.Sprintf("%v(rank %d)", k.a, k.rank) }
func (k activation[T]) dims() ([]int, int) { return []int{k.rank}, k.rank }
func (k activation[T]) diffWRT() []bool    { return []bool{true} }
func (k activation[T]) shape(in ...tensor.Shape) (tensor.Shape, error) {
	return in[0].Clone(), nil
}
func (k activation[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	purego.Activate(k.a.fn, k.a.slope, data[T](in[0]), data[T](out))
	return nil
}

// grads computes dx from the input, the output and dy.
func (k activation[T]) grads(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	dx, err := apply(activationGrad[T](k), in[0], out, grad)
	return gorgonia.Nodes{dx}, err
}

// activationGrad computes dx = dy * a'(x) from x, y = a(x) and dy.
type activationGrad[T kernels.Float] activation[T]

func (k activationGrad[T]) kind() string { return k.a.Type() + "Grad" }
func (k activationGrad[T]) String() string {
	return strings.Replace(activation[T](k).String(), "(", "Grad(", 1)
}
func (k activationGrad[T]) dims() ([]int, int) { return []int{k.rank, k.rank, k.rank}, k.rank }
func (k activationGrad[T]) shape(in ...tensor.Shape) (tensor.Shape, error) {
	if !in[0].Eq(in[1]) || !in[0].Eq(in[2]) {
		return nil, fmt.Errorf("input %v, output %v and gradient %v: want the same shape", in[0], in[1], in[2])
	}
	return in[0].Clone(), nil
}
func (k activationGrad[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	purego.ActivateBackward(k.a.fn, k.a.slope, data[T](in[0]), data[T](in[1]), data[T](in[2]), data[T](out))
	return nil
}
