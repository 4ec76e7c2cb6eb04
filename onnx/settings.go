package onnx

import (
	"fmt"
	"regexp"
	"strconv"

	"github.com/nndl/cnn/graph"
)

// window is the geometry of a convolution or pooling layer, per axis (height, width).
type window struct {
	out                  int // a convolution's filters
	kh, kw, sh, sw       int
	ph, pw, dh, dw       int
	groups               int
	noBias, ceil, exclus bool
}

// pair is a per-axis setting as the layers print it: "2" or "2x1".
const pair = `(\d+)(?:x(\d+))?`

var (
	convRe = regexp.MustCompile(`^(\d+)@(\d+)x(\d+) s` + pair + ` p` + pair + `(?: d` + pair + `)?(?: g(\d+))?( no bias)?$`)
	poolRe = regexp.MustCompile(`^(\d+)x(\d+) s` + pair + ` p` + pair + `( ceil)?( exclusive)?$`)
)

// atoi reads a number the regular expressions matched; an empty group gives def.
func atoi(s string, def int) int {
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return v
}

// axes reads a pair's two groups: "2" is 2 on both axes.
func axes(h, w string, def int) (int, int) {
	a := atoi(h, def)
	return a, atoi(w, a)
}

// convWindow reads a Conv2D layer's settings from its record ("32@3x3 s1 p1 g32 no bias")
// and checks them against its shapes.
func convWindow(l *graph.Layer) (window, error) {
	m := convRe.FindStringSubmatch(l.Attrs)
	if m == nil {
		return window{}, fmt.Errorf("layer %s (Conv2D): settings %q: want the form \"6@5x5 s1 p0\"", l.Name, l.Attrs)
	}
	w := window{out: atoi(m[1], 0), kh: atoi(m[2], 0), kw: atoi(m[3], 0), groups: atoi(m[10], 1), noBias: m[11] != ""}
	w.sh, w.sw = axes(m[4], m[5], 1)
	w.ph, w.pw = axes(m[6], m[7], 0)
	w.dh, w.dw = axes(m[8], m[9], 1)
	return w, w.check(l, false)
}

// poolWindow reads a pooling layer's settings from its record ("3x3 s2 p1 ceil").
func poolWindow(l *graph.Layer) (window, error) {
	m := poolRe.FindStringSubmatch(l.Attrs)
	if m == nil {
		return window{}, fmt.Errorf("layer %s (%s): settings %q: want the form \"2x2 s2 p0\"", l.Name, l.Type, l.Attrs)
	}
	w := window{kh: atoi(m[1], 0), kw: atoi(m[2], 0), dh: 1, dw: 1, groups: 1, ceil: m[7] != "", exclus: m[8] != ""}
	w.sh, w.sw = axes(m[3], m[4], 1)
	w.ph, w.pw = axes(m[5], m[6], 0)
	return w, w.check(l, true)
}

// check recomputes the layer's output size from the settings read: a record that does not
// describe its own shapes is an error, never a wrong file.
func (w window) check(l *graph.Layer, pool bool) error {
	in, out := l.InShape, l.OutShape
	if len(in) != 4 || len(out) != 4 {
		return fmt.Errorf("layer %s (%s): input %v, output %v: want 4-D maps", l.Name, l.Type, in, out)
	}
	oh := outSize(in[2], w.kh, w.sh, w.ph, w.dh, w.ceil)
	ow := outSize(in[3], w.kw, w.sw, w.pw, w.dw, w.ceil)
	ok := oh == out[2] && ow == out[3] && w.groups >= 1
	if !pool {
		ok = ok && w.out == out[1]
	}
	if !ok {
		return fmt.Errorf("layer %s (%s): settings %q give output %dx%d, the layer has %v", l.Name, l.Type, l.Attrs, oh, ow, out)
	}
	return nil
}

// outSize is the output length of a window k (dilation d) sliding by s over n inputs
// padded by p on both sides; with ceil, PyTorch's ceil_mode, where the last window must
// start inside the input or its left padding.
func outSize(n, k, s, p, d int, ceil bool) int {
	if s < 1 {
		return -1
	}
	span := n + 2*p - d*(k-1) - 1
	if span < 0 {
		return -1
	}
	o := span/s + 1
	if ceil && span%s != 0 {
		o++
		if (o-1)*s >= n+p {
			o--
		}
	}
	return o
}
