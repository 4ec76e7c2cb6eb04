// The broadcast convolution's kernel, written once for the instruction sets: the including
// file (bconv_avx512_amd64.c, bconv_avx2_amd64.c) defines the vector type VEC of LANES floats,
// its operations (VLOAD, VSTORE, VSET1, VZERO, VADD, VFMA, VRELU), the attribute ISA, the group
// width G (filters, a multiple of LANES) and the entry point's name ENTRY.
//
// A block is OB output positions (3, 4 or 6) for a group of G filters, held in
// OB*G/LANES registers: each weight vector is loaded once for the block, each input value
// broadcast once for the group. The input channels are taken in chunks whose weights stay in
// the core's cache while the blocks of a group reuse them, the partial sums kept in part.

// KNAME(x) names a function of this instance of the kernel (x_g16 for G 16): a file may
// include this one for two group widths.
#define KCAT2(a, b) a##_g##b
#define KCAT(a, b) KCAT2(a, b)
#define KNAME(x) KCAT(x, G)

#define V (G / LANES)
// PF is how many input channels ahead the streaming weights are prefetched: 16 KB, to keep
// enough in flight for memory's latency. Measured on ResNet18's 256-channel 2x2 layer with
// its weights out of the cache: 59-65 us per call at 4 KB ahead, 47-58 us at 12 KB.
#define PF (16384 / (G * 4))

// PREFETCH asks for the weights PF input channels past w.
#define PREFETCH(w) _Pragma("GCC unroll 8") for (int l = 0; l < G; l += 16) _mm_prefetch((const char *)((w) + PF * G + l), _MM_HINT_T0)

// PRODUCTS(NP, X) adds the products of the weights at w with the values X(i) of NP positions
// to their accumulators. It holds the block's accumulators and either the group's weight
// vectors with one broadcast value or the positions' broadcast values with one weight vector,
// whichever needs fewer registers: AVX2's 16 hold 12 accumulators, 3 values and a weight
// (the wide kernel) or 12 accumulators, 2 weights and a value (the other), and spilling
// costs up to a third of the speed (one core, BenchmarkPreparedConv: AVX2's kernel on 7x7
// maps ran at 68-72 GFLOP/s broadcasting first against 101, its wide kernel at 56x56 at
// 106-108 against 101-102).
#define PRODUCTS(NP, X)                                                                           \
	do {                                                                                          \
		if (V <= NP) {                                                                            \
			VEC wv[V];                                                                            \
			_Pragma("GCC unroll 8") for (int v = 0; v < V; v++) wv[v] = VLOAD(w + LANES * v);     \
			_Pragma("GCC unroll 8") for (int i = 0; i < NP; i++) {                                \
				const VEC xv = VSET1(X(i));                                                       \
				_Pragma("GCC unroll 8") for (int v = 0; v < V; v++) acc[i][v] = VFMA(wv[v], xv, acc[i][v]); \
			}                                                                                     \
		} else {                                                                                  \
			VEC xv[NP];                                                                           \
			_Pragma("GCC unroll 8") for (int i = 0; i < NP; i++) xv[i] = VSET1(X(i));             \
			_Pragma("GCC unroll 8") for (int v = 0; v < V; v++) {                                 \
				const VEC wv = VLOAD(w + LANES * v);                                              \
				_Pragma("GCC unroll 8") for (int i = 0; i < NP; i++) acc[i][v] = VFMA(wv, xv[i], acc[i][v]); \
			}                                                                                     \
		}                                                                                         \
	} while (0)

// CHANNEL(NP) adds input channel c's products at one tap to the accumulators of NP
// positions, advancing their input pointers to the next channel (cs floats on).
#define AT_X(i) (*x[i])
#define CHANNEL(NP)                                                                               \
	do {                                                                                          \
		PRODUCTS(NP, AT_X);                                                                       \
		_Pragma("GCC unroll 8") for (int i = 0; i < NP; i++) x[i] += d->cs;                       \
	} while (0)

