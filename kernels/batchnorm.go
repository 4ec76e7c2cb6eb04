package kernels

import (
	"fmt"
	"math"
)

// BatchNormSpec are a BatchNorm layer's settings.
type BatchNormSpec struct {
	Training      bool    // normalise with the batch's statistics and update the running ones
	Eps, Momentum float64 // added to the variance; the old running statistics' weight
	ReLU          bool    // apply a ReLU to the output
}

// BatchNormFor returns the BatchNorm passes to run.
func BatchNormFor[T Float]() BatchNorm[T] { return pick(setOf[T]().bn, "batchnorm", nil) }

// BatchNormGradRows is the number of rows of the per-channel summary BatchNormGradSums writes
// and BatchNormGradX reads.
const BatchNormGradRows = 6

// The statistics are sums of x - k over a channel, with k the channel's first value (in
// training) or its running mean (in inference): one pass over the data gives the mean and
// variance, and with k inside the channel's range the squares lose nothing to cancellation
// that float64 does not hold.

// BatchNormForward normalises x [N,C,H,W] per channel with scale and shift: with the batch's
// statistics in training, updating the running ones rmean and rvar in place (the variance
// unbiased), or with the running ones in inference. It makes one pass over x for the
// statistics (in training) and one for y, the workers splitting the channels: each takes its
// channels from the first pass to the last.
func BatchNormForward[T Float](k BatchNormSpec, s []int, x, scale, shift, rmean, rvar, y []T) {
	j := newBNJob[T](k, s, 0, 8, bnForwardPass)
	j.x, j.scale, j.shift, j.rmean, j.rvar, j.y = x, scale, shift, rmean, rvar, y
	j.run()
}

// BatchNormForwardBlocked is BatchNormForward on x and y in the channel-blocked layout of
// block b (layout.go), s still the NCHW shape [N,C,H,W] and C a multiple of b: y is x's
// normalisation in the same layout, and the workers split whole blocks of channels.
func BatchNormForwardBlocked[T Float](k BatchNormSpec, s []int, b int, x, scale, shift, rmean, rvar, y []T) {
	j := newBNJob[T](k, s, checkBlock(s, b), 8, bnForwardPass)
	j.x, j.scale, j.shift, j.rmean, j.rvar, j.y = x, scale, shift, rmean, rvar, y
	j.run()
}

// forward is BatchNormForward on channels [lo, hi), from the statistics to y.
func (j *bnJob[T]) forward(lo, hi int) {
	k, c, w := j.k, j.c, j.w
	sums, p, ks := w[:4*c], w[4*c:7*c], w[7*c:]
	if k.Training {
		j.firstValues(lo, hi, ks)
		j.sums(lo, hi, nil, ks, sums)
	}
	for q := lo; q < hi; q++ {
		mean, v := float64(j.rmean[q]), float64(j.rvar[q])
		if k.Training {
			mean, v = moments(sums[4*q:], ks[q], j.m)
			j.rmean[q] = T(k.Momentum*float64(j.rmean[q]) + (1-k.Momentum)*mean)
			j.rvar[q] = T(k.Momentum*float64(j.rvar[q]) + (1-k.Momentum)*v*j.m/(j.m-1))
		}
		p[3*q], p[3*q+1], p[3*q+2] = mean, float64(j.scale[q])/math.Sqrt(v+k.Eps), float64(j.shift[q])
	}
	j.apply(lo, hi, j.x, p, k.ReLU)
}

// bnJob is a BatchNorm call's arguments, which one of its passes computes channel by channel
// on the workers, in blocks of b channels when the maps are in the channel-blocked layout (b
// is 0 for NCHW); w is the per-channel work space.
type bnJob[T Float] struct {
	pass                                     bnPass
	k                                        BatchNormSpec
	bn                                       BatchNorm[T]
	n, c, hw, b                              int
	m                                        float64
	x, scale, shift, rmean, rvar, dy, y, out []T
	buf                                      *[]float64
	w                                        []float64
}

// newBNJob borrows a job for pass over x of NCHW shape s, blocked by b channels (0: NCHW),
// with per floats of work space per channel.
func newBNJob[T Float](k BatchNormSpec, s []int, b, per int, pass bnPass) *bnJob[T] {
	j := BorrowJob[bnJob[T]]()
	j.pass, j.k, j.bn = pass, k, BatchNormFor[T]()
	j.n, j.c, j.hw, j.b = s[0], s[1], s[2]*s[3], b
	j.m = float64(j.n * j.hw)
	j.buf, j.w = Borrow(per * j.c)
	return j
}

