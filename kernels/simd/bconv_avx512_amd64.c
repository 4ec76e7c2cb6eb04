//go:build cgo

// The broadcast convolution in AVX-512: a block of 4 output positions for a group of 64
// filters held in 16 registers; each weight vector is loaded once for the block and each
// input value broadcast once for the group. On maps of 2x2 and smaller one block covers the
// map, so the weights stream through once at the speed of the cache they come from.

#include <immintrin.h>
#include "bconv.h"

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,fma")))
#define G CNN_AVX512_BCONV_G
#define OB CNN_AVX512_BCONV_OB
// PF is how many input channels ahead the weights are prefetched.
#define PF 16
#define V (G / 16)

// relu as in avx512_amd64.c: NaN kept, -0 made +0.
static inline AVX512 __m512 bconv_relu(__m512 v) {
	const __m512 zero = _mm512_setzero_ps();
	return _mm512_add_ps(_mm512_max_ps(zero, v), zero);
}

// BLOCK(NP) computes one unit with its first NP positions real (the others repeat offsets
// of the first and are not stored).
#define BLOCK(NP)                                                                                 \
	static AVX512 void bconv_block_##NP(const cnn_bconv *d, const cnn_bconv_args *a, const float *xp, float *y, int gi, int bi) { \
		__m512 acc[NP][V];                                                                \
		_Pragma("GCC unroll 4") for (int v = 0; v < V; v++) {                             \
			const __m512 b = a->b ? _mm512_loadu_ps(a->b + gi * G + 16 * v) : _mm512_setzero_ps(); \
			_Pragma("GCC unroll 4") for (int i = 0; i < NP; i++) acc[i][v] = b;           \
		}                                                                                 \
		for (int t = 0; t < d->taps; t++) {                                               \
			if (!a->used[bi * d->taps + t])                                               \
				continue;                                                                 \
			const int *off = a->off + (bi * d->taps + t) * OB;                            \
			const float *x[NP];                                                           \
			_Pragma("GCC unroll 4") for (int i = 0; i < NP; i++) x[i] = xp + off[i];      \
			const float *w = a->w + ((long)gi * d->taps + t) * d->C * G;                  \
			for (int c = 0; c < d->C; c++, w += G) {                                      \
				_mm_prefetch((const char *)(w + PF * G + 0), _MM_HINT_T0);       \
				_mm_prefetch((const char *)(w + PF * G + 16), _MM_HINT_T0);       \
				_mm_prefetch((const char *)(w + PF * G + 32), _MM_HINT_T0);       \
				_mm_prefetch((const char *)(w + PF * G + 48), _MM_HINT_T0);       \
				__m512 wv[V];                                                             \
				_Pragma("GCC unroll 4") for (int v = 0; v < V; v++) wv[v] = _mm512_loadu_ps(w + 16 * v); \
				_Pragma("GCC unroll 4") for (int i = 0; i < NP; i++) {                    \
					const __m512 xv = _mm512_set1_ps(x[i][(long)c * d->plane]);           \
					_Pragma("GCC unroll 4") for (int v = 0; v < V; v++)                   \
						acc[i][v] = _mm512_fmadd_ps(wv[v], xv, acc[i][v]);                \
				}                                                                         \
			}                                                                             \
		}                                                                                 \
		float out[NP][G];                                                                 \
		_Pragma("GCC unroll 4") for (int i = 0; i < NP; i++)                              \
		_Pragma("GCC unroll 4") for (int v = 0; v < V; v++)                               \
			_mm512_storeu_ps(out[i] + 16 * v, d->relu ? bconv_relu(acc[i][v]) : acc[i][v]); \
		const int q0 = gi * G, q1 = q0 + G < d->P ? q0 + G : d->P, o0 = bi * OB;          \
		for (int q = q0; q < q1; q++)                                                     \
			for (int i = 0; i < NP; i++)                                                  \
				y[(long)q * d->OHW + o0 + i] = out[i][q - q0];                            \
	}

BLOCK(1)
BLOCK(2)
BLOCK(3)
BLOCK(4)

AVX512 void cnn_avx512_bconv(const cnn_bconv *d, const cnn_bconv_args *a, const float *xp, float *y, int n0, int n1,
    int u0, int u1) {
	for (int n = n0; n < n1; n++) {
		const float *xn = xp + (long)n * d->C * d->plane;
		float *yn = y + (long)n * d->P * d->OHW;
		for (int u = u0; u < u1; u++) {
			const int gi = u / d->blocks, bi = u % d->blocks, np = d->OHW - bi * OB;
			switch (np < OB ? np : OB) {
			case 1: bconv_block_1(d, a, xn, yn, gi, bi); break;
			case 2: bconv_block_2(d, a, xn, yn, gi, bi); break;
			case 3: bconv_block_3(d, a, xn, yn, gi, bi); break;
			default: bconv_block_4(d, a, xn, yn, gi, bi); break;
			}
		}
	}
}
