package graph

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/nndl/cnn/kernels"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// frozenDropout is a dropout kernel whose every forward pass draws the same mask (its
// stream's first), so that finite differences see one function.
type frozenDropout struct{ dropout[float64] }

func (k frozenDropout) do(out gorgonia.Value, in ...gorgonia.Value) error {
	k.d.stream.runs.Store(0)
	return k.dropout.do(out, in...)
}

func newDropout(p float64, training bool, name string) dropout[float64] {
	spec := dropoutSpec{p: p, training: training, name: name, stream: NewParams(tensor.Float64, 3).dropoutStream(name), run: new(uint64)}
	return dropout[float64]{spec, 4}
}

// newLayerGradCases are the kernels of the activations, Dropout, Concat, Mul, BatchNorm1D
// and Linear without bias, on inputs for the finite-difference checks.
func newLayerGradCases(rng *rand.Rand) []gradCase {
	rnd := func(lo, hi float64, shape ...int) *tensor.Dense { return randDense(rng, lo, hi, shape...) }
	bn := func(training bool) gradCase {
		k := batchNorm[float64]{BatchNormSpec: kernels.BatchNormSpec{Training: training, Eps: BatchNormEpsilon, Momentum: BatchNormMomentum}, rank: 2}
		return gradCase{k, []*tensor.Dense{rnd(-2, 3, 6, 4), rnd(0.5, 1.5, 4), rnd(-1, 1, 4), rnd(-0.5, 0.5, 4), rnd(0.5, 2, 4)}}
	}
	var cases []gradCase
	for _, a := range []Act{ReLU6, LeakyReLU(0.1), LeakyReLU(-0.3), Sigmoid, Tanh, SiLU, GELU, Hardswish, Hardsigmoid} {
		cases = append(cases, gradCase{activation[float64]{a, 4}, []*tensor.Dense{rnd(-8, 8, 2, 3, 4, 5)}})
	}
	cases = append(cases,
		gradCase{frozenDropout{newDropout(0.3, true, "drop")}, []*tensor.Dense{rnd(-1, 1, 2, 3, 4, 5)}},
		gradCase{newDropout(0.3, false, "drop"), []*tensor.Dense{rnd(-1, 1, 2, 3, 4, 5)}},
		gradCase{newDropout(0, true, "drop"), []*tensor.Dense{rnd(-1, 1, 2, 3, 4, 5)}},
		gradCase{concat[float64]{[]int{2, 1, 3}, 4}, []*tensor.Dense{rnd(-1, 1, 2, 2, 3, 2), rnd(-1, 1, 2, 1, 3, 2), rnd(-1, 1, 2, 3, 3, 2)}},
		gradCase{concat[float64]{[]int{3, 2}, 2}, []*tensor.Dense{rnd(-1, 1, 4, 3), rnd(-1, 1, 4, 2)}},
		gradCase{mul[float64]{-1, 4}, []*tensor.Dense{rnd(-1, 1, 2, 3, 4, 5), rnd(-1, 1, 2, 3, 4, 5)}},
		gradCase{mul[float64]{1, 4}, []*tensor.Dense{rnd(-1, 1, 2, 3, 4, 5), rnd(-1, 1, 2, 3, 1, 1)}},
		gradCase{mul[float64]{0, 4}, []*tensor.Dense{rnd(-1, 1, 2, 3, 1, 1), rnd(-1, 1, 2, 3, 4, 5)}},
		bn(true), bn(false),
		gradCase{linear[float64]{bias: false}, []*tensor.Dense{rnd(-1, 1, 3, 5), rnd(-1, 1, 4, 5)}},
	)
	return cases
}

// TestNewLayersFiniteDifference checks the backward of every new kernel against central
// differences in float64.
func TestNewLayersFiniteDifference(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 1))
	for _, c := range newLayerGradCases(rng) {
		t.Run(c.k.String(), func(t *testing.T) { checkFiniteDifferences(t, rng, c.k, c.in) })
	}
}

// TestNewLayersMutantsFail: on the same cases, every wrong backward of mutations (scaled,
// negated, dropped, one element moved) fails the comparison, so the check above can fail.
func TestNewLayersMutantsFail(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 2))
	for _, c := range newLayerGradCases(rng) {
		for i, d := range c.k.diffWRT() {
			if !d {
				continue
			}
			for _, mu := range mutations {
				m := mutant{c.k, i, mu.wrong, mu.name}
				if e := finiteDifferenceErrors(t, rng, m, c.in)[i]; e <= 1e-6 {
					t.Errorf("%v: relative error %.3g passes the 1e-6 check", m, e)
				}
			}
		}
	}
}

