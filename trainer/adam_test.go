package trainer

import (
	"github.com/nndl/cnn/tensorio"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/tensorio/safetensors"
	"gorgonia.org/tensor"
)

// near reports whether got is within tol of want, relative to |want| (absolute near zero).
func near(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want))
}

// TestAdamHandComputed runs three Adam updates (lr 0.1, beta1 0.9, beta2 0.999, eps 1e-8)
// on four float64 weights and checks them against values worked out by hand from Paddle's
// formulas:
//
//	m_t = 0.9 m + 0.1 g, v_t = 0.999 v + 0.001 g^2,
//	lr_t = 0.1 sqrt(1-0.999^t)/(1-0.9^t), w -= lr_t m_t/(sqrt(v_t) + 1e-8 sqrt(1-0.999^t)).
//
// At t = 1, m = 0.1g and v = 0.001g^2, so the update is 0.1 g/(|g| + 1e-8) whatever g.
func TestAdamHandComputed(t *testing.T) {
	w := &graph.Param{Name: "w", Value: dense([]int{4}, []float64{1, -2, 0.5, 3}), Trainable: true}
	grads := [][]float64{
		{1, -1, 1e-8, 0},
		{-1, -1, 1e-8, 0},
		{1, -1, 1e-8, 0},
	}
	want := [][]float64{
		// w0, g = +1: 1 - 0.1/(1+1e-8).
		// w1, g = -1: -2 + 0.1/(1+1e-8).
		// w2, g = 1e-8 = eps: 0.5 - 0.1*1e-8/(1e-8+1e-8) = 0.45. With the epsilon of the Adam
		//     paper's efficient form (TensorFlow's, not scaled by sqrt(1-beta2^t)) it would move
		//     by 0.1*sqrt(0.001)/0.1 * 1e-9/(sqrt(1e-19)+1e-8) = 0.00307 only.
		// w3, g = 0: m = v = 0, no move.
		{0.90000000099999999, -1.90000000099999999, 0.45, 3},
		// t = 2, w0: m = 0.9*0.1 - 0.1 = -0.01, v = 0.999*0.001 + 0.001 = 0.001999,
		//     lr_t = 0.1*sqrt(0.001999)/0.19, so the step is 0.1*(-0.01/0.19)/(1+1e-8):
		//     w0 = 0.900000001 + 0.0052631578421... = 0.90526315884210525.
		// w1: a constant gradient moves by 0.1/(1+1e-8) on every step, bias correction and all.
		// w2: likewise 0.05 a step.
		{0.90526315884210525, -1.80000000199999998, 0.40, 3},
		// t = 3, w0: m = 0.9*(-0.01) + 0.1 = 0.091, v = 0.999*0.001999 + 0.001 = 0.002997001
		//     = 1 - 0.999^3, so v_hat = 1 and the step is 0.1*(0.091/0.271)/(1+1e-8)
		//     = 0.0335793354..., w0 = 0.87168382338454067.
		{0.87168382338454067, -1.70000000299999997, 0.35, 3},
	}
	opt := NewAdam(0.1, 0)
	for step, g := range grads {
		if err := opt.Step([]Update{{w, dense([]int{4}, slices.Clone(g))}}); err != nil {
			t.Fatal(err)
		}
		got := w.Value.Data().([]float64)
		for i := range got {
			if !near(got[i], want[step][i], 1e-15) {
				t.Errorf("step %d: w[%d] = %.17g, want %.17g", step+1, i, got[i], want[step][i])
			}
		}
	}
	if opt.Steps() != 3 {
		t.Errorf("Steps() = %d, want 3", opt.Steps())
	}
	if s := opt.String(); s != "Adam(lr=0.1, beta1=0.9, beta2=0.999, epsilon=1e-08)" {
		t.Errorf("String() = %q", s)
	}
}

