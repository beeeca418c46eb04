/* box_x86.c - the IoU row kernel for AVX2 (8 boxes per step) and AVX-512 (16), with a
 * masked/scalar tail. Same operations in the same order as lcv_iou_row_scalar: _mm*_max_ps(a, b)
 * is "a > b ? a : b" and _mm*_min_ps(a, b) is "a < b ? a : b", exactly the scalar's maxf/minf;
 * the division is IEEE-exact in every width. */
#include "box.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define T_AVX2 __attribute__((target("avx2")))
#define T_AVX512 __attribute__((target("avx512f")))

T_AVX2 void lcv_iou_row_avx2(const lcv_box_soa *b, int64_t i, int64_t j0, int64_t j1,
                             float *out) {
    const __m256 x1 = _mm256_set1_ps(b->x1[i]), y1 = _mm256_set1_ps(b->y1[i]);
    const __m256 x2 = _mm256_set1_ps(b->x2[i]), y2 = _mm256_set1_ps(b->y2[i]);
    const __m256 area = _mm256_set1_ps(b->area[i]), zero = _mm256_setzero_ps();
    int64_t j = j0;
    for (; j + 8 <= j1; j += 8) {
        __m256 iw = _mm256_max_ps(_mm256_sub_ps(_mm256_min_ps(x2, _mm256_loadu_ps(b->x2 + j)),
                                                _mm256_max_ps(x1, _mm256_loadu_ps(b->x1 + j))),
                                  zero);
        __m256 ih = _mm256_max_ps(_mm256_sub_ps(_mm256_min_ps(y2, _mm256_loadu_ps(b->y2 + j)),
                                                _mm256_max_ps(y1, _mm256_loadu_ps(b->y1 + j))),
                                  zero);
        __m256 inter = _mm256_mul_ps(iw, ih);
        __m256 uni = _mm256_sub_ps(_mm256_add_ps(area, _mm256_loadu_ps(b->area + j)), inter);
        __m256 pos = _mm256_cmp_ps(uni, zero, _CMP_GT_OQ);
        /* where uni <= 0 divide by 1 instead (no spurious exceptions), then select 0 */
        __m256 q = _mm256_div_ps(inter, _mm256_blendv_ps(_mm256_set1_ps(1.0f), uni, pos));
        _mm256_storeu_ps(out + (j - j0), _mm256_and_ps(q, pos));
    }
    if (j < j1) lcv_iou_row_scalar(b, i, j, j1, out + (j - j0));
}

T_AVX512 void lcv_iou_row_avx512(const lcv_box_soa *b, int64_t i, int64_t j0, int64_t j1,
                                 float *out) {
    const __m512 x1 = _mm512_set1_ps(b->x1[i]), y1 = _mm512_set1_ps(b->y1[i]);
    const __m512 x2 = _mm512_set1_ps(b->x2[i]), y2 = _mm512_set1_ps(b->y2[i]);
    const __m512 area = _mm512_set1_ps(b->area[i]), zero = _mm512_setzero_ps();
    for (int64_t j = j0; j < j1; j += 16) {
        __mmask16 m = j1 - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (j1 - j)) - 1u);
        __m512 bx1 = _mm512_maskz_loadu_ps(m, b->x1 + j), by1 = _mm512_maskz_loadu_ps(m, b->y1 + j);
        __m512 bx2 = _mm512_maskz_loadu_ps(m, b->x2 + j), by2 = _mm512_maskz_loadu_ps(m, b->y2 + j);
        __m512 iw = _mm512_max_ps(_mm512_sub_ps(_mm512_min_ps(x2, bx2), _mm512_max_ps(x1, bx1)),
                                  zero);
        __m512 ih = _mm512_max_ps(_mm512_sub_ps(_mm512_min_ps(y2, by2), _mm512_max_ps(y1, by1)),
                                  zero);
        __m512 inter = _mm512_mul_ps(iw, ih);
        __m512 uni = _mm512_sub_ps(_mm512_add_ps(area, _mm512_maskz_loadu_ps(m, b->area + j)),
                                   inter);
        __mmask16 pos = _mm512_cmp_ps_mask(uni, zero, _CMP_GT_OQ) & m;
        __m512 q = _mm512_maskz_div_ps(pos, inter, uni);
        _mm512_mask_storeu_ps(out + (j - j0), m, q);
    }
}
#endif
