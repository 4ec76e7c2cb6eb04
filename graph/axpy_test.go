package graph

import (
	"math/rand/v2"
	"testing"
)

// TestAxpy: y += a*x on every path equals the Go loop's rounding, product then sum, to the
// last bit, on lengths around a vector's and long enough to split between the workers.
func TestAxpy(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, n := range []int{1, 15, 16, 17, 100, 1 << 13, 61706} {
		x, y, want := make([]float32, n), make([]float32, n), make([]float32, n)
		for i := range x {
			x[i], y[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
		}
		a := float32(-0.01)
		for i := range want {
			want[i] = y[i] + float32(a*x[i]) // the conversion rounds: no fused multiply-add
		}
		Axpy(a, x, y)
		for i := range y {
			if y[i] != want[i] {
				t.Fatalf("n=%d: element %d is %v, want %v", n, i, y[i], want[i])
			}
		}
	}
}
