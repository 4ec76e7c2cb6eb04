package graph

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/graph/cost"
)

// LinearNoBias adds a fully connected layer without a bias, y = x W^T, PyTorch's
// nn.Linear(in, out, bias=False): one parameter, name.weight [out,in], initialised
// XavierUniform as Linear's.
//
// Accounting: in*out trainable values; in*out MACs per sample, which is also its
// paddle.flops count, and 2 FLOPs per MAC.
func (n *Net) LinearNoBias(name string, x *gorgonia.Node, out int) *gorgonia.Node {
	return n.linear(name, x, out, false)
}

// linear adds a fully connected layer, with a bias or not.
func (n *Net) linear(name string, x *gorgonia.Node, out int, bias bool) *gorgonia.Node {
	name = n.fullName(name, "Linear")
	if n.err != nil {
		return x
	}
	xs := x.Shape()
	_, counts, err := cost.Linear(xs, out, bias)
	if err != nil {
		n.fail(name, "Linear", x, err)
		return x
	}
	if out < 1 {
		n.fail(name, "Linear", x, fmt.Errorf("%d output features: want at least 1", out))
		return x
	}
	in := xs[1]
	w, err := n.param(name+".weight", tensor.Shape{out, in}, true, XavierUniform, in, out)
	if err != nil {
		n.fail(name, "Linear", x, err)
		return x
	}
	nodes := []*gorgonia.Node{x, w}
	attrs := fmt.Sprintf("%d->%d", in, out)
	if bias {
		b, err := n.param(name+".bias", tensor.Shape{out}, true, Zeros, 0, 0)
		if err != nil {
			n.fail(name, "Linear", x, err)
			return x
		}
		nodes = append(nodes, b)
	} else {
		attrs += " no bias"
	}
	l := &Layer{Name: name, Type: "Linear", Counts: counts, Attrs: attrs}
	return n.add(l, n.typed.linear(bias), nodes...)
}