// checkBlock returns b, after checking that it is a block of the channels of shape s.
func checkBlock(s []int, b int) int {
	if b <= 0 || s[1]%b != 0 {
		panic(fmt.Sprintf("kernels: BatchNorm on %v in blocks of %d channels: the block must divide the channels", s, b))
	}
	return b
}

// Run runs the job's pass on the blocks [lo,hi) of channels (of one channel in NCHW).
func (j *bnJob[T]) Run(_, lo, hi int) {
	u := j.unit()
	lo, hi = lo*u, hi*u
	switch j.pass {
	case bnForwardPass:
		j.forward(lo, hi)
	case bnGradSumsPass:
		j.gradSums(lo, hi)
	default:
		j.gradX(lo, hi)
	}
}

// bnPass names a pass of BatchNorm's.
type bnPass int

const (
	bnForwardPass bnPass = iota
	bnGradSumsPass
	bnGradXPass
)

// run runs the job's pass over all channels and gives the job back.
func (j *bnJob[T]) run() {
	RunJob(j.c/j.unit(), j)
	GiveBack(j.buf)
	ReturnJob(j)
}

// unit is the number of channels the workers split the job's into: its block, or one.
func (j *bnJob[T]) unit() int { return max(j.b, 1) }

// firstValues sets ks[q] to the first value of channel q of x (image 0, position 0; 0 for
// empty maps), for the channels [lo,hi).
func (j *bnJob[T]) firstValues(lo, hi int, ks []float64) {
	for q := lo; q < hi; q++ {
		ks[q] = 0
		if j.hw > 0 && len(j.x) > 0 {
			ks[q] = float64(j.x[blockedAt(q, j.c, j.hw, j.unit())])
		}
	}
}

// sums, apply and grad run the BatchNorm passes of the job's implementation on the job's
// layout, for channels [lo,hi): the sums of x (and dy), y (dx in inference) from x (dy) and
// p, and dx in training.

func (j *bnJob[T]) sums(lo, hi int, dy []T, ks, s []float64) {
	if j.b == 0 {
		j.bn.BatchNormSums(j.n, j.c, j.hw, lo, hi, j.x, dy, ks, s)
		return
	}
	j.bn.BatchNormSumsBlocked(j.n, j.c, j.hw, j.b, lo, hi, j.x, dy, ks, s)
}

func (j *bnJob[T]) apply(lo, hi int, x []T, p []float64, relu bool) {
	if j.b == 0 {
		j.bn.BatchNormApply(j.n, j.c, j.hw, lo, hi, x, j.y, p, relu)
		return
	}
	j.bn.BatchNormApplyBlocked(j.n, j.c, j.hw, j.b, lo, hi, x, j.y, p, relu)
}

func (j *bnJob[T]) grad(lo, hi int, p []float64) {
	if j.b == 0 {
		j.bn.BatchNormGrad(j.n, j.c, j.hw, lo, hi, j.x, j.dy, j.y, p)
		return
	}
	j.bn.BatchNormGradBlocked(j.n, j.c, j.hw, j.b, lo, hi, j.x, j.dy, j.y, p)
}

// moments returns a channel's mean and biased variance from its sums of x-k and (x-k)^2
// over m values.
func moments(s []float64, k, m float64) (mean, variance float64) {
	d := s[0] / m
	return k + d, max(s[1]/m-d*d, 0)
}

// BatchNormGradSums summarises, per channel, what a BatchNorm's gradients need, from x
// [N,C,H,W], the running statistics (read in inference) and dy, into out [6,C]: the rows are
// sum(dy) (the shift's gradient), sum(dy*xhat) (the scale's gradient), the mean and the
// inverse deviation 1/sqrt(var+eps) that normalised x, each of the last two as the sum of two
// T values (a high and a low part) so that float32 carries them to about 48 bits. In training
// the statistics are the batch's, recomputed in the same pass over x and dy.
func BatchNormGradSums[T Float](k BatchNormSpec, s []int, x, rmean, rvar, dy, out []T) {
	j := newBNJob[T](k, s, 0, 5, bnGradSumsPass)
	j.x, j.rmean, j.rvar, j.dy, j.out = x, rmean, rvar, dy, out
	j.run()
}

