//go:build cgo

// Direct float32 kernels in AVX2 and FMA: the kernels of avx512_amd64.c (small convolutions,
// 2x2 and stem pooling, the ReLU, per-channel sums and the SGD update) for CPUs without AVX-512. They
// take the same arguments and give the same results, bit for bit: the convolutions add their
// products in one order whatever the vector width (each output on its own lane, products fused
// in channel, window row, window column order), and the two kernels that add lanes together
// (the weight gradient and the per-channel sums) add them as the 16-lane kernels do, eight
// lanes being half of sixteen. Only the payload of a NaN may differ, and the input gradient
// where a weight is infinite or NaN: it skips the window rows that fall only on its zero
// padding, and which of them a block shares with its neighbours depends on the blocking, so
// an infinite weight times a padding zero gives NaN near the border in one build and not the
// other (as it does between the 16-lane kernel's own paths).
//
// With 16 registers of 8 lanes, not 32 of 16, the blocks are smaller: at most 12 accumulators,
// so that the values they are multiplied by fit beside them. There are no mask registers:
// a row's last, partial vector is read and written with maskload and maskstore, and the
// lanes are selected with bitwise ands of comparisons.

#include <immintrin.h>
#include <string.h>
#include "avx2.h"

#define AVX2 __attribute__((target("avx2,fma")))

int cnn_avx2_ok(void) {
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

// lanes returns the mask of the first n lanes (all for n >= 8, none for n <= 0), as maskload
// and maskstore take it: the sign bit of each 32-bit lane.
static inline AVX2 __m256i lanes(int n) {
	return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// relu keeps NaN (max returns its second operand when either is NaN): a diverged run must
// show. Adding +0 turns a -0 into +0, as Go's max(v, 0) gives.
static inline AVX2 __m256 relu(__m256 v) {
	const __m256 zero = _mm256_setzero_ps();
	return _mm256_add_ps(_mm256_max_ps(zero, v), zero);
}

// reduce16 adds up the 16 lanes lo (0..7) and hi (8..15) in the order of the 16-lane kernels'
// _mm512_reduce_add_ps as GCC defines it: the halves, then the quarters, then lanes 0+2 and
// 1+3, then those two.
static inline AVX2 float reduce16(__m256 lo, __m256 hi) {
	const __m256 h = _mm256_add_ps(hi, lo);
	const __m128 q = _mm_add_ps(_mm256_extractf128_ps(h, 1), _mm256_castps256_ps128(h));
	const __m128 p = _mm_add_ps(q, _mm_shuffle_ps(q, q, _MM_SHUFFLE(1, 0, 3, 2)));
	return _mm_cvtss_f32(p) + _mm_cvtss_f32(_mm_shuffle_ps(p, p, 1));
}

// conv_rows computes output channels [p0, p0+PB) of RY output rows from oy, in a chunk of NV
// vectors (columns c0..c0+8*NV, the last vector masked to the row), for image x [C,H,W], from
// the weights transposed to wt [C,K,K,P], over the window rows [ky0, ky1). Every loop over the
// block's accumulators is unrolled, so that they live in registers; each weight is loaded once
// for the RY rows, each input vector once for the PB filters.
#define CONV_ROWS(PB, NV, RY)                                                                     \
	static AVX2 void conv_rows_##PB##_##NV##_##RY(const float *x, const float *wt,             \
	    const float *b, float *y, int C, int H, int W, int P, int K, int OH, int OW, int oy,    \
	    int c0, int p0, int relu_, int ky0, int ky1) {                                          \
		__m256 acc[RY][PB][NV];                                                            \
		const __m256i m = lanes(OW - c0 - 8 * (NV - 1));                                   \
		_Pragma("GCC unroll 2") for (int r = 0; r < RY; r++)                               \
		_Pragma("GCC unroll 12") for (int q = 0; q < PB; q++)                              \
		_Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                               \
			acc[r][q][v] = b ? _mm256_set1_ps(b[p0 + q]) : _mm256_setzero_ps();       \
		for (int c = 0; c < C; c++) {                                                      \
			for (int ky = ky0; ky < ky1; ky++) {                                       \
				const float *xr = x + ((long)c * H + oy + ky) * W + c0;            \
				const float *wq = wt + ((long)c * K + ky) * K * P + p0;            \
				for (int kx = 0; kx < K; kx++, wq += P) {                          \
					__m256 xv[RY][NV];                                         \
					_Pragma("GCC unroll 2") for (int r = 0; r < RY; r++)       \
					_Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) {     \
						const float *s = xr + r * W + kx + 8 * v;          \
						xv[r][v] = v < NV - 1 ? _mm256_loadu_ps(s) : _mm256_maskload_ps(s, m); \
					}                                                          \
					_Pragma("GCC unroll 12") for (int q = 0; q < PB; q++) {    \
						const __m256 wv = _mm256_set1_ps(wq[q]);           \
						_Pragma("GCC unroll 2") for (int r = 0; r < RY; r++) \
						_Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) \
							acc[r][q][v] = _mm256_fmadd_ps(wv, xv[r][v], acc[r][q][v]); \
					}                                                          \
				}                                                                  \
			}                                                                          \
		}                                                                                  \
		_Pragma("GCC unroll 2") for (int r = 0; r < RY; r++)                               \
		_Pragma("GCC unroll 12") for (int q = 0; q < PB; q++)                              \
		_Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) {                             \
			const __m256 o = relu_ ? relu(acc[r][q][v]) : acc[r][q][v];                \
			float *d = y + ((long)(p0 + q) * OH + oy + r) * OW + c0 + 8 * v;           \
			if (v < NV - 1)                                                            \
				_mm256_storeu_ps(d, o);                                            \
			else                                                                       \
				_mm256_maskstore_ps(d, m, o);                                      \
		}                                                                                  \
	}

// The blocks: at most 12 accumulators (pb*nv*ry), with one or two rows.
#define R1(NV, RY) CONV_ROWS(1, NV, RY)
#define R2(NV, RY) R1(NV, RY) CONV_ROWS(2, NV, RY)
#define R3(NV, RY) R2(NV, RY) CONV_ROWS(3, NV, RY)
#define R4(NV, RY) R3(NV, RY) CONV_ROWS(4, NV, RY)
#define R6(NV, RY) R4(NV, RY) CONV_ROWS(5, NV, RY) CONV_ROWS(6, NV, RY)
#define R12(NV, RY) R6(NV, RY) CONV_ROWS(7, NV, RY) CONV_ROWS(8, NV, RY) CONV_ROWS(9, NV, RY) \
	CONV_ROWS(10, NV, RY) CONV_ROWS(11, NV, RY) CONV_ROWS(12, NV, RY)
R12(1, 1) R6(2, 1) R4(3, 1) R3(4, 1) R6(1, 2) R3(2, 2) R2(3, 2) R1(4, 2)

typedef void (*conv_rows_fn)(const float *, const float *, const float *, float *, int, int, int,
    int, int, int, int, int, int, int, int, int, int);

#define F1(NV, RY) conv_rows_1_##NV##_##RY
#define F2(NV, RY) F1(NV, RY), conv_rows_2_##NV##_##RY
#define F3(NV, RY) F2(NV, RY), conv_rows_3_##NV##_##RY
#define F4(NV, RY) F3(NV, RY), conv_rows_4_##NV##_##RY
#define F6(NV, RY) F4(NV, RY), conv_rows_5_##NV##_##RY, conv_rows_6_##NV##_##RY
#define F12(NV, RY) F6(NV, RY), conv_rows_7_##NV##_##RY, conv_rows_8_##NV##_##RY,              \
	conv_rows_9_##NV##_##RY, conv_rows_10_##NV##_##RY, conv_rows_11_##NV##_##RY,               \
	conv_rows_12_##NV##_##RY

