package graph

import (
	"fmt"
	"slices"
	"strings"

	"gorgonia.org/tensor"

	"github.com/nndl/cnn/tensorio"
	"github.com/nndl/cnn/tensorio/safetensors"
)

// Load copies tensors into the declared parameters by name, converting the element type.
// A tensor whose shape differs from its parameter's is always an error. With strict set,
// a parameter missing from tensors or a tensor that names no parameter is an error listing
// the names; otherwise those are skipped and listed in the returned report. PyTorch's
// BatchNorm step counters (*.num_batches_tracked) carry no weights and are ignored.
func (p *Params) Load(tensors map[string]safetensors.Tensor, strict bool) (skipped []string, err error) {
	var missing, extra, mismatched []string
	for _, q := range p.list {
		t, ok := tensors[q.Name]
		if !ok {
			missing = append(missing, q.Name)
			continue
		}
		if !tensor.Shape(t.Shape).Eq(q.Value.Shape()) {
			mismatched = append(mismatched, fmt.Sprintf("%s is %v in the file, %v in the model", q.Name, shapeString(t.Shape), shapeString(q.Value.Shape())))
		}
	}
	for name := range tensors {
		if p.byName[name] == nil && !strings.HasSuffix(name, ".num_batches_tracked") {
			extra = append(extra, name)
		}
	}
	slices.Sort(extra)
	if len(mismatched) > 0 {
		return nil, fmt.Errorf("wrong shapes: %s", list(mismatched, "; "))
	}
	if strict && (len(missing) > 0 || len(extra) > 0) {
		var parts []string
		if len(missing) > 0 {
			parts = append(parts, "missing "+list(missing, ", "))
		}
		if len(extra) > 0 {
			parts = append(parts, "unexpected "+list(extra, ", "))
		}
		return nil, fmt.Errorf("weights do not match the model: %s", strings.Join(parts, "; "))
	}
	for _, q := range p.list {
		t, ok := tensors[q.Name]
		if !ok {
			continue
		}
		switch d := q.Value.Data().(type) {
		case []float32:
			copy(d, t.Float32())
		case []float64:
			copy(d, t.Float64())
		}
	}
	for _, name := range missing {
		skipped = append(skipped, name+" (not in the file, kept as initialised)")
	}
	for _, name := range extra {
		skipped = append(skipped, name+" (not in the model)")
	}
	return skipped, nil
}

// maxListed is how many names an error lists before it says how many more there are, so
// that a file of thousands of stray tensors gives a line one can read.
const maxListed = 16

// list joins names with sep, the first maxListed of them (each clipped to 80 bytes) and a
// count of the rest.
func list(names []string, sep string) string {
	shown := names[:min(len(names), maxListed)]
	clipped := make([]string, len(shown))
	for i, n := range shown {
		if len(n) > 80 {
			n = n[:77] + "..."
		}
		clipped[i] = n
	}
	s := strings.Join(clipped, sep)
	if rest := len(names) - len(shown); rest > 0 {
		s += fmt.Sprintf("%sand %d more", sep, rest)
	}
	return s
}

// Tensors returns every parameter and buffer as a float32 safetensors tensor, under its
// name, in PyTorch's layouts.
func (p *Params) Tensors() map[string]safetensors.Tensor {
	out := make(map[string]safetensors.Tensor, len(p.list))
	for _, q := range p.list {
		var v []float32
		switch d := q.Value.Data().(type) {
		case []float32:
			v = slices.Clone(d)
		case []float64:
			v = make([]float32, len(d))
			for i, x := range d {
				v[i] = float32(x)
			}
		}
		out[q.Name] = tensorio.NewFloat32([]int(q.Value.Shape().Clone()), v)
	}
	return out
}
