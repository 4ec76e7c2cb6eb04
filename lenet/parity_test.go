package lenet

import (
	"math"
	"testing"

	"github.com/nndl/cnn/build"
	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/internal/golden"
	"gorgonia.org/tensor"
)

// TestGoldenParity loads the PyTorch weights of golden/lenet.safetensors into both builds and
// compares the logits, the loss and every gradient.
func TestGoldenParity(t *testing.T) {
	c, err := golden.Read("../testdata/golden/lenet.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	want := func(name string) []float64 {
		w, err := c.Want(name)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	labels := c.Labels
	for _, impl := range []graph.Impl{graph.Fast, graph.Naive} {
		t.Run(impl.String(), func(t *testing.T) {
			params := graph.NewParams(tensor.Float32, 7)
			p, err := build.Compile(New(1, 10), params, build.Options{Batch: len(labels), Train: true, Impl: impl})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := params.Load(c.Weights, true); err != nil {
				t.Fatal(err)
			}
			if err := p.Feed(c.Input, labels); err != nil {
				t.Fatal(err)
			}
			if err := p.Run(); err != nil {
				t.Fatal(err)
			}
			if e := golden.RelErr(p.LogitsValue(), want("eval.logits")); e > 1e-4 {
				t.Errorf("logits: relative error %.3g", e)
			}
			if e := golden.RelErr([]float64{p.LossValue()}, want("train.loss")); e > 1e-4 {
				t.Errorf("loss %v, want %v", p.LossValue(), want("train.loss"))
			}
			if len(p.Grads) != 10 {
				t.Fatalf("%d gradients, want 10", len(p.Grads))
			}
			for _, g := range p.Grads {
				want := want("grad." + g.Param.Name)
				got := golden.Float64s(p.GradValue(g).Data().([]float32))
				if e := golden.RelErr(got, want); e > 1e-4 {
					t.Errorf("grad %s: relative error %.3g", g.Param.Name, e)
				}
			}
		})
	}
}

// TestBuildsAgree runs the fast and the hand-written build on the same fresh random weights.
func TestBuildsAgree(t *testing.T) {
	params := graph.NewParams(tensor.Float32, 42)
	fast, err := build.Compile(New(1, 10), params, build.Options{Batch: 3, Train: true, Impl: graph.Fast})
	if err != nil {
		t.Fatal(err)
	}
	naive, err := build.Compile(New(1, 10), params, build.Options{Batch: 3, Train: true, Impl: graph.Naive})
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 3*32*32)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)))
	}
	labels := []int{1, 7, 3}
	for _, p := range []*build.Program{fast, naive} {
		if err := p.Feed(x, labels); err != nil {
			t.Fatal(err)
		}
		if err := p.Run(); err != nil {
			t.Fatal(err)
		}
	}
	if e := golden.RelErr(naive.LogitsValue(), fast.LogitsValue()); e > 1e-5 {
		t.Errorf("logits differ: relative error %.3g", e)
	}
	for i := range fast.Grads {
		a := golden.Float64s(fast.GradValue(fast.Grads[i]).Data().([]float32))
		b := golden.Float64s(naive.GradValue(naive.Grads[i]).Data().([]float32))
		if e := golden.RelErr(b, a); e > 1e-5 {
			t.Errorf("grad %s differs: relative error %.3g", fast.Grads[i].Param.Name, e)
		}
	}
}
