//go:build cgo

// The kernels of each instruction set (avx512_amd64.c, avx2_amd64.c) behind one entry point
// each, chosen by a table, so that the Go binding is written once.

#include <immintrin.h>
#include <string.h>
#include "simd.h"
#include "avx2.h"
#include "avx512.h"
#include "bconv.h"

typedef void (*bconv_kernel)(const cnn_bconv *, const cnn_bconv_args *, const float *, float *, float *, int, int,
                             int, int);

typedef struct {
	int (*ok)(void);
	int max_k;
	void (*weights)(const float *, float *, int, int, int, int);
	void (*forward)(const float *, const float *, const float *, float *, int, int, int, int, int, int, int);
	void (*backward_x)(const float *, const float *, float *, int, int, int, int, int, int, float *);
	void (*backward_w)(const float *, const float *, float *, int, int, int, int, int, int);
	void (*pool2)(const float *, float *, int, int, int, int);
	void (*pool2_grad)(const float *, const float *, const float *, float *, int, int, int, int);
	void (*maxpool3)(const cnn_maxpool3 *, const float *, float *);
	void (*maxpool3_grad)(const cnn_maxpool3 *, const float *, const float *, const float *, const float *, float *);
	void (*relu)(const float *, float *, long);
	void (*relu_grad)(const float *, const float *, float *, long);
	void (*add)(const float *, const float *, float *, long, int);
	void (*sum_channels)(const float *, int, int, long, int, int, float *);
	void (*axpy)(float, const float *, float *, long);
	int bconv_g, bconv_wide_g; // the wide kernel's 0 where there is none
	bconv_kernel bconv, bconv_wide;
} isa_kernels;

static const isa_kernels isas[CNN_SIMD_ISAS] = {
	[CNN_SIMD_AVX512] = {cnn_avx512_ok, CNN_AVX512_MAX_K, cnn_avx512_weights, cnn_avx512_forward,
	                     cnn_avx512_backward_x, cnn_avx512_backward_w, cnn_avx512_pool2, cnn_avx512_pool2_grad,
	                     cnn_avx512_maxpool3, cnn_avx512_maxpool3_grad, cnn_avx512_relu, cnn_avx512_relu_grad, cnn_avx512_add, cnn_avx512_sum_channels, cnn_avx512_axpy,
	                     CNN_AVX512_BCONV_G, 0, cnn_avx512_bconv, NULL},
	[CNN_SIMD_AVX2] = {cnn_avx2_ok, CNN_AVX2_MAX_K, cnn_avx2_weights, cnn_avx2_forward,
	                   cnn_avx2_backward_x, cnn_avx2_backward_w, cnn_avx2_pool2, cnn_avx2_pool2_grad,
	                   cnn_avx2_maxpool3, cnn_avx2_maxpool3_grad, cnn_avx2_relu, cnn_avx2_relu_grad, cnn_avx2_add, cnn_avx2_sum_channels, cnn_avx2_axpy,
	                   CNN_AVX2_BCONV_G, CNN_AVX2_WIDE_BCONV_G, cnn_avx2_bconv, cnn_avx2_bconv_wide},
};

int cnn_simd_ok(int isa) { return isas[isa].ok(); }
int cnn_simd_max_k(int isa) { return isas[isa].max_k; }

