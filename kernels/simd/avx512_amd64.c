//go:build cgo

// Direct float32 kernels in AVX-512: small convolutions (LeNet-5's layers), 2x2 pooling and
// ResNet's 3x3 stride-2 max pooling, the ReLU, per-channel sums and the SGD update. A convolution with stride 1, no padding and a few
// channels is too small for oneDNN's blocked layouts to pay off: its kernels pad 6 channels
// to 16 and reorder every map in and out. These work on the maps as they lie (NCHW),
// vectorised along the output rows, with a block of filters held in registers. The Go side
// (direct_amd64.go) checks cnn_avx512_ok before it calls them, and splits the images between
// its workers. Every kernel gives what the Go kernel it replaces gives: NaN kept, +0 over -0,
// the first maximum of a window taking its gradient.

#include <immintrin.h>
#include <string.h>
#include "avx512.h"

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,fma")))

int cnn_avx512_ok(void) {
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	       __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma");
}

// lanes returns the mask of the first n (0..16) lanes.
static inline __mmask16 lanes(int n) {
	return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
}

// relu keeps NaN (max returns its second operand when either is NaN): a diverged run must
// show. Adding +0 turns a -0 into +0, as Go's max(v, 0) gives.
static inline AVX512 __m512 relu(__m512 v) {
	const __m512 zero = _mm512_setzero_ps();
	return _mm512_add_ps(_mm512_max_ps(zero, v), zero);
}

// conv_rows computes output channels [p0, p0+PB) of RY output rows from oy, in a chunk of NV
// vectors (columns c0..c0+16*NV, masked to the row), for image x [C,H,W], from the weights
// transposed to wt [C,K,K,P]. Every loop over the block's accumulators is unrolled, so that
// they live in registers; each weight is loaded once for the RY rows.
#define CONV_ROWS(PB, NV, RY)                                                                     \
	static AVX512 void conv_rows_##PB##_##NV##_##RY(const float *x, const float *wt,           \
	    const float *b, float *y, int C, int H, int W, int P, int K, int OH, int OW, int oy,    \
	    int c0, int p0, int relu_, int ky0, int ky1) {                                          \
		__m512 acc[RY][PB][NV];                                                            \
		__mmask16 m[NV];                                                                   \
		_Pragma("GCC unroll 2") for (int v = 0; v < NV; v++) m[v] = lanes(OW - c0 - 16 * v); \
		_Pragma("GCC unroll 2") for (int r = 0; r < RY; r++)                               \
		_Pragma("GCC unroll 16") for (int q = 0; q < PB; q++)                              \
		_Pragma("GCC unroll 2") for (int v = 0; v < NV; v++)                               \
			acc[r][q][v] = b ? _mm512_set1_ps(b[p0 + q]) : _mm512_setzero_ps();       \
		for (int c = 0; c < C; c++) {                                                      \
			for (int ky = ky0; ky < ky1; ky++) {                                       \
				const float *xr = x + ((long)c * H + oy + ky) * W + c0;            \
				const float *wq = wt + ((long)c * K + ky) * K * P + p0;            \
				for (int kx = 0; kx < K; kx++, wq += P) {                          \
					__m512 xv[RY][NV];                                         \
					_Pragma("GCC unroll 2") for (int r = 0; r < RY; r++)       \
					_Pragma("GCC unroll 2") for (int v = 0; v < NV; v++)       \
						xv[r][v] = _mm512_maskz_loadu_ps(m[v], xr + r * W + kx + 16 * v); \
					_Pragma("GCC unroll 16") for (int q = 0; q < PB; q++) {    \
						const __m512 wv = _mm512_set1_ps(wq[q]);           \
						_Pragma("GCC unroll 2") for (int r = 0; r < RY; r++) \
						_Pragma("GCC unroll 2") for (int v = 0; v < NV; v++) \
							acc[r][q][v] = _mm512_fmadd_ps(wv, xv[r][v], acc[r][q][v]); \
					}                                                          \
				}                                                                  \
			}                                                                          \
		}                                                                                  \
		_Pragma("GCC unroll 2") for (int r = 0; r < RY; r++)                               \
		_Pragma("GCC unroll 16") for (int q = 0; q < PB; q++)                              \
		_Pragma("GCC unroll 2") for (int v = 0; v < NV; v++) {                             \
			const __m512 o = relu_ ? relu(acc[r][q][v]) : acc[r][q][v];                \
			_mm512_mask_storeu_ps(y + ((long)(p0 + q) * OH + oy + r) * OW + c0 + 16 * v, m[v], o); \
		}                                                                                  \
	}

