// Max pooling of maps in the channel-blocked layout (see poolblocked_amd64.go).

#pragma once

// The sizes of a max pooling of planes [h][w][b] into [oh][ow][b], b channels at each
// position (a multiple of 8): the window of output (i, j) is rows [i*sh-ph, +kh) and
// columns [j*sw-pw, +kw), clipped to the input, as kernels.PoolDims.Window has them.
typedef struct {
	int planes, b, h, w, oh, ow, kh, kw, sh, sw, ph, pw;
} cnn_pool_blocked;

// cnn_avx2_maxpool_blocked max-pools the planes of x into y: per channel the largest value
// of the window, +0 over -0, NaN if any of them is.
void cnn_avx2_maxpool_blocked(const cnn_pool_blocked *d, const float *x, float *y);
