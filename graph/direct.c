//go:build dnnl

// Direct float32 kernels for small convolutions and 2x2 pooling (LeNet-5's layers), in
// AVX-512. A convolution with stride 1, no padding and a few channels is too small for
// oneDNN's blocked layouts to pay off: its kernels pad 6 channels to 16 and reorder every
// map in and out. These work on the maps as they lie (NCHW), vectorised along the output
// rows, with the output channels held in registers. The Go side checks cnn_direct_ok before
// it calls them, and splits the images between its workers.

#include <immintrin.h>
#include <string.h>
#include "direct.h"

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,fma")))

int cnn_direct_ok(void) {
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	       __builtin_cpu_supports("avx512vl");
}

// lanes returns the mask of the first n (0..16) lanes.
static inline __mmask16 lanes(int n) {
	return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
}

// relu keeps NaN (max returns its second operand when either is NaN): a diverged run must
// show.
static inline AVX512 __m512 relu(__m512 v) { return _mm512_max_ps(_mm512_setzero_ps(), v); }

// conv_rows computes output channels [p0, p0+PB) of one output row chunk of NV vectors
// (columns c0..c0+16*NV, masked to the row) for image x [C,H,W], from the weights transposed
// to wt [C,K,K,P]. Every loop over the block's accumulators is unrolled, so that they live
// in registers.
#define CONV_ROWS(PB, NV)                                                                         \
	static AVX512 void conv_rows_##PB##_##NV(const float *x, const float *wt, const float *b,  \
	    float *y, int C, int H, int W, int P, int K, int OH, int OW, int oy, int c0, int p0,    \
	    int relu_) {                                                                            \
		__m512 acc[PB][NV];                                                                \
		__mmask16 m[NV];                                                                   \
		_Pragma("GCC unroll 2") for (int v = 0; v < NV; v++) m[v] = lanes(OW - c0 - 16 * v); \
		_Pragma("GCC unroll 16") for (int q = 0; q < PB; q++)                              \
		_Pragma("GCC unroll 2") for (int v = 0; v < NV; v++)                               \
			acc[q][v] = b ? _mm512_set1_ps(b[p0 + q]) : _mm512_setzero_ps();          \
		const float *wq = wt + p0;                                                         \
		for (int c = 0; c < C; c++) {                                                      \
			for (int ky = 0; ky < K; ky++) {                                           \
				const float *xr = x + ((long)c * H + oy + ky) * W + c0;            \
				for (int kx = 0; kx < K; kx++, wq += P) {                          \
					__m512 xv[NV];                                             \
					_Pragma("GCC unroll 2") for (int v = 0; v < NV; v++)       \
						xv[v] = _mm512_maskz_loadu_ps(m[v], xr + kx + 16 * v); \
					_Pragma("GCC unroll 16") for (int q = 0; q < PB; q++) {    \
						const __m512 wv = _mm512_set1_ps(wq[q]);           \
						_Pragma("GCC unroll 2") for (int v = 0; v < NV; v++) \
							acc[q][v] = _mm512_fmadd_ps(wv, xv[v], acc[q][v]); \
					}                                                          \
				}                                                                  \
			}                                                                          \
		}                                                                                  \
		_Pragma("GCC unroll 16") for (int q = 0; q < PB; q++)                              \
		_Pragma("GCC unroll 2") for (int v = 0; v < NV; v++) {                             \
			const __m512 r = relu_ ? relu(acc[q][v]) : acc[q][v];                      \
			_mm512_mask_storeu_ps(y + ((long)(p0 + q) * OH + oy) * OW + c0 + 16 * v, m[v], r); \
		}                                                                                  \
	}

#define CONV_SIZES(NV)                                                                          \
	CONV_ROWS(1, NV) CONV_ROWS(2, NV) CONV_ROWS(3, NV) CONV_ROWS(4, NV) CONV_ROWS(5, NV)      \
	CONV_ROWS(6, NV) CONV_ROWS(7, NV) CONV_ROWS(8, NV) CONV_ROWS(9, NV) CONV_ROWS(10, NV)     \
	CONV_ROWS(11, NV) CONV_ROWS(12, NV)
CONV_SIZES(1)
CONV_SIZES(2)
CONV_ROWS(13, 1) CONV_ROWS(14, 1) CONV_ROWS(15, 1) CONV_ROWS(16, 1)

typedef void (*conv_rows_fn)(const float *, const float *, const float *, float *, int, int, int,
    int, int, int, int, int, int, int, int);