void cnn_simd_weights(int isa, const float *w, float *wt, int P, int C, int K, int flip) {
	isas[isa].weights(w, wt, P, C, K, flip);
}
void cnn_simd_forward(int isa, const float *x, const float *wt, const float *b, float *y, int n,
    int C, int H, int W, int P, int K, int relu) {
	isas[isa].forward(x, wt, b, y, n, C, H, W, P, K, relu);
}
void cnn_simd_backward_x(int isa, const float *wt, const float *dy, float *dx, int n, int C, int H,
    int W, int P, int K, float *pad) {
	isas[isa].backward_x(wt, dy, dx, n, C, H, W, P, K, pad);
}
void cnn_simd_backward_w(int isa, const float *x, const float *dy, float *dw, int n, int C, int H,
    int W, int P, int K) {
	isas[isa].backward_w(x, dy, dw, n, C, H, W, P, K);
}
void cnn_simd_pool2(int isa, const float *x, float *y, int planes, int h, int w, int avg) {
	isas[isa].pool2(x, y, planes, h, w, avg);
}
void cnn_simd_pool2_grad(int isa, const float *x, const float *dy, const float *relu, float *dx,
    int planes, int h, int w, int avg) {
	isas[isa].pool2_grad(x, dy, relu, dx, planes, h, w, avg);
}
void cnn_simd_maxpool3(int isa, cnn_maxpool3 d, const float *x, float *y) { isas[isa].maxpool3(&d, x, y); }
void cnn_simd_maxpool3_grad(int isa, cnn_maxpool3 d, const float *x, const float *y, const float *dy,
    const float *relu, float *dx) {
	isas[isa].maxpool3_grad(&d, x, y, dy, relu, dx);
}
void cnn_simd_relu(int isa, const float *x, float *y, long n) { isas[isa].relu(x, y, n); }
void cnn_simd_add(int isa, const float *a, const float *b, float *y, long n, int relu) {
	isas[isa].add(a, b, y, n, relu);
}
void cnn_simd_relu_grad(int isa, const float *y, const float *dy, float *dx, long n) {
	isas[isa].relu_grad(y, dy, dx, n);
}
void cnn_simd_sum_channels(int isa, const float *dy, int n, int C, long inner, int c0, int c1,
    float *db) {
	isas[isa].sum_channels(dy, n, C, inner, c0, c1, db);
}
void cnn_simd_axpy(int isa, float a, const float *x, float *y, long n) { isas[isa].axpy(a, x, y, n); }
int cnn_simd_bconv_g(int isa, int wide) { return wide ? isas[isa].bconv_wide_g : isas[isa].bconv_g; }
void cnn_simd_bconv(int isa, int wide, const cnn_bconv *d, const float *w, const float *b, const int *tr,
    const int *tc, const float *r, const float *xp, float *y, float *part, int n0, int n1, int u0, int u1) {
	const cnn_bconv_args a = {w, b, tr, tc, r};
	(wide ? isas[isa].bconv_wide : isas[isa].bconv)(d, &a, xp, y, part, n0, n1, u0, u1);
}
const float cnn_bconv_zeros[16] __attribute__((aligned(64)));
void cnn_bconv_pad(const float *x, float *xp, int planes, int h, int w, int hp, int wp, int ph, int pw) {
	for (long p = 0; p < planes; p++)
		for (int r = 0; r < h; r++)
			memcpy(xp + (p * hp + ph + r) * wp + pw, x + (p * h + r) * w, sizeof(float) * w);
}
// interleave3 writes a0 b0 c0 a1 b1 c1 ... a3 b3 c3 from four values of each of a, b, c.
static inline void interleave3(const float *a, const float *b, const float *c, float *d) {
	const __m128 x = _mm_loadu_ps(a), y = _mm_loadu_ps(b), z = _mm_loadu_ps(c);
	const __m128 lo = _mm_unpacklo_ps(x, y), hi = _mm_unpackhi_ps(x, y); /* a0 b0 a1 b1, a2 b2 a3 b3 */
	const __m128 za = _mm_shuffle_ps(z, x, _MM_SHUFFLE(1, 1, 0, 0));      /* c0 c0 a1 a1 */
	const __m128 yz = _mm_shuffle_ps(y, z, _MM_SHUFFLE(1, 1, 1, 1));      /* b1 b1 c1 c1 */
	const __m128 zh = _mm_shuffle_ps(z, hi, _MM_SHUFFLE(3, 2, 2, 2));     /* c2 c2 a3 b3 */
	const __m128 yz3 = _mm_shuffle_ps(y, z, _MM_SHUFFLE(3, 3, 3, 3));     /* b3 b3 c3 c3 */
	_mm_storeu_ps(d, _mm_shuffle_ps(lo, za, _MM_SHUFFLE(2, 0, 1, 0)));    /* a0 b0 c0 a1 */
	_mm_storeu_ps(d + 4, _mm_shuffle_ps(yz, hi, _MM_SHUFFLE(1, 0, 2, 0))); /* b1 c1 a2 b2 */
	_mm_storeu_ps(d + 8, _mm_shuffle_ps(zh, yz3, _MM_SHUFFLE(2, 0, 2, 0))); /* c2 a3 b3 c3 */
}

void cnn_bconv_pad_last(const float *x, float *xp, int c, int h, int w, int hp, int wp, int ph, int pw, int r0,
    int r1) {
	for (int q = r0; q < r1; q++) {
		const int i = q / h, r = q % h;
		const float *src = x + ((long)i * c * h + r) * w;
		float *dst = xp + (((long)i * hp + ph + r) * wp + pw) * c;
		int j = 0;
		if (c == 3) /* an image's three colours, four positions at a time */
			for (const long hw = (long)h * w; j + 4 <= w; j += 4)
				interleave3(src + j, src + hw + j, src + 2 * hw + j, dst + 3L * j);
		for (; j < w; j++)
			for (int k = 0; k < c; k++)
				dst[(long)j * c + k] = src[(long)k * h * w + j];
	}
}
