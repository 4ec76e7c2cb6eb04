// Convolution kernels through oneDNN's primitives (package onednn, built with -tags dnnl).

#include <stddef.h>

typedef struct cnn_conv cnn_conv;

enum { CNN_CONV_FORWARD, CNN_CONV_BACKWARD_DATA, CNN_CONV_BACKWARD_WEIGHTS };

// CNN_CHANNELS_LAST, as a layout's block, is the layout [n][h][w][c].
#define CNN_CHANNELS_LAST (-1)

// cnn_conv_create prepares one kernel for an NCHW input [n,c,h,w], OIHW weights [p,c,k,k],
// stride s and padding pad on every side, to run on the given number of OpenMP threads (1:
// the calling thread only). The forward kernel may add a [p] bias (bias) and scale each
// output channel's weights by a factor given at each run (fold: an inference BatchNorm folded
// into the convolution, whose shift then comes as the bias). With packed, the forward
// kernel's weights come at each run already in its own layout, as cnn_conv_pack wrote them.
// The maps x (xblock) and y (yblock), and their gradients dx and dy, may come in the
// channel-blocked layout [n][c/b][h][w][b] of block b, 8 or 16 (0: NCHW); the channels must
// then be a multiple of b. CNN_CHANNELS_LAST lays them out [n][h][w][c] (NHWC).
// A packed forward kernel is made for inference, the others for training.
// On failure it returns NULL and writes the reason into err.
cnn_conv *cnn_conv_create(int kind, int n, int c, int h, int w, int p, int k, int s, int pad,
                          int bias, int fold, int packed, int xblock, int yblock, int threads, char *err,
                          int errlen);

// cnn_conv_block returns the channel block (8 or 16) the forward kernels take their maps in
// on this CPU, or 0 if they take another layout.
int cnn_conv_block(void);

// cnn_conv_inference_block returns the layout a packed forward kernel takes its maps in on this
// CPU: CNN_CHANNELS_LAST, or a channel block as cnn_conv_block.
int cnn_conv_inference_block(void);

// cnn_conv_run runs the kernel. Its operands, in plain layouts:
//   forward:          a = x,  b = w, bias, scales (fold), out = y
//   backward data:    a = dy, b = w,                      out = dx
//   backward weights: a = x,  b = dy,                     out = dw
// It returns 0, or oneDNN's status.
int cnn_conv_run(cnn_conv *cv, const float *a, const float *b, const float *bias, const float *scales,
                 float *out);

// cnn_conv_run_shared is cnn_conv_run where the kernel's own copies of its first two input
// operands (cnn_conv_run's a and b) may be buffers of the caller's, inner0 and inner1 (NULL:
// its own), of cnn_conv_inner_size bytes: with ready0 (ready1) set, that buffer already
// holds the operand in the kernel's layout and its reorder is skipped; otherwise the reorder
// writes it there, for a later kernel to share.
int cnn_conv_run_shared(cnn_conv *cv, const float *a, const float *b, const float *bias, const float *scales,
                        float *out, float *inner0, int ready0, float *inner1, int ready1);

// cnn_conv_inner_size returns the size in bytes of the kernel's own copy of input operand i
// (0 or 1), or 0 if it has none to share (it reads the caller's layout, or scales it).
size_t cnn_conv_inner_size(cnn_conv *cv, int i);

// cnn_conv_inner_equal reports whether kernel a's copy of operand i and kernel b's of operand
// j have the same layout.
int cnn_conv_inner_equal(cnn_conv *a, int i, cnn_conv *b, int j);

// cnn_conv_packed_size returns the size in bytes of a packed forward kernel's weights.
size_t cnn_conv_packed_size(cnn_conv *cv);

// cnn_conv_pack writes the plain weights w, scaled by the factors scales if the kernel folds,
// into out (cnn_conv_packed_size bytes) in the packed forward kernel's layout. It returns 0,
// or oneDNN's status.
int cnn_conv_pack(cnn_conv *cv, const float *w, const float *scales, float *out);
