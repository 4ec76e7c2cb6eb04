package graph

import (
	"fmt"

	"github.com/nndl/cnn/graph/cost"
	"github.com/nndl/cnn/kernels"
)

// hw returns a per-axis setting: the pair where either of it is set, else the square value
// on both axes.
func hw(pair [2]int, square int) (int, int) {
	if pair != [2]int{} {
		return pair[0], pair[1]
	}
	return square, square
}

// geom returns the convolution's geometry with every axis set.
func (c Conv) geom() convGeom {
	g := convGeom{Groups: c.Groups}
	if g.Groups == 0 {
		g.Groups = 1
	}
	stride := c.Stride
	if stride == 0 {
		stride = 1
	}
	g.KH, g.KW = hw(c.KernelHW, c.Kernel)
	g.SH, g.SW = hw(c.StrideHW, stride)
	g.PH, g.PW = hw(c.PaddingHW, c.Padding)
	g.DH, g.DW = hw(c.Dilation, 1)
	return g
}

// geom returns the pooling's geometry with every axis set: the stride the window's when
// unset.
func (p Pool) geom() convGeom {
	g := convGeom{DH: 1, DW: 1, Groups: 1, Ceil: p.Ceil}
	g.KH, g.KW = hw(p.KernelHW, p.Kernel)
	g.SH, g.SW = g.KH, g.KW
	if p.StrideHW != [2]int{} || p.Stride != 0 {
		g.SH, g.SW = hw(p.StrideHW, p.Stride)
	}
	g.PH, g.PW = hw(p.PaddingHW, p.Padding)
	return g
}

// windowAttrs describes a window as the layers print it: "5x5 s1 p0", "3x3 s1 p2 d2",
// "1x7 s1 p0x3".
func windowAttrs(g kernels.ConvGeom) string {
	s := fmt.Sprintf("%dx%d s%s p%s", g.KH, g.KW, cost.Pair(g.SH, g.SW), cost.Pair(g.PH, g.PW))
	if g.DH != 1 || g.DW != 1 {
		s += " d" + cost.Pair(g.DH, g.DW)
	}
	return s
}

// convAttrs describes a convolution of out filters: "6@5x5 s1 p0", "32@3x3 s1 p1 g32".
func convAttrs(out int, g kernels.ConvGeom) string {
	s := fmt.Sprintf("%d@%s", out, windowAttrs(g))
	if g.Groups != 1 {
		s += fmt.Sprintf(" g%d", g.Groups)
	}
	return s
}

// poolAttrs describes a pooling window: "2x2 s2 p0", "3x3 s2 p1 ceil".
func poolAttrs(g kernels.ConvGeom) string {
	s := windowAttrs(g)
	if g.Ceil {
		s += " ceil"
	}
	return s
}
