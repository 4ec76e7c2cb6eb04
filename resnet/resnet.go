// Package resnet declares torchvision's ResNet family (models/resnet.py), layer for layer and
// under the same parameter names, and the chapter's ResNet18 (section 5.4.1) as one member:
//
//	conv1 7x7/2 pad 3 -> bn1 -> ReLU -> maxpool 3x3/2 pad 1
//	-> layer1 (W channels) -> layer2 (2W, stride 2) -> layer3 (4W, stride 2)
//	-> layer4 (8W, stride 2) -> avgpool (global) -> flatten -> fc
//
// A stage is a list of blocks. The basic block (ResNet18/34) is conv1 3x3 -> bn1 -> ReLU ->
// conv2 3x3 -> bn2; the bottleneck (ResNet50 and up, ResNeXt, Wide ResNet) is conv1 1x1 ->
// bn1 -> ReLU -> conv2 3x3 (grouped) -> bn2 -> ReLU -> conv3 1x1 (4x the channels) -> bn3.
// Either adds the shortcut (the identity, or downsample: a 1x1 conv and a BatchNorm when the
// channels or the stride change), then ReLU. Switching the residual connection off drops the
// shortcut and its parameters, as the chapter's use_residual=False does.
package resnet

import (
	"fmt"
	"strconv"

	"github.com/nndl/cnn/graph"
	"gorgonia.org/gorgonia"
)

// Block is the kind of residual block.
type Block int

const (
	// Basic is torchvision's BasicBlock: two 3x3 convolutions, expansion 1.
	Basic Block = iota
	// Bottleneck is torchvision's Bottleneck: 1x1, 3x3 (grouped), 1x1, expansion 4.
	Bottleneck
)

// String returns the name the metadata uses: "basic" or "bottleneck".
func (b Block) String() string {
	if b == Bottleneck {
		return "bottleneck"
	}
	return "basic"
}

// expansion is the ratio of a block's output channels to its stage's planes.
func (b Block) expansion() int {
	if b == Bottleneck {
		return 4
	}
	return 1
}

// Config chooses a ResNet: torchvision's constructor arguments (block, layers, groups,
// width_per_group, replace_stride_with_dilation) with the stem's width, plus the chapter's
// two switches.
type Config struct {
	Name       string // the model's name; "resnet18" when empty
	InChannels int    // input channels (1 for MNIST)
	Classes    int    // width of the logits
	Width      int    // channels of the stem and the planes of layer1, doubled by each later stage; 64 when 0
	Residual   bool   // add the shortcut in every block (the chapter's use_residual)
	StemBias   bool   // give the 7x7 stem conv a bias, as the chapter's Paddle code does (torchvision's has none)

	Block  Block // Basic (the zero value) or Bottleneck
	Layers []int // blocks in each of the four stages; {2, 2, 2, 2} when nil
	// Groups and WidthPerGroup set a bottleneck's inner width: planes*WidthPerGroup/64*Groups
	// channels in Groups groups (ResNeXt 32x4d: 32 and 4; Wide ResNet: 1 and 128). 1 and 64
	// when 0; a basic block takes only those.
	Groups, WidthPerGroup int
	// ReplaceStrideWithDilation turns the stride of layer2, layer3 or layer4 into a dilation
	// of the later 3x3 convolutions (bottleneck blocks only).
	ReplaceStrideWithDilation [3]bool
}

// withDefaults fills the zero values.
func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = "resnet18"
	}
	if c.Width == 0 {
		c.Width = 64
	}
	if c.Layers == nil {
		c.Layers = []int{2, 2, 2, 2}
	}
	if c.Groups == 0 {
		c.Groups = 1
	}
	if c.WidthPerGroup == 0 {
		c.WidthPerGroup = 64
	}
	return c
}

// Check reports a configuration torchvision refuses or that cannot be declared.
func (c Config) Check() error {
	c = c.withDefaults()
	switch {
	case c.InChannels < 1 || c.Classes < 1 || c.Width < 1:
		return fmt.Errorf("in_channels %d, num_classes %d, width %d: want at least 1", c.InChannels, c.Classes, c.Width)
	case len(c.Layers) != 4:
		return fmt.Errorf("layers %v: want the blocks of 4 stages", c.Layers)
	case c.Groups < 1 || c.WidthPerGroup < 1:
		return fmt.Errorf("groups %d, width_per_group %d: want at least 1", c.Groups, c.WidthPerGroup)
	case c.Block == Basic && (c.Groups != 1 || c.WidthPerGroup != 64):
		return fmt.Errorf("groups %d, width_per_group %d: the basic block supports only groups 1 and width_per_group 64", c.Groups, c.WidthPerGroup)
	case c.Block == Basic && c.ReplaceStrideWithDilation != [3]bool{}:
		return fmt.Errorf("replace_stride_with_dilation %v: the basic block has no dilation", c.ReplaceStrideWithDilation)
	case c.Block != Basic && c.Block != Bottleneck:
		return fmt.Errorf("block %d: want basic or bottleneck", c.Block)
	}
	for _, l := range c.Layers {
		if l < 1 {
			return fmt.Errorf("layers %v: want at least 1 block per stage", c.Layers)
		}
	}
	return nil
}

// ResNet18 returns the chapter's model for inputs of inChannels x 32 x 32: width 64, the
// residual connections on and a bias on the stem conv.
func ResNet18(inChannels, classes int) graph.Model {
	return New(Config{InChannels: inChannels, Classes: classes, Width: 64, Residual: true, StemBias: true})
}

