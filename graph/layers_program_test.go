package graph_test

import (
	"slices"
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/build"
	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/viz"
)

// dropoutModel is fc1 -> Dropout(0.5) -> fc2 on a 2x4x4 input.
var dropoutModel = graph.Model{
	Name: "dropout", Input: []int{2, 4, 4}, Classes: 3,
	Forward: func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node {
		x = n.Linear("fc1", n.Flatten("flatten", x), 64)
		x = n.Dropout("drop", x, 0.5)
		return n.Linear("fc2", x, 3)
	},
}

func layerNamed(t *testing.T, p *build.Program, name string) *graph.Layer {
	t.Helper()
	for _, l := range p.Net.Layers() {
		if l.Name == name {
			return l
		}
	}
	t.Fatalf("no layer %s", name)
	return nil
}

func values(t *testing.T, p *build.Program, n *gorgonia.Node) []float32 {
	t.Helper()
	v, err := p.Value(n)
	if err != nil {
		t.Fatal(err)
	}
	return slices.Clone(v.Data().([]float32))
}

// trainDropout compiles dropoutModel's training program on a store of the given seed and
// returns the dropout layer's outputs and its input's over runs training runs, checking on
// each that the backward pass used the forward pass's mask: with a batch of one, fc1's bias
// gradient is 0 exactly where the mask dropped the unit.
func trainDropout(t *testing.T, seed uint64, runs int) (outs, ins [][]float32) {
	params := graph.NewParams(tensor.Float32, seed)
	p, err := build.Compile(dropoutModel, params, build.Options{Batch: 1, Train: true})
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 32)
	for i := range x {
		x[i] = float32(i%5) - 1.5
	}
	if err := p.Feed(x, []int{2}); err != nil {
		t.Fatal(err)
	}
	drop := layerNamed(t, p, "drop")
	var biasGrad build.Grad
	for _, g := range p.Grads {
		if g.Param.Name == "fc1.bias" {
			biasGrad = g
		}
	}
	for r := 0; r < runs; r++ {
		if err := p.Run(); err != nil {
			t.Fatal(err)
		}
		out, in := values(t, p, drop.Output), values(t, p, drop.Inputs[0])
		db := p.GradValue(biasGrad).Data().([]float32)
		for i, v := range out {
			if (v == 0) != (db[i] == 0) || v != 0 && v != 2*in[i] {
				t.Fatalf("run %d, unit %d: input %v, output %v, bias gradient %v", r, i, in[i], v, db[i])
			}
		}
		outs, ins = append(outs, out), append(ins, in)
	}
	return outs, ins
}

// TestDropoutProgram: two stores of the same seed give the same masks run after run; each
// training run of a program draws a new mask; the evaluation program is the identity.
func TestDropoutProgram(t *testing.T) {
	outs, ins := trainDropout(t, 21, 4)
	again, _ := trainDropout(t, 21, 4)
	other, _ := trainDropout(t, 22, 1)
	for r := range outs {
		if !slices.Equal(outs[r], again[r]) {
			t.Errorf("run %d: the same seed gave different masks", r)
		}
		if r > 0 && slices.Equal(mask(outs[r]), mask(outs[r-1])) {
			t.Errorf("runs %d and %d drew the same mask", r-1, r)
		}
		if !slices.Equal(ins[r], ins[0]) {
			t.Fatalf("run %d: the input of the dropout changed without an update", r)
		}
	}
	if slices.Equal(mask(outs[0]), mask(other[0])) {
		t.Errorf("seeds 21 and 22 drew the same first mask")
	}

	params := graph.NewParams(tensor.Float32, 21)
	eval, err := build.Compile(dropoutModel, params, build.Options{Batch: 2})
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 64)
	for i := range x {
		x[i] = float32(i%9) - 4
	}
	if err := eval.Feed(x, nil); err != nil {
		t.Fatal(err)
	}
	drop := layerNamed(t, eval, "drop")
	for r := 0; r < 2; r++ {
		if err := eval.Run(); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(values(t, eval, drop.Output), values(t, eval, drop.Inputs[0])) {
			t.Errorf("evaluation run %d: dropout is not the identity", r)
		}
	}
}

