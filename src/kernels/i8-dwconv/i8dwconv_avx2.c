/* i8dwconv_avx2.c - AVX2 row helpers of the int8 depthwise conv: bytes to zero-point-shifted
 * floats, and exact-integer floats to requantized bytes (lane by lane what
 * lcv_i8_requant does: cvt, mul, max(v, lo - zy) for NaN -> lo, min, round to even, + zy). */
#include "i8dwconv.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define T2 __attribute__((target("avx2,fma")))

T2 void lcv_i8dw_load_avx2(const uint8_t *x, int64_t n, bool is_signed, int32_t zero,
                           float *dst) {
    const __m256i z = _mm256_set1_epi32(zero);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i b = _mm_loadl_epi64((const __m128i *)(x + i));
        __m256i v = is_signed ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
        _mm256_storeu_ps(dst + i, _mm256_cvtepi32_ps(_mm256_sub_epi32(v, z)));
    }
    lcv_i8dw_load_scalar(x + i, n - i, is_signed, zero, dst + i);
}

T2 void lcv_i8dw_store_avx2(const float *acc, int64_t n, int32_t bias, float mult,
                            const lcv_i8gemm_epi *e, void *dst) {
    int64_t i = 0;
    const __m256i b = _mm256_set1_epi32(bias), zy = _mm256_set1_epi32(e->zy);
    const __m256 m = _mm256_set1_ps(mult), lo = _mm256_set1_ps((float)(e->lo - e->zy));
    const __m256 hi = _mm256_set1_ps((float)(e->hi - e->zy));
    const __m256i pick = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                          -1, -1, 0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1,
                                          -1, -1, -1, -1);
    const __m256i perm = _mm256_setr_epi32(0, 4, 1, 1, 1, 1, 1, 1);
    if (e->out == LCV_I8_OUT_S32) {
        for (; i + 8 <= n; i += 8)
            _mm256_storeu_si256((__m256i *)((int32_t *)dst + i),
                                _mm256_add_epi32(_mm256_cvttps_epi32(_mm256_loadu_ps(acc + i)), b));
        lcv_i8dw_store_scalar(acc + i, n - i, bias, mult, e, (int32_t *)dst + i);
        return;
    }
    for (; i + 8 <= n; i += 8) {
        __m256i v = _mm256_add_epi32(_mm256_cvttps_epi32(_mm256_loadu_ps(acc + i)), b);
        __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(v), m);
        f = _mm256_min_ps(_mm256_max_ps(f, lo), hi);
        __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(f), zy);
        q = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(q, pick), perm);
        _mm_storel_epi64((__m128i *)(void *)((uint8_t *)dst + i), _mm256_castsi256_si128(q));
    }
    lcv_i8dw_store_scalar(acc + i, n - i, bias, mult, e, (uint8_t *)dst + i);
}

#endif
