package build_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/nndl/cnn/build"
	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/lenet"
	"github.com/nndl/cnn/resnet"
	"gorgonia.org/tensor"
)

// TestPrograms compiles LeNet-5 for two batch sizes on one parameter store and checks that
// they share the parameters, that the loss of uniform logits is log(10), that the VM leaves
// out what no output needs, and that a warm run computes into the same buffers.
func TestPrograms(t *testing.T) {
	params := graph.NewParams(tensor.Float32, 1)
	train, err := build.Compile(lenet.New(1, 10), params, build.Options{Batch: 4, Train: true})
	if err != nil {
		t.Fatal(err)
	}
	infer, err := build.Compile(lenet.New(1, 10), params, build.Options{Batch: 1})
	if err != nil {
		t.Fatal(err)
	}
	if infer.Loss != nil || infer.Grads != nil || len(train.Grads) != 10 {
		t.Fatalf("inference program has a loss or gradients, or training program has %d gradients", len(train.Grads))
	}
	if train.Net.ParamNodes()[0].Value() != infer.Net.ParamNodes()[0].Value() {
		t.Error("the two programs do not share conv1.weight")
	}
	// Zero weights give zero logits: the loss is log(10) whatever the input.
	for _, p := range params.List() {
		clear(p.Value.Data().([]float32))
	}
	x := make([]float32, 4*32*32)
	if err := train.Feed(x, []int{0, 3, 7, 9}); err != nil {
		t.Fatal(err)
	}
	if err := train.Run(); err != nil {
		t.Fatal(err)
	}
	if got := train.LossValue(); math.Abs(got-math.Log(10)) > 1e-6 {
		t.Errorf("loss %v, want log(10) = %v", got, math.Log(10))
	}
	g := train.GradValue(train.Grads[0])
	if err := train.Run(); err != nil {
		t.Fatal(err)
	}
	if train.GradValue(train.Grads[0]) != g {
		t.Error("a warm run computed into a new buffer")
	}
	// Nothing asks for the gradient of the input image: the VM does not compute it.
	found := false
	for _, n := range train.Net.Graph().AllNodes() {
		if n.Op() != nil && strings.HasPrefix(n.Op().String(), "Conv2DGradX") && n.Shape().Eq(tensor.Shape{4, 1, 32, 32}) {
			found = true
			if v, err := train.Value(n); v != nil || err == nil || !strings.Contains(err.Error(), "no output of the program needs it") {
				t.Errorf("the gradient of the input image: value %v, error %v; want it not computed", v, err)
			}
		}
	}
	if !found {
		t.Error("the graph has no gradient node for the input image to leave out")
	}
	if err := infer.Feed(x[:32*32], nil); err != nil {
		t.Fatal(err)
	}
	if err := train.Feed(x[:10], nil); err == nil {
		t.Error("a batch of the wrong size was accepted")
	}
}

// TestValueOfFusedNode: a node fused away is an error naming the fused operation, and with
// NoFuse the same node is computed, equal to what the fused program gives after the ReLU.
func TestValueOfFusedNode(t *testing.T) {
	x := make([]float32, 2*32*32)
	for i := range x {
		x[i] = float32(i%13) - 6
	}
	for _, noFuse := range []bool{false, true} {
		p, err := build.Compile(lenet.New(1, 10), graph.NewParams(tensor.Float32, 1), build.Options{Batch: 2, NoFuse: noFuse})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Feed(x, nil); err != nil {
			t.Fatal(err)
		}
		if err := p.Run(); err != nil {
			t.Fatal(err)
		}
		conv1 := p.Net.Layers()[0].Output // read only by the ReLU after it: fused
		v, err := p.Value(conv1)
		switch {
		case !noFuse && (v != nil || err == nil || !strings.Contains(err.Error(), "fused into Conv2D(k5 s1 p0 bias=true)+ReLU")):
			t.Errorf("fused: value %v, error %v", v, err)
		case noFuse && err != nil:
			t.Errorf("NoFuse: %v", err)
		case noFuse:
			relu, err := p.Value(p.Net.Layers()[1].Output) // read only by a max pooling: see below
			if err != nil {
				t.Fatal(err)
			}
			for i, c := range v.Data().([]float32) {
				if r := relu.Data().([]float32)[i]; r != max(c, 0) {
					t.Fatalf("element %d: ReLU %v of %v", i, r, c)
				}
			}
		}
		// The ReLU moves past the max pooling (graph.SinkReLU): conv1's step leaves the values
		// before it, which are not the ReLU's.
		if !noFuse {
			v, err := p.Value(p.Net.Layers()[1].Output)
			if v != nil || err == nil || !strings.Contains(err.Error(), "is not formed: the program computes it fused into Pool2D") {
				t.Errorf("the ReLU moved past the pooling: value %v, error %v", v, err)
			}
		}
	}
}

