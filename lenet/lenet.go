// Package lenet declares the chapter's LeNet-5 (section 5.3.2):
//
//	conv1 6@5x5 -> ReLU -> pool2 max 2/2 -> conv3 16@5x5 -> ReLU -> pool4 avg 2/2
//	-> conv5 120@5x5 -> ReLU -> flatten -> linear6 120->84 -> ReLU -> linear7 84->classes
//
// One declaration serves both of the chapter's builds: compiled with graph.Naive it runs on
// the hand-written Conv2D and Pool2D operators, with graph.Fast on the fast ones. The
// parameter names (conv1, conv3, conv5, linear6, linear7) are the same in both.
package lenet

import (
	"github.com/nndl/cnn/graph"
	"gorgonia.org/gorgonia"
)

// New returns LeNet-5 for inputs of inChannels x 32 x 32 and the given number of classes.
// Weights start XavierUniform and biases at zero, as in the chapter's code.
func New(inChannels, classes int) graph.Model {
	return graph.Model{
		Name:    "lenet",
		Input:   []int{inChannels, 32, 32},
		Classes: classes,
		Forward: func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node {
			conv := func(out int) graph.Conv { return graph.Conv{Out: out, Kernel: 5, Init: graph.XavierUniform} }
			x = n.ReLU(n.Conv2D("conv1", x, conv(6)))
			x = n.MaxPool2D("pool2", x, graph.Pool{Kernel: 2, Stride: 2})
			x = n.ReLU(n.Conv2D("conv3", x, conv(16)))
			x = n.AvgPool2D("pool4", x, graph.Pool{Kernel: 2, Stride: 2})
			x = n.ReLU(n.Conv2D("conv5", x, conv(120)))
			x = n.Flatten("flatten", x)
			x = n.ReLU(n.Linear("linear6", x, 84))
			return n.Linear("linear7", x, classes)
		},
	}
}
