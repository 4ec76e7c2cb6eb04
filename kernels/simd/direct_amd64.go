//go:build cgo

package simd

import "github.com/nndl/cnn/kernels"

// isa is one instruction set's kernels, each a thin call into its C file.
type isa struct {
	maxK int // the largest kernel side of the convolutions
	// weights arranges w [P,C,K,K] for the kernels (flip: for the input gradient).
	weights   func(w, wt []float32, p, c, k int, flip bool)
	forward   func(x, wt, b, y []float32, n, c, h, w, p, k int, relu bool)
	backwardX func(wt, dy, dx []float32, n, c, h, w, p, k int, pad []float32)
	backwardW func(x, dy, dw []float32, n, c, h, w, p, k int)
	pool2     func(x, y []float32, planes, h, w int, avg bool)
	pool2Grad func(x, dy, relu, dx []float32, planes, h, w int, avg bool)
	relu      func(x, y []float32)
	reluGrad  func(y, dy, dx []float32)
	sum       func(dy []float32, n, c, inner, c0, c1 int, db []float32)
	axpy      func(a float32, x, y []float32)
}

// direct implements the contract's float32 operations on one instruction set's kernels.
type direct struct{ *isa }

// AcceptsConv takes stride-1 unpadded convolutions with at most 16 channels in and out. With
// 16 of both, oneDNN's layout wastes nothing and its kernels are as fast or faster (measured:
// 16 to 16 channels, 3x3 on 64 maps of 18x18, input gradient 0.43 ms on oneDNN against 0.74
// on the direct kernel). A window over the whole input is a matrix product (purego).
func (k direct) AcceptsConv(d kernels.ConvDims) bool {
	return d.G.S == 1 && d.G.P == 0 && d.G.K <= k.maxK &&
		d.C <= 16 && d.P <= 16 && (d.C < 16 || d.P < 16) && !d.FullWindow()
}

func (k direct) ConvForward(ws *kernels.Scratch, d kernels.ConvDims, x, w, b, y []float32, ep *kernels.Epilogue) error {
	in, out := d.C*d.HW, d.P*d.OHW
	relu := ep != nil && ep.ReLU && ep.Mean == nil
	ws.Reserve(kernels.Workers(), 1)
	wt := kernels.Buffer[float32](ws, 0, 0, len(w))
	k.weights(w, wt, d.P, d.C, d.G.K, false)
	kernels.Parallel(d.N, func(_, lo, hi int) {
		yi := y[lo*out : hi*out]
		k.forward(x[lo*in:], wt, b, yi, hi-lo, d.C, d.H, d.W, d.P, d.G.K, relu)
		if ep != nil && !relu {
			kernels.ApplyEpilogue(ep, d, yi)
		}
	})
	return nil
}

// ConvBackwardData runs the forward kernel on the zero-padded output gradient with the
// flipped weights.
func (k direct) ConvBackwardData(ws *kernels.Scratch, d kernels.ConvDims, w, dy, dx []float32) error {
	in, out := d.C*d.HW, d.P*d.OHW
	ws.Reserve(kernels.Workers(), 2)
	wt := kernels.Buffer[float32](ws, 0, 1, len(w))
	k.weights(w, wt, d.P, d.C, d.G.K, true)
	pad := (d.OH + 2*d.G.K - 2) * (d.OW + 2*d.G.K - 2) * d.P
	kernels.Parallel(d.N, func(wk, lo, hi int) {
		k.backwardX(wt, dy[lo*out:], dx[lo*in:], hi-lo, d.C, d.H, d.W, d.P, d.G.K, kernels.Buffer[float32](ws, wk, 0, pad))
	})
	return nil
}

func (k direct) ConvBackwardWeights(ws *kernels.Scratch, d kernels.ConvDims, x, dy, dw []float32) error {
	in, out := d.C*d.HW, d.P*d.OHW
	kernels.SumOverImages(ws, 0, d.N, dw, func(_ int, dst []float32, lo, hi int) {
		k.backwardW(x[lo*in:], dy[lo*out:], dst, hi-lo, d.C, d.H, d.W, d.P, d.G.K)
	})
	return nil
}

// AcceptsPool takes 2x2 windows of stride 2 without padding (where both averages divide by 4).
func (direct) AcceptsPool(d kernels.PoolDims) bool { return d.Is2x2() }

func (k direct) PoolForward(d kernels.PoolDims, x, y []float32) {
	k.pool2(x, y, d.Planes, d.H, d.W, d.Mode != kernels.PoolMax)
}

func (k direct) PoolBackward(d kernels.PoolDims, x, dy, dx, relu []float32) {
	k.pool2Grad(x, dy, relu, dx, d.Planes, d.H, d.W, d.Mode != kernels.PoolMax)
}

func (k direct) ReLU(x, y []float32) {
	if len(x) > 0 {
		k.relu(x, y[:len(x)])
	}
}

func (k direct) ReLUBackward(y, dy, dx []float32) {
	if len(y) > 0 {
		k.reluGrad(y, dy[:len(y)], dx[:len(y)])
	}
}

// AcceptsChannelSum takes planes of at least one vector.
func (direct) AcceptsChannelSum(n, c, inner int) bool { return inner >= 16 }

func (k direct) ChannelSum(n, c, inner, c0, c1 int, dy, db []float32) {
	k.sum(dy, n, c, inner, c0, c1, db)
}

func (k direct) Axpy(a float32, x, y []float32) {
	if len(x) > 0 {
		k.axpy(a, x, y[:len(x)])
	}
}
