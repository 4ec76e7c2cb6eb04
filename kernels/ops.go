package kernels

// The contract: one interface per operation. An implementation is a value whose type has
// the methods of the operations it offers (for float32, float64 or both); Register files it
// under each of them. Every method must overwrite every element of its output (the weight
// and bias gradients included: they are not accumulated into), must give what the
// reference implementation gives (to rounding, or to the bit where the operation is exact:
// ReLU, pooling, the update) and must keep NaN where the reference keeps it.
//
// Conv splits its work between the workers itself (its best split depends on the shape).
// The others run on the calling goroutine, on the part of the work they are given: the entry
// points in run.go split it.

// Gemm computes c = alpha*op(a)*op(b) + beta*c for row-major matrices, where op(a) is m x k
// and op(b) is k x n, op transposing when its flag is set.
type Gemm[T Float] interface {
	Gemm(transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int)
}

// Conv is a 2-D convolution's three passes over NCHW tensors with OIHW weights.
type Conv[T Float] interface {
	// AcceptsConv reports whether the implementation runs convolution d.
	AcceptsConv(d ConvDims) bool
	// ConvForward computes y = conv(x, w) (+ b, unless b is nil), then applies ep (nil:
	// nothing).
	ConvForward(ws *Scratch, d ConvDims, x, w, b, y []T, ep *Epilogue) error
	// ConvBackwardData computes dx from w and dy.
	ConvBackwardData(ws *Scratch, d ConvDims, w, dy, dx []T) error
	// ConvBackwardWeights computes dw from x and dy.
	ConvBackwardWeights(ws *Scratch, d ConvDims, x, dy, dw []T) error
}

// ConvLayout is the layout of a convolution's maps: X is the channel block of its input and
// of the input's gradient, Y that of its output and of the output's gradient, 0 for NCHW
// (see layout.go).
type ConvLayout struct{ X, Y int }

// BlockedConvPasses is a Conv whose three passes also take their maps in the channel-blocked
// layout, reading and writing them as they lie.
type BlockedConvPasses[T Float] interface {
	Conv[T]
	// ConvBlock is the channel block it takes convolution d's maps in, or 0 where it takes
	// only NCHW.
	ConvBlock(d ConvDims) int
	// ConvForwardIn is ConvForward on maps in layout l.
	ConvForwardIn(ws *Scratch, d ConvDims, l ConvLayout, x, w, b, y []T, ep *Epilogue) error
	// ConvBackwardDataIn is ConvBackwardData on maps in layout l.
	ConvBackwardDataIn(ws *Scratch, d ConvDims, l ConvLayout, w, dy, dx []T) error
	// ConvBackwardWeightsIn is ConvBackwardWeights on maps in layout l.
	ConvBackwardWeightsIn(ws *Scratch, d ConvDims, l ConvLayout, x, dy, dw []T) error
}

// Pool is max or average pooling and its gradient.
type Pool[T Float] interface {
	// AcceptsPool reports whether the implementation runs pooling d.
	AcceptsPool(d PoolDims) bool
	// PoolForward computes y [Planes,OH,OW] from x [Planes,H,W].
	PoolForward(d PoolDims, x, y []T)
	// PoolBackward routes dy back to dx: to the first maximum of each window in row-major
	// order, or spread over the window for the average. y is the forward pass's output
	// (nil: not at hand), which tells each window's maximum. With relu (the output of a
	// ReLU before the pooling, nil: none) dx is then zeroed where relu is not positive.
	PoolBackward(d PoolDims, x, y, dy, dx, relu []T)
}

// BlockedMaxPool is a Pool that also max-pools maps in the channel-blocked layout (see
// layout.go), where d.Planes counts the channels of all the images (N*C).
type BlockedMaxPool[T Float] interface {
	// AcceptsBlockedMaxPool reports whether the implementation runs max pooling d of maps
	// in channel blocks of b.
	AcceptsBlockedMaxPool(d PoolDims, b int) bool
	// MaxPoolBlocked computes y [Planes/b][OH][OW][b] from x [Planes/b][H][W][b], as
	// PoolForward does in NCHW.
	MaxPoolBlocked(d PoolDims, b int, x, y []T)
}

// ReLU is the rectified linear unit and its gradient, and the sum that a residual
// connection passes through it, element-wise. x may be y.
type ReLU[T Float] interface {
	// ReLU computes y = max(x, 0), keeping NaN and giving +0 for -0.
	ReLU(x, y []T)
	// ReLUBackward passes dy to dx where the ReLU's output y is positive, 0 elsewhere.
	ReLUBackward(y, dy, dx []T)
	// Add computes y = a + b, then the ReLU where relu is set (a residual connection). y may
	// be a or b.
	Add(a, b, y []T, relu bool)
}

// ChannelSum sums a gradient per channel: the bias gradient of a convolution or a linear
// layer.
type ChannelSum[T Float] interface {
	// AcceptsChannelSum reports whether the implementation sums [n,c,inner].
	AcceptsChannelSum(n, c, inner int) bool
	// ChannelSum sums dy [n,c,inner] over n and inner into db [c], for the channels
	// [c0,c1) only.
	ChannelSum(n, c, inner, c0, c1 int, dy, db []T)
}

// Axpy is the optimisers' parameter update.
type Axpy[T Float] interface {
	// Axpy computes y += a*x, each product rounded before it is added (no fused
	// multiply-add), so that every implementation updates parameters alike.
	Axpy(a T, x, y []T)
}

// BatchNorm is batch normalisation's three passes over x [n,c,hw], for the channels [c0,c1)
// only. The per-channel values are float64 and indexed by channel over all c of them: k[q],
// s[4q+i], p[3q+i] or p[5q+i] belong to channel q. The passes compute in float64, rounding
// each output element to T once (the package's entry points in batchnorm.go use them).
type BatchNorm[T Float] interface {
	// BatchNormSums sets s[4q..4q+3] to the sums over the images and positions of channel q
	// of x-k[q], (x-k[q])^2, dy and dy*(x-k[q]); the last two are 0 when dy is nil.
	BatchNormSums(n, c, hw, c0, c1 int, x, dy []T, k, s []float64)
	// BatchNormApply computes y = (x-p[3q])*p[3q+1] + p[3q+2] in channel q, then max(y, 0)
	// with relu, keeping NaN. x may be y.
	BatchNormApply(n, c, hw, c0, c1 int, x, y []T, p []float64, relu bool)
	// BatchNormGrad computes dx = p[5q+2] * (dy - p[5q+3] - (x-p[5q])*p[5q+1]*p[5q+4]) in
	// channel q: with the mean, the inverse deviation, scale times it, the mean of dy and the
	// mean of dy*xhat, the input gradient of a training-mode BatchNorm.
	BatchNormGrad(n, c, hw, c0, c1 int, x, dy, dx []T, p []float64)

	// The same three passes on maps in the channel-blocked layout of block b,
	// [n,c/b,hw,b] (layout.go), c0 and c1 multiples of b.

	// BatchNormSumsBlocked is BatchNormSums on x and dy blocked by b.
	BatchNormSumsBlocked(n, c, hw, b, c0, c1 int, x, dy []T, k, s []float64)
	// BatchNormApplyBlocked is BatchNormApply on x and y blocked by b. x may be y.
	BatchNormApplyBlocked(n, c, hw, b, c0, c1 int, x, y []T, p []float64, relu bool)
	// BatchNormGradBlocked is BatchNormGrad on x, dy and dx blocked by b.
	BatchNormGradBlocked(n, c, hw, b, c0, c1 int, x, dy, dx []T, p []float64)
}
