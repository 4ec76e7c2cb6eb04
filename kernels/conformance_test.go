package kernels_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/nndl/cnn/kernels"
	_ "github.com/nndl/cnn/kernels/all"
	"github.com/nndl/cnn/kernels/reference"
)

// TestConformance runs every operation of every implementation this binary holds against
// the reference, in float32 and float64: odd shapes, ties, NaN and zeros of both signs. It
// lists what ran and what was skipped and why (go test -v -run Conformance ./kernels/);
// with CNN_MAX_CPU_ISA=avx2 an AVX-512 machine runs its AVX2 kernels as an AVX2 one does.
func TestConformance(t *testing.T) {
	var listing []string
	for _, in := range kernels.List() {
		if in.Name == "reference" {
			continue
		}
		if !in.Runnable {
			listing = append(listing, fmt.Sprintf("%-9s skipped: %s", in.Name, in.Why))
			continue
		}
		var ran []string
		for _, c := range checks {
			if n, ok := c.run32(t, in.Name); ok {
				ran = append(ran, fmt.Sprintf("%s/float32 (%d cases)", c.op, n))
			}
			if n, ok := c.run64(t, in.Name); ok {
				ran = append(ran, fmt.Sprintf("%s/float64 (%d cases)", c.op, n))
			}
		}
		listing = append(listing, fmt.Sprintf("%-9s ran: %s", in.Name, strings.Join(ran, ", ")))
	}
	t.Logf("conformance against the reference (CPU instruction sets up to %v):\n%s", kernels.MaxISA(), strings.Join(listing, "\n"))
}

// check is one operation's conformance test, for each element type.
type check struct {
	op           string
	run32, run64 func(t *testing.T, impl string) (cases int, offered bool)
}

var checks = []check{
	{"gemm", testGemm[float32], testGemm[float64]},
	{"conv", testConv[float32], testConv[float64]},
	{"pool", testPool[float32], testPool[float64]},
	{"relu", testReLU[float32], testReLU[float64]},
	{"channel-sum", testChannelSum[float32], testChannelSum[float64]},
	{"axpy", testAxpy[float32], testAxpy[float64]},
}

// tol is the relative error allowed of a computation that rounds differently from the
// reference's.
func tol[T kernels.Float]() float64 {
	var z T
	if _, ok := any(z).(float32); ok {
		return 1e-5
	}
	return 1e-12
}

// random returns n values in [-1, 1), each a float32, so that both types see the same inputs.
func random[T kernels.Float](rng *rand.Rand, n int) []T {
	v := make([]T, n)
	for i := range v {
		v[i] = T(float32(rng.Float64()*2 - 1))
	}
	return v
}

// f64 converts v to float64.
func f64[T kernels.Float](v []T) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// relErr is max |got-want| over max |want|, NaN where one is NaN and the other not.
func relErr[T, U kernels.Float](got []T, want []U) float64 {
	var diff, scale float64
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(g) != math.IsNaN(w) {
			return math.NaN()
		}
		if !math.IsNaN(w) {
			diff = max(diff, math.Abs(g-w))
			scale = max(scale, math.Abs(w))
		}
	}
	return diff / max(scale, 1e-30)
}

// sameBits reports whether got and want hold the same bits (any NaN matching any NaN), and
// the first index where they do not.
func sameBits[T kernels.Float](got, want []T) (int, bool) {
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(g) && math.IsNaN(w) {
			continue
		}
		if g != w || math.Signbit(g) != math.Signbit(w) {
			return i, false
		}
	}
	return 0, true
}

func testGemm[T kernels.Float](t *testing.T, impl string) (int, bool) {
	k := kernels.Named[T](impl).Gemm
	if k == nil {
		return 0, false
	}
	ref := kernels.Named[float64]("reference").Gemm
	rng := rand.New(rand.NewPCG(1, 2))
	n := 0
	for _, c := range []struct{ m, n, k int }{{1, 1, 1}, {3, 5, 7}, {17, 9, 33}, {64, 120, 400}, {2, 300, 3}} {
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				for _, beta := range []T{0, 1, 0.5} {
					a, b := random[T](rng, c.m*c.k), random[T](rng, c.k*c.n)
					lda, ldb := c.k, c.n
					if ta {
						lda = c.m
					}
					if tb {
						ldb = c.k
					}
					got := random[T](rng, c.m*c.n)
					want := f64(got)
					k.Gemm(ta, tb, c.m, c.n, c.k, 1.5, a, lda, b, ldb, beta, got, c.n)
					ref.Gemm(ta, tb, c.m, c.n, c.k, 1.5, f64(a), lda, f64(b), ldb, float64(beta), want, c.n)
					if e := relErr(got, want); !(e <= tol[T]()) {
						t.Errorf("%s gemm %+v transA=%v transB=%v beta=%v: relative error %.3g", impl, c, ta, tb, beta, e)
					}
					n++
				}
			}
		}
	}
	return n, true
}