// TestDropoutMask checks the statistics of a training mask and its scaling: about p of the
// elements are 0, the others exactly x/(1-p) in float32, the mean is kept, and the
// backward pass zeroes and scales the gradient at the same elements; p = 1 gives zeros.
func TestDropoutMask(t *testing.T) {
	const n = 200_000
	x := make([]float32, n)
	for i := range x {
		x[i] = 1 + float32(i%7) // nothing is 0 before the mask
	}
	for _, p := range []float64{0.1, 0.3, 0.5, 0.9, 1} {
		spec := dropoutSpec{p: p, training: true, name: "drop", stream: NewParams(tensor.Float32, 9).dropoutStream("drop"), run: new(uint64)}
		k := dropout[float32]{spec, 1}
		xv := tensor.New(tensor.WithShape(n), tensor.WithBacking(x))
		y, err := op{k, tensor.Float32}.Do(xv)
		if err != nil {
			t.Fatal(err)
		}
		dy, err := op{dropoutGrad[float32](k), tensor.Float32}.Do(y, xv)
		if err != nil {
			t.Fatal(err)
		}
		scale := float32(1 / (1 - p))
		yv, dyv := y.Data().([]float32), dy.Data().([]float32)
		dropped := 0
		var sumX, sumY float64
		for i, v := range yv {
			sumX += float64(x[i])
			sumY += float64(v)
			switch {
			case v == 0:
				dropped++
				if dyv[i] != 0 {
					t.Fatalf("p=%g: element %d dropped forward, gradient %v", p, i, dyv[i])
				}
			case v != x[i]*scale || dyv[i] != x[i]*scale:
				t.Fatalf("p=%g: element %d: %v and gradient %v, want 0 or %v", p, i, v, dyv[i], x[i]*scale)
			}
		}
		sigma := math.Sqrt(p * (1 - p) / n)
		if frac := float64(dropped) / n; math.Abs(frac-p) > 5*sigma {
			t.Errorf("p=%g: %.5f of the elements dropped, more than 5 sigma (%.5f) away", p, frac, sigma)
		}
		// Var(y/x) = p/(1-p) per element; the values of x widen it by E[x^2]/E[x]^2 = 1.25.
		if p < 1 && math.Abs(sumY/sumX-1) > 5*math.Sqrt(1.25*p/(1-p)/n) {
			t.Errorf("p=%g: the mean moved by a factor %.4f", p, sumY/sumX)
		}
	}
}

