package graph

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/kernels"
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
		k  kernel
		in []gorgonia.Value
	}{
		{batchNorm[float64]{BatchNormSpec: kernels.BatchNormSpec{Training: false, Eps: 1e-5, Momentum: 0.9}, rank: 4}, []gorgonia.Value{x, ch(), ch(), ch(), rvar}},
		{batchNorm[float64]{BatchNormSpec: kernels.BatchNormSpec{Training: true, Eps: 1e-5, Momentum: 0.9}, rank: 4}, []gorgonia.Value{x, ch(), ch(), ch(), rvar.Clone().(*tensor.Dense)}},
		{add[float64]{rank: 4}, []gorgonia.Value{x, rnd(3, 4, 5, 5)}},
	} {
		plain, err := op{c.k, tensor.Float64}.Do(c.in...)
		if err != nil {
			t.Fatal(err)
		}
		f, ok := Fuse(op{c.k, tensor.Float64}, op{relu[float64]{rank: 4}, tensor.Float64}, 0)
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
		if _, ok := Fuse(op{c.k, tensor.Float64}, op{biasGrad[float64]{rank: 4}, tensor.Float64}, 0); ok {
			t.Errorf("%v fused with a BiasGrad", c.k)
		}
	}
	if _, ok := Fuse(op{relu[float64]{rank: 4}, tensor.Float64}, op{relu[float64]{rank: 4}, tensor.Float64}, 0); ok {
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
			typ := typedFor(dt)
			conv := typ.conv(convGeom{K: 3, S: 1, P: 1}, c.bias, kernels.NewScratch())
			bn := typ.batchNorm(kernels.BatchNormSpec{Eps: 1e-5, Momentum: 0.9}, 4)
			relu := typ.relu(4)
			cast := func(v *tensor.Dense) gorgonia.Value { return castTo(dt, v) }
			rvar := randDense(rng, 0.5, 2, c.cout)
			in := []gorgonia.Value{cast(randDense(rng, -1, 1, c.n, c.cin, c.h, c.h)), cast(randDense(rng, -1, 1, c.cout, c.cin, 3, 3))}
			if c.bias {
				in = append(in, cast(randDense(rng, -1, 1, c.cout)))
			}
			bnIn := []gorgonia.Value{cast(randDense(rng, 0.5, 2, c.cout)), cast(randDense(rng, -1, 1, c.cout)), cast(randDense(rng, -1, 1, c.cout)), cast(rvar)}

			y, err := op{conv, dt}.Do(in...)
			if err != nil {
				t.Fatal(err)
			}
			var f gorgonia.Op = op{conv, dt}
			if c.bn {
				y, err = op{bn, dt}.Do(append([]gorgonia.Value{y}, bnIn...)...)
				if err != nil {
					t.Fatal(err)
				}
				var ok bool
				if f, ok = Fuse(f, (op{bn, dt}), 0); !ok {
					t.Fatal("a convolution and an inference BatchNorm did not fuse")
				}
				in = append(in, bnIn...)
			}
			want, err := op{relu, dt}.Do(y)
			if err != nil {
				t.Fatal(err)
			}
			f, ok := Fuse(f, op{relu, dt}, 0)
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
	if _, ok := Fuse(op{convFast[float64]{g: convGeom{K: 3, S: 1}}, tensor.Float64}, op{batchNorm[float64]{BatchNormSpec: kernels.BatchNormSpec{Training: true}, rank: 4}, tensor.Float64}, 0); ok {
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
	for _, k := range []poolFastGrad[float64]{
		{g: convGeom{K: 2, S: 2}, mode: kernels.PoolMax}, {g: convGeom{K: 3, S: 2, P: 1}, mode: kernels.PoolMax}, {g: convGeom{K: 2, S: 2}, mode: kernels.PoolAvg},
	} {
		y := randDense(rng, -1, 0.2, 2, 3, 8, 8) // the ReLU's output (mostly zeros), as the pooling's input
		for i, v := range y.Data().([]float64) {
			y.Data().([]float64)[i] = max(v, 0)
		}
		oh := k.g.Out(8)
		dy := randDense(rng, -1, 1, 2, 3, oh, oh)
		pooled, err := op{poolFast[float64](k), tensor.Float64}.Do(y)
		if err != nil {
			t.Fatal(err)
		}
		g, err := op{k, tensor.Float64}.Do(y, pooled, dy)
		if err != nil {
			t.Fatal(err)
		}
		want, err := op{reluGrad[float64]{rank: 4}, tensor.Float64}.Do(y, g)
		if err != nil {
			t.Fatal(err)
		}
		f, ok := Fuse(op{k, tensor.Float64}, op{reluGrad[float64]{rank: 4}, tensor.Float64}, 1)
		if !ok {
			t.Fatalf("%v: not fused", k)
		}
		got, err := f.Do(y, pooled, dy, y)
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
		if _, ok := Fuse(op{k, tensor.Float64}, op{reluGrad[float64]{rank: 4}, tensor.Float64}, 0); ok {
			t.Errorf("%v fused as the ReLU gradient's first input", k)
		}
	}
}

// TestSinkReLU: a max pooling followed by a ReLU (SinkReLU's form) computes, bit for bit, the
// ReLU followed by the pooling, NaN and -0 included, in both element types; SinkReLU moves
// only a ReLU that ends a convolution or an inference BatchNorm, and only past a max pooling.
func TestSinkReLU(t *testing.T) {
	x := make([]float64, 2*5*9*9)
	for i := range x {
		switch i % 17 {
		case 2:
			x[i] = math.NaN()
		case 5:
			x[i] = math.Copysign(0, -1)
		case 9:
			x[i] = 0
		default:
			x[i] = float64((i*29)%53)*0.125 - 4
		}
	}
	for _, g := range []convGeom{{K: 3, S: 2, P: 1}, {K: 2, S: 2}, {K: 3, S: 1, P: 1}} {
		checkSinkReLU(t, g, x)
		x32 := make([]float32, len(x))
		for i, v := range x {
			x32[i] = float32(v)
		}
		checkSinkReLU(t, g, x32)
	}

	g := convGeom{K: 3, S: 2, P: 1}
	maxPool := op{poolFast[float64]{g: g, mode: kernels.PoolMax}, tensor.Float64}
	bn := func(training, relu bool) op {
		return op{batchNorm[float64]{BatchNormSpec: kernels.BatchNormSpec{Training: training, Eps: 1e-5, Momentum: 0.9, ReLU: relu}, rank: 4}, tensor.Float64}
	}
	p, c, ok := SinkReLU(bn(false, true), maxPool, 0)
	if !ok || OpKind(p) != "BatchNorm2D" || OpKind(c) != "Pool2D+ReLU" {
		t.Errorf("inference BatchNorm+ReLU before a max pooling: %v, %v, %v", p, c, ok)
	}
	p, _, ok = SinkReLU(op{convFused[float64]{conv: convFast[float64]{g: g}, bn: true, relu: true}, tensor.Float64}, maxPool, 0)
	if !ok || OpKind(p) != "Conv2D+BatchNorm2D" {
		t.Errorf("convolution+BatchNorm+ReLU: %v, %v", p, ok)
	}
	for name, c := range map[string]struct {
		p, c op
		arg  int
	}{
		"training BatchNorm":   {bn(true, true), maxPool, 0},
		"no ReLU":              {bn(false, false), maxPool, 0},
		"average pooling":      {bn(false, true), op{poolFast[float64]{g: g, mode: kernels.PoolAvg}, tensor.Float64}, 0},
		"not the first input":  {bn(false, true), maxPool, 1},
		"an Add+ReLU":          {op{add[float64]{rank: 4, relu: true}, tensor.Float64}, maxPool, 0},
		"another element type": {bn(false, true), op{poolFast[float32]{g: g, mode: kernels.PoolMax}, tensor.Float32}, 0},
	} {
		if p, c, ok := SinkReLU(c.p, c.c, c.arg); ok {
			t.Errorf("%s: moved: %v, %v", name, p, c)
		}
	}
}

// checkSinkReLU checks the pooling SinkReLU makes of a convolution with a ReLU and a max
// pooling of geometry g against a ReLU then the pooling, on x as [2,5,9,9].
func checkSinkReLU[T kernels.Float](t *testing.T, g convGeom, x []T) {
	t.Helper()
	dt := tensor.Float64
	if _, ok := any(x).([]float32); ok {
		dt = tensor.Float32
	}
	in := tensor.New(tensor.WithShape(2, 5, 9, 9), tensor.WithBacking(x))
	r, err := op{relu[T]{rank: 4}, dt}.Do(in)
	if err != nil {
		t.Fatal(err)
	}
	pool := op{poolFast[T]{g: g, mode: kernels.PoolMax}, dt}
	want, err := pool.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	_, c, ok := SinkReLU(op{convFused[T]{conv: convFast[T]{g: g}, relu: true}, dt}, pool, 0)
	if !ok {
		t.Fatalf("%v %v: not moved", dt, g)
	}
	got, err := c.Do(in)
	if err != nil {
		t.Fatal(err)
	}
	w, h := want.Data().([]T), got.Data().([]T)
	nan, zero := 0, 0
	for i := range w {
		a, b := float64(w[i]), float64(h[i])
		if math.IsNaN(a) {
			nan++
		} else if a == 0 {
			zero++
		}
		if (a != b || math.Signbit(a) != math.Signbit(b)) && !(math.IsNaN(a) && math.IsNaN(b)) {
			t.Fatalf("%v %v: element %d is %v, want %v", c, dt, i, b, a)
		}
	}
	if nan == 0 || zero == 0 {
		t.Errorf("%v %v: %d NaNs and %d zeros among the outputs, want some of each", c, dt, nan, zero)
	}
}

// TestFusedConvResidual checks a convolution (with an inference BatchNorm or not) fused with
// the residual sum after it, whichever input of the sum it is, and its ReLU or not, against
// the operations run one after another; and the same frozen (graph.Freeze), the residual
// then the one input besides the data that it reads at every run.
func TestFusedConvResidual(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		for _, c := range []struct {
			n, cin, h, cout int
			bn              bool
		}{
			{1, 16, 6, 32, true}, // one image: the broadcast kernels, float32
			{4, 3, 8, 16, true},  // a batch: oneDNN in the dnnl build
			{2, 16, 2, 32, false},
		} {
			typ := typedFor(dt)
			conv, bn := typ.conv(convGeom{K: 3, S: 1, P: 1}, false, kernels.NewScratch()), typ.batchNorm(kernels.BatchNormSpec{Eps: 1e-5, Momentum: 0.9}, 4)
			cast := func(v *tensor.Dense) gorgonia.Value { return castTo(dt, v) }
			in := []gorgonia.Value{cast(randDense(rng, -1, 1, c.n, c.cin, c.h, c.h)), cast(randDense(rng, -1, 1, c.cout, c.cin, 3, 3))}
			y, err := op{conv, dt}.Do(in...)
			if err != nil {
				t.Fatal(err)
			}
			var f gorgonia.Op = op{conv, dt}
			if c.bn {
				bnIn := []gorgonia.Value{cast(randDense(rng, 0.5, 2, c.cout)), cast(randDense(rng, -1, 1, c.cout)), cast(randDense(rng, -1, 1, c.cout)), cast(randDense(rng, 0.5, 2, c.cout))}
				if y, err = (op{bn, dt}).Do(append([]gorgonia.Value{y}, bnIn...)...); err != nil {
					t.Fatal(err)
				}
				f, _ = Fuse(f, op{bn, dt}, 0)
				in = append(in, bnIn...)
			}
			r := cast(randDense(rng, -1, 1, y.Shape()...))
			for _, arg := range []int{0, 1} {
				for _, relu := range []bool{false, true} {
					sum := op{add[float64]{rank: 4, relu: relu}, dt}
					if dt == tensor.Float32 {
						sum = op{add[float32]{rank: 4, relu: relu}, dt}
					}
					args := []gorgonia.Value{y, r}
					if arg == 1 {
						args = []gorgonia.Value{r, y}
					}
					want, err := sum.Do(args...)
					if err != nil {
						t.Fatal(err)
					}
					fused, ok := Fuse(f, sum, arg)
					if !ok {
						t.Fatalf("%v and %v did not fuse", f, sum)
					}
					frozen, ok, err := Freeze(fused, in[0].Shape(), append(append([]gorgonia.Value{nil}, in[1:]...), nil))
					if err != nil || !ok {
						t.Fatalf("%v: not frozen: %v", fused, err)
					}
					if !Data(frozen, len(in)) || Data(frozen, 1) {
						t.Errorf("%v: the residual, input %d, is not the data it reads besides its first", frozen, len(in))
					}
					for k, o := range []gorgonia.Op{fused, frozen} {
						got, err := o.Do(append(append([]gorgonia.Value(nil), in...), r)...)
						if err != nil {
							t.Fatal(err)
						}
						g, w := make([]float64, want.Shape().TotalSize()), make([]float64, want.Shape().TotalSize())
						for i := range g {
							g[i], w[i] = at(got, i), at(want, i)
						}
						tol := 0.0
						if dt == tensor.Float32 || k == 1 {
							tol = 1e-6 // the BatchNorm folded into the weights
						}
						if e := relErr(g, w); e > tol {
							t.Errorf("%v %+v argument %d: relative error %.3g, want at most %g", o, c, arg, e, tol)
						}
					}
				}
			}
		}
	}
	withReLU := op{convFused[float64]{conv: convFast[float64]{g: convGeom{K: 3, S: 1, P: 1}}, bn: true, relu: true}, tensor.Float64}
	if _, ok := Fuse(withReLU, op{add[float64]{rank: 4}, tensor.Float64}, 0); ok {
		t.Error("a convolution with a ReLU of its own fused with a residual sum")
	}
}

// castTo returns v (float64) as a value of dt.
func castTo(dt tensor.Dtype, v *tensor.Dense) gorgonia.Value {
	if dt == tensor.Float64 {
		return v
	}
	f := make([]float32, v.Shape().TotalSize())
	for i, x := range v.Data().([]float64) {
		f[i] = float32(x)
	}
	return tensor.New(tensor.WithShape(v.Shape()...), tensor.WithBacking(f))
}