// New returns the ResNet described by cfg for inputs of cfg.InChannels x 32 x 32 (set the
// returned Model's Input for another size). Convolutions start KaimingNormal over their fan
// in (paddle.nn.Conv2D's default; torchvision draws over the fan out), the fc layer
// XavierUniform, biases at zero, BatchNorm scale at one and shift at zero. New panics on a
// configuration that Check refuses.
func New(cfg Config) graph.Model {
	if err := cfg.Check(); err != nil {
		panic("resnet: " + err.Error())
	}
	cfg = cfg.withDefaults()
	return graph.Model{
		Name:    cfg.Name,
		Input:   []int{cfg.InChannels, 32, 32},
		Classes: cfg.Classes,
		Forward: func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node {
			r := &resNet{cfg: cfg, inplanes: cfg.Width, dilation: 1}
			w := cfg.Width
			x = n.Conv2D("conv1", x, graph.Conv{Out: w, Kernel: 7, Stride: 2, Padding: 3, NoBias: !cfg.StemBias})
			x = n.BatchNorm2D("bn1", x)
			x = n.ReLU(x)
			x = n.MaxPool2D("maxpool", x, graph.Pool{Kernel: 3, Stride: 2, Padding: 1})
			x = r.makeLayer(n, "layer1", x, w, cfg.Layers[0], 1, false)
			x = r.makeLayer(n, "layer2", x, 2*w, cfg.Layers[1], 2, cfg.ReplaceStrideWithDilation[0])
			x = r.makeLayer(n, "layer3", x, 4*w, cfg.Layers[2], 2, cfg.ReplaceStrideWithDilation[1])
			x = r.makeLayer(n, "layer4", x, 8*w, cfg.Layers[3], 2, cfg.ReplaceStrideWithDilation[2])
			x = n.GlobalAvgPool2D("avgpool", x)
			x = n.Flatten("flatten", x)
			return n.Linear("fc", x, cfg.Classes)
		},
	}
}

// resNet is the state torchvision's ResNet keeps while it makes its stages.
type resNet struct {
	cfg      Config
	inplanes int // channels into the next block
	dilation int // dilation of the next blocks' 3x3 convolutions
}

// makeLayer adds one stage named name: blocks blocks of planes planes named "0", "1", ...,
// the first with the given stride, or, with dilate, with the stride turned into dilation.
func (r *resNet) makeLayer(n *graph.Net, name string, x *gorgonia.Node, planes, blocks, stride int, dilate bool) *gorgonia.Node {
	previous := r.dilation
	if dilate {
		r.dilation *= stride
		stride = 1
	}
	n.Block(name, func() {
		for i := 0; i < blocks; i++ {
			s, d := 1, r.dilation
			if i == 0 {
				s, d = stride, previous
			}
			n.Block(strconv.Itoa(i), func() { x = r.block(n, x, planes, s, d) })
			r.inplanes = planes * r.cfg.Block.expansion()
		}
	})
	return x
}

// block adds one residual block of planes planes: its body, then, with residual set, the
// shortcut (downsample when the channels or the stride change), then ReLU.
func (r *resNet) block(n *graph.Net, x *gorgonia.Node, planes, stride, dilation int) *gorgonia.Node {
	var y *gorgonia.Node
	if r.cfg.Block == Bottleneck {
		y = r.bottleneck(n, x, planes, stride, dilation)
	} else {
		y = basicBlock(n, x, planes, stride)
	}
	if r.cfg.Residual {
		shortcut, out := x, planes*r.cfg.Block.expansion()
		if r.inplanes != out || stride != 1 {
			n.Block("downsample", func() {
				shortcut = n.Conv2D("0", x, graph.Conv{Out: out, Kernel: 1, Stride: stride, NoBias: true})
				shortcut = n.BatchNorm2D("1", shortcut)
			})
		}
		y = n.Add("add", y, shortcut)
	}
	return n.ReLU(y)
}

// basicBlock adds the body of torchvision's BasicBlock: two 3x3 convs without bias, each
// followed by a BatchNorm, the first with the stride and a ReLU.
func basicBlock(n *graph.Net, x *gorgonia.Node, planes, stride int) *gorgonia.Node {
	y := n.Conv2D("conv1", x, graph.Conv{Out: planes, Kernel: 3, Stride: stride, Padding: 1, NoBias: true})
	y = n.BatchNorm2D("bn1", y)
	y = n.ReLU(y)
	y = n.Conv2D("conv2", y, graph.Conv{Out: planes, Kernel: 3, Padding: 1, NoBias: true})
	return n.BatchNorm2D("bn2", y)
}

// bottleneck adds the body of torchvision's Bottleneck: a 1x1 conv to the inner width, the
// 3x3 conv with the stride, the groups and the dilation, a 1x1 conv to 4x planes, each
// followed by a BatchNorm, the first two by a ReLU.
func (r *resNet) bottleneck(n *graph.Net, x *gorgonia.Node, planes, stride, dilation int) *gorgonia.Node {
	width := planes * r.cfg.WidthPerGroup / 64 * r.cfg.Groups
	y := n.Conv2D("conv1", x, graph.Conv{Out: width, Kernel: 1, NoBias: true})
	y = n.ReLU(n.BatchNorm2D("bn1", y))
	y = n.Conv2D("conv2", y, graph.Conv{Out: width, Kernel: 3, Stride: stride, Padding: dilation,
		Dilation: [2]int{dilation, dilation}, Groups: r.cfg.Groups, NoBias: true})
	y = n.ReLU(n.BatchNorm2D("bn2", y))
	y = n.Conv2D("conv3", y, graph.Conv{Out: planes * 4, Kernel: 1, NoBias: true})
	return n.BatchNorm2D("bn3", y)
}