#define CONV_SIZES(NV, RY)                                                                      \
	CONV_ROWS(1, NV, RY) CONV_ROWS(2, NV, RY) CONV_ROWS(3, NV, RY) CONV_ROWS(4, NV, RY)        \
	CONV_ROWS(5, NV, RY) CONV_ROWS(6, NV, RY)
CONV_SIZES(1, 1) CONV_SIZES(2, 1) CONV_SIZES(1, 2) CONV_SIZES(2, 2)
CONV_ROWS(7, 1, 1) CONV_ROWS(8, 1, 1) CONV_ROWS(9, 1, 1) CONV_ROWS(10, 1, 1) CONV_ROWS(11, 1, 1)
CONV_ROWS(12, 1, 1) CONV_ROWS(13, 1, 1) CONV_ROWS(14, 1, 1) CONV_ROWS(15, 1, 1) CONV_ROWS(16, 1, 1)
CONV_ROWS(7, 1, 2) CONV_ROWS(8, 1, 2) CONV_ROWS(9, 1, 2) CONV_ROWS(10, 1, 2) CONV_ROWS(11, 1, 2)
CONV_ROWS(12, 1, 2)
CONV_ROWS(7, 2, 1) CONV_ROWS(8, 2, 1) CONV_ROWS(9, 2, 1) CONV_ROWS(10, 2, 1) CONV_ROWS(11, 2, 1)
CONV_ROWS(12, 2, 1)

typedef void (*conv_rows_fn)(const float *, const float *, const float *, float *, int, int, int,
    int, int, int, int, int, int, int, int, int, int);

#define R6(NV, RY) conv_rows_1_##NV##_##RY, conv_rows_2_##NV##_##RY, conv_rows_3_##NV##_##RY, \
	conv_rows_4_##NV##_##RY, conv_rows_5_##NV##_##RY, conv_rows_6_##NV##_##RY
#define R12(NV, RY) R6(NV, RY), conv_rows_7_##NV##_##RY, conv_rows_8_##NV##_##RY,              \
	conv_rows_9_##NV##_##RY, conv_rows_10_##NV##_##RY, conv_rows_11_##NV##_##RY,               \
	conv_rows_12_##NV##_##RY

// rows_table[nv-1][ry-1][pb-1]: at most 24 accumulators (pb*nv*ry).
static const conv_rows_fn rows_table[2][2][16] = {
	{{R12(1, 1), conv_rows_13_1_1, conv_rows_14_1_1, conv_rows_15_1_1, conv_rows_16_1_1}, {R12(1, 2)}},
	{{R12(2, 1)}, {R6(2, 2)}},
};

