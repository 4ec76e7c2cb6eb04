package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/nndl/cnn/build"
	"github.com/nndl/cnn/graph"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func init() {
	register("conv-demo", "the chapter's worked convolution and pooling examples (5.1-5.2)", cmdConvDemo)
}

// layerOn declares one layer on a fixed input with both implementations, sets its weights
// and returns the outputs of the naive and the fast build.
func layerOn(x []float32, shape []int, weights map[string][]float32, declare func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node) (naive, fast *tensor.Dense, err error) {
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
			copy(params.Get(name).Value.Data().([]float32), w)
		}
		vals, err := build.Evaluate(n.Graph(), y)
		if err != nil {
			return nil, nil, err
		}
		outs[i] = vals[0].(*tensor.Dense)
	}
	return outs[0], outs[1], nil
}

func fill(n int, f func(i int) float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = f(i)
	}
	return v
}

// matrices formats the last two axes of a tensor as rows, one matrix per leading index.
func matrices(t *tensor.Dense) string {
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

func agree(a, b *tensor.Dense) string {
	x, y := a.Data().([]float32), b.Data().([]float32)
	for i := range x {
		if x[i] != y[i] {
			return "DIFFER"
		}
	}
	return "identical"
}

func cmdConvDemo(args []string, stdout io.Writer) error {
	fs := newFlags("conv-demo", "")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	w := stdout

	fmt.Fprintln(w, "5.1.2 Convolution is cross-correlation: y[i,j] = sum_u sum_v w[u,v] x[i+u, j+v]")
	naive, fast, err := layerOn(fill(9, func(i int) float32 { return float32(i + 1) }), []int{1, 1, 3, 3},
		map[string][]float32{"conv.weight": {0, 1, 2, 3}},
		func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node {
			return n.Conv2D("conv", x, graph.Conv{Out: 1, Kernel: 2, NoBias: true})
		})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  x = [[1, 2, 3], [4, 5, 6], [7, 8, 9]], w = [[0, 1], [2, 3]]\n")
	fmt.Fprintf(w, "  hand-written Conv2D: %s\n  fast Conv2D:         %s (%s; the chapter prints [[25, 31], [43, 49]])\n\n", matrices(naive), matrices(fast), agree(naive, fast))

	fmt.Fprintln(w, "5.1.6 Output size M' = (M + 2P - U)/S + 1")
	fmt.Fprintf(w, "  %-8s %-7s %-8s %-6s %s\n", "input", "kernel", "padding", "stride", "output")
	for _, c := range []struct{ m, k, p, s int }{{8, 3, 1, 1}, {8, 3, 1, 2}, {8, 3, 0, 1}, {8, 3, 0, 2}, {32, 5, 0, 1}, {32, 7, 3, 2}} {
		params := graph.NewParams(tensor.Float32, 0)
		n := graph.New(params, graph.Fast)
		y := n.Conv2D("conv", n.Input("x", 1, 1, c.m, c.m), graph.Conv{Out: 1, Kernel: c.k, Padding: c.p, Stride: c.s})
		if err := n.Err(); err != nil {
			return err
		}
		fmt.Fprintf(w, "  %-8s %-7d %-8d %-6d %dx%d\n", fmt.Sprintf("%dx%d", c.m, c.m), c.k, c.p, c.s, y.Shape()[2], y.Shape()[3])
	}
	fmt.Fprintln(w)

	fmt.Fprintln(w, "5.1.3 Multi-channel: 2 input channels, 3 output channels, 2x2 kernels of ones, zero bias")
	naive, fast, err = layerOn(fill(18, func(i int) float32 { return float32(i%9 + i/9) }), []int{1, 2, 3, 3},
		map[string][]float32{"conv.weight": fill(3*2*2*2, func(int) float32 { return 1 })},
		func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node {
			return n.Conv2D("conv", x, graph.Conv{Out: 3, Kernel: 2})
		})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  x = [[0..8]], [[1..9]] as 3x3 maps\n  hand-written Conv2D: %s\n  fast Conv2D:         %s (%s)\n\n", matrices(naive), matrices(fast), agree(naive, fast))

	fmt.Fprintln(w, "5.2 Pooling 2x2, stride 2, on [[1..16]] as a 4x4 map")
	x := fill(16, func(i int) float32 { return float32(i + 1) })
	for _, p := range []struct {
		name    string
		declare func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node
		book    string
	}{
		{"max", func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node {
			return n.MaxPool2D("pool", x, graph.Pool{Kernel: 2, Stride: 2})
		}, "[[6, 8], [14, 16]]"},
		{"avg", func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node {
			return n.AvgPool2D("pool", x, graph.Pool{Kernel: 2, Stride: 2})
		}, "[[3.5, 5.5], [11.5, 13.5]]"},
	} {
		naive, fast, err := layerOn(x, []int{1, 1, 4, 4}, nil, p.declare)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  %s: hand-written Pool2D %s, fast %s (%s; the chapter prints %s)\n", p.name, matrices(naive), matrices(fast), agree(naive, fast), p.book)
	}
	return nil
}
