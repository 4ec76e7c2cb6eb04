package kernels_test

import (
	"fmt"
	"testing"

	"github.com/nndl/cnn/kernels"
)

// BenchmarkBatchNorm times a float32 BatchNorm's forward pass in training (with and without
// the ReLU) and in inference and its backward pass (the summary and the input gradient), on
// each implementation that offers the passes, on shapes of ResNet18 at 1x32x32 batch 64 (the
// stem's output, layer1, layer3 and layer4) in NCHW, and of torchvision's at 3x224x224 batch
// 16 (the stem's output and layers 1, 2 and 4) in NCHW and in the channel-blocked layouts of
// oneDNN (blocks of 16 and 8 channels) side by side.
func BenchmarkBatchNorm(b *testing.B) {
	nchw, blocked := []int{0}, []int{0, 16, 8}
	for _, sh := range []struct {
		s      []int
		blocks []int
	}{
		{[]int{64, 64, 16, 16}, nchw}, {[]int{64, 64, 8, 8}, nchw}, {[]int{64, 256, 2, 2}, nchw}, {[]int{64, 512, 1, 1}, nchw},
		{[]int{16, 64, 112, 112}, blocked}, {[]int{16, 64, 56, 56}, blocked}, {[]int{16, 128, 28, 28}, blocked}, {[]int{16, 512, 7, 7}, blocked},
	} {
		s := sh.s
		n, c, hw := s[0], s[1], s[2]*s[3]
		x, dy, y := make([]float32, n*c*hw), make([]float32, n*c*hw), make([]float32, n*c*hw)
		for i := range x {
			x[i], dy[i] = float32(i%97)/97-0.3, float32(i%89)/89-0.5
		}
		scale, shift, rmean, rvar := make([]float32, c), make([]float32, c), make([]float32, c), make([]float32, c)
		for q := range c {
			scale[q], rvar[q] = 1, 1
		}
		sums := make([]float32, kernels.BatchNormGradRows*c)
		train := kernels.BatchNormSpec{Training: true, Eps: 1e-5, Momentum: 0.9}
		trainReLU := kernels.BatchNormSpec{Training: true, Eps: 1e-5, Momentum: 0.9, ReLU: true}
		eval := kernels.BatchNormSpec{Eps: 1e-5, Momentum: 0.9}
		for _, impl := range runnable() {
			if kernels.Named[float32](impl).BatchNorm == nil {
				continue
			}
			for _, pass := range []struct {
				name string
				f    func(blk int)
			}{
				{"train", func(blk int) { forwardIn(blk, train, s, x, scale, shift, rmean, rvar, y) }},
				{"train-relu", func(blk int) { forwardIn(blk, trainReLU, s, x, scale, shift, rmean, rvar, y) }},
				{"eval", func(blk int) { forwardIn(blk, eval, s, x, scale, shift, rmean, rvar, y) }},
				{"backward", func(blk int) {
					if blk == 0 {
						kernels.BatchNormGradSums(train, s, x, rmean, rvar, dy, sums)
						kernels.BatchNormGradX(train, s, x, scale, sums, dy, y)
						return
					}
					kernels.BatchNormGradSumsBlocked(train, s, blk, x, rmean, rvar, dy, sums)
					kernels.BatchNormGradXBlocked(train, s, blk, x, scale, sums, dy, y)
				}},
			} {
				for _, blk := range sh.blocks {
					layout := "nchw"
					if blk > 0 {
						layout = fmt.Sprintf("b%d", blk)
					}
					b.Run(fmt.Sprintf("%v/%s/%s/%s", s, impl, pass.name, layout), func(b *testing.B) {
						restore, err := kernels.Pin(impl)
						if err != nil {
							b.Fatal(err)
						}
						defer restore()
						for i := 0; i < b.N; i++ {
							pass.f(blk)
						}
					})
				}
			}
		}
	}
}

// forwardIn runs BatchNormForward on maps in NCHW (blk 0) or BatchNormForwardBlocked on maps
// blocked by blk channels.
func forwardIn(blk int, k kernels.BatchNormSpec, s []int, x, scale, shift, rmean, rvar, y []float32) {
	if blk == 0 {
		kernels.BatchNormForward(k, s, x, scale, shift, rmean, rvar, y)
		return
	}
	kernels.BatchNormForwardBlocked(k, s, blk, x, scale, shift, rmean, rvar, y)
}
