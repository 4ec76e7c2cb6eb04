package kernels

import "fmt"

// The entry points: each picks the implementation for the call and, for the operations that
// run on the calling goroutine, splits the work between the workers.

// Matmul computes c = alpha*op(a)*op(b) + beta*c on the calling goroutine (see Gemm).
func Matmul[T Float](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			for j := range row {
				row[j] *= beta
			}
		}
		return
	}
	if m <= splitRows && n*k >= splitWeights && n >= 32*Workers() {
		j := BorrowJob[gemmColumns[T]]()
		*j = gemmColumns[T]{transA, transB, m, k, alpha, a, lda, b, ldb, beta, c, ldc}
		RunJob(n, j)
		ReturnJob(j)
		return
	}
	GemmFor[T]().Gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// A product of a few rows by a large B (a linear layer's weights, on one image or a few) is
// a pass over B: the workers split its columns rather than leave it to one core (splitRows
// rows at most, B of splitWeights values at least).
const (
	splitRows    = 16
	splitWeights = 1 << 18
)

// gemmColumns is Matmul, its columns [lo, hi) of C computed as worker w.
type gemmColumns[T Float] struct {
	transA, transB bool
	m, k           int
	alpha          T
	a              []T
	lda            int
	b              []T
	ldb            int
	beta           T
	c              []T
	ldc            int
}

func (j *gemmColumns[T]) Run(_, lo, hi int) {
	b := j.b[lo:] // column lo of B, or with transB its row lo
	if j.transB {
		b = j.b[lo*j.ldb:]
	}
	GemmFor[T]().Gemm(j.transA, j.transB, j.m, hi-lo, j.k, j.alpha, j.a, j.lda, b, j.ldb, j.beta, j.c[lo:], j.ldc)
}

// ConvForward computes y = conv(x, w) (+ b), then applies ep (nil: nothing).
func ConvForward[T Float](ws *Scratch, d ConvDims, x, w, b, y []T, ep *Epilogue) error {
	return ConvFor[T](d).ConvForward(ws, d, x, w, b, y, ep)
}

// ConvBackwardData computes a convolution's input gradient dx from w and dy.
func ConvBackwardData[T Float](ws *Scratch, d ConvDims, w, dy, dx []T) error {
	return ConvFor[T](d).ConvBackwardData(ws, d, w, dy, dx)
}

// ConvBackwardWeights computes a convolution's weight gradient dw from x and dy.
func ConvBackwardWeights[T Float](ws *Scratch, d ConvDims, x, dy, dw []T) error {
	return ConvFor[T](d).ConvBackwardWeights(ws, d, x, dy, dw)
}

// ConvBlock is the channel block in which the kernel that runs convolution d takes its maps
// (ConvForwardIn and the gradients' passes), or 0 where it takes them only in NCHW.
func ConvBlock[T Float](d ConvDims) int {
	if k, ok := ConvFor[T](d).(BlockedConvPasses[T]); ok {
		return k.ConvBlock(d)
	}
	return 0
}

// ConvForwardIn is ConvForward on maps in layout l (the zero ConvLayout: NCHW).
func ConvForwardIn[T Float](ws *Scratch, d ConvDims, l ConvLayout, x, w, b, y []T, ep *Epilogue) error {
	if l == (ConvLayout{}) {
		return ConvForward(ws, d, x, w, b, y, ep)
	}
	k, err := blockedConv[T](d, l)
	if err != nil {
		return err
	}
	return k.ConvForwardIn(ws, d, l, x, w, b, y, ep)
}

// ConvBackwardDataIn is ConvBackwardData on maps in layout l.
func ConvBackwardDataIn[T Float](ws *Scratch, d ConvDims, l ConvLayout, w, dy, dx []T) error {
	if l == (ConvLayout{}) {
		return ConvBackwardData(ws, d, w, dy, dx)
	}
	k, err := blockedConv[T](d, l)
	if err != nil {
		return err
	}
	return k.ConvBackwardDataIn(ws, d, l, w, dy, dx)
}

// ConvBackwardWeightsIn is ConvBackwardWeights on maps in layout l.
func ConvBackwardWeightsIn[T Float](ws *Scratch, d ConvDims, l ConvLayout, x, dy, dw []T) error {
	if l == (ConvLayout{}) {
		return ConvBackwardWeights(ws, d, x, dy, dw)
	}
	k, err := blockedConv[T](d, l)
	if err != nil {
		return err
	}
	return k.ConvBackwardWeightsIn(ws, d, l, x, dy, dw)
}

