// Command mycli is the cnn tool with a model of its own, tinynet, registered with
// cli.Register: every command of cnn takes it by name.
//
//	go run ./examples/mycli summary tinynet
//	go run ./examples/mycli train tinynet --epochs 1 --out runs/tinynet
//	go run ./examples/mycli predict --weights runs/tinynet/best.safetensors --index 0
package main

import (
	"os"

	"github.com/nndl/cnn/cli"
	"github.com/nndl/cnn/graph"
	"gorgonia.org/gorgonia"
)

func main() {
	cli.Register("tinynet", tinyNetModel)
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}

// tinyNetModel is tinynet as cli.Register takes it: 1x28x28 inputs and 10 classes unless
// the command line asks for others.
var tinyNetModel = cli.Model{Doc: "two 3x3 convolutions, global average pooling, a linear head", Input: []int{1, 28, 28}, Build: tinyNet}

// tinyNet declares tinynet for the input and classes of cfg: two 3x3 convolutions with a
// max pooling between them, global average pooling and a linear head. It takes any
// channels, height and width.
func tinyNet(cfg cli.Config) (graph.Model, error) {
	return graph.Model{
		Input:   cfg.Input,
		Classes: cfg.Classes,
		Forward: func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node {
			x = n.ReLU(n.Conv2D("conv1", x, graph.Conv{Out: 8, Kernel: 3, Padding: 1}))
			x = n.MaxPool2D("pool1", x, graph.Pool{Kernel: 2})
			x = n.ReLU(n.Conv2D("conv2", x, graph.Conv{Out: 16, Kernel: 3, Padding: 1}))
			x = n.Flatten("flatten", n.GlobalAvgPool2D("gap", x))
			return n.Linear("fc", x, cfg.Classes)
		},
	}, nil
}
