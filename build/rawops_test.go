package build_test

import (
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/build"
	"github.com/nndl/cnn/graph"
)

// rawOps are Gorgonia's own operations, as a user reaches them between the project's layers:
// each takes the output of a Linear layer, [2,6] (or a [2,2,4,4] map, when the name ends in
// "4d"), and returns a [2,k] matrix the next Linear layer reads, or, when the name ends in
// "logits", the [2,3] logits themselves.
var rawOps = []struct {
	name string
	f    func(x *gorgonia.Node) (*gorgonia.Node, error)
}{
	{"Add", func(x *gorgonia.Node) (*gorgonia.Node, error) { return gorgonia.Add(x, x) }},
	{"Sub", func(x *gorgonia.Node) (*gorgonia.Node, error) {
		return gorgonia.Sub(x, gorgonia.Must(gorgonia.Square(x)))
	}},
	{"HadamardProd", func(x *gorgonia.Node) (*gorgonia.Node, error) { return gorgonia.HadamardProd(x, x) }},
	{"HadamardDiv", func(x *gorgonia.Node) (*gorgonia.Node, error) {
		return gorgonia.HadamardDiv(x, gorgonia.Must(gorgonia.Add(gorgonia.Must(gorgonia.Square(x)), scalarLike(x, 1))))
	}},
	{"Neg", func(x *gorgonia.Node) (*gorgonia.Node, error) { return gorgonia.Neg(x) }},
	{"Abs", func(x *gorgonia.Node) (*gorgonia.Node, error) { return gorgonia.Abs(x) }},
	{"Square", func(x *gorgonia.Node) (*gorgonia.Node, error) { return gorgonia.Square(x) }},
	{"Cube", func(x *gorgonia.Node) (*gorgonia.Node, error) { return gorgonia.Cube(x) }},
	{"Exp", func(x *gorgonia.Node) (*gorgonia.Node, error) { return gorgonia.Exp(x) }},
	{"Log", func(x *gorgonia.Node) (*gorgonia.Node, error) {
		return gorgonia.Log(gorgonia.Must(gorgonia.Add(gorgonia.Must(gorgonia.Square(x)), scalarLike(x, 1))))
	}},
	{"Sqrt", func(x *gorgonia.Node) (*gorgonia.Node, error) {
		return gorgonia.Sqrt(gorgonia.Must(gorgonia.Add(gorgonia.Must(gorgonia.Square(x)), scalarLike(x, 1))))
	}},
	{"Tanh", func(x *gorgonia.Node) (*gorgonia.Node, error) { return gorgonia.Tanh(x) }},
	{"Sigmoid", func(x *gorgonia.Node) (*gorgonia.Node, error) { return gorgonia.Sigmoid(x) }},
	{"Rectify", func(x *gorgonia.Node) (*gorgonia.Node, error) { return gorgonia.Rectify(x) }},
	{"LeakyRelu", func(x *gorgonia.Node) (*gorgonia.Node, error) { return gorgonia.LeakyRelu(x, 0.1) }},
	{"Softplus", func(x *gorgonia.Node) (*gorgonia.Node, error) { return gorgonia.Softplus(x) }},
	{"Mul by scalar", func(x *gorgonia.Node) (*gorgonia.Node, error) { return gorgonia.Mul(x, scalarLike(x, 0.5)) }},
	{"Slice", func(x *gorgonia.Node) (*gorgonia.Node, error) { return gorgonia.Slice(x, nil, gorgonia.S(1, 4)) }},
	{"Slice as logits", func(x *gorgonia.Node) (*gorgonia.Node, error) { return gorgonia.Slice(x, nil, gorgonia.S(0, 3)) }},
	{"Concat as logits", func(x *gorgonia.Node) (*gorgonia.Node, error) {
		return gorgonia.Concat(1, gorgonia.Must(gorgonia.Slice(x, nil, gorgonia.S(0, 2))), gorgonia.Must(gorgonia.Slice(x, nil, gorgonia.S(3, 5))))
	}},
	{"Concat", func(x *gorgonia.Node) (*gorgonia.Node, error) {
		return gorgonia.Concat(1, x, gorgonia.Must(gorgonia.Square(x)))
	}},
	{"Reshape", func(x *gorgonia.Node) (*gorgonia.Node, error) {
		return gorgonia.Reshape(gorgonia.Must(gorgonia.Reshape(x, tensor.Shape{2, 3, 2})), tensor.Shape{2, 6})
	}},
	{"Transpose twice", func(x *gorgonia.Node) (*gorgonia.Node, error) {
		return gorgonia.Transpose(gorgonia.Must(gorgonia.Transpose(x)))
	}},
	{"Sum over features", func(x *gorgonia.Node) (*gorgonia.Node, error) {
		s := gorgonia.Must(gorgonia.Sum(x, 1))
		return gorgonia.Reshape(s, tensor.Shape{2, 1})
	}},
	{"Max over features", func(x *gorgonia.Node) (*gorgonia.Node, error) {
		return gorgonia.Reshape(gorgonia.Must(gorgonia.Max(x, 1)), tensor.Shape{2, 1})
	}},
	{"SoftMax", func(x *gorgonia.Node) (*gorgonia.Node, error) { return gorgonia.SoftMax(x) }},
	{"Dropout", func(x *gorgonia.Node) (*gorgonia.Node, error) { return gorgonia.Dropout(x, 0.5) }},
	{"BroadcastAdd", func(x *gorgonia.Node) (*gorgonia.Node, error) {
		b := gorgonia.NewMatrix(x.Graph(), x.Dtype(), gorgonia.WithShape(1, 6), gorgonia.WithInit(gorgonia.Ones()), gorgonia.WithName("b"))
		return gorgonia.BroadcastAdd(x, b, nil, []byte{0})
	}},
	{"MaxPool2D 4d", func(x *gorgonia.Node) (*gorgonia.Node, error) {
		y, err := gorgonia.MaxPool2D(x, tensor.Shape{2, 2}, []int{0, 0}, []int{2, 2})
		if err != nil {
			return nil, err
		}
		return gorgonia.Reshape(y, tensor.Shape{2, 8})
	}},
	{"Conv2d 4d", func(x *gorgonia.Node) (*gorgonia.Node, error) {
		w := gorgonia.NewTensor(x.Graph(), x.Dtype(), 4, gorgonia.WithShape(3, 2, 3, 3), gorgonia.WithInit(gorgonia.GlorotU(1)), gorgonia.WithName("w"))
		y, err := gorgonia.Conv2d(x, w, tensor.Shape{3, 3}, []int{1, 1}, []int{1, 1}, []int{1, 1})
		if err != nil {
			return nil, err
		}
		return gorgonia.Reshape(y, tensor.Shape{2, 48})
	}},
}

