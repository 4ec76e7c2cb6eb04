package purego

import "github.com/nndl/cnn/kernels"

// Single-position outputs. A convolution whose output is 1x1 (the last stage of a network
// on 32x32 images) reads padding with most of its window: a 3x3 window on a 1x1 map
// touches data with its centre tap only, and im2col would multiply eight rows of zeros out
// of nine. Here it is one matrix product over the whole batch with only the taps that touch
// data: the unrolled input A [N, (channel, tap)] against the weights cut to those taps,
// Wg [P, (channel, tap)]. The workers split the filters (or, for the input gradient, the
// channels).
//
// Only 1x1 outputs run this way. On 2x2 maps each output position has its own four taps out
// of nine, and cutting the weights for each costs what the skipped taps save: im2col is as
// fast or faster (BenchmarkConv). On one image, im2col with the filters split between the
// workers reads the weights once where this reads them twice.

// tiny reports whether convolution d runs on its live taps.
func tiny(d kernels.ConvDims) bool {
	return d.OHW == 1 && d.N >= 2 && d.G.Groups == 1 && !d.FullWindow()
}

// liveTaps returns the taps (u*KW+v) of the output position's window that read data, with
// the input-plane offset each reads, cached in the scratch as nt taps then nt offsets.
func liveTaps(ws *kernels.Scratch, d kernels.ConvDims) (taps, src []int32) {
	g := d.G
	pair := func(a, b int) int { return a<<32 | b }
	key := [8]int{-1, pair(g.KH, g.KW), pair(g.SH, g.SW), pair(g.PH, g.PW), pair(g.DH, g.DW), d.H, d.W}
	tab := ws.Table(key, func() []int32 {
		var taps, src []int32
		for u := 0; u < g.KH; u++ {
			for v := 0; v < g.KW; v++ {
				r, c := u*g.DH-g.PH, v*g.DW-g.PW
				if r >= 0 && r < d.H && c >= 0 && c < d.W {
					taps = append(taps, int32(u*g.KW+v))
					src = append(src, int32(r*d.W+c))
				}
			}
		}
		return append(taps, src...)
	})
	nt := len(tab) / 2
	return tab[:nt], tab[nt:]
}

// cutWeights copies filters [lo, hi) of w [P, C, KH*KW], cut to the taps, into wg [P, C*nt].
func cutWeights[T kernels.Float](d kernels.ConvDims, taps []int32, w, wg []T, lo, hi int) {
	kk, nt := d.G.KH*d.G.KW, len(taps)
	for q := lo; q < hi; q++ {
		src, dst := w[q*d.C*kk:(q+1)*d.C*kk], wg[q*d.C*nt:(q+1)*d.C*nt]
		for t, tap := range taps {
			j := t // dst[c*nt+t] = src[c*kk+tap]
			for i := int(tap); i < len(src) && j < len(dst); i += kk {
				dst[j] = src[i]
				j += nt
			}
		}
	}
}

// unroll fills rows [lo, hi) of A [N, C*nt] from x [N, C, H*W].
func unroll[T kernels.Float](d kernels.ConvDims, src []int32, x, a []T, lo, hi int) {
	nt := len(src)
	for n := lo; n < hi; n++ {
		row := a[n*d.C*nt : (n+1)*d.C*nt]
		for c := 0; c < d.C; c++ {
			xc := x[(n*d.C+c)*d.HW : (n*d.C+c+1)*d.HW]
			for t, at := range src {
				row[c*nt+t] = xc[at]
			}
		}
	}
}

