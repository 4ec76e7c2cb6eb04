package graph_test

import (
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/graph"
)

// TestSum checks which of Gorgonia's operations graph.Sum takes over (the addition of two
// tensors of one shape, of a float type) and that its replacement adds, through
// gorgonia's own machine.
func TestSum(t *testing.T) {
	g := gorgonia.NewGraph()
	x := gorgonia.NewTensor(g, tensor.Float32, 2, gorgonia.WithShape(2, 3), gorgonia.WithName("x"))
	s := gorgonia.NewScalar(g, tensor.Float32, gorgonia.WithName("s"))
	add, sub := gorgonia.Must(gorgonia.Add(x, x)), gorgonia.Must(gorgonia.Sub(x, x))
	for _, c := range []struct {
		name string
		op   gorgonia.Op
		dt   tensor.Dtype
		in   []tensor.Shape
		want bool
	}{
		{"add of one shape", add.Op(), tensor.Float32, []tensor.Shape{{2, 3}, {2, 3}}, true},
		{"add of float64", add.Op(), tensor.Float64, []tensor.Shape{{2, 3}, {2, 3}}, true},
		{"add of shapes that differ", add.Op(), tensor.Float32, []tensor.Shape{{2, 3}, {3, 2}}, false},
		{"add of scalars", gorgonia.Must(gorgonia.Add(s, s)).Op(), tensor.Float32, []tensor.Shape{{}, {}}, false},
		{"add of ints", add.Op(), tensor.Int, []tensor.Shape{{2, 3}, {2, 3}}, false},
		{"sub", sub.Op(), tensor.Float32, []tensor.Shape{{2, 3}, {2, 3}}, false},
	} {
		if _, ok := graph.Sum(c.op, c.dt, c.in...); ok != c.want {
			t.Errorf("%s: Sum took it: %v, want %v", c.name, ok, c.want)
		}
	}

	op, _ := graph.Sum(add.Op(), tensor.Float32, tensor.Shape{2, 3}, tensor.Shape{2, 3})
	a := tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{1, 2, 3, -4, 5, -6}))
	b := tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{10, 20, 30, 1, -50, 2}))
	got, err := op.Do(a, b)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{11, 22, 33, -3, -45, -4}
	for i, v := range got.Data().([]float32) {
		if v != want[i] {
			t.Fatalf("sum: %v, want %v", got.Data(), want)
		}
	}
}