// rows_table[nv-1][ry-1][pb-1].
static const conv_rows_fn rows_table[4][2][12] = {
	{{F12(1, 1)}, {F6(1, 2)}},
	{{F6(2, 1)}, {F3(2, 2)}},
	{{F4(3, 1)}, {F2(3, 2)}},
	{{F3(4, 1)}, {F1(4, 2)}},
};

// conv_cols computes all P (at most 16) output channels, one per lane of PV vectors, of R
// output columns from ox of row oy, over the window rows [ky0, ky1), and scatters them to
// their planes through a buffer: for maps narrower than a few vectors, with enough channels
// to fill them.
#define CONV_COLS(R, PV)                                                                          \
	static AVX2 void conv_cols_##R##_##PV(const float *x, const float *wt, const float *b,     \
	    float *y, int C, int H, int W, int P, int K, int OH, int OW, int oy, int ox, int relu_, \
	    int ky0, int ky1) {                                                                     \
		const __m256i m = lanes(P - 8 * (PV - 1));                                          \
		__m256 acc[R][PV];                                                                  \
		_Pragma("GCC unroll 2") for (int v = 0; v < PV; v++) {                              \
			__m256 bias = _mm256_setzero_ps();                                          \
			if (b) bias = v < PV - 1 ? _mm256_loadu_ps(b + 8 * v) : _mm256_maskload_ps(b + 8 * v, m); \
			_Pragma("GCC unroll 12") for (int r = 0; r < R; r++) acc[r][v] = bias;      \
		}                                                                                   \
		for (int c = 0; c < C; c++)                                                         \
			for (int ky = ky0; ky < ky1; ky++) {                                        \
				const float *xr = x + ((long)c * H + oy + ky) * W + ox;             \
				const float *wq = wt + ((long)c * K + ky) * K * P;                  \
				for (int kx = 0; kx < K; kx++, wq += P) {                           \
					__m256 wv[PV];                                              \
					_Pragma("GCC unroll 2") for (int v = 0; v < PV; v++)        \
						wv[v] = v < PV - 1 ? _mm256_loadu_ps(wq + 8 * v) : _mm256_maskload_ps(wq + 8 * v, m); \
					_Pragma("GCC unroll 12") for (int r = 0; r < R; r++) {      \
						const __m256 xb = _mm256_set1_ps(xr[kx + r]);       \
						_Pragma("GCC unroll 2") for (int v = 0; v < PV; v++) \
							acc[r][v] = _mm256_fmadd_ps(wv[v], xb, acc[r][v]); \
					}                                                           \
				}                                                                   \
			}                                                                           \
		float out[R][8 * PV];                                                               \
		_Pragma("GCC unroll 12") for (int r = 0; r < R; r++)                                \
		_Pragma("GCC unroll 2") for (int v = 0; v < PV; v++)                                \
			_mm256_storeu_ps(out[r] + 8 * v, relu_ ? relu(acc[r][v]) : acc[r][v]);      \
		float *d = y + (long)oy * OW + ox;                                                  \
		for (int p = 0; p < P; p++, d += (long)OH * OW)                                     \
			_Pragma("GCC unroll 12") for (int r = 0; r < R; r++) d[r] = out[r][p];      \
	}
#define COLS(PV) CONV_COLS(1, PV) CONV_COLS(2, PV) CONV_COLS(3, PV) CONV_COLS(4, PV) \
	CONV_COLS(5, PV) CONV_COLS(6, PV)
COLS(1) COLS(2) CONV_COLS(7, 1) CONV_COLS(8, 1) CONV_COLS(9, 1) CONV_COLS(10, 1) CONV_COLS(11, 1)
CONV_COLS(12, 1)

typedef void (*conv_cols_fn)(const float *, const float *, const float *, float *, int, int, int,
    int, int, int, int, int, int, int, int, int);
#define C6(PV) conv_cols_1_##PV, conv_cols_2_##PV, conv_cols_3_##PV, conv_cols_4_##PV, \
	conv_cols_5_##PV, conv_cols_6_##PV

// cols_table[pv-1][r-1]: at most 12 accumulators (r*pv).
static const conv_cols_fn cols_table[2][12] = {
	{C6(1), conv_cols_7_1, conv_cols_8_1, conv_cols_9_1, conv_cols_10_1, conv_cols_11_1, conv_cols_12_1},
	{C6(2)},
};

// forward convolves n images x [C,H,W] with the weights wt [C,K,K,P] (transposed). Channels
// go in the lanes where they fill more of them than a row's columns do. Where the first and
// last `zeros` rows of each image are known to be zero (the padded gradient of
// cnn_avx2_backward_x), the kernels skip the window rows that fall only on them.
static AVX2 void forward(const float *x, const float *wt, const float *b, float *y, int n, int C,
    int H, int W, int P, int K, int relu_, int zeros) {
	const int OH = H - K + 1, OW = W - K + 1;
	const int rowLanes = 8 * ((OW + 7) / 8), pv = (P + 7) / 8;
	if (P <= 16 && P * rowLanes > 8 * pv * OW) {
		const int most = 12 / pv;
		for (int i = 0; i < n; i++) {
			const float *xi = x + (long)i * C * H * W;
			float *yi = y + (long)i * P * OH * OW;
			for (int oy = 0; oy < OH; oy++) {
				int ky0 = zeros - oy, ky1 = H - zeros - oy;
				ky0 = ky0 < 0 ? 0 : ky0;
				ky1 = ky1 > K ? K : ky1;
				for (int ox = 0; ox < OW; ox += most) {
					const int r = OW - ox < most ? OW - ox : most;
					cols_table[pv - 1][r - 1](xi, wt, b, yi, C, H, W, P, K, OH, OW, oy, ox, relu_, ky0, ky1);
				}
			}
		}
		return;
	}
	for (int i = 0; i < n; i++) {
		const float *xi = x + (long)i * C * H * W;
		float *yi = y + (long)i * P * OH * OW;
		for (int c0 = 0; c0 < OW; c0 += 32) {
			const int nv = OW - c0 >= 32 ? 4 : (OW - c0 + 7) / 8;
			// Output channels in equal blocks of at most 12/nv, their accumulators held in 12
			// of the 16 registers; two rows at a time where that fits.
			const int most = 12 / nv, blocks = (P + most - 1) / most;
			for (int bk = 0; bk < blocks; bk++) {
				const int p0 = bk * P / blocks, pb = (bk + 1) * P / blocks - p0;
				const int ry = 2 * pb * nv <= 12 ? 2 : 1;
				for (int oy = 0; oy < OH;) {
					const int r = oy + ry <= OH ? ry : 1;
					// The window rows ky of output rows oy..oy+r-1 that reach a non-zero row.
					int ky0 = zeros - (oy + r - 1), ky1 = H - zeros - oy;
					ky0 = ky0 < 0 ? 0 : ky0;
					ky1 = ky1 > K ? K : ky1;
					rows_table[nv - 1][r - 1][pb - 1](xi, wt, b, yi, C, H, W, P, K, OH, OW, oy, c0, p0, relu_, ky0, ky1);
					oy += r;
				}
			}
		}
	}
}

