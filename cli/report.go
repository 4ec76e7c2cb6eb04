package cli

import (
	"fmt"
	"io"

	"github.com/nndl/cnn/graph"
	"gorgonia.org/tensor"
)

func init() {
	register("summary", "per-layer shapes, parameters, FLOPs and receptive field, before any data", cmdSummary)
	register("flops", "per-layer FLOPs table in a named unit (paddle, macs, flops)", cmdFLOPs)
}

// declare parses the model flags and declares the model for a batch size.
func declare(pos []string, mf *modelFlags, batch int) (*graph.Net, graph.Model, error) {
	name, err := oneModel(pos)
	if err != nil {
		return nil, graph.Model{}, err
	}
	m, impl, err := mf.model(name)
	if err != nil {
		return nil, m, err
	}
	if batch < 1 {
		return nil, m, fmt.Errorf("--batch %d: want at least 1", batch)
	}
	n, _, _, err := graph.Declare(m, graph.NewParams(tensor.Float32, 0), impl, batch, false)
	return n, m, err
}

func cmdSummary(args []string, stdout io.Writer) error {
	fs := newFlags("summary", "MODEL [flags]")
	mf := addModelFlags(fs, true)
	batch := fs.Int("batch", 1, "batch size")
	asJSON := fs.Bool("json", false, "print JSON")
	unitName := fs.String("unit", "paddle", "FLOPs unit: paddle, macs or flops")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	unit, err := graph.ParseUnit(*unitName)
	if err != nil {
		return fmt.Errorf("--unit: %w", err)
	}
	n, m, err := declare(pos, mf, *batch)
	if err != nil {
		return err
	}
	s := graph.Summarize(n.Layers(), tensor.Float32)
	if *asJSON {
		b, err := s.JSON(unit)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	fmt.Fprintf(stdout, "%s, input %v, batch %d\n", m.Name, m.Input, *batch)
	for _, note := range mf.notes {
		fmt.Fprintf(stdout, "note: %s\n", note)
	}
	return s.WriteTable(stdout, unit)
}

func cmdFLOPs(args []string, stdout io.Writer) error {
	fs := newFlags("flops", "MODEL [flags]")
	mf := addModelFlags(fs, true)
	batch := fs.Int("batch", 1, "batch size")
	unitName := fs.String("unit", "paddle", "FLOPs unit: paddle (paddle.flops), macs (multiply-accumulates) or flops (2 per MAC plus element-wise work)")
	asJSON := fs.Bool("json", false, "print JSON: the layers' counts and the total in the unit")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	unit, err := graph.ParseUnit(*unitName)
	if err != nil {
		return fmt.Errorf("--unit: %w", err)
	}
	n, m, err := declare(pos, mf, *batch)
	if err != nil {
		return err
	}
	s := graph.Summarize(n.Layers(), tensor.Float32)
	if *asJSON {
		return printJSON(stdout, true, flopsJSON(m, *batch, unit, s))
	}
	fmt.Fprintf(stdout, "%s, input %v, batch %d\n", m.Name, m.Input, *batch)
	return s.WriteFLOPs(stdout, unit)
}

// flopsReport is what 'cnn flops --json' prints.
type flopsReport struct {
	Model  string       `json:"model"`
	Input  []int        `json:"input"`
	Batch  int          `json:"batch"`
	Unit   string       `json:"unit"`
	About  string       `json:"unit_description"`
	Layers []flopsLayer `json:"layers"`
	Params int          `json:"total_params"`
	Total  int64        `json:"total"`
}

type flopsLayer struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Output []int  `json:"output_shape"`
	Params int    `json:"params"`
	Count  int64  `json:"count"`
}

func flopsJSON(m graph.Model, batch int, u graph.FLOPUnit, s graph.Summary) flopsReport {
	r := flopsReport{Model: m.Name, Input: m.Input, Batch: batch, Unit: fmt.Sprint(u), About: graph.UnitDescription(u),
		Params: s.TotalParams, Total: s.Count(u), Layers: []flopsLayer{}}
	for _, l := range s.Layers {
		r.Layers = append(r.Layers, flopsLayer{Name: l.Name, Type: l.Type, Output: []int(l.OutShape), Params: l.Params(), Count: l.Count(u)})
	}
	return r
}