// conv_cols computes all P (at most 16) output channels, one per lane, of R output columns
// from ox of row oy, and scatters them to their planes: for maps narrower than a vector, with
// enough channels to fill one.
#define CONV_COLS(R)                                                                              \
	static AVX512 void conv_cols_##R(const float *x, const float *wt, const float *b, float *y, \
	    int C, int H, int W, int P, int K, int OH, int OW, int oy, int ox, int relu_) {          \
		const __mmask16 m = lanes(P);                                                       \
		const __m512 bias = b ? _mm512_maskz_loadu_ps(m, b) : _mm512_setzero_ps();          \
		__m512 acc[R];                                                                      \
		_Pragma("GCC unroll 16") for (int r = 0; r < R; r++) acc[r] = bias;                 \
		const float *wq = wt;                                                               \
		for (int c = 0; c < C; c++)                                                         \
			for (int ky = 0; ky < K; ky++) {                                            \
				const float *xr = x + ((long)c * H + oy + ky) * W + ox;             \
				for (int kx = 0; kx < K; kx++, wq += P) {                           \
					const __m512 wv = _mm512_maskz_loadu_ps(m, wq);             \
					_Pragma("GCC unroll 16") for (int r = 0; r < R; r++)        \
						acc[r] = _mm512_fmadd_ps(wv, _mm512_set1_ps(xr[kx + r]), acc[r]); \
				}                                                                   \
			}                                                                           \
		const __m512i plane = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, \
		    10, 11, 12, 13, 14, 15), _mm512_set1_epi32(OH * OW));                           \
		_Pragma("GCC unroll 16") for (int r = 0; r < R; r++)                                \
			_mm512_mask_i32scatter_ps(y + (long)oy * OW + ox + r, m, plane,             \
			    relu_ ? relu(acc[r]) : acc[r], 4);                                      \
	}
CONV_COLS(1) CONV_COLS(2) CONV_COLS(3) CONV_COLS(4) CONV_COLS(5) CONV_COLS(6) CONV_COLS(7)
CONV_COLS(8) CONV_COLS(9) CONV_COLS(10) CONV_COLS(11) CONV_COLS(12)

typedef void (*conv_cols_fn)(const float *, const float *, const float *, float *, int, int, int,
    int, int, int, int, int, int, int);
static const conv_cols_fn cols_table[12] = {conv_cols_1, conv_cols_2, conv_cols_3, conv_cols_4,
	conv_cols_5, conv_cols_6, conv_cols_7, conv_cols_8, conv_cols_9, conv_cols_10, conv_cols_11,
	conv_cols_12};

