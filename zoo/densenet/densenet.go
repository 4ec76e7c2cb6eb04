// Package densenet declares torchvision's DenseNet (models/densenet.py) under its parameter
// names:
//
//	features: conv0 7x7/2 pad 3 -> norm0 -> ReLU -> pool0 max 3/2 pad 1
//	-> denseblock1 -> transition1 -> ... -> denseblockK -> norm5
//	-> ReLU -> global average pool -> flatten -> classifier
//
// A dense layer (denseblockB.denselayerL) reads the concatenation of its block's input and of
// every earlier layer's output: norm1 -> ReLU -> conv1 1x1 to bn_size*growth_rate channels
// -> norm2 -> ReLU -> conv2 3x3 to growth_rate channels. A transition halves the channels
// (norm -> ReLU -> conv 1x1) and the map (pool: average 2/2).
package densenet

import (
	"fmt"
	"strconv"

	"github.com/nndl/cnn/graph"
	"gorgonia.org/gorgonia"
)

// Config holds torchvision's DenseNet constructor arguments (drop_rate 0, its default).
type Config struct {
	Name            string // the model's name; "densenet" when empty
	GrowthRate      int    // channels each dense layer adds (32 in densenet121)
	BlockConfig     []int  // dense layers in each block (6, 12, 24, 16 in densenet121)
	NumInitFeatures int    // channels of the stem (64 in densenet121)
	BnSize          int    // the bottleneck is BnSize*GrowthRate channels wide (4)
	InChannels      int    // input channels (3 in torchvision)
	Classes         int    // width of the logits
}

// Check reports a configuration that cannot be declared.
func (c Config) Check() error {
	if c.InChannels < 1 || c.Classes < 1 {
		return fmt.Errorf("in_channels %d, num_classes %d: want at least 1", c.InChannels, c.Classes)
	}
	if c.GrowthRate < 1 || c.NumInitFeatures < 1 || c.BnSize < 1 {
		return fmt.Errorf("growth_rate %d, num_init_features %d, bn_size %d: want at least 1", c.GrowthRate, c.NumInitFeatures, c.BnSize)
	}
	if len(c.BlockConfig) == 0 {
		return fmt.Errorf("block_config is empty: want the layers of each dense block")
	}
	for _, l := range c.BlockConfig {
		if l < 1 {
			return fmt.Errorf("block_config %v: want at least 1 layer per block", c.BlockConfig)
		}
	}
	return nil
}

// New returns the DenseNet described by cfg for inputs of cfg.InChannels x 224 x 224.
// Convolutions start KaimingNormal over their fan in, as torchvision's do; the classifier
// XavierUniform (torchvision: PyTorch's default uniform), biases at zero. New panics on a
// configuration that Check refuses.
func New(cfg Config) graph.Model {
	if err := cfg.Check(); err != nil {
		panic("densenet: " + err.Error())
	}
	if cfg.Name == "" {
		cfg.Name = "densenet"
	}
	return graph.Model{
		Name:    cfg.Name,
		Input:   []int{cfg.InChannels, 224, 224},
		Classes: cfg.Classes,
		Forward: func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node {
			n.Block("features", func() {
				x = n.Conv2D("conv0", x, graph.Conv{Out: cfg.NumInitFeatures, Kernel: 7, Stride: 2, Padding: 3, NoBias: true})
				x = n.ReLU(n.BatchNorm2D("norm0", x))
				x = n.MaxPool2D("pool0", x, graph.Pool{Kernel: 3, Stride: 2, Padding: 1})
				features := cfg.NumInitFeatures
				for i, layers := range cfg.BlockConfig {
					b := strconv.Itoa(i + 1)
					n.Block("denseblock"+b, func() { x = denseBlock(n, x, layers, cfg.GrowthRate, cfg.BnSize) })
					features += layers * cfg.GrowthRate
					if i != len(cfg.BlockConfig)-1 {
						features /= 2
						n.Block("transition"+b, func() { x = transition(n, x, features) })
					}
				}
				x = n.BatchNorm2D("norm5", x)
			})
			x = n.ReLU(x)
			x = n.GlobalAvgPool2D("avgpool", x)
			x = n.Flatten("flatten", x)
			return n.Linear("classifier", x, cfg.Classes)
		},
	}
}

// denseBlock adds layers dense layers (denselayer1, ...) and returns the concatenation of
// the block's input and their outputs.
func denseBlock(n *graph.Net, x *gorgonia.Node, layers, growth, bnSize int) *gorgonia.Node {
	features := []*gorgonia.Node{x}
	for l := 1; l <= layers; l++ {
		n.Block("denselayer"+strconv.Itoa(l), func() {
			in := features[0]
			if len(features) > 1 {
				in = n.Concat("cat", features...)
			}
			y := n.Conv2D("conv1", n.ReLU(n.BatchNorm2D("norm1", in)), graph.Conv{Out: bnSize * growth, Kernel: 1, NoBias: true})
			y = n.Conv2D("conv2", n.ReLU(n.BatchNorm2D("norm2", y)), graph.Conv{Out: growth, Kernel: 3, Padding: 1, NoBias: true})
			features = append(features, y)
		})
	}
	return n.Concat("cat", features...)
}

// transition adds torchvision's _Transition to out channels.
func transition(n *graph.Net, x *gorgonia.Node, out int) *gorgonia.Node {
	x = n.ReLU(n.BatchNorm2D("norm", x))
	x = n.Conv2D("conv", x, graph.Conv{Out: out, Kernel: 1, NoBias: true})
	return n.AvgPool2D("pool", x, graph.Pool{Kernel: 2, Stride: 2})
}
