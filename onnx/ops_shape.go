package onnx

import (
	"fmt"
	"math"

	"gorgonia.org/gorgonia"

	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/onnx/onnxpb"
)

// flatten maps Flatten(axis 1) and a Reshape to a constant [N, features] onto the Flatten
// layer ([N,C,H,W] -> [N,C*H*W]); on a [N,F] tensor both are the identity.
func (b *importer) flatten(node *onnxpb.NodeProto, a attrs, out string) error {
	in := node.GetInput()
	x, err := b.value(in[0])
	if err != nil {
		return err
	}
	xs := b.shape(x)
	features := 1
	for _, d := range xs[1:] {
		features *= d
	}
	if node.GetOpType() == "Flatten" {
		if axis := a.int("axis", 1); axis != 1 {
			return fmt.Errorf("axis %d: the Flatten layer keeps the batch axis alone (axis 1)", axis)
		}
	} else {
		t, err := b.constant(in[1])
		if err != nil {
			return err
		}
		to, err := ints(t)
		if err != nil {
			return err
		}
		ok := len(to) == 2 && (to[0] == 0 || to[0] == -1) && (to[1] == int64(features) || (to[0] == 0 && to[1] == -1))
		if !ok {
			return fmt.Errorf("reshape of %v to %v: only [N, C*H*W] = [0, -1], [0, %d] or [-1, %d] has a layer (Flatten)", xs, to, features, features)
		}
	}
	switch len(xs) {
	case 2:
		return b.alias(out, in[0])
	case 4:
		return b.unary(out, in[0], func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node { return n.Flatten("", x) })
	}
	return fmt.Errorf("input of shape %v: want [N,C,H,W] or [N,F]", xs)
}

// scalar reads an optional constant scalar input; def when it is absent.
func (b *importer) scalar(in []string, i int, def float64) (float64, error) {
	if len(in) <= i || in[i] == "" {
		return def, nil
	}
	t, err := b.constant(in[i])
	if err != nil {
		return 0, err
	}
	dims, v, err := floats(t)
	if err != nil {
		return 0, err
	}
	if len(v) != 1 {
		return 0, fmt.Errorf("%s of shape %v: want a scalar", in[i], dims)
	}
	return float64(v[0]), nil
}

// clip maps Clip(0, 6) onto ReLU6 and Clip(0, +inf) onto ReLU; limits are inputs from
// operator set 11 on, attributes before.
func (b *importer) clip(node *onnxpb.NodeProto, a attrs, out string) error {
	in := node.GetInput()
	lo, hi := float64(a.float("min", float32(math.Inf(-1)))), float64(a.float("max", float32(math.Inf(1))))
	var err error
	if len(in) > 1 {
		if lo, err = b.scalar(in, 1, math.Inf(-1)); err != nil {
			return err
		}
		if hi, err = b.scalar(in, 2, math.Inf(1)); err != nil {
			return err
		}
	}
	switch {
	case lo == 0 && hi == 6:
		return b.activation(out, in[0], graph.ReLU6)
	case lo == 0 && math.IsInf(hi, 1):
		return b.activation(out, in[0], graph.ReLU)
	}
	return fmt.Errorf("limits %g to %g: only Clip(0, 6) (ReLU6) and Clip(0, inf) (ReLU) have a layer", lo, hi)
}

// pad accepts a zero padding (torch.onnx.export writes one before some average poolings)
// as the identity; other paddings have no layer of their own.
func (b *importer) pad(node *onnxpb.NodeProto, a attrs, out string) error {
	in := node.GetInput()
	pads, err := a.ints("pads")
	if len(in) > 1 && in[1] != "" {
		t, cerr := b.constant(in[1])
		if cerr != nil {
			return cerr
		}
		p, ierr := ints(t)
		if ierr != nil {
			return ierr
		}
		pads, err = make([]int, len(p)), nil
		for i, v := range p {
			pads[i] = int(max(min(v, 1<<20), -1<<20))
		}
	}
	if err != nil {
		return err
	}
	for _, p := range pads {
		if p != 0 {
			return fmt.Errorf("pads %v: a padding of its own has no layer (pad inside the Conv or pooling instead)", pads)
		}
	}
	return b.alias(out, in[0])
}

// join maps Add, Mul and Concat(axis 1) of computed tensors onto their layers.
func (b *importer) join(node *onnxpb.NodeProto, a attrs, out string) error {
	var slots []int
	for _, name := range node.GetInput() {
		s, err := b.value(name)
		if err != nil {
			return err
		}
		slots = append(slots, s)
	}
	switch node.GetOpType() {
	case "Add":
		return b.layer(out, slots[:2], func(n *graph.Net, x []*gorgonia.Node) *gorgonia.Node { return n.Add("", x[0], x[1]) })
	case "Mul":
		return b.layer(out, slots[:2], func(n *graph.Net, x []*gorgonia.Node) *gorgonia.Node { return n.Mul("", x[0], x[1]) })
	}
	axis, rank := a.int("axis", 1), int64(len(b.shape(slots[0])))
	if axis < 0 {
		axis += rank
	}
	if axis != 1 {
		return fmt.Errorf("axis %d: the Concat layer joins channels (axis 1)", a.int("axis", 1))
	}
	return b.layer(out, slots, func(n *graph.Net, x []*gorgonia.Node) *gorgonia.Node { return n.Concat("", x...) })
}