// blockedConv is the kernel that runs convolution d, if it takes the maps in layout l.
func blockedConv[T Float](d ConvDims, l ConvLayout) (BlockedConvPasses[T], error) {
	k, ok := ConvFor[T](d).(BlockedConvPasses[T])
	b := 0
	if ok {
		b = k.ConvBlock(d)
	}
	if b == 0 || l.X != 0 && (l.X != b || d.C%b != 0) || l.Y != 0 && (l.Y != b || d.P%b != 0) {
		return nil, fmt.Errorf("convolution %v of %d to %d channels: no kernel takes its maps in channel blocks of %d (input) and %d (output)",
			d.G, d.C, d.P, l.X, l.Y)
	}
	return k, nil
}

// smallWork is the number of elements below which an element-wise operation runs on the
// calling goroutine: handing half of it to another worker costs more than it saves.
const smallWork = 1 << 14

// SplitWork runs f over [0, n) on the calling goroutine when the work (elements touched) is
// small, else split between the workers (see Parallel). f is allocated either way; a hot
// call hands a borrowed job to RunJob instead (vecJob).
func SplitWork(work, n int, f func(w, lo, hi int)) { runSplit(work, n, jobFunc(f)) }

// runSplit is SplitWork for a Job.
func runSplit(work, n int, j Job) {
	if work >= smallWork {
		RunJob(n, j)
	} else if n > 0 {
		j.Run(0, 0, n)
	}
}

// PoolForward pools x into y, the workers splitting the planes.
func PoolForward[T Float](d PoolDims, x, y []T) {
	j := BorrowJob[poolJob[T]]()
	j.k, j.d, j.x, j.y = PoolFor[T](d), d, x, y
	j.run()
}

// PoolForwardReLU pools x into y, then applies the ReLU to y, each worker's part while it is
// still in the core's cache. For max pooling (d.Mode PoolMax) these are the values of max
// pooling x after a ReLU (the two commute, NaN and -0 included), the ReLU then running over
// the pooled maps instead of the larger ones.
func PoolForwardReLU[T Float](d PoolDims, x, y []T) {
	j := BorrowJob[poolJob[T]]()
	j.k, j.d, j.x, j.y, j.reluOut = PoolFor[T](d), d, x, y, true
	j.run()
}

// PoolBackward computes the pooling's input gradient (see Pool), the workers splitting the
// planes.
func PoolBackward[T Float](d PoolDims, x, y, dy, dx, relu []T) {
	j := BorrowJob[poolJob[T]]()
	j.k, j.d, j.x, j.y, j.dy, j.dx, j.relu, j.backward = PoolFor[T](d), d, x, y, dy, dx, relu, true
	j.run()
}

// MaxPoolBlocked max-pools x into y, both in the channel-blocked layout of block b (d.Planes
// = N*C, a multiple of b), the workers splitting the blocks of channels: on the first enabled
// implementation that takes it, else in Go (MaxPoolBlockedGo). With relu, the ReLU follows
// on each worker's part, as in PoolForwardReLU.
func MaxPoolBlocked[T Float](d PoolDims, b int, x, y []T, relu bool) {
	j := BorrowJob[poolJob[T]]()
	j.d, j.x, j.y, j.block, j.reluOut = d, x, y, b, relu
	for _, e := range setOf[T]().pool {
		if k, ok := e.k.(BlockedMaxPool[T]); ok && e.m.enabled() && k.AcceptsBlockedMaxPool(d, b) {
			e.m.mark()
			j.blocked = k
			break
		}
	}
	runSplit(len(x), d.Planes/b, j)
	ReturnJob(j)
}

// reluStepFloats is about the most output a pooling followed by its ReLU writes before the
// ReLU runs over it: 128 KB, well inside a core's L2.
const reluStepFloats = 32 << 10

// poolJob is a pooling's pass over its planes: forward from x into y (then the ReLU on y,
// with reluOut), or backward into dx; with block, forward over blocks of that many planes in
// the channel-blocked layout, on blocked (nil: in Go).
type poolJob[T Float] struct {
	k                  Pool[T]
	d                  PoolDims
	x, y, dy, dx, relu []T
	backward, reluOut  bool
	block              int
	blocked            BlockedMaxPool[T]
}

