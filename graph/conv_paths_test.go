package graph

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"
)

// TestConvPathsAgree checks the fast convolution's special paths (one image split by filters;
// small maps by tap classes; chunked batches) against the hand-written loops.
func TestConvPathsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct{ n, cin, h, cout, k, s, p int }{
		{1, 64, 8, 128, 3, 1, 1},  // one image, big enough to split by filters
		{3, 32, 2, 48, 3, 2, 1},   // small maps
		{2, 16, 1, 32, 3, 1, 1},   // 1x1 maps, padding only around
		{4, 8, 2, 16, 3, 2, 1},    // 2x2 to 1x1, four live taps
		{3, 4, 5, 6, 7, 2, 3},     // a 7x7 stride-2 window over a small map
		{2, 3, 1, 4, 3, 1, 3},     // padding wider than the kernel: windows of padding only
		{1, 4, 4, 8, 3, 1, 1},     // one image, small map, split by filters
		{33, 5, 8, 7, 3, 1, 1},    // 8x8 maps, many chunks
		{5, 16, 5, 12, 5, 1, 0},   // the window covers the input: a matrix product
		{64, 16, 5, 120, 5, 1, 0}, // LeNet-5's conv5, a product big enough to split
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
		convForward(newScratch(), d, x, w, b, got, nil)
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

// TestConvFloat32 checks the float32 convolution kernels, which the dnnl build runs through
// oneDNN (see nativeConv and splitBatch), against the hand-written loops in float64.
func TestConvFloat32(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, c := range []struct{ n, cin, h, cout, k, s, p int }{
		{3, 1, 32, 6, 5, 1, 0},    // LeNet conv1
		{4, 6, 14, 16, 5, 1, 0},   // LeNet conv2
		{64, 16, 5, 120, 5, 1, 0}, // LeNet conv5, split between the workers
		{5, 1, 32, 8, 7, 2, 3},    // the ResNet stem
		{6, 16, 8, 16, 3, 1, 1},   // layer1
		{7, 16, 8, 32, 3, 2, 1},   // a stride-2 layer
		{1, 16, 8, 32, 1, 2, 0},   // a downsample, one image
		{3, 64, 2, 64, 3, 1, 1},   // a deep layer, on the Go kernels
		{2, 3, 9, 4, 3, 2, 0},     // odd sizes
		{65, 4, 6, 5, 3, 1, 1},    // an odd batch split between workers
		{2, 5, 5, 3, 3, 3, 2},     // stride larger than the kernel's overlap
		// Small convolutions, on the direct kernels in the dnnl build:
		{3, 15, 40, 16, 3, 1, 0}, // rows of 38: a chunk of 32 and one of 6; filters in two blocks
		{2, 2, 20, 13, 7, 1, 0},  // 7x7, rows of 14, 13 channels in one block
		{3, 3, 18, 5, 1, 1, 0},   // 1x1, rows of 18
		{5, 15, 6, 16, 2, 1, 0},  // 2x2, rows of 5
		{1, 1, 32, 6, 5, 1, 0},   // one image
		{2, 3, 17, 16, 3, 1, 0},  // channels in the lanes, rows of 15: 12 columns and 3
		{3, 4, 10, 12, 3, 1, 0},  // channels in the lanes, 12 of 16
		{2, 2, 9, 7, 2, 1, 0},    // an odd number of rows
	} {
		g := convGeom{K: c.k, S: c.s, P: c.p}
		xs, wsh := tensor.Shape{c.n, c.cin, c.h, c.h}, tensor.Shape{c.cout, c.cin, c.k, c.k}
		d := newConvDims(g, xs, wsh)
		x64 := make([]float64, xs.TotalSize())
		w64 := make([]float64, wsh.TotalSize())
		b64 := make([]float64, c.cout)
		dy64 := make([]float64, c.n*c.cout*d.ohw)
		for _, v := range [][]float64{x64, w64, b64, dy64} {
			for i := range v {
				v[i] = float64(float32(rng.Float64()*2 - 1))
			}
		}
		f32 := func(v []float64) []float32 {
			out := make([]float32, len(v))
			for i, x := range v {
				out[i] = float32(x)
			}
			return out
		}
		f64 := func(v []float32) []float64 {
			out := make([]float64, len(v))
			for i, x := range v {
				out[i] = float64(x)
			}
			return out
		}
		x, w, b, dy := f32(x64), f32(w64), f32(b64), f32(dy64)
		ws := newScratch()
		for _, k := range []struct {
			name string
			run  func() ([]float32, error)
			want func() []float64
		}{
			{"forward", func() ([]float32, error) {
				y := make([]float32, len(dy))
				return y, convForward(ws, d, x, w, b, y, nil)
			}, func() []float64 {
				y := make([]float64, len(dy))
				naiveConv(g, xs, wsh, x64, w64, b64, y)
				return y
			}},
			{"dx", func() ([]float32, error) {
				dx := make([]float32, len(x))
				return dx, convBackwardX(ws, d, w, dy, dx)
			}, func() []float64 {
				dx := make([]float64, len(x))
				naiveConvGrad(g, 0, xs, wsh, x64, w64, dy64, dx)
				return dx
			}},
			{"dw", func() ([]float32, error) {
				dw := make([]float32, len(w))
				return dw, convBackwardW(ws, d, x, dy, dw)
			}, func() []float64 {
				dw := make([]float64, len(w))
				naiveConvGrad(g, 1, xs, wsh, x64, w64, dy64, dw)
				return dw
			}},
		} {
			for run := 0; run < 2; run++ { // the second run reuses the kernels and buffers
				got, err := k.run()
				if err != nil {
					t.Fatalf("%+v %s: %v", c, k.name, err)
				}
				if e := relErr(f64(got), k.want()); e > 1e-5 {
					t.Errorf("%+v %s (run %d): relative error %.3g", c, k.name, run, e)
				}
			}
		}
	}
}

// TestBiasGradFloat32 checks the float32 bias gradient (per-channel sums; the direct kernel
// in the dnnl build) against sums in float64.
func TestBiasGradFloat32(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, s := range []tensor.Shape{{64, 6, 28, 28}, {64, 16, 10, 10}, {3, 5, 5, 5}, {64, 120, 1, 1}, {7, 3, 9, 7}} {
		dy := make([]float32, s.TotalSize())
		for i := range dy {
			dy[i] = float32(rng.Float64()*2 - 1)
		}
		db := make([]float32, s[1])
		sumChannels(s, dy, db)
		inner := s.TotalSize() / (s[0] * s[1])
		for q := range db {
			var want float64
			for i := 0; i < s[0]; i++ {
				for _, v := range dy[(i*s[1]+q)*inner : (i*s[1]+q+1)*inner] {
					want += float64(v)
				}
			}
			if math.Abs(float64(db[q])-want) > 1e-5*(1+math.Abs(want)) {
				t.Errorf("%v channel %d: %v, want %v", s, q, db[q], want)
			}
		}
	}
}