// forward convolves n images x [C,H,W] with the weights wt [C,K,K,P] (transposed). Channels
// go in the lanes where they fill more of them than a row's columns do. Where the first and
// last `zeros` rows of each image are known to be zero (the padded gradient of
// cnn_avx512_backward_x), the rows kernels skip the window rows that fall only on them.
static AVX512 void forward(const float *x, const float *wt, const float *b, float *y, int n, int C,
    int H, int W, int P, int K, int relu_, int zeros) {
	const int OH = H - K + 1, OW = W - K + 1;
	const int rowLanes = 16 * ((OW + 15) / 16);
	if (P <= 16 && P * rowLanes > 16 * OW) {
		for (int i = 0; i < n; i++) {
			const float *xi = x + (long)i * C * H * W;
			float *yi = y + (long)i * P * OH * OW;
			for (int oy = 0; oy < OH; oy++)
				for (int ox = 0; ox < OW; ox += 12) {
					const int r = OW - ox < 12 ? OW - ox : 12;
					cols_table[r - 1](xi, wt, b, yi, C, H, W, P, K, OH, OW, oy, ox, relu_);
				}
		}
		return;
	}
	for (int i = 0; i < n; i++) {
		const float *xi = x + (long)i * C * H * W;
		float *yi = y + (long)i * P * OH * OW;
		for (int c0 = 0; c0 < OW; c0 += 32) {
			const int nv = OW - c0 > 16 ? 2 : 1;
			// Output channels in equal blocks of at most 16 (one vector a row) or 12 (two),
			// their accumulators held in 16 or 24 of the 32 registers; two rows at a time
			// where that fits.
			const int most = nv == 1 ? 16 : 12, blocks = (P + most - 1) / most;
			for (int bk = 0; bk < blocks; bk++) {
				const int p0 = bk * P / blocks, pb = (bk + 1) * P / blocks - p0;
				const int ry = 2 * pb * nv <= 24 ? 2 : 1;
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

// cnn_avx512_weights arranges w [P,C,K,K] for the kernels into wt (P*C*K*K floats): for the
// forward convolution (flip = 0) transposed to [C,K,K,P]; for the input gradient (flip = 1)
// as the forward weights of the transposed convolution, [P,K,K,C] with the window flipped.
AVX512 void cnn_avx512_weights(const float *w, float *wt, int P, int C, int K, int flip) {
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

// cnn_avx512_forward: y [n,P,OH,OW] = x [n,C,H,W] convolved with the weights arranged by
// cnn_avx512_weights, plus b (if not NULL), then a ReLU (relu).
AVX512 void cnn_avx512_forward(const float *x, const float *wt, const float *b, float *y, int n,
    int C, int H, int W, int P, int K, int relu_) {
	forward(x, wt, b, y, n, C, H, W, P, K, relu_, 0);
}

// cnn_avx512_backward_x: dx [n,C,H,W] from dy [n,P,OH,OW] and the weights arranged by
// cnn_avx512_weights (flipped). The input gradient is the forward convolution of dy, padded
// by K-1 on every side, with the weights flipped and their channel axes swapped. pad holds
// (OH+2K-2)*(OW+2K-2)*P floats; its border stays zero from one image to the next.
AVX512 void cnn_avx512_backward_x(const float *wt, const float *dy, float *dx, int n, int C, int H,
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

// wgrad adds to dw the row ky of the gradient of filters [p0, p0+PB) at input channel c: the
// products of NV-vector row chunks of dy and of x shifted by each kx, over the output rows of
// n images. Each row of x is loaded once for the PB filters.
#define WGRAD(K_, NV, PB)                                                                       \
	static AVX512 void wgrad_##K_##_##NV##_##PB(const float *x, const float *dy, float *dw,    \
	    int n, int C, int H, int W, int P, int p0, int c, int ky, int c0) {                    \
		const int K = K_, OH = H - K + 1, OW = W - K + 1;                                  \
		__m512 acc[PB][K_][NV];                                                            \
		__mmask16 m[NV];                                                                   \
		_Pragma("GCC unroll 2") for (int v = 0; v < NV; v++) m[v] = lanes(OW - c0 - 16 * v); \
		_Pragma("GCC unroll 4") for (int q = 0; q < PB; q++)                               \
		_Pragma("GCC unroll 8") for (int kx = 0; kx < K; kx++)                             \
		_Pragma("GCC unroll 2") for (int v = 0; v < NV; v++) acc[q][kx][v] = _mm512_setzero_ps(); \
		for (int i = 0; i < n; i++) {                                                      \
			const float *g = dy + ((long)i * P + p0) * OH * OW + c0;                   \
			const float *xr = x + ((long)i * C + c) * H * W + (long)ky * W + c0;       \
			for (int oy = 0; oy < OH; oy++, g += OW, xr += W) {                        \
				_Pragma("GCC unroll 2") for (int v = 0; v < NV; v++) {             \
					__m512 xv[K_];                                             \
					_Pragma("GCC unroll 8") for (int kx = 0; kx < K; kx++)     \
						xv[kx] = _mm512_maskz_loadu_ps(m[v], xr + kx + 16 * v); \
					_Pragma("GCC unroll 4") for (int q = 0; q < PB; q++) {     \
						const __m512 gv = _mm512_maskz_loadu_ps(m[v], g + (long)q * OH * OW + 16 * v); \
						_Pragma("GCC unroll 8") for (int kx = 0; kx < K; kx++) \
							acc[q][kx][v] = _mm512_fmadd_ps(gv, xv[kx], acc[q][kx][v]); \
					}                                                          \
				}                                                                  \
			}                                                                          \
		}                                                                                  \
		_Pragma("GCC unroll 4") for (int q = 0; q < PB; q++)                               \
		_Pragma("GCC unroll 8") for (int kx = 0; kx < K; kx++) {                           \
			__m512 s = acc[q][kx][0];                                                  \
			_Pragma("GCC unroll 2") for (int v = 1; v < NV; v++) s = _mm512_add_ps(s, acc[q][kx][v]); \
			dw[(((long)(p0 + q) * C + c) * K + ky) * K + kx] += _mm512_reduce_add_ps(s);     \
		}                                                                                  \
	}

#define WGRAD_K(K_) WGRAD(K_, 1, 1) WGRAD(K_, 1, 2) WGRAD(K_, 1, 4) WGRAD(K_, 2, 1) WGRAD(K_, 2, 2) WGRAD(K_, 2, 4)
WGRAD_K(1) WGRAD_K(2) WGRAD_K(3) WGRAD_K(4) WGRAD_K(5) WGRAD_K(6) WGRAD_K(7)

typedef void (*wgrad_fn)(const float *, const float *, float *, int, int, int, int, int, int, int,
    int, int);
#define WG(K_) {{wgrad_##K_##_1_1, wgrad_##K_##_1_2, wgrad_##K_##_1_4}, {wgrad_##K_##_2_1, wgrad_##K_##_2_2, wgrad_##K_##_2_4}}
static const wgrad_fn wgrad_table[7][2][3] = {WG(1), WG(2), WG(3), WG(4), WG(5), WG(6), WG(7)};

// cnn_avx512_backward_w: dw [P,C,K,K] = the sum over n images of dy [P,OH,OW] correlated
// with x [C,H,W]. K is at most CNN_AVX512_MAX_K.
AVX512 void cnn_avx512_backward_w(const float *x, const float *dy, float *dw, int n, int C, int H,
    int W, int P, int K) {
	const int OH = H - K + 1, OW = W - K + 1;
	memset(dw, 0, sizeof(float) * (long)P * C * K * K);
	// Images in tiles whose maps (all of x, a block of dy) stay in the L1 cache while every row
	// of the window passes over them.
	const long bytes = (long)sizeof(float) * ((long)C * H * W + 4L * OH * OW);
	const int tile = bytes >= 32768 ? 1 : (int)(32768 / bytes) + 1;
	for (int i0 = 0; i0 < n; i0 += tile) {
		const int t = n - i0 < tile ? n - i0 : tile;
		const float *xt = x + (long)i0 * C * H * W, *dyt = dy + (long)i0 * P * OH * OW;
		for (int c0 = 0; c0 < OW; c0 += 32) {
			const int nv = OW - c0 > 16 ? 2 : 1;
			for (int p0 = 0; p0 < P;) {
				// Filters in blocks of 4, 2 or 1: at most 20 accumulators.
				int lg = 2;
				while (lg > 0 && ((1 << lg) > P - p0 || (1 << lg) * K * nv > 20)) lg--;
				for (int c = 0; c < C; c++)
					for (int ky = 0; ky < K; ky++)
						wgrad_table[K - 1][nv - 1][lg](xt, dyt, dw, t, C, H, W, P, p0, c, ky, c0);
				p0 += 1 << lg;
			}
		}
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

// max2 is the larger of a and b, +0 over -0 (as Go's max): max returns its second operand
// when both are zeros, so the two orders differ only there, and their bitwise and clears the
// sign if either is +0.
static inline AVX512 __m512 max2(__m512 a, __m512 b) {
	return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(_mm512_max_ps(a, b)),
	    _mm512_castps_si512(_mm512_max_ps(b, a))));
}

// max4 is the maximum of a window, NaN if any of its values is (as Go's max).
static inline AVX512 __m512 max4(__m512 a, __m512 b, __m512 c, __m512 d) {
	const __m512 m = max2(max2(a, b), max2(c, d));
	const __mmask16 nan = _mm512_cmp_ps_mask(a, b, _CMP_UNORD_Q) | _mm512_cmp_ps_mask(c, d, _CMP_UNORD_Q);
	return _mm512_mask_add_ps(m, nan, a, _mm512_add_ps(b, _mm512_add_ps(c, d)));
}

// cnn_avx512_pool2 pools planes [h,w] into [h/2,w/2]: the maximum of each window, or the mean (avg).
AVX512 void cnn_avx512_pool2(const float *x, float *y, int planes, int h, int w, int avg) {
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

// cnn_avx512_pool2_grad routes dy [h/2,w/2] back to dx [h,w] for each plane: to the first maximum of
// each window in row-major order (NaN: the last), or a quarter to each input (avg). Where relu
// is given (the output of a ReLU before the pooling), dx is then zeroed where relu is not
// positive. An odd last row or column gets no gradient.
AVX512 void cnn_avx512_pool2_grad(const float *x, const float *dy, const float *relu, float *dx, int planes,
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

// cnn_avx512_relu computes y = max(x, 0), keeping NaN; x may be y.
AVX512 void cnn_avx512_relu(const float *x, float *y, long n) {
	long i = 0;
	for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, relu(_mm512_loadu_ps(x + i)));
	if (i < n) {
		const __mmask16 m = lanes((int)(n - i));
		_mm512_mask_storeu_ps(y + i, m, relu(_mm512_maskz_loadu_ps(m, x + i)));
	}
}

// cnn_avx512_add computes y = a + b, through the ReLU with relu.
AVX512 void cnn_avx512_add(const float *a, const float *b, float *y, long n, int relu_) {
	long i = 0;
	if (relu_)
		for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, relu(_mm512_add_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i))));
	else
		for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_add_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i)));
	if (i < n) {
		const __mmask16 m = lanes((int)(n - i));
		const __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
		_mm512_mask_storeu_ps(y + i, m, relu_ ? relu(v) : v);
	}
}