// cnn_avx2_weights arranges w [P,C,K,K] for the kernels into wt (P*C*K*K floats): for the
// forward convolution (flip = 0) transposed to [C,K,K,P]; for the input gradient (flip = 1)
// as the forward weights of the transposed convolution, [P,K,K,C] with the window flipped.
void cnn_avx2_weights(const float *w, float *wt, int P, int C, int K, int flip) {
	const int KK = K * K;
	for (int p = 0; p < P; p++)
		for (int c = 0; c < C; c++)
			for (int k = 0; k < KK; k++) {
				const float v = w[((long)p * C + c) * KK + k];
				if (flip)
					wt[((long)p * KK + (KK - 1 - k)) * C + c] = v;
				else
					wt[((long)c * KK + k) * P + p] = v;
			}
}

// cnn_avx2_forward: y [n,P,OH,OW] = x [n,C,H,W] convolved with the weights arranged by
// cnn_avx2_weights, plus b (if not NULL), then a ReLU (relu).
AVX2 void cnn_avx2_forward(const float *x, const float *wt, const float *b, float *y, int n, int C,
    int H, int W, int P, int K, int relu_) {
	forward(x, wt, b, y, n, C, H, W, P, K, relu_, 0);
}

// cnn_avx2_backward_x: dx [n,C,H,W] from dy [n,P,OH,OW] and the weights arranged by
// cnn_avx2_weights (flipped). The input gradient is the forward convolution of dy, padded by
// K-1 on every side, with the weights flipped and their channel axes swapped. pad holds
// (OH+2K-2)*(OW+2K-2)*P floats; its border stays zero from one image to the next.
AVX2 void cnn_avx2_backward_x(const float *wt, const float *dy, float *dx, int n, int C, int H,
    int W, int P, int K, float *pad) {
	const int OH = H - K + 1, OW = W - K + 1, PH = OH + 2 * (K - 1), PW = OW + 2 * (K - 1);
	memset(pad, 0, sizeof(float) * (long)P * PH * PW);
	for (int i = 0; i < n; i++) {
		const float *dyi = dy + (long)i * P * OH * OW;
		for (int p = 0; p < P; p++)
			for (int r = 0; r < OH; r++)
				memcpy(pad + ((long)p * PH + r + K - 1) * PW + K - 1, dyi + ((long)p * OH + r) * OW,
				    sizeof(float) * OW);
		forward(pad, wt, 0, dx + (long)i * C * H * W, 1, P, PH, PW, C, K, 0, K - 1);
	}
}

// wgrad computes, for the filters [p0, p0+PB) at input channel c and window row ky, the lanes
// of the weight gradient's sums over the output rows of n images: in each of the first
// `groups` 8-column groups u of the 32-column chunk from c0, the products of dy's row and x's
// row shifted by kx, one column per lane. They go to part [PB][K][32] (lane u*8+j for column
// c0+u*8+j; the other groups are zero), to be added up as the 16-lane kernel adds its lanes.
// A group inside the map is read with plain loads, the last one masked to it (MASKED). Each
// row of x is loaded once for the PB filters.
#define WGRAD_ROWS(LOAD)                                                                          \
	for (int i = 0; i < n; i++) {                                                              \
		const float *g = dy + ((long)i * P + p0) * OH * OW + col;                          \
		const float *xr = x + ((long)i * C + c) * H * W + (long)ky * W + col;              \
		for (int oy = 0; oy < OH; oy++, g += OW, xr += W) {                                \
			__m256 gv[PB_];                                                            \
			_Pragma("GCC unroll 4") for (int q = 0; q < PB_; q++) gv[q] = LOAD(g + (long)q * OH * OW); \
			_Pragma("GCC unroll 8") for (int kx = 0; kx < K; kx++) {                   \
				const __m256 xv = LOAD(xr + kx);                                   \
				_Pragma("GCC unroll 4") for (int q = 0; q < PB_; q++)              \
					acc[q][kx] = _mm256_fmadd_ps(gv[q], xv, acc[q][kx]);       \
			}                                                                          \
		}                                                                                  \
	}
#define WGRAD(K_, PB)                                                                             \
	static AVX2 void wgrad_##K_##_##PB(const float *x, const float *dy, float *part, int n,    \
	    int C, int H, int W, int P, int p0, int c, int ky, int c0, int groups) {               \
		enum { PB_ = PB };                                                                 \
		const int K = K_, OH = H - K + 1, OW = W - K + 1;                                  \
		for (int u = 0; u < 4; u++) {                                                      \
			const int col = c0 + 8 * u;                                                \
			__m256 acc[PB][K_];                                                        \
			_Pragma("GCC unroll 4") for (int q = 0; q < PB; q++)                       \
			_Pragma("GCC unroll 8") for (int kx = 0; kx < K; kx++) acc[q][kx] = _mm256_setzero_ps(); \
			if (u < groups && col + 8 <= OW) {                                         \
				WGRAD_ROWS(_mm256_loadu_ps)                                        \
			} else if (u < groups) {                                                   \
				const __m256i m = lanes(OW - col);                                 \
				WGRAD_ROWS(MASKED)                                                 \
			}                                                                          \
			_Pragma("GCC unroll 4") for (int q = 0; q < PB; q++)                       \
			_Pragma("GCC unroll 8") for (int kx = 0; kx < K; kx++)                     \
				_mm256_storeu_ps(part + (q * K + kx) * 32 + 8 * u, acc[q][kx]);    \
		}                                                                                  \
	}
#define MASKED(p) _mm256_maskload_ps(p, m) // m: the lanes of the group inside the map

// The filter blocks: at most 12 accumulators (pb*K) beside pb+1 loaded vectors and the mask,
// within the 16 registers (a block of 4 filters of side 3, or 3 of side 4, spills).
WGRAD(1, 1) WGRAD(1, 2) WGRAD(1, 3) WGRAD(1, 4) WGRAD(2, 1) WGRAD(2, 2) WGRAD(2, 3) WGRAD(2, 4)
WGRAD(3, 1) WGRAD(3, 2) WGRAD(3, 3) WGRAD(4, 1) WGRAD(4, 2)
WGRAD(5, 1) WGRAD(5, 2) WGRAD(6, 1) WGRAD(6, 2) WGRAD(7, 1)

typedef void (*wgrad_fn)(const float *, const float *, float *, int, int, int, int, int, int, int,
    int, int, int);
static const wgrad_fn wgrad_table[7][4] = {
	{wgrad_1_1, wgrad_1_2, wgrad_1_3, wgrad_1_4}, {wgrad_2_1, wgrad_2_2, wgrad_2_3, wgrad_2_4},
	{wgrad_3_1, wgrad_3_2, wgrad_3_3}, {wgrad_4_1, wgrad_4_2},
	{wgrad_5_1, wgrad_5_2}, {wgrad_6_1, wgrad_6_2}, {wgrad_7_1},
};
static const int wgrad_most[7] = {4, 4, 3, 2, 2, 2, 1};

