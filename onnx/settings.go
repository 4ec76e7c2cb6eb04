package onnx

import (
	"fmt"

	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/kernels"
)

// window is the geometry of a convolution or pooling layer, per axis (height, width).
type window struct {
	out                  int // a convolution's filters
	kh, kw, sh, sw       int
	ph, pw, dh, dw       int
	groups               int
	noBias, ceil, exclus bool
}

func windowOf(g kernels.ConvGeom) window {
	g = g.Norm()
	return window{kh: g.KH, kw: g.KW, sh: g.SH, sw: g.SW, ph: g.PH, pw: g.PW, dh: g.DH, dw: g.DW, groups: g.Groups, ceil: g.Ceil}
}

// convWindow returns a Conv2D layer's settings (graph.ConvSettings), checked against its
// shapes.
func convWindow(l *graph.Layer) (window, error) {
	s, ok := l.Settings.(graph.ConvSettings)
	if !ok {
		return window{}, fmt.Errorf("layer %s (Conv2D) records no convolution settings", l.Name)
	}
	w := windowOf(s.Geom)
	w.out, w.noBias = s.Out, !s.Bias
	return w, check(l, s.Geom, s.Out)
}

// poolWindow returns a pooling layer's settings (graph.PoolSettings), checked against its
// shapes.
func poolWindow(l *graph.Layer) (window, error) {
	s, ok := l.Settings.(graph.PoolSettings)
	if !ok {
		return window{}, fmt.Errorf("layer %s (%s) records no pooling settings", l.Name, l.Type)
	}
	w := windowOf(s.Geom)
	w.exclus = s.Exclusive
	return w, check(l, s.Geom, 0)
}

// check recomputes the layer's output size from its settings (and, for a convolution, its
// out filters): a record that does not describe its own shapes is an error, never a wrong
// file.
func check(l *graph.Layer, g kernels.ConvGeom, out int) error {
	in, o := l.InShape, l.OutShape
	if len(in) != 4 || len(o) != 4 {
		return fmt.Errorf("layer %s (%s): input %v, output %v: want 4-D maps", l.Name, l.Type, in, o)
	}
	g = g.Norm()
	oh, ow := g.OutH(in[2]), g.OutW(in[3])
	if oh != o[2] || ow != o[3] || out != 0 && out != o[1] {
		return fmt.Errorf("layer %s (%s): settings %v give output %dx%d, the layer has %v", l.Name, l.Type, g, oh, ow, o)
	}
	return nil
}
