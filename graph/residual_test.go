package graph

import (
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestAddLayer checks Add's output, accounting and receptive field on a small residual join:
// a 3x3 conv branch plus the identity.
func TestAddLayer(t *testing.T) {
	n := New(NewParams(tensor.Float64, 1), Fast)
	x := n.Input("x", 2, 3, 5, 5)
	y := n.Conv2D("conv", x, Conv{Out: 3, Kernel: 3, Padding: 1})
	var sum *gorgonia.Node
	n.Block("block", func() { sum = n.Add("add", y, x) })
	if err := n.Err(); err != nil {
		t.Fatal(err)
	}
	l := n.Layers()[1]
	if l.Name != "block.add" || l.Type != "Add" || l.FLOPs != 150 || l.PaddleFLOPs != 0 || l.MACs != 0 || l.Params() != 0 ||
		len(l.Inputs) != 2 || l.Inputs[0] != y || l.Inputs[1] != x || l.RF != 3 || l.Jump != 1 {
		t.Errorf("layer %+v", l)
	}
	xv := x.Value().Data().([]float64)
	for i := range xv {
		xv[i] = float64(i%7) - 3
	}
	memo := map[*gorgonia.Node]gorgonia.Value{}
	got, conv := f64s(eval(t, sum, memo)), f64s(eval(t, y, memo))
	for i := range got {
		if got[i] != conv[i]+xv[i] {
			t.Fatalf("out[%d] = %v, want %v + %v", i, got[i], conv[i], xv[i])
		}
	}
}

// TestAddShapeMismatch: adding different shapes is a declaration error naming the layer and
// both shapes, and stops the declaration.
func TestAddShapeMismatch(t *testing.T) {
	n := New(NewParams(tensor.Float32, 1), Fast)
	x := n.Input("x", 2, 3, 8, 8)
	y := n.Conv2D("conv", x, Conv{Out: 4, Kernel: 3, Stride: 2, Padding: 1})
	n.Block("layer2.0", func() { n.ReLU(n.Add("", y, x)) })
	err := n.Err()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"layer2.0.add_1 (Add)", "(2, 4, 4, 4) and (2, 3, 8, 8)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if len(n.Layers()) != 1 {
		t.Errorf("%d layers after the error, want 1", len(n.Layers()))
	}
}
