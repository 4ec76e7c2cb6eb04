package purego

import "github.com/nndl/cnn/kernels"

// Tiny maps. A convolution whose output is 2x2 or smaller (the last stages of a network on
// 32x32 images) reads padding with most of its window: on a 1x1 map a 3x3 window touches
// data with its centre tap only, on a 2x2 map with four taps of nine, and im2col would
// multiply the rest as rows of zeros. Here the maps and the weights are first laid out by
// position and by tap, xT [H*W][N][C] and wT [tap][P][C]; then each pair of an output
// position o and a tap t that reads input position s is one matrix product over the whole
// batch, yT[o] [N,P] += xT[s] [N,C] x wT[t]^T, with only the arithmetic that touches data.
// The workers split the filters (or, for the input gradient, the channels).
//
// On one image, im2col with the filters split between the workers reads the weights once
// where this reads them twice (to lay them out, then to multiply), so a batch of one stays
// with it.

// tiny reports whether convolution d runs by positions and taps.
func tiny(d kernels.ConvDims) bool {
	return d.TinyOutput() && d.N >= 2 && d.G.Groups == 1 && !d.FullWindow()
}

// tapPairs returns, cached in the scratch, the triples (o, t, s) of d in order of output
// position: output position o's window reads input position s at tap t (u*KW+v); and the
// taps that any position reads.
func tapPairs(ws *kernels.Scratch, d kernels.ConvDims) (pairs, live []int32) {
	g := d.G
	tab := ws.Table(tableKey(tapTable, d), func() []int32 {
		var tab []int32
		used := make([]bool, g.KH*g.KW)
		for i := 0; i < d.OH; i++ {
			for j := 0; j < d.OW; j++ {
				for u := 0; u < g.KH; u++ {
					for v := 0; v < g.KW; v++ {
						r, c := i*g.SH+u*g.DH-g.PH, j*g.SW+v*g.DW-g.PW
						if r >= 0 && r < d.H && c >= 0 && c < d.W {
							tab = append(tab, int32(i*d.OW+j), int32(u*g.KW+v), int32(r*d.W+c))
							used[u*g.KW+v] = true
						}
					}
				}
			}
		}
		n := len(tab)
		for t, ok := range used {
			if ok {
				tab = append(tab, int32(t))
			}
		}
		return append(tab, int32(n))
	})
	n := int(tab[len(tab)-1])
	return tab[:n], tab[n : len(tab)-1]
}

// layOutWeights copies filters [lo, hi) of w [P, C, KH*KW] at the live taps into
// wT [tap][P][C].
func layOutWeights[T kernels.Float](d kernels.ConvDims, live []int32, w, wT []T, lo, hi int) {
	kk := d.G.KH * d.G.KW
	for q := lo; q < hi; q++ {
		src := w[q*d.C*kk : (q+1)*d.C*kk]
		for _, t := range live {
			dst := wT[(int(t)*d.P+q)*d.C : (int(t)*d.P+q+1)*d.C]
			for c := range dst {
				dst[c] = src[c*kk+int(t)]
			}
		}
	}
}

// layOutMaps copies images [lo, hi) of x [N, C, H*W] into xT [H*W][N][C].
func layOutMaps[T kernels.Float](d kernels.ConvDims, x, xT []T, lo, hi int) {
	for n := lo; n < hi; n++ {
		for c := 0; c < d.C; c++ {
			for s, v := range x[(n*d.C+c)*d.HW : (n*d.C+c+1)*d.HW] {
				xT[(s*d.N+n)*d.C+c] = v
			}
		}
	}
}

// layOutGrad copies filters [lo, hi) of dy [N, P, OH*OW] into dyT [OH*OW][N][P].
func layOutGrad[T kernels.Float](d kernels.ConvDims, dy, dyT []T, lo, hi int) {
	for n := 0; n < d.N; n++ {
		for q := lo; q < hi; q++ {
			for o, v := range dy[(n*d.P+q)*d.OHW : (n*d.P+q+1)*d.OHW] {
				dyT[(o*d.N+n)*d.P+q] = v
			}
		}
	}
}

// tinyBuffers returns the scratch's buffers for xT, wT and yT (or their gradients).
func tinyBuffers[T kernels.Float](ws *kernels.Scratch, d kernels.ConvDims) (xT, wT, yT []T) {
	ws.Reserve(kernels.Workers(), 3)
	return kernels.Buffer[T](ws, 0, 0, d.HW*d.N*d.C), kernels.Buffer[T](ws, 0, 1, d.G.KH*d.G.KW*d.P*d.C),
		kernels.Buffer[T](ws, 0, 2, d.OHW*d.N*d.P)
}

