package cost

import (
	"fmt"
	"slices"
)

// activationFLOPs is each activation's work per element under the FLOPs convention: the
// piecewise-linear clamps (ReLU, ReLU6, LeakyReLU) count 1; otherwise every addition,
// multiplication, division and clamp counts 1, and so does each exp, tanh or erf.
//   - Hardsigmoid min(max(x+3, 0), 6)/6: add, clamp, divide: 3.
//   - Hardswish x*hardsigmoid(x): 4.
//   - Sigmoid 1/(1+exp(-x)): exp, add, divide: 3.
//   - Tanh: 1.
//   - SiLU x*sigmoid(x): 4.
//   - GELU x/2*(1+erf(x/sqrt 2)): divide, erf, add, two multiplies: 5.
//
// paddle.flops counts a LeakyReLU 1 per element and every other activation 0 (ReLU and
// ReLU6 by its zero rule, the others because it has no rule for them).
var activationFLOPs = map[string]int64{
	"ReLU": 1, "ReLU6": 1, "LeakyReLU": 1,
	"Hardsigmoid": 3, "Hardswish": 4, "Sigmoid": 3, "Tanh": 1, "SiLU": 4, "GELU": 5,
}

// Activation accounts the element-wise activation named typ (PyTorch's module name:
// "ReLU", "ReLU6", "LeakyReLU", "Sigmoid", "Tanh", "SiLU", "GELU", "Hardswish",
// "Hardsigmoid") over in: no parameters, the per-element work of activationFLOPs.
func Activation(in []int, typ string) ([]int, Counts, error) {
	f, ok := activationFLOPs[typ]
	if !ok {
		return nil, Counts{}, fmt.Errorf("unknown activation %q", typ)
	}
	if len(in) < 1 {
		return nil, Counts{}, fmt.Errorf("want a tensor with a batch axis")
	}
	c := Counts{FLOPs: f * numel(in)}
	if typ == "LeakyReLU" {
		c.PaddleFLOPs = numel(in)
	}
	return slices.Clone(in), c, nil
}

// Dropout accounts a dropout over in: in training one multiply per element (by 0 or by
// 1/(1-p)), in inference nothing (the identity); paddle.flops counts 0.
func Dropout(in []int, p float64, training bool) ([]int, Counts, error) {
	if !(p >= 0 && p <= 1) {
		return nil, Counts{}, fmt.Errorf("dropout probability %v: want 0 <= p <= 1", p)
	}
	if len(in) < 1 {
		return nil, Counts{}, fmt.Errorf("want a tensor with a batch axis")
	}
	var c Counts
	if training {
		c.FLOPs = numel(in)
	}
	return slices.Clone(in), c, nil
}

// Concat accounts joining inputs along the channel axis (axis 1): every input has the same
// rank (at least 2) and the same sizes but for the channels, which add up. Copying counts
// no operations.
func Concat(in ...[]int) ([]int, Counts, error) {
	if len(in) == 0 {
		return nil, Counts{}, fmt.Errorf("nothing to concatenate: want at least one input")
	}
	first := in[0]
	if len(first) < 2 {
		return nil, Counts{}, fmt.Errorf("input %v has no channel axis: want [N,C,...]", shape(first))
	}
	out := slices.Clone(first)
	for _, s := range in[1:] {
		same := len(s) == len(first)
		for i := 0; same && i < len(s); i++ {
			same = i == 1 || s[i] == first[i]
		}
		if !same {
			return nil, Counts{}, fmt.Errorf("cannot concatenate %v and %v along the channels: want the same shape but for dimension 1", shape(first), shape(s))
		}
		out[1] += s[1]
	}
	return out, Counts{}, nil
}

// Mul accounts the element-wise product of a and b: the same shape, or one of them
// [N,C,1,1] scaling every map of the other [N,C,H,W] (squeeze-and-excitation). One FLOP per
// output element, none under paddle.flops (which counts no functional products).
func Mul(a, b []int) ([]int, Counts, error) {
	if slices.Equal(a, b) {
		return slices.Clone(a), Counts{FLOPs: numel(a)}, nil
	}
	full, scale := a, b
	if len(b) == 4 && len(a) == 4 && a[2] == 1 && a[3] == 1 {
		full, scale = b, a
	}
	if len(full) != 4 || len(scale) != 4 || scale[0] != full[0] || scale[1] != full[1] || scale[2] != 1 || scale[3] != 1 {
		return nil, Counts{}, fmt.Errorf("cannot multiply shapes %v and %v: want the same shape, or [N,C,1,1] with [N,C,H,W]", shape(a), shape(b))
	}
	return slices.Clone(full), Counts{FLOPs: numel(full)}, nil
}

// BatchNorm1D accounts a batch normalisation over the features of in [N,C]: 2C trainable
// values and 2C buffers; 2 FLOPs per element (y = a*x + b once the statistics are folded),
// and 0 under paddle.flops, whose rules cover BatchNorm2D but not BatchNorm1D.
func BatchNorm1D(in []int) ([]int, Counts, error) {
	if len(in) != 2 {
		return nil, Counts{}, fmt.Errorf("want a 2-D [N,C] input")
	}
	return slices.Clone(in), Counts{Trainable: 2 * in[1], Buffers: 2 * in[1], FLOPs: 2 * numel(in)}, nil
}
