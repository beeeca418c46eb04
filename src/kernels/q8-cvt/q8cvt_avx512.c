/* q8cvt_avx512.c - q8cvt.h kernels for AVX-512: 16 values a step, the tail under a mask, so
 * no scalar loop. */
#include "q8cvt.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define T __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))

T static void quant(const float *x, float s, int32_t z, void *y, int64_t n, int32_t lo,
                    int32_t hi) {
    __m512 vs = _mm512_set1_ps(s), zf = _mm512_set1_ps((float)z);
    __m512 rl = _mm512_set1_ps((float)(lo - z)), rh = _mm512_set1_ps((float)(hi - z));
    uint8_t *out = y;
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 v = _mm512_div_ps(_mm512_maskz_loadu_ps(m, x + i), vs);
        __m512 r = _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        r = _mm512_min_ps(_mm512_max_ps(r, rl), rh);
        /* NaN lanes become 0 (the reference's store of a NaN), the rest get z added */
        __mmask16 ord = _mm512_cmp_ps_mask(v, v, _CMP_ORD_Q);
        r = _mm512_maskz_add_ps(ord, r, zf);
        /* in range already: the truncating narrow is exact for int8 and uint8 alike */
        _mm_mask_storeu_epi8(out + i, m, _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(r)));
    }
}

T static void quant_u8(const float *x, float s, int32_t z, uint8_t *y, int64_t n) {
    quant(x, s, z, y, n, 0, 255);
}

T static void quant_i8(const float *x, float s, int32_t z, int8_t *y, int64_t n) {
    quant(x, s, z, y, n, -128, 127);
}

T static void dequant_u8(const uint8_t *x, float s, int32_t z, float *y, int64_t n) {
    __m512 vs = _mm512_set1_ps(s);
    __m512i vz = _mm512_set1_epi32(z);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512i q = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, x + i));
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(q, vz)), vs));
    }
}

T static void dequant_i8(const int8_t *x, float s, int32_t z, float *y, int64_t n) {
    __m512 vs = _mm512_set1_ps(s);
    __m512i vz = _mm512_set1_epi32(z);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512i q = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, x + i));
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(q, vz)), vs));
    }
}

const lcv_q8cvt_kernels lcv_q8cvt_kernels_avx512 = {quant_u8, quant_i8, dequant_u8, dequant_i8};

#endif