// cnn_avx2_backward_w: dw [P,C,K,K] = the sum over n images of dy [P,OH,OW] correlated with
// x [C,H,W]. K is at most CNN_AVX2_MAX_K. The sums are those of the 16-lane kernel: per
// column lane over the rows of a tile of images, the two 16-column halves of a 32-column
// chunk added lane by lane, the lanes reduced, and the tiles' and chunks' sums added to dw in
// turn.
AVX2 void cnn_avx2_backward_w(const float *x, const float *dy, float *dw, int n, int C, int H,
    int W, int P, int K) {
	const int OH = H - K + 1, OW = W - K + 1;
	float part[12 * 32]; // [pb][K][32]: pb*K <= 12
	memset(dw, 0, sizeof(float) * (long)P * C * K * K);
	// Images in tiles whose maps (all of x, a block of dy) stay in the L1 cache while every row
	// of the window passes over them: the 16-lane kernel's tiles, which fix the order of sums.
	const long bytes = (long)sizeof(float) * ((long)C * H * W + 4L * OH * OW);
	const int tile = bytes >= 32768 ? 1 : (int)(32768 / bytes) + 1;
	for (int i0 = 0; i0 < n; i0 += tile) {
		const int t = n - i0 < tile ? n - i0 : tile;
		const float *xt = x + (long)i0 * C * H * W, *dyt = dy + (long)i0 * P * OH * OW;
		for (int c0 = 0; c0 < OW; c0 += 32) {
			const int nv = OW - c0 > 16 ? 2 : 1, groups = (OW - c0 + 7) / 8;
			for (int p0 = 0; p0 < P;) {
				const int pb = P - p0 < wgrad_most[K - 1] ? P - p0 : wgrad_most[K - 1];
				for (int c = 0; c < C; c++)
					for (int ky = 0; ky < K; ky++) {
						wgrad_table[K - 1][pb - 1](xt, dyt, part, t, C, H, W, P, p0, c, ky, c0,
						    groups > 4 ? 4 : groups);
						for (int q = 0; q < pb; q++)
							for (int kx = 0; kx < K; kx++) {
								const float *s = part + (q * K + kx) * 32;
								__m256 lo = _mm256_loadu_ps(s), hi = _mm256_loadu_ps(s + 8);
								if (nv == 2) {
									lo = _mm256_add_ps(lo, _mm256_loadu_ps(s + 16));
									hi = _mm256_add_ps(hi, _mm256_loadu_ps(s + 24));
								}
								dw[(((long)(p0 + q) * C + c) * K + ky) * K + kx] += reduce16(lo, hi);
							}
					}
				p0 += pb;
			}
		}
	}
}

// The 2x2, stride-2 pooling windows, 8 outputs (16 inputs) at a time.

// load8 and store8 read and write the first n (up to 8) floats at p.
static inline AVX2 __m256 load8(const float *p, int n) {
	return n >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, lanes(n));
}

static inline AVX2 void store8(float *p, int n, __m256 v) {
	if (n >= 8)
		_mm256_storeu_ps(p, v);
	else
		_mm256_maskstore_ps(p, lanes(n), v);
}

// pair loads 16 inputs from row r (the first n valid) as their even and odd columns.
static inline AVX2 void pair(const float *r, int n, __m256 *e, __m256 *o) {
	const __m256 a = load8(r, n), b = load8(r + 8, n - 8);
	// Within each 128-bit half: a0 a2 b0 b2 | a4 a6 b4 b6; then the 64-bit pairs reordered.
	*e = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xd8));
	*o = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xdd)), 0xd8));
}

// unpair stores even and odd columns e and o interleaved as the first n of 16 inputs of row r.
static inline AVX2 void unpair(float *r, int n, __m256 e, __m256 o) {
	const __m256 lo = _mm256_unpacklo_ps(e, o), hi = _mm256_unpackhi_ps(e, o);
	store8(r, n, _mm256_permute2f128_ps(lo, hi, 0x20));
	store8(r + 8, n - 8, _mm256_permute2f128_ps(lo, hi, 0x31));
}

// max2 is the larger of a and b, +0 over -0 (as Go's max): max returns its second operand
// when both are zeros, so the two orders differ only there, and their bitwise and clears the
// sign if either is +0.
static inline AVX2 __m256 max2(__m256 a, __m256 b) {
	return _mm256_and_ps(_mm256_max_ps(a, b), _mm256_max_ps(b, a));
}

// max4 is the maximum of a window, NaN if any of its values is (as Go's max).
static inline AVX2 __m256 max4(__m256 a, __m256 b, __m256 c, __m256 d) {
	const __m256 m = max2(max2(a, b), max2(c, d));
	const __m256 nan = _mm256_or_ps(_mm256_cmp_ps(a, b, _CMP_UNORD_Q), _mm256_cmp_ps(c, d, _CMP_UNORD_Q));
	return _mm256_blendv_ps(m, _mm256_add_ps(a, _mm256_add_ps(b, _mm256_add_ps(c, d))), nan);
}

// cnn_avx2_pool2 pools planes [h,w] into [h/2,w/2]: the maximum of each window, or the mean
// (avg).
AVX2 void cnn_avx2_pool2(const float *x, float *y, int planes, int h, int w, int avg) {
	const int oh = h / 2, ow = w / 2;
	const __m256 quarter = _mm256_set1_ps(0.25f);
	for (int pl = 0; pl < planes; pl++) {
		const float *xp = x + (long)pl * h * w;
		float *yp = y + (long)pl * oh * ow;
		for (int i = 0; i < oh; i++)
			for (int j = 0; j < ow; j += 8) {
				const int n = 2 * (ow - j);
				__m256 a, b, c, d;
				pair(xp + (long)(2 * i) * w + 2 * j, n, &a, &b);
				pair(xp + (long)(2 * i + 1) * w + 2 * j, n, &c, &d);
				const __m256 r = avg ? _mm256_mul_ps(_mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a, b), c), d), quarter)
				                     : max4(a, b, c, d);
				store8(yp + (long)i * ow + j, ow - j, r);
			}
	}
}

// cnn_avx2_pool2_grad routes dy [h/2,w/2] back to dx [h,w] for each plane: to the first
// maximum of each window in row-major order (NaN: the last), or a quarter to each input
// (avg). Where relu is given (the output of a ReLU before the pooling), dx is then zeroed
// where relu is not positive. An odd last row or column gets no gradient.
AVX2 void cnn_avx2_pool2_grad(const float *x, const float *dy, const float *relu, float *dx,
    int planes, int h, int w, int avg) {
	const int oh = h / 2, ow = w / 2;
	const __m256 quarter = _mm256_set1_ps(0.25f), zero = _mm256_setzero_ps();
	const __m256 ones = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
	for (int pl = 0; pl < planes; pl++) {
		const long off = (long)pl * h * w;
		const float *xp = x + off, *rp = relu ? relu + off : 0;
		const float *g = dy + (long)pl * oh * ow;
		float *dp = dx + off;
		if (h % 2) memset(dp + (long)(h - 1) * w, 0, sizeof(float) * w);
		for (int i = 0; i < oh; i++) {
			float *d0 = dp + (long)(2 * i) * w, *d1 = d0 + w;
			if (w % 2) d0[w - 1] = d1[w - 1] = 0;
			for (int j = 0; j < ow; j += 8) {
				const int n = 2 * (ow - j);
				__m256 gv = load8(g + (long)i * ow + j, ow - j), da, db, dc, dd;
				if (avg) {
					gv = _mm256_mul_ps(gv, quarter);
					da = db = dc = dd = gv;
				} else {
					__m256 a, b, c, d;
					pair(xp + (long)(2 * i) * w + 2 * j, n, &a, &b);
					pair(xp + (long)(2 * i + 1) * w + 2 * j, n, &c, &d);
					// Each input's lanes where it is the window's first maximum.
					const __m256 m = max4(a, b, c, d);
					const __m256 sa = _mm256_cmp_ps(a, m, _CMP_EQ_OQ);
					const __m256 sb = _mm256_andnot_ps(sa, _mm256_cmp_ps(b, m, _CMP_EQ_OQ));
					const __m256 sab = _mm256_or_ps(sa, sb);
					const __m256 sc = _mm256_andnot_ps(sab, _mm256_cmp_ps(c, m, _CMP_EQ_OQ));
					const __m256 sd = _mm256_andnot_ps(_mm256_or_ps(sab, sc), ones);
					da = _mm256_and_ps(sa, gv), db = _mm256_and_ps(sb, gv);
					dc = _mm256_and_ps(sc, gv), dd = _mm256_and_ps(sd, gv);
				}
				if (rp) {
					__m256 a, b, c, d;
					pair(rp + (long)(2 * i) * w + 2 * j, n, &a, &b);
					pair(rp + (long)(2 * i + 1) * w + 2 * j, n, &c, &d);
					da = _mm256_and_ps(_mm256_cmp_ps(a, zero, _CMP_GT_OQ), da);
					db = _mm256_and_ps(_mm256_cmp_ps(b, zero, _CMP_GT_OQ), db);
					dc = _mm256_and_ps(_mm256_cmp_ps(c, zero, _CMP_GT_OQ), dc);
					dd = _mm256_and_ps(_mm256_cmp_ps(d, zero, _CMP_GT_OQ), dd);
				}
				unpair(d0 + 2 * j, n, da, db);
				unpair(d1 + 2 * j, n, dc, dd);
			}
		}
	}
}

