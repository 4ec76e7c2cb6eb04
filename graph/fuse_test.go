package graph

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestFusedReLU checks each kernel that can apply a following ReLU: its fused form computes
// exactly max(unfused, 0), and Fuse offers it only after a ReLU.
func TestFusedReLU(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	rnd := func(shape ...int) *tensor.Dense { return randDense(rng, -1, 1, shape...) }
	x := rnd(3, 4, 5, 5)
	ch := func() *tensor.Dense { return rnd(4) }
	rvar := rnd(4)
	for i, v := range rvar.Data().([]float64) {
		rvar.Data().([]float64)[i] = v*v + 0.5
	}
	for _, c := range []struct {
		k  reluFuser
		in []gorgonia.Value
	}{
		{batchNorm{training: false, eps: 1e-5, momentum: 0.9}, []gorgonia.Value{x, ch(), ch(), ch(), rvar}},
		{batchNorm{training: true, eps: 1e-5, momentum: 0.9}, []gorgonia.Value{x, ch(), ch(), ch(), rvar.Clone().(*tensor.Dense)}},
		{add{rank: 4}, []gorgonia.Value{x, rnd(3, 4, 5, 5)}},
	} {
		plain, err := op{c.k}.Do(c.in...)
		if err != nil {
			t.Fatal(err)
		}
		f, ok := Fuse(op{c.k}, op{relu{rank: 4}}, 0)
		if !ok {
			t.Fatalf("%v: not fused", c.k)
		}
		fused, err := f.Do(c.in...)
		if err != nil {
			t.Fatal(err)
		}
		neg := 0
		for i, v := range plain.Data().([]float64) {
			if v < 0 {
				neg++
			}
			if want := max(v, 0); fused.Data().([]float64)[i] != want {
				t.Fatalf("%v: element %d is %v, want %v", f, i, fused.Data().([]float64)[i], want)
			}
		}
		if neg == 0 {
			t.Errorf("%v: no negative values to clip", c.k)
		}
		if _, ok := Fuse(op{c.k}, op{biasGrad{rank: 4}}, 0); ok {
			t.Errorf("%v fused with a BiasGrad", c.k)
		}
	}
	if _, ok := Fuse(op{relu{rank: 4}}, op{relu{rank: 4}}, 0); ok {
		t.Error("a ReLU fused into a ReLU")
	}
}

// TestFusedConv checks a convolution fused with the inference BatchNorm and the ReLU after it
// (or the ReLU alone) against the operations run one after another, on the Go kernels and
// (float32, in the dnnl build) on oneDNN's, where the BatchNorm is folded into the weights.
func TestFusedConv(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		for _, c := range []struct {
			n, cin, h, cout int
			bias, bn        bool
		}{
			{4, 3, 8, 5, true, true},    // big maps, small weights: oneDNN in the dnnl build
			{2, 16, 2, 32, false, true}, // small maps: the Go kernels
			{1, 8, 6, 16, false, true},  // one image
			{4, 3, 8, 5, true, false},   // a ReLU alone
			{2, 16, 2, 32, false, false},
		} {
			conv := convFast{g: convGeom{K: 3, S: 1, P: 1}, bias: c.bias, ws: newScratch()}
			bn := batchNorm{eps: 1e-5, momentum: 0.9}
			cast := func(v *tensor.Dense) gorgonia.Value {
				if dt == tensor.Float64 {
					return v
				}
				f := make([]float32, v.Shape().TotalSize())
				for i, x := range v.Data().([]float64) {
					f[i] = float32(x)
				}
				return tensor.New(tensor.WithShape(v.Shape()...), tensor.WithBacking(f))
			}
			rvar := randDense(rng, 0.5, 2, c.cout)
			in := []gorgonia.Value{cast(randDense(rng, -1, 1, c.n, c.cin, c.h, c.h)), cast(randDense(rng, -1, 1, c.cout, c.cin, 3, 3))}
			if c.bias {
				in = append(in, cast(randDense(rng, -1, 1, c.cout)))
			}
			bnIn := []gorgonia.Value{cast(randDense(rng, 0.5, 2, c.cout)), cast(randDense(rng, -1, 1, c.cout)), cast(randDense(rng, -1, 1, c.cout)), cast(rvar)}

			y, err := op{conv}.Do(in...)
			if err != nil {
				t.Fatal(err)
			}
			var f gorgonia.Op = op{conv}
			if c.bn {
				y, err = op{bn}.Do(append([]gorgonia.Value{y}, bnIn...)...)
				if err != nil {
					t.Fatal(err)
				}
				var ok bool
				if f, ok = Fuse(f, (op{bn}), 0); !ok {
					t.Fatal("a convolution and an inference BatchNorm did not fuse")
				}
				in = append(in, bnIn...)
			}
			want, err := op{relu{rank: 4}}.Do(y)
			if err != nil {
				t.Fatal(err)
			}
			f, ok := Fuse(f, op{relu{rank: 4}}, 0)
			if !ok {
				t.Fatalf("%v and a ReLU did not fuse", f)
			}
			got, err := f.Do(in...)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Shape().Eq(want.Shape()) {
				t.Fatalf("shape %v, want %v", got.Shape(), want.Shape())
			}
			// The Go kernels apply the same arithmetic in the same order: equal to the last
			// bit. oneDNN's fold the BatchNorm into the weights: equal to float32 rounding.
			g, w := make([]float64, want.Shape().TotalSize()), make([]float64, want.Shape().TotalSize())
			for i := range g {
				g[i], w[i] = at(got, i), at(want, i)
			}
			tol := 0.0
			if dt == tensor.Float32 {
				tol = 1e-6
			}
			if e := relErr(g, w); e > tol {
				t.Errorf("%v %+v: relative error %.3g, want at most %g", dt, c, e, tol)
			}
		}
	}
	if _, ok := Fuse(op{convFast{g: convGeom{K: 3, S: 1}}}, op{batchNorm{training: true}}, 0); ok {
		t.Error("a convolution fused with a training-mode BatchNorm")
	}
}

