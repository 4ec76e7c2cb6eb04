package kernels_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/nndl/cnn/kernels"
)

func init() {
	checks = append(checks, check{"batchnorm", testBatchNorm[float32], testBatchNorm[float64]})
}

// bnShapes are [n,c,hw]: planes long and short, of vector widths and not, and blocks of
// channels that the short planes' kernels cut into (64 channels) and do not fill.
var bnShapes = [][3]int{{8, 16, 256}, {64, 512, 1}, {16, 256, 4}, {3, 5, 25}, {7, 3, 63}, {2, 70, 3},
	{4, 130, 1}, {2, 3, 7}, {1, 1, 17}, {5, 9, 8}, {2, 4, 14 * 14}}

// perChannel returns c per-channel tuples of width values, each in [lo, hi).
func perChannel(rng *rand.Rand, c, width int, lo, hi float64) []float64 {
	p := make([]float64, c*width)
	for i := range p {
		p[i] = lo + (hi-lo)*rng.Float64()
	}
	return p
}

// testBatchNorm runs the three BatchNorm passes on the channels [c/3, c) of each shape against
// the reference's, on inputs away from zero mean (x in [2, 4)) with a NaN in x.
func testBatchNorm[T kernels.Float](t *testing.T, impl string) (int, bool) {
	k := kernels.Named[T](impl).BatchNorm
	if k == nil {
		return 0, false
	}
	ref := kernels.Named[T]("reference").BatchNorm
	rng := rand.New(rand.NewPCG(11, 12))
	eps := 1e-12
	if _, ok := any(T(0)).(float32); ok {
		eps = 1e-6
	}
	for _, s := range bnShapes {
		n, c, hw := s[0], s[1], s[2]
		c0, c1 := c/3, c
		x, dy := random[T](rng, n*c*hw), random[T](rng, n*c*hw)
		for i := range x {
			x[i] += 3
		}
		ks := perChannel(rng, c, 1, 2, 4)
		for _, grad := range [][]T{nil, dy} {
			got, want := make([]float64, 4*c), make([]float64, 4*c)
			k.BatchNormSums(n, c, hw, c0, c1, x, grad, ks, got)
			ref.BatchNormSums(n, c, hw, c0, c1, x, grad, ks, want)
			if e := relErr(got[4*c0:], want[4*c0:]); !(e <= 1e-12) {
				t.Errorf("%s batchnorm sums %v (dy %v): relative error %.3g", impl, s, grad != nil, e)
			}
		}
		x[len(x)/2] = T(math.NaN())
		p3 := perChannel(rng, c, 3, -1, 1)
		for _, relu := range []bool{false, true} {
			got := random[T](rng, len(x))
			want := slices.Clone(got)
			k.BatchNormApply(n, c, hw, c0, c1, x, got, p3, relu)
			ref.BatchNormApply(n, c, hw, c0, c1, x, want, p3, relu)
			if e := relErr(got, want); !(e <= eps) {
				t.Errorf("%s batchnorm apply %v (relu %v): relative error %.3g", impl, s, relu, e)
			}
			inPlace := slices.Clone(x)
			k.BatchNormApply(n, c, hw, c0, c1, inPlace, inPlace, p3, relu)
			if e := relErr(channels(inPlace, n, c, hw, c0, c1), channels(want, n, c, hw, c0, c1)); !(e <= eps) {
				t.Errorf("%s batchnorm apply %v in place (relu %v): relative error %.3g", impl, s, relu, e)
			}
		}
		p5 := perChannel(rng, c, 5, -1, 1)
		got := random[T](rng, len(x))
		want := slices.Clone(got)
		k.BatchNormGrad(n, c, hw, c0, c1, x, dy, got, p5)
		ref.BatchNormGrad(n, c, hw, c0, c1, x, dy, want, p5)
		if e := relErr(got, want); !(e <= eps) {
			t.Errorf("%s batchnorm gradient %v: relative error %.3g", impl, s, e)
		}
	}
	return len(bnShapes), true
}

// channels returns the planes of channels [c0,c1) of v [n,c,hw], image by image.
func channels[T kernels.Float](v []T, n, c, hw, c0, c1 int) []T {
	var out []T
	for i := 0; i < n; i++ {
		out = append(out, v[(i*c+c0)*hw:(i*c+c1)*hw]...)
	}
	return out
}
