package cost_test

import (
	"slices"
	"testing"

	"github.com/nndl/cnn/graph/cost"
)

// TestElementwiseCounts checks the accounting of the activations, Dropout, Concat, Mul and
// BatchNorm1D on a 2x3x4x5 input (120 elements).
func TestElementwiseCounts(t *testing.T) {
	in := []int{2, 3, 4, 5}
	act := func(typ string) func() ([]int, cost.Counts, error) {
		return func() ([]int, cost.Counts, error) { return cost.Activation(in, typ) }
	}
	for _, c := range []struct {
		name          string
		f             func() ([]int, cost.Counts, error)
		out           []int
		params        int
		flops, paddle int64
	}{
		{"ReLU", act("ReLU"), in, 0, 120, 0},
		{"ReLU6", act("ReLU6"), in, 0, 120, 0},
		{"LeakyReLU", act("LeakyReLU"), in, 0, 120, 120},
		{"Hardsigmoid", act("Hardsigmoid"), in, 0, 360, 0},
		{"Hardswish", act("Hardswish"), in, 0, 480, 0},
		{"Sigmoid", act("Sigmoid"), in, 0, 360, 0},
		{"Tanh", act("Tanh"), in, 0, 120, 0},
		{"SiLU", act("SiLU"), in, 0, 480, 0},
		{"GELU", act("GELU"), in, 0, 600, 0},
		{"Dropout training", func() ([]int, cost.Counts, error) { return cost.Dropout(in, 0.5, true) }, in, 0, 120, 0},
		{"Dropout inference", func() ([]int, cost.Counts, error) { return cost.Dropout(in, 0.5, false) }, in, 0, 0, 0},
		{"Concat", func() ([]int, cost.Counts, error) { return cost.Concat(in, []int{2, 1, 4, 5}, []int{2, 6, 4, 5}) }, []int{2, 10, 4, 5}, 0, 0, 0},
		{"Mul", func() ([]int, cost.Counts, error) { return cost.Mul(in, []int{2, 3, 1, 1}) }, in, 0, 120, 0},
		{"Mul broadcast first", func() ([]int, cost.Counts, error) { return cost.Mul([]int{2, 3, 1, 1}, in) }, in, 0, 120, 0},
		{"BatchNorm1D", func() ([]int, cost.Counts, error) { return cost.BatchNorm1D([]int{8, 5}) }, []int{8, 5}, 10, 80, 0},
	} {
		out, k, err := c.f()
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !slices.Equal(out, c.out) || k.Trainable != c.params || k.FLOPs != c.flops || k.PaddleFLOPs != c.paddle || k.MACs != 0 || k.Window > 1 || k.Stride > 1 {
			t.Errorf("%s: %v %+v, want %v, %d params, %d FLOPs, %d paddle", c.name, out, k, c.out, c.params, c.flops, c.paddle)
		}
	}
	for _, c := range []struct {
		name string
		err  func() error
		want string
	}{
		{"activation", func() error { _, _, err := cost.Activation(in, "Swish"); return err }, `unknown activation "Swish"`},
		{"dropout", func() error { _, _, err := cost.Dropout(in, -0.1, true); return err }, "dropout probability -0.1: want 0 <= p <= 1"},
		{"concat rank", func() error { _, _, err := cost.Concat(in, []int{2, 3}); return err }, "cannot concatenate (2, 3, 4, 5) and (2, 3) along the channels: want the same shape but for dimension 1"},
		{"concat none", func() error { _, _, err := cost.Concat(); return err }, "nothing to concatenate: want at least one input"},
		{"mul", func() error { _, _, err := cost.Mul(in, []int{2, 3, 4, 1}); return err }, "cannot multiply shapes (2, 3, 4, 5) and (2, 3, 4, 1): want the same shape, or [N,C,1,1] with [N,C,H,W]"},
		{"batchnorm1d", func() error { _, _, err := cost.BatchNorm1D(in); return err }, "want a 2-D [N,C] input"},
	} {
		if err := c.err(); err == nil || err.Error() != c.want {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}
