package trainer

import (
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nndl/cnn/data"
)

// TestTrainingMemoryBounded runs 3,000 LeNet training steps at batch 16 (the chapter's
// 1,000 training images: 62 full batches and one of 8 per epoch, so two programs) with a
// dev evaluation every 250 steps, and checks that the heap in use after a collection and
// the number of goroutines do not grow between step 100 (all four programs compiled by
// then) and the end.
func TestTrainingMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("3,000 training steps")
	}
	const (
		steps  = 3000
		warmup = 100
		batch  = 16
	)
	goroutines0 := runtime.NumGoroutine()
	train, dev, _ := smallLoaders(t, 1000, 200, batch, 1)
	r := newRunner(1, &SGD{LR: 0.05})
	bufs := map[int]*data.Batch{}
	for _, n := range train.BatchSizes() {
		bufs[n] = train.NewBatch(n)
	}
	heap := func() (inuse, total, mallocs uint64) {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse, m.TotalAlloc, m.Mallocs
	}
	var h0, a0, m0 uint64
	var g0 int
	var t0 time.Time
	var samples []string // heap in use (MiB) along the way
	step := 0
	for epoch := 0; step < steps; epoch++ {
		train.SetEpoch(epoch)
		for b := 0; b < train.NumBatches() && step < steps; b++ {
			if step == warmup {
				// Compile the evaluation programs too before measuring.
				if _, _, err := r.Evaluate(dev); err != nil {
					t.Fatal(err)
				}
				h0, a0, m0 = heap()
				g0 = runtime.NumGoroutine()
				t0 = time.Now()
			}
			buf := bufs[train.BatchLen(b)]
			if err := train.Fill(buf, b); err != nil {
				t.Fatal(err)
			}
			loss, err := r.TrainStep(buf)
			if err != nil || math.IsNaN(loss) {
				t.Fatalf("step %d: loss %v, %v", step, loss, err)
			}
			step++
			if step%250 == 0 {
				if _, _, err := r.Evaluate(dev); err != nil {
					t.Fatal(err)
				}
			}
			if step > warmup && step%500 == 0 {
				h, _, _ := heap()
				samples = append(samples, fmt.Sprintf("%d: %.2f", step, float64(h)/(1<<20)))
			}
		}
	}
	elapsed := time.Since(t0)
	h1, a1, m1 := heap()
	g1 := runtime.NumGoroutine()
	// Everything the steps use stays live until after the measurement.
	runtime.KeepAlive(r)
	runtime.KeepAlive(train)
	runtime.KeepAlive(dev)
	runtime.KeepAlive(bufs)
	n := uint64(steps - warmup)
	t.Logf("%d steps at batch %d; from step %d to %d (%v, %.1f ms a step): heap in use %.2f MiB -> %.2f MiB (%+d bytes), goroutines %d -> %d (%d before the runner), %.0f bytes and %.1f allocations a step (evaluations included)",
		steps, batch, warmup, steps, elapsed.Round(time.Millisecond), float64(elapsed.Milliseconds())/float64(n),
		float64(h0)/(1<<20), float64(h1)/(1<<20), int64(h1)-int64(h0), g0, g1, goroutines0,
		float64(a1-a0)/float64(n), float64(m1-m0)/float64(n))
	t.Logf("heap in use at step N (MiB): %s", strings.Join(samples, ", "))
	if h1 > h0 && h1-h0 > 2<<20 {
		t.Errorf("heap in use grew by %d bytes over %d steps", h1-h0, n)
	}
	if g1 > g0 {
		t.Errorf("goroutines grew from %d to %d", g0, g1)
	}
}