// TestAdamL2Decay: Paddle's L2Decay adds coeff*w to the gradient before Adam's moments, so
// with a zero gradient the decay alone moves a weight by about lr at the first step
// (AdamW's decoupled decay would move it by lr*coeff*w = 0.001). Float32 weights.
func TestAdamL2Decay(t *testing.T) {
	w := &graph.Param{Name: "fc.weight", Value: dense([]int{1, 2}, []float32{2, -2}), Trainable: true}
	zero := dense([]int{1, 2}, []float32{0, 0})
	opt := NewAdam(0.1, 0.005)
	// t = 1: g = 0.005*2 = 0.01, the step 0.1*0.01/(0.01+1e-8) = 0.1/(1+1e-6): w = 1.9000001.
	// t = 2: g = 0.005*1.9000001 = 0.0095000005, m = 0.9*0.01 + 0.1*g = 0.00995000005,
	//        v = 0.999*1e-4 + 0.001*g^2 = 0.000099990250009500, lr_t = 0.1*sqrt(0.001999)/0.19,
	//        step = lr_t*m/(sqrt(v) + 1e-8*sqrt(0.001999)) = 0.0998333322..., w = 1.80016668777.
	// t = 3: w = 1.70062369754 (the same formulas once more).
	want := []float32{1.9000001, 1.8001668777, 1.7006236975}
	for step, wv := range want {
		if err := opt.Step([]Update{{w, zero}}); err != nil {
			t.Fatal(err)
		}
		got := w.Value.Data().([]float32)
		if !near(float64(got[0]), float64(wv), 3e-7) || !near(float64(got[1]), -float64(wv), 3e-7) {
			t.Errorf("step %d: w = %v, want ±%v", step+1, got, wv)
		}
	}
	if got := zero.Data().([]float32); got[0] != 0 || got[1] != 0 {
		t.Errorf("the gradient changed to %v", got)
	}
	if s := opt.String(); !strings.Contains(s, "weight_decay=L2Decay(0.005)") {
		t.Errorf("String() = %q", s)
	}
}

// TestSGDWeightDecay: w -= lr*(g + coeff*w), worked out by hand (exact in binary).
func TestSGDWeightDecay(t *testing.T) {
	w := &graph.Param{Name: "w", Value: dense([]int{2}, []float32{1, -2}), Trainable: true}
	g := dense([]int{2}, []float32{0.5, 0.25})
	opt := &SGD{LR: 0.5, WeightDecay: 0.5}
	if err := opt.Step([]Update{{w, g}}); err != nil {
		t.Fatal(err)
	}
	// g + 0.5w = [1, -0.75]; w = [1 - 0.5, -2 + 0.375].
	if got := w.Value.Data().([]float32); !slices.Equal(got, []float32{0.5, -1.625}) {
		t.Errorf("w = %v, want [0.5 -1.625]", got)
	}
	if got := g.Data().([]float32); !slices.Equal(got, []float32{0.5, 0.25}) {
		t.Errorf("the gradient changed to %v", got)
	}
	if s := opt.String(); s != "SGD(lr=0.5, weight_decay=L2Decay(0.5))" {
		t.Errorf("String() = %q", s)
	}
}

// adamParams is a store with a float32 weight, a float32 bias and a buffer.
func adamParams(t *testing.T) (*graph.Params, []Update) {
	t.Helper()
	p := graph.NewParams(tensor.Float32, 1)
	n := graph.New(p, graph.Fast)
	x := n.Input("x", 1, 1, 3, 3)
	n.Conv2D("conv", x, graph.Conv{Out: 2, Kernel: 2})
	if err := n.Err(); err != nil {
		t.Fatal(err)
	}
	var ups []Update
	for i, q := range p.List() {
		g := make([]float32, q.Value.Shape().TotalSize())
		for j := range g {
			g[j] = float32(math.Sin(float64(7*i + j + 1)))
		}
		ups = append(ups, Update{q, dense([]int(q.Value.Shape().Clone()), g)})
	}
	return p, ups
}

