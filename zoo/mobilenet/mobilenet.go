// Package mobilenet declares torchvision's MobileNetV2 (models/mobilenetv2.py) and
// MobileNetV3-small (models/mobilenetv3.py) under their parameter names, at any width_mult.
//
// Both are a stem conv, a list of inverted residual blocks (a 1x1 expansion, a depthwise
// conv, in V3 a squeeze-and-excitation, a 1x1 projection; the input added back when the
// shape is kept), a last 1x1 conv, a global average pool and a small classifier. Every
// conv-BatchNorm-activation triple is torchvision's Conv2dNormActivation, an nn.Sequential:
// its parameters are NAME.0.weight (the conv) and NAME.1.* (the BatchNorm).
package mobilenet

import (
	"fmt"
	"strconv"

	"github.com/nndl/cnn/graph"
	"gorgonia.org/gorgonia"
)

// Config chooses a MobileNet's width, input, head and dropout.
type Config struct {
	WidthMult  float64 // scales every layer's channels (rounded to multiples of 8); 1 in torchvision
	InChannels int     // input channels (3 in torchvision)
	Classes    int     // width of the logits
	Dropout    float64 // the classifier's dropout probability (torchvision's 0.2)
	// Momentum is the BatchNorms' momentum in PyTorch's sense (the batch statistics' weight
	// in the running ones); torchvision's when 0: 0.1 in V2, 0.01 in V3.
	Momentum float64
}

// norm returns the BatchNorm settings: eps and PyTorch's momentum def unless c.Momentum.
func (c Config) norm(eps, def float64) graph.Norm {
	if c.Momentum != 0 {
		def = c.Momentum
	}
	return graph.Norm{Eps: eps, Momentum: 1 - def}
}

// Check reports a configuration that cannot be declared.
func (c Config) Check() error {
	if c.InChannels < 1 || c.Classes < 1 {
		return fmt.Errorf("in_channels %d, num_classes %d: want at least 1", c.InChannels, c.Classes)
	}
	if !(c.WidthMult > 0 && c.WidthMult <= 16) {
		return fmt.Errorf("width_mult %v: want more than 0 and at most 16", c.WidthMult)
	}
	if !(c.Dropout >= 0 && c.Dropout <= 1) {
		return fmt.Errorf("dropout %v: want 0 <= p <= 1", c.Dropout)
	}
	if !(c.Momentum >= 0 && c.Momentum < 1) {
		return fmt.Errorf("momentum %v: want 0 <= momentum < 1", c.Momentum)
	}
	return nil
}

// makeDivisible is torchvision's _make_divisible: v rounded to the nearest multiple of
// divisor, at least divisor, and not below 90% of v.
func makeDivisible(v float64, divisor int) int {
	d := float64(divisor)
	nv := max(divisor, int(v+d/2)/divisor*divisor)
	if float64(nv) < 0.9*v {
		nv += divisor
	}
	return nv
}

// convNormAct adds torchvision's Conv2dNormActivation named name: a k x k conv without bias
// (padding (k-1)/2, groups), a BatchNorm with norm's settings and, unless act is nil, the
// activation.
func convNormAct(n *graph.Net, name string, x *gorgonia.Node, out, k, stride, groups int, norm graph.Norm, act *graph.Act) *gorgonia.Node {
	n.Block(name, func() {
		x = n.Conv2D("0", x, graph.Conv{Out: out, Kernel: k, Stride: stride, Padding: (k - 1) / 2, Groups: groups, NoBias: true})
		x = n.BatchNorm2DWith("1", x, norm)
		if act != nil {
			x = n.Activation("", x, *act)
		}
	})
	return x
}

// index names the modules of an nn.Sequential in order.
type index int

func (i *index) next() string { *i++; return strconv.Itoa(int(*i) - 1) }
