package graph

import (
	"fmt"
	"github.com/nndl/cnn/tensorio"
	"slices"
	"strings"

	"github.com/nndl/cnn/tensorio/safetensors"
	"gorgonia.org/tensor"
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
		return nil, fmt.Errorf("wrong shapes: %s", strings.Join(mismatched, "; "))
	}
	if strict && (len(missing) > 0 || len(extra) > 0) {
		var parts []string
		if len(missing) > 0 {
			parts = append(parts, "missing "+strings.Join(missing, ", "))
		}
		if len(extra) > 0 {
			parts = append(parts, "unexpected "+strings.Join(extra, ", "))
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
