package graph

import (
	"fmt"
	"os"
	"testing"
	"time"

	"gorgonia.org/tensor"
)

func TestConvShapes(t *testing.T) {
	if os.Getenv("PROFILE") == "" {
		t.Skip()
	}
	for _, c := range []struct{ cin, h, cout, k, s, p int }{
		{1, 32, 64, 7, 2, 3}, {64, 8, 64, 3, 1, 1}, {64, 8, 128, 3, 2, 1}, {128, 4, 128, 3, 1, 1},
		{128, 4, 256, 3, 2, 1}, {256, 2, 256, 3, 1, 1}, {256, 2, 512, 3, 2, 1}, {512, 1, 512, 3, 1, 1},
	} {
		g := convGeom{K: c.k, S: c.s, P: c.p}
		d := newConvDims(g, tensor.Shape{64, c.cin, c.h, c.h}, tensor.Shape{c.cout, c.cin, c.k, c.k})
		x := make([]float32, 64*c.cin*c.h*c.h)
		w := make([]float32, c.cout*d.k)
		y := make([]float32, 64*c.cout*d.ohw)
		dw := make([]float32, len(w))
		ws := newScratch()
		flop := float64(2 * 64 * c.cout * d.ohw * d.k)
		// The best of many short runs: the machine is shared and noisy.
		measure := func(f func()) float64 {
			f()
			best := time.Hour
			for r := 0; r < 30; r++ {
				t0 := time.Now()
				f()
				best = min(best, time.Since(t0))
			}
			return flop / best.Seconds() / 1e9
		}
		fw := measure(func() { convForward(ws, d, x, w, nil, y) })
		bx := measure(func() { convBackwardX(ws, d, w, y, x) })
		bw := measure(func() { convBackwardW(ws, d, x, y, dw) })
		fmt.Printf("%v cs=%d: fwd %.1f  dx %.1f  dw %.1f GFLOP/s\n", c, chunkImages(d), fw, bx, bw)
	}
}
