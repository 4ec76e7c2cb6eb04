//go:build cgo

package simd

// #include "poolblocked.h"
import "C"

import "github.com/nndl/cnn/kernels"

// AcceptsBlockedMaxPool takes max pooling of maps blocked by a multiple of 8 channels.
func (direct) AcceptsBlockedMaxPool(d kernels.PoolDims, b int) bool {
	return d.Mode == kernels.PoolMax && b%8 == 0 && d.G.DH == 1 && d.G.DW == 1
}

// MaxPoolBlocked runs cnn_avx2_maxpool_blocked: both instruction sets have AVX2.
func (direct) MaxPoolBlocked(d kernels.PoolDims, b int, x, y []float32) {
	if d.Planes == 0 {
		return
	}
	g := d.G
	p := C.cnn_pool_blocked{planes: C.int(d.Planes / b), b: C.int(b), h: C.int(d.H), w: C.int(d.W), oh: C.int(d.OH), ow: C.int(d.OW),
		kh: C.int(g.KH), kw: C.int(g.KW), sh: C.int(g.SH), sw: C.int(g.SW), ph: C.int(g.PH), pw: C.int(g.PW)}
	C.cnn_avx2_maxpool_blocked(&p, ptr(x), ptr(y))
}