// TestProfile: per-operation times cover every kind of operation of a run.
func TestProfile(t *testing.T) {
	p, err := build.Compile(lenet.New(1, 10), graph.NewParams(tensor.Float32, 1), build.Options{Batch: 2, Train: true})
	if err != nil {
		t.Fatal(err)
	}
	p.Profile(true)
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	ops := p.Profile(false)
	seen := map[string]bool{}
	for _, o := range ops {
		seen[o.Op] = true
		if i := strings.IndexByte(o.Op, '+'); i > 0 { // fused: Conv2D+ReLU
			seen[o.Op[:i]] = true
		}
	}
	for _, want := range []string{"Conv2D", "Conv2DGradW", "Conv2DGradX", "Pool2D", "Linear", "SoftmaxCrossEntropy"} {
		if !seen[want] {
			t.Errorf("profile lacks %s: %+v", want, ops)
		}
	}
	if seen["Conv2DGradX"] && ops[0].Time <= 0 {
		t.Errorf("no time measured: %+v", ops)
	}
}

// TestFuse: the VM folds each ReLU of ResNet18 into the BatchNorm or residual Add before it,
// and in inference each BatchNorm into the convolution before it, each residual sum into one
// of the convolutions it adds and the stem's ReLU past its max pooling; Gorgonia's sums of
// gradients run on the project's Add. (The fused kernels are
// checked against the unfused ones in package graph.)
func TestFuse(t *testing.T) {
	m := resnet.New(resnet.Config{InChannels: 1, Classes: 10, Width: 4, Residual: true})
	params := graph.NewParams(tensor.Float32, 3)
	for _, train := range []bool{false, true} {
		p, err := build.Compile(m, params, build.Options{Batch: 2, Train: train})
		if err != nil {
			t.Fatal(err)
		}
		p.Profile(true)
		if err := p.Feed(make([]float32, 2*32*32), []int{1, 2}); err != nil {
			t.Fatal(err)
		}
		if err := p.Run(); err != nil {
			t.Fatal(err)
		}
		calls := map[string]int{}
		for _, o := range p.Profile(false) {
			calls[o.Op] += o.Calls
		}
		// 20 convolutions, each followed by a BatchNorm; 17 ReLUs: after the stem's and
		// each block's first BatchNorm (9), and after each block's Add (8).
		// The backward pass sums the gradients of the 8 values that two layers read (each
		// block's input): Gorgonia's additions, run as the project's Add.
		want := map[string]int{"Add+ReLU": 8, "BatchNorm2D+ReLU": 9, "BatchNorm2D": 11, "Conv2D": 20, "Add": 8, "+ false": 0}
		if !train {
			// The stem's ReLU moves past the max pooling that alone reads it; each block's sum
			// and ReLU join a convolution that alone reads its BatchNorm's output.
			want = map[string]int{"Add+ReLU": 0, "Conv2D+BatchNorm2D+ReLU": 8, "Conv2D+BatchNorm2D+Add+ReLU": 8,
				"Conv2D+BatchNorm2D": 4, "Pool2D+ReLU": 1}
		}
		for op, n := range want {
			if calls[op] != n {
				t.Errorf("train=%v: %d steps of %s, want %d (all: %v)", train, calls[op], op, n, calls)
			}
		}
		if calls["ReLU"] != 0 {
			t.Errorf("train=%v: %d ReLUs left unfused", train, calls["ReLU"])
		}
	}
}

