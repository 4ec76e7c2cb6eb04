package data

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

// counting returns a dataset of n samples of shape 1x2x1 whose values are the sample's
// index (twice) and whose label is the index mod 10.
func counting(n int) *Dataset {
	x := make([]float32, 2*n)
	y := make([]int, n)
	for i := range n {
		x[2*i], x[2*i+1] = float32(i), float32(i)
		y[i] = i % 10
	}
	d, err := NewDataset(x, y, 1, 2, 1)
	if err != nil {
		panic(err)
	}
	return d
}

func TestLoaderBatches(t *testing.T) {
	tests := []struct {
		n, batch    int
		numBatches  int
		sizes       []int
		lastBatchLn int
	}{
		{1000, 64, 16, []int{64, 40}, 40},
		{1000, 100, 10, []int{100}, 100},
		{200, 64, 4, []int{64, 8}, 8},
		{5, 64, 1, []int{5}, 5},
		{1, 1, 1, []int{1}, 1},
		{0, 8, 0, nil, 0},
	}
	for _, tt := range tests {
		for _, shuffle := range []bool{false, true} {
			l, err := NewLoader(counting(tt.n), tt.batch, shuffle, 1)
			if err != nil {
				t.Fatal(err)
			}
			if got := l.NumBatches(); got != tt.numBatches {
				t.Errorf("n=%d batch=%d: %d batches, want %d", tt.n, tt.batch, got, tt.numBatches)
			}
			if got := l.BatchSizes(); !slices.Equal(got, tt.sizes) {
				t.Errorf("n=%d batch=%d: batch sizes %v, want %v", tt.n, tt.batch, got, tt.sizes)
			}
			if tt.numBatches > 0 && l.BatchLen(tt.numBatches-1) != tt.lastBatchLn {
				t.Errorf("n=%d batch=%d: last batch of %d, want %d", tt.n, tt.batch, l.BatchLen(tt.numBatches-1), tt.lastBatchLn)
			}
			// Over two epochs, the batches cover every sample exactly once per epoch.
			bufs := map[int]*Batch{}
			for _, s := range l.BatchSizes() {
				bufs[s] = l.NewBatch(s)
			}
			for e := range 2 {
				l.SetEpoch(e)
				seen := make([]int, tt.n)
				for b := range l.NumBatches() {
					buf := bufs[l.BatchLen(b)]
					if err := l.Fill(buf, b); err != nil {
						t.Fatal(err)
					}
					for k, i := range l.Indices(b) {
						if buf.X[2*k] != float32(i) || buf.X[2*k+1] != float32(i) || buf.Y[k] != i%10 {
							t.Fatalf("batch %d holds %v/%d at %d, want sample %d", b, buf.X[2*k:2*k+2], buf.Y[k], k, i)
						}
						seen[i]++
					}
				}
				for i, c := range seen {
					if c != 1 {
						t.Fatalf("n=%d batch=%d epoch %d: sample %d served %d times", tt.n, tt.batch, e, i, c)
					}
				}
			}
		}
	}
}

func TestLoaderOrder(t *testing.T) {
	order := func(shuffle bool, seed uint64, epoch int) []int {
		l, err := NewLoader(counting(1000), 64, shuffle, seed)
		if err != nil {
			t.Fatal(err)
		}
		l.SetEpoch(epoch)
		return slices.Clone(l.Order())
	}
	identity := make([]int, 1000)
	for i := range identity {
		identity[i] = i
	}
	if !slices.Equal(order(false, 7, 3), identity) {
		t.Error("without shuffling the order is not 0..999")
	}
	a := order(true, 42, 0)
	if !slices.Equal(a, order(true, 42, 0)) {
		t.Error("same seed and epoch gave different orders")
	}
	if slices.Equal(a, order(true, 43, 0)) {
		t.Error("seeds 42 and 43 gave the same order")
	}
	if slices.Equal(a, order(true, 42, 1)) {
		t.Error("epochs 0 and 1 gave the same order")
	}
	if slices.Equal(a, identity) {
		t.Error("shuffled order is the identity")
	}

	// The order is pinned: it depends only on the PCG stream, not on the Go version.
	l, _ := NewLoader(counting(10), 4, true, 1)
	l.SetEpoch(2)
	got := slices.Clone(l.Order())
	l.SetEpoch(0)
	l.SetEpoch(2) // going back to an epoch gives its order again
	if !slices.Equal(l.Order(), got) {
		t.Errorf("epoch 2 again: %v, first %v", l.Order(), got)
	}
	want := []int{2, 4, 3, 9, 0, 1, 8, 6, 5, 7}
	if !slices.Equal(got, want) {
		t.Errorf("seed 1 epoch 2 order %v, want %v", got, want)
	}
}

func TestLoaderErrors(t *testing.T) {
	for _, bs := range []int{0, -3} {
		_, err := NewLoader(counting(10), bs, false, 0)
		if err == nil || !strings.Contains(err.Error(), "batch size "+strconv.Itoa(bs)) {
			t.Errorf("NewLoader(batch %d) error %v, want one naming %d", bs, err, bs)
		}
	}
	l, _ := NewLoader(counting(10), 4, false, 0)
	if err := l.Fill(l.NewBatch(4), 2); err == nil || !strings.Contains(err.Error(), "batch of 2 samples") {
		t.Errorf("Fill(last batch into a buffer of 4) error %v", err)
	}
	if err := l.Fill(l.NewBatch(4), 3); err == nil {
		t.Error("Fill(batch 3 of 3): no error")
	}
}

func TestLoaderNoAllocs(t *testing.T) {
	s, err := ChapterSubset()
	if err != nil {
		t.Fatal(err)
	}
	d := s.Train.Dataset(ChapterSize, ChapterSize)
	l, _ := NewLoader(d, 64, true, 3)
	buf := l.NewBatch(64)
	allocs := testing.AllocsPerRun(10, func() {
		l.SetEpoch(l.Epoch() + 1)
		for b := range l.NumBatches() - 1 {
			if err := l.Fill(buf, b); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per epoch, want 0", allocs)
	}
}

func TestNewDataset(t *testing.T) {
	if _, err := NewDataset(make([]float32, 10), make([]int, 3), 1, 2, 2); err == nil {
		t.Error("NewDataset(10 values for 3 samples of 4): no error")
	}
	d := counting(3)
	if d.N() != 3 || d.SampleSize() != 2 || !slices.Equal(d.Shape(), []int{1, 2, 1}) || d.Sample(2)[0] != 2 {
		t.Errorf("dataset %+v", d)
	}
}