// convCases are the shapes every convolution is tried on: each path of the fast kernels
// (the direct kernels, oneDNN split or over the batch, im2col, the plain product, one image
// split by filters) and the edges of each.
var convCases = []struct{ n, cin, h, w, cout, k, s, p int }{
	{1, 64, 8, 8, 128, 3, 1, 1},  // one image, big enough to split by filters
	{3, 32, 2, 2, 48, 3, 2, 1},   // small maps
	{2, 16, 1, 1, 32, 3, 1, 1},   // 1x1 maps, padding only around
	{4, 8, 2, 2, 16, 3, 2, 1},    // 2x2 to 1x1, four live taps
	{3, 16, 1, 1, 8, 3, 1, 1},    // a 1x1 map: the centre tap only
	{4, 6, 3, 3, 5, 3, 3, 1},     // 3x3 to 1x1 through padding, four live taps
	{3, 8, 2, 2, 12, 3, 1, 1},    // a 2x2 map: four taps of nine at each position
	{2, 6, 4, 4, 10, 3, 2, 1},    // 4x4 to 2x2, stride 2
	{3, 4, 5, 5, 6, 7, 2, 3},     // a 7x7 stride-2 window over a small map
	{2, 3, 1, 1, 4, 3, 1, 3},     // padding wider than the kernel: windows of padding only
	{1, 4, 4, 4, 8, 3, 1, 1},     // one image, small map, split by filters
	{1, 64, 1, 1, 96, 3, 1, 1},   // one image of a 1x1 map (prepared: the centre tap only)
	{1, 12, 2, 2, 20, 3, 1, 1},   // one image of a 2x2 map
	{1, 512, 3, 3, 64, 3, 1, 1},  // one image, its channels in chunks
	{1, 32, 9, 9, 48, 3, 2, 1},   // one image, stride 2, filters in part of a group
	{1, 32, 8, 8, 64, 1, 2, 0},   // one image, 1x1 stride 2: no padding
	{1, 3, 20, 20, 32, 7, 2, 3},  // a stem on one image
	{1, 16, 1, 1, 32, 1, 2, 1},   // one image, every window on padding only
	{2, 32, 32, 32, 64, 3, 1, 1}, // much work an image: a prepared pass over the whole batch
	{33, 5, 8, 8, 7, 3, 1, 1},    // 8x8 maps, many chunks
	{5, 16, 5, 5, 12, 5, 1, 0},   // the window covers the input: a matrix product
	{64, 16, 5, 5, 120, 5, 1, 0}, // LeNet-5's conv5, a product big enough to split
	{70, 3, 9, 9, 5, 3, 2, 0},    // many chunks
	{1, 4, 12, 12, 8, 5, 1, 2},   // one image, too small to split
	{5, 8, 16, 16, 64, 1, 1, 0},  // 1x1 kernels, a wide layer
	{3, 1, 32, 32, 6, 5, 1, 0},   // LeNet-5's conv1
	{4, 6, 14, 14, 16, 5, 1, 0},  // LeNet-5's conv3
	{5, 1, 32, 32, 8, 7, 2, 3},   // the ResNet stem
	{6, 16, 8, 8, 16, 3, 1, 1},   // layer1
	{7, 16, 8, 8, 32, 3, 2, 1},   // a stride-2 layer
	{65, 4, 6, 6, 5, 3, 1, 1},    // an odd batch split between workers
	{2, 5, 5, 5, 3, 3, 3, 2},     // stride larger than the kernel's overlap
	{3, 15, 40, 40, 16, 3, 1, 0}, // rows of 38: a vector and a tail; filters in two blocks
	{2, 2, 20, 20, 13, 7, 1, 0},  // 7x7, rows of 14, 13 channels in one block
	{3, 3, 18, 18, 5, 1, 1, 0},   // 1x1, rows of 18
	{5, 15, 6, 6, 16, 2, 1, 0},   // 2x2, rows of 5
	{1, 1, 32, 32, 6, 5, 1, 0},   // one image
	{2, 3, 17, 17, 16, 3, 1, 0},  // channels in the lanes, rows of 15
	{3, 4, 10, 10, 12, 3, 1, 0},  // channels in the lanes, 12 of 16
	{2, 2, 9, 9, 7, 2, 1, 0},     // an odd number of rows
	{2, 3, 7, 11, 4, 3, 1, 0},    // a rectangular map
	{3, 2, 13, 5, 6, 3, 1, 0},    // a tall map, rows narrower than a vector
	{1, 1, 32, 32, 64, 7, 2, 3},  // the ResNet stem on one image
	{1, 70, 4, 4, 130, 3, 1, 1},  // one image, filters past two groups of 64
	{2, 24, 8, 8, 70, 1, 2, 0},   // a 1x1 stride-2 shortcut on two images
	{4, 9, 3, 3, 17, 3, 1, 1},    // four images of 3x3 maps: blocks that end inside the map
	{1, 480, 3, 3, 20, 3, 1, 1},  // deep enough for the broadcast kernels to take the channels in chunks
	{1, 300, 9, 9, 40, 3, 1, 1},  // and AVX2's wide ones, on a map of 9x9
	{3, 130, 4, 4, 24, 3, 1, 1},  // and on three images
	{1, 3, 40, 40, 8, 3, 1, 1},   // one image of a large map
	{1, 2, 30, 30, 20, 3, 2, 1},  // and with stride 2
	{1, 3, 20, 20, 10, 7, 2, 3},  // a stem of three channels: the broadcast kernels take the window by rows
	{2, 4, 9, 9, 20, 3, 1, 1},    // four channels, two images
}

