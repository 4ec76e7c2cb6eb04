// The broadcast convolution of a few images (see bconv_amd64.go): a frozen program's forward
// pass on small maps, its weights packed once.

#pragma once

// A prepared convolution as the kernels take it. The input of one image is laid out zero-
// padded, xp [C][hp][wp] (plane = hp*wp), its data at row ph and column pw. Output position
// o = b*ob + i, the i-th of block b, at row o/ow and column o%ow, reads its window's tap t
// at row (o/ow)*sh + tr[t] and column (o%ow)*sw + tc[t] of each plane. The weights hold the
// filters in groups of g, [groups][taps][C][g], zero past P. The taps are those that some
// position reads data with; a block skips a tap that reads only padding at all its
// positions. ob is 4 or 6; the input channels are taken chunk at a time.
typedef struct {
	int C, h, w, wp, plane, ph, pw, ow, sh, sw, taps, groups, blocks, ob, chunk, P, OHW, relu;
} cnn_bconv;

// The packed operands: the weights, the bias ([groups*g], or NULL), and the taps' row and
// column offsets in the window.
typedef struct {
	const float *w, *b;
	const int *tr, *tc;
} cnn_bconv_args;

// The width of a group of filters of each instruction set.
#define CNN_AVX512_BCONV_G 64
#define CNN_AVX2_BCONV_G 16

// cnn_*_bconv computes the units [u0, u1) of the images [n0, n1), a unit being a group of
// filters for one block of positions, unit u = group*blocks + block: xp holds the padded
// images (each C*plane floats apart), y [N][P][OHW]. part holds the partial sums of as many
// blocks as the units span, ob*g floats each.
void cnn_avx512_bconv(const cnn_bconv *d, const cnn_bconv_args *a, const float *xp, float *y, float *part,
    int n0, int n1, int u0, int u1);
void cnn_avx2_bconv(const cnn_bconv *d, const cnn_bconv_args *a, const float *xp, float *y, float *part,
    int n0, int n1, int u0, int u1);

// cnn_bconv_pad copies the planes x [planes][h][w] into the inside of xp [planes][hp][wp],
// at row ph and column pw; the border of xp is left as it is (zero).
void cnn_bconv_pad(const float *x, float *xp, int planes, int h, int w, int hp, int wp, int ph, int pw);

int cnn_simd_bconv_g(int isa);
void cnn_simd_bconv(int isa, const cnn_bconv *d, const float *w, const float *b, const int *tr, const int *tc,
    const float *xp, float *y, float *part, int n0, int n1, int u0, int u1);
