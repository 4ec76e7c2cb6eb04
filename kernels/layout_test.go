package kernels_test

import (
	"fmt"
	"testing"

	"github.com/nndl/cnn/kernels"
	"github.com/nndl/cnn/kernels/purego"
)

// TestBlockedLayout: ToBlocked puts value (n, c, p) where the layout says, FromBlocked takes
// it back, and MeanPlanesBlocked gives MeanPlanes' averages to the bit.
func TestBlockedLayout(t *testing.T) {
	for _, c := range []struct{ n, c, hw, b int }{{1, 8, 1, 8}, {2, 16, 9, 8}, {3, 32, 5, 16}, {1, 16, 49, 16}} {
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
