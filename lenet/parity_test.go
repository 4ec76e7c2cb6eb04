package lenet

import (
	"math"
	"strings"
	"testing"

	"github.com/nndl/cnn/build"
	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/internal/safetensors"
	"gorgonia.org/tensor"
)

func relErr(got, want []float64) float64 {
	var d, m float64
	for i := range want {
		d = math.Max(d, math.Abs(got[i]-want[i]))
		m = math.Max(m, math.Abs(want[i]))
	}
	return d / m
}

func f64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// TestGoldenParity loads the PyTorch weights of golden/lenet.safetensors into both builds and
// compares the logits, the loss and every gradient.
func TestGoldenParity(t *testing.T) {
	f, err := safetensors.ReadFile("../testdata/golden/lenet.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	weights := map[string]safetensors.Tensor{}
	for name, tt := range f.Tensors {
		if strings.HasPrefix(name, "conv") || strings.HasPrefix(name, "linear") {
			weights[name] = tt
		}
	}
	x := f.Tensors["input"].Float32()
	var labels []int
	for _, l := range f.Tensors["labels"].I64 {
		labels = append(labels, int(l))
	}
	for _, impl := range []graph.Impl{graph.Fast, graph.Naive} {
		t.Run(impl.String(), func(t *testing.T) {
			params := graph.NewParams(tensor.Float32, 7)
			p, err := build.Compile(New(1, 10), params, build.Options{Batch: len(labels), Train: true, Impl: impl})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := params.Load(weights, true); err != nil {
				t.Fatal(err)
			}
			if err := p.Feed(x, labels); err != nil {
				t.Fatal(err)
			}
			if err := p.Run(); err != nil {
				t.Fatal(err)
			}
			if e := relErr(p.LogitsValue(), f64(f.Tensors["eval.logits"].F32)); e > 1e-4 {
				t.Errorf("logits: relative error %.3g", e)
			}
			if e := relErr([]float64{p.LossValue()}, f64(f.Tensors["train.loss"].F32)); e > 1e-4 {
				t.Errorf("loss %v, want %v", p.LossValue(), f.Tensors["train.loss"].F32)
			}
			if len(p.Grads) != 10 {
				t.Fatalf("%d gradients, want 10", len(p.Grads))
			}
			for _, g := range p.Grads {
				want := f64(f.Tensors["grad."+g.Param.Name].F32)
				got := f64(p.GradValue(g).Data().([]float32))
				if e := relErr(got, want); e > 1e-4 {
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
	if e := relErr(naive.LogitsValue(), fast.LogitsValue()); e > 1e-5 {
		t.Errorf("logits differ: relative error %.3g", e)
	}
	for i := range fast.Grads {
		a := f64(fast.GradValue(fast.Grads[i]).Data().([]float32))
		b := f64(naive.GradValue(naive.Grads[i]).Data().([]float32))
		if e := relErr(b, a); e > 1e-5 {
			t.Errorf("grad %s differs: relative error %.3g", fast.Grads[i].Param.Name, e)
		}
	}
}
