package kernels_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/nndl/cnn/kernels"
)

// TestConvBlocked runs a convolution's three passes with its maps in the channel-blocked
// layout, each way round, and checks them against the same passes in NCHW: the kernels are
// the same, so the results must be too, to the bit. Shapes cover both ways of running a
// convolution (split between the workers by image, and whole), strides and a 1x1 window.
func TestConvBlocked(t *testing.T) {
	cases := []struct{ n, c, p, h, k, s, pad int }{
		{4, 32, 16, 12, 3, 1, 1},  // shallow: split between the workers
		{2, 16, 64, 9, 3, 2, 1},   // stride 2, odd map
		{3, 64, 64, 4, 3, 1, 1},   // deep: one call over the batch
		{2, 32, 32, 8, 1, 2, 0},   // 1x1 stride-2 downsampling
		{1, 16, 32, 14, 3, 1, 1},  // one image
		{5, 48, 16, 6, 3, 1, 0},   // no padding
		{2, 128, 128, 3, 3, 1, 1}, // 3x3 maps
	}
	ran := 0
	for _, c := range cases {
		g := kernels.ConvGeom{K: c.k, S: c.s, P: c.pad}
		d := kernels.NewConvDims(g, []int{c.n, c.c, c.h, c.h}, []int{c.p, c.c, c.k, c.k})
		b := kernels.ConvBlock[float32](d)
		if b == 0 || c.c%b != 0 || c.p%b != 0 {
			continue
		}
		ran++
		r := rand.New(rand.NewPCG(uint64(c.c), uint64(c.h)))
		fill := func(n int) []float32 {
			v := make([]float32, n)
			for i := range v {
				v[i] = r.Float32()*2 - 1
			}
			return v
		}
		x, w, dy := fill(d.N*d.C*d.HW), fill(d.P*d.K), fill(d.N*d.P*d.OHW)
		y, dx, dw := make([]float32, len(dy)), make([]float32, len(x)), make([]float32, len(w))
		ws := kernels.NewScratch()
		if err := kernels.ConvForward(ws, d, x, w, nil, y, nil); err != nil {
			t.Fatal(err)
		}
		if err := kernels.ConvBackwardData(ws, d, w, dy, dx); err != nil {
			t.Fatal(err)
		}
		if err := kernels.ConvBackwardWeights(ws, d, x, dy, dw); err != nil {
			t.Fatal(err)
		}
		blocked := func(v []float32, c, hw int) []float32 {
			out := make([]float32, len(v))
			kernels.ToBlocked(v, out, d.N, c, hw, b)
			return out
		}
		plain := func(v []float32, c, hw int) []float32 {
			out := make([]float32, len(v))
			kernels.FromBlocked(v, out, d.N, c, hw, b)
			return out
		}
		for _, l := range []kernels.ConvLayout{{X: b}, {Y: b}, {X: b, Y: b}} {
			xl, dyl := x, dy
			if l.X != 0 {
				xl = blocked(x, d.C, d.HW)
			}
			if l.Y != 0 {
				dyl = blocked(dy, d.P, d.OHW)
			}
			yl, dxl, dwl := make([]float32, len(y)), make([]float32, len(dx)), make([]float32, len(dw))
			if err := kernels.ConvForwardIn(ws, d, l, xl, w, nil, yl, nil); err != nil {
				t.Fatal(err)
			}
			if err := kernels.ConvBackwardDataIn(ws, d, l, w, dyl, dxl); err != nil {
				t.Fatal(err)
			}
			if err := kernels.ConvBackwardWeightsIn(ws, d, l, xl, dyl, dwl); err != nil {
				t.Fatal(err)
			}
			if l.Y != 0 {
				yl = plain(yl, d.P, d.OHW)
			}
			if l.X != 0 {
				dxl = plain(dxl, d.C, d.HW)
			}
			for _, o := range []struct {
				name      string
				got, want []float32
			}{{"y", yl, y}, {"dx", dxl, dx}, {"dw", dwl, dw}} {
				if !slices.Equal(o.got, o.want) {
					t.Errorf("%+v, layout %+v: %s differs from NCHW's", c, l, o.name)
				}
			}
		}
		if err := kernels.ConvForwardIn(ws, d, kernels.ConvLayout{X: b + 1}, x, w, nil, y, nil); err == nil {
			t.Errorf("%+v: channel blocks of %d taken", c, b+1)
		}
	}
	if ran == 0 {
		t.Skip("no kernel here takes channel-blocked maps")
	}
	t.Logf("%d of %d shapes in channel blocks", ran, len(cases))
}
