package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/onnx"
	"github.com/nndl/cnn/trainer"
)

func init() {
	register("export", "write a model and its weights as an ONNX file: opset 17, a dynamic batch, the parameter names kept, inference mode (BatchNorm as BatchNormalization with its running statistics, not folded; Dropout as Identity)", cmdExport)
}

func cmdExport(args []string, stdout io.Writer) error {
	fs := newFlags("export", "[MODEL] --weights FILE -o FILE.onnx [flags]")
	wf := addWeightFlags(fs)
	out := fs.String("o", "", "the ONNX file to write (required)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("-o FILE.onnx is required")
	}
	inputs := []namedPath{{"--weights", wf.path}}
	if len(pos) == 1 && isONNXPath(pos[0]) {
		inputs = append(inputs, namedPath{"model", pos[0]})
	}
	if err := checkOutput("-o", *out, inputs...); err != nil {
		return err
	}
	r, name, _, err := wf.load(pos, stdout)
	if err != nil {
		return err
	}
	if err := onnx.ExportFile(*out, r.Model, r.Params); err != nil {
		return err
	}
	tr, bu := r.Params.Count()
	fmt.Fprintf(stdout, "wrote %s: %s, input [N %s], %d classes, %s parameters and %s buffers as initialisers\n",
		*out, name, strings.Trim(fmt.Sprint(r.Model.Input), "[]"), r.Model.Classes, graph.Comma(int64(tr)), graph.Comma(int64(bu)))
	return nil
}

// isONNXPath reports whether a model argument names an ONNX file rather than a model.
func isONNXPath(name string) bool { return strings.HasSuffix(strings.ToLower(name), ".onnx") }

// importONNX reads an ONNX file into a model and its parameters, with what a report of the
// model must add to its layers (see onnx.Notes).
func importONNX(path string) (graph.Model, *graph.Params, []string, error) {
	if err := checkInputFile("model", path); err != nil {
		return graph.Model{}, nil, nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return graph.Model{}, nil, nil, err
	}
	defer f.Close()
	mp, err := onnx.ReadModel(f)
	if err != nil {
		return graph.Model{}, nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	m, params, err := onnx.FromProto(mp)
	if err != nil {
		return graph.Model{}, nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, params, onnx.Notes(mp), nil
}

// onnxModel is the model of an ONNX file, for the commands that take a model name; --input
// gives it another input shape, which its layers must fit.
func (m *modelFlags) onnxModel(path string) (graph.Model, graph.Impl, error) {
	model, _, notes, err := importONNX(path)
	if err != nil {
		return graph.Model{}, 0, err
	}
	m.notes = notes
	if m.input != "" {
		shape, err := parseShape(m.input)
		if err != nil {
			return graph.Model{}, 0, fmt.Errorf("--shape: %w", err)
		}
		model.Input = shape
	}
	return model, graph.Fast, nil
}

// loadONNX is weightFlags.load for an ONNX file without --weights: its initialisers are
// the weights.
func loadONNX(path string) (*trainer.Runner, string, []string, error) {
	m, params, _, err := importONNX(path)
	if err != nil {
		return nil, "", nil, err
	}
	r := trainer.New(m, params, graph.Fast, nil)
	if _, err := r.Program(1, false); err != nil {
		return nil, "", nil, fmt.Errorf("%s: %w", path, err)
	}
	r.Frozen = true
	return r, path, nil, nil
}
