// One entry point per kernel for every instruction set (see simd_amd64.c).

#pragma once

enum { CNN_SIMD_AVX512, CNN_SIMD_AVX2, CNN_SIMD_ISAS };

// A max pooling of windows 3 columns wide at a column stride of 2 with a column of padding on
// each side (ResNet's stem: 3x3, stride 2, padding 1), of any height, row stride and row
// padding: planes [h,w] into [oh,ow], the windows clipped to the input as
// kernels.PoolDims.Window has them.
typedef struct {
	int planes, h, w, oh, ow, kh, sh, ph;
} cnn_maxpool3;

// cnn_maxpool3_rows returns the input rows [r0, r1) of output row i's windows.
static inline void cnn_maxpool3_rows(const cnn_maxpool3 *d, int i, int *r0, int *r1) {
	const int top = i * d->sh - d->ph;
	*r0 = top > 0 ? top : 0;
	*r1 = top + d->kh < d->h ? top + d->kh : d->h;
}

// The sizes of a max pooling of planes [h][w][b] into [oh][ow][b], b channels at each
// position (a multiple of 8): the window of output (i, j) is rows [i*sh-ph, +kh) and
// columns [j*sw-pw, +kw), clipped to the input, as kernels.PoolDims.Window has them.
typedef struct {
	int planes, b, h, w, oh, ow, kh, kw, sh, sw, ph, pw;
} cnn_pool_blocked;

int cnn_simd_ok(int isa);
int cnn_simd_max_k(int isa);
void cnn_simd_weights(int isa, const float *w, float *wt, int P, int C, int K, int flip);
void cnn_simd_forward(int isa, const float *x, const float *wt, const float *b, float *y, int n,
    int C, int H, int W, int P, int K, int relu);
void cnn_simd_backward_x(int isa, const float *wt, const float *dy, float *dx, int n, int C, int H,
    int W, int P, int K, float *pad);
void cnn_simd_backward_w(int isa, const float *x, const float *dy, float *dw, int n, int C, int H,
    int W, int P, int K);
void cnn_simd_pool2(int isa, const float *x, float *y, int planes, int h, int w, int avg);
void cnn_simd_pool2_grad(int isa, const float *x, const float *dy, const float *relu, float *dx,
    int planes, int h, int w, int avg);
void cnn_simd_maxpool3(int isa, cnn_maxpool3 d, const float *x, float *y);
void cnn_simd_maxpool3_grad(int isa, cnn_maxpool3 d, const float *x, const float *y, const float *dy,
    const float *relu, float *dx);
void cnn_simd_relu(int isa, const float *x, float *y, long n);
void cnn_simd_add(int isa, const float *a, const float *b, float *y, long n, int relu);
void cnn_simd_relu_grad(int isa, const float *y, const float *dy, float *dx, long n);
void cnn_simd_sum_channels(int isa, const float *dy, int n, int C, long inner, int c0, int c1,
    float *db);
void cnn_simd_axpy(int isa, float a, const float *x, float *y, long n);
