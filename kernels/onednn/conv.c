//go:build dnnl

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <oneapi/dnnl/dnnl.h>
#include "conv.h"

void omp_set_num_threads(int);

// One operand of a kernel: the caller's memory in its plain layout and, when the kernel wants
// another layout, the kernel's own copy and the reorder between the two.
typedef struct {
	int arg;                  // DNNL_ARG_*
	int output;               // written by the kernel
	dnnl_memory_t user;       // the caller's buffer, attached for one run
	dnnl_memory_t inner;      // NULL when the kernel takes the plain layout
	dnnl_primitive_t reorder; // user -> inner for inputs, inner -> user for outputs
	dnnl_memory_t scratch;    // the reorder's scratchpad, or NULL
	dnnl_memory_t scales;     // per-output-channel factors the reorder applies, or NULL
	void *buf;                // inner's buffer, for an input (ours: see add_operand)
	void *own;                // inner's buffer, while a run lends it another
	int ready;                // this run: inner already holds the operand (its reorder is skipped)
} operand;

// Every primitive gets its own scratchpad (user-managed): the library's shared one only
// serves primitives that run on the thread that created them, and a goroutine may move
// between threads.
static dnnl_primitive_attr_t attr;

struct cnn_conv {
	dnnl_stream_t stream;
	dnnl_primitive_desc_t pd;
	dnnl_primitive_t prim;
	int threads;           // OpenMP threads it was made for, and runs on
	dnnl_memory_t scratch; // the primitive's scratchpad, or NULL
	int n;
	operand op[4];
	int packed; // the forward kernel's weights come already in its layout (cnn_conv_pack)
	int wi;     // the weights' operand, in the forward kernel
};

static dnnl_engine_t engine;
static dnnl_status_t engine_status;
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;
static void engine_init(void) {
	engine_status = dnnl_engine_create(&engine, dnnl_cpu, 0);
	if (engine_status == dnnl_success)
		engine_status = dnnl_primitive_attr_create(&attr);
	if (engine_status == dnnl_success)
		engine_status = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
}

// scratchpad creates the scratchpad memory a primitive descriptor asks for (NULL if none).
static dnnl_status_t scratchpad(const_dnnl_primitive_desc_t pd, dnnl_memory_t *m) {
	const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
	*m = NULL;
	if (!md || dnnl_memory_desc_get_size(md) == 0)
		return dnnl_success;
	return dnnl_memory_create(m, md, engine, DNNL_MEMORY_ALLOCATE);
}