// TestNewLayersDeclare checks names, types, shapes, accounting and the declaration errors
// of the activations, Dropout, Concat, Mul, BatchNorm1D and LinearNoBias.
func TestNewLayersDeclare(t *testing.T) {
	params := NewParams(tensor.Float32, 1)
	n := New(params, Fast)
	x := n.Input("x", 2, 3, 8, 8)
	a := n.ReLU(x)
	b := n.Activation("act", a, GELU)
	c := n.Activation("", b, LeakyReLU(0.2))
	n.Activation("", c, ReLU)
	conv := n.Conv2D("conv", x, Conv{Out: 4, Kernel: 3, Padding: 1})
	cat := n.Concat("cat", c, conv, x)
	s := n.GlobalAvgPool2D("squeeze", cat)
	se := n.Mul("se", cat, s)
	n.Mul("", s, se)
	f := n.Flatten("flatten", se)
	fc := n.LinearNoBias("fc", f, 5)
	n.BatchNorm1D("bn", fc)
	n.Dropout("drop", fc, 0.5)
	if err := n.Err(); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name, typ     string
		out           []int
		params        int
		flops, paddle int64
		rf            int
		attrs         string
	}{
		{"relu_1", "ReLU", []int{2, 3, 8, 8}, 0, 384, 0, 1, ""},
		{"act", "GELU", []int{2, 3, 8, 8}, 0, 5 * 384, 0, 1, ""},
		{"leakyrelu_1", "LeakyReLU", []int{2, 3, 8, 8}, 0, 384, 384, 1, "slope 0.2"},
		{"relu_2", "ReLU", []int{2, 3, 8, 8}, 0, 384, 0, 1, ""},
		{"conv", "Conv2D", []int{2, 4, 8, 8}, 112, 0, 0, 3, ""},
		{"cat", "Concat", []int{2, 10, 8, 8}, 0, 0, 0, 3, "3 inputs"},
		{"squeeze", "GlobalAvgPool2D", []int{2, 10, 1, 1}, 0, 0, 0, 10, ""},
		{"se", "Mul", []int{2, 10, 8, 8}, 0, 1280, 0, 10, "input 1 broadcast over H,W"},
		{"mul_1", "Mul", []int{2, 10, 8, 8}, 0, 1280, 0, 10, "input 0 broadcast over H,W"},
		{"flatten", "Flatten", []int{2, 640}, 0, 0, 0, 66, ""},
		{"fc", "Linear", []int{2, 5}, 3200, 2 * 6400, 6400, 66, "640->5 no bias"},
		{"bn", "BatchNorm1D", []int{2, 5}, 20, 20, 0, 66, "5 eps 1e-05 momentum 0.9 running statistics"},
		{"drop", "Dropout", []int{2, 5}, 0, 0, 0, 66, "p 0.5 identity (inference)"},
	}
	layers := n.Layers()
	if len(layers) != len(want) {
		t.Fatalf("%d layers, want %d", len(layers), len(want))
	}
	for i, w := range want {
		l := layers[i]
		if w.typ == "Conv2D" || w.typ == "GlobalAvgPool2D" || w.typ == "Flatten" {
			continue // accounted elsewhere; here for the receptive field
		}
		if l.Name != w.name || l.Type != w.typ || !l.OutShape.Eq(tensor.Shape(w.out)) || l.Params() != w.params ||
			l.FLOPs != w.flops || l.PaddleFLOPs != w.paddle || (l.MACs != 0) != (w.typ == "Linear") || w.typ == "Linear" && l.MACs != l.PaddleFLOPs || l.RF != w.rf || l.Attrs != w.attrs {
			t.Errorf("layer %d: %s (%s) out %v, %d params, %d FLOPs, %d paddle, RF %d, %q; want %+v", i, l.Name, l.Type, l.OutShape, l.Params(), l.FLOPs, l.PaddleFLOPs, l.RF, l.Attrs, w)
		}
	}
	if cl := layers[5]; len(cl.Inputs) != 3 || cl.Inputs[0] != c || cl.Inputs[1] != conv || cl.Inputs[2] != x {
		t.Errorf("Concat inputs %v", cl.Inputs)
	}
	if params.Get("fc.weight") == nil || params.Get("fc.bias") != nil {
		t.Errorf("LinearNoBias: weight %v, bias %v", params.Get("fc.weight"), params.Get("fc.bias"))
	}
	for _, suffix := range []string{"weight", "bias", "running_mean", "running_var"} {
		if p := params.Get("bn." + suffix); p == nil || p.Trainable != (suffix == "weight" || suffix == "bias") {
			t.Errorf("BatchNorm1D parameter bn.%s: %+v", suffix, p)
		}
	}

	for _, c := range []struct {
		name    string
		declare func(n *Net, x *gorgonia.Node)
		want    []string
	}{
		{"slope", func(n *Net, x *gorgonia.Node) { n.Activation("", x, LeakyReLU(math.NaN())) },
			[]string{"layer leakyrelu_1 (LeakyReLU) on input (2, 3, 8, 8): negative slope NaN: want a finite number"}},
		{"dropout p", func(n *Net, x *gorgonia.Node) { n.Dropout("d", x, 1.5) },
			[]string{"layer d (Dropout) on input (2, 3, 8, 8): dropout probability 1.5: want 0 <= p <= 1"}},
		{"concat", func(n *Net, x *gorgonia.Node) {
			n.Concat("cat", x, n.MaxPool2D("pool", x, Pool{Kernel: 2}))
		}, []string{"layer cat (Concat) on input (2, 3, 8, 8): cannot concatenate (2, 3, 8, 8) and (2, 3, 4, 4) along the channels: want the same shape but for dimension 1"}},
		{"concat nothing", func(n *Net, x *gorgonia.Node) { n.Concat("cat") },
			[]string{"layer cat (Concat): nothing to concatenate: want at least one input"}},
		{"mul", func(n *Net, x *gorgonia.Node) { n.Mul("m", x, n.Conv2D("c", x, Conv{Out: 2, Kernel: 8})) },
			[]string{"layer m (Mul) on input (2, 3, 8, 8): cannot multiply shapes (2, 3, 8, 8) and (2, 2, 1, 1): want the same shape, or [N,C,1,1] with [N,C,H,W]"}},
		{"batchnorm1d", func(n *Net, x *gorgonia.Node) { n.BatchNorm1D("bn", x) },
			[]string{"layer bn (BatchNorm1D) on input (2, 3, 8, 8): want a 2-D [N,C] input"}},
		{"linear", func(n *Net, x *gorgonia.Node) { n.LinearNoBias("fc", x, 4) },
			[]string{"layer fc (Linear) on input (2, 3, 8, 8): want a 2-D [N,features] input; flatten first"}},
	} {
		n := New(NewParams(tensor.Float32, 1), Fast)
		x := n.Input("x", 2, 3, 8, 8)
		c.declare(n, x)
		n.ReLU(x) // after an error, nothing more is declared
		err := n.Err()
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q, want %q", c.name, err, w)
			}
		}
		for _, l := range n.Layers() {
			if l.Type == "ReLU" {
				t.Errorf("%s: a layer was declared after the error", c.name)
			}
		}
	}
}

// TestBatchNorm1DOneSample: training on a batch of one fails at run time, as PyTorch's does;
// inference runs.
func TestBatchNorm1DOneSample(t *testing.T) {
	for _, training := range []bool{true, false} {
		n := New(NewParams(tensor.Float64, 1), Fast)
		n.training = training
		n.BatchNorm1D("bn", n.Input("x", 1, 4))
		if err := n.Err(); err != nil {
			t.Fatal(err)
		}
		l := n.Layers()[0]
		var args []gorgonia.Value
		for _, in := range l.Inputs {
			args = append(args, in.Value())
		}
		_, err := l.Output.Op().Do(args...)
		if training && (err == nil || !strings.Contains(err.Error(), "more than one value per feature")) {
			t.Errorf("training on a batch of one: error %v", err)
		}
		if !training && err != nil {
			t.Errorf("inference on a batch of one: %v", err)
		}
	}
}