// CHANNEL_AT(NP, k) is CHANNEL for the k-th channel of a run of LANES, one float apart (the
// channel-blocked layout): the input pointers stay where the run starts.
#define AT_XK(i) (x[i][k_])
#define CHANNEL_AT(NP, k)                                                                         \
	do {                                                                                          \
		const int k_ = (k);                                                                       \
		PRODUCTS(NP, AT_XK);                                                                      \
	} while (0)

// BLOCK(OB, NP) computes block bi of group gi over the input channels [c0, c1), its first NP
// positions real (the rest of the block lies past the map): it starts from the bias (first)
// or from the partial sums in part, and ends in y through the ReLU (last) or back in part.
#define BLOCK(OB, NP)                                                                             \
	static ISA void KNAME(block_##OB##_##NP)(const cnn_bconv *d, const cnn_bconv_args *a, const float *xp,  \
	    float *y, float *part, int gi, int bi, int c0, int c1, int first, int last) {           \
		VEC acc[NP][V];                                                                   \
		_Pragma("GCC unroll 8") for (int i = 0; i < NP; i++)                              \
		_Pragma("GCC unroll 8") for (int v = 0; v < V; v++)                               \
			acc[i][v] = !first ? VLOAD(part + i * G + LANES * v)                       \
			          : a->b   ? VLOAD(a->b + gi * G + LANES * v) : VZERO();              \
		const long coff = (long)(c0 / d->run) * ((long)d->run * d->cs + d->rjump) + (long)(c0 % d->run) * d->cs; \
		int row[NP], col[NP]; /* where the positions' windows start, less the padding */ \
		long base[NP]; /* and where in the input it reads tap (0, 0) */                   \
		{                                                                                 \
			int r = bi * OB / d->ow, c = bi * OB % d->ow;                                 \
			/* the padded input holds row -ph at 0; the unpadded reads 0 there */       \
			const long shift = d->unpadded ? -(long)d->ph * d->rs - (long)d->pw * d->cols : 0; \
			_Pragma("GCC unroll 8") for (int i = 0; i < NP; i++) {                        \
				row[i] = r * d->sh - d->ph, col[i] = c * d->sw - d->pw;                   \
				base[i] = (long)r * d->sh * d->rs + (long)c * d->sw * d->cols + coff + shift; \
				if (++c == d->ow)                                                         \
					c = 0, r++;                                                           \
			}                                                                             \
		}                                                                                 \
		for (int t = 0; t < d->taps; t++) {                                               \
			const int tr = a->tr[t], tc = a->tc[t];                                       \
			int in[NP], data = 0; /* whether a position reads the map at this tap */     \
			_Pragma("GCC unroll 8") for (int i = 0; i < NP; i++) {                        \
				in[i] = (unsigned)(row[i] + tr) < (unsigned)d->h && (unsigned)(col[i] + tc) < (unsigned)d->w; \
				data |= in[i];                                                            \
			}                                                                             \
			if (!data)                                                                    \
				continue;                                                                 \
			const long toff = (long)tr * d->rs + (long)tc * d->cols;                      \
			const float *x[NP];                                                           \
			long step[NP]; /* from a run of LANES channels to the next, blocked */        \
			_Pragma("GCC unroll 8") for (int i = 0; i < NP; i++) {                        \
				const int zero = d->unpadded && !in[i]; /* padding: one run of zeros for every channel */ \
				x[i] = zero ? cnn_bconv_zeros : xp + base[i] + toff;                     \
				step[i] = zero ? 0 : LANES + d->rjump;                                    \
			}                                                                             \
			const float *w = a->w + (((long)gi * d->taps + t) * d->C + c0) * G;           \
			if (d->run == LANES && d->cs == 1) /* blocked: c0 and c1 whole runs */        \
				for (int c = c0; c < c1; c += LANES) {                                    \
					if (d->blocks == 1) /* the weights stream through once: prefetch them */ \
						_Pragma("GCC unroll 16") for (int k = 0; k < LANES; k++, w += G) { \
							PREFETCH(w);                                                  \
							CHANNEL_AT(NP, k);                                            \
						}                                                                 \
					else                                                                  \
						_Pragma("GCC unroll 16") for (int k = 0; k < LANES; k++, w += G)  \
							CHANNEL_AT(NP, k);                                            \
					_Pragma("GCC unroll 8") for (int i = 0; i < NP; i++) x[i] += step[i]; \
				}                                                                         \
			else                                                                          \
			for (int c = c0; c < c1;) { /* a run of values at a time */                   \
				const int e = c + d->run < c1 ? c + d->run : c1; /* c0 starts a run */    \
				if (d->blocks == 1) /* the weights stream through once: prefetch them */ \
					for (; c < e; c++, w += G) {                                          \
						PREFETCH(w);                                                      \
						CHANNEL(NP);                                                      \
					}                                                                     \
				else                                                                      \
					for (; c < e; c++, w += G)                                            \
						CHANNEL(NP);                                                      \
				_Pragma("GCC unroll 8") for (int i = 0; i < NP; i++) x[i] += d->rjump;    \
			}                                                                             \
		}                                                                                 \
		if (!last) {                                                                      \
			_Pragma("GCC unroll 8") for (int i = 0; i < NP; i++)                          \
			_Pragma("GCC unroll 8") for (int v = 0; v < V; v++)                           \
				VSTORE(part + i * G + LANES * v, acc[i][v]);                              \
			return;                                                                       \
		}                                                                                 \
		if (d->yb) { /* blocked: each vector is a block's channels at a position */      \
			_Pragma("GCC unroll 8") for (int v = 0; v < V; v++) {                         \
				const int q = gi * G + LANES * v;                                         \
				if (q >= d->P)                                                            \
					break;                                                                \
				float *yq = y + ((long)(q / LANES) * d->OHW + bi * OB) * LANES;           \
				const float *rq = a->r ? a->r + (yq - y) : 0;                             \
				_Pragma("GCC unroll 8") for (int i = 0; i < NP; i++) {                    \
					const VEC s = rq ? VADD(acc[i][v], VLOAD(rq + i * LANES)) : acc[i][v]; \
					VSTORE(yq + i * LANES, d->relu ? VRELU(s) : s);                       \
				}                                                                         \
			}                                                                             \
			return;                                                                       \
		}                                                                                 \
		float out[NP][G];                                                                 \
		if (a->r) { /* the sum, then the ReLU, a value at a time as VRELU has it */      \
			_Pragma("GCC unroll 8") for (int i = 0; i < NP; i++)                          \
			_Pragma("GCC unroll 8") for (int v = 0; v < V; v++)                           \
				VSTORE(out[i] + LANES * v, acc[i][v]);                                    \
			const int q0 = gi * G, q1 = q0 + G < d->P ? q0 + G : d->P, o0 = bi * OB;      \
			for (int q = q0; q < q1; q++)                                                 \
				for (int i = 0; i < NP; i++) {                                            \
					const long at = (long)q * d->OHW + o0 + i;                            \
					const float s = out[i][q - q0] + a->r[at];                            \
					y[at] = !d->relu || s > 0 || s != s ? s : 0.0f;                       \
				}                                                                         \
			return;                                                                       \
		}                                                                                 \
		_Pragma("GCC unroll 8") for (int i = 0; i < NP; i++)                              \
		_Pragma("GCC unroll 8") for (int v = 0; v < V; v++)                               \
			VSTORE(out[i] + LANES * v, d->relu ? VRELU(acc[i][v]) : acc[i][v]);           \
		const int q0 = gi * G, q1 = q0 + G < d->P ? q0 + G : d->P, o0 = bi * OB;          \
		for (int q = q0; q < q1; q++)                                                     \
			for (int i = 0; i < NP; i++)                                                  \
				y[(long)q * d->OHW + o0 + i] = out[i][q - q0];                            \
	}