#define TRY(call)                                                                           \
	do {                                                                                    \
		dnnl_status_t st_ = (call);                                                         \
		if (st_ != dnnl_success) {                                                          \
			snprintf(err, errlen, "%s: oneDNN status %d", #call, (int)st_);                 \
			goto fail;                                                                      \
		}                                                                                   \
	} while (0)

static dnnl_status_t reorder(operand *o, const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to,
                             const_dnnl_primitive_attr_t ra) {
	dnnl_primitive_desc_t pd;
	dnnl_status_t st = dnnl_reorder_primitive_desc_create(&pd, from, engine, to, engine, ra);
	if (st != dnnl_success)
		return st;
	if ((st = scratchpad(pd, &o->scratch)) == dnnl_success)
		st = dnnl_primitive_create(&o->reorder, pd);
	dnnl_primitive_desc_destroy(pd);
	return st;
}

// add_operand sets up operand i for argument arg: plain is the caller's layout, want the one
// the kernel chose. Given scales (p factors, one per output channel of a [p,...] operand),
// the operand is always reordered, and scaled on the way.
// With attach, the kernel's copy is not allocated: each run attaches a buffer already in its
// layout.
static dnnl_status_t add_operand(cnn_conv *cv, int arg, int output, const dnnl_memory_desc_t *plain,
                                 const dnnl_memory_desc_t *want, int scales, int attach) {
	operand *o = &cv->op[cv->n++];
	o->arg = arg;
	o->output = output;
	dnnl_status_t st = dnnl_memory_create(&o->user, plain, engine, DNNL_MEMORY_NONE);
	if (st != dnnl_success || (!scales && dnnl_memory_desc_equal(plain, want)))
		return st;
	// An input's copy lives in a buffer of ours, not the library's: a run may lend it another
	// (cnn_conv_run_shared), and the library frees a buffer of its own when its handle is
	// replaced.
	if ((st = dnnl_memory_create(&o->inner, want, engine, attach || !output ? DNNL_MEMORY_NONE : DNNL_MEMORY_ALLOCATE)) !=
	    dnnl_success)
		return st;
	if (!attach && !output) {
		size_t size = (dnnl_memory_desc_get_size(want) + 63) / 64 * 64;
		if (!(o->buf = aligned_alloc(64, size ? size : 64)))
			return dnnl_out_of_memory;
		if ((st = dnnl_memory_set_data_handle(o->inner, o->buf)) != dnnl_success)
			return st;
	}
	if (!scales)
		return output ? reorder(o, want, plain, attr) : reorder(o, plain, want, attr);
	dnnl_dims_t sd = {scales};
	dnnl_memory_desc_t smd;
	dnnl_primitive_attr_t ra;
	float runtime = DNNL_RUNTIME_F32_VAL;
	if ((st = dnnl_memory_desc_init_by_tag(&smd, 1, sd, dnnl_f32, dnnl_x)) != dnnl_success ||
	    (st = dnnl_memory_create(&o->scales, &smd, engine, DNNL_MEMORY_NONE)) != dnnl_success ||
	    (st = dnnl_primitive_attr_clone(&ra, attr)) != dnnl_success)
		return st;
	if ((st = dnnl_primitive_attr_set_output_scales(ra, 1, 1, &runtime)) == dnnl_success)
		st = reorder(o, plain, want, ra);
	dnnl_primitive_attr_destroy(ra);
	return st;
}

// blocked_tag is the channel-blocked layout of block b (8 or 16), channels last (NHWC) for
// CNN_CHANNELS_LAST, or plain NCHW for 0.
static dnnl_format_tag_t blocked_tag(int b) {
	return b == 16 ? dnnl_nChw16c : b == 8 ? dnnl_nChw8c : b == CNN_CHANNELS_LAST ? dnnl_nhwc : dnnl_nchw;
}

cnn_conv *cnn_conv_create(int kind, int n, int c, int h, int w, int p, int k, int s, int pad,
                          int bias, int fold, int packed, int xblock, int yblock, int threads, char *err,
                          int errlen) {
	omp_set_num_threads(threads);
	pthread_once(&engine_once, engine_init);
	if (engine_status != dnnl_success) {
		snprintf(err, errlen, "dnnl_engine_create: oneDNN status %d", (int)engine_status);
		return NULL;
	}
	int oh = (h + 2 * pad - k) / s + 1, ow = (w + 2 * pad - k) / s + 1;
	dnnl_dims_t xd = {n, c, h, w}, wd = {p, c, k, k}, bd = {p}, yd = {n, p, oh, ow};
	dnnl_dims_t strides = {s, s}, padding = {pad, pad};
	dnnl_memory_desc_t x, wt, b, y, xa, wa, ya;
	dnnl_primitive_desc_t fwd = NULL, pd = NULL;
	cnn_conv *cv = calloc(1, sizeof *cv);
	if (!cv) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	TRY(dnnl_memory_desc_init_by_tag(&x, 4, xd, dnnl_f32, blocked_tag(xblock)));
	TRY(dnnl_memory_desc_init_by_tag(&wt, 4, wd, dnnl_f32, dnnl_oihw));
	TRY(dnnl_memory_desc_init_by_tag(&b, 1, bd, dnnl_f32, dnnl_x));
	TRY(dnnl_memory_desc_init_by_tag(&y, 4, yd, dnnl_f32, blocked_tag(yblock)));
	TRY(dnnl_memory_desc_init_by_tag(&xa, 4, xd, dnnl_f32, dnnl_format_tag_any));
	TRY(dnnl_memory_desc_init_by_tag(&wa, 4, wd, dnnl_f32, dnnl_format_tag_any));
	TRY(dnnl_memory_desc_init_by_tag(&ya, 4, yd, dnnl_f32, dnnl_format_tag_any));

	dnnl_convolution_desc_t fd, bd_;
	if (kind != CNN_CONV_FORWARD)
		bias = fold = packed = 0;
	cv->packed = packed;
	bias = bias || fold;
	// Prepared weights serve inference only, where oneDNN has kernels of its own (see
	// cnn_conv_inference_block).
	dnnl_prop_kind_t prop = packed ? dnnl_forward_inference : dnnl_forward_training;
	TRY(dnnl_convolution_forward_desc_init(&fd, prop, dnnl_convolution_direct, &xa, &wa,
	                                       bias ? &b : NULL, &ya, strides, padding, padding));
	TRY(dnnl_primitive_desc_create(&fwd, &fd, attr, engine, NULL));
	switch (kind) {
	case CNN_CONV_FORWARD:
		pd = fwd, fwd = NULL;
		TRY(add_operand(cv, DNNL_ARG_SRC, 0, &x, dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0), 0, 0));
		cv->wi = cv->n;
		TRY(add_operand(cv, DNNL_ARG_WEIGHTS, 0, &wt, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0),
		                fold ? p : 0, packed));
		if (bias)
			TRY(add_operand(cv, DNNL_ARG_BIAS, 0, &b, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 1), 0, 0));
		TRY(add_operand(cv, DNNL_ARG_DST, 1, &y, dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0), 0, 0));
		break;
	case CNN_CONV_BACKWARD_DATA:
		TRY(dnnl_convolution_backward_data_desc_init(&bd_, dnnl_convolution_direct, &xa, &wa, &ya, strides, padding,
		                                             padding));
		TRY(dnnl_primitive_desc_create(&pd, &bd_, attr, engine, fwd));
		TRY(add_operand(cv, DNNL_ARG_DIFF_DST, 0, &y, dnnl_primitive_desc_query_md(pd, dnnl_query_diff_dst_md, 0), 0, 0));
		TRY(add_operand(cv, DNNL_ARG_WEIGHTS, 0, &wt, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0), 0, 0));
		TRY(add_operand(cv, DNNL_ARG_DIFF_SRC, 1, &x, dnnl_primitive_desc_query_md(pd, dnnl_query_diff_src_md, 0), 0, 0));
		break;
	case CNN_CONV_BACKWARD_WEIGHTS:
		TRY(dnnl_convolution_backward_weights_desc_init(&bd_, dnnl_convolution_direct, &xa, &wa, NULL, &ya, strides,
		                                                padding, padding));
		TRY(dnnl_primitive_desc_create(&pd, &bd_, attr, engine, fwd));
		TRY(add_operand(cv, DNNL_ARG_SRC, 0, &x, dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0), 0, 0));
		TRY(add_operand(cv, DNNL_ARG_DIFF_DST, 0, &y, dnnl_primitive_desc_query_md(pd, dnnl_query_diff_dst_md, 0), 0, 0));
		TRY(add_operand(cv, DNNL_ARG_DIFF_WEIGHTS, 1, &wt,
		                dnnl_primitive_desc_query_md(pd, dnnl_query_diff_weights_md, 0), 0, 0));
		break;
	default:
		snprintf(err, errlen, "unknown kernel %d", kind);
		goto fail;
	}
	cv->pd = pd;
	cv->threads = threads;
	TRY(scratchpad(pd, &cv->scratch));
	TRY(dnnl_primitive_create(&cv->prim, pd));
	TRY(dnnl_stream_create(&cv->stream, engine, dnnl_stream_default_flags));
	if (fwd)
		dnnl_primitive_desc_destroy(fwd);
	return cv;
