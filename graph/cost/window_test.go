package cost_test

import (
	"slices"
	"testing"

	"github.com/nndl/cnn/graph/cost"
)

// TestWindows accounts the rectangular, dilated, grouped and ceil-mode windows and adaptive
// pooling, each number worked out by hand.
func TestWindows(t *testing.T) {
	type want struct {
		out              []int
		params           int
		macs, paddle, fl int64
		window, stride   int
		windowW, strideW int
	}
	for _, c := range []struct {
		name string
		run  func() ([]int, cost.Counts, error)
		want want
	}{
		// 32 channels, one 3x3 filter each: 32*9 weights, 9 MACs per output.
		{"depthwise", func() ([]int, cost.Counts, error) {
			return cost.Conv2D([]int{1, 32, 112, 112}, 32, cost.Window{K: 3, S: 1, P: 1, Groups: 32}, false)
		}, want{[]int{1, 32, 112, 112}, 288, 3612672, 3612672, 2 * 3612672, 3, 1, 0, 0}},
		// A 3x3 kernel dilated 2 spans 5x5: padding 2 keeps the map; 27 MACs per output.
		{"dilated", func() ([]int, cost.Counts, error) {
			return cost.Conv2D([]int{1, 3, 32, 32}, 8, cost.Window{K: 3, S: 1, P: 2, DH: 2, DW: 2}, true)
		}, want{[]int{1, 8, 32, 32}, 224, 221184, 229376, 2*221184 + 8192, 5, 1, 0, 0}},
		// 1x7 with padding 0x3: 4*7 MACs per output; the field grows along the width only.
		{"1x7", func() ([]int, cost.Counts, error) {
			return cost.Conv2D([]int{2, 4, 10, 12}, 6, cost.Window{KH: 1, KW: 7, S: 1, PW: 3}, false)
		}, want{[]int{2, 6, 10, 12}, 168, 40320, 40320, 80640, 1, 1, 7, 1}},
		// Two groups of 3 input channels: each of the 4 filters has 3*9 weights.
		{"groups", func() ([]int, cost.Counts, error) {
			return cost.Conv2D([]int{1, 6, 5, 5}, 4, cost.Window{K: 3, S: 2, Groups: 2}, true)
		}, want{[]int{1, 4, 2, 2}, 112, 432, 448, 880, 3, 2, 0, 0}},
		// Ceil mode: 7 -> 4 windows of 2, the last over one row.
		{"ceil 7", func() ([]int, cost.Counts, error) {
			return cost.Pool2D([]int{1, 1, 7, 7}, cost.Window{K: 2, S: 2, Ceil: true}, false)
		}, want{[]int{1, 1, 4, 4}, 0, 0, 0, 16 * 3, 2, 2, 0, 0}},
		// Ceil mode with padding 1: (10+2-3)/2 rounds up to 5, plus 1.
		{"ceil 10 padded", func() ([]int, cost.Counts, error) {
			return cost.Pool2D([]int{1, 1, 10, 10}, cost.Window{K: 3, S: 2, P: 1, Ceil: true}, true)
		}, want{[]int{1, 1, 6, 6}, 0, 0, 36, 36 * 9, 3, 2, 0, 0}},
		// Ceil mode would start a 4th window at 6 = 5 + padding 1: it is dropped, as PyTorch does.
		{"ceil dropped", func() ([]int, cost.Counts, error) {
			return cost.Pool2D([]int{1, 1, 5, 5}, cost.Window{K: 2, S: 2, P: 1, Ceil: true}, false)
		}, want{[]int{1, 1, 3, 3}, 0, 0, 0, 9 * 3, 2, 2, 0, 0}},
		// A 3x2 window of stride 1x2.
		{"3x2", func() ([]int, cost.Counts, error) {
			return cost.Pool2D([]int{1, 2, 9, 8}, cost.Window{KH: 3, KW: 2, SH: 1, SW: 2}, false)
		}, want{[]int{1, 2, 7, 4}, 0, 0, 0, 56 * 5, 3, 1, 2, 2}},
		// 7 -> 3: windows [0,3), [2,5), [4,7); paddle's kernel is (7/3)^2 = 4.
		{"adaptive 7 to 3", func() ([]int, cost.Counts, error) {
			return cost.AdaptiveAvgPool2D([]int{1, 2, 7, 7}, 3, 3)
		}, want{[]int{1, 2, 3, 3}, 0, 0, 18 * 5, 2 * 9 * 9, 3, 2, 0, 0}},
		// 5x4 -> 2x3: rows [0,3), [2,5); columns [0,2), [1,3), [2,4); paddle's kernel 2*1.
		{"adaptive 5x4 to 2x3", func() ([]int, cost.Counts, error) {
			return cost.AdaptiveAvgPool2D([]int{1, 1, 5, 4}, 2, 3)
		}, want{[]int{1, 1, 2, 3}, 0, 0, 6 * 3, 6 * 6, 3, 2, 2, 1}},
	} {
		out, got, err := c.run()
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		w := c.want
		if !slices.Equal(out, w.out) || got.Trainable != w.params || got.MACs != w.macs || got.PaddleFLOPs != w.paddle ||
			got.FLOPs != w.fl || got.Window != w.window || got.Stride != w.stride || got.WindowW != w.windowW || got.StrideW != w.strideW {
			t.Errorf("%s: %v %+v; want %+v", c.name, out, got, w)
		}
	}
}