#define ROWS_TABLE(NV)                                                                          \
	{conv_rows_1_##NV, conv_rows_2_##NV, conv_rows_3_##NV, conv_rows_4_##NV, conv_rows_5_##NV, \
	 conv_rows_6_##NV, conv_rows_7_##NV, conv_rows_8_##NV, conv_rows_9_##NV, conv_rows_10_##NV, \
	 conv_rows_11_##NV, conv_rows_12_##NV
static const conv_rows_fn rows_table[2][16] = {
	ROWS_TABLE(1), conv_rows_13_1, conv_rows_14_1, conv_rows_15_1, conv_rows_16_1},
	ROWS_TABLE(2)}};

// forward convolves n images x [C,H,W] with the weights wt [C,K,K,P] (transposed).
static AVX512 void forward(const float *x, const float *wt, const float *b, float *y, int n, int C,
    int H, int W, int P, int K, int relu_) {
	const int OH = H - K + 1, OW = W - K + 1;
	for (int i = 0; i < n; i++) {
		const float *xi = x + (long)i * C * H * W;
		float *yi = y + (long)i * P * OH * OW;
		for (int c0 = 0; c0 < OW; c0 += 32) {
			const int nv = OW - c0 > 16 ? 2 : 1;
			// Output channels in equal blocks of at most 16 (one vector a row) or 12 (two),
			// their accumulators held in 16 or 24 of the 32 registers.
			const int most = nv == 1 ? 16 : 12, blocks = (P + most - 1) / most;
			for (int bk = 0; bk < blocks; bk++) {
				const int p0 = bk * P / blocks, pb = (bk + 1) * P / blocks - p0;
				const conv_rows_fn f = rows_table[nv - 1][pb - 1];
				for (int oy = 0; oy < OH; oy++)
					f(xi, wt, b, yi, C, H, W, P, K, OH, OW, oy, c0, p0, relu_);
			}
		}
	}
}

// cnn_direct_forward: y [n,P,OH,OW] = x [n,C,H,W] convolved with w [P,C,K,K], plus b (if not
// NULL), then a ReLU (relu). wt holds P*C*K*K floats.
AVX512 void cnn_direct_forward(const float *x, const float *w, const float *b, float *y, int n,
    int C, int H, int W, int P, int K, int relu_, float *wt) {
	const long ckk = (long)C * K * K;
	for (int p = 0; p < P; p++)
		for (long j = 0; j < ckk; j++) wt[j * P + p] = w[p * ckk + j];
	forward(x, wt, b, y, n, C, H, W, P, K, relu_);
}

// cnn_direct_backward_x: dx [n,C,H,W] from w [P,C,K,K] and dy [n,P,OH,OW]. The input
// gradient is the forward convolution of dy, padded by K-1 on every side, with the weights
// flipped and their channel axes swapped. pad holds (OH+2K-2)*(OW+2K-2)*P floats and wt
// P*C*K*K.
AVX512 void cnn_direct_backward_x(const float *w, const float *dy, float *dx, int n, int C, int H,
    int W, int P, int K, float *pad, float *wt) {
	const int OH = H - K + 1, OW = W - K + 1, PH = OH + 2 * (K - 1), PW = OW + 2 * (K - 1);
	const int KK = K * K;
	// As forward weights [C,P,K,K] flipped, transposed: wt [P,K,K,C].
	for (int p = 0; p < P; p++)
		for (int c = 0; c < C; c++)
			for (int k = 0; k < KK; k++)
				wt[((long)p * KK + (KK - 1 - k)) * C + c] = w[((long)p * C + c) * KK + k];
	memset(pad, 0, sizeof(float) * (long)P * PH * PW);
	for (int i = 0; i < n; i++) {
		const float *dyi = dy + (long)i * P * OH * OW;
		for (int p = 0; p < P; p++)
			for (int r = 0; r < OH; r++)
				memcpy(pad + ((long)p * PH + r + K - 1) * PW + K - 1, dyi + ((long)p * OH + r) * OW,
				    sizeof(float) * OW);
		forward(pad, wt, 0, dx + (long)i * C * H * W, 1, P, PH, PW, C, K, 0);
	}
}