// cnn_avx512_relu_grad passes dy to dx where the ReLU's output y is positive (not NaN), 0 elsewhere.
AVX512 void cnn_avx512_relu_grad(const float *y, const float *dy, float *dx, long n) {
	const __m512 zero = _mm512_setzero_ps();
	long i = 0;
	for (; i + 16 <= n; i += 16)
		_mm512_storeu_ps(dx + i, _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(_mm512_loadu_ps(y + i), zero, _CMP_GT_OQ), _mm512_loadu_ps(dy + i)));
	if (i < n) {
		const __mmask16 m = lanes((int)(n - i));
		const __mmask16 pos = _mm512_cmp_ps_mask(_mm512_maskz_loadu_ps(m, y + i), zero, _CMP_GT_OQ);
		_mm512_mask_storeu_ps(dx + i, m, _mm512_maskz_mov_ps(pos, _mm512_maskz_loadu_ps(m, dy + i)));
	}
}

// cnn_avx512_sum_channels adds up dy [n,C,inner] per channel, for channels [c0, c1), into db: each
// plane in float32 lanes, the planes in double.
AVX512 void cnn_avx512_sum_channels(const float *dy, int n, int C, long inner, int c0, int c1, float *db) {
	for (int q = c0; q < c1; q++) {
		double total = 0;
		for (int i = 0; i < n; i++) {
			const float *v = dy + ((long)i * C + q) * inner;
			__m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
			long j = 0;
			for (; j + 64 <= inner; j += 64) {
				a0 = _mm512_add_ps(a0, _mm512_loadu_ps(v + j));
				a1 = _mm512_add_ps(a1, _mm512_loadu_ps(v + j + 16));
				a2 = _mm512_add_ps(a2, _mm512_loadu_ps(v + j + 32));
				a3 = _mm512_add_ps(a3, _mm512_loadu_ps(v + j + 48));
			}
			for (; j < inner; j += 16)
				a0 = _mm512_add_ps(a0, _mm512_maskz_loadu_ps(lanes((int)(inner - j)), v + j));
			total += _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
		}
		db[q] = (float)total;
	}
}

