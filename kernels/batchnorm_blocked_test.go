package kernels_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/nndl/cnn/kernels"
)

// bnBlockedShapes are NCHW shapes whose channels every block of bnBlocks that divides them
// blocks: 1x1 maps, maps under 8 values, odd sizes and single images, channels from one
// block of 16 to two windows of the SIMD kernels' 64 lanes (a block of 128).
var bnBlockedShapes = [][]int{{2, 16, 5, 5}, {1, 32, 1, 1}, {4, 64, 1, 1}, {3, 48, 2, 3}, {2, 16, 3, 1},
	{5, 32, 2, 2}, {1, 16, 7, 7}, {2, 32, 9, 11}, {1, 48, 17, 13}, {2, 128, 2, 3}}

// bnBlocks are the blocks tried on each shape whose channels they divide: oneDNN's 8 and 16,
// 4 (two positions to a vector), 1 (NCHW), 3 (no whole vector) and all the shape's channels
// (0 here).
var bnBlocks = []int{8, 16, 4, 1, 3, 0}

// bnBlockedCase is one call of the three passes: a shape blocked by b, in one mode.
type bnBlockedCase struct {
	s    []int
	b    int
	spec kernels.BatchNormSpec
}

func (c bnBlockedCase) String() string {
	return fmt.Sprintf("%v b=%d training=%v relu=%v", c.s, c.b, c.spec.Training, c.spec.ReLU)
}

// bnBlockedCases returns every shape with every block that divides its channels, in training
// and inference, with and without the ReLU.
func bnBlockedCases() []bnBlockedCase {
	var out []bnBlockedCase
	for _, s := range bnBlockedShapes {
		for _, b := range bnBlocks {
			if b == 0 {
				b = s[1]
			}
			if s[1]%b != 0 {
				continue
			}
			for _, training := range []bool{true, false} {
				for _, relu := range []bool{false, true} {
					spec := kernels.BatchNormSpec{Training: training, Eps: 1e-5, Momentum: 0.9, ReLU: relu}
					out = append(out, bnBlockedCase{s, b, spec})
				}
			}
		}
	}
	return out
}

// bnInputs are a BatchNorm layer's inputs in NCHW: x away from zero mean (in [2, 4)) with a
// NaN in the middle of one channel (not its first value) and -0 here and there, and in
// channel 0 a value equal to its running mean, which inference with a negative scale and a
// shift of -0 takes to -0 (+0 with the ReLU).
type bnInputs[T kernels.Float] struct {
	x, dy, scale, shift, rmean, rvar []T
}

func newBNInputs[T kernels.Float](rng *rand.Rand, s []int) bnInputs[T] {
	n, c, hw := s[0], s[1], s[2]*s[3]
	in := bnInputs[T]{x: random[T](rng, n*c*hw), dy: random[T](rng, n*c*hw)}
	for i := range in.x {
		in.x[i] += 3
		if i%37 == 5 {
			in.x[i] = T(math.Copysign(0, -1))
		}
	}
	in.scale, in.shift = random[T](rng, c), random[T](rng, c)
	in.rmean, in.rvar = random[T](rng, c), random[T](rng, c)
	for q := range in.rvar {
		in.rmean[q] += 3
		in.rvar[q] = 0.5 + in.rvar[q]*in.rvar[q]
	}
	in.scale[0], in.shift[0] = -0.75, T(math.Copysign(0, -1))
	in.x[min(1, hw-1)] = in.rmean[0]
	in.x[((n-1)*c+c/2)*hw+hw/2] = T(math.NaN())
	if hw == 1 && n == 1 { // the NaN is channel c/2's first value: move it to another channel's
		in.x[c/2] = 3
	}
	return in
}

// bnOutputs are the three passes' outputs: y and the running statistics of the forward
// pass, the summary and dx of the backward one.
type bnOutputs[T kernels.Float] struct {
	y, rmean, rvar, sums, dx []T
}

