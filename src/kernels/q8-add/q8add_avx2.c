/* q8add_avx2.c - q8add.h kernels for AVX2: 32 values a step (four vectors of 8 in float32,
 * packed back to bytes), the tail through the scalar definition. The target leaves FMA out,
 * so no product and sum can be contracted into one rounding. */
#include "q8add.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define T __attribute__((target("avx2")))

typedef struct consts {
    __m256i za, zb;
    __m256 sa, sb, sy, rl, rh, zf, floor;
} consts;

T static inline consts make(const lcv_q8add_params *p, int32_t lo, int32_t hi) {
    consts c;
    c.za = _mm256_set1_epi32(p->za);
    c.zb = _mm256_set1_epi32(p->zb);
    c.sa = _mm256_set1_ps(p->sa);
    c.sb = _mm256_set1_ps(p->sb);
    c.sy = _mm256_set1_ps(p->sy);
    c.rl = _mm256_set1_ps((float)(lo - p->zy));
    c.rh = _mm256_set1_ps((float)(hi - p->zy));
    c.zf = _mm256_set1_ps((float)p->zy);
    /* NaN lanes end as 0, inside both types' ranges: without a Relu the floor changes nothing */
    c.floor = _mm256_set1_ps((float)(p->relu ? p->zy : lo));
    return c;
}

/* 8 results from 8 widened operands each, as int32 within the output type's range. */
T static inline __m256i add8(__m256i a, __m256i b, const consts *c) {
    __m256 fa = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(a, c->za)), c->sa);
    __m256 fb = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(b, c->zb)), c->sb);
    __m256 v = _mm256_div_ps(_mm256_add_ps(fa, fb), c->sy);
    __m256 r = _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    r = _mm256_min_ps(_mm256_max_ps(r, c->rl), c->rh);
    __m256 ord = _mm256_cmp_ps(v, v, _CMP_ORD_Q);
    r = _mm256_and_ps(_mm256_add_ps(r, c->zf), ord); /* exact: small integers */
    return _mm256_cvtps_epi32(_mm256_max_ps(r, c->floor));
}

/* Four vectors of 8 int32 (in range) to 32 bytes in order. */
T static inline __m256i pack32(__m256i a, __m256i b, __m256i c, __m256i d, int is_signed) {
    __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
    __m256i q = is_signed ? _mm256_packs_epi16(ab, cd) : _mm256_packus_epi16(ab, cd);
    return _mm256_permutevar8x32_epi32(q, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

#define LOAD8(p) _mm_loadl_epi64((const __m128i *)(p))

T static void add_u8(const uint8_t *a, const uint8_t *b, uint8_t *y, int64_t n,
                     const lcv_q8add_params *p) {
    consts c = make(p, 0, 255);
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i r[4];
        for (int k = 0; k < 4; k++)
            r[k] = add8(_mm256_cvtepu8_epi32(LOAD8(a + i + 8 * k)),
                        _mm256_cvtepu8_epi32(LOAD8(b + i + 8 * k)), &c);
        _mm256_storeu_si256((__m256i *)(y + i), pack32(r[0], r[1], r[2], r[3], 0));
    }
    for (; i < n; i++) y[i] = (uint8_t)lcv_q8add1(a[i], b[i], p, 0, 255);
}

T static void add_i8(const int8_t *a, const int8_t *b, int8_t *y, int64_t n,
                     const lcv_q8add_params *p) {
    consts c = make(p, -128, 127);
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i r[4];
        for (int k = 0; k < 4; k++)
            r[k] = add8(_mm256_cvtepi8_epi32(LOAD8(a + i + 8 * k)),
                        _mm256_cvtepi8_epi32(LOAD8(b + i + 8 * k)), &c);
        _mm256_storeu_si256((__m256i *)(y + i), pack32(r[0], r[1], r[2], r[3], 1));
    }
    for (; i < n; i++) y[i] = (int8_t)lcv_q8add1(a[i], b[i], p, -128, 127);
}

const lcv_q8add_kernels lcv_q8add_kernels_avx2 = {add_u8, add_i8};

#endif