// convGeomCases are the other geometries: rectangular kernels, strides and paddings,
// dilation and groups (depthwise among them), on the im2col paths of large and small maps.
var convGeomCases = []struct {
	n, cin, h, w, cout int
	g                  kernels.ConvGeom
}{
	{2, 4, 9, 9, 6, kernels.ConvGeom{K: 3, S: 1, P: 2, DH: 2, DW: 2}},                              // dilation 2, the map kept
	{2, 3, 10, 12, 4, kernels.ConvGeom{K: 3, S: 1, P: 1, DH: 2, DW: 3}},                            // dilation per axis
	{3, 8, 7, 7, 6, kernels.ConvGeom{K: 3, S: 1, P: 1, Groups: 2}},                                 // two groups, a small map
	{2, 6, 8, 8, 6, kernels.ConvGeom{K: 3, S: 2, P: 1, Groups: 6}},                                 // depthwise, stride 2
	{2, 4, 6, 6, 8, kernels.ConvGeom{K: 3, S: 1, P: 1, Groups: 4}},                                 // depthwise, two filters per channel
	{2, 16, 12, 12, 16, kernels.ConvGeom{K: 3, S: 1, P: 1, Groups: 16}},                            // depthwise, a large map
	{2, 3, 9, 11, 5, kernels.ConvGeom{KH: 1, KW: 3, S: 1, PW: 1}},                                  // 1x3
	{3, 2, 8, 7, 4, kernels.ConvGeom{KH: 3, KW: 5, SH: 2, SW: 1, PH: 1, PW: 2}},                    // 3x5, stride 2x1
	{2, 3, 17, 9, 4, kernels.ConvGeom{KH: 5, KW: 1, SH: 1, SW: 2, PH: 2}},                          // 5x1, stride 1x2
	{4, 6, 5, 5, 9, kernels.ConvGeom{KH: 2, KW: 3, S: 1, P: 1, DH: 2, Groups: 3}},                  // all of them, a small map
	{2, 4, 20, 18, 8, kernels.ConvGeom{K: 3, SH: 2, SW: 3, PH: 1, PW: 2, DH: 2, DW: 1, Groups: 2}}, // all of them, a large map
	{1, 64, 8, 8, 128, kernels.ConvGeom{K: 3, S: 1, P: 1, Groups: 4}},                              // one image of a deep layer, grouped
	{3, 16, 6, 6, 32, kernels.ConvGeom{K: 1, S: 1, Groups: 4}},                                     // grouped 1x1, as in ResNeXt
	{2, 4, 3, 3, 4, kernels.ConvGeom{K: 3, S: 1, Groups: 2}},                                       // a window over the whole input, grouped
	{2, 2, 5, 5, 3, kernels.ConvGeom{K: 3, S: 1, DH: 2, DW: 2}},                                    // a dilated window over the whole input
	{3, 4, 2, 3, 6, kernels.ConvGeom{K: 3, S: 2, P: 1, DW: 2}},                                     // dilated to a 1x1 map, taps of one column
	{3, 4, 3, 2, 5, kernels.ConvGeom{KH: 3, KW: 2, SH: 2, SW: 1, PH: 1}},                           // 3x2 to a 2x1 map
	{1, 3, 11, 9, 5, kernels.ConvGeom{KH: 3, KW: 5, SH: 2, SW: 1, PH: 2, PW: 1, DH: 2}},            // rows of a window dilated, one image
}

// allConvCases returns every convolution case as a geometry and input and weight shapes.
func allConvCases() (out []struct {
	g      kernels.ConvGeom
	xs, ws []int
}) {
	add := func(g kernels.ConvGeom, n, cin, h, w, cout int) {
		g = g.Norm()
		out = append(out, struct {
			g      kernels.ConvGeom
			xs, ws []int
		}{g, []int{n, cin, h, w}, []int{cout, cin / g.Groups, g.KH, g.KW}})
	}
	for _, c := range convCases {
		add(kernels.ConvGeom{K: c.k, S: c.s, P: c.p}, c.n, c.cin, c.h, c.w, c.cout)
	}
	for _, c := range convGeomCases {
		add(c.g, c.n, c.cin, c.h, c.w, c.cout)
	}
	return out
}