func mask(v []float32) []bool {
	m := make([]bool, len(v))
	for i, x := range v {
		m[i] = x != 0
	}
	return m
}

// everyLayerModel uses every new layer kind once, dropout with p = 0.
var everyLayerModel = graph.Model{
	Name: "every", Input: []int{3, 6, 6}, Classes: 4,
	Forward: func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node {
		a := n.Activation("a", n.Conv2D("c1", x, graph.Conv{Out: 4, Kernel: 3, Padding: 1}), graph.LeakyReLU(0.1))
		b := n.Activation("b", n.Conv2D("c2", x, graph.Conv{Out: 2, Kernel: 1}), graph.GELU)
		x = n.Concat("cat", a, b, n.Activation("", x, graph.Tanh))
		s := n.Activation("", n.GlobalAvgPool2D("squeeze", x), graph.Hardsigmoid)
		x = n.Activation("", n.Mul("se", x, s), graph.Hardswish)
		x = n.Activation("", n.Mul("sq", x, x), graph.SiLU)
		x = n.Activation("", x, graph.ReLU6)
		x = n.Activation("", n.Flatten("flatten", x), graph.Sigmoid)
		x = n.BatchNorm1D("bn", n.LinearNoBias("fc1", x, 8))
		return n.Linear("fc2", n.Dropout("drop", x, 0), 4)
	},
}

// TestEveryLayerProgram trains the model that uses every new layer: the buffers the VM
// reuses from run to run give the same loss and gradients on a second run of the same batch
// (every kernel overwrites its whole output), and the evaluation program runs.
func TestEveryLayerProgram(t *testing.T) {
	params := graph.NewParams(tensor.Float32, 5)
	p, err := build.Compile(everyLayerModel, params, build.Options{Batch: 3, Train: true})
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 3*3*6*6)
	for i := range x {
		x[i] = float32(i%11)/4 - 1.2
	}
	if err := p.Feed(x, []int{0, 3, 1}); err != nil {
		t.Fatal(err)
	}
	var first [][]float32
	var loss float64
	for r := 0; r < 2; r++ {
		if err := p.Run(); err != nil {
			t.Fatal(err)
		}
		if r == 0 {
			loss = p.LossValue()
		} else if p.LossValue() != loss {
			t.Errorf("second run: loss %v, first %v", p.LossValue(), loss)
		}
		for i, g := range p.Grads {
			v := slices.Clone(p.GradValue(g).Data().([]float32))
			if r == 0 {
				first = append(first, v)
			} else if !slices.Equal(v, first[i]) {
				t.Errorf("second run: the gradient of %s changed", g.Param.Name)
			}
		}
	}
	if len(p.Grads) != 9 { // c1 w,b; c2 w,b; fc1 w; bn w,b; fc2 w,b
		t.Errorf("%d gradients", len(p.Grads))
	}
	eval, err := build.Compile(everyLayerModel, params, build.Options{Batch: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := eval.Feed(x, nil); err != nil {
		t.Fatal(err)
	}
	if err := eval.Run(); err != nil {
		t.Fatal(err)
	}
	// Every layer is a node of the DOT, the Concat with its three inputs' edges.
	dot, err := viz.LayerDOT("every", eval.Net.Layers(), eval.Input, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"Concat", "Mul", "LeakyReLU", "GELU", "Tanh", "Hardsigmoid", "Hardswish", "SiLU", "ReLU6", "Sigmoid", "BatchNorm1D", "Dropout", "no bias"} {
		if !strings.Contains(dot, typ) {
			t.Errorf("the DOT has no %s", typ)
		}
	}
	if edges := strings.Count(dot, "->L05"); edges != 3 {
		t.Errorf("%d edges into the Concat (L05), want 3:\n%s", edges, dot)
	}
}
