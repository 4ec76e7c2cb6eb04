package kernels_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nndl/cnn/kernels"
	"github.com/nndl/cnn/kernels/purego"
)

// blockedGradCases are the poolings TestPoolBackwardBlocked runs, each on blocks of 8 and 16
// channels (and 4 in Go, bs overriding): ResNet's stem, padded and unpadded windows, ceil
// mode, overlapping and disjoint windows, the 2x2 windows, maps of one to three columns.
var blockedGradCases = []struct {
	n, c, h, w, kh, kw, s, p int
	ceil                     bool
	bs                       []int
}{
	{3, 64, 112, 112, 3, 3, 2, 1, false, []int{16}}, // the stem's maps, large enough to be streamed
	{1, 16, 112, 112, 3, 3, 2, 1, false, nil},
	{2, 16, 12, 12, 3, 3, 2, 1, false, nil},
	{1, 16, 13, 11, 3, 3, 2, 1, false, nil},
	{1, 16, 10, 10, 3, 3, 2, 0, false, nil},
	{1, 16, 10, 10, 3, 3, 2, 0, true, nil},
	{2, 16, 6, 6, 3, 3, 2, 1, true, nil},
	{1, 16, 11, 11, 5, 3, 2, 1, false, nil}, // 3-wide windows of 5 rows, 4 of 2 rows
	{1, 16, 10, 9, 4, 3, 2, 1, true, nil},
	{1, 16, 9, 9, 3, 3, 1, 1, false, nil},
	{3, 16, 5, 5, 3, 3, 1, 1, false, nil},
	{1, 32, 11, 11, 5, 5, 3, 2, false, []int{4, 8, 16, 32}},
	{1, 16, 8, 8, 2, 2, 2, 0, false, nil}, // Is2x2
	{1, 16, 7, 9, 2, 2, 2, 0, false, nil}, // Is2x2, an odd last row and column
	{1, 16, 7, 7, 2, 2, 2, 0, true, nil},  // not Is2x2: ceil mode's clipped last windows
	{1, 16, 8, 8, 2, 2, 3, 0, false, nil}, // rows and columns no window reaches
	{1, 16, 6, 6, 3, 2, 2, 1, false, nil},
	{1, 16, 1, 1, 3, 3, 2, 1, false, nil}, // one column
	{1, 16, 2, 2, 3, 3, 2, 1, false, nil},
	{1, 16, 3, 3, 3, 3, 2, 0, false, nil},
	{2, 16, 5, 3, 3, 3, 2, 1, true, nil},
	{1, 48, 7, 7, 3, 3, 2, 1, false, []int{8, 16, 24}},
}

// gradInputs are the kinds of values the gradients are tried on.
var gradInputs = []string{"ties", "random", "special"}

// blockedGradInput returns n values of kind: integers in a small range (many ties, -0 among
// the zeros), random numbers, or those with NaN, zeros of both signs and infinities.
func blockedGradInput[T kernels.Float](rng *rand.Rand, kind string, n int) []T {
	x := make([]T, n)
	negZero := T(math.Copysign(0, -1))
	for i := range x {
		switch kind {
		case "ties":
			x[i] = T(rng.IntN(5) - 3)
			if x[i] == 0 && rng.IntN(2) == 0 {
				x[i] = negZero
			}
		case "random":
			x[i] = T(rng.NormFloat64())
		default:
			switch rng.IntN(12) {
			case 0:
				x[i] = T(math.NaN())
			case 1:
				x[i] = negZero
			case 2:
				x[i] = 0
			case 3:
				x[i] = T(math.Inf(-1))
			case 4:
				x[i] = T(math.Inf(1))
			default:
				x[i] = T(rng.IntN(7) - 3)
			}
		}
	}
	return x
}

// TestPoolBackwardBlocked: max pooling's gradient on blocked maps gives, after FromBlocked,
// the NCHW gradient to the bit (any NaN matching any NaN), on every implementation this CPU
// runs, in Go and through the entry point: each against the NCHW kernel whose rule it
// follows where a window's maximum is NaN (the implementation's own where it takes the
// window, else purego's), the entry point against PoolBackward. With and without relu (a
// tensor of its own, and x itself as a training program passes it), with y and, in Go,
// without.
func TestPoolBackwardBlocked(t *testing.T) {
	testPoolBackwardBlocked[float32](t)
	testPoolBackwardBlocked[float64](t)
}