func testConv[T kernels.Float](t *testing.T, impl string) (int, bool) {
	k := kernels.Named[T](impl).Conv
	if k == nil {
		return 0, false
	}
	rng, aux := rand.New(rand.NewPCG(3, 4)), rand.New(rand.NewPCG(13, 14))
	n := 0
	for _, cs := range allConvCases() {
		d := kernels.NewConvDims(cs.g, cs.xs, cs.ws)
		c := fmt.Sprintf("%v %v*%v", cs.g, cs.xs, cs.ws)
		if !k.AcceptsConv(d) {
			// Shapes that only the prepared pass takes, on their own random numbers.
			if pr, ok := k.(kernels.ConvPreparer[T]); ok && pr.AcceptsPreparedConv(d) {
				n++
				x, w, b := random[T](aux, d.N*d.C*d.HW), random[T](aux, d.P*d.K), random[T](aux, d.P)
				testPrepared(t, impl, k, aux, kernels.NewScratch(), d, c, x, w, b)
			}
			continue
		}
		n++
		x, w, b := random[T](rng, d.N*d.C*d.HW), random[T](rng, d.P*d.K), random[T](rng, d.P)
		dy := random[T](rng, d.N*d.P*d.OHW)
		ws := kernels.NewScratch()
		epilogues := []*kernels.Epilogue{nil, {ReLU: true}, bnEpilogue(rng, d.P, false), bnEpilogue(rng, d.P, true)}
		for run := 0; run < 2; run++ { // the second run reuses the buffers and primitives
			for _, ep := range epilogues {
				got, want := random[T](rng, len(dy)), make([]float64, len(dy))
				must(t, k.ConvForward(ws, d, x, w, b, got, ep))
				reference.Conv(d, f64(x), f64(w), f64(b), want)
				applyRef(ep, d, want)
				if e := relErr(got, want); !(e <= tol[T]()) {
					t.Errorf("%s conv forward %s epilogue %+v run %d: relative error %.3g", impl, c, ep, run, e)
				}
			}
			got, want := random[T](rng, len(x)), make([]float64, len(x))
			must(t, k.ConvBackwardData(ws, d, w, dy, got))
			reference.ConvGrad(d, 0, f64(x), f64(w), f64(dy), want)
			if e := relErr(got, want); !(e <= tol[T]()) {
				t.Errorf("%s conv backward data %s run %d: relative error %.3g", impl, c, run, e)
			}
			got, want = random[T](rng, len(w)), make([]float64, len(w))
			must(t, k.ConvBackwardWeights(ws, d, x, dy, got))
			reference.ConvGrad(d, 1, f64(x), f64(w), f64(dy), want)
			if e := relErr(got, want); !(e <= tol[T]()) {
				t.Errorf("%s conv backward weights %s run %d: relative error %.3g", impl, c, run, e)
			}
		}
		// Their own random numbers: the other checks' inputs stay as they were.
		testPrepared(t, impl, k, aux, ws, d, c, x, w, b)
		testRuns(t, impl, k, aux, d, c, w, b)
		// A NaN in the input reaches every output whose window holds it, through the ReLU.
		xn := slices.Clone(x)
		xn[len(xn)/2] = T(math.NaN())
		got, want := make([]T, len(dy)), make([]float64, len(dy))
		must(t, k.ConvForward(ws, d, xn, w, b, got, &kernels.Epilogue{ReLU: true}))
		reference.Conv(d, f64(xn), f64(w), f64(b), want)
		applyRef(&kernels.Epilogue{ReLU: true}, d, want)
		if e := relErr(got, want); !(e <= tol[T]()) {
			t.Errorf("%s conv forward %s with a NaN, ReLU: relative error %.3g (NaN where the reference has none, or none where it has)", impl, c, e)
		}
	}
	return n, true
}

