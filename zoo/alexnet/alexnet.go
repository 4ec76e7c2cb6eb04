// Package alexnet declares torchvision's AlexNet (models/alexnet.py) under its parameter
// names:
//
//	features: conv 64@11x11/4 pad 2, ReLU, max 3/2, conv 192@5x5 pad 2, ReLU, max 3/2,
//	conv 384@3x3 pad 1, ReLU, conv 256@3x3 pad 1, ReLU, conv 256@3x3 pad 1, ReLU, max 3/2
//	-> avgpool (adaptive, to 6x6) -> flatten -> classifier: Dropout, Linear 9216 -> 4096,
//	ReLU, Dropout, Linear 4096 -> 4096, ReLU, Linear 4096 -> classes
//
// numbered as torchvision's nn.Sequential numbers them: features.0, features.3, ...,
// classifier.1, classifier.4, classifier.6.
package alexnet

import (
	"fmt"

	"github.com/nndl/cnn/graph"
	"gorgonia.org/gorgonia"
)

// Config chooses an AlexNet's input, head and dropout.
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

// New returns AlexNet for inputs of cfg.InChannels x 224 x 224. Convolutions start
// KaimingNormal over their fan in, linear layers XavierUniform, biases at zero (torchvision
// keeps PyTorch's default uniform initialisers). New panics on a configuration that Check
// refuses.
func New(cfg Config) graph.Model {
	if err := cfg.Check(); err != nil {
		panic("alexnet: " + err.Error())
	}
	return graph.Model{
		Name:    "alexnet",
		Input:   []int{cfg.InChannels, 224, 224},
		Classes: cfg.Classes,
		Forward: func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node {
			conv := func(name string, out, k, s, p int) {
				x = n.Conv2D(name, x, graph.Conv{Out: out, Kernel: k, Stride: s, Padding: p})
				x = n.ReLU(x)
			}
			pool := func(name string) { x = n.MaxPool2D(name, x, graph.Pool{Kernel: 3, Stride: 2}) }
			n.Block("features", func() {
				conv("0", 64, 11, 4, 2)
				pool("2")
				conv("3", 192, 5, 1, 2)
				pool("5")
				conv("6", 384, 3, 1, 1)
				conv("8", 256, 3, 1, 1)
				conv("10", 256, 3, 1, 1)
				pool("12")
			})
			x = n.AdaptiveAvgPool2D("avgpool", x, 6, 6)
			x = n.Flatten("flatten", x)
			n.Block("classifier", func() {
				x = n.Dropout("0", x, cfg.Dropout)
				x = n.ReLU(n.Linear("1", x, 4096))
				x = n.Dropout("3", x, cfg.Dropout)
				x = n.ReLU(n.Linear("4", x, 4096))
				x = n.Linear("6", x, cfg.Classes)
			})
			return x
		},
	}
}
