package graph

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/nndl/cnn/kernels"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func randDense(rng *rand.Rand, lo, hi float64, shape ...int) *tensor.Dense {
	v := make([]float64, tensor.Shape(shape).TotalSize())
	for i := range v {
		v[i] = lo + (hi-lo)*rng.Float64()
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
}

// checkFiniteDifferences fails the test for each differentiated input of k whose gradient
// is further than 1e-6 from central differences (see finiteDifferenceErrors).
func checkFiniteDifferences(t *testing.T, rng *rand.Rand, k diffKernel, in []*tensor.Dense) {
	t.Helper()
	for i, e := range finiteDifferenceErrors(t, rng, k, in) {
		if e > 1e-6 {
			t.Errorf("input %d: relative error %.3g against finite differences", i, e)
		}
	}
}

// bnInputs returns x [2,3,4,5] away from zero mean and unit variance, scale, shift and
// running statistics.
func bnInputs(rng *rand.Rand) []*tensor.Dense {
	x := randDense(rng, -2, 3, 2, 3, 4, 5)
	return []*tensor.Dense{x, randDense(rng, 0.5, 1.5, 3), randDense(rng, -1, 1, 3), randDense(rng, -0.5, 0.5, 3), randDense(rng, 0.5, 2, 3)}
}

// TestBatchNormFiniteDifference checks BatchNorm2D's gradients with respect to x, scale and
// shift in both modes, and Add's with respect to both inputs.
func TestBatchNormFiniteDifference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, training := range []bool{true, false} {
		k := batchNorm[float64]{BatchNormSpec: kernels.BatchNormSpec{Training: training, Eps: BatchNormEpsilon, Momentum: BatchNormMomentum}, rank: 4}
		t.Run(k.String(), func(t *testing.T) {
			checkFiniteDifferences(t, rng, k, bnInputs(rng))
		})
	}
	t.Run("Add", func(t *testing.T) {
		checkFiniteDifferences(t, rng, add[float64]{rank: 4}, []*tensor.Dense{randDense(rng, -1, 1, 2, 3, 2, 2), randDense(rng, -1, 1, 2, 3, 2, 2)})
	})
}

// TestBatchNormForward checks both modes against the formulas written out per element, and
// the running statistics after one training step.
func TestBatchNormForward(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, training := range []bool{true, false} {
		in := bnInputs(rng)
		x, scale, shift := in[0].Data().([]float64), in[1].Data().([]float64), in[2].Data().([]float64)
		rmean, rvar := slices.Clone(in[3].Data().([]float64)), slices.Clone(in[4].Data().([]float64))
		k := batchNorm[float64]{BatchNormSpec: kernels.BatchNormSpec{Training: training, Eps: BatchNormEpsilon, Momentum: BatchNormMomentum}, rank: 4}
		out := tensor.New(tensor.Of(tensor.Float64), tensor.WithShape(2, 3, 4, 5))
		for i := range out.Data().([]float64) {
			out.Data().([]float64)[i] = math.NaN() // the forward must overwrite everything
		}
		if _, err := (op{k, tensor.Float64}).UsePreallocDo(out, valuesOf(in)...); err != nil {
			t.Fatal(err)
		}
		y := out.Data().([]float64)
		const n, c, hw = 2, 3, 20
		for ch := 0; ch < c; ch++ {
			var vals []float64
			for i := 0; i < n; i++ {
				vals = append(vals, x[(i*c+ch)*hw:(i*c+ch+1)*hw]...)
			}
			var mean, ss float64
			for _, v := range vals {
				mean += v
			}
			mean /= float64(len(vals))
			for _, v := range vals {
				ss += (v - mean) * (v - mean)
			}
			m, vr := rmean[ch], rvar[ch]
			if training {
				m, vr = mean, ss/float64(len(vals))
				wantMean := 0.9*rmean[ch] + 0.1*mean
				wantVar := 0.9*rvar[ch] + 0.1*ss/float64(len(vals)-1)
				if got := in[3].Data().([]float64)[ch]; math.Abs(got-wantMean) > 1e-12 {
					t.Errorf("training: running mean %d = %v, want %v", ch, got, wantMean)
				}
				if got := in[4].Data().([]float64)[ch]; math.Abs(got-wantVar) > 1e-12 {
					t.Errorf("training: running var %d = %v, want %v", ch, got, wantVar)
				}
			} else if !slices.Equal(in[3].Data().([]float64), rmean) || !slices.Equal(in[4].Data().([]float64), rvar) {
				t.Errorf("inference changed the running statistics")
			}
			for i := 0; i < n; i++ {
				for j := 0; j < hw; j++ {
					o := (i*c+ch)*hw + j
					want := (x[o]-m)/math.Sqrt(vr+BatchNormEpsilon)*scale[ch] + shift[ch]
					if math.Abs(y[o]-want) > 1e-12 {
						t.Fatalf("training=%v: y[%d] = %v, want %v", training, o, y[o], want)
					}
				}
			}
		}
	}
}