// cnn_avx2_relu computes y = max(x, 0), keeping NaN; x may be y.
AVX2 void cnn_avx2_relu(const float *x, float *y, long n) {
	long i = 0;
	for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, relu(_mm256_loadu_ps(x + i)));
	if (i < n) store8(y + i, (int)(n - i), relu(load8(x + i, (int)(n - i))));
}

// cnn_avx2_add computes y = a + b, through the ReLU with relu.
AVX2 void cnn_avx2_add(const float *a, const float *b, float *y, long n, int relu_) {
	long i = 0;
	if (relu_)
		for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, relu(_mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i))));
	else
		for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
	if (i < n) {
		const int k = (int)(n - i);
		const __m256 v = _mm256_add_ps(load8(a + i, k), load8(b + i, k));
		store8(y + i, k, relu_ ? relu(v) : v);
	}
}

// cnn_avx2_relu_grad passes dy to dx where the ReLU's output y is positive (not NaN), 0
// elsewhere.
AVX2 void cnn_avx2_relu_grad(const float *y, const float *dy, float *dx, long n) {
	const __m256 zero = _mm256_setzero_ps();
	long i = 0;
	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(dx + i, _mm256_and_ps(_mm256_cmp_ps(_mm256_loadu_ps(y + i), zero, _CMP_GT_OQ),
		    _mm256_loadu_ps(dy + i)));
	if (i < n) {
		const int k = (int)(n - i);
		store8(dx + i, k, _mm256_and_ps(_mm256_cmp_ps(load8(y + i, k), zero, _CMP_GT_OQ), load8(dy + i, k)));
	}
}

// cnn_avx2_sum_channels adds up dy [n,C,inner] per channel, for channels [c0, c1), into db:
// each plane in float32 lanes, the planes in double. The lanes are the 16-lane kernel's: four
// accumulators of 16 lanes (each here two vectors, lo and hi) over 64 floats at a time, the
// tail into the first in steps of 16, the four added pairwise and their lanes reduced.
AVX2 void cnn_avx2_sum_channels(const float *dy, int n, int C, long inner, int c0, int c1, float *db) {
	for (int q = c0; q < c1; q++) {
		double total = 0;
		for (int i = 0; i < n; i++) {
			const float *v = dy + ((long)i * C + q) * inner;
			__m256 a[8]; // the four accumulators' lanes 0..7 (a[2u]) and 8..15 (a[2u+1])
			_Pragma("GCC unroll 8") for (int k = 0; k < 8; k++) a[k] = _mm256_setzero_ps();
			long j = 0;
			for (; j + 64 <= inner; j += 64)
				_Pragma("GCC unroll 8") for (int k = 0; k < 8; k++)
					a[k] = _mm256_add_ps(a[k], _mm256_loadu_ps(v + j + 8 * k));
			for (; j < inner; j += 16) {
				const int k = inner - j < 16 ? (int)(inner - j) : 16;
				a[0] = _mm256_add_ps(a[0], _mm256_maskload_ps(v + j, lanes(k)));
				a[1] = _mm256_add_ps(a[1], _mm256_maskload_ps(v + j + 8, lanes(k - 8)));
			}
			total += reduce16(_mm256_add_ps(_mm256_add_ps(a[0], a[2]), _mm256_add_ps(a[4], a[6])),
			    _mm256_add_ps(_mm256_add_ps(a[1], a[3]), _mm256_add_ps(a[5], a[7])));
		}
		db[q] = (float)total;
	}
}

// cnn_avx2_axpy computes y += a*x, the product rounded before the sum: the empty asm keeps the
// compiler from fusing the two into one multiply-add.
static inline AVX2 __m256 axpy8(__m256 a, __m256 x, __m256 y) {
	__m256 p = _mm256_mul_ps(a, x);
	__asm__("" : "+x"(p));
	return _mm256_add_ps(y, p);
}

AVX2 void cnn_avx2_axpy(float a, const float *x, float *y, long n) {
	const __m256 av = _mm256_set1_ps(a);
	long i = 0;
	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(y + i, axpy8(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
	if (i < n) {
		const int k = (int)(n - i);
		store8(y + i, k, axpy8(av, load8(x + i, k), load8(y + i, k)));
	}
}

// Max pooling of 3-column windows at a column stride of 2 (cnn_maxpool3): the kernels of
// avx512_amd64.c, 8 outputs at a time from 16 input columns.

static inline AVX2 __m256 isnan8(__m256 v) { return _mm256_cmp_ps(v, v, _CMP_UNORD_Q); }

// load8inf reads the first n (0..8) values at p, -inf in the other lanes.
static inline AVX2 __m256 load8inf(const float *p, int n) {
	if (n >= 8) return _mm256_loadu_ps(p); // a masked load would not be prefetched
	if (n <= 0) return _mm256_set1_ps(-__builtin_inff());
	const __m256i k = lanes(n);
	return _mm256_blendv_ps(_mm256_set1_ps(-__builtin_inff()), _mm256_maskload_ps(p, k), _mm256_castsi256_ps(k));
}

// split8 returns the even (e) and odd (o) columns of a then b, and o shifted by a column with
// before's last lane first (os).
static inline AVX2 void split8(__m256 a, __m256 b, __m256 before, __m256 *e, __m256 *o, __m256 *os) {
	*e = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0))),
	                                            _MM_SHUFFLE(3, 1, 2, 0)));
	*o = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1))),
	                                            _MM_SHUFFLE(3, 1, 2, 0)));
	const __m256 rot = _mm256_permutevar8x32_ps(*o, _mm256_setr_epi32(7, 0, 1, 2, 3, 4, 5, 6));
	*os = _mm256_blend_ps(rot, _mm256_permutevar8x32_ps(before, _mm256_set1_epi32(7)), 0x01);
}

// maxpool3_row writes output row i of plane xp into yr.
static AVX2 void maxpool3_row(const cnn_maxpool3 *d, const float *xp, int i, float *yr) {
	int r0, r1;
	cnn_maxpool3_rows(d, i, &r0, &r1);
	const int w = d->w;
	const __m256 inf = _mm256_set1_ps(-__builtin_inff()), qnan = _mm256_set1_ps(__builtin_nanf(""));
	__m256 before = inf;
	for (int j = 0; j < d->ow; j += 8) {
		const int c = 2 * j;
		__m256 a = inf, b = inf, na = _mm256_setzero_ps(), nb = na;
		for (int r = r0; r < r1; r++) {
			const float *row = xp + (long)r * w + c;
			const __m256 xa = load8inf(row, w - c), xb = load8inf(row + 8, w - c - 8);
			na = _mm256_or_ps(na, isnan8(xa)), nb = _mm256_or_ps(nb, isnan8(xb));
			a = max2(a, xa), b = max2(b, xb);
		}
		a = _mm256_blendv_ps(a, qnan, na), b = _mm256_blendv_ps(b, qnan, nb);
		__m256 e, o, os;
		split8(a, b, before, &e, &o, &os);
		const __m256 nan = _mm256_or_ps(_mm256_or_ps(isnan8(e), isnan8(o)), isnan8(os));
		const __m256 m = _mm256_blendv_ps(max2(max2(os, e), o), qnan, nan);
		if (d->ow - j >= 8)
			_mm256_storeu_ps(yr + j, m); // maskstore is slow where the mask is full
		else
			_mm256_maskstore_ps(yr + j, lanes(d->ow - j), m);
		before = o;
	}
}