BLOCK(3, 1)
BLOCK(3, 2)
BLOCK(3, 3)
BLOCK(4, 1)
BLOCK(4, 2)
BLOCK(4, 3)
BLOCK(4, 4)
BLOCK(6, 1)
BLOCK(6, 2)
BLOCK(6, 3)
BLOCK(6, 4)
BLOCK(6, 5)
BLOCK(6, 6)

// block runs block bi of group gi with as many real positions as it has.
static ISA void KNAME(block)(const cnn_bconv *d, const cnn_bconv_args *a, const float *xp, float *y, float *part,
    int gi, int bi, int c0, int c1, int first, int last) {
	const int left = d->OHW - bi * d->ob;
	const int np = left < d->ob ? left : d->ob;
	if (d->ob == 3) {
		switch (np) {
		case 1: KNAME(block_3_1)(d, a, xp, y, part, gi, bi, c0, c1, first, last); return;
		case 2: KNAME(block_3_2)(d, a, xp, y, part, gi, bi, c0, c1, first, last); return;
		default: KNAME(block_3_3)(d, a, xp, y, part, gi, bi, c0, c1, first, last); return;
		}
	}
	if (d->ob == 4) {
		switch (np) {
		case 1: KNAME(block_4_1)(d, a, xp, y, part, gi, bi, c0, c1, first, last); return;
		case 2: KNAME(block_4_2)(d, a, xp, y, part, gi, bi, c0, c1, first, last); return;
		case 3: KNAME(block_4_3)(d, a, xp, y, part, gi, bi, c0, c1, first, last); return;
		default: KNAME(block_4_4)(d, a, xp, y, part, gi, bi, c0, c1, first, last); return;
		}
	}
	switch (np) {
	case 1: KNAME(block_6_1)(d, a, xp, y, part, gi, bi, c0, c1, first, last); return;
	case 2: KNAME(block_6_2)(d, a, xp, y, part, gi, bi, c0, c1, first, last); return;
	case 3: KNAME(block_6_3)(d, a, xp, y, part, gi, bi, c0, c1, first, last); return;
	case 4: KNAME(block_6_4)(d, a, xp, y, part, gi, bi, c0, c1, first, last); return;
	case 5: KNAME(block_6_5)(d, a, xp, y, part, gi, bi, c0, c1, first, last); return;
	default: KNAME(block_6_6)(d, a, xp, y, part, gi, bi, c0, c1, first, last); return;
	}
}

