package gradcheck_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/build"
	"github.com/nndl/cnn/gradcheck"
	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/tensorio"
	"github.com/nndl/cnn/viz"
)

func wave(shape ...int) tensorio.Tensor {
	t := tensorio.NewFloat64(shape, make([]float64, tensorio.Tensor{Shape: shape}.Len()))
	for i := range t.F64 {
		t.F64[i] = math.Sin(1.7*float64(i) + 0.3)
	}
	return t
}

// TestLayers: the built-in layers pass the check, in both modes, parameters included; a
// scaled, negated or dropped gradient fails it (see Example for one element off).
func TestLayers(t *testing.T) {
	for _, c := range []struct {
		name     string
		training bool
		f        func(n *graph.Net, in []*gorgonia.Node) *gorgonia.Node
		in       []tensorio.Tensor
	}{
		{"conv+bn+relu+pool", true, func(n *graph.Net, in []*gorgonia.Node) *gorgonia.Node {
			x := n.BatchNorm2D("bn", n.Conv2D("conv", in[0], graph.Conv{Out: 3, Kernel: 3, Stride: 2, Padding: 1}))
			return n.AvgPool2D("pool", n.Activation("", x, graph.SiLU), graph.Pool{Kernel: 2})
		}, []tensorio.Tensor{wave(2, 2, 7, 7)}},
		{"linear, residual add", false, func(n *graph.Net, in []*gorgonia.Node) *gorgonia.Node {
			y := n.Linear("fc", in[0], 5)
			return n.Add("add", y, n.Activation("", y, graph.Tanh))
		}, []tensorio.Tensor{wave(3, 4)}},
		{"concat, mul", false, func(n *graph.Net, in []*gorgonia.Node) *gorgonia.Node {
			return n.Mul("mul", n.Concat("cat", in[0], in[1]), n.Concat("cat2", in[1], in[0]))
		}, []tensorio.Tensor{wave(2, 2, 3, 3), wave(2, 1, 3, 3)}},
	} {
		if err := gradcheck.Check(c.f, c.in, gradcheck.Options{Training: c.training}); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	for _, s := range []float64{1.01, 0.99, -1, 0} {
		scaled := Swish
		scaled.Backward = func(i int, din, dout, out tensorio.Tensor, in []tensorio.Tensor) error {
			err := Swish.Backward(i, din, dout, out, in)
			for j := range din.F64 {
				din.F64[j] *= s
			}
			return err
		}
		f := func(n *graph.Net, in []*gorgonia.Node) *gorgonia.Node { return n.Apply("", scaled, in[0]) }
		if err := gradcheck.Check(f, []tensorio.Tensor{wave(2, 5)}, gradcheck.Options{}); err == nil {
			t.Errorf("a gradient scaled by %g passed", s)
		}
	}
}

// TestOperatorInAProgram: an operator of one's own trains with the rest, shows in the DOT,
// has its learnt parameter counted, and one without a backward is refused when a training
// program needs it, naming it.
func TestOperatorInAProgram(t *testing.T) {
	scale := graph.Operator{ // y = x * a, a a learnt [C] per channel
		Type: "ChannelScale",
		Shape: func(in [][]int) ([]int, error) {
			if len(in) != 2 || len(in[1]) != 1 || in[1][0] != in[0][1] {
				return nil, fmt.Errorf("want [N,C,...] and [C], got %v", in)
			}
			return in[0], nil
		},
		Forward: func(out tensorio.Tensor, in []tensorio.Tensor) error {
			c, inner := in[0].Shape[1], in[0].Len()/(in[0].Shape[0]*in[0].Shape[1])
			for i := range out.F32 {
				out.F32[i] = in[0].F32[i] * in[1].F32[i/inner%c]
			}
			return nil
		},
		Backward: func(wrt int, din, dout, _ tensorio.Tensor, in []tensorio.Tensor) error {
			c, inner := in[0].Shape[1], in[0].Len()/(in[0].Shape[0]*in[0].Shape[1])
			clear(din.F32)
			for i, g := range dout.F32 {
				if wrt == 0 {
					din.F32[i] = g * in[1].F32[i/inner%c]
				} else {
					din.F32[i/inner%c] += g * in[0].F32[i]
				}
			}
			return nil
		},
	}
	model := func(op graph.Operator) graph.Model {
		return graph.Model{Name: "scaled", Input: []int{2, 4, 4}, Classes: 2, Forward: func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node {
			a := n.Param("scale", []int{2}, graph.Ones, 0, 0)
			x = n.Apply("scale1", op, x, a)
			return n.Linear("fc", n.Flatten("flatten", x), 2)
		}}
	}
	p, err := build.Compile(model(scale), graph.NewParams(tensor.Float32, 1), build.Options{Batch: 2, Train: true})
	if err != nil {
		t.Fatal(err)
	}
	if l := p.Net.Layers()[0]; l.Type != "ChannelScale" || l.Trainable != 2 {
		t.Errorf("layer %+v: want ChannelScale with 2 trainable values", l)
	}
	x := make([]float32, 2*2*4*4)
	for i := range x {
		x[i] = float32(i%5) - 2
	}
	if err := p.Feed(x, []int{0, 1}); err != nil {
		t.Fatal(err)
	}
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	var g []float32
	for _, gr := range p.Grads {
		if gr.Param.Name == "scale" {
			g = p.GradValue(gr).Data().([]float32)
		}
	}
	if len(g) != 2 || g[0] == 0 && g[1] == 0 {
		t.Errorf("the scale's gradient is %v", g)
	}
	dot, err := viz.LayerDOT("scaled", p.Net.Layers(), p.Input, graph.UnitPaddle)
	if err != nil || !strings.Contains(dot, "ChannelScale") {
		t.Errorf("DOT (error %v) does not show the operator:\n%s", err, dot)
	}
	noGrad := scale
	noGrad.Backward = nil
	if _, err := build.Compile(model(noGrad), graph.NewParams(tensor.Float32, 1), build.Options{Batch: 2, Train: true}); err == nil || !strings.Contains(err.Error(), "ChannelScale has no Backward") {
		t.Errorf("a training program with an operator without a backward: error %v", err)
	}
}
