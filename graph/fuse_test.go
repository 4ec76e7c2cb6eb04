package graph

import (
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestFusedReLU checks each kernel that can apply a following ReLU: its fused form computes
// exactly max(unfused, 0), and FuseReLU offers it only after a ReLU.
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
		f, ok := FuseReLU(op{c.k}, op{relu{rank: 4}})
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
		if _, ok := FuseReLU(op{c.k}, op{biasGrad{rank: 4}}); ok {
			t.Errorf("%v fused with a BiasGrad", c.k)
		}
	}
	if _, ok := FuseReLU(op{relu{rank: 4}}, op{relu{rank: 4}}); ok {
		t.Error("a ReLU fused into a ReLU")
	}
}