// TestAdamStateRoundTrip: three updates in one go, or one update, State, LoadState into a
// fresh Adam, and two more: the same weights and moments bit for bit.
func TestAdamStateRoundTrip(t *testing.T) {
	pa, upsA := adamParams(t)
	a := NewAdam(0.01, 0.005)
	for range 3 {
		if err := a.Step(upsA); err != nil {
			t.Fatal(err)
		}
	}
	pb, upsB := adamParams(t)
	b := NewAdam(0.01, 0.005)
	if err := b.Step(upsB); err != nil {
		t.Fatal(err)
	}
	tensors, meta := b.State()
	if meta["steps"] != "1" || len(tensors) != 4 {
		t.Fatalf("state: %d tensors, meta %v; want 4 and steps 1", len(tensors), meta)
	}
	c := NewAdam(0.01, 0.005)
	if err := c.LoadState(pb, tensors, meta); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := c.Step(upsB); err != nil {
			t.Fatal(err)
		}
	}
	sameTensors(t, pb.Tensors(), pa.Tensors())
	ta, ma := a.State()
	tc, mc := c.State()
	if ma["steps"] != "3" || mc["steps"] != "3" {
		t.Errorf("steps %s and %s, want 3", ma["steps"], mc["steps"])
	}
	sameTensors(t, tc, ta)
}

// TestAdamLoadStateErrors: a state that does not fit the parameters is refused and leaves
// Adam as it was.
func TestAdamLoadStateErrors(t *testing.T) {
	p, ups := adamParams(t)
	src := NewAdam(0.01, 0)
	if err := src.Step(ups); err != nil {
		t.Fatal(err)
	}
	good, meta := src.State()
	edit := func(f func(m map[string]safetensors.Tensor)) map[string]safetensors.Tensor {
		m := map[string]safetensors.Tensor{}
		for k, v := range good {
			m[k] = v
		}
		f(m)
		return m
	}
	for _, c := range []struct {
		name    string
		tensors map[string]safetensors.Tensor
		meta    map[string]string
		want    string
	}{
		{"bad steps", good, map[string]string{"steps": "x"}, "steps"},
		{"missing moment", edit(func(m map[string]safetensors.Tensor) { delete(m, "conv.bias.moment2") }), meta, "conv.bias"},
		{"missing parameter", edit(func(m map[string]safetensors.Tensor) {
			delete(m, "conv.bias.moment1")
			delete(m, "conv.bias.moment2")
		}), meta, "no moments for conv.bias"},
		{"wrong shape", edit(func(m map[string]safetensors.Tensor) {
			m["conv.bias.moment1"] = tensorio.NewFloat32([]int{3}, []float32{1, 2, 3})
		}), meta, "shape"},
		{"wrong type", edit(func(m map[string]safetensors.Tensor) {
			m["conv.bias.moment1"] = tensorio.NewFloat64([]int{2}, []float64{1, 2})
		}), meta, "float32"},
		{"extra tensor", edit(func(m map[string]safetensors.Tensor) {
			m["fc.weight.moment1"] = tensorio.NewFloat32([]int{1}, []float32{1})
		}), meta, "fc.weight.moment1"},
	} {
		dst := NewAdam(0.01, 0)
		err := dst.LoadState(p, c.tensors, c.meta)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one naming %q", c.name, err, c.want)
		}
		if dst.Steps() != 0 || dst.slots != nil {
			t.Errorf("%s: Adam changed", c.name)
		}
	}
}

// TestAdamRejects: an unsupported type or a gradient that does not fit is an error and
// changes nothing, not even the step count.
func TestAdamRejects(t *testing.T) {
	p := &graph.Param{Name: "counts", Value: dense([]int{2}, []int{1, 2})}
	opt := NewAdam(0.1, 0)
	if err := opt.Step([]Update{{p, dense([]int{2}, []int{1, 1})}}); err == nil || !strings.Contains(err.Error(), "counts") {
		t.Errorf("error %v, want one naming the parameter", err)
	}
	w := &graph.Param{Name: "w", Value: dense([]int{2}, []float32{1, 2}), Trainable: true}
	ok := Update{w, dense([]int{2}, []float32{1, 1})}
	bad := Update{&graph.Param{Name: "v", Value: dense([]int{2}, []float32{1, 2})}, dense([]int{3}, []float32{1, 1, 1})}
	if err := opt.Step([]Update{ok, bad}); err == nil || !strings.Contains(err.Error(), "v:") {
		t.Errorf("error %v, want one naming parameter v", err)
	}
	if got := w.Value.Data().([]float32); !slices.Equal(got, []float32{1, 2}) || opt.Steps() != 0 {
		t.Errorf("w = %v after %d steps: a rejected update changed something", got, opt.Steps())
	}
}