func at(v gorgonia.Value, i int) float64 {
	switch d := v.Data().(type) {
	case []float32:
		return float64(d[i])
	default:
		return d.([]float64)[i]
	}
}

// TestFusedPoolGradReLU checks a pooling's gradient fused with the gradient of the ReLU before
// the pooling against the two run one after the other.
func TestFusedPoolGradReLU(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, k := range []poolFastGrad{
		{convGeom{K: 2, S: 2}, poolMax}, {convGeom{K: 3, S: 2, P: 1}, poolMax}, {convGeom{K: 2, S: 2}, poolAvg},
	} {
		y := randDense(rng, -1, 0.2, 2, 3, 8, 8) // the ReLU's output (mostly zeros), as the pooling's input
		for i, v := range y.Data().([]float64) {
			y.Data().([]float64)[i] = max(v, 0)
		}
		oh := k.g.out(8)
		dy := randDense(rng, -1, 1, 2, 3, oh, oh)
		g, err := op{k}.Do(y, dy)
		if err != nil {
			t.Fatal(err)
		}
		want, err := op{reluGrad{rank: 4}}.Do(y, g)
		if err != nil {
			t.Fatal(err)
		}
		f, ok := Fuse(op{k}, op{reluGrad{rank: 4}}, 1)
		if !ok {
			t.Fatalf("%v: not fused", k)
		}
		got, err := f.Do(y, dy, y)
		if err != nil {
			t.Fatal(err)
		}
		zeroed := 0
		for i, w := range want.Data().([]float64) {
			if got.Data().([]float64)[i] != w {
				t.Fatalf("%v: element %d is %v, want %v", f, i, got.Data().([]float64)[i], w)
			}
			if w == 0 && g.Data().([]float64)[i] != 0 {
				zeroed++
			}
		}
		if zeroed == 0 {
			t.Errorf("%v: the ReLU's gradient zeroed nothing", k)
		}
		if _, ok := Fuse(op{k}, op{reluGrad{rank: 4}}, 0); ok {
			t.Errorf("%v fused as the ReLU gradient's first input", k)
		}
	}
}