// tinyForward: y [N, P] = A [N, kg] x Wg^T (+ b). The workers unroll their images, then cut
// and multiply their filters.
func tinyForward[T kernels.Float](ws *kernels.Scratch, d kernels.ConvDims, x, w, b, y []T, ep *kernels.Epilogue) {
	taps, src := liveTaps(ws, d)
	kg := d.C * len(taps)
	if kg == 0 { // a window of padding only
		for n := 0; n < d.N; n++ {
			row := y[n*d.P : (n+1)*d.P]
			clear(row)
			if b != nil {
				copy(row, b)
			}
		}
		kernels.ApplyEpilogue(ep, d, y)
		return
	}
	ws.Reserve(kernels.Workers(), 2)
	a, wg := kernels.Buffer[T](ws, 0, 0, d.N*kg), kernels.Buffer[T](ws, 0, 1, d.P*kg)
	kernels.Parallel(d.N, func(_, lo, hi int) { unroll(d, src, x, a, lo, hi) })
	kernels.Parallel(d.P, func(_, lo, hi int) {
		cutWeights(d, taps, w, wg, lo, hi)
		var beta T
		if b != nil {
			for n := 0; n < d.N; n++ {
				copy(y[n*d.P+lo:n*d.P+hi], b[lo:hi])
			}
			beta = 1
		}
		kernels.Matmul(false, true, d.N, hi-lo, kg, 1, a, kg, wg[lo*kg:], kg, beta, y[lo:], d.P)
	})
	kernels.ApplyEpilogue(ep, d, y)
}

// tinyBackwardX: dA [N, kg] = dy [N, P] x Wg, added into dx at the taps' offsets. The
// workers cut their filters' weights, then split the channels: their columns of dA and
// their planes of dx.
func tinyBackwardX[T kernels.Float](ws *kernels.Scratch, d kernels.ConvDims, w, dy, dx []T) {
	taps, src := liveTaps(ws, d)
	nt := len(taps)
	kg := d.C * nt
	if kg == 0 {
		clear(dx)
		return
	}
	ws.Reserve(kernels.Workers(), 2)
	da, wg := kernels.Buffer[T](ws, 0, 0, d.N*kg), kernels.Buffer[T](ws, 0, 1, d.P*kg)
	kernels.Parallel(d.P, func(_, lo, hi int) { cutWeights(d, taps, w, wg, lo, hi) })
	kernels.Parallel(d.C, func(_, lo, hi int) {
		kernels.Matmul(false, false, d.N, (hi-lo)*nt, d.P, 1, dy, d.P, wg[lo*nt:], kg, 0, da[lo*nt:], kg)
		for n := 0; n < d.N; n++ {
			row := da[n*kg : (n+1)*kg]
			for c := lo; c < hi; c++ {
				xc := dx[(n*d.C+c)*d.HW : (n*d.C+c+1)*d.HW]
				clear(xc)
				for t, at := range src {
					xc[at] = row[c*nt+t] // one position: each offset is read by one tap
				}
			}
		}
	})
}

// tinyBackwardW: dWg [P, kg] = dy^T [P, N] x A, written into dw at the taps (zero at the
// others). The workers unroll their images, then split the filters.
func tinyBackwardW[T kernels.Float](ws *kernels.Scratch, d kernels.ConvDims, x, dy, dw []T) {
	taps, src := liveTaps(ws, d)
	kk, nt := d.G.KH*d.G.KW, len(taps)
	kg := d.C * nt
	if kg == 0 {
		clear(dw)
		return
	}
	ws.Reserve(kernels.Workers(), 2)
	a, dwg := kernels.Buffer[T](ws, 0, 0, d.N*kg), kernels.Buffer[T](ws, 0, 1, d.P*kg)
	kernels.Parallel(d.N, func(_, lo, hi int) { unroll(d, src, x, a, lo, hi) })
	kernels.Parallel(d.P, func(_, lo, hi int) {
		kernels.Matmul(true, false, hi-lo, kg, d.N, 1, dy[lo:], d.P, a, kg, 0, dwg[lo*kg:], kg)
		clear(dw[lo*d.C*kk : hi*d.C*kk])
		for q := lo; q < hi; q++ {
			for c := 0; c < d.C; c++ {
				dst := dw[(q*d.C+c)*kk : (q*d.C+c+1)*kk]
				g := dwg[(q*d.C+c)*nt : (q*d.C+c+1)*nt]
				for t, tap := range taps {
					dst[tap] = g[t]
				}
			}
		}
	})
}
