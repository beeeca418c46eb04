/* gemm_avx512.c - the AVX-512 GEMM microkernel: a 12 x 32 tile in 24 zmm accumulators, with
 * masked loads/stores for column remainders and one specialised copy per (rows, vectors) so
 * remainders cost no wasted FMAs. The epilogue (bias, residual, activation) runs on the
 * registers before the single store. */
#include "gemm_internal.h"
#include "../../kernels/f32-vact/vact.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define MR LCV_GEMM_MR_AVX512
#define NV (LCV_GEMM_NR_AVX512 / 16)
#define T512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#define INL static inline __attribute__((always_inline))

/* The activation (lcv_act_f32 semantics) on 16 lanes; the comparisons are written so
 * NaN behaves as in core/act.c. */
T512 INL __m512 act512(__m512 x, const lcv_gemm_act *f) {
    const __m512 zero = _mm512_setzero_ps();
    switch (f->kind) {
    case LCV_GEMM_ACT_RELU: return _mm512_max_ps(x, zero); /* max(NaN, 0) gives 0, like x > 0 */
    case LCV_GEMM_ACT_CLIP: {
        __m512 lo = _mm512_set1_ps(f->alpha), hi = _mm512_set1_ps(f->beta);
        x = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ), x, lo);
        return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, hi, _CMP_GT_OQ), x, hi);
    }
    case LCV_GEMM_ACT_LEAKYRELU: {
        __m512 neg = _mm512_mul_ps(x, _mm512_set1_ps(f->alpha));
        return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, zero, _CMP_GE_OQ), neg, x);
    }
    case LCV_GEMM_ACT_HARDSIGMOID: {
        __m512 v = _mm512_add_ps(_mm512_mul_ps(x, _mm512_set1_ps(f->alpha)),
                                 _mm512_set1_ps(f->beta));
        const __m512 one = _mm512_set1_ps(1.0f);
        v = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, zero, _CMP_LT_OQ), v, zero);
        return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, one, _CMP_GT_OQ), v, one);
    }
    case LCV_GEMM_ACT_HARDSWISH: {
        __m512 v = _mm512_add_ps(_mm512_div_ps(x, _mm512_set1_ps(6.0f)), _mm512_set1_ps(0.5f));
        const __m512 one = _mm512_set1_ps(1.0f);
        v = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, zero, _CMP_LT_OQ), v, zero);
        v = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, one, _CMP_GT_OQ), v, one);
        return _mm512_mul_ps(x, v);
    }
    default: return x;
    }
}

/* One tile of R rows and V 16-float column vectors (R, V constant after inlining). */
T512 INL void tile512(const lcv_gemm_tile *t, const int R, const int V) {
    __m512 acc[MR][NV];
    __mmask16 mk[NV];
    const int64_t ldc = t->ldc;
    float *c = t->c;
#pragma GCC unroll 4
    for (int v = 0; v < V; v++) {
        int cols = t->nr - 16 * v;
        mk[v] = cols >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << cols) - 1u);
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int v = 0; v < V; v++)
            acc[r][v] = t->load_c ? _mm512_maskz_loadu_ps(mk[v], c + r * ldc + 16 * v)
                                  : _mm512_setzero_ps();
    const float *a = t->a, *b = t->b;
    const int64_t bks = t->b_ks;
    for (int64_t k = 0; k < t->kc; k++) {
        __m512 bv[NV];
#pragma GCC unroll 4
        for (int v = 0; v < V; v++) bv[v] = _mm512_maskz_loadu_ps(mk[v], b + 16 * v);
#pragma GCC unroll 16
        for (int r = 0; r < R; r++) {
            __m512 av = _mm512_set1_ps(a[r]);
#pragma GCC unroll 4
            for (int v = 0; v < V; v++) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
        }
        a += MR;
        b += bks;
    }
    const bool vact = t->epi && t->act.kind != LCV_GEMM_ACT_NONE &&
                      t->act.kind != LCV_GEMM_ACT_OTHER;
    if (t->epi) {
        __m512 bcol[NV] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
        if (t->bias && t->bias_per_col)
#pragma GCC unroll 4
            for (int v = 0; v < V; v++) bcol[v] = _mm512_maskz_loadu_ps(mk[v], t->bias + 16 * v);
#pragma GCC unroll 16
        for (int r = 0; r < R; r++) {
            if (t->bias && !t->bias_per_col) {
                __m512 br = _mm512_set1_ps(t->bias[r]);
#pragma GCC unroll 4
                for (int v = 0; v < V; v++) acc[r][v] = _mm512_add_ps(acc[r][v], br);
            } else if (t->bias) {
#pragma GCC unroll 4
                for (int v = 0; v < V; v++) acc[r][v] = _mm512_add_ps(acc[r][v], bcol[v]);
            }
            if (t->res) {
                const float *rr = t->res + r * t->ld_res;
#pragma GCC unroll 4
                for (int v = 0; v < V; v++)
                    acc[r][v] = _mm512_add_ps(acc[r][v], _mm512_maskz_loadu_ps(mk[v], rr + 16 * v));
            }
            if (vact)
#pragma GCC unroll 4
                for (int v = 0; v < V; v++) acc[r][v] = act512(acc[r][v], &t->act);
        }
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int v = 0; v < V; v++) _mm512_mask_storeu_ps(c + r * ldc + 16 * v, mk[v], acc[r][v]);
    if (t->epi && t->act.kind == LCV_GEMM_ACT_OTHER)
        for (int r = 0; r < R; r++)
            lcv_vact_apply(LCV_ISA_AVX512, t->act.fused, c + r * ldc, t->nr);
}

#define LCV_TILE512_CASE(R)                                                                      \
    case R:                                                                                      \
        if (t->nr > 16)                                                                          \
            tile512(t, R, 2);                                                                    \
        else                                                                                     \
            tile512(t, R, 1);                                                                    \
        return;

T512 void lcv_gemm_tile_avx512(const lcv_gemm_tile *t) {
    switch (t->mr) {
        LCV_TILE512_CASE(1)
        LCV_TILE512_CASE(2)
        LCV_TILE512_CASE(3)
        LCV_TILE512_CASE(4)
        LCV_TILE512_CASE(5)
        LCV_TILE512_CASE(6)
        LCV_TILE512_CASE(7)
        LCV_TILE512_CASE(8)
        LCV_TILE512_CASE(9)
        LCV_TILE512_CASE(10)
        LCV_TILE512_CASE(11)
        LCV_TILE512_CASE(12)
    default: return;
    }
}

#endif
