package data

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
)

// Loader serves a Dataset in batches of a fixed size, epoch after epoch. The last batch of
// an epoch keeps the remaining samples, so it may be smaller (1,000 samples at batch
// size 64 give 15 batches of 64 and one of 40). With shuffling, the order of epoch e is
// a permutation drawn from a PCG generator seeded with (seed, e): it depends only on the
// seed, the epoch and the number of samples, the same on every run and platform.
// Without shuffling every epoch goes through the samples in order.
//
// A training program compiled for a static batch shape fills one Batch per batch size
// (BatchSizes lists them, NewBatch makes them):
//
//	bufs := map[int]*data.Batch{}
//	for _, n := range l.BatchSizes() {
//		bufs[n] = l.NewBatch(n)
//	}
//	for e := range epochs {
//		l.SetEpoch(e)
//		for b := range l.NumBatches() {
//			buf := bufs[l.BatchLen(b)]
//			l.Fill(buf, b)
//			// run the program compiled for len(buf.Y) on buf.X, buf.Y
//		}
//	}
type Loader struct {
	d         *Dataset
	batchSize int
	shuffle   bool
	seed      uint64
	epoch     int
	order     []int
}

// NewLoader returns a loader over d, positioned at epoch 0. batchSize must be positive.
func NewLoader(d *Dataset, batchSize int, shuffle bool, seed uint64) (*Loader, error) {
	if batchSize <= 0 {
		return nil, fmt.Errorf("data: batch size %d: must be positive", batchSize)
	}
	l := &Loader{d: d, batchSize: batchSize, shuffle: shuffle, seed: seed, order: make([]int, d.N())}
	l.SetEpoch(0)
	return l, nil
}

// BatchSize returns the size of every batch but possibly the last.
func (l *Loader) BatchSize() int { return l.batchSize }

// NumBatches returns the number of batches in an epoch, the last partial one included.
func (l *Loader) NumBatches() int { return (l.d.N() + l.batchSize - 1) / l.batchSize }

// BatchLen returns the number of samples in batch b.
func (l *Loader) BatchLen(b int) int {
	return min(l.batchSize, l.d.N()-b*l.batchSize)
}

// BatchSizes returns the distinct batch sizes of an epoch: the full size, followed by the
// size of the last batch when it is smaller. It is empty for an empty dataset.
func (l *Loader) BatchSizes() []int {
	n := l.NumBatches()
	if n == 0 {
		return nil
	}
	if last := l.BatchLen(n - 1); last != l.batchSize {
		if n == 1 {
			return []int{last}
		}
		return []int{l.batchSize, last}
	}
	return []int{l.batchSize}
}

// Epoch returns the current epoch.
func (l *Loader) Epoch() int { return l.epoch }

// SetEpoch sets the sample order for epoch e. Calling it again with the same e gives the
// same order, so training can resume at any epoch.
func (l *Loader) SetEpoch(e int) {
	l.epoch = e
	for i := range l.order {
		l.order[i] = i
	}
	if l.shuffle {
		shuffle(l.order, rand.NewPCG(l.seed, uint64(e)))
	}
}

// Indices returns the dataset indices of batch b in the current epoch (a view; do not
// modify it).
func (l *Loader) Indices(b int) []int {
	lo := b * l.batchSize
	return l.order[lo : lo+l.BatchLen(b)]
}

// Order returns the sample order of the current epoch (a view; do not modify it).
func (l *Loader) Order() []int { return l.order }

// NewBatch allocates buffers for a batch of n samples.
func (l *Loader) NewBatch(n int) *Batch {
	return &Batch{X: make([]float32, n*l.d.SampleSize()), Y: make([]int, n)}
}

// Fill copies batch b of the current epoch into dst, whose buffers must be sized for
// exactly BatchLen(b) samples (see NewBatch). It allocates nothing.
func (l *Loader) Fill(dst *Batch, b int) error {
	if b < 0 || b >= l.NumBatches() {
		return fmt.Errorf("data: batch %d out of range [0, %d)", b, l.NumBatches())
	}
	return l.d.CopyBatch(dst.X, dst.Y, l.Indices(b))
}

// Batch holds the inputs of one batch as a flat slice of shape [n, C, H, W] and its n
// labels.
type Batch struct {
	X []float32
	Y []int
}

// shuffle permutes p with the Fisher-Yates algorithm, drawing from src. The bounded
// draws use Lemire's multiply-and-reject method, written out here so that the order
// depends only on the PCG output stream, which math/rand/v2 specifies.
func shuffle(p []int, src *rand.PCG) {
	for i := len(p) - 1; i > 0; i-- {
		j := int(bounded(src, uint64(i+1)))
		p[i], p[j] = p[j], p[i]
	}
}

// bounded returns a uniform value in [0, n) from src.
func bounded(src *rand.PCG, n uint64) uint64 {
	hi, lo := bits.Mul64(src.Uint64(), n)
	if lo < n {
		threshold := -n % n
		for lo < threshold {
			hi, lo = bits.Mul64(src.Uint64(), n)
		}
	}
	return hi
}
