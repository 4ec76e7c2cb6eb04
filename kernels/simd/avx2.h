// Direct float32 AVX2+FMA kernels (see avx2_amd64.c): the AVX-512 kernels of avx512_amd64.c for CPUs
// without AVX-512, with the same arguments and results.

#pragma once
#include "simd.h"

// The largest kernel side of the direct convolution kernels.
#define CNN_AVX2_MAX_K 7

int cnn_avx2_ok(void);
void cnn_avx2_weights(const float *w, float *wt, int P, int C, int K, int flip);
void cnn_avx2_forward(const float *x, const float *wt, const float *b, float *y, int n, int C, int H,
    int W, int P, int K, int relu);
void cnn_avx2_backward_x(const float *wt, const float *dy, float *dx, int n, int C, int H, int W,
    int P, int K, float *pad);
void cnn_avx2_backward_w(const float *x, const float *dy, float *dw, int n, int C, int H, int W,
    int P, int K);
void cnn_avx2_pool2(const float *x, float *y, int planes, int h, int w, int avg);
void cnn_avx2_pool2_grad(const float *x, const float *dy, const float *relu, float *dx, int planes,
    int h, int w, int avg);
void cnn_avx2_maxpool3(const cnn_maxpool3 *d, const float *x, float *y);
void cnn_avx2_maxpool3_grad(const cnn_maxpool3 *d, const float *x, const float *y, const float *dy,
    const float *relu, float *dx);
// cnn_avx2_maxpool_blocked max-pools the planes of x into y: per channel the largest value
// of the window, +0 over -0, NaN if any of them is.
void cnn_avx2_maxpool_blocked(cnn_pool_blocked d, const float *x, float *y);
// The NCHW kernel whose gradient a blocked one gives, NaN and -0 included, by the window:
// cnn_avx2_maxpool3_grad's (a window whose maximum is NaN gives its gradient to its first
// NaN), the 2x2 kernels' (to its last input; and each input takes its window's gradient as
// it is, where the others add it to +0, so that -0 stays -0), or purego's (to its first
// largest number, else to its first input).
enum { CNN_POOL_LIKE_MAXPOOL3, CNN_POOL_LIKE_POOL2, CNN_POOL_LIKE_PUREGO };
// cnn_avx2_maxpool_blocked_grad routes dy back to dx, planes blocked as in
// cnn_avx2_maxpool_blocked: to the first input of each window, in row-major order, equal to
// its maximum y (else as the kernel like says), then, where relu is given (the output of a
// ReLU before the pooling), zeroes dx where relu is not positive. With stream, dx is written
// past the cache (a large output its reader will not find there anyway). Both instruction
// sets run it: 16 channels a vector in AVX-512 measured slower on the Zen 4 (one image's stem
// pooling gradient, one core: 0.44-0.57 ms against 0.36-0.45).
void cnn_avx2_maxpool_blocked_grad(cnn_pool_blocked d, const float *x, const float *y, const float *dy,
    const float *relu, float *dx, int like, int stream);
void cnn_avx2_relu(const float *x, float *y, long n);
void cnn_avx2_add(const float *a, const float *b, float *y, long n, int relu);
void cnn_avx2_relu_grad(const float *y, const float *dy, float *dx, long n);
void cnn_avx2_sum_channels(const float *dy, int n, int C, long inner, int c0, int c1, float *db);
void cnn_avx2_axpy(float a, const float *x, float *y, long n);
