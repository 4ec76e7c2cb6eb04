package graph_test

import (
	"slices"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/build"
	"github.com/nndl/cnn/graph"
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
	v := p.Value(n)
	if v == nil {
		t.Fatalf("the program does not form %s", n.Name())
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
