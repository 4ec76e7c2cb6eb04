// Direct float32 AVX-512 kernels (see avx512_amd64.c).

#pragma once
#include "simd.h"

// The largest kernel side of the direct convolution kernels.
#define CNN_AVX512_MAX_K 7

int cnn_avx512_ok(void);
void cnn_avx512_weights(const float *w, float *wt, int P, int C, int K, int flip);
void cnn_avx512_forward(const float *x, const float *wt, const float *b, float *y, int n, int C, int H,
    int W, int P, int K, int relu);
void cnn_avx512_backward_x(const float *wt, const float *dy, float *dx, int n, int C, int H, int W,
    int P, int K, float *pad);
void cnn_avx512_backward_w(const float *x, const float *dy, float *dw, int n, int C, int H, int W,
    int P, int K);
void cnn_avx512_pool2(const float *x, float *y, int planes, int h, int w, int avg);
void cnn_avx512_pool2_grad(const float *x, const float *dy, const float *relu, float *dx, int planes, int h,
    int w, int avg);
void cnn_avx512_maxpool3(const cnn_maxpool3 *d, const float *x, float *y);
void cnn_avx512_maxpool3_grad(const cnn_maxpool3 *d, const float *x, const float *y, const float *dy,
    const float *relu, float *dx);
void cnn_avx512_relu(const float *x, float *y, long n);
void cnn_avx512_add(const float *a, const float *b, float *y, long n, int relu);
void cnn_avx512_relu_grad(const float *y, const float *dy, float *dx, long n);
void cnn_avx512_sum_channels(const float *dy, int n, int C, long inner, int c0, int c1, float *db);
void cnn_avx512_axpy(float a, const float *x, float *y, long n);