// cnn_avx2_maxpool3 max-pools every plane of x into y.
AVX2 void cnn_avx2_maxpool3(const cnn_maxpool3 *d, const float *x, float *y) {
	for (int pl = 0; pl < d->planes; pl++)
		for (int i = 0; i < d->oh; i++)
			maxpool3_row(d, x + (long)pl * d->h * d->w, i, y + ((long)pl * d->oh + i) * d->ow);
}

// cnn_avx2_maxpool3_grad routes dy back to dx as cnn_avx512_maxpool3_grad does.
AVX2 void cnn_avx2_maxpool3_grad(const cnn_maxpool3 *d, const float *x, const float *y, const float *dy,
    const float *relu, float *dx) {
	float yrow[d->ow + 8];
	int at[8];
	const int w = d->w;
	const long in = (long)d->h * w, out = (long)d->oh * d->ow;
	const __m256i two_j = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
	const __m256 inf = _mm256_set1_ps(-__builtin_inff());
	for (int pl = 0; pl < d->planes; pl++) {
		const float *xp = x + pl * in, *rp = relu ? relu + pl * in : 0, *gp = dy + pl * out;
		float *dp = dx + pl * in;
		memset(dp, 0, sizeof(float) * in);
		for (int i = 0; i < d->oh; i++) {
			const float *yr = y ? y + pl * out + (long)i * d->ow : yrow;
			if (!y) maxpool3_row(d, xp, i, yrow);
			int r0, r1;
			cnn_maxpool3_rows(d, i, &r0, &r1);
			for (int j = 0; j < d->ow; j += 8) {
				const int c = 2 * j, n = d->ow - j < 8 ? d->ow - j : 8;
				const __m256i kn = lanes(n);
				const __m256 best = n == 8 ? _mm256_loadu_ps(yr + j) : _mm256_maskload_ps(yr + j, kn), bnan = isnan8(best);
				const __m256i in_e = _mm256_and_si256(kn, lanes((w + 1) / 2 - j));
				const __m256i in_o = _mm256_and_si256(kn, lanes(w / 2 - j));
				const __m256i below = _mm256_and_si256(kn, lanes(w / 2 + 1 - j)); // 2j-1 < w
				const __m256i in_os = j == 0 ? _mm256_blend_epi32(below, _mm256_setzero_si256(), 0x01) : below;
				const __m256i col = _mm256_add_epi32(two_j, _mm256_set1_epi32(c));
				__m256i pos = _mm256_add_epi32(_mm256_set1_epi32(r0 * w),
				    _mm256_max_epi32(_mm256_sub_epi32(col, _mm256_set1_epi32(1)), _mm256_setzero_si256()));
				__m256i found = _mm256_setzero_si256();
				for (int r = r0; r < r1; r++) {
					const float *row = xp + (long)r * w;
					const __m256 before = c > 0 ? _mm256_set1_ps(row[c - 1]) : inf;
					__m256 tap[3];
					split8(load8inf(row + c, w - c), load8inf(row + c + 8, w - c - 8), before, &tap[1], &tap[2], &tap[0]);
					const __m256i valid[3] = {in_os, in_e, in_o};
					for (int v = 0; v < 3; v++) {
						const __m256 hit = _mm256_or_ps(_mm256_cmp_ps(tap[v], best, _CMP_EQ_OQ), _mm256_and_ps(bnan, isnan8(tap[v])));
						const __m256i eq = _mm256_andnot_si256(found, _mm256_and_si256(valid[v], _mm256_castps_si256(hit)));
						pos = _mm256_blendv_epi8(pos, _mm256_add_epi32(col, _mm256_set1_epi32(r * w + v - 1)), eq);
						found = _mm256_or_si256(found, eq);
					}
				}
				_mm256_storeu_si256((__m256i *)at, pos);
				for (int l = 0; l < n; l++) {
					if (rp && !(rp[at[l]] > 0)) continue;
					dp[at[l]] += gp[(long)i * d->ow + j + l];
				}
			}
		}
	}
}

// Max pooling of channel-blocked maps (cnn_pool_blocked): every position holds b channels
// side by side, so a window's maximum is taken 8 channels at a time with plain vector loads.
// This one kernel serves AVX-512 CPUs too.

static inline int clip(int v, int hi) { return v < 0 ? 0 : v > hi ? hi : v; }

// CNN_POOL_AHEAD is how many positions ahead the blocked max pooling kernels prefetch each
// row of a window. A window's rows lie a row of the map apart (7 KB on ResNet's stem output,
// 112 positions of 16 channels), and the hardware's prefetchers did not keep the 3 streams
// coming: the forward kernel waited on these loads, 16 224x224 images' stem output on one
// core in 8.7-10.0 ms (AMD EPYC Zen 5), 4.4-5.6 with 16 ahead (4 ahead 6.5-6.9, 8 ahead
// 5.6, 32 and 48 ahead 4.7-4.8). The gradient's kernel, prefetching so, was no faster.
#define CNN_POOL_AHEAD 16

// maxpool_result is the maximum of 8 channels of plane xp over the window rows [r0, r1),
// columns [c0, c1), from the plain maximum m, bitwise and all and sum of its values (see
// maxpool_lanes): -0 only where every value had its sign set, NaN where a value is, which
// is looked for only where the sum is NaN (a NaN, or +Inf and -Inf).
static inline AVX2 __m256 maxpool_result(const cnn_pool_blocked *d, const float *xp, __m256 m, __m256 all,
    __m256 sum, int r0, int r1, int c0, int c1) {
	const __m256 magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
	const __m256 y = _mm256_and_ps(m, _mm256_or_ps(all, magnitude));
	const __m256 odd = _mm256_cmp_ps(sum, sum, _CMP_UNORD_Q);
	if (_mm256_testz_ps(odd, odd))
		return y;
	__m256 nan = _mm256_setzero_ps();
	for (int r = r0; r < r1; r++)
		for (int c = c0; c < c1; c++) {
			const __m256 x = _mm256_loadu_ps(xp + ((long)r * d->w + c) * d->b);
			nan = _mm256_or_ps(nan, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
		}
	return _mm256_blendv_ps(y, _mm256_set1_ps(__builtin_nanf("")), nan);
}

// maxpool_lanes writes the maximum of 8*V channels from l over the window rows [r0, r1),
// columns [c0, c1) of plane xp into yp, as Go's max takes it: NaN if any value is, +0 over -0.
// Three operations a value: the plain maximum, the bitwise and of the values (its sign bit
// says whether every value had its sign set: the maximum is then -0 where it is a zero, else
// +0) and their sum, which is NaN where a value is (or +Inf and -Inf meet): only then are the
// values looked at again, each checked for NaN, at two operations more each.
#define MAXPOOL_LANES(V)                                                                          \
	static inline AVX2 void maxpool_lanes_##V(const cnn_pool_blocked *d, const float *xp, float *yp, int r0, \
	    int r1, int c0, int c1) {                                                             \
		const long b = d->b;                                                                  \
		__m256 m[V], all[V], sum[V];                                                          \
		for (int v = 0; v < V; v++)                                                           \
			m[v] = _mm256_set1_ps(-__builtin_inff()), all[v] = _mm256_castsi256_ps(_mm256_set1_epi32(-1)), \
			sum[v] = _mm256_setzero_ps();                                                     \
		for (int r = r0; r < r1; r++)                                                         \
			for (int c = c0; c < c1; c++) {                                                   \
				const float *p = xp + ((long)r * d->w + c) * b;                               \
				for (int v = 0; v < V; v++) {                                                 \
					const __m256 x = _mm256_loadu_ps(p + 8 * v);                              \
					m[v] = _mm256_max_ps(m[v], x);                                            \
					all[v] = _mm256_and_ps(all[v], x), sum[v] = _mm256_add_ps(sum[v], x);     \
				}                                                                             \
			}                                                                                 \
		for (int v = 0; v < V; v++)                                                           \
			_mm256_storeu_ps(yp + 8 * v, maxpool_result(d, xp + 8 * v, m[v], all[v], sum[v], r0, r1, c0, c1)); \
	}
