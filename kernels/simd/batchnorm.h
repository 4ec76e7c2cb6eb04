// BatchNorm's three passes over x [n,C,hw] for the channels [c0,c1) (see batchnorm_amd64.c).

void cnn_bn_sums(const float *x, const float *dy, int n, int C, long hw, int c0, int c1,
    const double *k, double *s);
void cnn_bn_apply(const float *x, float *y, int n, int C, long hw, int c0, int c1, const double *p,
    int relu);
void cnn_bn_grad(const float *x, const float *dy, float *dx, int n, int C, long hw, int c0, int c1,
    const double *p);

// The same passes on maps in the channel-blocked layout of block b, [n,C/b,hw,b], c0 and c1
// multiples of b.

void cnn_bn_sums_blocked(const float *x, const float *dy, int n, int C, long hw, int b, int c0,
    int c1, const double *k, double *s);
void cnn_bn_apply_blocked(const float *x, float *y, int n, int C, long hw, int b, int c0, int c1,
    const double *p, int relu);
void cnn_bn_grad_blocked(const float *x, const float *dy, float *dx, int n, int C, long hw, int b,
    int c0, int c1, const double *p);
