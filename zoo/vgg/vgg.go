// Package vgg declares torchvision's VGG family (models/vgg.py) under its parameter names:
//
//	features (3x3 convs with padding 1, each with a ReLU, after a BatchNorm in the _bn
//	variants; 2x2 max pools between the groups) -> avgpool (adaptive, to 7x7) -> flatten
//	-> classifier (Linear 512*7*7 -> 4096, ReLU, Dropout, Linear 4096 -> 4096, ReLU,
//	Dropout, Linear 4096 -> classes)
//
// The layers of features and classifier are numbered as torchvision's nn.Sequential numbers
// them, the ReLUs, pools and dropouts included: features.0.weight, classifier.6.bias.
package vgg

import (
	"fmt"
	"strconv"

	"github.com/nndl/cnn/graph"
	"gorgonia.org/gorgonia"
)

// M marks a max pool in a configuration.
const M = 0

// Configs are torchvision's cfgs: the output channels of each conv, M for a pool.
var Configs = map[string][]int{
	"A": {64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M},                                        // vgg11
	"B": {64, 64, M, 128, 128, M, 256, 256, M, 512, 512, M, 512, 512, M},                               // vgg13
	"D": {64, 64, M, 128, 128, M, 256, 256, 256, M, 512, 512, 512, M, 512, 512, 512, M},                // vgg16
	"E": {64, 64, M, 128, 128, M, 256, 256, 256, 256, M, 512, 512, 512, 512, M, 512, 512, 512, 512, M}, // vgg19
}

// Config chooses a VGG.
type Config struct {
	Name       string  // the model's name, "vgg16_bn" say
	Layers     []int   // the features: output channels of each conv, M for a pool
	BatchNorm  bool    // a BatchNorm after every conv (the _bn variants)
	InChannels int     // input channels (3 in torchvision)
	Classes    int     // width of the logits
	Dropout    float64 // the classifier's dropout probability (torchvision's 0.5)
}

// Check reports a configuration that cannot be declared.
func (c Config) Check() error {
	if c.InChannels < 1 || c.Classes < 1 {
		return fmt.Errorf("in_channels %d, num_classes %d: want at least 1", c.InChannels, c.Classes)
	}
	if len(c.Layers) == 0 {
		return fmt.Errorf("no layers")
	}
	for _, v := range c.Layers {
		if v < 0 {
			return fmt.Errorf("layers %v: want output channels or M (0)", c.Layers)
		}
	}
	if !(c.Dropout >= 0 && c.Dropout <= 1) {
		return fmt.Errorf("dropout %v: want 0 <= p <= 1", c.Dropout)
	}
	return nil
}

// New returns the VGG described by cfg for inputs of cfg.InChannels x 224 x 224.
// Convolutions start KaimingNormal over their fan in (torchvision draws over the fan out),
// linear layers XavierUniform (torchvision: Normal(0, 0.01)), biases at zero. New panics on
// a configuration that Check refuses.
func New(cfg Config) graph.Model {
	if err := cfg.Check(); err != nil {
		panic("vgg: " + err.Error())
	}
	return graph.Model{
		Name:    cfg.Name,
		Input:   []int{cfg.InChannels, 224, 224},
		Classes: cfg.Classes,
		Forward: func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node {
			n.Block("features", func() { x = makeLayers(n, x, cfg.Layers, cfg.BatchNorm) })
			x = n.AdaptiveAvgPool2D("avgpool", x, 7, 7)
			x = n.Flatten("flatten", x)
			n.Block("classifier", func() {
				x = n.ReLU(n.Linear("0", x, 4096))
				x = n.Dropout("2", x, cfg.Dropout)
				x = n.ReLU(n.Linear("3", x, 4096))
				x = n.Dropout("5", x, cfg.Dropout)
				x = n.Linear("6", x, cfg.Classes)
			})
			return x
		},
	}
}

// makeLayers adds the features, numbering each module as nn.Sequential does.
func makeLayers(n *graph.Net, x *gorgonia.Node, layers []int, batchNorm bool) *gorgonia.Node {
	i := 0
	next := func() string { i++; return strconv.Itoa(i - 1) }
	for _, v := range layers {
		if v == M {
			x = n.MaxPool2D(next(), x, graph.Pool{Kernel: 2, Stride: 2})
			continue
		}
		x = n.Conv2D(next(), x, graph.Conv{Out: v, Kernel: 3, Padding: 1})
		if batchNorm {
			x = n.BatchNorm2D(next(), x)
		}
		x = n.Activation(next(), x, graph.ReLU)
	}
	return x
}
