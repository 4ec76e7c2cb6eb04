package gradcheck_test

import (
	"fmt"
	"math"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/gradcheck"
	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/graph/cost"
	"github.com/nndl/cnn/tensorio"
)

// swish is x * sigmoid(x) on either element type.
func swish[T float32 | float64](x, y []T) {
	for i, v := range x {
		y[i] = v / (1 + T(math.Exp(-float64(v))))
	}
}

// swishGrad is dy * (s + x*s*(1-s)), s = sigmoid(x).
func swishGrad[T float32 | float64](x, dy, dx []T) {
	for i, v := range x {
		s := 1 / (1 + math.Exp(-float64(v)))
		dx[i] = dy[i] * T(s+float64(v)*s*(1-s))
	}
}

// Swish, an operator of one's own: its forward and backward passes and its accounting
// (4 FLOPs an element, as cost.Activation counts SiLU).
var Swish = graph.Operator{
	Type: "Swish",
	Forward: func(out tensorio.Tensor, in []tensorio.Tensor) error {
		if out.DType == tensorio.F32 {
			swish(in[0].F32, out.F32)
		} else {
			swish(in[0].F64, out.F64)
		}
		return nil
	},
	Backward: func(_ int, din, dout, _ tensorio.Tensor, in []tensorio.Tensor) error {
		if din.DType == tensorio.F32 {
			swishGrad(in[0].F32, dout.F32, din.F32)
		} else {
			swishGrad(in[0].F64, dout.F64, din.F64)
		}
		return nil
	},
	Cost: func(in [][]int, _ []int) cost.Counts { return cost.Elementwise(in[0], 4) },
}

// An operator of one's own appears in the reports like a built-in layer, and its gradient
// is checked against finite differences, as torch.autograd.gradcheck does.
func Example() {
	m := graph.Model{
		Name: "swishnet", Input: []int{1, 8, 8}, Classes: 3,
		Forward: func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node {
			x = n.Apply("swish1", Swish, n.Conv2D("conv1", x, graph.Conv{Out: 4, Kernel: 3}))
			return n.Linear("fc", n.Flatten("flatten", n.GlobalAvgPool2D("gap", x)), 3)
		},
	}
	net, _, _, err := graph.Declare(m, graph.NewParams(tensor.Float32, 1), graph.Fast, 1, false)
	if err != nil {
		fmt.Println(err)
		return
	}
	layer := net.Layers()[1]
	fmt.Println(layer.Name, layer.Type, layer.OutShape, "FLOPs", layer.FLOPs)

	x := tensorio.NewFloat64([]int{2, 3, 4, 4}, make([]float64, 96))
	for i := range x.F64 {
		x.F64[i] = math.Sin(float64(i))
	}
	conv := func(n *graph.Net, in []*gorgonia.Node) *gorgonia.Node {
		return n.Apply("", Swish, n.Conv2D("conv", in[0], graph.Conv{Out: 2, Kernel: 3, Padding: 1}))
	}
	fmt.Println("gradients:", gradcheck.Check(conv, []tensorio.Tensor{x}, gradcheck.Options{}))

	wrong := Swish
	wrong.Backward = func(_ int, din, dout, _ tensorio.Tensor, in []tensorio.Tensor) error {
		swishGrad(in[0].F64, dout.F64, din.F64)
		din.F64[5] *= 1.01 // one element off by 1%
		return nil
	}
	bad := func(n *graph.Net, in []*gorgonia.Node) *gorgonia.Node { return n.Apply("", wrong, in[0]) }
	fmt.Println("a wrong backward:", gradcheck.Check(bad, []tensorio.Tensor{x}, gradcheck.Options{}) != nil)
	// Output:
	// swish1 Swish (1, 4, 6, 6) FLOPs 576
	// gradients: <nil>
	// a wrong backward: true
}