func (j *poolJob[T]) Run(wk, lo, hi int) {
	in, out := j.d.H*j.d.W, j.d.OH*j.d.OW
	if step := max(1, reluStepFloats/(out*max(1, j.block))); j.reluOut && hi-lo > step {
		// A few planes at a time, for the ReLU to find them in the core's cache.
		for s := lo; s < hi; s += step {
			j.Run(wk, s, min(hi, s+step))
		}
		return
	}
	part := j.d
	part.Planes = hi - lo
	if b := j.block; b > 0 {
		part.Planes *= b
		x, y := j.x[lo*in*b:hi*in*b], j.y[lo*out*b:hi*out*b]
		if j.blocked != nil {
			j.blocked.MaxPoolBlocked(part, b, x, y)
		} else {
			MaxPoolBlockedGo(part, b, x, y)
		}
		if j.reluOut {
			ReLUFor[T]().ReLU(y, y)
		}
		return
	}
	if !j.backward {
		y := j.y[lo*out : hi*out]
		j.k.PoolForward(part, j.x[lo*in:hi*in], y)
		if j.reluOut {
			ReLUFor[T]().ReLU(y, y)
		}
		return
	}
	var r, yp []T
	if j.relu != nil {
		r = j.relu[lo*in : hi*in]
	}
	if j.y != nil {
		yp = j.y[lo*out : hi*out]
	}
	j.k.PoolBackward(part, j.x[lo*in:hi*in], yp, j.dy[lo*out:hi*out], j.dx[lo*in:hi*in], r)
}

// run computes the job (see runSplit) and gives it back.
func (j *poolJob[T]) run() {
	runSplit(len(j.x), j.d.Planes, j)
	ReturnJob(j)
}

// ApplyReLU computes y = max(x, 0) (x may be y), the workers splitting the elements.
func ApplyReLU[T Float](x, y []T) {
	j := BorrowJob[vecJob[T]]()
	j.op, j.k, j.a, j.y = vecReLU, ReLUFor[T](), x, y[:len(x)]
	j.run()
}

// ApplyAdd computes y = a + b, then the ReLU where relu is set; the workers split long
// vectors.
func ApplyAdd[T Float](a, b, y []T, relu bool) {
	j := BorrowJob[vecJob[T]]()
	j.op, j.k, j.a, j.b, j.y, j.relu = vecAdd, ReLUFor[T](), a, b[:len(a)], y[:len(a)], relu
	j.run()
}

// ApplyReLUBackward passes dy to dx where the ReLU's output y is positive.
func ApplyReLUBackward[T Float](y, dy, dx []T) {
	j := BorrowJob[vecJob[T]]()
	j.op, j.k, j.a, j.b, j.y = vecReLUBackward, ReLUFor[T](), y, dy[:len(y)], dx[:len(y)]
	j.run()
}

// vecJob is an element-wise operation on the vectors a (and b) into y, of a's length.
type vecJob[T Float] struct {
	op      vecOp
	k       ReLU[T]
	axpy    Axpy[T]
	alpha   T
	a, b, y []T
	relu    bool
}

// vecOp names an element-wise operation of vecJob's.
type vecOp int

const (
	vecReLU         vecOp = iota // y = max(a, 0)
	vecAdd                       // y = a + b, through the ReLU with relu
	vecReLUBackward              // y = b where a > 0, else 0
	vecAxpy                      // y += alpha*a
)

func (j *vecJob[T]) Run(_, lo, hi int) {
	switch j.op {
	case vecReLU:
		j.k.ReLU(j.a[lo:hi], j.y[lo:hi])
	case vecAdd:
		j.k.Add(j.a[lo:hi], j.b[lo:hi], j.y[lo:hi], j.relu)
	case vecReLUBackward:
		j.k.ReLUBackward(j.a[lo:hi], j.b[lo:hi], j.y[lo:hi])
	default:
		j.axpy.Axpy(j.alpha, j.a[lo:hi], j.y[lo:hi])
	}
}

// run computes the job (see runSplit) and gives it back.
func (j *vecJob[T]) run() {
	runSplit(len(j.a), len(j.a), j)
	ReturnJob(j)
}

// SumChannels sums dy [n,c,inner] per channel into db [c]; the workers split the channels
// where the sums are long enough to share.
func SumChannels[T Float](n, c, inner int, dy, db []T) {
	k := ChannelSumFor[T](n, c, inner)
	if n*c*inner < smallWork { // a direct call, as in Update
		k.ChannelSum(n, c, inner, 0, c, dy, db)
		return
	}
	Parallel(c, func(_, lo, hi int) { k.ChannelSum(n, c, inner, lo, hi, dy, db) })
}

// Update computes y += a*x, each product rounded before it is added. Long vectors are split
// between the workers: it is the optimisers' update of the parameters, which at that point
// of a step have often left the cache.
func Update[T Float](a T, x, y []T) {
	j := BorrowJob[vecJob[T]]()
	j.op, j.axpy, j.alpha, j.a, j.y = vecAxpy, AxpyFor[T](), a, x, y[:len(x)]
	j.run()
}