// testRuns runs the three passes within numbered runs (kernels.Scratch.Run), in which a
// kernel may reuse what an earlier one of the run derived from the same map or weights:
// each run's maps and weights are new values in the same buffers (as a training step's
// update leaves them), which the next run must not take for the last's.
func testRuns[T kernels.Float](t *testing.T, impl string, k kernels.Conv[T], rng *rand.Rand, d kernels.ConvDims, c string, w0, b []T) {
	ws := kernels.NewScratch()
	x, dy, w := make([]T, d.N*d.C*d.HW), make([]T, d.N*d.P*d.OHW), slices.Clone(w0)
	y, dx, dw := make([]T, len(dy)), make([]T, len(x)), make([]T, len(w))
	for run := uint64(1); run <= 3; run++ {
		ws.Run = run
		copy(x, random[T](rng, len(x)))
		copy(dy, random[T](rng, len(dy)))
		copy(w, random[T](rng, len(w)))
		wantY, wantDX, wantDW := make([]float64, len(y)), make([]float64, len(dx)), make([]float64, len(dw))
		reference.Conv(d, f64(x), f64(w), f64(b), wantY)
		reference.ConvGrad(d, 0, f64(x), f64(w), f64(dy), wantDX)
		reference.ConvGrad(d, 1, f64(x), f64(w), f64(dy), wantDW)
		must(t, k.ConvForward(ws, d, x, w, b, y, nil))
		// The weight gradient between the other two, then last: it shares x with the forward
		// pass and dy with the input gradient, whichever ran first.
		if run%2 == 1 {
			must(t, k.ConvBackwardWeights(ws, d, x, dy, dw))
			must(t, k.ConvBackwardData(ws, d, w, dy, dx))
		} else {
			must(t, k.ConvBackwardData(ws, d, w, dy, dx))
			must(t, k.ConvBackwardWeights(ws, d, x, dy, dw))
		}
		for _, r := range []struct {
			what string
			got  []T
			want []float64
		}{{"forward", y, wantY}, {"backward data", dx, wantDX}, {"backward weights", dw, wantDW}} {
			if e := relErr(r.got, r.want); !(e <= tol[T]()) {
				t.Errorf("%s conv %s %s in run %d: relative error %.3g", impl, r.what, c, run, e)
			}
		}
	}
	// Maps in new buffers at every run (what an operation that makes a new value each run
	// gives): what is kept of them must not pile up.
	for run := uint64(4); run <= 12; run++ {
		ws.Run = run
		x, dy := random[T](rng, len(x)), random[T](rng, len(dy))
		must(t, k.ConvForward(ws, d, x, w, b, y, nil))
		must(t, k.ConvBackwardWeights(ws, d, x, dy, dw))
	}
	kept := 0
	ws.Forget(func(_, _ any) bool { kept++; return false })
	if limit := 4 * 2 * kernels.Workers(); kept > limit {
		t.Errorf("%s conv %s: %d maps kept after runs on new buffers, want at most %d", impl, c, kept, limit)
	}
}

// testPrepared checks a ConvPreparer's prepared forward pass against the reference, with
// every epilogue, after the weights and bias it was prepared from have changed.
func testPrepared[T kernels.Float](t *testing.T, impl string, k kernels.Conv[T], rng *rand.Rand, ws *kernels.Scratch, d kernels.ConvDims, c string, x, w, b []T) {
	pr, ok := k.(kernels.ConvPreparer[T])
	if !ok {
		return
	}
	for _, ep := range []*kernels.Epilogue{nil, {ReLU: true}, bnEpilogue(rng, d.P, false), bnEpilogue(rng, d.P, true)} {
		for _, bias := range [][]T{nil, b} {
			want := make([]float64, d.N*d.P*d.OHW)
			var b64 []float64
			if bias != nil {
				b64 = f64(bias)
			}
			reference.Conv(d, f64(x), f64(w), b64, want)
			applyRef(ep, d, want)
			wc, bc := slices.Clone(w), slices.Clone(bias)
			p, err := pr.PrepareConv(d, wc, bc, ep)
			must(t, err)
			for i := range wc {
				wc[i] = 7
			}
			for i := range bc {
				bc[i] = 7
			}
			if ep != nil && ep.Mean != nil {
				ep.Mean[0] += 100
			}
			for run := 0; run < 2; run++ {
				got := random[T](rng, len(want))
				must(t, p.Forward(ws, x, got))
				if e := relErr(got, want); !(e <= tol[T]()) {
					t.Errorf("%s prepared conv forward %s bias %v epilogue %+v run %d: relative error %.3g", impl, c, bias != nil, ep, run, e)
				}
			}
			if bp, ok := p.(kernels.BlockedConv[float32]); ok {
				testBlockedConv(t, impl, bp, ws, d, c, any(x).([]float32), want, ep == nil || !ep.ReLU)
			}
			if ep == nil || !ep.ReLU {
				testResidual(t, impl, p, rng, ws, c, x, want)
			}
			if ep != nil && ep.Mean != nil {
				ep.Mean[0] -= 100
			}
		}
	}
}

// testResidual checks p's pass followed by a residual sum and a ReLU or not (kernels.Residual)
// against want, the reference's output of x before them, plus the residual, through the ReLU
// as the ReLU kernels have it (NaN kept; the residual holds some).
func testResidual[T kernels.Float](t *testing.T, impl string, p kernels.PreparedConv[T], rng *rand.Rand, ws *kernels.Scratch, c string, x []T, want []float64) {
	t.Helper()
	r := random[T](rng, len(want))
	r[len(r)/2] = T(math.NaN())
	for _, relu := range []bool{false, true} {
		sum := make([]float64, len(want))
		for i, w := range want {
			sum[i] = w + float64(r[i])
			if relu && !(sum[i] > 0 || math.IsNaN(sum[i])) {
				sum[i] = 0
			}
		}
		got := random[T](rng, len(want))
		must(t, kernels.Residual(p, relu).ForwardResidual(ws, x, r, got))
		if !math.IsNaN(float64(got[len(got)/2])) {
			t.Errorf("%s prepared conv %s with a residual, ReLU %v: the residual's NaN gives %v", impl, c, relu, got[len(got)/2])
		}
		got[len(got)/2], sum[len(sum)/2] = 0, 0
		if e := relErr(got, sum); !(e <= tol[T]()) {
			t.Errorf("%s prepared conv %s with a residual, ReLU %v: relative error %.3g", impl, c, relu, e)
		}
	}
}