func scalarLike(x *gorgonia.Node, v float64) *gorgonia.Node {
	if x.Dtype() == tensor.Float64 {
		return gorgonia.NewConstant(v)
	}
	return gorgonia.NewConstant(float32(v))
}

// TestRawGorgoniaOps: each of Gorgonia's operations in rawOps, between the project's layers,
// gives the same logits, loss and gradients on every run of the same batch. The VM reuses
// the project's operations' buffers between runs but gives Gorgonia's a new value each time
// (graph.ReusesBuffers): reused, the gradient of Slice added up over the runs and Dropout
// failed on its second. Dropout draws a new mask each run, and is checked for running.
func TestRawGorgoniaOps(t *testing.T) {
	for _, c := range rawOps {
		t.Run(c.name, func(t *testing.T) {
			four := strings.HasSuffix(c.name, "4d")
			classes := 3
			if c.name == "Concat as logits" {
				classes = 4
			}
			m := graph.Model{Name: "raw", Input: []int{4}, Classes: classes, Forward: func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node {
				var y *gorgonia.Node
				if four {
					x = n.Linear("fc0", x, 32)
					y = gorgonia.Must(gorgonia.Reshape(x, tensor.Shape{2, 2, 4, 4}))
				} else {
					y = n.Linear("fc1", x, 6)
				}
				y, err := c.f(y)
				if err != nil {
					t.Fatal(err)
				}
				if strings.HasSuffix(c.name, "logits") {
					return y
				}
				return n.Linear("fc2", y, classes)
			}}
			p, err := build.Compile(m, graph.NewParams(tensor.Float64, 1), build.Options{Batch: 2, Train: true})
			if err != nil {
				t.Fatal(err)
			}
			x := []float32{0.5, -1, 2, 0.25, -0.75, 1.5, -2, 1}
			if err := p.Feed(x, []int{0, 2}); err != nil {
				t.Fatal(err)
			}
			var first [][]float64
			for run := 0; run < 3; run++ {
				if err := p.Run(); err != nil {
					t.Fatalf("run %d: %v", run, err)
				}
				got := [][]float64{p.LogitsValue(), {p.LossValue()}}
				for _, g := range p.Grads {
					got = append(got, slices.Clone(p.GradValue(g).Data().([]float64)))
				}
				for _, v := range got {
					for _, f := range v {
						if math.IsNaN(f) {
							t.Fatalf("run %d: NaN", run)
						}
					}
				}
				if run == 0 {
					first = got
					continue
				}
				if c.name == "Dropout" {
					continue
				}
				for i := range got {
					if !slices.Equal(got[i], first[i]) {
						t.Fatalf("run %d: output %d is %v, run 0 gave %v", run, i, got[i], first[i])
					}
				}
			}
		})
	}
}

// TestJoinGradientReusesBuffers: where a value has two readers (a residual join), Gorgonia's
// gradient sums the two into one with its own Add; a warm training run reuses that sum's
// buffer, as it does the project's operations', instead of allocating it anew.
func TestJoinGradientReusesBuffers(t *testing.T) {
	m := graph.Model{Name: "join", Input: []int{8, 16, 16}, Classes: 2, Forward: func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node {
		y := n.Conv2D("conv", x, graph.Conv{Out: 8, Kernel: 3, Padding: 1})
		y = n.Add("join", y, n.ReLU(y)) // y has two readers
		return n.Linear("fc", n.Flatten("flatten", n.GlobalAvgPool2D("gap", y)), 2)
	}}
	p, err := build.Compile(m, graph.NewParams(tensor.Float32, 1), build.Options{Batch: 4, Train: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Feed(make([]float32, 4*8*16*16), []int{0, 1, 0, 1}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := p.Run(); err != nil {
			t.Fatal(err)
		}
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		if err := p.Run(); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	// One [4,8,16,16] gradient is 32 KiB: a fresh one each run would be 320 KiB.
	if b := after.TotalAlloc - before.TotalAlloc; b > 64<<10 {
		t.Errorf("10 warm runs allocated %d bytes", b)
	}
}
