//go:build cgo

// Max pooling of channel-blocked maps in AVX2: every position holds b channels side by side,
// so a window's maximum is taken 8 channels at a time with plain vector loads. The work is
// memory-bound, and this one kernel serves AVX-512 CPUs too.

#include <immintrin.h>
#include "poolblocked.h"

#define AVX2 __attribute__((target("avx2,fma")))

// max2 is the larger of a and b, +0 over -0 (as Go's max): see avx2_amd64.c.
static inline AVX2 __m256 max2(__m256 a, __m256 b) {
	return _mm256_and_ps(_mm256_max_ps(a, b), _mm256_max_ps(b, a));
}

static inline int clip(int v, int hi) { return v < 0 ? 0 : v > hi ? hi : v; }

// maxpool_lanes writes the maximum of 8*V channels from l over the window rows [r0, r1),
// columns [c0, c1) of plane xp into yp.
#define MAXPOOL_LANES(V)                                                                          \
	static inline AVX2 void maxpool_lanes_##V(const cnn_pool_blocked *d, const float *xp, float *yp, int r0, \
	    int r1, int c0, int c1) {                                                             \
		const long b = d->b;                                                                  \
		__m256 m[V], nan[V];                                                                  \
		for (int v = 0; v < V; v++)                                                           \
			m[v] = _mm256_set1_ps(-__builtin_inff()), nan[v] = _mm256_setzero_ps();           \
		for (int r = r0; r < r1; r++)                                                         \
			for (int c = c0; c < c1; c++) {                                                   \
				const float *p = xp + ((long)r * d->w + c) * b;                               \
				for (int v = 0; v < V; v++) {                                                 \
					const __m256 x = _mm256_loadu_ps(p + 8 * v);                              \
					nan[v] = _mm256_or_ps(nan[v], _mm256_cmp_ps(x, x, _CMP_UNORD_Q));         \
					m[v] = max2(m[v], x);                                                     \
				}                                                                             \
			}                                                                                 \
		for (int v = 0; v < V; v++)                                                           \
			_mm256_storeu_ps(yp + 8 * v, _mm256_blendv_ps(m[v], _mm256_set1_ps(__builtin_nanf("")), nan[v])); \
	}
MAXPOOL_LANES(1)
MAXPOOL_LANES(2)

AVX2 void cnn_avx2_maxpool_blocked(const cnn_pool_blocked *d, const float *x, float *y) {
	const int b = d->b;
	for (int pl = 0; pl < d->planes; pl++) {
		const float *xp = x + (long)pl * d->h * d->w * b;
		for (int i = 0; i < d->oh; i++) {
			const int r0 = clip(i * d->sh - d->ph, d->h), r1 = clip(i * d->sh - d->ph + d->kh, d->h);
			for (int j = 0; j < d->ow; j++, y += b) {
				const int c0 = clip(j * d->sw - d->pw, d->w), c1 = clip(j * d->sw - d->pw + d->kw, d->w);
				int l = 0;
				for (; l + 16 <= b; l += 16)
					maxpool_lanes_2(d, xp + l, y + l, r0, r1, c0, c1);
				if (l < b)
					maxpool_lanes_1(d, xp + l, y + l, r0, r1, c0, c1);
			}
		}
	}
}
