package kernels_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/nndl/cnn/kernels"
)

// runnable returns the implementations this machine runs, but the reference.
func runnable() []string {
	var out []string
	for _, in := range kernels.List() {
		if in.Runnable && in.Name != "reference" {
			out = append(out, in.Name)
		}
	}
	return out
}

// BenchmarkConv times the three passes of the float32 convolution, on each implementation
// that takes the shape, on the layers of LeNet-5 and ResNet18 at batch 64, reporting GFLOP/s
// (2 per multiply-add).
func BenchmarkConv(b *testing.B) {
	for _, c := range []struct{ cin, h, cout, k, s, p int }{
		{1, 32, 6, 5, 1, 0}, {6, 14, 16, 5, 1, 0}, {16, 5, 120, 5, 1, 0}, // LeNet-5 conv1, conv3, conv5
		{1, 32, 64, 7, 2, 3}, {64, 8, 64, 3, 1, 1}, {64, 8, 128, 3, 2, 1}, {128, 4, 128, 3, 1, 1},
		{128, 4, 256, 3, 2, 1}, {256, 2, 256, 3, 1, 1}, {256, 2, 512, 3, 2, 1}, {512, 1, 512, 3, 1, 1},
	} {
		g := kernels.ConvGeom{K: c.k, S: c.s, P: c.p}
		d := kernels.NewConvDims(g, []int{64, c.cin, c.h, c.h}, []int{c.cout, c.cin, c.k, c.k})
		x := make([]float32, 64*c.cin*c.h*c.h)
		w := make([]float32, c.cout*d.K)
		y := make([]float32, 64*c.cout*d.OHW)
		dw := make([]float32, len(w))
		flop := float64(2 * 64 * c.cout * d.OHW * d.K)
		name := fmt.Sprintf("%dx%dx%d-%d@%dx%ds%d", c.cin, c.h, c.h, c.cout, c.k, c.k, c.s)
		for _, impl := range runnable() {
			k := kernels.Named[float32](impl).Conv
			if k == nil || !k.AcceptsConv(d) {
				continue
			}
			ws := kernels.NewScratch()
			for _, pass := range []struct {
				name string
				f    func() error
			}{
				{"forward", func() error { return k.ConvForward(ws, d, x, w, nil, y, nil) }},
				{"dx", func() error { return k.ConvBackwardData(ws, d, w, y, x) }},
				{"dw", func() error { return k.ConvBackwardWeights(ws, d, x, y, dw) }},
			} {
				b.Run(name+"/"+impl+"/"+pass.name, func(b *testing.B) {
					for i := 0; i < b.N; i++ {
						if err := pass.f(); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(flop*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}

// BenchmarkPreparedConv times the prepared forward passes of ResNet18's convolutions at
// 32x32 on one image, on 4 and on 64, and at 224x224 on one image, the weights random and a BatchNorm and a ReLU folded in.
func BenchmarkPreparedConv(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 4, 64} {
		for _, c := range []struct{ cin, h, cout, k, s, p int }{
			{1, 32, 64, 7, 2, 3}, {64, 8, 64, 3, 1, 1}, {64, 8, 128, 3, 2, 1}, {64, 8, 128, 1, 2, 0}, {128, 4, 128, 3, 1, 1},
			{128, 4, 256, 3, 2, 1}, {256, 2, 256, 3, 1, 1}, {256, 2, 512, 3, 2, 1}, {512, 1, 512, 3, 1, 1},
			// and at 224x224
			{3, 224, 64, 7, 2, 3}, {64, 56, 64, 3, 1, 1}, {128, 28, 128, 3, 1, 1}, {256, 14, 256, 3, 1, 1}, {512, 7, 512, 3, 1, 1},
			{64, 56, 128, 1, 2, 0}, {128, 28, 256, 1, 2, 0}, {256, 14, 512, 1, 2, 0},
		} {
			if n > 1 && c.h > 32 {
				continue // one image at 224x224
			}
			g := kernels.ConvGeom{K: c.k, S: c.s, P: c.p}
			d := kernels.NewConvDims(g, []int{n, c.cin, c.h, c.h}, []int{c.cout, c.cin, c.k, c.k})
			x, w := random[float32](rng, n*c.cin*c.h*c.h), random[float32](rng, c.cout*d.K)
			y := make([]float32, n*c.cout*d.OHW)
			ep := bnEpilogue(rng, d.P, true)
			flop := float64(2 * n * c.cout * d.OHW * d.K)
			name := fmt.Sprintf("b%d/%dx%dx%d-%d@%dx%ds%d", n, c.cin, c.h, c.h, c.cout, c.k, c.k, c.s)
			for _, impl := range runnable() {
				k := kernels.Named[float32](impl).Conv
				pr, ok := k.(kernels.ConvPreparer[float32])
				if !ok || !pr.AcceptsPreparedConv(d) {
					continue
				}
				p, err := pr.PrepareConv(d, w, nil, ep)
				if err != nil {
					b.Fatal(err)
				}
				ws := kernels.NewScratch()
				b.Run(name+"/"+impl, func(b *testing.B) {
					for i := 0; i < b.N; i++ {
						if err := p.Forward(ws, x, y); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(flop*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
				// The same with its maps in the kernel's channel-blocked layout (or channels
				// last), as a frozen program keeps them between such convolutions.
				if bp, ok := p.(kernels.BlockedConv[float32]); ok && kernels.FitsBlocks(c.cin, bp.ChannelBlock()) && kernels.FitsBlocks(c.cout, bp.ChannelBlock()) {
					pb, err := bp.Blocked(true, true)
					if err != nil {
						b.Fatal(err)
					}
					b.Run(name+"/"+impl+"/blocked", func(b *testing.B) {
						for i := 0; i < b.N; i++ {
							if err := pb.Forward(ws, x, y); err != nil {
								b.Fatal(err)
							}
						}
						b.ReportMetric(flop*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
					})
				}
			}
		}
	}
}

// BenchmarkPool times float32 pooling, on each implementation that takes the window, on the
// shapes of ResNet18's stem at batch 64 on 32x32 images and batch 16 on 224x224 ones, and
// of LeNet-5 at batch 64, on one thread; one image's stem output on the workers; and the
// gradient of the batch of 16's stem pooling on the workers, NCHW against blocked.
func BenchmarkPool(b *testing.B) {
	for _, c := range []struct {
		n, c, h, k, s, p int
		mode             kernels.PoolMode
	}{
		{64, 64, 16, 3, 2, 1, kernels.PoolMax}, {16, 64, 112, 3, 2, 1, kernels.PoolMax}, {1, 64, 112, 3, 2, 1, kernels.PoolMax},
		{64, 6, 28, 2, 2, 0, kernels.PoolMax}, {64, 16, 10, 2, 2, 0, kernels.PoolAvg},
	} {
		g := kernels.ConvGeom{K: c.k, S: c.s, P: c.p}
		d := kernels.NewPoolDims(g, c.mode, []int{c.n, c.c, c.h, c.h})
		x := make([]float32, c.n*c.c*c.h*c.h)
		for i := range x {
			x[i] = float32(i%7) - 3
		}
		y := make([]float32, d.Planes*d.OH*d.OW)
		dx := make([]float32, len(x))
		name := fmt.Sprintf("%dx%dx%dx%d-%v-%v", c.n, c.c, c.h, c.h, g, c.mode)
		for _, impl := range runnable() {
			k := kernels.Named[float32](impl).Pool
			if k == nil || !k.AcceptsPool(d) {
				continue
			}
			b.Run(name+"/"+impl+"/forward", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					k.PoolForward(d, x, y)
				}
			})
			b.Run(name+"/"+impl+"/backward", func(b *testing.B) {
				k.PoolForward(d, x, y) // the maxima the gradient looks for
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					k.PoolBackward(d, x, y, y, dx, nil)
				}
			})
			// The same maps in the channel-blocked layout of 16, as a frozen program keeps them.
			if bk, ok := k.(kernels.BlockedMaxPool[float32]); ok && c.c%16 == 0 && bk.AcceptsBlockedMaxPool(d, 16) {
				b.Run(name+"/"+impl+"/blocked", func(b *testing.B) {
					for i := 0; i < b.N; i++ {
						bk.MaxPoolBlocked(d, 16, x, y)
					}
				})
				// And channels last, as a frozen program on oneDNN's inference kernels keeps them.
				if bk.AcceptsBlockedMaxPool(d, c.c) {
					b.Run(name+"/"+impl+"/channels-last", func(b *testing.B) {
						for i := 0; i < b.N; i++ {
							bk.MaxPoolBlocked(d, c.c, x, y)
						}
					})
				}
			}
			// Its gradient, without and with the ReLU's before the pooling (x itself, as a
			// training program passes it).
			if gk, ok := k.(kernels.BlockedPoolBackward[float32]); ok && c.c%16 == 0 && gk.AcceptsBlockedPoolBackward(d, 16) {
				for _, relu := range [][]float32{nil, x} {
					b.Run(fmt.Sprintf("%s/%s/blocked-backward-relu=%v", name, impl, relu != nil), func(b *testing.B) {
						kernels.MaxPoolBlockedGo(d, 16, x, y)
						b.ResetTimer()
						for i := 0; i < b.N; i++ {
							gk.PoolBackwardBlocked(d, 16, x, y, y, dx, relu)
						}
					})
				}
			}
		}
	}
	// One 224x224 image's stem output, blocked, the workers splitting it as a frozen
	// program's pooling does.
	g := kernels.ConvGeom{K: 3, S: 2, P: 1}
	d := kernels.NewPoolDims(g, kernels.PoolMax, []int{1, 64, 112, 112})
	x, y := make([]float32, 64*112*112), make([]float32, d.Planes*d.OH*d.OW)
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	b.Run("1x64x112x112-blocked-relu/workers", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			kernels.MaxPoolBlocked(d, 16, x, y, true)
		}
	})
	// The stem pooling's gradient in a training step on 16 images, the workers splitting it,
	// in NCHW (PoolBackward) and blocked by 16 (PoolBackwardBlocked), without and with the
	// ReLU's gradient (x itself as the ReLU's output, as a training program passes it): the
	// same values, each pair of runs alternating.
	d = kernels.NewPoolDims(g, kernels.PoolMax, []int{16, 64, 112, 112})
	x, dx := make([]float32, 16*64*112*112), make([]float32, 16*64*112*112)
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	y, yb, dy := make([]float32, d.Planes*d.OH*d.OW), make([]float32, d.Planes*d.OH*d.OW), make([]float32, d.Planes*d.OH*d.OW)
	for i := range dy {
		dy[i] = float32(i%13) - 6
	}
	kernels.PoolForward(d, x, y)
	kernels.MaxPoolBlocked(d, 16, x, yb, false)
	for _, relu := range [][]float32{nil, x} {
		b.Run(fmt.Sprintf("16x64x112x112-backward-relu=%v/workers/nchw", relu != nil), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				kernels.PoolBackward(d, x, y, dy, dx, relu)
			}
		})
		b.Run(fmt.Sprintf("16x64x112x112-backward-relu=%v/workers/blocked", relu != nil), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				kernels.PoolBackwardBlocked(d, 16, x, yb, dy, dx, relu)
			}
		})
	}
}

// BenchmarkParallelWake times handing an empty task to the workers after the caller has
// worked alone for a while (the gap): the cost the workers' lingering keeps low between a
// program's kernels.
func BenchmarkParallelWake(b *testing.B) {
	for _, gap := range []time.Duration{0, 20 * time.Microsecond, 200 * time.Microsecond} {
		b.Run(gap.String(), func(b *testing.B) {
			var total time.Duration
			for i := 0; i < b.N; i++ {
				for t0 := time.Now(); time.Since(t0) < gap; {
				}
				t1 := time.Now()
				kernels.Parallel(2, func(_, lo, hi int) {})
				total += time.Since(t1)
			}
			b.ReportMetric(float64(total.Microseconds())/float64(b.N), "us/call")
		})
	}
}
