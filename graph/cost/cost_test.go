package cost_test

import (
	"slices"
	"testing"

	"github.com/nndl/cnn/graph/cost"
)

// TestLeNet5 accounts the chapter's LeNet-5 layer by layer on a 1x32x32 input, as the book
// prints it (paddle.summary and paddle.flops), with no graph at all.
func TestLeNet5(t *testing.T) {
	type step struct {
		name   string
		layer  func(in []int) ([]int, cost.Counts, error)
		out    []int
		params int
		paddle int64
		rf     int
	}
	conv := func(out, k int) func([]int) ([]int, cost.Counts, error) {
		return func(in []int) ([]int, cost.Counts, error) { return cost.Conv2D(in, out, cost.Window{K: k, S: 1}, true) }
	}
	pool := func(avg bool) func([]int) ([]int, cost.Counts, error) {
		return func(in []int) ([]int, cost.Counts, error) { return cost.Pool2D(in, cost.Window{K: 2, S: 2}, avg) }
	}
	linear := func(out int) func([]int) ([]int, cost.Counts, error) {
		return func(in []int) ([]int, cost.Counts, error) { return cost.Linear(in, out, true) }
	}
	steps := []step{
		{"conv1", conv(6, 5), []int{1, 6, 28, 28}, 156, 122304, 5},
		{"pool2", pool(false), []int{1, 6, 14, 14}, 0, 0, 6},
		{"conv3", conv(16, 5), []int{1, 16, 10, 10}, 2416, 241600, 14},
		{"pool4", pool(true), []int{1, 16, 5, 5}, 0, 400, 16},
		{"conv5", conv(120, 5), []int{1, 120, 1, 1}, 48120, 48120, 32},
		{"flatten", cost.Flatten, []int{1, 120}, 0, 0, 32},
		{"linear6", linear(84), []int{1, 84}, 10164, 10080, 32},
		{"linear7", linear(10), []int{1, 10}, 850, 840, 32},
	}
	in, field := []int{1, 1, 32, 32}, cost.Field{RF: 1, Jump: 1}
	var params int
	var paddle int64
	for _, s := range steps {
		out, c, err := s.layer(in)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		field = c.Grow(field)
		if !slices.Equal(out, s.out) || c.Trainable != s.params || c.PaddleFLOPs != s.paddle || field.RF != s.rf {
			t.Errorf("%s: shape %v, %d params, %d FLOPs, RF %d; want %v, %d, %d, %d", s.name, out, c.Trainable, c.PaddleFLOPs, field.RF, s.out, s.params, s.paddle, s.rf)
		}
		params += c.Trainable
		paddle += c.PaddleFLOPs
		in = out
	}
	if params != 61706 || paddle != 423344 {
		t.Errorf("totals %d params, %d FLOPs; the book prints 61,706 and 423,344", params, paddle)
	}
}

// TestUnits checks the three counting conventions on one convolution with a bias: MACs,
// paddle.flops (one per multiply-add, +1 per output for the bias) and FLOPs (2 per MAC, +1
// per output).
func TestUnits(t *testing.T) {
	out, c, err := cost.Conv2D([]int{2, 3, 8, 8}, 4, cost.Window{K: 3, S: 1, P: 1}, true)
	if err != nil {
		t.Fatal(err)
	}
	outN := int64(2 * 4 * 8 * 8)
	if !slices.Equal(out, []int{2, 4, 8, 8}) || c.MACs != outN*27 || c.PaddleFLOPs != outN*28 || c.FLOPs != outN*55 {
		t.Errorf("got %v %+v", out, c)
	}
	_, bn, _ := cost.BatchNorm2D([]int{2, 4, 8, 8})
	if bn.Trainable != 8 || bn.Buffers != 8 || bn.PaddleFLOPs != 2*outN {
		t.Errorf("BatchNorm2D: %+v", bn)
	}
}

// TestErrors: a shape that does not fit says what and why.
func TestErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		err  func() error
		want string
	}{
		{"conv on 2-D", func() error { _, _, err := cost.Conv2D([]int{1, 8}, 4, cost.Window{K: 3, S: 1}, true); return err }, "want a 4-D [N,C,H,W] input"},
		{"no filters", func() error {
			_, _, err := cost.Conv2D([]int{1, 1, 8, 8}, 0, cost.Window{K: 3, S: 1}, true)
			return err
		}, "0 filters of 3x3: want at least one filter of at least 1x1"},
		{"window too big", func() error {
			_, _, err := cost.Conv2D([]int{1, 6, 2, 2}, 16, cost.Window{K: 5, S: 1}, true)
			return err
		}, "input 2x2 with padding 0 is smaller than the 5x5 window"},
		{"pool padding", func() error {
			_, _, err := cost.Pool2D([]int{1, 1, 8, 8}, cost.Window{K: 2, S: 2, P: 2}, false)
			return err
		}, "padding 2 is more than half the 2x2 window"},
		{"linear on 4-D", func() error { _, _, err := cost.Linear([]int{1, 2, 3, 4}, 10, true); return err }, "want a 2-D [N,features] input; flatten first"},
		{"add", func() error { _, _, err := cost.Add([]int{1, 2}, []int{1, 3}); return err }, "cannot add shapes (1, 2) and (1, 3): want the same shape"},
	} {
		if err := c.err(); err == nil || err.Error() != c.want {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}