// BatchNormGradSumsBlocked is BatchNormGradSums on x and dy in the channel-blocked layout of
// block b, s the NCHW shape and C a multiple of b; the summary out [6,C] is the same.
func BatchNormGradSumsBlocked[T Float](k BatchNormSpec, s []int, b int, x, rmean, rvar, dy, out []T) {
	j := newBNJob[T](k, s, checkBlock(s, b), 5, bnGradSumsPass)
	j.x, j.rmean, j.rvar, j.dy, j.out = x, rmean, rvar, dy, out
	j.run()
}

// gradSums is BatchNormGradSums on channels [lo, hi).
func (j *bnJob[T]) gradSums(lo, hi int) {
	sums, ks := j.w[:4*j.c], j.w[4*j.c:]
	if j.k.Training {
		j.firstValues(lo, hi, ks)
	} else {
		for q := lo; q < hi; q++ {
			ks[q] = float64(j.rmean[q])
		}
	}
	j.sums(lo, hi, j.dy, ks, sums)
	for q := lo; q < hi; q++ {
		summarise(j.k, q, j.c, j.m, sums[4*q:4*q+4], ks[q], j.rmean, j.rvar, j.out)
	}
}

// summarise writes channel q's column of BatchNormGradSums's summary out from its sums sq of
// x-k, (x-k)^2, dy and dy*(x-k) over m values.
func summarise[T Float](k BatchNormSpec, q, c int, m float64, sq []float64, shift float64, rmean, rvar, out []T) {
	mean, v, d := float64(rmean[q]), float64(rvar[q]), 0.0
	if k.Training {
		mean, v = moments(sq, shift, m)
		d = sq[0] / m
	}
	inv := 1 / math.Sqrt(v+k.Eps)
	out[q], out[c+q] = T(sq[2]), T((sq[3]-d*sq[2])*inv)
	out[2*c+q], out[3*c+q] = split[T](mean)
	out[4*c+q], out[5*c+q] = split[T](inv)
}

// split returns v as a high part, v rounded to T, and the low part, the rest rounded to T.
func split[T Float](v float64) (hi, lo T) {
	hi = T(v)
	return hi, T(v - float64(hi))
}

// BatchNormGradX computes a BatchNorm's input gradient dx [N,C,H,W] from x, scale, the
// summary sums [6,C] of BatchNormGradSums and dy. In training, with m = N*H*W and
// xhat = (x-mean)/sqrt(var+eps),
//
//	dx = scale/sqrt(var+eps) * (dy - sum(dy)/m - xhat*sum(dy*xhat)/m);
//
// in inference the statistics are constants and dx = dy*scale/sqrt(var+eps).
func BatchNormGradX[T Float](k BatchNormSpec, s []int, x, scale, sums, dy, dx []T) {
	j := newBNJob[T](k, s, 0, 5, bnGradXPass)
	j.x, j.scale, j.out, j.dy, j.y = x, scale, sums, dy, dx
	j.run()
}

// BatchNormGradXBlocked is BatchNormGradX on x, dy and dx in the channel-blocked layout of
// block b, s the NCHW shape and C a multiple of b, from BatchNormGradSumsBlocked's summary.
func BatchNormGradXBlocked[T Float](k BatchNormSpec, s []int, b int, x, scale, sums, dy, dx []T) {
	j := newBNJob[T](k, s, checkBlock(s, b), 5, bnGradXPass)
	j.x, j.scale, j.out, j.dy, j.y = x, scale, sums, dy, dx
	j.run()
}

// gradX is BatchNormGradX on channels [lo, hi): the summary is in out, dx in y.
func (j *bnJob[T]) gradX(lo, hi int) {
	c, p, sums := j.c, j.w, j.out
	for q := lo; q < hi; q++ {
		mean := float64(sums[2*c+q]) + float64(sums[3*c+q])
		inv := float64(sums[4*c+q]) + float64(sums[5*c+q])
		a := float64(j.scale[q]) * inv
		if !j.k.Training {
			p[3*q], p[3*q+1], p[3*q+2] = 0, a, 0
			continue
		}
		p[5*q], p[5*q+1], p[5*q+2], p[5*q+3], p[5*q+4] = mean, inv, a, float64(sums[q])/j.m, float64(sums[c+q])/j.m
	}
	if !j.k.Training {
		j.apply(lo, hi, j.dy, p, false)
		return
	}
	j.grad(lo, hi, p)
}
