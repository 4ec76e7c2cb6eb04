// Package golden reads the PyTorch-made parity files of testdata/golden (see its README) and
// measures agreement the way that README defines it.
package golden

import (
	"fmt"
	"math"
	"strings"

	"github.com/nndl/cnn/tensorio/safetensors"
)

// Case is one golden file: the model's weights, the batch, and the reference results.
type Case struct {
	File    *safetensors.File
	Weights map[string]safetensors.Tensor // parameters and BatchNorm buffers under PyTorch's names
	Input   []float32                     // the batch, [N,C,H,W]
	Labels  []int
}

// Read loads a golden file, separating the weights from the batch and the references
// (input, labels, eval.*, train.*, grad.*, after.*).
func Read(path string) (*Case, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, err
	}
	in, ok := f.Tensors["input"]
	if !ok {
		return nil, fmt.Errorf("%s: no input tensor", path)
	}
	c := &Case{File: f, Weights: map[string]safetensors.Tensor{}, Input: in.Float32()}
	for _, l := range f.Tensors["labels"].I64 {
		c.Labels = append(c.Labels, int(l))
	}
	for name, t := range f.Tensors {
		if name == "input" || name == "labels" || reference(name) {
			continue
		}
		c.Weights[name] = t
	}
	return c, nil
}

func reference(name string) bool {
	for _, p := range []string{"eval.", "train.", "grad.", "after."} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// Want returns a reference tensor as float64.
func (c *Case) Want(name string) ([]float64, error) {
	t, ok := c.File.Tensors[name]
	if !ok {
		return nil, fmt.Errorf("the golden file has no %s", name)
	}
	return t.Float64(), nil
}

// RelErr is max|got-want| / max|want|, the golden README's measure (the plain maximum
// difference when want is all zeros).
func RelErr(got, want []float64) float64 {
	var d, m float64
	for i := range want {
		d = math.Max(d, math.Abs(got[i]-want[i]))
		m = math.Max(m, math.Abs(want[i]))
	}
	if m == 0 {
		return d
	}
	return d / m
}

// Float64s converts float32 values.
func Float64s(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}
