package graph

import (
	"fmt"
	"testing"
	"time"

	"gorgonia.org/tensor"
)

// BenchmarkConv times the fast convolution's three kernels on the shapes of LeNet-5 and
// ResNet18 at batch 64, reporting GFLOP/s (2 per multiply-add).
func BenchmarkConv(b *testing.B) {
	for _, c := range []struct{ cin, h, cout, k, s, p int }{
		{1, 32, 6, 5, 1, 0}, {6, 14, 16, 5, 1, 0}, {16, 5, 120, 5, 1, 0}, // LeNet-5 conv1, conv3, conv5
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
		name := fmt.Sprintf("%dx%dx%d-%d@%dx%ds%d", c.cin, c.h, c.h, c.cout, c.k, c.k, c.s)
		for _, k := range []struct {
			name string
			f    func()
		}{
			{"forward", func() { convForward(ws, d, x, w, nil, y, nil) }},
			{"dx", func() { convBackwardX(ws, d, w, y, x) }},
			{"dw", func() { convBackwardW(ws, d, x, y, dw) }},
		} {
			b.Run(name+"/"+k.name, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					k.f()
				}
				b.ReportMetric(flop*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkPool times the pooling kernels on the shapes of ResNet18's stem and LeNet-5 at
// batch 64.
func BenchmarkPool(b *testing.B) {
	for _, c := range []struct {
		c, h, k, s, p int
		mode          poolMode
	}{
		{64, 16, 3, 2, 1, poolMax}, {6, 28, 2, 2, 0, poolMax}, {16, 10, 2, 2, 0, poolAvg},
	} {
		g := convGeom{K: c.k, S: c.s, P: c.p}
		s := tensor.Shape{64, c.c, c.h, c.h}
		x := make([]float32, s.TotalSize())
		for i := range x {
			x[i] = float32(i%7) - 3
		}
		y := make([]float32, 64*c.c*g.out(c.h)*g.out(c.h))
		dx := make([]float32, len(x))
		name := fmt.Sprintf("%dx%dx%d-%v-%v", c.c, c.h, c.h, g, c.mode)
		b.Run(name+"/forward", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				pool(g, c.mode, s, x, nil, y, nil, nil)
			}
		})
		b.Run(name+"/backward", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				pool(g, c.mode, s, x, y, nil, dx, nil)
			}
		})
	}
}

// BenchmarkParallelWake times handing an empty task to the workers after the caller has
// worked alone for a while (the gap): the cost linger keeps low between a program's kernels.
func BenchmarkParallelWake(b *testing.B) {
	for _, gap := range []time.Duration{0, 20 * time.Microsecond, 200 * time.Microsecond} {
		b.Run(gap.String(), func(b *testing.B) {
			var total time.Duration
			for i := 0; i < b.N; i++ {
				for t0 := time.Now(); time.Since(t0) < gap; {
				}
				t1 := time.Now()
				parallel(2, func(_, lo, hi int) {})
				total += time.Since(t1)
			}
			b.ReportMetric(float64(total.Microseconds())/float64(b.N), "us/call")
		})
	}
}
