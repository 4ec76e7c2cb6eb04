// Direct float32 AVX-512 kernels (see direct.c).

// The largest kernel side of the direct convolution kernels.
#define CNN_DIRECT_MAX_K 7

int cnn_direct_ok(void);
void cnn_direct_weights(const float *w, float *wt, int P, int C, int K, int flip);
void cnn_direct_forward(const float *x, const float *wt, const float *b, float *y, int n, int C, int H,
    int W, int P, int K, int relu);
void cnn_direct_backward_x(const float *wt, const float *dy, float *dx, int n, int C, int H, int W,
    int P, int K, float *pad);
void cnn_direct_backward_w(const float *x, const float *dy, float *dw, int n, int C, int H, int W,
    int P, int K);
void cnn_pool2(const float *x, float *y, int planes, int h, int w, int avg);
void cnn_pool2_grad(const float *x, const float *dy, const float *relu, float *dx, int planes, int h,
    int w, int avg);
void cnn_relu(const float *x, float *y, long n);
void cnn_relu_grad(const float *y, const float *dy, float *dx, long n);
void cnn_sum_channels(const float *dy, int n, int C, long inner, int c0, int c1, float *db);
void cnn_axpy(float a, const float *x, float *y, long n);
