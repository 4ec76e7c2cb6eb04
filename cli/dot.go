package cli

import (
	"fmt"
	"io"
	"strconv"

	"github.com/nndl/cnn/build"
	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/viz"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func init() {
	register("dot", "Graphviz DOT of a model: its layers (default), one node per block (--collapse) or every Gorgonia op (--ops)", cmdDOT)
}

// collapseOver is the number of layers over which cnn dot draws each block as one node
// unless --collapse=false.
const collapseOver = 40

// collapseFlag is --collapse: true, false, or auto (unset) for more than collapseOver layers.
type collapseFlag struct{ set, on bool }

// String implements flag.Value.
func (c *collapseFlag) String() string {
	if c == nil || !c.set {
		return "auto"
	}
	return strconv.FormatBool(c.on)
}

// Set implements flag.Value.
func (c *collapseFlag) Set(v string) error {
	if v == "auto" {
		*c = collapseFlag{}
		return nil
	}
	on, err := strconv.ParseBool(v)
	if err != nil {
		return fmt.Errorf("want true, false or auto")
	}
	*c = collapseFlag{set: true, on: on}
	return nil
}

// IsBoolFlag lets --collapse stand alone for --collapse=true.
func (c *collapseFlag) IsBoolFlag() bool { return true }

func cmdDOT(args []string, stdout io.Writer) error {
	fs := newFlags("dot", "MODEL [--collapse[=false] | --ops] [-o FILE.dot|.svg|.png|.pdf] [flags]")
	mf := addModelFlags(fs, true)
	ops := fs.Bool("ops", false, "draw the full operation graph instead of one node per layer")
	var collapse collapseFlag
	fs.Var(&collapse, "collapse", fmt.Sprintf("draw each block (layer2.0) as one node with its shapes, params and FLOPs summed, shortcuts kept: true, false or auto (the default: true over %d layers, so for ResNet18's 69 but not LeNet's 12)", collapseOver))
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
	if *ops && collapse.set && collapse.on {
		return fmt.Errorf("--collapse draws the layer graph, --ops every operation: choose one")
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
		layers, draw := n.Layers(), viz.LayerDOT
		if collapse.on || !collapse.set && len(layers) > collapseOver {
			draw = viz.BlockDOT
		}
		if dot, err = draw(name, layers, x, unit); err != nil {
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