// testBlockedConv checks each pass of p with its input, its output or both in the channel-
// blocked layout (or channels last) against want, the reference's output of x; Blocked must
// refuse the maps whose channels are not whole blocks.
// With residual (p has no ReLU of its own), the pass with a residual sum in the blocked
// layout is checked too.
func testBlockedConv(t *testing.T, impl string, p kernels.BlockedConv[float32], ws *kernels.Scratch, d kernels.ConvDims, c string, x []float32, want []float64, residual bool) {
	t.Helper()
	b := p.ChannelBlock()
	if b == 0 {
		return
	}
	bx, by := kernels.BlockOf(b, d.C), kernels.BlockOf(b, d.P) // the input's and output's
	xb := make([]float32, len(x))
	if d.C%bx == 0 {
		kernels.ToBlocked(x, xb, d.N, d.C, d.HW, bx)
	}
	for _, io := range [][2]bool{{true, false}, {false, true}, {true, true}} {
		in, out := io[0], io[1]
		bp, err := p.Blocked(in, out)
		if refuse := in && d.C%bx != 0 || out && d.P%by != 0; refuse || err != nil {
			if refuse != (err != nil) {
				t.Errorf("%s prepared conv %s blocked in %v out %v: error %v, want one: %v", impl, c, in, out, err, refuse)
			}
			continue
		}
		src := x
		if in {
			src = xb
		}
		got := make([]float32, len(want))
		for i := range got {
			got[i] = float32(math.NaN())
		}
		must(t, bp.Forward(ws, src, got))
		if out {
			plain := make([]float32, len(got))
			kernels.FromBlocked(got, plain, d.N, d.P, d.OHW, by)
			got = plain
		}
		if e := relErr(got, want); !(e <= tol[float32]()) {
			t.Errorf("%s prepared conv forward %s blocked in %v out %v: relative error %.3g", impl, c, in, out, e)
		}
		if residual && out {
			r, rb, sum := make([]float32, len(want)), make([]float32, len(want)), make([]float64, len(want))
			for i := range r {
				r[i] = float32(i%7) - 3
				sum[i] = max(want[i]+float64(r[i]), 0)
			}
			kernels.ToBlocked(r, rb, d.N, d.P, d.OHW, by)
			yb, y := make([]float32, len(want)), make([]float32, len(want))
			must(t, kernels.Residual(bp, true).ForwardResidual(ws, src, rb, yb))
			kernels.FromBlocked(yb, y, d.N, d.P, d.OHW, by)
			if e := relErr(y, sum); !(e <= tol[float32]()) {
				t.Errorf("%s prepared conv forward %s blocked in %v out %v with a residual: relative error %.3g", impl, c, in, out, e)
			}
		}
	}
}

// bnEpilogue returns an inference BatchNorm as a convolution applies it, with a ReLU or not.
func bnEpilogue(rng *rand.Rand, p int, relu bool) *kernels.Epilogue {
	ep := &kernels.Epilogue{Mean: make([]float64, p), A: make([]float64, p), Shift: make([]float64, p), ReLU: relu}
	for q := range p {
		ep.Mean[q], ep.A[q], ep.Shift[q] = rng.Float64()-0.5, 0.5+rng.Float64(), rng.Float64()-0.5
	}
	return ep
}