// TestConcurrentPrograms runs programs of one model in goroutines at the same time, as a
// server would: each must compute exactly what it computes alone. The kernels share the
// workers' goroutines and, in the dnnl build, oneDNN's primitives of each shape.
func TestConcurrentPrograms(t *testing.T) {
	m := resnet.New(resnet.Config{InChannels: 1, Classes: 10, Width: 8, Residual: true})
	params := graph.NewParams(tensor.Float32, 5)
	const programs = 4
	var ps [programs]*build.Program
	var want [programs][]float64
	for i := range ps {
		p, err := build.Compile(m, params, build.Options{Batch: 4 + i%2})
		if err != nil {
			t.Fatal(err)
		}
		x := make([]float32, p.Batch*32*32)
		for j := range x {
			x[j] = float32((j*(i+3))%29) / 29
		}
		if err := p.Feed(x, nil); err != nil {
			t.Fatal(err)
		}
		if err := p.Run(); err != nil {
			t.Fatal(err)
		}
		ps[i], want[i] = p, p.LogitsValue()
	}
	errs := make(chan error, programs)
	for i, p := range ps {
		go func() {
			for range 20 {
				if err := p.Run(); err != nil {
					errs <- err
					return
				}
				for j, v := range p.LogitsValue() {
					if v != want[i][j] {
						errs <- fmt.Errorf("program %d: logit %d is %v, alone %v", i, j, v, want[i][j])
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for range programs {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestFrozen: a frozen program computes what the program compiled from the same parameters
// computes, for one image and for a batch, in both element types, and keeps computing it
// after the parameters change, which the other program then follows.
func TestFrozen(t *testing.T) {
	m := resnet.New(resnet.Config{InChannels: 1, Classes: 10, Width: 8, Residual: true})
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		for _, batch := range []int{1, 3} {
			params := graph.NewParams(dt, 5)
			live, err := build.Compile(m, params, build.Options{Batch: batch})
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(uint64(batch), 9))
			for _, p := range params.List() {
				scribble(p, rng, 0)
			}
			frozen, err := build.Compile(m, params, build.Options{Batch: batch, Frozen: true})
			if err != nil {
				t.Fatal(err)
			}
			x := make([]float32, batch*32*32)
			for i := range x {
				x[i] = float32(rng.Float64()*2 - 1)
			}
			run := func(p *build.Program) []float64 {
				t.Helper()
				if err := p.Feed(x, nil); err != nil {
					t.Fatal(err)
				}
				if err := p.Run(); err != nil {
					t.Fatal(err)
				}
				return p.LogitsValue()
			}
			before := run(live)
			tol := 1e-4
			if dt == tensor.Float64 {
				tol = 1e-10
			}
			if e := maxRelDiff(run(frozen), before); e > tol {
				t.Errorf("%v batch %d: frozen logits differ from the program's by %.3g", dt, batch, e)
			}
			for _, p := range params.List() {
				scribble(p, rng, 0.5)
			}
			if e := maxRelDiff(run(live), before); e < 1e-3 {
				t.Fatalf("%v batch %d: changing the parameters changed the logits by only %.3g", dt, batch, e)
			}
			if e := maxRelDiff(run(frozen), before); e > tol {
				t.Errorf("%v batch %d: after the parameters changed, the frozen logits moved by %.3g", dt, batch, e)
			}
		}
	}
	if _, err := build.Compile(m, graph.NewParams(tensor.Float32, 1), build.Options{Batch: 2, Train: true, Frozen: true}); err == nil {
		t.Error("a frozen training program compiled")
	}
}

// scribble sets parameter p to random values around 1 (running variances) or 0 (the
// others), added to what it holds scaled by keep.
func scribble(p *graph.Param, rng *rand.Rand, keep float64) {
	base := 0.0
	if strings.HasSuffix(p.Name, "running_var") {
		base = 1
	}
	switch d := p.Value.Data().(type) {
	case []float32:
		for i := range d {
			d[i] = float32(keep*float64(d[i]) + base + rng.Float64()*0.8 - 0.4)
		}
	case []float64:
		for i := range d {
			d[i] = keep*d[i] + base + rng.Float64()*0.8 - 0.4
		}
	}
}

// maxRelDiff is the largest difference between a and b relative to b's largest magnitude.
func maxRelDiff(a, b []float64) float64 {
	var diff, scale float64
	for i := range a {
		diff = math.Max(diff, math.Abs(a[i]-b[i]))
		scale = math.Max(scale, math.Abs(b[i]))
	}
	return diff / scale
}
