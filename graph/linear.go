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
	name = n.fullName(name, "Linear")
	if n.err != nil {
		return x
	}
	xs := x.Shape()
	_, counts, err := cost.Linear(xs, out, false)
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
	l := &Layer{Name: name, Type: "Linear", Counts: counts, Attrs: fmt.Sprintf("%d->%d no bias", in, out)}
	return n.add(l, n.typed.linear(false), x, w)
}