// wgrad_rows adds to dw [K] (row ky of one filter's channel) the products of NV-vector row
// chunks of dy and x, over the output rows of n images.
#define WGRAD(K_, NV)                                                                           \
	static AVX512 void wgrad_##K_##_##NV(const float *x, const float *dy, float *dw,   \
	    int n, int C, int H, int W, int P, int p, int c, int ky, int c0) {                     \
		const int K = K_, OH = H - K + 1, OW = W - K + 1;                                  \
		__m512 acc[K_][NV];                                                                \
		__mmask16 m[NV];                                                                   \
		_Pragma("GCC unroll 2") for (int v = 0; v < NV; v++) m[v] = lanes(OW - c0 - 16 * v); \
		_Pragma("GCC unroll 8") for (int kx = 0; kx < K; kx++)                             \
		_Pragma("GCC unroll 2") for (int v = 0; v < NV; v++) acc[kx][v] = _mm512_setzero_ps(); \
		for (int i = 0; i < n; i++) {                                                      \
			const float *g = dy + ((long)i * P + p) * OH * OW + c0;                    \
			const float *xr = x + ((long)i * C + c) * H * W + (long)ky * W + c0;       \
			for (int oy = 0; oy < OH; oy++, g += OW, xr += W) {                        \
				__m512 gv[NV];                                                     \
				_Pragma("GCC unroll 2") for (int v = 0; v < NV; v++)               \
					gv[v] = _mm512_maskz_loadu_ps(m[v], g + 16 * v);           \
				_Pragma("GCC unroll 8") for (int kx = 0; kx < K; kx++)             \
				_Pragma("GCC unroll 2") for (int v = 0; v < NV; v++)               \
						acc[kx][v] = _mm512_fmadd_ps(gv[v],                \
						    _mm512_maskz_loadu_ps(m[v], xr + kx + 16 * v), acc[kx][v]); \
			}                                                                          \
		}                                                                                  \
		_Pragma("GCC unroll 8") for (int kx = 0; kx < K; kx++) {                           \
			__m512 s = acc[kx][0];                                                     \
			_Pragma("GCC unroll 2") for (int v = 1; v < NV; v++) s = _mm512_add_ps(s, acc[kx][v]); \
			dw[kx] += _mm512_reduce_add_ps(s);                                         \
		}                                                                                  \
	}

#define WGRAD_K(K_) WGRAD(K_, 1) WGRAD(K_, 2)
WGRAD_K(1) WGRAD_K(2) WGRAD_K(3) WGRAD_K(4) WGRAD_K(5) WGRAD_K(6) WGRAD_K(7)

typedef void (*wgrad_fn)(const float *, const float *, float *, int, int, int, int, int, int, int,
    int, int);
#define WG(K_) {wgrad_##K_##_1, wgrad_##K_##_2}
static const wgrad_fn wgrad_table[7][2] = {WG(1), WG(2), WG(3), WG(4), WG(5), WG(6), WG(7)};

// cnn_direct_backward_w: dw [P,C,K,K] = the sum over n images of dy [P,OH,OW] correlated
// with x [C,H,W]. K is at most CNN_DIRECT_MAX_K.
AVX512 void cnn_direct_backward_w(const float *x, const float *dy, float *dw, int n, int C, int H,
    int W, int P, int K) {
	const int OW = W - K + 1;
	memset(dw, 0, sizeof(float) * (long)P * C * K * K);
	for (int p = 0; p < P; p++)
		for (int c = 0; c < C; c++)
			for (int ky = 0; ky < K; ky++)
				for (int c0 = 0; c0 < OW; c0 += 32) {
					const int nv = OW - c0 > 16 ? 2 : 1;
					wgrad_table[K - 1][nv - 1](x, dy, dw + (((long)p * C + c) * K + ky) * K, n, C,
					    H, W, P, p, c, ky, c0);
				}
}

// The 2x2, stride-2 pooling windows, 16 outputs (32 inputs) at a time.

static const int even_idx[16] = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};
static const int low_idx[16] = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23};

// pair loads 32 inputs from row r (the first n valid) as their even and odd columns.
static inline AVX512 void pair(const float *r, int n, __m512 *e, __m512 *o) {
	const __m512 a = _mm512_maskz_loadu_ps(lanes(n), r), b = _mm512_maskz_loadu_ps(lanes(n - 16), r + 16);
	const __m512i ie = _mm512_loadu_si512(even_idx), io = _mm512_add_epi32(ie, _mm512_set1_epi32(1));
	*e = _mm512_permutex2var_ps(a, ie, b);
	*o = _mm512_permutex2var_ps(a, io, b);
}

// unpair stores even and odd columns e and o interleaved as the first n of 32 inputs of row r.
static inline AVX512 void unpair(float *r, int n, __m512 e, __m512 o) {
	const __m512i il = _mm512_loadu_si512(low_idx), ih = _mm512_add_epi32(il, _mm512_set1_epi32(8));
	_mm512_mask_storeu_ps(r, lanes(n), _mm512_permutex2var_ps(e, il, o));
	_mm512_mask_storeu_ps(r + 16, lanes(n - 16), _mm512_permutex2var_ps(e, ih, o));
}

// max4 is the maximum of a window, NaN if any of its values is (as Go's max).
static inline AVX512 __m512 max4(__m512 a, __m512 b, __m512 c, __m512 d) {
	const __m512 m = _mm512_max_ps(_mm512_max_ps(a, b), _mm512_max_ps(c, d));
	const __mmask16 nan = _mm512_cmp_ps_mask(a, b, _CMP_UNORD_Q) | _mm512_cmp_ps_mask(c, d, _CMP_UNORD_Q);
	return _mm512_mask_add_ps(m, nan, a, _mm512_add_ps(b, _mm512_add_ps(c, d)));
}