// cnn_avx512_axpy computes y += a*x, the product rounded before the sum: the empty asm keeps the
// compiler from fusing the two into one multiply-add.
static inline AVX512 __m512 axpy16(__m512 a, __m512 x, __m512 y) {
	__m512 p = _mm512_mul_ps(a, x);
	__asm__("" : "+v"(p));
	return _mm512_add_ps(y, p);
}

AVX512 void cnn_avx512_axpy(float a, const float *x, float *y, long n) {
	const __m512 av = _mm512_set1_ps(a);
	long i = 0;
	for (; i + 16 <= n; i += 16)
		_mm512_storeu_ps(y + i, axpy16(av, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
	if (i < n) {
		const __mmask16 m = lanes((int)(n - i));
		_mm512_mask_storeu_ps(y + i, m, axpy16(av, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
	}
}

// Max pooling of 3-column windows at a column stride of 2 (cnn_maxpool3), 16 outputs at a
// time from the 32 input columns 2j..2j+31 and the one before them: their even columns e,
// their odd columns o, and o shifted by a column, os (the window of output j is os, e and o
// of its lane). Columns outside the input are -inf, which no input loses to. A NaN anywhere
// in a window makes its maximum NaN, as Go's max does.

static const int odd_idx[16] = {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31};
static const int back_idx[16] = {15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30};

static inline AVX512 __mmask16 isnan16(__m512 v) { return _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q); }

// load16inf reads the first n values at p, -inf in the other lanes: a plain load when all
// 16 are wanted (a masked load would not be prefetched).
static inline AVX512 __m512 load16inf(const float *p, int n) {
	if (n >= 16) return _mm512_loadu_ps(p);
	return _mm512_mask_loadu_ps(_mm512_set1_ps(-__builtin_inff()), lanes(n), p);
}

// columns3 splits row's 32 columns from c (-inf past w) into e, o and os; before is the
// column c-1 (-inf at c = 0).
static inline AVX512 void columns3(const float *row, int c, int w, __m512 *e, __m512 *o, __m512 *os) {
	const __m512 inf = _mm512_set1_ps(-__builtin_inff());
	const __m512 a = load16inf(row + c, w - c), b = load16inf(row + c + 16, w - c - 16);
	*e = _mm512_permutex2var_ps(a, _mm512_loadu_si512(even_idx), b);
	*o = _mm512_permutex2var_ps(a, _mm512_loadu_si512(odd_idx), b);
	const __m512 before = c > 0 ? _mm512_set1_ps(row[c - 1]) : inf;
	*os = _mm512_permutex2var_ps(before, _mm512_loadu_si512(back_idx), *o);
}

// maxpool3_row writes output row i of plane xp into yr: the maximum over the window's rows,
// column by column, then over its three columns.
static AVX512 void maxpool3_row(const cnn_maxpool3 *d, const float *xp, int i, float *yr) {
	int r0, r1;
	cnn_maxpool3_rows(d, i, &r0, &r1);
	const int w = d->w;
	const __m512 inf = _mm512_set1_ps(-__builtin_inff()), qnan = _mm512_set1_ps(__builtin_nanf(""));
	__m512 before = inf; // the vertical maximum of the column before the chunk
	for (int j = 0; j < d->ow; j += 16) {
		const int c = 2 * j;
		__m512 a = inf, b = inf;
		__mmask16 na = 0, nb = 0;
		for (int r = r0; r < r1; r++) {
			const float *row = xp + (long)r * w + c;
			const __m512 xa = load16inf(row, w - c), xb = load16inf(row + 16, w - c - 16);
			na |= isnan16(xa), nb |= isnan16(xb);
			a = max2(a, xa), b = max2(b, xb);
		}
		a = _mm512_mask_mov_ps(a, na, qnan), b = _mm512_mask_mov_ps(b, nb, qnan);
		const __m512 e = _mm512_permutex2var_ps(a, _mm512_loadu_si512(even_idx), b);
		const __m512 o = _mm512_permutex2var_ps(a, _mm512_loadu_si512(odd_idx), b);
		const __m512 os = _mm512_permutex2var_ps(before, _mm512_loadu_si512(back_idx), o);
		const __mmask16 nan = isnan16(e) | isnan16(o) | isnan16(os);
		_mm512_mask_storeu_ps(yr + j, lanes(d->ow - j), _mm512_mask_mov_ps(max2(max2(os, e), o), nan, qnan));
		before = _mm512_permutexvar_ps(_mm512_set1_epi32(15), o);
	}
}

// cnn_avx512_maxpool3 max-pools every plane of x into y.
AVX512 void cnn_avx512_maxpool3(const cnn_maxpool3 *d, const float *x, float *y) {
	for (int pl = 0; pl < d->planes; pl++)
		for (int i = 0; i < d->oh; i++)
			maxpool3_row(d, x + (long)pl * d->h * d->w, i, y + ((long)pl * d->oh + i) * d->ow);
}

// cnn_avx512_maxpool3_grad routes dy back to dx: to the first input of each window, in
// row-major order, equal to its maximum (the first NaN when that is NaN), taken from y, the
// forward output (NULL: worked out again). Where relu is given (the output of a ReLU before
// the pooling), only to inputs where it is positive. The gradients are added in the order of
// the outputs, as the reference adds them.
AVX512 void cnn_avx512_maxpool3_grad(const cnn_maxpool3 *d, const float *x, const float *y, const float *dy,
    const float *relu, float *dx) {
	float yrow[d->ow + 16];
	int at[16];
	const int w = d->w;
	const long in = (long)d->h * w, out = (long)d->oh * d->ow;
	const __m512i two_j = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
	for (int pl = 0; pl < d->planes; pl++) {
		const float *xp = x + pl * in, *rp = relu ? relu + pl * in : 0, *gp = dy + pl * out;
		float *dp = dx + pl * in;
		memset(dp, 0, sizeof(float) * in);
		for (int i = 0; i < d->oh; i++) {
			const float *yr = y ? y + pl * out + (long)i * d->ow : yrow;
			if (!y) maxpool3_row(d, xp, i, yrow);
			int r0, r1;
			cnn_maxpool3_rows(d, i, &r0, &r1);
			for (int j = 0; j < d->ow; j += 16) {
				const int c = 2 * j, n = d->ow - j < 16 ? d->ow - j : 16;
				const __m512 best = _mm512_maskz_loadu_ps(lanes(n), yr + j);
				const __mmask16 bnan = isnan16(best);
				// The lanes whose column lies inside the input, for the taps os, e and o.
				const __mmask16 in_e = lanes(n) & lanes((w + 1) / 2 - j), in_o = lanes(n) & lanes(w / 2 - j);
				const __mmask16 in_os = lanes(n) & lanes(w / 2 + 1 - j) & (j == 0 ? (__mmask16)0xfffe : (__mmask16)0xffff);
				const __m512i col = _mm512_add_epi32(two_j, _mm512_set1_epi32(c)); // 2j of each lane
				__m512i pos = _mm512_add_epi32(_mm512_set1_epi32(r0 * w), _mm512_max_epi32(
				    _mm512_sub_epi32(col, _mm512_set1_epi32(1)), _mm512_setzero_si512()));
				__mmask16 found = 0;
				for (int r = r0; r < r1; r++) {
					__m512 tap[3];
					columns3(xp + (long)r * w, c, w, &tap[1], &tap[2], &tap[0]);
					const __mmask16 valid[3] = {in_os, in_e, in_o};
					for (int v = 0; v < 3; v++) {
						const __mmask16 eq = valid[v] & ~found &
						    (_mm512_cmp_ps_mask(tap[v], best, _CMP_EQ_OQ) | (bnan & isnan16(tap[v])));
						pos = _mm512_mask_mov_epi32(pos, eq, _mm512_add_epi32(col, _mm512_set1_epi32(r * w + v - 1)));
						found |= eq;
					}
				}
				_mm512_storeu_si512(at, pos);
				for (int l = 0; l < n; l++) {
					if (rp && !(rp[at[l]] > 0)) continue;
					dp[at[l]] += gp[(long)i * d->ow + j + l];
				}
			}
		}
	}
}