MAXPOOL_LANES(1)
MAXPOOL_LANES(2)

// reduced is what the kernels keep of a set of values of 8*V channels: their plain maximum,
// bitwise and and sum (see maxpool_lanes).
#define MAXPOOL_ROW3(V)                                                                           \
	typedef struct {                                                                              \
		__m256 m[V], all[V], sum[V];                                                              \
	} reduced##V;                                                                                 \
	static inline AVX2 reduced##V join##V(reduced##V a, reduced##V b) {                          \
		for (int v = 0; v < V; v++)                                                               \
			a.m[v] = _mm256_max_ps(a.m[v], b.m[v]), a.all[v] = _mm256_and_ps(a.all[v], b.all[v]), \
			a.sum[v] = _mm256_add_ps(a.sum[v], b.sum[v]);                                         \
		return a;                                                                                 \
	}                                                                                             \
	/* column##V reduces column c over the rows [r0, r1) (at least one) of plane xp. */         \
	static inline AVX2 reduced##V column##V(const cnn_pool_blocked *d, const float *xp, int r0, int r1, int c) { \
		const long rs = (long)d->w * d->b;                                                        \
		const float *p = xp + r0 * rs + (long)c * d->b;                                           \
		if (c + CNN_POOL_AHEAD < d->w)                                                            \
			for (int i = r0; i < r1; i++)                                                         \
				_mm_prefetch((const char *)(p + (i - r0) * rs + CNN_POOL_AHEAD * d->b), _MM_HINT_T0); \
		reduced##V r;                                                                             \
		for (int v = 0; v < V; v++)                                                               \
			r.m[v] = r.all[v] = r.sum[v] = _mm256_loadu_ps(p + 8 * v);                            \
		for (int i = r0 + 1; i < r1; i++) {                                                       \
			p += rs;                                                                              \
			for (int v = 0; v < V; v++) {                                                         \
				const __m256 x = _mm256_loadu_ps(p + 8 * v);                                      \
				r.m[v] = _mm256_max_ps(r.m[v], x), r.all[v] = _mm256_and_ps(r.all[v], x);         \
				r.sum[v] = _mm256_add_ps(r.sum[v], x);                                            \
			}                                                                                     \
		}                                                                                         \
		return r;                                                                                 \
	}                                                                                             \
	/* maxpool_row3_##V writes outputs [j0, j1) of the output row of window rows [r0, r1) of \
	   a 3-wide window at stride 2 for 8*V channels of plane xp into the row yp (b floats a    \
	   position), as maxpool_lanes does: a column's values, reduced once, serve the two        \
	   windows that share it, so that a value takes about two operations of each kind instead  \
	   of three. carry holds the last column reduced, from the call for the outputs before j0. */ \
	static inline AVX2 void maxpool_row3_##V(const cnn_pool_blocked *d, const float *xp, float *yp, int r0, \
	    int r1, int j0, int j1, reduced##V *carry) {                                                \
		reduced##V last = *carry; /* in registers meanwhile: the stores to yp may alias carry */ \
		yp += (long)j0 * d->b;                                                                    \
		for (int j = j0; j < j1; j++, yp += d->b) {                                               \
			/* the window's columns c, c+1, c+2, clipped to [c0, c1) */                          \
			const int c = 2 * j - d->pw, c0 = c < 0 ? 0 : c, c1 = c + 3 < d->w ? c + 3 : d->w;   \
			/* past the first window, column c0 = c is the one before's last */                \
			reduced##V r = j > 0 ? last : column##V(d, xp, r0, r1, c0);                           \
			for (int k = c0 + 1; k < c1; k++)                                                     \
				last = column##V(d, xp, r0, r1, k), r = join##V(r, last);                         \
			for (int v = 0; v < V; v++)                                                           \
				_mm256_storeu_ps(yp + 8 * v, maxpool_result(d, xp + 8 * v, r.m[v], r.all[v], r.sum[v], r0, r1, c0, c1)); \
		}                                                                                         \
		*carry = last;                                                                            \
	}
MAXPOOL_ROW3(1)
MAXPOOL_ROW3(2)

