// Package resnet declares the chapter's ResNet18 (section 5.4.1), layer for layer as
// torchvision's resnet.py builds it and under the same parameter names:
//
//	conv1 7x7/2 pad 3 -> bn1 -> ReLU -> maxpool 3x3/2 pad 1
//	-> layer1 (2 blocks, W channels) -> layer2 (2W, stride 2) -> layer3 (4W, stride 2)
//	-> layer4 (8W, stride 2) -> avgpool (global) -> flatten -> fc
//
// Each stage is two basic blocks; a block is conv1 3x3 -> bn1 -> ReLU -> conv2 3x3 -> bn2,
// plus the shortcut (the identity, or downsample: a 1x1 conv and a BatchNorm when the channels
// or the stride change), then ReLU. Switching the residual connection off drops the shortcut
// and its parameters, as the chapter's use_residual=False does.
package resnet

import (
	"strconv"

	"github.com/nndl/cnn/graph"
	"gorgonia.org/gorgonia"
)

// Config chooses a ResNet18 variant.
type Config struct {
	InChannels int  // input channels (1 for MNIST)
	Classes    int  // width of the logits
	Width      int  // channels of the stem and of layer1, doubled by each later stage; 64 when 0
	Residual   bool // add the shortcut in every block (the chapter's use_residual)
	StemBias   bool // give the 7x7 stem conv a bias, as the chapter's Paddle code does (torchvision's has none)
}

// ResNet18 returns the chapter's model for inputs of inChannels x 32 x 32: width 64, the
// residual connections on and a bias on the stem conv.
func ResNet18(inChannels, classes int) graph.Model {
	return New(Config{InChannels: inChannels, Classes: classes, Width: 64, Residual: true, StemBias: true})
}

// New returns the ResNet18 described by cfg for inputs of cfg.InChannels x 32 x 32 (set the
// returned Model's Input for another size). Convolutions start KaimingNormal
// (paddle.nn.Conv2D's default), the fc layer XavierUniform, biases at zero, BatchNorm scale at
// one and shift at zero.
func New(cfg Config) graph.Model {
	if cfg.Width == 0 {
		cfg.Width = 64
	}
	return graph.Model{
		Name:    "resnet18",
		Input:   []int{cfg.InChannels, 32, 32},
		Classes: cfg.Classes,
		Forward: func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node {
			w := cfg.Width
			x = n.Conv2D("conv1", x, graph.Conv{Out: w, Kernel: 7, Stride: 2, Padding: 3, NoBias: !cfg.StemBias})
			x = n.BatchNorm2D("bn1", x)
			x = n.ReLU(x)
			x = n.MaxPool2D("maxpool", x, graph.Pool{Kernel: 3, Stride: 2, Padding: 1})
			x = makeLayer(n, "layer1", x, w, 2, 1, cfg.Residual)
			x = makeLayer(n, "layer2", x, 2*w, 2, 2, cfg.Residual)
			x = makeLayer(n, "layer3", x, 4*w, 2, 2, cfg.Residual)
			x = makeLayer(n, "layer4", x, 8*w, 2, 2, cfg.Residual)
			x = n.GlobalAvgPool2D("avgpool", x)
			x = n.Flatten("flatten", x)
			return n.Linear("fc", x, cfg.Classes)
		},
	}
}

// makeLayer adds one stage named name: blocks basic blocks of out channels named "0", "1",
// ..., the first with the given stride.
func makeLayer(n *graph.Net, name string, x *gorgonia.Node, out, blocks, stride int, residual bool) *gorgonia.Node {
	n.Block(name, func() {
		for i := 0; i < blocks; i++ {
			s := 1
			if i == 0 {
				s = stride
			}
			n.Block(strconv.Itoa(i), func() { x = basicBlock(n, x, out, s, residual) })
		}
	})
	return x
}

// basicBlock adds torchvision's BasicBlock: two 3x3 convs without bias, each followed by a
// BatchNorm, the first with the stride and a ReLU; then, with residual set, the shortcut
// (downsample when the channels or the stride change) is added; then ReLU.
func basicBlock(n *graph.Net, x *gorgonia.Node, out, stride int, residual bool) *gorgonia.Node {
	if n.Err() != nil {
		return x
	}
	in := x.Shape()[1]
	y := n.Conv2D("conv1", x, graph.Conv{Out: out, Kernel: 3, Stride: stride, Padding: 1, NoBias: true})
	y = n.BatchNorm2D("bn1", y)
	y = n.ReLU(y)
	y = n.Conv2D("conv2", y, graph.Conv{Out: out, Kernel: 3, Padding: 1, NoBias: true})
	y = n.BatchNorm2D("bn2", y)
	if residual {
		shortcut := x
		if in != out || stride != 1 {
			n.Block("downsample", func() {
				shortcut = n.Conv2D("0", x, graph.Conv{Out: out, Kernel: 1, Stride: stride, NoBias: true})
				shortcut = n.BatchNorm2D("1", shortcut)
			})
		}
		y = n.Add("add", y, shortcut)
	}
	return n.ReLU(y)
}
