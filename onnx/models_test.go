package onnx

import (
	"math/rand/v2"
	"strings"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/lenet"
	"github.com/nndl/cnn/resnet"
	"github.com/nndl/cnn/trainer"
)

// testModels are the models the ONNX tests export: the chapter's and three small families
// that between them use every layer kind of the vocabulary and every setting of the
// windows (stride, padding, dilation, groups, rectangular kernels, ceil mode, inclusive and
// exclusive averages).
func testModels() []graph.Model {
	return []graph.Model{lenet.New(1, 10), resnet.New(resnet.Config{InChannels: 1, Classes: 10, Width: 8, Residual: true, StemBias: true}),
		resnet.ResNet18(1, 10), mobileNet(), inception(), mlpHead()}
}

// mobileNet is a MobileNetV3-like stack: depthwise convolutions, ReLU6, Hardswish, and a
// squeeze-and-excitation block (GlobalAvgPool2D, 1x1 convs, Hardsigmoid, a broadcast Mul).
func mobileNet() graph.Model {
	return graph.Model{Name: "mobile", Input: []int{3, 24, 24}, Classes: 7,
		Forward: func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node {
			x = n.Conv2D("stem", x, graph.Conv{Out: 16, Kernel: 3, Stride: 2, Padding: 1, NoBias: true})
			x = n.BatchNorm2D("stem_bn", x)
			x = n.Activation("", x, graph.ReLU6)
			y := n.Conv2D("dw", x, graph.Conv{Out: 16, Kernel: 3, Padding: 2, Dilation: [2]int{2, 2}, Groups: 16, NoBias: true})
			y = n.BatchNorm2D("dw_bn", y)
			y = n.Activation("", y, graph.Hardswish)
			s := n.GlobalAvgPool2D("se_pool", y)
			s = n.ReLU(n.Conv2D("se_fc1", s, graph.Conv{Out: 4, Kernel: 1}))
			s = n.Activation("", n.Conv2D("se_fc2", s, graph.Conv{Out: 16, Kernel: 1}), graph.Hardsigmoid)
			y = n.Mul("se_scale", y, s)
			y = n.Conv2D("pw", y, graph.Conv{Out: 16, Kernel: 1, Groups: 4, NoBias: true})
			x = n.Add("res", n.BatchNorm2D("pw_bn", y), x)
			x = n.AdaptiveAvgPool2D("pool", x, 1, 1)
			x = n.Flatten("flatten", x)
			x = n.Dropout("drop", x, 0.2)
			return n.Linear("classifier", x, 7)
		}}
}

// inception is a GoogLeNet-like block: branches of rectangular kernels joined by Concat,
// max pooling in ceil mode, average pooling with padding counted and not, and an adaptive
// pooling that is an exact AveragePool.
func inception() graph.Model {
	return graph.Model{Name: "inception", Input: []int{2, 16, 16}, Classes: 5,
		Forward: func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node {
			x = n.ReLU(n.Conv2D("stem", x, graph.Conv{Out: 8, KernelHW: [2]int{3, 5}, StrideHW: [2]int{1, 2}, PaddingHW: [2]int{1, 2}}))
			x = n.MaxPool2D("pool1", x, graph.Pool{Kernel: 3, Stride: 2, Ceil: true})
			a := n.Conv2D("b1", x, graph.Conv{Out: 4, Kernel: 1})
			b := n.Conv2D("b2", x, graph.Conv{Out: 4, KernelHW: [2]int{1, 7}, PaddingHW: [2]int{0, 3}})
			b = n.Activation("", b, graph.Tanh)
			c := n.AvgPool2D("b3_pool", x, graph.Pool{Kernel: 3, Stride: 1, Padding: 1})
			c = n.Conv2D("b3", c, graph.Conv{Out: 4, Kernel: 1})
			d := n.AvgPool2D("b4_pool", x, graph.Pool{Kernel: 3, Stride: 1, Padding: 1, Exclusive: true})
			d = n.Activation("", n.Conv2D("b4", d, graph.Conv{Out: 4, Kernel: 1}), graph.Sigmoid)
			x = n.Concat("cat", a, b, c, d)
			x = n.Activation("", x, graph.LeakyReLU(0.1))
			x = n.AvgPool2D("pool2", x, graph.Pool{Kernel: 3, Stride: 2, Padding: 1, Ceil: true})
			x = n.MaxPool2D("pool3", x, graph.Pool{Kernel: 2, Stride: 1, Padding: 1})
			x = n.AdaptiveAvgPool2D("pool4", x, 2, 2)
			x = n.Flatten("flatten", x)
			return n.Linear("fc", x, 5)
		}}
}

// mlpHead is a classifier head: an adaptive pooling whose output does not divide its input
// (4x4 to 3x5: bins that overlap, and more columns out than in), BatchNorm1D, GELU, SiLU, a
// linear layer without bias and Dropout.
func mlpHead() graph.Model {
	return graph.Model{Name: "head", Input: []int{4, 6, 6}, Classes: 3,
		Forward: func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node {
			x = n.Conv2D("conv", x, graph.Conv{Out: 6, Kernel: 3})
			x = n.AdaptiveAvgPool2D("pool", x, 3, 5)
			x = n.Flatten("flatten", x)
			x = n.Activation("", n.Linear("fc1", x, 32), graph.GELU)
			x = n.BatchNorm1D("bn", x)
			x = n.Activation("", n.LinearNoBias("fc2", x, 16), graph.SiLU)
			x = n.Dropout("drop", x, 0.5)
			return n.Linear("fc3", x, 3)
		}}
}

// withWeights declares m on a new store and gives its BatchNorm running statistics values
// away from 0 and 1, so that a layer that ignored them would show.
func withWeights(m graph.Model, seed uint64) (*trainer.Runner, error) {
	params := graph.NewParams(tensor.Float32, seed)
	r := trainer.New(m, params, graph.Fast, nil)
	if _, err := r.Program(1, false); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	for _, p := range params.List() {
		d := p.Value.Data().([]float32)
		switch {
		case strings.HasSuffix(p.Name, ".running_mean"):
			for i := range d {
				d[i] = float32(rng.NormFloat64() * 0.2)
			}
		case strings.HasSuffix(p.Name, ".running_var"):
			for i := range d {
				d[i] = float32(0.5 + rng.Float64())
			}
		case strings.HasSuffix(p.Name, ".bias") || (strings.Contains(p.Name, "bn") && strings.HasSuffix(p.Name, ".weight")):
			for i := range d {
				d[i] += float32(rng.NormFloat64() * 0.1)
			}
		}
	}
	return r, nil
}

// batch returns n samples of the model's input shape drawn from N(0,1).
func batch(m graph.Model, n int, seed uint64) []float32 {
	size := n
	for _, d := range m.Input {
		size *= d
	}
	rng := rand.New(rand.NewPCG(seed, 11))
	x := make([]float32, size)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}
