//go:build cgo

// BatchNorm's three passes (kernels.BatchNorm) in AVX2 and FMA: float32 data, float64
// arithmetic, four lanes of double per vector, so that they compute what the Go passes
// compute to the rounding of the float64 sums. Planes of 8 values or more go row by row, the
// channel's values broadcast. Smaller planes (the 1x1 to 2x2 maps of a ResNet's last stages)
// are too short for a vector: there the passes take blocks of channels, whose planes lie one
// after the other in each image, and spread the per-channel values over the block's elements.
// The AVX-512 implementation runs these too: the passes are bound by memory, not by lanes.

#include <immintrin.h>
#include "batchnorm.h"

#define AVX2 __attribute__((target("avx2,fma")))

// BLOCK is the number of channels of a block when planes have fewer than 8 values: its
// elements, at most 7*BLOCK, and their per-element values fit on the stack.
#define BLOCK 64
#define BLOCK_LEN (BLOCK * 8)

// widen loads 8 floats as two vectors of 4 doubles.
static inline AVX2 void widen(const float *p, __m256d *lo, __m256d *hi) {
	*lo = _mm256_cvtps_pd(_mm_loadu_ps(p));
	*hi = _mm256_cvtps_pd(_mm_loadu_ps(p + 4));
}

// narrow rounds two vectors of 4 doubles to 8 floats.
static inline AVX2 __m256 narrow(__m256d lo, __m256d hi) {
	return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm256_cvtpd_ps(lo)), _mm256_cvtpd_ps(hi), 1);
}

