package viz_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/awalterschulze/gographviz"
	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/lenet"
	"github.com/nndl/cnn/viz"
	"gorgonia.org/tensor"
)

// Draw LeNet-5's layers as DOT, then write it where Graphviz (or a viewer) can read it;
// naming the file lenet.svg instead runs Graphviz's dot program.
func ExampleLayerDOT() {
	n := graph.New(graph.NewParams(tensor.Float32, 1), graph.Fast)
	x := n.Input("x", 1, 1, 32, 32)
	lenet.New(1, 10).Forward(n, x)
	if err := n.Err(); err != nil {
		fmt.Println(err)
		return
	}
	dot, err := viz.LayerDOT("lenet", n.Layers(), x, graph.UnitPaddle)
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, err := os.MkdirTemp("", "viz")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	if err := viz.Render(dot, filepath.Join(dir, "lenet.dot")); err != nil {
		fmt.Println(err)
		return
	}
	g, err := gographviz.Read([]byte(dot))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(g.Nodes.Nodes), "nodes,", len(g.Edges.Edges), "edges")
	fmt.Println(g.Attrs["label"])
	// Output:
	// 13 nodes, 12 edges
	// "lenet: 12 layers, 61,706 params, FLOPs 423,344 (paddle)"
}

// Compare two runs: each run has one colour in both panels, and its training and dev curves
// differ by dash pattern, the same in every run.
func ExamplePlotCurves() {
	steps := []float64{0, 100, 200, 300}
	loss := []viz.Series{
		{Name: "fast train loss", Run: "fast", X: steps, Y: []float64{2.30, 0.41, 0.22, 0.15}},
		{Name: "fast dev loss", Run: "fast", X: steps, Y: []float64{2.30, 0.45, 0.27, 0.21}},
		{Name: "naive train loss", Run: "naive", X: steps, Y: []float64{2.30, 0.43, 0.23, 0.16}},
		{Name: "naive dev loss", Run: "naive", X: steps, Y: []float64{2.30, 0.46, 0.28, 0.22}},
	}
	acc := []viz.Series{
		{Name: "fast dev accuracy", Run: "fast", X: steps, Y: []float64{0.10, 0.88, 0.94, 0.96}},
		{Name: "naive dev accuracy", Run: "naive", X: steps, Y: []float64{0.10, 0.87, 0.93, 0.96}},
	}
	dir, err := os.MkdirTemp("", "viz")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "curves.svg")
	if err := viz.PlotCurves(path, "lenet", loss, acc); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("wrote", filepath.Base(path))
	// Output:
	// wrote curves.svg
}