ISA void ENTRY(const cnn_bconv *d, const cnn_bconv_args *a, const float *xp, float *y, float *part, int n0,
    int n1, int u0, int u1) {
	for (int n = n0; n < n1; n++) {
		const float *xn = xp + (long)n * d->image;
		float *yn = y + (long)n * d->P * d->OHW;
		cnn_bconv_args an = *a; /* the residual of image n */
		if (an.r)
			an.r += (long)n * d->P * d->OHW;
		for (int u = u0; u < u1;) {
			// The blocks [b0, b1) of group gi, chunk by chunk of input channels.
			const int gi = u / d->blocks, b0 = u % d->blocks;
			const int b1 = u1 - gi * d->blocks < d->blocks ? u1 - gi * d->blocks : d->blocks;
			for (int c0 = 0; c0 < d->C; c0 += d->chunk) {
				const int c1 = c0 + d->chunk < d->C ? c0 + d->chunk : d->C;
				for (int bi = b0; bi < b1; bi++)
					KNAME(block)(d, &an, xn, yn, part + (long)(bi - b0) * d->ob * G, gi, bi, c0, c1, c0 == 0, c1 == d->C);
			}
			u += b1 - b0;
		}
	}
}

#undef V
#undef PF
#undef PREFETCH
#undef PRODUCTS
#undef AT_X
#undef AT_XK
#undef CHANNEL
#undef CHANNEL_AT
#undef BLOCK
