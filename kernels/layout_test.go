package kernels_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/nndl/cnn/kernels"
	"github.com/nndl/cnn/kernels/purego"
)

// TestBlockedLayout: ToBlocked puts value (n, c, p) where the layout says, FromBlocked takes
// it back, and MeanPlanesBlocked gives MeanPlanes' averages to the bit.
func TestBlockedLayout(t *testing.T) {
	for _, c := range []struct{ n, c, hw, b int }{{1, 8, 1, 8}, {2, 16, 9, 8}, {3, 32, 5, 16}, {1, 16, 49, 16}, {2, 12, 3, 4}, {1, 24, 5, 12}} {
		t.Run(fmt.Sprintf("%dx%dx%d/b%d", c.n, c.c, c.hw, c.b), func(t *testing.T) {
			size := c.n * c.c * c.hw
			x, xb, back := make([]float32, size), make([]float32, size), make([]float32, size)
			for i := range x {
				x[i] = float32(i%97)*0.37 - 11
			}
			kernels.ToBlocked(x, xb, c.n, c.c, c.hw, c.b)
			for img := range c.n {
				for ch := range c.c {
					for p := range c.hw {
						at := ((img*c.c/c.b+ch/c.b)*c.hw+p)*c.b + ch%c.b
						if want := x[(img*c.c+ch)*c.hw+p]; xb[at] != want {
							t.Fatalf("(%d, %d, %d) at %d: %v, want %v", img, ch, p, at, xb[at], want)
						}
					}
				}
			}
			kernels.FromBlocked(xb, back, c.n, c.c, c.hw, c.b)
			mean, meanB := make([]float32, c.n*c.c), make([]float32, c.n*c.c)
			purego.MeanPlanes(c.hw, x, mean)
			kernels.MeanPlanesBlocked(xb, meanB, c.n, c.c, c.hw, c.b)
			for i := range x {
				if back[i] != x[i] {
					t.Fatalf("FromBlocked: element %d %v, want %v", i, back[i], x[i])
				}
			}
			for i := range mean {
				if meanB[i] != mean[i] {
					t.Fatalf("MeanPlanesBlocked: channel %d %v, want %v", i, meanB[i], mean[i])
				}
			}
		})
	}
}

// TestMaxPoolBlocked: max pooling of blocked maps, on every implementation this CPU runs and
// in Go, gives the reference's NCHW pooling to the bit, blocked (any NaN matching any NaN):
// windows clipped by padding on both sides, ties of +0 and -0, -Inf, +Inf and NaN inputs.
func TestMaxPoolBlocked(t *testing.T) {
	ref := kernels.Named[float32]("reference").Pool
	for _, c := range []struct {
		n, c, h, k, s, p, b int
		ceil                bool
	}{
		{1, 8, 7, 3, 2, 1, 8, false}, {2, 16, 12, 3, 2, 1, 8, false}, {2, 32, 9, 3, 2, 1, 16, false}, {1, 16, 8, 2, 2, 0, 16, false},
		{3, 16, 5, 3, 1, 1, 8, false}, {1, 32, 11, 5, 3, 2, 16, false},
		// the 3-wide windows at stride 2 that take their columns once for two windows:
		// unpadded, rounded up, on maps of one to a few columns, 16 and 24 channels a block
		{1, 16, 10, 3, 2, 0, 16, false}, {1, 16, 10, 3, 2, 0, 16, true}, {2, 8, 6, 3, 2, 1, 8, true},
		{1, 16, 1, 3, 2, 1, 16, false}, {1, 16, 2, 3, 2, 1, 8, false}, {1, 16, 3, 3, 2, 0, 16, false},
		{1, 48, 7, 3, 2, 1, 24, false},
		// channels last: a block of all the channels, taken an output at a time
		{2, 64, 9, 3, 2, 1, 64, false}, {1, 40, 12, 3, 2, 1, 40, true}, {1, 32, 2, 3, 2, 1, 32, false},
	} {
		g := kernels.ConvGeom{K: c.k, S: c.s, P: c.p, Ceil: c.ceil}
		d := kernels.NewPoolDims(g, kernels.PoolMax, []int{c.n, c.c, c.h, c.h})
		t.Run(fmt.Sprintf("%dx%dx%d/%dx%ds%dp%d/ceil=%v/b%d", c.n, c.c, c.h, c.k, c.k, c.s, c.p, c.ceil, c.b), func(t *testing.T) {
			in, out := c.n*c.c*c.h*c.h, c.n*c.c*d.OH*d.OW
			x, xb := make([]float32, in), make([]float32, in)
			for i := range x {
				switch i % 23 {
				case 3:
					x[i] = float32(math.NaN())
				case 5, 6:
					x[i] = float32(math.Copysign(0, float64(i%2*2-1)))
				case 7:
					x[i] = float32(math.Inf(-1))
				case 11:
					x[i] = float32(math.Inf(1))
				default:
					x[i] = float32((i*37)%101)*0.25 - 20
				}
			}
			kernels.ToBlocked(x, xb, c.n, c.c, c.h*c.h, c.b)
			y, want := make([]float32, out), make([]float32, out)
			ref.PoolForward(d, x, y)
			kernels.ToBlocked(y, want, c.n, c.c, d.OH*d.OW, c.b)
			check := func(name string, got []float32) {
				t.Helper()
				if i, ok := sameBits(got, want); !ok {
					t.Errorf("%s: element %d is %v, want %v", name, i, got[i], want[i])
				}
			}
			got := make([]float32, out)
			kernels.MaxPoolBlockedGo(d, c.b, xb, got)
			check("Go", got)
			for _, impl := range runnable() {
				if k, ok := kernels.Named[float32](impl).Pool.(kernels.BlockedMaxPool[float32]); ok && k.AcceptsBlockedMaxPool(d, c.b) {
					clear(got)
					k.MaxPoolBlocked(d, c.b, xb, got)
					check(impl, got)
				}
			}
			clear(got)
			kernels.MaxPoolBlocked(d, c.b, xb, got, false)
			check("MaxPoolBlocked", got)

			// With the ReLU after it: the values of the ReLU before the pooling.
			xr := make([]float32, in)
			kernels.ReLUFor[float32]().ReLU(x, xr)
			ref.PoolForward(d, xr, y)
			kernels.ToBlocked(y, want, c.n, c.c, d.OH*d.OW, c.b)
			clear(got)
			kernels.MaxPoolBlocked(d, c.b, xb, got, true)
			check("MaxPoolBlocked+ReLU", got)
		})
	}
}
