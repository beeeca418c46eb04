/* q8cvt_avx2.c - q8cvt.h kernels for AVX2: 32 values a step (four vectors of 8 packed down
 * to bytes), the tail through the scalar definition. */
#include "q8cvt.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define T __attribute__((target("avx2,fma")))

/* 8 quotients rounded, clamped to [rl, rh], NaN lanes to -z (so that + z gives 0), + z. */
T static inline __m256i quant8(const float *x, __m256 s, __m256 rl, __m256 rh, __m256 zf) {
    __m256 v = _mm256_div_ps(_mm256_loadu_ps(x), s);
    __m256 r = _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    r = _mm256_min_ps(_mm256_max_ps(r, rl), rh);
    __m256 ord = _mm256_cmp_ps(v, v, _CMP_ORD_Q);
    r = _mm256_and_ps(_mm256_add_ps(r, zf), ord); /* exact: small integers */
    return _mm256_cvtps_epi32(r);
}

/* Four vectors of 8 int32 (in range) to 32 bytes in order. */
T static inline __m256i pack32(__m256i a, __m256i b, __m256i c, __m256i d, int is_signed) {
    __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
    __m256i q = is_signed ? _mm256_packs_epi16(ab, cd) : _mm256_packus_epi16(ab, cd);
    return _mm256_permutevar8x32_epi32(q, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

T static void quant(const float *x, float s, int32_t z, void *y, int64_t n, int32_t lo,
                    int32_t hi) {
    __m256 vs = _mm256_set1_ps(s), zf = _mm256_set1_ps((float)z);
    __m256 rl = _mm256_set1_ps((float)(lo - z)), rh = _mm256_set1_ps((float)(hi - z));
    uint8_t *out = y;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i q = pack32(quant8(x + i, vs, rl, rh, zf), quant8(x + i + 8, vs, rl, rh, zf),
                           quant8(x + i + 16, vs, rl, rh, zf), quant8(x + i + 24, vs, rl, rh, zf),
                           lo < 0);
        _mm256_storeu_si256((__m256i *)(out + i), q);
    }
    for (; i < n; i++) out[i] = (uint8_t)lcv_q8cvt_quant1(x[i], s, z, lo, hi);
}

T static void quant_u8(const float *x, float s, int32_t z, uint8_t *y, int64_t n) {
    quant(x, s, z, y, n, 0, 255);
}

T static void quant_i8(const float *x, float s, int32_t z, int8_t *y, int64_t n) {
    quant(x, s, z, y, n, -128, 127);
}

T static void dequant_u8(const uint8_t *x, float s, int32_t z, float *y, int64_t n) {
    __m256 vs = _mm256_set1_ps(s);
    __m256i vz = _mm256_set1_epi32(z);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i q = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(x + i)));
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(q, vz)), vs));
    }
    for (; i < n; i++) y[i] = (float)((int32_t)x[i] - z) * s;
}

T static void dequant_i8(const int8_t *x, float s, int32_t z, float *y, int64_t n) {
    __m256 vs = _mm256_set1_ps(s);
    __m256i vz = _mm256_set1_epi32(z);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(x + i)));
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(q, vz)), vs));
    }
    for (; i < n; i++) y[i] = (float)((int32_t)x[i] - z) * s;
}

const lcv_q8cvt_kernels lcv_q8cvt_kernels_avx2 = {quant_u8, quant_i8, dequant_u8, dequant_i8};

#endif
