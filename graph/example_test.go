package graph_test

import (
	"fmt"
	"os"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/tensorio"
)

// A small network of one's own: every layer's shape, parameters and operations are known
// before anything runs.
func ExampleDeclare() {
	tiny := graph.Model{
		Name: "tiny", Input: []int{3, 16, 16}, Classes: 4,
		Forward: func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node {
			x = n.ReLU(n.BatchNorm2D("bn1", n.Conv2D("conv1", x, graph.Conv{Out: 8, Kernel: 3, Padding: 1, NoBias: true})))
			x = n.MaxPool2D("pool1", x, graph.Pool{Kernel: 2})
			x = n.Flatten("flatten", n.GlobalAvgPool2D("gap", x))
			return n.Linear("fc", x, 4)
		},
	}
	params := graph.NewParams(tensor.Float32, 1)
	net, _, logits, err := graph.Declare(tiny, params, graph.Fast, 2, false)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("logits", logits.Shape())
	s := graph.Summarize(net.Layers(), tensor.Float32)
	if err := s.WriteTable(os.Stdout, graph.UnitMACs); err != nil {
		fmt.Println(err)
	}
	// Output:
	// logits (2, 4)
	//            Layer (type)     Input shape    Output shape  Params  FLOPs (macs)  RF
	//          conv1 (Conv2D)  [2, 3, 16, 16]  [2, 8, 16, 16]     216       110,592   3
	//       bn1 (BatchNorm2D)  [2, 8, 16, 16]  [2, 8, 16, 16]      32             0   3
	//           relu_1 (ReLU)  [2, 8, 16, 16]  [2, 8, 16, 16]       0             0   3
	//       pool1 (MaxPool2D)  [2, 8, 16, 16]    [2, 8, 8, 8]       0             0   4
	//   gap (GlobalAvgPool2D)    [2, 8, 8, 8]    [2, 8, 1, 1]       0             0  18
	//       flatten (Flatten)    [2, 8, 1, 1]          [2, 8]       0             0  18
	//             fc (Linear)          [2, 8]          [2, 4]      36            64  18
	// Total params: 284
	// Trainable params: 268
	// Non-trainable params: 16 (BatchNorm running statistics)
	// Total FLOPs: 110,656 (MACs: multiply-accumulates of convolutions and linear layers (as torchinfo, ptflops, thop))
	// Params size: 0.00 MiB; forward activations: 0.05 MiB (float32)
}

// A shape that does not fit is an error naming the layer and the input it got.
func ExampleNet_Conv2D_error() {
	m := graph.Model{
		Name: "small", Input: []int{1, 4, 4}, Classes: 2,
		Forward: func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node {
			x = n.Conv2D("conv1", x, graph.Conv{Out: 2, Kernel: 5})
			return n.Linear("fc", n.Flatten("flatten", x), 2)
		},
	}
	_, _, _, err := graph.Declare(m, graph.NewParams(tensor.Float32, 1), graph.Fast, 1, false)
	fmt.Println(err)
	// Output:
	// small: layer conv1 (Conv2D) on input (1, 1, 4, 4): input 4x4 with padding 0 is smaller than the 5x5 window
}

// Weights load into a model before anything is compiled, and a file that does not fit says
// what is missing and what is extra.
func ExampleNewParamsFor() {
	m := graph.Model{
		Name: "probe", Input: []int{4}, Classes: 2,
		Forward: func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node { return n.Linear("fc", x, 2) },
	}
	params, err := graph.NewParamsFor(m, tensor.Float32, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	file := map[string]tensorio.Tensor{
		"fc.weight": tensorio.NewFloat32([]int{2, 4}, []float32{1, 2, 3, 4, 5, 6, 7, 8}),
		"head.bias": tensorio.NewFloat32([]int{2}, []float32{0, 0}),
	}
	_, err = params.Load(file, true)
	fmt.Println(err)
	delete(file, "head.bias")
	file["fc.bias"] = tensorio.NewFloat32([]int{2}, []float32{0.5, -0.5})
	_, err = params.Load(file, true)
	fmt.Println(err, params.Get("fc.weight").Value.Data())
	// Output:
	// weights do not match the model: missing fc.bias; unexpected head.bias
	// <nil> [1 2 3 4 5 6 7 8]
}
