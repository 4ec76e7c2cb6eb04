package trainer

import (
	"fmt"
	"github.com/nndl/cnn/tensorio"
	"slices"
	"strings"

	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/tensorio/safetensors"
	"gorgonia.org/tensor"
)

// momentumSuffix ends the names of SGD's momentum buffers in its state.
const momentumSuffix = ".momentum_buffer"

// State returns SGD's state for a checkpoint: the momentum buffer of every parameter it has
// updated with momentum, as "NAME.momentum_buffer" tensors of the parameter's shape and
// element type (copies). Plain SGD has none.
func (o *SGD) State() (map[string]safetensors.Tensor, map[string]string) {
	tensors := make(map[string]safetensors.Tensor, len(o.buffer))
	for name, b := range o.buffer {
		switch v := b.(type) {
		case []float32:
			tensors[name+momentumSuffix] = tensorio.NewFloat32([]int{len(v)}, slices.Clone(v))
		case []float64:
			tensors[name+momentumSuffix] = tensorio.NewFloat64([]int{len(v)}, slices.Clone(v))
		}
	}
	return tensors, nil
}

// LoadState restores a state written by State: every tensor must be the momentum buffer of
// a trainable parameter of params, with its size and element type, and either every
// trainable parameter has one or none does (before the first step). On error SGD is left as
// it was.
func (o *SGD) LoadState(params *graph.Params, tensors map[string]safetensors.Tensor, _ map[string]string) error {
	buffers := map[string]any{}
	var missing []string
	for _, q := range params.List() {
		if !q.Trainable {
			continue
		}
		t, ok := tensors[q.Name+momentumSuffix]
		if !ok {
			missing = append(missing, q.Name)
			continue
		}
		if n := q.Value.Shape().TotalSize(); len(t.Shape) != 1 || t.Shape[0] != n {
			return fmt.Errorf("sgd state: the momentum buffer of %s has shape %v, want [%d]", q.Name, t.Shape, n)
		}
		switch {
		case q.Value.Dtype() == tensor.Float32 && t.DType == safetensors.F32:
			buffers[q.Name] = slices.Clone(t.F32)
		case q.Value.Dtype() == tensor.Float64 && t.DType == safetensors.F64:
			buffers[q.Name] = slices.Clone(t.F64)
		default:
			return fmt.Errorf("sgd state: the momentum buffer of %s is %s, the parameter %v", q.Name, t.DType, q.Value.Dtype())
		}
	}
	if len(buffers) != len(tensors) {
		var unknown []string
		for name := range tensors {
			if base, ok := strings.CutSuffix(name, momentumSuffix); !ok || buffers[base] == nil {
				unknown = append(unknown, name)
			}
		}
		slices.Sort(unknown)
		return fmt.Errorf("sgd state holds tensors of no trainable parameter: %s", strings.Join(unknown, ", "))
	}
	if len(buffers) > 0 && len(missing) > 0 {
		return fmt.Errorf("sgd state has no momentum buffer for %s", strings.Join(missing, ", "))
	}
	if len(buffers) > 0 && o.Momentum == 0 {
		return fmt.Errorf("sgd state holds momentum buffers, and this SGD has no momentum")
	}
	o.buffer = nil
	if len(buffers) > 0 {
		o.buffer = buffers
	}
	return nil
}