AVX2 void cnn_avx2_maxpool_blocked(cnn_pool_blocked dims, const float *x, float *y) {
	const cnn_pool_blocked *d = &dims;
	const int b = d->b;
	// A 3-wide window at stride 2 (ResNet's), padded by at most 1 so that no window is
	// empty: a row of outputs 16 channels at a time (on one 224x224 image's stem output, one
	// core, 111-114 us against 165-169 for the window at a time; on 16 of them 4.5-4.7 ms
	// against 5.5-6.1; an AMD EPYC Zen 4, AVX2 code on an AVX-512 CPU, alternating runs).
	if (d->kw == 3 && d->sw == 2 && d->pw <= 1 && 2 * d->ph < d->kh) {
		// Wide blocks (channels last) take the row an output at a time, each 16 channels of it
		// in turn, so that the window's columns stay in the core's first cache meanwhile: 16
		// stem outputs of 224x224 images, 64 channels, on one core 4.1-5.1 ms against
		// 10.8-11.8 a row for 16 channels at a time (AMD EPYC Zen 5, alternating).
		const int tile = b > 16 ? 1 : d->ow;
		reduced2 carry2[b / 16 + 1];
		reduced1 carry1;
		for (int pl = 0; pl < d->planes; pl++) {
			const float *xp = x + (long)pl * d->h * d->w * b;
			for (int i = 0; i < d->oh; i++, y += (long)d->ow * b) {
				const int r0 = clip(i * d->sh - d->ph, d->h), r1 = clip(i * d->sh - d->ph + d->kh, d->h);
				for (int j0 = 0; j0 < d->ow; j0 += tile) {
					const int j1 = j0 + tile < d->ow ? j0 + tile : d->ow;
					int l = 0;
					for (; l + 16 <= b; l += 16)
						maxpool_row3_2(d, xp + l, y + l, r0, r1, j0, j1, &carry2[l / 16]);
					if (l < b)
						maxpool_row3_1(d, xp + l, y + l, r0, r1, j0, j1, &carry1);
				}
			}
		}
		return;
	}
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

// Max pooling's input gradient on channel-blocked maps (cnn_avx2_maxpool_blocked_grad), 8
// channels a vector. A window's lanes find their tap in the NCHW kernels' order: each tap
// takes dy in the lanes where it equals the window's maximum y and no tap before it has;
// the windows add into dx in the order of the outputs, as the NCHW kernels add them.

// nan_tap returns the position (row times w plus column) that takes the gradient of
// one channel's window [r0, r1) x [c0, c1) when none of its inputs equals its maximum y (a
// NaN), as the NCHW kernel like has it (see CNN_POOL_LIKE_MAXPOOL3), xl[p*b] being the
// channel's input at position p.
static int nan_tap(const cnn_pool_blocked *d, const float *xl, float y, int r0, int r1, int c0, int c1, int like) {
	const int w = d->w;
	if (like == CNN_POOL_LIKE_POOL2) return (r1 - 1) * w + c1 - 1;
	float best = -__builtin_inff();
	int at = r0 * w + c0;
	for (int r = r0; r < r1; r++)
		for (int c = c0; c < c1; c++) {
			const float v = xl[((long)r * w + c) * d->b];
			if (like == CNN_POOL_LIKE_MAXPOOL3) {
				if (v != v && y != y) return r * w + c;
			} else if (v > best)
				best = v, at = r * w + c;
		}
	return at;
}

// maxpool_grad_row adds the gradient of output row i, window rows [r0, r1), of the 8*V
// channels from lane l into dx's rows drow[0..r1-r0) (or, like the 2x2 kernels, writes it:
// their windows do not overlap), from plane xp of x and the row's maxima yr and gradient gr
// (these three at lane l).
static inline __attribute__((always_inline)) AVX2 void maxpool_grad_row(const cnn_pool_blocked *d, int V,
    const float *xp, const float *yr, const float *gr, float *const *drow, int l, int r0, int r1, int like) {
	const long b = d->b;
	const int assign = like == CNN_POOL_LIKE_POOL2;
	for (int j = 0; j < d->ow; j++, yr += b, gr += b) {
		const int c0 = clip(j * d->sw - d->pw, d->w), c1 = clip(j * d->sw - d->pw + d->kw, d->w);
		__m256 y[2], g[2], found[2];
		for (int v = 0; v < V; v++)
			y[v] = _mm256_loadu_ps(yr + 8 * v), g[v] = _mm256_loadu_ps(gr + 8 * v), found[v] = _mm256_setzero_ps();
		for (int r = r0; r < r1; r++)
			for (int c = c0; c < c1; c++) {
				const float *xq = xp + ((long)r * d->w + c) * b;
				float *q = drow[r - r0] + c * b + l;
				for (int v = 0; v < V; v++) {
					const __m256 first = _mm256_andnot_ps(found[v], _mm256_cmp_ps(_mm256_loadu_ps(xq + 8 * v), y[v], _CMP_EQ_OQ));
					found[v] = _mm256_or_ps(found[v], first);
					const __m256 take = _mm256_and_ps(first, g[v]);
					_mm256_storeu_ps(q + 8 * v, assign ? take : _mm256_add_ps(_mm256_loadu_ps(q + 8 * v), take));
				}
			}
		// The lanes no tap equals, where the maximum is NaN: one at a time.
		for (int v = 0; v < V; v++)
			for (int left = ~_mm256_movemask_ps(found[v]) & 0xff; left; left &= left - 1) {
				const int k = 8 * v + __builtin_ctz(left), at = nan_tap(d, xp + k, yr[k], r0, r1, c0, c1, like);
				float *q = drow[at / d->w - r0] + (at % d->w) * b + l + k;
				*q = assign ? gr[k] : *q + gr[k];
			}
	}
}

static AVX2 void maxpool_grad_row_1(const cnn_pool_blocked *d, const float *xp, const float *yr, const float *gr,
    float *const *drow, int l, int r0, int r1, int like) {
	maxpool_grad_row(d, 1, xp, yr, gr, drow, l, r0, r1, like);
}

static AVX2 void maxpool_grad_row_2(const cnn_pool_blocked *d, const float *xp, const float *yr, const float *gr,
    float *const *drow, int l, int r0, int r1, int like) {
	maxpool_grad_row(d, 2, xp, yr, gr, drow, l, r0, r1, like);
}

// The most floats of dx's rows in flight that cnn_avx2_maxpool_blocked_grad keeps on its
// stack (128 KB; ResNet's stem at b16 takes 21 KB), else it adds into dx in place.
#define POOL_GRAD_RING (32 << 10)

// final_row writes row r of dx, dr, from its sums in the rows in flight, sum (the same row
// where they are added in place), zeroed where the ReLU's output rr (NULL: none) is not
// positive; streamed past the cache with stream.
static AVX2 void final_row(float *dr, const float *sum, const float *rr, long n, int stream) {
	const __m256 zero = _mm256_setzero_ps();
	if (!rr && sum == dr) return;
	for (long k = 0; k < n; k += 8) {
		__m256 v = _mm256_loadu_ps(sum + k);
		if (rr) v = _mm256_and_ps(_mm256_cmp_ps(_mm256_loadu_ps(rr + k), zero, _CMP_GT_OQ), v);
		if (stream)
			_mm256_stream_ps(dr + k, v);
		else
			_mm256_storeu_ps(dr + k, v);
	}
}

AVX2 void cnn_avx2_maxpool_blocked_grad(cnn_pool_blocked dims, const float *x, const float *y, const float *dy,
    const float *relu, float *dx, int like, int stream) {
	const cnn_pool_blocked *d = &dims;
	const long b = d->b, row = (long)d->w * b, in = d->h * row, out = (long)d->oh * d->ow * b;
	// dx's rows in flight: those the windows of the output row reach, at most kh, each zeroed
	// before the first window reaches it and written out once the last has (on the stack
	// where they fit: dx is then written once, streamed if stream says so).
	const int ring = (long)d->kh * row <= POOL_GRAD_RING;
	float sums[ring ? d->kh * row : 1];
	float *drow[d->kh];
	stream = stream && ring && ((unsigned long)dx & 31) == 0;
	for (int pl = 0; pl < d->planes; pl++) {
		const float *xp = x + pl * in, *rp = relu ? relu + pl * in : 0;
		float *dp = dx + pl * in;
#define SUMS(r) (ring ? sums + (long)((r) % d->kh) * row : dp + (long)(r) * row)
		int cleared = 0, done = 0; // rows [0, cleared) zeroed, [0, done) written out
		for (int i = 0; i <= d->oh; i++) {
			const int r0 = i < d->oh ? clip(i * d->sh - d->ph, d->h) : d->h;
			const int r1 = i < d->oh ? clip(i * d->sh - d->ph + d->kh, d->h) : d->h;
			// The rows above this output row's windows are final (those no window reached, 0).
			for (; done < r0; done++) {
				if (done >= cleared) memset(SUMS(done), 0, sizeof(float) * row), cleared = done + 1;
				final_row(dp + done * row, SUMS(done), rp ? rp + done * row : 0, row, stream);
			}
			if (i == d->oh) break;
			for (; cleared < r1; cleared++) memset(SUMS(cleared), 0, sizeof(float) * row);
			for (int r = r0; r < r1; r++) drow[r - r0] = SUMS(r);
			const long o = pl * out + (long)i * d->ow * b;
			int l = 0;
			for (; l + 16 <= b; l += 16) maxpool_grad_row_2(d, xp + l, y + o + l, dy + o + l, drow, l, r0, r1, like);
			if (l < b) maxpool_grad_row_1(d, xp + l, y + o + l, dy + o + l, drow, l, r0, r1, like);
		}
#undef SUMS
	}
	if (stream) _mm_sfence();
}