// cnn_pool2 pools planes [h,w] into [h/2,w/2]: the maximum of each window, or the mean (avg).
AVX512 void cnn_pool2(const float *x, float *y, int planes, int h, int w, int avg) {
	const int oh = h / 2, ow = w / 2;
	const __m512 quarter = _mm512_set1_ps(0.25f);
	for (int pl = 0; pl < planes; pl++) {
		const float *xp = x + (long)pl * h * w;
		float *yp = y + (long)pl * oh * ow;
		for (int i = 0; i < oh; i++)
			for (int j = 0; j < ow; j += 16) {
				const int n = 2 * (ow - j);
				__m512 a, b, c, d;
				pair(xp + (2 * i) * w + 2 * j, n, &a, &b);
				pair(xp + (2 * i + 1) * w + 2 * j, n, &c, &d);
				const __m512 r = avg ? _mm512_mul_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a, b), c), d), quarter)
				                     : max4(a, b, c, d);
				_mm512_mask_storeu_ps(yp + i * ow + j, lanes(ow - j), r);
			}
	}
}

// cnn_pool2_grad routes dy [h/2,w/2] back to dx [h,w] for each plane: to the first maximum of
// each window in row-major order (NaN: the last), or a quarter to each input (avg). Where relu
// is given (the output of a ReLU before the pooling), dx is then zeroed where relu is not
// positive. An odd last row or column gets no gradient.
AVX512 void cnn_pool2_grad(const float *x, const float *dy, const float *relu, float *dx, int planes,
    int h, int w, int avg) {
	const int oh = h / 2, ow = w / 2;
	const __m512 quarter = _mm512_set1_ps(0.25f), zero = _mm512_setzero_ps();
	for (int pl = 0; pl < planes; pl++) {
		const long off = (long)pl * h * w;
		const float *xp = x + off, *rp = relu ? relu + off : 0;
		const float *g = dy + (long)pl * oh * ow;
		float *dp = dx + off;
		if (h % 2) memset(dp + (long)(h - 1) * w, 0, sizeof(float) * w);
		for (int i = 0; i < oh; i++) {
			float *d0 = dp + (2 * i) * w, *d1 = d0 + w;
			if (w % 2) d0[w - 1] = d1[w - 1] = 0;
			for (int j = 0; j < ow; j += 16) {
				const int n = 2 * (ow - j);
				__m512 gv = _mm512_maskz_loadu_ps(lanes(ow - j), g + i * ow + j), da, db, dc, dd;
				if (avg) {
					gv = _mm512_mul_ps(gv, quarter);
					da = db = dc = dd = gv;
				} else {
					__m512 a, b, c, d;
					pair(xp + (2 * i) * w + 2 * j, n, &a, &b);
					pair(xp + (2 * i + 1) * w + 2 * j, n, &c, &d);
					const __m512 m = max4(a, b, c, d);
					const __mmask16 sa = _mm512_cmp_ps_mask(a, m, _CMP_EQ_OQ);
					const __mmask16 sb = ~sa & _mm512_cmp_ps_mask(b, m, _CMP_EQ_OQ);
					const __mmask16 sc = ~(sa | sb) & _mm512_cmp_ps_mask(c, m, _CMP_EQ_OQ);
					const __mmask16 sd = ~(sa | sb | sc);
					da = _mm512_maskz_mov_ps(sa, gv), db = _mm512_maskz_mov_ps(sb, gv);
					dc = _mm512_maskz_mov_ps(sc, gv), dd = _mm512_maskz_mov_ps(sd, gv);
				}
				if (rp) {
					__m512 a, b, c, d;
					pair(rp + (2 * i) * w + 2 * j, n, &a, &b);
					pair(rp + (2 * i + 1) * w + 2 * j, n, &c, &d);
					da = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(a, zero, _CMP_GT_OQ), da);
					db = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(b, zero, _CMP_GT_OQ), db);
					dc = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(c, zero, _CMP_GT_OQ), dc);
					dd = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(d, zero, _CMP_GT_OQ), dd);
				}
				unpair(d0 + 2 * j, n, da, db);
				unpair(d1 + 2 * j, n, dc, dd);
			}
		}
	}
}

// cnn_relu applies a ReLU in place, keeping NaN.
AVX512 void cnn_relu(float *y, long n) {
	long i = 0;
	for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, relu(_mm512_loadu_ps(y + i)));
	if (i < n) {
		const __mmask16 m = lanes((int)(n - i));
		_mm512_mask_storeu_ps(y + i, m, relu(_mm512_maskz_loadu_ps(m, y + i)));
	}
}