static inline AVX2 double hsum(__m256d v) {
	const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
	return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

// relu8 keeps NaN (max returns its second operand when either is NaN) and turns -0 into +0,
// as Go's max(v, 0) does; relu1 is the same for one value.
static inline AVX2 __m256 relu8(__m256 v) {
	const __m256 zero = _mm256_setzero_ps();
	return _mm256_add_ps(_mm256_max_ps(zero, v), zero);
}

static inline float relu1(float v) { return v > 0 || v != v ? v : 0; }

// The per-element work, shared by the vector loops and the scalar tails.

// sums8 adds the 8 values of x at p (dy at g, unless it is NULL) to the sums a[0..7]: two
// vectors each of x-k, (x-k)^2, dy and dy*(x-k).
static inline AVX2 void sums8(const float *p, const float *g, __m256d k0, __m256d k1, __m256d *a) {
	__m256d x0, x1;
	widen(p, &x0, &x1);
	x0 = _mm256_sub_pd(x0, k0);
	x1 = _mm256_sub_pd(x1, k1);
	a[0] = _mm256_add_pd(a[0], x0);
	a[1] = _mm256_add_pd(a[1], x1);
	a[2] = _mm256_fmadd_pd(x0, x0, a[2]);
	a[3] = _mm256_fmadd_pd(x1, x1, a[3]);
	if (g) {
		__m256d g0, g1;
		widen(g, &g0, &g1);
		a[4] = _mm256_add_pd(a[4], g0);
		a[5] = _mm256_add_pd(a[5], g1);
		a[6] = _mm256_fmadd_pd(g0, x0, a[6]);
		a[7] = _mm256_fmadd_pd(g1, x1, a[7]);
	}
}

static inline void sums1(float x, const float *g, double k, double *t) {
	const double d = (double)x - k;
	t[0] += d;
	t[1] += d * d;
	if (g) {
		t[2] += *g;
		t[3] += *g * d;
	}
}

static inline AVX2 __m256 apply8(const float *x, __m256d m0, __m256d m1, __m256d a0, __m256d a1,
    __m256d b0, __m256d b1, int relu) {
	__m256d x0, x1;
	widen(x, &x0, &x1);
	const __m256 y = narrow(_mm256_fmadd_pd(_mm256_sub_pd(x0, m0), a0, b0),
	    _mm256_fmadd_pd(_mm256_sub_pd(x1, m1), a1, b1));
	return relu ? relu8(y) : y;
}

static inline float apply1(float x, double m, double a, double b, int relu) {
	const float y = (float)(((double)x - m) * a + b);
	return relu ? relu1(y) : y;
}

// grad8 computes dx = a*(dy - mdy - (x-mean)*inv*mds) for 8 values; v holds mean, inv, a, mdy
// and mds, two vectors each.
static inline AVX2 __m256 grad8(const float *x, const float *g, const __m256d *v) {
	__m256d x0, x1, g0, g1;
	widen(x, &x0, &x1);
	widen(g, &g0, &g1);
	const __m256d h0 = _mm256_mul_pd(_mm256_sub_pd(x0, v[0]), v[2]);
	const __m256d h1 = _mm256_mul_pd(_mm256_sub_pd(x1, v[1]), v[3]);
	const __m256d t0 = _mm256_fnmadd_pd(h0, v[8], _mm256_sub_pd(g0, v[6]));
	const __m256d t1 = _mm256_fnmadd_pd(h1, v[9], _mm256_sub_pd(g1, v[7]));
	return narrow(_mm256_mul_pd(v[4], t0), _mm256_mul_pd(v[5], t1));
}

static inline float grad1(float x, float g, const double *p) {
	const double xhat = ((double)x - p[0]) * p[1];
	return (float)(p[2] * ((double)g - p[3] - xhat * p[4]));
}

// spread sets e[j] for the elements j of a block of channels [qa,qb) with planes of hw values
// to p[stride*q + off], the value of element j's channel q.
static void spread(double *e, const double *p, int stride, int off, int qa, int qb, long hw) {
	for (int q = qa; q < qb; q++)
		for (long r = 0; r < hw; r++)
			e[(q - qa) * hw + r] = p[stride * q + off];
}

static inline AVX2 __m256d bcast(double v) { return _mm256_set1_pd(v); }

// sums_row adds the sums of one plane of hw >= 8 values to s[0..3].
static AVX2 void sums_row(const float *x, const float *dy, long hw, double k, double *s) {
	__m256d a[8];
	for (int u = 0; u < 8; u++) a[u] = _mm256_setzero_pd();
	double t[4] = {0, 0, 0, 0};
	const __m256d kv = bcast(k);
	long j = 0;
	for (; j + 8 <= hw; j += 8) sums8(x + j, dy ? dy + j : 0, kv, kv, a);
	for (; j < hw; j++) sums1(x[j], dy ? dy + j : 0, k, t);
	for (int u = 0; u < 4; u++) s[u] += hsum(_mm256_add_pd(a[2 * u], a[2 * u + 1])) + t[u];
}

// sums_block sums channels [qa,qb) of planes under 8 values: each run of 8 elements of the
// block in registers over all the images, then each channel's elements added up.
static AVX2 void sums_block(const float *x, const float *dy, int n, int C, long hw, int qa, int qb,
    const double *k, double *s) {
	double e[4][BLOCK_LEN], ke[BLOCK_LEN];
	const long len = (qb - qa) * hw, stride = (long)C * hw;
	spread(ke, k, 1, 0, qa, qb, hw);
	long j = 0;
	for (; j + 8 <= len; j += 8) {
		__m256d a[8];
		for (int u = 0; u < 8; u++) a[u] = _mm256_setzero_pd();
		const __m256d k0 = _mm256_loadu_pd(ke + j), k1 = _mm256_loadu_pd(ke + j + 4);
		for (int i = 0; i < n; i++) {
			const long o = i * stride + qa * hw + j;
			sums8(x + o, dy ? dy + o : 0, k0, k1, a);
		}
		for (int u = 0; u < 4; u++) {
			_mm256_storeu_pd(e[u] + j, a[2 * u]);
			_mm256_storeu_pd(e[u] + j + 4, a[2 * u + 1]);
		}
	}
	for (; j < len; j++) {
		double t[4] = {0, 0, 0, 0};
		for (int i = 0; i < n; i++) {
			const long o = i * stride + qa * hw + j;
			sums1(x[o], dy ? dy + o : 0, ke[j], t);
		}
		for (int u = 0; u < 4; u++) e[u][j] = t[u];
	}
	for (int q = qa; q < qb; q++)
		for (int u = 0; u < 4; u++) {
			double v = 0;
			for (long r = 0; r < hw; r++) v += e[u][(q - qa) * hw + r];
			s[4 * q + u] = v;
		}
}

AVX2 void cnn_bn_sums(const float *x, const float *dy, int n, int C, long hw, int c0, int c1,
    const double *k, double *s) {
	if (hw >= 8) { // image by image, in memory order
		for (int u = 4 * c0; u < 4 * c1; u++) s[u] = 0;
		for (int i = 0; i < n; i++)
			for (int q = c0; q < c1; q++) {
				const long o = ((long)i * C + q) * hw;
				sums_row(x + o, dy ? dy + o : 0, hw, k[q], s + 4 * q);
			}
		return;
	}
	for (int qa = c0; qa < c1; qa += BLOCK) {
		const int qb = qa + BLOCK < c1 ? qa + BLOCK : c1;
		sums_block(x, dy, n, C, hw, qa, qb, k, s);
	}
}

static AVX2 void apply_block(const float *x, float *y, int n, int C, long hw, int qa, int qb,
    const double *p, int relu) {
	double m[BLOCK_LEN], a[BLOCK_LEN], b[BLOCK_LEN];
	const long len = (qb - qa) * hw, stride = (long)C * hw;
	spread(m, p, 3, 0, qa, qb, hw);
	spread(a, p, 3, 1, qa, qb, hw);
	spread(b, p, 3, 2, qa, qb, hw);
	for (int i = 0; i < n; i++) {
		const long o = i * stride + qa * hw;
		long j = 0;
		for (; j + 8 <= len; j += 8)
			_mm256_storeu_ps(y + o + j, apply8(x + o + j, _mm256_loadu_pd(m + j), _mm256_loadu_pd(m + j + 4),
			    _mm256_loadu_pd(a + j), _mm256_loadu_pd(a + j + 4), _mm256_loadu_pd(b + j), _mm256_loadu_pd(b + j + 4), relu));
		for (; j < len; j++) y[o + j] = apply1(x[o + j], m[j], a[j], b[j], relu);
	}
}

AVX2 void cnn_bn_apply(const float *x, float *y, int n, int C, long hw, int c0, int c1, const double *p,
    int relu) {
	if (hw < 8) {
		for (int qa = c0; qa < c1; qa += BLOCK)
			apply_block(x, y, n, C, hw, qa, qa + BLOCK < c1 ? qa + BLOCK : c1, p, relu);
		return;
	}
	for (int i = 0; i < n; i++)
		for (int q = c0; q < c1; q++) {
			const long o = ((long)i * C + q) * hw;
			const double *v = p + 3 * q;
			const __m256d m = bcast(v[0]), a = bcast(v[1]), b = bcast(v[2]);
			long j = 0;
			for (; j + 8 <= hw; j += 8) _mm256_storeu_ps(y + o + j, apply8(x + o + j, m, m, a, a, b, b, relu));
			for (; j < hw; j++) y[o + j] = apply1(x[o + j], v[0], v[1], v[2], relu);
		}
}

static AVX2 void grad_block(const float *x, const float *dy, float *dx, int n, int C, long hw, int qa,
    int qb, const double *p) {
	double e[5][BLOCK_LEN];
	const long len = (qb - qa) * hw, stride = (long)C * hw;
	for (int u = 0; u < 5; u++) spread(e[u], p, 5, u, qa, qb, hw);
	for (int i = 0; i < n; i++) {
		const long o = i * stride + qa * hw;
		long j = 0;
		for (; j + 8 <= len; j += 8) {
			__m256d v[10];
			for (int u = 0; u < 5; u++) {
				v[2 * u] = _mm256_loadu_pd(e[u] + j);
				v[2 * u + 1] = _mm256_loadu_pd(e[u] + j + 4);
			}
			_mm256_storeu_ps(dx + o + j, grad8(x + o + j, dy + o + j, v));
		}
		for (; j < len; j++) {
			const double pj[5] = {e[0][j], e[1][j], e[2][j], e[3][j], e[4][j]};
			dx[o + j] = grad1(x[o + j], dy[o + j], pj);
		}
	}
}

AVX2 void cnn_bn_grad(const float *x, const float *dy, float *dx, int n, int C, long hw, int c0, int c1,
    const double *p) {
	if (hw < 8) {
		for (int qa = c0; qa < c1; qa += BLOCK)
			grad_block(x, dy, dx, n, C, hw, qa, qa + BLOCK < c1 ? qa + BLOCK : c1, p);
		return;
	}
	for (int i = 0; i < n; i++)
		for (int q = c0; q < c1; q++) {
			const long o = ((long)i * C + q) * hw;
			const double *pq = p + 5 * q;
			__m256d v[10];
			for (int u = 0; u < 5; u++) v[2 * u] = v[2 * u + 1] = bcast(pq[u]);
			long j = 0;
			for (; j + 8 <= hw; j += 8) _mm256_storeu_ps(dx + o + j, grad8(x + o + j, dy + o + j, v));
			for (; j < hw; j++) dx[o + j] = grad1(x[o + j], dy[o + j], pq);
		}
}

// The blocked passes: maps in the channel-blocked layout of b channels, where each image's
// block is a run of hw*b values in rows of ld values, lane t of a row the block's channel
// t % b. A row is the block's b values at one position (ld = b), or for blocks of 1, 2 or 4
// channels the 8 values of 8/b positions (ld = 8), so that blocks of 4, 8 or 16 channels
// fill whole vectors: the per-channel values are per lane, loaded once per vector of lanes
// rather than spread over a plane. Other blocks take what does not fill a vector value by
// value.
//
// The passes take groups of blocks that together have at most MAXW lanes, whose per-lane
// values they lay out once for all the images (on the stack), and go image by image through
// the group's runs, which lie one after the other. Blocks of more than MAXW channels go one
// at a time, in windows of MAXW lanes of each row. Within a run, the rows go in tiles of
// TILE values, each vector of lanes through the tile in turn, its per-lane values (or sums)
// in registers; the tile stays in the level-1 cache between.
#define MAXW 64
#define TILE 1024

// row_len is the length ld of the rows of a block of b channels.
static int row_len(int b) { return b < 8 && 8 % b == 0 ? 8 : b; }

// blocked is the geometry of a blocked pass: rows of ld values, of which a run has rows whole
// ones and rem values of the next; groups of per blocks, or windows of MAXW lanes.
typedef struct {
	int b, ld, per, rem;
	long rows, tile;
} blocked;

static blocked geometry(long hw, int b) {
	blocked g = {.b = b, .ld = row_len(b)};
	g.per = g.ld <= MAXW ? MAXW / g.ld : 1;
	g.rows = hw * b / g.ld;
	g.rem = hw * b % g.ld;
	g.tile = g.ld >= TILE ? 1 : TILE / g.ld;
	return g;
}

// lanes sets e[t], for the lanes [0,w) of the window at lane w0 of the rows of the block of
// b channels from channel q0, to p[stride*q + off], the value of lane t's channel q.
static void lanes(double *e, const double *p, int stride, int off, int q0, int b, int w0, int w) {
	for (int t = 0, l = w0 % b; t < w; t++, l = l + 1 < b ? l + 1 : 0) e[t] = p[stride * (q0 + l) + off];
}

// lane1 adds x (and *g) to the sums of lane t, acc[u][t].
static inline void lane1(float x, const float *g, double k, double (*acc)[MAXW], int t) {
	double v[4] = {acc[0][t], acc[1][t], acc[2][t], acc[3][t]};
	sums1(x, g, k, v);
	for (int u = 0; u < 4; u++) acc[u][t] = v[u];
}

// bsums_run adds the sums of lanes [0,w) of a run (x and dy at its window) to acc[u][l+t],
// lane t's k being ke[l+t].
static AVX2 void bsums_run(const float *x, const float *dy, const blocked *g, int w, int l,
    const double *ke, double (*acc)[MAXW]) {
	const long ld = g->ld, rows = g->rows;
	for (long r0 = 0; r0 < rows; r0 += g->tile) {
		const long r1 = r0 + g->tile < rows ? r0 + g->tile : rows;
		int t = 0;
		for (; t + 8 <= w; t += 8) {
			__m256d a[8];
			for (int u = 0; u < 4; u++) {
				a[2 * u] = _mm256_loadu_pd(acc[u] + l + t);
				a[2 * u + 1] = _mm256_loadu_pd(acc[u] + l + t + 4);
			}
			const __m256d k0 = _mm256_loadu_pd(ke + l + t), k1 = _mm256_loadu_pd(ke + l + t + 4);
			for (long r = r0; r < r1; r++) sums8(x + r * ld + t, dy ? dy + r * ld + t : 0, k0, k1, a);
			for (int u = 0; u < 4; u++) {
				_mm256_storeu_pd(acc[u] + l + t, a[2 * u]);
				_mm256_storeu_pd(acc[u] + l + t + 4, a[2 * u + 1]);
			}
		}
		for (; t < w; t++)
			for (long r = r0; r < r1; r++) lane1(x[r * ld + t], dy ? dy + r * ld + t : 0, ke[l + t], acc, l + t);
	}
	for (int t = 0; t < g->rem; t++)
		lane1(x[rows * ld + t], dy ? dy + rows * ld + t : 0, ke[l + t], acc, l + t);
}

AVX2 void cnn_bn_sums_blocked(const float *x, const float *dy, int n, int C, long hw, int b, int c0,
    int c1, const double *k, double *s) {
	const blocked g = geometry(hw, b);
	for (int u = 4 * c0; u < 4 * c1; u++) s[u] = 0;
	for (int q0 = c0; q0 < c1; q0 += g.per * b) {
		const int nb = g.per < (c1 - q0) / b ? g.per : (c1 - q0) / b;
		for (int w0 = 0; w0 < g.ld; w0 += MAXW) {
			const int w = g.ld - w0 < MAXW ? g.ld - w0 : MAXW;
			double acc[4][MAXW] = {{0}}, ke[MAXW];
			for (int j = 0; j < nb; j++) lanes(ke + j * w, k, 1, 0, q0 + j * b, b, w0, w);
			for (int i = 0; i < n; i++)
				for (int j = 0; j < nb; j++) {
					const long o = ((long)i * C + q0 + j * b) * hw + w0;
					bsums_run(x + o, dy ? dy + o : 0, &g, w, j * w, ke, acc);
				}
			for (int j = 0; j < nb; j++)
				for (int t = 0, l = w0 % b; t < w; t++, l = l + 1 < b ? l + 1 : 0)
					for (int u = 0; u < 4; u++) s[4 * (q0 + j * b + l) + u] += acc[u][j * w + t];
		}
	}
}

// bapply_run computes y from x on lanes [0,w) of a run, lane t's mean, factor and shift being
// e[0..2][l+t].
static AVX2 void bapply_run(const float *x, float *y, const blocked *g, int w, int l, const double (*e)[MAXW],
    int relu) {
	const long ld = g->ld, rows = g->rows;
	for (long r0 = 0; r0 < rows; r0 += g->tile) {
		const long r1 = r0 + g->tile < rows ? r0 + g->tile : rows;
		int t = 0;
		for (; t + 8 <= w; t += 8) {
			const int j = l + t;
			const __m256d m0 = _mm256_loadu_pd(e[0] + j), m1 = _mm256_loadu_pd(e[0] + j + 4);
			const __m256d a0 = _mm256_loadu_pd(e[1] + j), a1 = _mm256_loadu_pd(e[1] + j + 4);
			const __m256d b0 = _mm256_loadu_pd(e[2] + j), b1 = _mm256_loadu_pd(e[2] + j + 4);
			for (long r = r0; r < r1; r++)
				_mm256_storeu_ps(y + r * ld + t, apply8(x + r * ld + t, m0, m1, a0, a1, b0, b1, relu));
		}
		for (; t < w; t++)
			for (long r = r0; r < r1; r++)
				y[r * ld + t] = apply1(x[r * ld + t], e[0][l + t], e[1][l + t], e[2][l + t], relu);
	}
	for (int t = 0; t < g->rem; t++)
		y[rows * ld + t] = apply1(x[rows * ld + t], e[0][l + t], e[1][l + t], e[2][l + t], relu);
}

AVX2 void cnn_bn_apply_blocked(const float *x, float *y, int n, int C, long hw, int b, int c0, int c1,
    const double *p, int relu) {
	const blocked g = geometry(hw, b);
	for (int q0 = c0; q0 < c1; q0 += g.per * b) {
		const int nb = g.per < (c1 - q0) / b ? g.per : (c1 - q0) / b;
		for (int w0 = 0; w0 < g.ld; w0 += MAXW) {
			const int w = g.ld - w0 < MAXW ? g.ld - w0 : MAXW;
			double e[3][MAXW];
			for (int j = 0; j < nb; j++)
				for (int u = 0; u < 3; u++) lanes(e[u] + j * w, p, 3, u, q0 + j * b, b, w0, w);
			for (int i = 0; i < n; i++)
				for (int j = 0; j < nb; j++) {
					const long o = ((long)i * C + q0 + j * b) * hw + w0;
					bapply_run(x + o, y + o, &g, w, j * w, e, relu);
				}
		}
	}
}

// bgrad_run computes dx from x and dy on lanes [0,w) of a run, lane t's five values of
// grad8 being e[0..4][l+t].
static AVX2 void bgrad_run(const float *x, const float *dy, float *dx, const blocked *g, int w, int l,
    const double (*e)[MAXW]) {
	const long ld = g->ld, rows = g->rows;
	for (long r0 = 0; r0 < rows; r0 += g->tile) {
		const long r1 = r0 + g->tile < rows ? r0 + g->tile : rows;
		int t = 0;
		for (; t + 8 <= w; t += 8) {
			__m256d v[10];
			for (int u = 0; u < 5; u++) {
				v[2 * u] = _mm256_loadu_pd(e[u] + l + t);
				v[2 * u + 1] = _mm256_loadu_pd(e[u] + l + t + 4);
			}
			for (long r = r0; r < r1; r++) _mm256_storeu_ps(dx + r * ld + t, grad8(x + r * ld + t, dy + r * ld + t, v));
		}
		for (; t < w; t++) {
			const double pt[5] = {e[0][l + t], e[1][l + t], e[2][l + t], e[3][l + t], e[4][l + t]};
			for (long r = r0; r < r1; r++) dx[r * ld + t] = grad1(x[r * ld + t], dy[r * ld + t], pt);
		}
	}
	for (int t = 0; t < g->rem; t++) {
		const long o = rows * ld + t;
		const double pt[5] = {e[0][l + t], e[1][l + t], e[2][l + t], e[3][l + t], e[4][l + t]};
		dx[o] = grad1(x[o], dy[o], pt);
	}
}

AVX2 void cnn_bn_grad_blocked(const float *x, const float *dy, float *dx, int n, int C, long hw, int b,
    int c0, int c1, const double *p) {
	const blocked g = geometry(hw, b);
	for (int q0 = c0; q0 < c1; q0 += g.per * b) {
		const int nb = g.per < (c1 - q0) / b ? g.per : (c1 - q0) / b;
		for (int w0 = 0; w0 < g.ld; w0 += MAXW) {
			const int w = g.ld - w0 < MAXW ? g.ld - w0 : MAXW;
			double e[5][MAXW];
			for (int j = 0; j < nb; j++)
				for (int u = 0; u < 5; u++) lanes(e[u] + j * w, p, 5, u, q0 + j * b, b, w0, w);
			for (int i = 0; i < n; i++)
				for (int j = 0; j < nb; j++) {
					const long o = ((long)i * C + q0 + j * b) * hw + w0;
					bgrad_run(x + o, dy + o, dx + o, &g, w, j * w, e);
				}
		}
	}
}
