package golden

import (
	"testing"
)

func TestRead(t *testing.T) {
	c, err := Read("../../testdata/golden/lenet.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Labels) != 4 || len(c.Input) != 4*32*32 || len(c.Weights) != 10 {
		t.Fatalf("%d labels, %d input values, %d weights; want 4, 4096, 10", len(c.Labels), len(c.Input), len(c.Weights))
	}
	if _, ok := c.Weights["conv1.weight"]; !ok {
		t.Error("conv1.weight is not among the weights")
	}
	if w, err := c.Want("train.loss"); err != nil || len(w) != 1 {
		t.Errorf("train.loss: %v %v", w, err)
	}
	if _, err := c.Want("nothing"); err == nil {
		t.Error("a missing reference gave no error")
	}
	if _, err := Read("no-such-file"); err == nil {
		t.Error("a missing file gave no error")
	}
}

func TestRelErr(t *testing.T) {
	for _, c := range []struct {
		got, want []float64
		e         float64
	}{
		{[]float64{1, 2}, []float64{1, 2}, 0},
		{[]float64{1, 2.1}, []float64{1, 2}, 0.05},
		{[]float64{0.5, 0}, []float64{0, 0}, 0.5},
	} {
		if e := RelErr(c.got, c.want); e < c.e-1e-12 || e > c.e+1e-12 {
			t.Errorf("RelErr(%v, %v) = %v, want %v", c.got, c.want, e, c.e)
		}
	}
}