// TestDilatedField: each 3x3 kernel dilated d grows the receptive field by 2d.
func TestDilatedField(t *testing.T) {
	in, f := []int{1, 1, 64, 64}, cost.Field{RF: 1, Jump: 1}
	for _, d := range []int{1, 2, 4} {
		out, c, err := cost.Conv2D(in, 1, cost.Window{K: 3, S: 1, P: d, DH: d, DW: d}, false)
		if err != nil {
			t.Fatal(err)
		}
		f, in = c.Grow(f), out
	}
	if f.RF != 15 || f.Jump != 1 || !slices.Equal(in, []int{1, 1, 64, 64}) {
		t.Errorf("RF %d, jump %d, shape %v; want 15, 1, [1 1 64 64]", f.RF, f.Jump, in)
	}
	_, c, _ := cost.Conv2D([]int{1, 1, 9, 9}, 1, cost.Window{KH: 1, KW: 5, SH: 2, SW: 1}, false)
	if h, w := c.Grow(cost.Field{RF: 1, Jump: 1}), c.GrowW(cost.Field{RF: 1, Jump: 1}); h != (cost.Field{RF: 1, Jump: 2}) || w != (cost.Field{RF: 5, Jump: 1}) {
		t.Errorf("1x5 stride 2x1: height %+v, width %+v; want {1 2} and {5 1}", h, w)
	}
}

// TestWindowErrors: a geometry that does not fit says what and why.
func TestWindowErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		err  func() error
		want string
	}{
		{"groups", func() error {
			_, _, err := cost.Conv2D([]int{1, 6, 8, 8}, 16, cost.Window{K: 3, S: 1, Groups: 4}, true)
			return err
		}, "4 groups do not divide 6 input channels into 16 filters: want both divisible (weight [16, 6/4, 3, 3])"},
		{"groups of filters", func() error {
			_, _, err := cost.Conv2D([]int{1, 8, 8, 8}, 6, cost.Window{K: 3, S: 1, Groups: 4}, true)
			return err
		}, "4 groups do not divide 8 input channels into 6 filters: want both divisible (weight [6, 8/4, 3, 3])"},
		{"dilated too wide", func() error {
			_, _, err := cost.Conv2D([]int{1, 1, 4, 4}, 1, cost.Window{K: 3, S: 1, DH: 2, DW: 2}, true)
			return err
		}, "input 4x4 with padding 0 is smaller than the 5x5 (3x3 dilated 2) window"},
		{"rectangular too tall", func() error {
			_, _, err := cost.Conv2D([]int{1, 1, 4, 9}, 1, cost.Window{KH: 7, KW: 1, S: 1, PW: 1}, true)
			return err
		}, "input 4x9 with padding 0x1 is smaller than the 7x1 window"},
		{"negative dilation", func() error {
			_, _, err := cost.Conv2D([]int{1, 1, 4, 4}, 1, cost.Window{K: 3, S: 1, DH: -1}, true)
			return err
		}, "dilation -1x1, groups 1: want both >= 1"},
		{"ceil conv", func() error {
			_, _, err := cost.Conv2D([]int{1, 1, 4, 4}, 1, cost.Window{K: 3, S: 1, Ceil: true}, true)
			return err
		}, "ceil mode is a pooling's: a convolution rounds its output size down"},
		{"pool padding per axis", func() error {
			_, _, err := cost.Pool2D([]int{1, 1, 8, 8}, cost.Window{KH: 3, KW: 2, S: 2, PH: 1, PW: 2}, false)
			return err
		}, "padding 1x2 is more than half the 3x2 window"},
		{"pool dilation", func() error {
			_, _, err := cost.Pool2D([]int{1, 1, 8, 8}, cost.Window{K: 2, S: 2, DH: 2, DW: 2}, false)
			return err
		}, "dilation 2, groups 1: a pooling window has neither"},
		{"adaptive to nothing", func() error {
			_, _, err := cost.AdaptiveAvgPool2D([]int{1, 1, 8, 8}, 0, 3)
			return err
		}, "output size 0x3: want at least 1x1"},
		{"adaptive on 2-D", func() error { _, _, err := cost.AdaptiveAvgPool2D([]int{1, 8}, 1, 1); return err }, "input shape (1, 8) is not [N,C,H,W]"},
	} {
		if err := c.err(); err == nil || err.Error() != c.want {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}
