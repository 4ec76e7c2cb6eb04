//go:build cgo

// The broadcast convolution in AVX-512 (see bconv_kernel.h): groups of 64 filters, 4 vectors.

#include <immintrin.h>
#include "bconv.h"

#define ISA __attribute__((target("avx512f,avx512bw,avx512vl,fma")))
#define VEC __m512
#define LANES 16
#define G CNN_AVX512_BCONV_G
#define VLOAD _mm512_loadu_ps
#define VSTORE _mm512_storeu_ps
#define VSET1 _mm512_set1_ps
#define VZERO _mm512_setzero_ps
#define VADD _mm512_add_ps
#define VFMA _mm512_fmadd_ps
#define ENTRY cnn_avx512_bconv

// VRELU keeps NaN (max returns its second operand when either is NaN) and makes -0 +0, as
// avx512_amd64.c's relu does.
static inline ISA __m512 VRELU(__m512 v) {
	const __m512 zero = _mm512_setzero_ps();
	return _mm512_add_ps(_mm512_max_ps(zero, v), zero);
}

#include "bconv_kernel.h"
