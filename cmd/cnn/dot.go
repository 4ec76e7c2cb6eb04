package main

import (
	"fmt"
	"io"

	"github.com/nndl/cnn/build"
	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/viz"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func init() {
	register("dot", "Graphviz DOT of a model: its layers (default) or every Gorgonia op (--ops)", cmdDOT)
}

func cmdDOT(args []string, stdout io.Writer) error {
	fs := newFlags("dot", "MODEL [--ops] [-o FILE.dot|.svg|.png|.pdf] [flags]")
	mf := addModelFlags(fs, true)
	ops := fs.Bool("ops", false, "draw the full operation graph instead of one node per layer")
	train := fs.Bool("train", false, "with --ops: include the loss and the gradient operations")
	out := fs.String("o", "", "write to this file (.dot as is; .svg, .png, .pdf through Graphviz's dot); default stdout")
	batch := fs.Int("batch", 1, "batch size")
	unitName := fs.String("unit", "paddle", "FLOPs unit in the labels: paddle, macs or flops")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	unit, err := graph.ParseUnit(*unitName)
	if err != nil {
		return fmt.Errorf("--unit: %w", err)
	}
	name, err := oneModel(pos)
	if err != nil {
		return err
	}
	m, impl, err := mf.model(name)
	if err != nil {
		return err
	}
	if *batch < 1 {
		return fmt.Errorf("--batch %d: want at least 1", *batch)
	}
	var dot string
	if *ops {
		p, err := compileForDOT(m, impl, *batch, *train)
		if err != nil {
			return err
		}
		dot, err = viz.OpsDOT(name, p)
		if err != nil {
			return err
		}
	} else {
		n, x, _, err := graph.Declare(m, graph.NewParams(tensor.Float32, 0), impl, *batch, false)
		if err != nil {
			return err
		}
		if dot, err = viz.LayerDOT(name, n.Layers(), x, unit); err != nil {
			return err
		}
	}
	if *out == "" {
		_, err = io.WriteString(stdout, dot)
		return err
	}
	if err := viz.Render(dot, *out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", *out)
	return nil
}

// compileForDOT returns the expression graph of the model: the forward pass, or with train the
// loss and gradients too.
func compileForDOT(m graph.Model, impl graph.Impl, batch int, train bool) (*gorgonia.ExprGraph, error) {
	p, err := build.Compile(m, graph.NewParams(tensor.Float32, 0), build.Options{Batch: batch, Train: train, Impl: impl})
	if err != nil {
		return nil, err
	}
	return p.Net.Graph(), nil
}