fail:
	// What was created before the failure is left to the process: creation fails only on
	// shapes oneDNN does not support, and the caller remembers the failure (one per shape).
	return NULL;
}

// run runs the reorders into the kernel's layouts, the kernel, and the reorders out of them,
// on buffers already attached; it returns at the first failure.
static dnnl_status_t run(cnn_conv *cv, const float *scales) {
	dnnl_exec_arg_t args[5];
	dnnl_status_t st;
	for (int i = 0; i < cv->n; i++) {
		operand *o = &cv->op[i];
		if (o->reorder && !o->output && !o->ready && !(cv->packed && i == cv->wi)) {
			dnnl_exec_arg_t ra[4] = {{DNNL_ARG_FROM, o->user}, {DNNL_ARG_TO, o->inner}};
			int nra = 2;
			if (o->scratch)
				ra[nra++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, o->scratch};
			if (o->scales) {
				if ((st = dnnl_memory_set_data_handle(o->scales, (void *)scales)) != dnnl_success)
					return st;
				ra[nra++] = (dnnl_exec_arg_t){DNNL_ARG_ATTR_OUTPUT_SCALES, o->scales};
			}
			if ((st = dnnl_primitive_execute(o->reorder, cv->stream, nra, ra)) != dnnl_success)
				return st;
		}
		args[i].arg = o->arg;
		args[i].memory = o->inner ? o->inner : o->user;
	}
	int nargs = cv->n;
	if (cv->scratch) {
		args[nargs].arg = DNNL_ARG_SCRATCHPAD;
		args[nargs++].memory = cv->scratch;
	}
	if ((st = dnnl_primitive_execute(cv->prim, cv->stream, nargs, args)) != dnnl_success)
		return st;
	for (int i = 0; i < cv->n; i++) {
		operand *o = &cv->op[i];
		if (o->reorder && o->output) {
			dnnl_exec_arg_t ra[3] = {{DNNL_ARG_FROM, o->inner}, {DNNL_ARG_TO, o->user}, {DNNL_ARG_SCRATCHPAD, o->scratch}};
			if ((st = dnnl_primitive_execute(o->reorder, cv->stream, o->scratch ? 3 : 2, ra)) != dnnl_success)
				return st;
		}
	}
	return dnnl_stream_wait(cv->stream);
}