// TestBatchNormLayer checks the declaration: parameter names, kinds and initial values,
// accounting and receptive field, and the one-value-per-channel error of training mode.
func TestBatchNormLayer(t *testing.T) {
	params := NewParams(tensor.Float32, 1)
	n := New(params, Fast)
	n.training = true
	x := n.Input("x", 2, 4, 3, 3)
	n.Block("layer1", func() {
		n.BatchNorm2D("bn1", x)
	})
	if err := n.Err(); err != nil {
		t.Fatal(err)
	}
	l := n.Layers()[0]
	if l.Name != "layer1.bn1" || l.Type != "BatchNorm2D" || l.Block != "layer1" || l.Trainable != 8 || l.Buffers != 8 ||
		l.PaddleFLOPs != 144 || l.FLOPs != 144 || l.MACs != 0 || l.RF != 1 || l.Jump != 1 || !l.OutShape.Eq(tensor.Shape{2, 4, 3, 3}) {
		t.Errorf("layer %+v", l)
	}
	for _, c := range []struct {
		name      string
		trainable bool
		init      float32
	}{{"weight", true, 1}, {"bias", true, 0}, {"running_mean", false, 0}, {"running_var", false, 1}} {
		p := params.Get("layer1.bn1." + c.name)
		if p == nil {
			t.Fatalf("no parameter layer1.bn1.%s", c.name)
		}
		if p.Trainable != c.trainable || !slices.Equal(p.Value.Data().([]float32), []float32{c.init, c.init, c.init, c.init}) {
			t.Errorf("%s: trainable %v, value %v", p.Name, p.Trainable, p.Value.Data())
		}
	}
	if len(n.ParamNodes()) != 2 {
		t.Errorf("%d trainable nodes, want 2", len(n.ParamNodes()))
	}

	// One value per channel: declared in both modes, but batch statistics cannot be computed.
	for _, training := range []bool{true, false} {
		n = New(NewParams(tensor.Float64, 1), Fast)
		n.training = training
		n.BatchNorm2D("bn", n.Input("x", 1, 4, 1, 1))
		if err := n.Err(); err != nil {
			t.Fatalf("training=%v: %v", training, err)
		}
		l := n.Layers()[0]
		var args []gorgonia.Value
		for _, in := range l.Inputs {
			args = append(args, in.Value())
		}
		_, err := l.Output.Op().Do(args...)
		if training && (err == nil || !strings.Contains(err.Error(), "more than one value per channel")) {
			t.Errorf("training on one value per channel: error %v", err)
		}
		if !training && err != nil {
			t.Errorf("inference on one value per channel: %v", err)
		}
	}
}

// TestBatchNormFloat32 runs the float32 kernels against the float64 ones.
func TestBatchNormFloat32(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, training := range []bool{true, false} {
		in64 := bnInputs(rng)
		dy := randDense(rng, -1, 1, 2, 3, 4, 5)
		var in32 []gorgonia.Value
		for _, d := range append(slices.Clone(in64), dy) {
			v := make([]float32, d.Shape().TotalSize())
			for i, x := range d.Data().([]float64) {
				v[i] = float32(x)
			}
			in32 = append(in32, tensor.New(tensor.WithShape(d.Shape()...), tensor.WithBacking(v)))
		}
		bn := kernels.BatchNormSpec{Training: training, Eps: BatchNormEpsilon, Momentum: BatchNormMomentum}
		k64, k32 := batchNorm[float64]{BatchNormSpec: bn, rank: 4}, batchNorm[float32]{BatchNormSpec: bn, rank: 4}
		sums64 := mustDo(t, op{batchNormSums[float64]{k64}, tensor.Float64}, in64[0], in64[3], in64[4], dy)
		sums32 := mustDo(t, op{batchNormSums[float32]{k32}, tensor.Float32}, in32[0], in32[3], in32[4], in32[5])
		for _, c := range []struct {
			name       string
			k64, k32   kernel
			in64, in32 []gorgonia.Value
		}{
			{"forward", k64, k32, valuesOf(in64), in32[:5]},
			{"dx", batchNormGradX[float64]{k64}, batchNormGradX[float32]{k32}, []gorgonia.Value{in64[0], in64[1], sums64, dy}, []gorgonia.Value{in32[0], in32[1], sums32, in32[5]}},
			{"dscale", batchNormRow[float64]{k64, 1}, batchNormRow[float32]{k32, 1}, []gorgonia.Value{sums64}, []gorgonia.Value{sums32}},
			{"dshift", batchNormRow[float64]{k64, 0}, batchNormRow[float32]{k32, 0}, []gorgonia.Value{sums64}, []gorgonia.Value{sums32}},
		} {
			want := mustDo(t, op{c.k64, tensor.Float64}, c.in64...)
			got := mustDo(t, op{c.k32, tensor.Float32}, c.in32...)
			if e := relErr(f64s(got), f64s(want)); e > 1e-6 {
				t.Errorf("training=%v %s: float32 relative error %.3g", training, c.name, e)
			}
		}
	}
}

// mustDo runs o on in, failing the test on an error.
func mustDo(t *testing.T, o op, in ...gorgonia.Value) gorgonia.Value {
	t.Helper()
	v, err := o.Do(in...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