// runBN runs the three passes on in, in NCHW (b = 0) or blocked by b, and returns their
// outputs in NCHW.
func runBN[T kernels.Float](c bnBlockedCase, b int, in bnInputs[T]) bnOutputs[T] {
	n, ch, hw := c.s[0], c.s[1], c.s[2]*c.s[3]
	x, dy := in.x, in.dy
	if b > 0 {
		x, dy = make([]T, len(in.x)), make([]T, len(in.dy))
		kernels.ToBlocked(in.x, x, n, ch, hw, b)
		kernels.ToBlocked(in.dy, dy, n, ch, hw, b)
	}
	out := bnOutputs[T]{y: make([]T, len(x)), rmean: slices.Clone(in.rmean), rvar: slices.Clone(in.rvar),
		sums: make([]T, kernels.BatchNormGradRows*ch), dx: make([]T, len(x))}
	// the backward pass reads the running statistics from before the forward pass's update
	if b == 0 {
		kernels.BatchNormForward(c.spec, c.s, x, in.scale, in.shift, out.rmean, out.rvar, out.y)
		kernels.BatchNormGradSums(c.spec, c.s, x, in.rmean, in.rvar, dy, out.sums)
		kernels.BatchNormGradX(c.spec, c.s, x, in.scale, out.sums, dy, out.dx)
		return out
	}
	kernels.BatchNormForwardBlocked(c.spec, c.s, b, x, in.scale, in.shift, out.rmean, out.rvar, out.y)
	kernels.BatchNormGradSumsBlocked(c.spec, c.s, b, x, in.rmean, in.rvar, dy, out.sums)
	kernels.BatchNormGradXBlocked(c.spec, c.s, b, x, in.scale, out.sums, dy, out.dx)
	for _, v := range []*[]T{&out.y, &out.dx} {
		nchw := make([]T, len(*v))
		kernels.FromBlocked(*v, nchw, n, ch, hw, b)
		*v = nchw
	}
	return out
}

// ulps returns how far got is from want: for float32, how many float32 values lie between
// them; for float64, |got-want| in float64 ulps of max(|want|, 1), the scale of the outputs.
// It is 0 when both are NaN, and infinite when one only is or when they are zeros of
// different signs.
func ulps[T kernels.Float](got, want T) float64 {
	if got != got || want != want {
		if got != got && want != want {
			return 0
		}
		return math.Inf(1)
	}
	if got == want && math.Signbit(float64(got)) != math.Signbit(float64(want)) {
		return math.Inf(1)
	}
	if _, ok := any(got).(float32); ok {
		return math.Abs(float64(ordered32(float32(got)) - ordered32(float32(want))))
	}
	return math.Abs(float64(got)-float64(want)) / (0x1p-52 * max(math.Abs(float64(want)), 1))
}

// ordered32 maps float32 values to integers in the same order, neighbours one apart.
func ordered32(v float32) int64 {
	u := int64(math.Float32bits(v))
	if u >= 1<<31 {
		return 1<<31 - u
	}
	return u
}

// highLow returns the summary's mean and inverse-deviation rows (BatchNormGradSums) as the
// float64 values their high and low parts hold: the low parts carry the float64 statistics'
// last bits, which the other order of the sums changes, and are compared only thus.
func highLow[T kernels.Float](sums []T) []float64 {
	c := len(sums) / kernels.BatchNormGradRows
	out := make([]float64, 2*c)
	for q := range c {
		out[q] = float64(sums[2*c+q]) + float64(sums[3*c+q])
		out[c+q] = float64(sums[4*c+q]) + float64(sums[5*c+q])
	}
	return out
}

// summaryRows returns the rows of the summary that are T values by themselves: sum(dy),
// sum(dy*xhat) and the high parts of the mean and of the inverse deviation.
func summaryRows[T kernels.Float](sums []T) []T {
	c := len(sums) / kernels.BatchNormGradRows
	return slices.Concat(sums[:3*c], sums[4*c:5*c])
}

// bnDiff tallies the comparison of outputs with the NCHW ones.
type bnDiff struct {
	values, differ int
	worst          float64
}

// compare adds got against want to d and returns the largest distance (ulps).
func compare[T kernels.Float](d *bnDiff, got, want []T) float64 {
	worst := 0.0
	for i := range want {
		u := ulps(got[i], want[i])
		if u > 0 {
			d.differ++
		}
		worst = max(worst, u)
	}
	d.values += len(want)
	d.worst = max(d.worst, worst)
	return worst
}

// bnBlockedTolerance is the distance (ulps) allowed between a blocked and an NCHW output of
// type T: the float64 sums are added in another order, which float32 outputs round away, to
// one ulp at most, but float64 ones carry.
func bnBlockedTolerance[T kernels.Float]() float64 {
	if _, ok := any(T(0)).(float32); ok {
		return 1
	}
	return bnStatsTolerance
}