int cnn_conv_run(cnn_conv *cv, const float *a, const float *b, const float *bias, const float *scales,
                 float *out) {
	return cnn_conv_run_shared(cv, a, b, bias, scales, out, NULL, 0, NULL, 0);
}

int cnn_conv_run_shared(cnn_conv *cv, const float *a, const float *b, const float *bias, const float *scales,
                        float *out, float *inner0, int ready0, float *inner1, int ready1) {
	omp_set_num_threads(cv->threads);
	const float *in[3] = {a, b, bias};
	float *lent[2] = {inner0, inner1};
	int ready[2] = {ready0, ready1};
	dnnl_status_t st = dnnl_success;
	int ni = 0;
	for (int i = 0; i < cv->n && st == dnnl_success; i++) {
		operand *o = &cv->op[i];
		dnnl_memory_t m = cv->packed && i == cv->wi && o->inner ? o->inner : o->user;
		st = dnnl_memory_set_data_handle(m, o->output ? (void *)out : (void *)in[ni++]);
		if (st == dnnl_success && i < 2 && lent[i] && cnn_conv_inner_size(cv, i)) {
			if ((st = dnnl_memory_get_data_handle(o->inner, &o->own)) == dnnl_success &&
			    (st = dnnl_memory_set_data_handle(o->inner, lent[i])) == dnnl_success)
				o->ready = ready[i];
		}
	}
	if (st == dnnl_success)
		st = run(cv, scales);
	// The caller's buffers are Go memory: no pointer to them is kept past the call, whatever
	// happened.
	for (int i = 0; i < cv->n; i++) {
		operand *o = &cv->op[i];
		dnnl_memory_set_data_handle(o->user, DNNL_MEMORY_NONE);
		if (cv->packed && i == cv->wi && o->inner)
			dnnl_memory_set_data_handle(o->inner, DNNL_MEMORY_NONE);
		if (o->own) {
			dnnl_memory_set_data_handle(o->inner, o->own);
			o->own = NULL;
		}
		o->ready = 0;
		if (o->scales)
			dnnl_memory_set_data_handle(o->scales, DNNL_MEMORY_NONE);
	}
	return st;
}

size_t cnn_conv_inner_size(cnn_conv *cv, int i) {
	const dnnl_memory_desc_t *md;
	if (i >= cv->n)
		return 0;
	operand *o = &cv->op[i];
	if (o->output || !o->inner || !o->reorder || o->scales || (cv->packed && i == cv->wi) ||
	    dnnl_memory_get_memory_desc(o->inner, &md) != dnnl_success)
		return 0;
	return dnnl_memory_desc_get_size(md);
}

int cnn_conv_inner_equal(cnn_conv *a, int i, cnn_conv *b, int j) {
	const dnnl_memory_desc_t *ma, *mb;
	if (!cnn_conv_inner_size(a, i) || !cnn_conv_inner_size(b, j) ||
	    dnnl_memory_get_memory_desc(a->op[i].inner, &ma) != dnnl_success ||
	    dnnl_memory_get_memory_desc(b->op[j].inner, &mb) != dnnl_success)
		return 0;
	return dnnl_memory_desc_equal(ma, mb);
}

size_t cnn_conv_packed_size(cnn_conv *cv) {
	operand *o = &cv->op[cv->wi];
	const dnnl_memory_desc_t *md;
	if (dnnl_memory_get_memory_desc(o->inner ? o->inner : o->user, &md) != dnnl_success)
		return 0;
	return dnnl_memory_desc_get_size(md);
}

