// Package cost is the static accounting of each layer kind, as pure functions of shapes:
// given a layer's input shapes (batch first) and its settings, each returns the output shape
// and the layer's counts (parameters, operations in three conventions, how it grows the
// receptive field), or an error saying what does not fit. Package graph records what they
// return for every declared layer; every report reads those records.
package cost

import (
	"fmt"
	"strconv"
	"strings"
)

// shape prints as the tensor package prints a shape: (2, 3, 4, 4).
type shape []int

func (s shape) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = strconv.Itoa(d)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// Counts is a layer's static accounting.
type Counts struct {
	Trainable int // trainable parameters (weights, biases, BatchNorm scale and shift)
	Buffers   int // non-trainable state saved with the weights (BatchNorm running statistics)

	MACs        int64 // multiply-accumulates of convolutions and linear maps
	PaddleFLOPs int64 // paddle.flops' convention: one multiply-add is one FLOP, conv bias +1 per output, avg pool 1 per output, BN 2 per input
	FLOPs       int64 // 2 per multiply-accumulate plus the element-wise work

	// Window and Stride say how the layer grows the receptive field along the height: by
	// Window-1 of the input's jumps, the jump then multiplied by Stride. Zero means 1:
	// unchanged. WindowW and StrideW say it for the width; zero means as Window and Stride.
	Window, Stride   int
	WindowW, StrideW int
}

// Field is the receptive field of one element in input pixels along one side (RF), and the
// distance in input pixels between neighbouring elements (Jump).
type Field struct{ RF, Jump int }

// Grow returns the receptive field of the layer's output along the height, given its
// input's.
func (c Counts) Grow(in Field) Field {
	w, s := max(c.Window, 1), max(c.Stride, 1)
	return Field{in.RF + (w-1)*in.Jump, in.Jump * s}
}

// GrowW returns the receptive field of the layer's output along the width, given its
// input's.
func (c Counts) GrowW(in Field) Field {
	if c.WindowW == 0 && c.StrideW == 0 {
		return c.Grow(in)
	}
	w, s := max(c.WindowW, 1), max(c.StrideW, 1)
	return Field{in.RF + (w-1)*in.Jump, in.Jump * s}
}

func numel(s []int) int64 {
	n := int64(1)
	for _, d := range s {
		n *= int64(d)
	}
	return n
}

// GlobalAvgPool2D accounts the average of each channel's whole map: [N,C,H,W] -> [N,C,1,1].
func GlobalAvgPool2D(in []int) ([]int, Counts, error) {
	if len(in) != 4 {
		return nil, Counts{}, fmt.Errorf("want a 4-D [N,C,H,W] input")
	}
	side, outN := max(in[2], in[3]), int64(in[0]*in[1])
	hw := int64(in[2] * in[3])
	return []int{in[0], in[1], 1, 1}, Counts{PaddleFLOPs: outN * (hw + 1), FLOPs: outN * hw, Window: side, Stride: side}, nil
}

// Flatten accounts reshaping [N,...] to [N,features]; the receptive field then covers a
// whole map.
func Flatten(in []int) ([]int, Counts, error) {
	if len(in) < 2 {
		return nil, Counts{}, fmt.Errorf("want a batch of at least 1-D samples")
	}
	side := 1
	if len(in) == 4 {
		side = max(in[2], in[3])
	}
	return []int{in[0], int(numel(in[1:]))}, Counts{Window: side, Stride: side}, nil
}

// Linear accounts y = x W^T (+ b) for x [N,in], out features.
func Linear(in []int, out int, bias bool) ([]int, Counts, error) {
	if len(in) != 2 {
		return nil, Counts{}, fmt.Errorf("want a 2-D [N,features] input; flatten first")
	}
	b, outN := 0, int64(in[0]*out)
	if bias {
		b = 1
	}
	macs := outN * int64(in[1])
	return []int{in[0], out}, Counts{Trainable: in[1]*out + b*out, MACs: macs, PaddleFLOPs: macs, FLOPs: 2*macs + int64(b)*outN}, nil
}

// Elementwise accounts an operation of flops per element that keeps the shape (ReLU: 1).
func Elementwise(in []int, flops int) Counts {
	return Counts{FLOPs: int64(flops) * numel(in)}
}

// BatchNorm2D accounts a batch normalisation over the channels of in [N,C,H,W]: 2C trainable
// values and 2C buffers; 2 per element in both conventions, once each channel's statistics
// and affine map are folded into y = a*x + b.
func BatchNorm2D(in []int) ([]int, Counts, error) {
	if len(in) != 4 {
		return nil, Counts{}, fmt.Errorf("want a 4-D [N,C,H,W] input")
	}
	n := 2 * numel(in)
	return append([]int(nil), in...), Counts{Trainable: 2 * in[1], Buffers: 2 * in[1], PaddleFLOPs: n, FLOPs: n}, nil
}

// Add accounts the element-wise sum of two tensors of the same shape: one FLOP per element,
// none under paddle.flops.
func Add(a, b []int) ([]int, Counts, error) {
	if len(a) != len(b) {
		return nil, Counts{}, fmt.Errorf("cannot add shapes %v and %v: want the same shape", shape(a), shape(b))
	}
	for i := range a {
		if a[i] != b[i] {
			return nil, Counts{}, fmt.Errorf("cannot add shapes %v and %v: want the same shape", shape(a), shape(b))
		}
	}
	return append([]int(nil), a...), Counts{FLOPs: numel(a)}, nil
}