// TestPoolPathsAgree checks the fast pooling kernels (forward and gradient, with and without
// a ReLU's gradient after) against the hand-written loops, on even and odd map sizes.
func TestPoolPathsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, c := range []struct {
		g    convGeom
		h, w int
	}{
		{convGeom{K: 2, S: 2}, 8, 8}, {convGeom{K: 2, S: 2}, 7, 7}, {convGeom{K: 2, S: 2}, 6, 5},
		{convGeom{K: 3, S: 2, P: 1}, 9, 8}, {convGeom{K: 3, S: 1, P: 1}, 5, 5},
	} {
		s := tensor.Shape{2, 3, c.h, c.w}
		x := randDense(rng, -1, 1, s...).Data().([]float64)
		for i := range x { // ties, which the first maximum must win
			if i%5 == 0 {
				x[i] = x[max(i-1, 0)]
			}
		}
		oh, ow := c.g.out(c.h), c.g.out(c.w)
		dy := randDense(rng, -1, 1, 2, 3, oh, ow).Data().([]float64)
		y, want := make([]float64, len(dy)), make([]float64, len(dy))
		pool(c.g, poolMax, s, x, nil, y, nil, nil)
		naivePool(c.g, true, s, x, nil, want, nil)
		if e := relErr(y, want); e != 0 {
			t.Errorf("%v %dx%d forward: relative error %g", c.g, c.h, c.w, e)
		}
		dx, wantDx := make([]float64, len(x)), make([]float64, len(x))
		for i := range dx {
			dx[i] = 99 // every element must be written
		}
		pool(c.g, poolMax, s, x, dy, nil, dx, nil)
		naivePool(c.g, true, s, x, dy, nil, wantDx)
		if e := relErr(dx, wantDx); e != 0 {
			t.Errorf("%v %dx%d gradient: relative error %g", c.g, c.h, c.w, e)
		}
		pool(c.g, poolMax, s, x, dy, nil, dx, x) // x as the ReLU's output
		for i, v := range wantDx {
			if !(x[i] > 0) {
				v = 0
			}
			if dx[i] != v {
				t.Fatalf("%v %dx%d gradient with the ReLU's: element %d is %v, want %v", c.g, c.h, c.w, i, dx[i], v)
			}
		}
	}
}

// TestPoolFloat32 checks the float32 2x2 pooling (the direct kernels in the dnnl build)
// against the Go kernels plane by plane, to the last bit: forward and gradient, maximum and
// average, with and without the ReLU's gradient, on rows longer than one vector, odd sizes,
// ties and NaN.
func TestPoolFloat32(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	g := convGeom{K: 2, S: 2}
	same := func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) || a != a && b != b }
	for _, c := range []struct{ h, w int }{{28, 28}, {10, 10}, {7, 7}, {6, 5}, {4, 70}, {3, 33}} {
		for _, mode := range []poolMode{poolMax, poolAvg} {
			s := tensor.Shape{3, 5, c.h, c.w}
			x := make([]float32, s.TotalSize())
			for i := range x {
				x[i] = float32(rng.Float64()*2 - 1)
				switch {
				case i%5 == 0:
					x[i] = x[max(i-1, 0)] // ties, which the first maximum must win
				case i%7 == 3:
					x[i] = float32(math.Copysign(0, -1)) // zeros of both signs: +0 is the larger
				case i%11 == 4:
					x[i] = 0
				}
			}
			if c.w >= 4 { // windows whose maximum is a zero, of either sign
				nz := float32(math.Copysign(0, -1))
				copy(x[0:4], []float32{nz, 0, -1, nz})
				copy(x[c.w:c.w+4], []float32{nz, nz, 0, -2})
				copy(x[2*c.w:2*c.w+2], []float32{nz, nz})
				copy(x[3*c.w:3*c.w+2], []float32{nz, -1})
			}
			x[7] = float32(math.NaN())
			relu := make([]float32, len(x))
			for i, v := range x {
				relu[i] = max(v, 0)
			}
			oh, ow := c.h/2, c.w/2
			dy := make([]float32, 15*oh*ow)
			for i := range dy {
				dy[i] = float32(rng.Float64()*2 - 1)
			}
			y, wantY := make([]float32, len(dy)), make([]float32, len(dy))
			pool(g, mode, s, x, nil, y, nil, nil)
			for pl := range 15 {
				poolPlane(g, mode, c.h, c.w, x[pl*c.h*c.w:(pl+1)*c.h*c.w], wantY[pl*oh*ow:(pl+1)*oh*ow])
			}
			for i := range y {
				if !same(y[i], wantY[i]) {
					t.Fatalf("%v %v forward: element %d is %v, want %v", s, mode, i, y[i], wantY[i])
				}
			}
			for _, r := range [][]float32{nil, relu} {
				dx, want := make([]float32, len(x)), make([]float32, len(x))
				for i := range dx {
					dx[i] = 99 // every element must be written
				}
				pool(g, mode, s, x, dy, nil, dx, r)
				for pl := range 15 {
					xp, dyp, wp := x[pl*c.h*c.w:(pl+1)*c.h*c.w], dy[pl*oh*ow:(pl+1)*oh*ow], want[pl*c.h*c.w:(pl+1)*c.h*c.w]
					poolPlaneGrad(g, mode, c.h, c.w, xp, dyp, wp)
					for i := range wp {
						if r != nil && !(r[pl*c.h*c.w+i] > 0) {
							wp[i] = 0
						}
					}
				}
				for i := range dx {
					if !same(dx[i], want[i]) {
						t.Fatalf("%v %v gradient (ReLU %v): element %d is %v, want %v", s, mode, r != nil, i, dx[i], want[i])
					}
				}
			}
		}
	}
}