int cnn_conv_pack(cnn_conv *cv, const float *w, const float *scales, float *out) {
	operand *o = &cv->op[cv->wi];
	if (!o->inner) {
		memcpy(out, w, cnn_conv_packed_size(cv));
		return dnnl_success;
	}
	omp_set_num_threads(cv->threads);
	dnnl_status_t st;
	dnnl_exec_arg_t ra[4] = {{DNNL_ARG_FROM, o->user}, {DNNL_ARG_TO, o->inner}};
	int nra = 2;
	if (o->scratch)
		ra[nra++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, o->scratch};
	if (o->scales)
		ra[nra++] = (dnnl_exec_arg_t){DNNL_ARG_ATTR_OUTPUT_SCALES, o->scales};
	if ((st = dnnl_memory_set_data_handle(o->user, (void *)w)) == dnnl_success &&
	    (st = dnnl_memory_set_data_handle(o->inner, out)) == dnnl_success &&
	    (!o->scales || (st = dnnl_memory_set_data_handle(o->scales, (void *)scales)) == dnnl_success) &&
	    (st = dnnl_primitive_execute(o->reorder, cv->stream, nra, ra)) == dnnl_success)
		st = dnnl_stream_wait(cv->stream);
	dnnl_memory_set_data_handle(o->user, DNNL_MEMORY_NONE);
	dnnl_memory_set_data_handle(o->inner, DNNL_MEMORY_NONE);
	if (o->scales)
		dnnl_memory_set_data_handle(o->scales, DNNL_MEMORY_NONE);
	return st;
}

// probe creates the forward kernel of prop kind prop for a convolution of 64 channels to 64
// (ResNet18's layer1) on maps of layout maps (dnnl_format_tag_any: the kernel's choice).
static dnnl_status_t probe(dnnl_prop_kind_t prop, dnnl_format_tag_t maps, dnnl_primitive_desc_t *pd) {
	dnnl_dims_t xd = {2, 64, 8, 8}, wd = {64, 64, 3, 3}, strides = {1, 1}, padding = {1, 1};
	dnnl_memory_desc_t x, wt;
	dnnl_convolution_desc_t fd;
	dnnl_status_t st;
	pthread_once(&engine_once, engine_init);
	if ((st = engine_status) != dnnl_success ||
	    (st = dnnl_memory_desc_init_by_tag(&x, 4, xd, dnnl_f32, maps)) != dnnl_success ||
	    (st = dnnl_memory_desc_init_by_tag(&wt, 4, wd, dnnl_f32, dnnl_format_tag_any)) != dnnl_success ||
	    (st = dnnl_convolution_forward_desc_init(&fd, prop, dnnl_convolution_direct, &x, &wt, NULL, &x, strides,
	                                             padding, padding)) != dnnl_success)
		return st;
	return dnnl_primitive_desc_create(pd, &fd, attr, engine, NULL);
}

// The block the forward kernels take their maps in, found once (probe).
static int block;
static pthread_once_t block_once = PTHREAD_ONCE_INIT;
static void block_init(void) {
	dnnl_dims_t xd = {2, 64, 8, 8};
	dnnl_memory_desc_t b8, b16;
	dnnl_primitive_desc_t pd;
	if (probe(dnnl_forward_training, dnnl_format_tag_any, &pd) != dnnl_success)
		return;
	const dnnl_memory_desc_t *src = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
	const dnnl_memory_desc_t *dst = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
	if (dnnl_memory_desc_init_by_tag(&b8, 4, xd, dnnl_f32, dnnl_nChw8c) == dnnl_success &&
	    dnnl_memory_desc_init_by_tag(&b16, 4, xd, dnnl_f32, dnnl_nChw16c) == dnnl_success) {
		if (dnnl_memory_desc_equal(src, &b16) && dnnl_memory_desc_equal(dst, &b16))
			block = 16;
		else if (dnnl_memory_desc_equal(src, &b8) && dnnl_memory_desc_equal(dst, &b8))
			block = 8;
	}
	dnnl_primitive_desc_destroy(pd);
}

int cnn_conv_block(void) {
	pthread_once(&block_once, block_init);
	return block;
}

// The layout the inference kernels take their maps in, found once (probe): channels last
// where oneDNN's inference kernel on them is its brgemm-based one (brgconv, on AVX-512),
// faster than the blocked kernels that serve training: 16 224x224 images' 3x3 convolutions on
// an AMD EPYC Zen 5 took 7.3-8.4 ms against 8.6-8.8, stride 2 4.0-4.7 against 4.8-6.3, the
// stem 8.9 against 10.3 (ONEDNN_VERBOSE, fastest of 6 runs); else the forward kernels' block.
static int inference_block;
static pthread_once_t inference_once = PTHREAD_ONCE_INIT;
static void inference_init(void) {
	dnnl_primitive_desc_t pd;
	const char *impl = NULL;
	inference_block = cnn_conv_block();
	if (probe(dnnl_forward_inference, dnnl_nhwc, &pd) != dnnl_success)
		return;
	if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl &&
	    strncmp(impl, "brg", 3) == 0)
		inference_block = CNN_CHANNELS_LAST;
	dnnl_primitive_desc_destroy(pd);
}

int cnn_conv_inference_block(void) {
	pthread_once(&inference_once, inference_init);
	return inference_block;
}
