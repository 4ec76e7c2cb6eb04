// The broadcast convolution of a few images (see bconv_amd64.go): a frozen program's forward
// pass on small maps, its weights packed once.

#pragma once

// A prepared convolution as the kernels take it. The input of one image is laid out zero-
// padded, image floats apart, its data at row ph and column pw: value c of row r, column k
// of the padded map at r*rs + k*cols + c*cs. Output position o = b*ob + i, the i-th of block
// b, at row o/ow and column o%ow, reads its window's tap t at row (o/ow)*sh + tr[t] and
// column (o%ow)*sw + tc[t]. The weights hold the filters in groups of g, [groups][taps][C]
// [g], zero past P. The taps are those that some position reads data with; a block skips a
// tap that reads only padding at all its positions (row outside [0, h) or column outside
// [0, w) once ph and pw are taken off). ob is 3, 4 or 6; the C values of a tap are taken chunk
// at a time.
//
// The values of a tap come in runs of run values cs floats apart, a run's first value rjump
// floats past the end of the one before (value j at (j/run)*(run*cs + rjump) + (j%run)*cs).
//
// On maps as they lie (NCHW) a tap is a place in the window and its values the channels: cs
// is the padded plane, rs its width, cols 1, run C. On maps in the channel-blocked layout
// ([C/L][H][W][L], L the instruction set's lanes) the channels come in runs of L: cs 1, cols
// L, rs a padded row of L-channel positions, rjump the rest of a padded plane of them. With
// few channels the maps are laid out channels-last and a tap is a row of the window, its
// values the row's columns by channel (C = KW*channels): rs is a padded row, cols the
// channels, cs 1, run C.
//
// With unpadded (the channel-blocked layout only), the input is not padded: image is
// C*h*w, rs a row of L-channel positions of the map, rjump the rest of a plane of them, and
// a position reads tap t at row (o/ow)*sh + tr[t] - ph and column (o%ow)*sw + tc[t] - pw,
// where it reads zeros (cnn_bconv_zeros) outside the map.
//
// The output y is [N][P][OHW], or with yb (the lanes) in the channel-blocked layout
// [N][P/yb][OHW][yb].
typedef struct {
	int C, image, rs, cols, cs, run, rjump, h, w, ph, pw, ow, sh, sw, taps, groups, blocks, ob, chunk, P, OHW, relu, yb, unpadded;
} cnn_bconv;

// cnn_bconv_zeros is a run of 16 zeros, which an unpadded input's positions outside the map
// read for every run of channels.
extern const float cnn_bconv_zeros[16];

// The packed operands: the weights, the bias ([groups*g], or NULL), and the taps' row and
// column offsets in the window; and the residual r (NULL: none), laid out as y, added to
// the output before the ReLU.
typedef struct {
	const float *w, *b;
	const int *tr, *tc;
	const float *r;
} cnn_bconv_args;

// The width of a group of filters of each instruction set, and of AVX2's wide kernel.
#define CNN_AVX512_BCONV_G 64
#define CNN_AVX2_BCONV_G 16
#define CNN_AVX2_WIDE_BCONV_G 32

// cnn_*_bconv computes the units [u0, u1) of the images [n0, n1), a unit being a group of
// filters for one block of positions, unit u = group*blocks + block: xp holds the padded
// images (unpadded: the images as they lie), each image floats apart, y the output (see yb). part holds the partial sums of as many
// blocks as the units span, ob*g floats each.
void cnn_avx512_bconv(const cnn_bconv *d, const cnn_bconv_args *a, const float *xp, float *y, float *part,
    int n0, int n1, int u0, int u1);
void cnn_avx2_bconv(const cnn_bconv *d, const cnn_bconv_args *a, const float *xp, float *y, float *part,
    int n0, int n1, int u0, int u1);
void cnn_avx2_bconv_wide(const cnn_bconv *d, const cnn_bconv_args *a, const float *xp, float *y, float *part,
    int n0, int n1, int u0, int u1);

// cnn_bconv_pad copies the planes x [planes][h][w] into the inside of xp [planes][hp][wp],
// at row ph and column pw; the border of xp is left as it is (zero).
void cnn_bconv_pad(const float *x, float *xp, int planes, int h, int w, int hp, int wp, int ph, int pw);

// cnn_bconv_pad_last copies the rows [r0, r1) of images x [n][c][h][w] (row q: image q/h,
// row q%h) into the inside of xp [n][hp][wp][c], channels last, at row ph and column pw; the
// border of xp is left as it is (zero).
void cnn_bconv_pad_last(const float *x, float *xp, int c, int h, int w, int hp, int wp, int ph, int pw, int r0,
    int r1);

// cnn_simd_bconv_g is isa's group width; with wide, that of its wide kernel (0: none).
int cnn_simd_bconv_g(int isa, int wide);
void cnn_simd_bconv(int isa, int wide, const cnn_bconv *d, const float *w, const float *b, const int *tr, const int *tc,
    const float *r, const float *xp, float *y, float *part, int n0, int n1, int u0, int u1);