func tinyForward[T kernels.Float](ws *kernels.Scratch, d kernels.ConvDims, x, w, b, y []T, ep *kernels.Epilogue) {
	pairs, live := tapPairs(ws, d)
	xT, wT, yT := tinyBuffers[T](ws, d)
	kernels.Parallel(d.N, func(_, lo, hi int) { layOutMaps(d, x, xT, lo, hi) })
	kernels.Parallel(d.P, func(_, lo, hi int) {
		layOutWeights(d, live, w, wT, lo, hi)
		for o := 0; o < d.OHW; o++ {
			yo := yT[o*d.N*d.P:]
			var beta T
			for k := 0; k < len(pairs); k += 3 {
				if t, s := int(pairs[k+1]), int(pairs[k+2]); int(pairs[k]) == o {
					// yT[o][:, lo:hi] (+)= xT[s] x wT[t][lo:hi]^T
					kernels.Matmul(false, true, d.N, hi-lo, d.C, 1, xT[s*d.N*d.C:], d.C, wT[(t*d.P+lo)*d.C:], d.C, beta, yo[lo:], d.P)
					beta = 1
				}
			}
			for n := 0; n < d.N; n++ {
				row := yo[n*d.P : (n+1)*d.P]
				for q := lo; q < hi; q++ {
					var v T
					if beta != 0 { // some tap reads data
						v = row[q]
					}
					if b != nil {
						v += b[q]
					}
					y[(n*d.P+q)*d.OHW+o] = v
				}
			}
		}
	})
	kernels.ApplyEpilogue(ep, d, y)
}

func tinyBackwardX[T kernels.Float](ws *kernels.Scratch, d kernels.ConvDims, w, dy, dx []T) {
	pairs, live := tapPairs(ws, d)
	dxT, wT, dyT := tinyBuffers[T](ws, d)
	kernels.Parallel(d.P, func(_, lo, hi int) {
		layOutWeights(d, live, w, wT, lo, hi)
		layOutGrad(d, dy, dyT, lo, hi)
	})
	kernels.Parallel(d.C, func(_, lo, hi int) {
		for s := 0; s < d.HW; s++ {
			for n := 0; n < d.N; n++ {
				clear(dxT[(s*d.N+n)*d.C+lo : (s*d.N+n)*d.C+hi])
			}
		}
		for k := 0; k < len(pairs); k += 3 {
			o, t, s := int(pairs[k]), int(pairs[k+1]), int(pairs[k+2])
			// dxT[s][:, lo:hi] += dyT[o] x wT[t][:, lo:hi]
			kernels.Matmul(false, false, d.N, hi-lo, d.P, 1, dyT[o*d.N*d.P:], d.P, wT[t*d.P*d.C+lo:], d.C, 1, dxT[s*d.N*d.C+lo:], d.C)
		}
		for n := 0; n < d.N; n++ {
			for c := lo; c < hi; c++ {
				plane := dx[(n*d.C+c)*d.HW : (n*d.C+c+1)*d.HW]
				for s := range plane {
					plane[s] = dxT[(s*d.N+n)*d.C+c]
				}
			}
		}
	})
}

func tinyBackwardW[T kernels.Float](ws *kernels.Scratch, d kernels.ConvDims, x, dy, dw []T) {
	pairs, live := tapPairs(ws, d)
	xT, dwT, dyT := tinyBuffers[T](ws, d)
	kk := d.G.KH * d.G.KW
	kernels.Parallel(d.N, func(_, lo, hi int) { layOutMaps(d, x, xT, lo, hi) })
	kernels.Parallel(d.P, func(_, lo, hi int) {
		layOutGrad(d, dy, dyT, lo, hi)
		for _, t := range live {
			dst := dwT[(int(t)*d.P+lo)*d.C:]
			var beta T
			for k := 0; k < len(pairs); k += 3 {
				if o, s := int(pairs[k]), int(pairs[k+2]); pairs[k+1] == t {
					// dwT[t][lo:hi] (+)= dyT[o][:, lo:hi]^T x xT[s]
					kernels.Matmul(true, false, hi-lo, d.C, d.N, 1, dyT[o*d.N*d.P+lo:], d.P, xT[s*d.N*d.C:], d.C, beta, dst, d.C)
					beta = 1
				}
			}
		}
		clear(dw[lo*d.C*kk : hi*d.C*kk])
		for _, t := range live {
			for q := lo; q < hi; q++ {
				src := dwT[(int(t)*d.P+q)*d.C : (int(t)*d.P+q+1)*d.C]
				dst := dw[q*d.C*kk : (q+1)*d.C*kk]
				for c, v := range src {
					dst[c*kk+int(t)] = v
				}
			}
		}
	})
}
