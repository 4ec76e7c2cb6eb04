// Package squeezenet declares torchvision's SqueezeNet 1.1 (models/squeezenet.py) under its
// parameter names:
//
//	features: conv 64@3x3/2, ReLU, max 3/2 (ceil), fire3, fire4, max 3/2 (ceil), fire6,
//	fire7, max 3/2 (ceil), fire9, fire10, fire11, fire12
//	-> classifier: Dropout, classifier.1 (1x1 conv to the classes), ReLU, global average
//	pool -> flatten
//
// numbered as nn.Sequential numbers them (features.3.squeeze.weight). A fire module is a
// 1x1 squeeze conv with ReLU whose output feeds a 1x1 and a 3x3 expand conv, each with
// ReLU, concatenated.
package squeezenet

import (
	"fmt"

	"github.com/nndl/cnn/graph"
	"gorgonia.org/gorgonia"
)

// Config chooses a SqueezeNet 1.1's input, head and dropout.
type Config struct {
	InChannels int     // input channels (3 in torchvision)
	Classes    int     // width of the logits
	Dropout    float64 // the classifier's dropout probability (torchvision's 0.5)
}

// Check reports a configuration that cannot be declared.
func (c Config) Check() error {
	if c.InChannels < 1 || c.Classes < 1 {
		return fmt.Errorf("in_channels %d, num_classes %d: want at least 1", c.InChannels, c.Classes)
	}
	if !(c.Dropout >= 0 && c.Dropout <= 1) {
		return fmt.Errorf("dropout %v: want 0 <= p <= 1", c.Dropout)
	}
	return nil
}

// fires are SqueezeNet 1.1's fire modules: index in features, squeeze, expand1x1 and
// expand3x3 channels; a pool precedes the modules at 3, 6 and 9.
var fires = [][4]int{
	{3, 16, 64, 64}, {4, 16, 64, 64},
	{6, 32, 128, 128}, {7, 32, 128, 128},
	{9, 48, 192, 192}, {10, 48, 192, 192}, {11, 64, 256, 256}, {12, 64, 256, 256},
}

// V1_1 returns SqueezeNet 1.1 for inputs of cfg.InChannels x 224 x 224. Convolutions start
// KaimingNormal over their fan in (torchvision: kaiming_uniform_, and Normal(0, 0.01) for
// the final conv), biases at zero. V1_1 panics on a configuration that Check refuses.
func V1_1(cfg Config) graph.Model {
	if err := cfg.Check(); err != nil {
		panic("squeezenet: " + err.Error())
	}
	return graph.Model{
		Name:    "squeezenet1_1",
		Input:   []int{cfg.InChannels, 224, 224},
		Classes: cfg.Classes,
		Forward: func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node {
			pool := func(name string) {
				x = n.MaxPool2D(name, x, graph.Pool{Kernel: 3, Stride: 2, Ceil: true})
			}
			n.Block("features", func() {
				x = n.ReLU(n.Conv2D("0", x, graph.Conv{Out: 64, Kernel: 3, Stride: 2}))
				pool("2")
				for _, f := range fires {
					if f[0] == 6 || f[0] == 9 {
						pool(fmt.Sprint(f[0] - 1))
					}
					n.Block(fmt.Sprint(f[0]), func() { x = fire(n, x, f[1], f[2], f[3]) })
				}
			})
			n.Block("classifier", func() {
				x = n.Dropout("0", x, cfg.Dropout)
				x = n.ReLU(n.Conv2D("1", x, graph.Conv{Out: cfg.Classes, Kernel: 1}))
				x = n.GlobalAvgPool2D("3", x)
			})
			return n.Flatten("flatten", x)
		},
	}
}

// fire adds torchvision's Fire module.
func fire(n *graph.Net, x *gorgonia.Node, squeeze, e1, e3 int) *gorgonia.Node {
	x = n.ReLU(n.Conv2D("squeeze", x, graph.Conv{Out: squeeze, Kernel: 1}))
	a := n.ReLU(n.Conv2D("expand1x1", x, graph.Conv{Out: e1, Kernel: 1}))
	b := n.ReLU(n.Conv2D("expand3x3", x, graph.Conv{Out: e3, Kernel: 3, Padding: 1}))
	return n.Concat("cat", a, b)
}