// bnStatsTolerance is the distance (float64 ulps) allowed between float64 values of the
// blocked and the NCHW passes, which come of sums of a few hundred values in another order
// (they differ by up to about 80; 1024 is 2^-42 of their scale, where a value of the wrong
// channel is off by about 2^52).
const bnStatsTolerance = 1024

// TestBatchNormBlocked runs the three passes on maps blocked by b against the same
// implementation's NCHW passes, each implementation pinned in turn, in float32 and float64.
func TestBatchNormBlocked(t *testing.T) {
	for _, in := range kernels.List() {
		if !in.Runnable {
			continue
		}
		testBNBlocked[float32](t, in.Name)
		testBNBlocked[float64](t, in.Name)
	}
}

func testBNBlocked[T kernels.Float](t *testing.T, impl string) {
	k := kernels.Named[T](impl).BatchNorm
	if k == nil {
		return
	}
	restore, err := kernels.Pin(impl)
	if err != nil {
		t.Fatal(err)
	}
	defer restore()
	if kernels.BatchNormFor[T]() != k {
		t.Fatalf("%s: pinned, BatchNorm runs on another implementation", impl)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	tol := bnBlockedTolerance[T]()
	var d, stats bnDiff
	cases := bnBlockedCases()
	for _, c := range cases {
		in := newBNInputs[T](rng, c.s)
		want, got := runBN(c, 0, in), runBN(c, c.b, in)
		for _, o := range []struct {
			name      string
			got, want []T
		}{
			{"y", got.y, want.y}, {"running mean", got.rmean, want.rmean}, {"running variance", got.rvar, want.rvar},
			{"summary", summaryRows(got.sums), summaryRows(want.sums)}, {"dx", got.dx, want.dx},
		} {
			if u := compare(&d, o.got, o.want); !(u <= tol) {
				t.Errorf("%s %T %v: %s %v ulps from NCHW's", impl, T(0), c, o.name, u)
			}
		}
		if u := compare(&stats, highLow(got.sums), highLow(want.sums)); !(u <= bnStatsTolerance) {
			t.Errorf("%s %T %v: the summary's mean or inverse deviation %v float64 ulps from NCHW's", impl, T(0), c, u)
		}
	}
	t.Logf("%s %T: %d cases, %d of %d values differ from NCHW's, by at most %v ulps; %d of %d of the summary's float64 statistics, by at most %v ulps",
		impl, T(0), len(cases), d.differ, d.values, d.worst, stats.differ, stats.values, stats.worst)
}

// TestBatchNormBlockedCatchesWrongLane checks that the comparison above sees a blocked pass
// that puts a channel's value in its neighbour's lane: it swaps lanes 0 and 1 of one row of
// a blocked output.
func TestBatchNormBlockedCatchesWrongLane(t *testing.T) {
	s, b := []int{2, 16, 3, 3}, 8
	n, c, hw := s[0], s[1], s[2]*s[3]
	in := newBNInputs[float32](rand.New(rand.NewPCG(5, 6)), s)
	xb, y := make([]float32, len(in.x)), make([]float32, len(in.x))
	kernels.ToBlocked(in.x, xb, n, c, hw, b)
	spec := kernels.BatchNormSpec{Training: true, Eps: 1e-5, Momentum: 0.9}
	kernels.BatchNormForwardBlocked(spec, s, b, xb, in.scale, in.shift, slices.Clone(in.rmean), slices.Clone(in.rvar), y)
	want := make([]float32, len(y))
	kernels.FromBlocked(y, want, n, c, hw, b)
	y[3*b], y[3*b+1] = y[3*b+1], y[3*b]
	got := make([]float32, len(y))
	kernels.FromBlocked(y, got, n, c, hw, b)
	var d bnDiff
	if u := compare(&d, got, want); u <= bnBlockedTolerance[float32]() {
		t.Errorf("swapped lanes are %v ulps from the right ones: within the tolerance", u)
	}
}

// TestBatchNormBlockedRejectsBlock checks that the blocked passes refuse a block that does
// not divide the channels.
func TestBatchNormBlockedRejectsBlock(t *testing.T) {
	for _, b := range []int{0, -8, 5} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("block %d of 16 channels: no panic", b)
				}
			}()
			x := make([]float32, 16*4)
			v := make([]float32, 16)
			kernels.BatchNormForwardBlocked(kernels.BatchNormSpec{Eps: 1e-5}, []int{1, 16, 2, 2}, b, x, v, v, v, v, x)
		}()
	}
}