// TestConvReLUKeepsNaN: a fused convolution and ReLU passes NaN on, on every kernel path, so
// that a diverged run shows.
func TestConvReLUKeepsNaN(t *testing.T) {
	for _, c := range []struct{ cin, h, cout, k, p int }{{1, 32, 6, 5, 0}, {6, 14, 16, 5, 0}, {4, 8, 8, 3, 1}} {
		g := convGeom{K: c.k, S: 1, P: c.p}
		xs, wsh := tensor.Shape{2, c.cin, c.h, c.h}, tensor.Shape{c.cout, c.cin, c.k, c.k}
		d := newConvDims(g, xs, wsh)
		x, w := make([]float32, xs.TotalSize()), make([]float32, wsh.TotalSize())
		for i := range w {
			w[i] = -1 // every output negative but the NaN ones
		}
		for i := range x {
			x[i] = 1
		}
		x[0] = float32(math.NaN())
		y := make([]float32, 2*c.cout*d.ohw)
		if err := convForward(newScratch(), d, x, w, nil, y, &epilogue{relu: true}); err != nil {
			t.Fatal(err)
		}
		nan := 0
		for i, v := range y {
			switch {
			case v != v:
				nan++
			case v != 0:
				t.Fatalf("%+v: element %d is %v, want 0 or NaN", c, i, v)
			}
		}
		if want := c.cout * (c.p + 1) * (c.p + 1); nan != want { // the windows over the first pixel
			t.Errorf("%+v: %d NaN outputs, want %d", c, nan, want)
		}
	}
}

// TestReLUEpilogue: the ReLU a convolution applies as it writes (the direct kernel in the dnnl
// build) gives Go's max(v, 0) to the bit: NaN kept, -0 made +0.
func TestReLUEpilogue(t *testing.T) {
	negZero := float32(math.Copysign(0, -1))
	y := []float32{1, -1, 0, negZero, float32(math.NaN()), float32(math.Inf(-1)), float32(math.Inf(1)), 1e-40, -1e-40}
	for len(y) < 37 { // past a vector's length, with a tail
		y = append(y, float32(len(y))-18)
	}
	want := make([]float32, len(y))
	for i, v := range y {
		want[i] = max(v, 0)
	}
	d := convDims{p: 1, ohw: len(y)}
	applyEpilogue(&epilogue{relu: true}, d, y)
	for i := range y {
		if math.Float32bits(y[i]) != math.Float32bits(want[i]) && !(y[i] != y[i] && want[i] != want[i]) {
			t.Errorf("element %d: %v (bits %#x), want %v (bits %#x)", i, y[i], math.Float32bits(y[i]), want[i], math.Float32bits(want[i]))
		}
	}
}

// TestReLUFloat32: the float32 ReLU and its gradient (the direct kernels in the dnnl build)
// give the Go loops' results to the bit, NaN, zeros of both signs and a tail past the last
// vector included.
func TestReLUFloat32(t *testing.T) {
	negZero := float32(math.Copysign(0, -1))
	nan := float32(math.NaN())
	special := []float32{1, -1, 0, negZero, nan, float32(math.Inf(-1)), float32(math.Inf(1)), 1e-40, -1e-40}
	x, dy := make([]float32, 1000), make([]float32, 1000)
	for i := range x {
		x[i] = special[i%len(special)] * float32(i%5)
		dy[i] = special[(i/3)%len(special)]
	}
	y, dx := make([]float32, len(x)), make([]float32, len(x))
	reluForward(x, y)
	reluBackward(y, dy, dx)
	bits := func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) || a != a && b != b }
	for i, v := range x {
		want := max(v, 0)
		if !bits(y[i], want) {
			t.Fatalf("ReLU of %v: %v, want %v", v, y[i], want)
		}
		var g float32
		if want > 0 {
			g = dy[i]
		}
		if !bits(dx[i], g) {
			t.Fatalf("ReLU gradient at %v, dy %v: %v, want %v", want, dy[i], dx[i], g)
		}
	}
}
