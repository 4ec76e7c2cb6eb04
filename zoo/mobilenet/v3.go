package mobilenet

import (
	"github.com/nndl/cnn/graph"
	"gorgonia.org/gorgonia"
)

// v3Block is torchvision's InvertedResidualConfig before width_mult: input, kernel,
// expanded and output channels, squeeze-and-excitation, Hardswish (else ReLU), stride.
type v3Block struct {
	in, kernel, expanded, out int
	se, hs                    bool
	stride                    int
}

// v3Small is torchvision's mobilenet_v3_small setting (no reduced tail, no dilation).
var v3Small = []v3Block{
	{16, 3, 16, 16, true, false, 2},
	{16, 3, 72, 24, false, false, 2},
	{24, 3, 88, 24, false, false, 1},
	{24, 5, 96, 40, true, true, 2},
	{40, 5, 240, 40, true, true, 1},
	{40, 5, 240, 40, true, true, 1},
	{40, 5, 120, 48, true, true, 1},
	{48, 5, 144, 48, true, true, 1},
	{48, 5, 288, 96, true, true, 2},
	{96, 5, 576, 96, true, true, 1},
	{96, 5, 576, 96, true, true, 1},
}

// V3Small returns MobileNetV3-small for inputs of cfg.InChannels x 224 x 224: features.0
// (3x3/2 stem, Hardswish), features.1-11 (inverted residuals, NAME.block.*), features.12
// (1x1 to 6x the channels, Hardswish), a global average pool, then classifier.0 (Linear to
// 1024*width_mult, rounded), Hardswish, Dropout, classifier.3 (Linear to the classes).
// BatchNorm has eps 0.001 and PyTorch momentum 0.01, as in torchvision. Initialisers as V2's.
// V3Small panics on a configuration that Check refuses.
func V3Small(cfg Config) graph.Model {
	if err := cfg.Check(); err != nil {
		panic("mobilenet: " + err.Error())
	}
	adjust := func(c int) int { return makeDivisible(float64(c)*cfg.WidthMult, 8) }
	return graph.Model{
		Name:    "mobilenet_v3_small",
		Input:   []int{cfg.InChannels, 224, 224},
		Classes: cfg.Classes,
		Forward: func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node {
			norm := cfg.norm(0.001, 0.01) // torchvision's MobileNetV3 BatchNorm
			var i index
			n.Block("features", func() {
				x = convNormAct(n, i.next(), x, adjust(v3Small[0].in), 3, 2, 1, norm, &graph.Hardswish)
				for _, b := range v3Small {
					b.in, b.expanded, b.out = adjust(b.in), adjust(b.expanded), adjust(b.out)
					n.Block(i.next(), func() { x = invertedResidualV3(n, x, b, norm) })
				}
				x = convNormAct(n, i.next(), x, 6*adjust(v3Small[len(v3Small)-1].out), 1, 1, 1, norm, &graph.Hardswish)
			})
			x = n.GlobalAvgPool2D("avgpool", x)
			x = n.Flatten("flatten", x)
			n.Block("classifier", func() {
				x = n.Linear("0", x, adjust(1024))
				x = n.Activation("1", x, graph.Hardswish)
				x = n.Dropout("2", x, cfg.Dropout)
				x = n.Linear("3", x, cfg.Classes)
			})
			return x
		},
	}
}

// invertedResidualV3 adds torchvision's MobileNetV3 InvertedResidual: block.* holds the 1x1
// expansion (absent when the channels are already expanded), the depthwise k x k with the
// stride, the squeeze-and-excitation, the 1x1 projection without activation; the input is
// added back when the stride is 1 and the channels are kept.
func invertedResidualV3(n *graph.Net, x *gorgonia.Node, b v3Block, norm graph.Norm) *gorgonia.Node {
	act := &graph.ReLU
	if b.hs {
		act = &graph.Hardswish
	}
	y := x
	var i index
	n.Block("block", func() {
		if b.expanded != b.in {
			y = convNormAct(n, i.next(), y, b.expanded, 1, 1, 1, norm, act)
		}
		y = convNormAct(n, i.next(), y, b.expanded, b.kernel, b.stride, b.expanded, norm, act)
		if b.se {
			n.Block(i.next(), func() { y = squeezeExcitation(n, y, b.expanded, makeDivisible(float64(b.expanded/4), 8)) })
		}
		y = convNormAct(n, i.next(), y, b.out, 1, 1, 1, norm, nil)
	})
	if b.stride == 1 && b.in == b.out {
		y = n.Add("add", y, x)
	}
	return y
}

// squeezeExcitation adds torchvision's SqueezeExcitation: the channels' means, fc1 (a 1x1
// conv to squeeze channels), ReLU, fc2 (back to the channels), Hardsigmoid, and x scaled by
// the result.
func squeezeExcitation(n *graph.Net, x *gorgonia.Node, channels, squeeze int) *gorgonia.Node {
	s := n.GlobalAvgPool2D("avgpool", x)
	s = n.ReLU(n.Conv2D("fc1", s, graph.Conv{Out: squeeze, Kernel: 1}))
	s = n.Activation("", n.Conv2D("fc2", s, graph.Conv{Out: channels, Kernel: 1}), graph.Hardsigmoid)
	return n.Mul("scale", x, s)
}