// applyRef applies ep to the reference's output as the reference implementation does.
func applyRef[T kernels.Float](ep *kernels.Epilogue, d kernels.ConvDims, y []T) {
	if ep == nil {
		return
	}
	for o, v := range y {
		q := o / d.OHW % d.P
		if ep.Mean != nil {
			v = T((float64(v)-ep.Mean[q])*ep.A[q] + ep.Shift[q])
		}
		if ep.ReLU {
			v = max(v, 0)
		}
		y[o] = v
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// poolCases are the windows and map sizes every pooling is tried on.
var poolCases = []struct {
	g    kernels.ConvGeom
	h, w int
}{
	{kernels.ConvGeom{K: 2, S: 2}, 8, 8}, {kernels.ConvGeom{K: 2, S: 2}, 7, 7}, {kernels.ConvGeom{K: 2, S: 2}, 6, 5},
	{kernels.ConvGeom{K: 2, S: 2}, 28, 28}, {kernels.ConvGeom{K: 2, S: 2}, 10, 10}, {kernels.ConvGeom{K: 2, S: 2}, 3, 70},
	{kernels.ConvGeom{K: 2, S: 2}, 64, 33}, {kernels.ConvGeom{K: 3, S: 2, P: 1}, 9, 8},
	{kernels.ConvGeom{K: 3, S: 1, P: 1}, 5, 5}, {kernels.ConvGeom{K: 3, S: 3}, 10, 11}, {kernels.ConvGeom{K: 3, S: 2, P: 1}, 112, 112},
	// Rectangular windows, and ceil mode: the last window runs past the input (and its
	// padding), or would start in the right padding and is dropped.
	{kernels.ConvGeom{KH: 3, KW: 2, SH: 2, SW: 1}, 9, 8}, {kernels.ConvGeom{KH: 1, KW: 3, SH: 1, SW: 3, PW: 1}, 4, 10},
	{kernels.ConvGeom{K: 2, S: 2, Ceil: true}, 7, 7}, {kernels.ConvGeom{K: 2, S: 2, Ceil: true}, 8, 8},
	{kernels.ConvGeom{K: 3, S: 2, Ceil: true}, 8, 8}, {kernels.ConvGeom{K: 3, S: 2, P: 1, Ceil: true}, 10, 10},
	{kernels.ConvGeom{K: 3, S: 3, Ceil: true}, 10, 11}, {kernels.ConvGeom{K: 2, S: 1, P: 1, Ceil: true}, 5, 5},
	{kernels.ConvGeom{KH: 2, KW: 3, S: 2, P: 1, Ceil: true}, 6, 9}, {kernels.ConvGeom{K: 3, S: 2, P: 1, Ceil: true}, 33, 600},
}

// adaptiveCases are the input and output sizes every adaptive average pooling is tried on:
// windows that overlap, that divide the input evenly, and outputs larger than the input.
var adaptiveCases = [][4]int{{7, 7, 3, 3}, {10, 9, 4, 5}, {5, 5, 7, 7}, {8, 8, 1, 1}, {6, 6, 3, 3}, {1, 13, 1, 4}, {14, 14, 7, 7}}

// poolInput returns planes of x with ties, zeros of both signs and, with nan, a NaN in every
// fifth plane.
func poolInput[T kernels.Float](rng *rand.Rand, n, h, w int, nan bool) []T {
	x := random[T](rng, n*h*w)
	negZero := T(math.Copysign(0, -1))
	for i := range x {
		switch i % 7 {
		case 0:
			x[i] = x[max(i-1, 0)] // ties, which the first maximum must win
		case 3:
			x[i] = negZero
		case 5:
			x[i] = 0
		}
		if i%11 == 0 {
			x[i] = -x[i] // negative windows: the maximum of mixed zeros
		}
	}
	if nan {
		for pl := 0; pl < n; pl += 5 {
			x[pl*h*w+(h*w)/2] = T(math.NaN())
		}
	}
	return x
}

func testPool[T kernels.Float](t *testing.T, impl string) (int, bool) {
	k := kernels.Named[T](impl).Pool
	if k == nil {
		return 0, false
	}
	ref := kernels.Named[T]("reference").Pool
	rng := rand.New(rand.NewPCG(5, 6))
	n := 0
	const planes = 11
	var all []kernels.PoolDims
	for _, c := range poolCases {
		for _, mode := range []kernels.PoolMode{kernels.PoolMax, kernels.PoolAvg, kernels.PoolAvgExclusive} {
			all = append(all, kernels.NewPoolDims(c.g, mode, []int{1, planes, c.h, c.w}))
		}
	}
	for _, c := range adaptiveCases {
		all = append(all, kernels.NewAdaptivePoolDims(c[2], c[3], []int{1, planes, c[0], c[1]}))
	}
	for _, d := range all {
		if !k.AcceptsPool(d) {
			continue
		}
		n++
		c := fmt.Sprintf("%v %v %dx%d to %dx%d", d.G, d.Mode, d.H, d.W, d.OH, d.OW)
		if d.Mode == kernels.PoolAdaptiveAvg {
			c = fmt.Sprintf("%v %dx%d to %dx%d", d.Mode, d.H, d.W, d.OH, d.OW)
		}
		// Forward with NaN: the maximum and the averages keep it; to the bit otherwise.
		x := poolInput[T](rng, planes, d.H, d.W, true)
		got, want := random[T](rng, planes*d.OH*d.OW), make([]T, planes*d.OH*d.OW)
		k.PoolForward(d, x, got)
		ref.PoolForward(d, x, want)
		if i, ok := sameBits(got, want); !ok {
			t.Errorf("%s pool %s forward: element %d is %v, want %v", impl, c, i, got[i], want[i])
		}
		// Backward, without NaN (where a NaN's gradient goes is left to each kernel):
		// without and with the ReLU's gradient after it.
		x = poolInput[T](rng, planes, d.H, d.W, false)
		dy := random[T](rng, planes*d.OH*d.OW)
		relu := poolInput[T](rng, planes, d.H, d.W, false)
		y := make([]T, planes*d.OH*d.OW)
		ref.PoolForward(d, x, y)
		for _, r := range [][]T{nil, relu} {
			for _, yy := range [][]T{nil, y} {
				got, want := random[T](rng, len(x)), make([]T, len(x))
				k.PoolBackward(d, x, yy, dy, got, r)
				ref.PoolBackward(d, x, nil, dy, want, r)
				if i, ok := sameBits(got, want); !ok {
					t.Errorf("%s pool %s backward (ReLU %v, y %v): element %d is %v, want %v", impl, c, r != nil, yy != nil, i, got[i], want[i])
				}
			}
		}
	}
	return n, true
}

// special are the values an element-wise kernel must treat as Go does.
func special[T kernels.Float](n int) []T {
	s := []T{1, -1, 0, T(math.Copysign(0, -1)), T(math.NaN()), T(math.Inf(-1)), T(math.Inf(1)), 1e-40, -1e-40}
	out := make([]T, n)
	for i := range out {
		out[i] = s[i%len(s)] * T(i%5)
	}
	return out
}

func testReLU[T kernels.Float](t *testing.T, impl string) (int, bool) {
	k := kernels.Named[T](impl).ReLU
	if k == nil {
		return 0, false
	}
	ref := kernels.Named[T]("reference").ReLU
	n := 0
	for _, size := range []int{1, 7, 16, 37, 1000} {
		n++
		x, dy := special[T](size), special[T](size + 3)[3:]
		got, want := make([]T, size), make([]T, size)
		k.ReLU(x, got)
		ref.ReLU(x, want)
		if i, ok := sameBits(got, want); !ok {
			t.Errorf("%s relu of %v: %v, want %v", impl, x[i], got[i], want[i])
		}
		inPlace := slices.Clone(x)
		k.ReLU(inPlace, inPlace)
		if i, ok := sameBits(inPlace, want); !ok {
			t.Errorf("%s relu in place of %v: %v, want %v", impl, x[i], inPlace[i], want[i])
		}
		gotDx, wantDx := random[T](rand.New(rand.NewPCG(1, 1)), size), make([]T, size)
		k.ReLUBackward(want, dy, gotDx)
		ref.ReLUBackward(want, dy, wantDx)
		if i, ok := sameBits(gotDx, wantDx); !ok {
			t.Errorf("%s relu gradient at %v, dy %v: %v, want %v", impl, want[i], dy[i], gotDx[i], wantDx[i])
		}
		// The residual sum, with and without the ReLU, into a new vector and in place.
		for _, relu := range []bool{false, true} {
			got, want := random[T](rand.New(rand.NewPCG(2, 2)), size), make([]T, size)
			k.Add(x, dy, got, relu)
			ref.Add(x, dy, want, relu)
			if i, ok := sameBits(got, want); !ok {
				t.Errorf("%s add (relu %v) of %v and %v: %v, want %v", impl, relu, x[i], dy[i], got[i], want[i])
			}
			inPlace := slices.Clone(x)
			k.Add(inPlace, dy, inPlace, relu)
			if i, ok := sameBits(inPlace, want); !ok {
				t.Errorf("%s add (relu %v) in place of %v and %v: %v, want %v", impl, relu, x[i], dy[i], inPlace[i], want[i])
			}
		}
	}
	return n, true
}

func testChannelSum[T kernels.Float](t *testing.T, impl string) (int, bool) {
	k := kernels.Named[T](impl).ChannelSum
	if k == nil {
		return 0, false
	}
	ref := kernels.Named[float64]("reference").ChannelSum
	rng := rand.New(rand.NewPCG(7, 8))
	n := 0
	for _, s := range [][3]int{{64, 6, 784}, {64, 16, 100}, {3, 5, 25}, {64, 120, 1}, {7, 3, 63}, {2, 4, 16}, {1, 1, 17}} {
		if !k.AcceptsChannelSum(s[0], s[1], s[2]) {
			continue
		}
		n++
		dy := random[T](rng, s[0]*s[1]*s[2])
		got, want := random[T](rng, s[1]), make([]float64, s[1])
		c0, c1 := s[1]/3, s[1] // the channels [c0,c1) only
		k.ChannelSum(s[0], s[1], s[2], c0, c1, dy, got)
		ref.ChannelSum(s[0], s[1], s[2], c0, c1, f64(dy), want)
		if e := relErr(got[c0:], want[c0:]); !(e <= tol[T]()) {
			t.Errorf("%s channel sum %v: relative error %.3g", impl, s, e)
		}
	}
	return n, true
}

func testAxpy[T kernels.Float](t *testing.T, impl string) (int, bool) {
	k := kernels.Named[T](impl).Axpy
	if k == nil {
		return 0, false
	}
	ref := kernels.Named[T]("reference").Axpy
	rng := rand.New(rand.NewPCG(9, 10))
	n := 0
	for _, size := range []int{1, 15, 16, 17, 1000, 1 << 14} {
		n++
		x, y := random[T](rng, size), random[T](rng, size)
		got, want := slices.Clone(y), slices.Clone(y)
		k.Axpy(-0.1, x, got)
		ref.Axpy(-0.1, x, want)
		if i, ok := sameBits(got, want); !ok {
			t.Errorf("%s axpy of %d: element %d is %v, want %v (each product is rounded before the add)", impl, size, i, got[i], want[i])
		}
	}
	return n, true
}
