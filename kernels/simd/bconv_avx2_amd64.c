//go:build cgo

// The broadcast convolution in AVX2 (see bconv_kernel.h), in two group widths: 16 filters, 2
// vectors, in blocks of 4 or 6 positions; and 32, 4 vectors, in blocks of 3 (see bconvWidePositions).

#include <immintrin.h>
#include "bconv.h"

#define ISA __attribute__((target("avx2,fma")))
#define VEC __m256
#define LANES 8
#define G CNN_AVX2_BCONV_G
#define VLOAD _mm256_loadu_ps
#define VSTORE _mm256_storeu_ps
#define VSET1 _mm256_set1_ps
#define VZERO _mm256_setzero_ps
#define VADD _mm256_add_ps
#define VFMA _mm256_fmadd_ps
#define ENTRY cnn_avx2_bconv

// VRELU keeps NaN (max returns its second operand when either is NaN) and makes -0 +0, as
// avx2_amd64.c's relu does.
static inline ISA __m256 VRELU(__m256 v) {
	const __m256 zero = _mm256_setzero_ps();
	return _mm256_add_ps(_mm256_max_ps(zero, v), zero);
}

#include "bconv_kernel.h"

#undef G
#undef ENTRY
#define G CNN_AVX2_WIDE_BCONV_G
#define ENTRY cnn_avx2_bconv_wide
#include "bconv_kernel.h"
