package mobilenet

import (
	"github.com/nndl/cnn/graph"
	"gorgonia.org/gorgonia"
)

// v2Setting is torchvision's inverted_residual_setting: expansion t, channels c, blocks n,
// stride s of the first.
var v2Setting = [][4]int{
	{1, 16, 1, 1},
	{6, 24, 2, 2},
	{6, 32, 3, 2},
	{6, 64, 4, 2},
	{6, 96, 3, 1},
	{6, 160, 3, 2},
	{6, 320, 1, 1},
}

// V2 returns MobileNetV2 for inputs of cfg.InChannels x 224 x 224: features.0 (3x3/2 stem),
// features.1-17 (inverted residuals, NAME.conv.*), features.18 (1x1 to 1280*max(1,
// width_mult) channels), then a global average pool and classifier (Dropout, Linear:
// classifier.1). Activations are ReLU6, BatchNorm PyTorch's default. Convolutions start
// KaimingNormal over their fan in (torchvision: fan out), the Linear XavierUniform
// (torchvision: Normal(0, 0.01)). V2 panics on a configuration that Check refuses.
func V2(cfg Config) graph.Model {
	if err := cfg.Check(); err != nil {
		panic("mobilenet: " + err.Error())
	}
	return graph.Model{
		Name:    "mobilenet_v2",
		Input:   []int{cfg.InChannels, 224, 224},
		Classes: cfg.Classes,
		Forward: func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node {
			norm := cfg.norm(graph.BatchNormEpsilon, 0.1)
			in := makeDivisible(32*cfg.WidthMult, 8)
			last := makeDivisible(1280*max(1, cfg.WidthMult), 8)
			var i index
			n.Block("features", func() {
				x = convNormAct(n, i.next(), x, in, 3, 2, 1, norm, &graph.ReLU6)
				for _, s := range v2Setting {
					out := makeDivisible(float64(s[1])*cfg.WidthMult, 8)
					for j := 0; j < s[2]; j++ {
						stride := 1
						if j == 0 {
							stride = s[3]
						}
						n.Block(i.next(), func() { x = invertedResidualV2(n, x, in, out, stride, s[0], norm) })
						in = out
					}
				}
				x = convNormAct(n, i.next(), x, last, 1, 1, 1, norm, &graph.ReLU6)
			})
			x = n.GlobalAvgPool2D("avgpool", x)
			x = n.Flatten("flatten", x)
			n.Block("classifier", func() {
				x = n.Dropout("0", x, cfg.Dropout)
				x = n.Linear("1", x, cfg.Classes)
			})
			return x
		},
	}
}

// invertedResidualV2 adds torchvision's MobileNetV2 InvertedResidual: conv.* holds the 1x1
// expansion to round(in*t) channels (absent when t is 1), the depthwise 3x3 with the stride,
// both with ReLU6, then the 1x1 projection and its BatchNorm; the input is added back when
// the stride is 1 and the channels are kept.
func invertedResidualV2(n *graph.Net, x *gorgonia.Node, in, out, stride, t int, norm graph.Norm) *gorgonia.Node {
	hidden := in * t
	y := x
	var i index
	n.Block("conv", func() {
		if t != 1 {
			y = convNormAct(n, i.next(), y, hidden, 1, 1, 1, norm, &graph.ReLU6)
		}
		y = convNormAct(n, i.next(), y, hidden, 3, stride, hidden, norm, &graph.ReLU6)
		y = n.Conv2D(i.next(), y, graph.Conv{Out: out, Kernel: 1, NoBias: true})
		y = n.BatchNorm2DWith(i.next(), y, norm)
	})
	if stride == 1 && in == out {
		y = n.Add("add", x, y)
	}
	return y
}