func testPoolBackwardBlocked[T kernels.Float](t *testing.T) {
	var zero T
	rng := rand.New(rand.NewPCG(7, 8))
	purePool := kernels.Named[T]("purego").Pool
	for _, c := range blockedGradCases {
		g := kernels.ConvGeom{KH: c.kh, KW: c.kw, S: c.s, P: c.p, Ceil: c.ceil}
		d := kernels.NewPoolDims(g, kernels.PoolMax, []int{c.n, c.c, c.h, c.w})
		bs := c.bs
		if bs == nil {
			bs = []int{4, 8, 16}
		}
		hw, ohw := c.h*c.w, d.OH*d.OW
		in, out := c.n*c.c*hw, c.n*c.c*ohw
		for _, kind := range gradInputs {
			if in > 1<<20 && kind != "ties" { // the large maps once, on the kind with the most ties
				continue
			}
			x := blockedGradInput[T](rng, kind, in)
			dy := blockedGradInput[T](rng, "random", out)
			if kind == "special" {
				dy = blockedGradInput[T](rng, kind, out)
			}
			y := make([]T, out)
			purePool.PoolForward(d, x, y)
			relus := map[string][]T{"nil": nil, "own": blockedGradInput[T](rng, kind, in), "x": x}
			for _, rname := range []string{"nil", "own", "x"} {
				relu := relus[rname]
				// The NCHW gradients, of the entry point and of each implementation.
				want := map[string][]T{"PoolBackward": make([]T, in)}
				kernels.PoolBackward(d, x, y, dy, want["PoolBackward"], relu)
				for _, impl := range append(runnable(), "purego") {
					if k := kernels.Named[T](impl).Pool; k != nil && k.AcceptsPool(d) {
						want[impl] = make([]T, in)
						k.PoolBackward(d, x, y, dy, want[impl], relu)
					}
				}
				for _, b := range bs {
					if c.c%b != 0 {
						continue
					}
					name := fmt.Sprintf("%T %dx%dx%dx%d %v/b%d/%s/relu=%s", zero, c.n, c.c, c.h, c.w, g, b, kind, rname)
					xb, yb, dyb := make([]T, in), make([]T, out), make([]T, out)
					kernels.ToBlocked(x, xb, c.n, c.c, hw, b)
					kernels.ToBlocked(y, yb, c.n, c.c, ohw, b)
					kernels.ToBlocked(dy, dyb, c.n, c.c, ohw, b)
					var rb []T
					switch rname {
					case "own":
						rb = make([]T, in)
						kernels.ToBlocked(relu, rb, c.n, c.c, hw, b)
					case "x":
						rb = xb
					}
					got, back := make([]T, in), make([]T, in)
					check := func(impl, against string) {
						t.Helper()
						for i := range got { // what was there must not show
							got[i] = T(math.NaN())
						}
						switch impl {
						case "Go":
							kernels.PoolBackwardBlockedGo(d, b, xb, yb, dyb, got, rb)
						case "Go, y nil":
							kernels.PoolBackwardBlockedGo(d, b, xb, nil, dyb, got, rb)
						case "PoolBackwardBlocked":
							kernels.PoolBackwardBlocked(d, b, xb, yb, dyb, got, rb)
						default:
							kernels.Named[T](impl).Pool.(kernels.BlockedPoolBackward[T]).PoolBackwardBlocked(d, b, xb, yb, dyb, got, rb)
						}
						kernels.FromBlocked(got, back, c.n, c.c, hw, b)
						if i, ok := sameBits(back, want[against]); !ok {
							t.Errorf("%s: %s: element %d (image %d channel %d position %d) is %v, want %v (%s)",
								name, impl, i, i/hw/c.c, i/hw%c.c, i%hw, back[i], want[against][i], against)
						}
					}
					check("Go", "purego")
					check("Go, y nil", "purego")
					// Blocks the SIMD kernels do not take fall to Go, whose NaN rule is purego's.
					if _, ok := any(zero).(float32); ok && b%8 == 0 {
						check("PoolBackwardBlocked", "PoolBackward")
					} else {
						check("PoolBackwardBlocked", "purego")
					}
					for _, impl := range runnable() {
						k, ok := kernels.Named[T](impl).Pool.(kernels.BlockedPoolBackward[T])
						if !ok || !k.AcceptsBlockedPoolBackward(d, b) {
							continue
						}
						against := impl
						if want[impl] == nil {
							against = "purego"
						}
						check(impl, against)
					}
				}
			}
		}
	}
}

// TestSpreadPlanesBlocked: global average pooling's gradient on blocked maps gives, after
// FromBlocked, SpreadPlanes' to the bit, NaN, zeros of both signs and infinities included, on
// maps small and large enough for the workers to split.
func TestSpreadPlanesBlocked(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, c := range []struct{ n, c, hw, b int }{
		{1, 16, 1, 16}, {2, 16, 49, 8}, {3, 8, 5, 4}, {16, 512, 49, 16}, {4, 64, 3, 8}, {1, 32, 196, 16}, {2, 24, 7, 8},
	} {
		t.Run(fmt.Sprintf("%dx%dx%d/b%d", c.n, c.c, c.hw, c.b), func(t *testing.T) {
			dy := blockedGradInput[float32](rng, "special", c.n*c.c)
			for i := range dy {
				dy[i] *= float32(rng.NormFloat64()) // values a division rounds
			}
			dy[0] = float32(math.Copysign(0, -1))
			want, got, back := make([]float32, c.n*c.c*c.hw), make([]float32, c.n*c.c*c.hw), make([]float32, c.n*c.c*c.hw)
			purego.SpreadPlanes(c.hw, dy, want)
			for i := range got {
				got[i] = float32(math.NaN())
			}
			kernels.SpreadPlanesBlocked(c.n, c.c, c.hw, c.b, dy, got)
			kernels.FromBlocked(got, back, c.n, c.c, c.hw, c.b)
			if i, ok := sameBits(back, want); !ok {
				t.Errorf("element %d is %v, want %v", i, back[i], want[i])
			}
		})
	}
}
