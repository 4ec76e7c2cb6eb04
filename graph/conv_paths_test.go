package graph

import (
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"
)

// TestConvPathsAgree checks the fast convolution's special paths (one image split by filters;
// small maps through the patch table; chunked batches) against the hand-written loops.
func TestConvPathsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct{ n, cin, h, cout, k, s, p int }{
		{1, 64, 8, 128, 3, 1, 1},  // one image, big enough to split by filters
		{3, 32, 2, 48, 3, 2, 1},   // small maps
		{2, 16, 1, 32, 3, 1, 1},   // 1x1 maps, padding only around
		{70, 3, 9, 5, 3, 2, 0},    // many chunks
		{1, 4, 12, 8, 5, 1, 2},    // one image, too small to split
		{5, 8, 16, 1024, 1, 1, 0}, // 1x1 kernels, a wide layer
	} {
		g := convGeom{K: c.k, S: c.s, P: c.p}
		xs, wsh := tensor.Shape{c.n, c.cin, c.h, c.h}, tensor.Shape{c.cout, c.cin, c.k, c.k}
		d := newConvDims(g, xs, wsh)
		x := make([]float64, xs.TotalSize())
		w := make([]float64, wsh.TotalSize())
		b := make([]float64, c.cout)
		for _, v := range [][]float64{x, w, b} {
			for i := range v {
				v[i] = rng.Float64()*2 - 1
			}
		}
		dy := make([]float64, c.n*c.cout*d.ohw)
		for i := range dy {
			dy[i] = rng.Float64()*2 - 1
		}
		got, want := make([]float64, len(dy)), make([]float64, len(dy))
		convForward(newScratch(), d, x, w, b, got)
		naiveConv(g, xs, wsh, x, w, b, want)
		if e := relErr(got, want); e > 1e-12 {
			t.Errorf("%+v forward: relative error %.3g", c, e)
		}
		gx, wx := make([]float64, len(x)), make([]float64, len(x))
		convBackwardX(newScratch(), d, w, dy, gx)
		naiveConvGrad(g, 0, xs, wsh, x, w, dy, wx)
		if e := relErr(gx, wx); e > 1e-12 {
			t.Errorf("%+v dx: relative error %.3g", c, e)
		}
		gw, ww := make([]float64, len(w)), make([]float64, len(w))
		convBackwardW(newScratch(), d, x, dy, gw)
		naiveConvGrad(g, 1, xs, wsh, x, w, dy, ww)
		if e := relErr(gw, ww); e > 1e-12 {
			t.Errorf("%+v dw: relative error %.3g", c, e)
		}
	}
}
