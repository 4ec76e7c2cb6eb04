package kernels

import "fmt"

// Float is the element type of every kernel: the project computes in float32 (the default,
// as PyTorch does) or float64 (for finite-difference gradient checks).
type Float interface{ ~float32 | ~float64 }

// ConvGeom is the geometry of a square 2-D convolution or pooling window over an NCHW input.
type ConvGeom struct {
	K, S, P int // kernel side, stride, zero padding on every side
}

// Out returns the output side for an input side m: (m + 2P - K)/S + 1, floored.
func (g ConvGeom) Out(m int) int { return (m+2*g.P-g.K)/g.S + 1 }

func (g ConvGeom) String() string { return fmt.Sprintf("k%d s%d p%d", g.K, g.S, g.P) }

// ConvDims are the sizes of one convolution: input x [N,C,H,W], weights w [P,C,K,K], output
// y [N,P,OH,OW].
type ConvDims struct {
	G                  ConvGeom
	N, C, H, W, P      int // batch, input channels, input height and width, output channels
	OH, OW, HW, OHW, K int // output height and width, input and output plane sizes, C*K*K
}

// NewConvDims returns the sizes of convolution g of an input of shape xs [N,C,H,W] with
// weights of shape ws [P,C,K,K].
func NewConvDims(g ConvGeom, xs, ws []int) ConvDims {
	d := ConvDims{G: g, N: xs[0], C: xs[1], H: xs[2], W: xs[3], P: ws[0], OH: g.Out(xs[2]), OW: g.Out(xs[3])}
	d.HW, d.OHW, d.K = d.H*d.W, d.OH*d.OW, d.C*g.K*g.K
	return d
}

// FullWindow reports whether the window covers the whole unpadded input, as in LeNet-5's
// last convolution: then each image is one row of the unrolled input as it lies in memory,
// and the convolution is a plain matrix product.
func (d ConvDims) FullWindow() bool {
	return d.G.P == 0 && d.G.K == d.H && d.G.K == d.W
}

// Epilogue is what a convolution applies to its output as it writes it: an inference-mode
// BatchNorm, y = (y - Mean)*A + Shift per channel (Mean nil: none), then a ReLU (ReLU).
type Epilogue struct {
	Mean, A, Shift []float64
	ReLU           bool
}

// PoolMode selects what a pooling window computes.
type PoolMode int

const (
	PoolMax          PoolMode = iota // the maximum; padding never wins
	PoolAvg                          // the mean over the whole window, padded zeros counted (PyTorch's default)
	PoolAvgExclusive                 // the mean over the window's pixels inside the image (Paddle's default)
)

func (m PoolMode) String() string {
	return [...]string{"max", "avg", "avg-exclusive"}[m]
}

// PoolDims are the sizes of one pooling: x [N,C,H,W] in planes of H*W, y [N,C,OH,OW].
type PoolDims struct {
	G      ConvGeom
	Mode   PoolMode
	Planes int // N*C
	H, W   int
	OH, OW int
}

// NewPoolDims returns the sizes of pooling g in mode m over an input of shape s [N,C,H,W].
func NewPoolDims(g ConvGeom, m PoolMode, s []int) PoolDims {
	return PoolDims{G: g, Mode: m, Planes: s[0] * s[1], H: s[2], W: s[3], OH: g.Out(s[2]), OW: g.Out(s[3])}
}

// Is2x2 reports whether the pooling is the chapter's 2x2 window of stride 2 without padding.
func (d PoolDims) Is2x2() bool { return d.G.K == 2 && d.G.S == 2 && d.G.P == 0 }
