// Package chapter holds the worked examples of the chapter's sections 5.1 and 5.2: the 2x2
// convolution of a 3x3 input, the output sizes under stride and padding, the multi-channel
// convolution, and max and average pooling. Each example runs
// one layer declared with graph on the hand-written (graph.Naive) and the fast (graph.Fast)
// operators and evaluates it with build.Evaluate, so the numbers are those of the real
// operators. Both "cnn conv-demo" and "cnn reproduce" print them from here.
//
// It also holds section 5.1.7's edge detection: the Laplacian kernels (Laplace8, Laplace4,
// ParseKernel), their response on a grey picture through the project's Conv2D
// (EdgeResponse), the built-in picture (BuiltinPicture) and the mapping of the response to
// grey levels (EdgeScale). "cnn edge" and "cnn reproduce" both run it from here.
package chapter

import (
	"fmt"
	"io"
	"strings"

	"github.com/nndl/cnn/build"
	"github.com/nndl/cnn/graph"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Declare adds one layer to a network on the input x.
type Declare func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node

// Worked is one worked example: a layer run on a fixed input by both implementations.
type Worked struct {
	Section string        // the chapter's section, e.g. "5.1.2"
	Name    string        // what it shows, e.g. "max pooling"
	Setup   string        // the input and weights, as the chapter writes them
	Naive   *tensor.Dense // the output of the hand-written operator
	Fast    *tensor.Dense // the output of the fast operator
	Book    string        // what the chapter prints, "" when it prints no numbers
}

// Agree reports whether the two implementations gave bit-identical outputs.
func (w Worked) Agree() bool { return agree(w.Naive, w.Fast) }

// Matches reports whether the fast output, formatted by Matrices, is what the chapter prints.
// It is true when the chapter prints nothing to compare with.
func (w Worked) Matches() bool { return w.Book == "" || Matrices(w.Fast) == w.Book }

// LayerOn declares one layer on a fixed input of the given shape with both implementations,
// sets the named parameters to weights and returns the outputs of the naive and the fast
// build.
func LayerOn(x []float32, shape []int, weights map[string][]float32, declare Declare) (naive, fast *tensor.Dense, err error) {
	var outs [2]*tensor.Dense
	for i, impl := range []graph.Impl{graph.Naive, graph.Fast} {
		params := graph.NewParams(tensor.Float32, 0)
		n := graph.New(params, impl)
		in := n.Input("x", shape...)
		copy(in.Value().Data().([]float32), x)
		y := declare(n, in)
		if err := n.Err(); err != nil {
			return nil, nil, err
		}
		for name, w := range weights {
			p := params.Get(name)
			if p == nil {
				return nil, nil, fmt.Errorf("no parameter %q", name)
			}
			copy(p.Value.Data().([]float32), w)
		}
		vals, err := build.Evaluate(n.Graph(), y)
		if err != nil {
			return nil, nil, err
		}
		outs[i] = vals[0].(*tensor.Dense)
	}
	return outs[0], outs[1], nil
}

// Fill returns n values f(0), ..., f(n-1).
func Fill(n int, f func(i int) float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = f(i)
	}
	return v
}

// Matrices formats the last two axes of a tensor as rows, one matrix per leading index,
// as "[[25, 31], [43, 49]]", matrices separated by two spaces.
func Matrices(t *tensor.Dense) string {
	s := t.Shape()
	h, w := s[len(s)-2], s[len(s)-1]
	d := t.Data().([]float32)
	var b strings.Builder
	for m := 0; m < len(d)/(h*w); m++ {
		if m > 0 {
			b.WriteString("  ")
		}
		b.WriteString("[")
		for i := 0; i < h; i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("[")
			for j := 0; j < w; j++ {
				if j > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "%g", d[m*h*w+i*w+j])
			}
			b.WriteString("]")
		}
		b.WriteString("]")
	}
	return b.String()
}

func agree(a, b *tensor.Dense) bool {
	x, y := a.Data().([]float32), b.Data().([]float32)
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}

// Conv is section 5.1.2's example: the 2x2 kernel [[0, 1], [2, 3]] on [[1, 2, 3], [4, 5, 6],
// [7, 8, 9]], no bias; the chapter prints [[25, 31], [43, 49]].
func Conv() (Worked, error) {
	naive, fast, err := LayerOn(Fill(9, func(i int) float32 { return float32(i + 1) }), []int{1, 1, 3, 3},
		map[string][]float32{"conv.weight": {0, 1, 2, 3}},
		func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node {
			return n.Conv2D("conv", x, graph.Conv{Out: 1, Kernel: 2, NoBias: true})
		})
	return Worked{Section: "5.1.2", Name: "convolution", Setup: "x = [[1, 2, 3], [4, 5, 6], [7, 8, 9]], w = [[0, 1], [2, 3]]",
		Naive: naive, Fast: fast, Book: "[[25, 31], [43, 49]]"}, err
}

// MultiChannel is section 5.2.1.2's parity check: 2 input channels ([[0..8]] and [[1..9]] as
// 3x3 maps), 3 output channels, 2x2 kernels of ones, zero bias.
func MultiChannel() (Worked, error) {
	naive, fast, err := LayerOn(Fill(18, func(i int) float32 { return float32(i%9 + i/9) }), []int{1, 2, 3, 3},
		map[string][]float32{"conv.weight": Fill(3*2*2*2, func(int) float32 { return 1 })},
		func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node {
			return n.Conv2D("conv", x, graph.Conv{Out: 3, Kernel: 2})
		})
	return Worked{Section: "5.2.1.2", Name: "multi-channel convolution", Setup: "x = [[0..8]], [[1..9]] as 3x3 maps; 3 output channels, 2x2 kernels of ones, zero bias",
		Naive: naive, Fast: fast}, err
}

