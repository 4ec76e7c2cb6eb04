package kernels_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/nndl/cnn/kernels"
)

// countJob counts how often each index of its range is run, and checks the worker index.
type countJob struct {
	t    *testing.T
	hits []atomic.Int32
}

func (j *countJob) Run(w, lo, hi int) {
	if w < 0 || w >= kernels.Workers() || lo > hi {
		j.t.Errorf("piece [%d, %d) on worker %d of %d", lo, hi, w, kernels.Workers())
		return
	}
	for i := lo; i < hi; i++ {
		j.hits[i].Add(1)
	}
}

// TestRunShared: the pieces of RunShared cover [0, n) once, whatever the number asked for,
// and RunJob's chunks too.
func TestRunShared(t *testing.T) {
	for _, c := range []struct{ n, pieces int }{{0, 4}, {1, 1}, {1, 8}, {7, 3}, {7, 100}, {1000, 32}, {1000, 0}} {
		for _, shared := range []bool{true, false} {
			t.Run(fmt.Sprintf("n%d/pieces%d/shared=%v", c.n, c.pieces, shared), func(t *testing.T) {
				j := &countJob{t: t, hits: make([]atomic.Int32, c.n)}
				if shared {
					kernels.RunShared(c.n, c.pieces, j)
				} else {
					kernels.RunJob(c.n, j)
				}
				for i := range j.hits {
					if h := j.hits[i].Load(); h != 1 {
						t.Fatalf("index %d run %d times", i, h)
					}
				}
			})
		}
	}
}
