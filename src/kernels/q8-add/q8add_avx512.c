/* q8add_avx512.c - q8add.h kernels for AVX-512: 16 values a step, the tail under a mask, so
 * no scalar loop. Products and sums are separate intrinsics (never contracted: the library
 * builds as ISO C, where GCC keeps FP contraction off, and clang contracts only within one
 * source expression). */
#include "q8add.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define T __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))

T static void add(const void *a, const void *b, void *y, int64_t n, const lcv_q8add_params *p,
                  int32_t lo, int32_t hi) {
    const __m512i za = _mm512_set1_epi32(p->za), zb = _mm512_set1_epi32(p->zb);
    const __m512 sa = _mm512_set1_ps(p->sa), sb = _mm512_set1_ps(p->sb);
    const __m512 sy = _mm512_set1_ps(p->sy), zf = _mm512_set1_ps((float)p->zy);
    const __m512 rl = _mm512_set1_ps((float)(lo - p->zy)), rh = _mm512_set1_ps((float)(hi - p->zy));
    /* NaN lanes end as 0, inside both types' ranges: without a Relu the floor changes nothing */
    const __m512 floor = _mm512_set1_ps((float)(p->relu ? p->zy : lo));
    const uint8_t *pa = a, *pb = b;
    uint8_t *out = y;
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m128i qa = _mm_maskz_loadu_epi8(m, pa + i), qb = _mm_maskz_loadu_epi8(m, pb + i);
        __m512i ia = lo < 0 ? _mm512_cvtepi8_epi32(qa) : _mm512_cvtepu8_epi32(qa);
        __m512i ib = lo < 0 ? _mm512_cvtepi8_epi32(qb) : _mm512_cvtepu8_epi32(qb);
        __m512 fa = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(ia, za)), sa);
        __m512 fb = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(ib, zb)), sb);
        __m512 v = _mm512_div_ps(_mm512_add_ps(fa, fb), sy);
        __m512 r = _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        r = _mm512_min_ps(_mm512_max_ps(r, rl), rh);
        __mmask16 ord = _mm512_cmp_ps_mask(v, v, _CMP_ORD_Q);
        r = _mm512_max_ps(_mm512_maskz_add_ps(ord, r, zf), floor);
        /* in range already: the truncating narrow is exact for int8 and uint8 alike */
        _mm_mask_storeu_epi8(out + i, m, _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(r)));
    }
}

T static void add_u8(const uint8_t *a, const uint8_t *b, uint8_t *y, int64_t n,
                     const lcv_q8add_params *p) {
    add(a, b, y, n, p, 0, 255);
}

T static void add_i8(const int8_t *a, const int8_t *b, int8_t *y, int64_t n,
                     const lcv_q8add_params *p) {
    add(a, b, y, n, p, -128, 127);
}

const lcv_q8add_kernels lcv_q8add_kernels_avx512 = {add_u8, add_i8};

#endif
