package graph

import (
	"strings"
	"testing"

	"gorgonia.org/tensor"
)

// TestGeometryLayers declares each convolution and pooling form and checks the shapes, the
// weights' shapes, the counts and the receptive field per axis that the layers record.
func TestGeometryLayers(t *testing.T) {
	// (on Fast: Naive's pooling refuses padding)
	const impl = Fast
	p := NewParams(tensor.Float32, 1)
	n := New(p, impl)
	x := n.Input("x", 2, 8, 20, 18)
	x = n.Conv2D("dw", x, Conv{Out: 8, Kernel: 3, Padding: 1, Groups: 8, NoBias: true}) // depthwise
	x = n.Conv2D("dil", x, Conv{Out: 12, Kernel: 3, Padding: 2, Dilation: [2]int{2, 2}, Groups: 4})
	x = n.Conv2D("rect", x, Conv{Out: 6, KernelHW: [2]int{1, 5}, StrideHW: [2]int{2, 1}, PaddingHW: [2]int{0, 2}})
	x = n.MaxPool2D("pool", x, Pool{Kernel: 3, Stride: 2, Ceil: true})
	x = n.AvgPool2D("avg", x, Pool{KernelHW: [2]int{2, 3}, StrideHW: [2]int{1, 2}, PaddingHW: [2]int{1, 1}, Exclusive: true})
	n.AdaptiveAvgPool2D("adapt", x, 2, 3)
	if err := n.Err(); err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		name, attrs string
		out         tensor.Shape
		params      int
		macs        int64
		rf, rfw     int
	}{
		{"dw", "8@3x3 s1 p1 g8 no bias", tensor.Shape{2, 8, 20, 18}, 72, 2 * 8 * 360 * 9, 3, 3},
		{"dil", "12@3x3 s1 p2 d2 g4", tensor.Shape{2, 12, 20, 18}, 12*2*9 + 12, 2 * 12 * 360 * 18, 7, 7},
		{"rect", "6@1x5 s2x1 p0x2", tensor.Shape{2, 6, 10, 18}, 6*12*5 + 6, 2 * 6 * 180 * 60, 7, 11},
		// ceil: (10-3)/2 rounds up to 4, +1; (18-3)/2 rounds up to 8, +1.
		{"pool", "3x3 s2 p0 ceil", tensor.Shape{2, 6, 5, 9}, 0, 0, 7 + 2*2, 11 + 2},
		{"avg", "2x3 s1x2 p1 exclusive", tensor.Shape{2, 6, 6, 5}, 0, 0, 11 + 4, 13 + 2*2},
		{"adapt", "to 2x3", tensor.Shape{2, 6, 2, 3}, 0, 0, 15 + 2*4, 17 + 1*4*2},
	} {
		var l *Layer
		for _, c := range n.Layers() {
			if c.Name == w.name {
				l = c
			}
		}
		if l == nil || l.Attrs != w.attrs || !l.OutShape.Eq(w.out) || l.Params() != w.params || l.MACs != w.macs || l.RF != w.rf || l.RFW != w.rfw {
			t.Errorf("%v %s: %+v; want %+v", impl, w.name, l, w)
		}
	}
	if s := p.Get("dil.weight").Value.Shape(); !s.Eq(tensor.Shape{12, 2, 3, 3}) {
		t.Errorf("dil.weight %v, want [12 2 3 3]", s)
	}
	if s := p.Get("rect.weight").Value.Shape(); !s.Eq(tensor.Shape{6, 12, 1, 5}) {
		t.Errorf("rect.weight %v, want [6 12 1 5]", s)
	}
}

// TestGeometryErrors: a geometry that does not fit is a declaration error naming the layer,
// its input shape and what was expected.
func TestGeometryErrors(t *testing.T) {
	for _, c := range []struct {
		declare func(n *Net)
		want    string
	}{
		{func(n *Net) { n.Conv2D("conv", n.Input("x", 1, 6, 8, 8), Conv{Out: 16, Kernel: 3, Groups: 4}) },
			"layer conv (Conv2D) on input (1, 6, 8, 8): 4 groups do not divide 6 input channels into 16 filters: want both divisible (weight [16, 6/4, 3, 3])"},
		{func(n *Net) {
			n.Conv2D("conv", n.Input("x", 1, 1, 4, 4), Conv{Out: 1, Kernel: 3, Dilation: [2]int{2, 2}})
		},
			"layer conv (Conv2D) on input (1, 1, 4, 4): input 4x4 with padding 0 is smaller than the 5x5 (3x3 dilated 2) window"},
		{func(n *Net) {
			n.MaxPool2D("pool", n.Input("x", 1, 1, 8, 8), Pool{KernelHW: [2]int{3, 2}, PaddingHW: [2]int{1, 2}})
		},
			"layer pool (MaxPool2D) on input (1, 1, 8, 8): padding 1x2 is more than half the 3x2 window"},
		{func(n *Net) { n.AdaptiveAvgPool2D("adapt", n.Input("x", 1, 8), 2, 2) },
			"layer adapt (AdaptiveAvgPool2D) on input (1, 8): input shape (1, 8) is not [N,C,H,W]"},
	} {
		n := New(NewParams(tensor.Float32, 1), Fast)
		c.declare(n)
		if err := n.Err(); err == nil || err.Error() != c.want {
			t.Errorf("error %v\nwant %s", err, c.want)
		}
	}
	if !strings.Contains((&Layer{RF: 3, RFW: 5}).RFString(), "3x5") {
		t.Error("RFString of a 3x5 field")
	}
}
