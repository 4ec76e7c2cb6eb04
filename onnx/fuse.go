package onnx

import (
	"math"

	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/onnx/onnxpb"
)

// The activations that ONNX spells as chains of operators: SiLU as x * Sigmoid(x), GELU
// (before operator set 20) as x * (1 + Erf(x / sqrt 2)) * 0.5, as Export and
// torch.onnx.export write them, and Hardswish (before operator set 14) as
// x * HardSigmoid(x) with alpha 1/6, as torch.onnx.export writes it. matchActivation recognises them at the start of ops, their
// inner tensors read by nothing else, and returns the activation, its input and output and
// the number of nodes it spans (0 when none starts there).
func (b *importer) matchActivation(ops []*onnxpb.NodeProto, uses map[string]int) (graph.Act, string, string, int) {
	op := func(i int, typ string) *onnxpb.NodeProto {
		if i < len(ops) && ops[i].GetOpType() == typ && len(ops[i].GetOutput()) == 1 {
			return ops[i]
		}
		return nil
	}
	// other returns the input of a two-input node that is not name, or "".
	other := func(n *onnxpb.NodeProto, name string) string {
		if in := n.GetInput(); len(in) == 2 && in[0] == name {
			return in[1]
		} else if len(in) == 2 && in[1] == name {
			return in[0]
		}
		return ""
	}
	isConst := func(name string, want float64) bool {
		v, err := b.scalar([]string{name}, 0, math.NaN())
		return err == nil && math.Abs(v-want) <= 1e-6*math.Abs(want)
	}
	out := func(n *onnxpb.NodeProto) string { return n.GetOutput()[0] }
	// inner reports whether the tensors only the chain reads are read once.
	inner := func(ns ...*onnxpb.NodeProto) bool {
		for _, n := range ns {
			if uses[out(n)] != 1 {
				return false
			}
		}
		return true
	}
	if s, m := op(0, "Sigmoid"), op(1, "Mul"); s != nil && m != nil && len(s.GetInput()) == 1 && inner(s) && other(m, out(s)) == s.GetInput()[0] {
		return graph.SiLU, s.GetInput()[0], out(m), 2
	}
	if s, m := op(0, "HardSigmoid"), op(1, "Mul"); s != nil && m != nil && len(s.GetInput()) == 1 && inner(s) &&
		other(m, out(s)) == s.GetInput()[0] && pytorchHardsigmoid(nodeAttrs(s)) {
		return graph.Hardswish, s.GetInput()[0], out(m), 2
	}
	div, erf, add, mul, half := op(0, "Div"), op(1, "Erf"), op(2, "Add"), op(3, "Mul"), op(4, "Mul")
	if div == nil || erf == nil || add == nil || mul == nil || half == nil || len(div.GetInput()) != 2 || len(erf.GetInput()) != 1 || !inner(div, erf, add, mul) {
		return graph.Act{}, "", "", 0
	}
	x := div.GetInput()[0]
	if isConst(div.GetInput()[1], math.Sqrt2) && erf.GetInput()[0] == out(div) && isConst(other(add, out(erf)), 1) &&
		other(mul, out(add)) == x && isConst(other(half, out(mul)), 0.5) {
		return graph.GELU, x, out(half), 5
	}
	return graph.Act{}, "", "", 0
}

// pytorchHardsigmoid reports whether a HardSigmoid's settings are PyTorch's (alpha 1/6,
// beta 0.5), those of the Hardsigmoid layer.
func pytorchHardsigmoid(a attrs) bool {
	return math.Abs(float64(a.float("alpha", 0.2))-1.0/6) <= 1e-6 && a.float("beta", 0.5) == 0.5
}

// matchAdaptive recognises an adaptive average pooling as Export writes one whose output
// does not divide its input: MatMul(x, cols) then MatMul(rows, that), x computed [N,C,H,W],
// cols [W,ow] and rows [oh,H] the averaging matrices of PyTorch's bins, the product read
// by nothing else. It returns the output size, the input and output, and whether it matched.
func (b *importer) matchAdaptive(ops []*onnxpb.NodeProto, uses map[string]int) (oh, ow int, x, out string, ok bool) {
	if len(ops) < 2 || ops[0].GetOpType() != "MatMul" || ops[1].GetOpType() != "MatMul" {
		return 0, 0, "", "", false
	}
	c, r := ops[0], ops[1]
	if len(c.GetInput()) != 2 || len(r.GetInput()) != 2 || len(c.GetOutput()) != 1 || len(r.GetOutput()) != 1 ||
		r.GetInput()[1] != c.GetOutput()[0] || uses[c.GetOutput()[0]] != 1 {
		return 0, 0, "", "", false
	}
	s, ok := b.slot[c.GetInput()[0]]
	if !ok || len(b.shape(s)) != 4 {
		return 0, 0, "", "", false
	}
	h, w := b.shape(s)[2], b.shape(s)[3]
	cols, colsOK := b.matrix(c.GetInput()[1])
	rows, rowsOK := b.matrix(r.GetInput()[0])
	if !colsOK || !rowsOK || len(cols) != 2 || len(rows) != 2 || cols[0] != w || rows[1] != h {
		return 0, 0, "", "", false
	}
	oh, ow = rows[0], cols[1]
	if !b.holds(r.GetInput()[0], averaging(h, oh)) || !b.holds(c.GetInput()[1], transpose(averaging(w, ow), ow, w)) {
		return 0, 0, "", "", false
	}
	return oh, ow, c.GetInput()[0], r.GetOutput()[0], true
}

// matrix returns the dimensions of a float32 constant, if name is one.
func (b *importer) matrix(name string) ([]int, bool) {
	t, ok := b.consts[name]
	if !ok || t.GetDataType() != int32(onnxpb.TensorProto_FLOAT) {
		return nil, false
	}
	dims, _, err := tensorShape(t)
	return dims, err == nil
}

// holds reports whether the constant name holds the values want, to float32 rounding.
func (b *importer) holds(name string, want []float32) bool {
	_, v, err := floats(b.consts[name])
	if err != nil || len(v) != len(want) {
		return false
	}
	for i := range v {
		if math.Abs(float64(v[i]-want[i])) > 1e-7*math.Abs(float64(want[i])) {
			return false
		}
	}
	return true
}