// Pools is section 5.2.2's example: 2x2 max and average pooling with stride 2 on [[1..16]]
// as a 4x4 map.
func Pools() ([]Worked, error) {
	x := Fill(16, func(i int) float32 { return float32(i + 1) })
	var out []Worked
	for _, p := range []struct {
		name    string
		declare Declare
		book    string
	}{
		{"max", func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node {
			return n.MaxPool2D("pool", x, graph.Pool{Kernel: 2, Stride: 2})
		}, "[[6, 8], [14, 16]]"},
		{"avg", func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node {
			return n.AvgPool2D("pool", x, graph.Pool{Kernel: 2, Stride: 2})
		}, "[[3.5, 5.5], [11.5, 13.5]]"},
	} {
		naive, fast, err := LayerOn(x, []int{1, 1, 4, 4}, nil, p.declare)
		if err != nil {
			return nil, err
		}
		out = append(out, Worked{Section: "5.2.2", Name: p.name + " pooling", Setup: "[[1..16]] as a 4x4 map, 2x2 window, stride 2",
			Naive: naive, Fast: fast, Book: p.book})
	}
	return out, nil
}

// ShapeRow is one row of the output-size table: a square input of side Input, a square kernel,
// padding and stride, and the output size the declared Conv2D has.
type ShapeRow struct {
	Input, Kernel, Padding, Stride int
	OutH, OutW                     int
	Book                           string // the chapter's printed output size, "" when it prints none
}

// Shapes declares a Conv2D for each of section 5.1.6's settings (and LeNet's and ResNet18's
// first layers) and returns the output sizes, M' = (M + 2P - U)/S + 1.
func Shapes() ([]ShapeRow, error) {
	var rows []ShapeRow
	for _, c := range []struct {
		m, k, p, s int
		book       string
	}{{8, 3, 1, 1, "8x8"}, {8, 3, 1, 2, "4x4"}, {8, 3, 0, 1, ""}, {8, 3, 0, 2, ""}, {32, 5, 0, 1, ""}, {32, 7, 3, 2, ""}} {
		params := graph.NewParams(tensor.Float32, 0)
		n := graph.New(params, graph.Fast)
		y := n.Conv2D("conv", n.Input("x", 1, 1, c.m, c.m), graph.Conv{Out: 1, Kernel: c.k, Padding: c.p, Stride: c.s})
		if err := n.Err(); err != nil {
			return nil, err
		}
		rows = append(rows, ShapeRow{Input: c.m, Kernel: c.k, Padding: c.p, Stride: c.s, OutH: y.Shape()[2], OutW: y.Shape()[3], Book: c.book})
	}
	return rows, nil
}

// Out returns the output size as "HxW".
func (r ShapeRow) Out() string { return fmt.Sprintf("%dx%d", r.OutH, r.OutW) }

func same(w Worked) string {
	if w.Agree() {
		return "identical"
	}
	return "DIFFER"
}

// WriteDemo prints the worked examples of sections 5.1-5.2 as "cnn conv-demo" shows them.
func WriteDemo(w io.Writer) error {
	fmt.Fprintln(w, "5.1.2 Convolution is cross-correlation: y[i,j] = sum_u sum_v w[u,v] x[i+u, j+v]")
	c, err := Conv()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  x = [[1, 2, 3], [4, 5, 6], [7, 8, 9]], w = [[0, 1], [2, 3]]\n")
	fmt.Fprintf(w, "  hand-written Conv2D: %s\n  fast Conv2D:         %s (%s; the chapter prints %s)\n\n", Matrices(c.Naive), Matrices(c.Fast), same(c), c.Book)

	fmt.Fprintln(w, "5.1.6 Output size M' = (M + 2P - U)/S + 1")
	fmt.Fprintf(w, "  %-8s %-7s %-8s %-6s %s\n", "input", "kernel", "padding", "stride", "output")
	rows, err := Shapes()
	if err != nil {
		return err
	}
	for _, r := range rows {
		fmt.Fprintf(w, "  %-8s %-7d %-8d %-6d %s\n", fmt.Sprintf("%dx%d", r.Input, r.Input), r.Kernel, r.Padding, r.Stride, r.Out())
	}
	fmt.Fprintln(w)

	fmt.Fprintln(w, "5.1.3 Multi-channel: 2 input channels, 3 output channels, 2x2 kernels of ones, zero bias")
	mc, err := MultiChannel()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  x = [[0..8]], [[1..9]] as 3x3 maps\n  hand-written Conv2D: %s\n  fast Conv2D:         %s (%s)\n\n", Matrices(mc.Naive), Matrices(mc.Fast), same(mc))

	fmt.Fprintln(w, "5.2 Pooling 2x2, stride 2, on [[1..16]] as a 4x4 map")
	pools, err := Pools()
	if err != nil {
		return err
	}
	for _, p := range pools {
		kind := strings.TrimSuffix(p.Name, " pooling")
		fmt.Fprintf(w, "  %s: hand-written Pool2D %s, fast %s (%s; the chapter prints %s)\n", kind, Matrices(p.Naive), Matrices(p.Fast), same(p), p.Book)
	}
	return nil
}
