/* gemm_avx2.c - the AVX2+FMA GEMM microkernel: a 6 x 16 tile in 12 ymm accumulators, one
 * specialised copy per (rows, vectors, full/partial columns); partial column tiles use masked
 * loads and stores so nothing outside the matrices is touched. The epilogue (bias, residual,
 * activation) runs on the registers before the single store. */
#include "gemm_internal.h"
#include "../../kernels/f32-vact/vact.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define MR LCV_GEMM_MR_AVX2
#define NV (LCV_GEMM_NR_AVX2 / 8)
#define T256 __attribute__((target("avx2,fma")))
#define INL static inline __attribute__((always_inline))

/* The activation (lcv_act_f32 semantics) on 8 lanes; blendv picks the second operand where the compare is true, and
 * ordered compares are false for NaN, so NaN behaves as in core/act.c. */
T256 INL __m256 act256(__m256 x, const lcv_gemm_act *f) {
    const __m256 zero = _mm256_setzero_ps();
    switch (f->kind) {
    case LCV_GEMM_ACT_RELU: return _mm256_max_ps(x, zero); /* max(NaN, 0) gives 0, like x > 0 */
    case LCV_GEMM_ACT_CLIP: {
        __m256 lo = _mm256_set1_ps(f->alpha), hi = _mm256_set1_ps(f->beta);
        x = _mm256_blendv_ps(x, lo, _mm256_cmp_ps(x, lo, _CMP_LT_OQ));
        return _mm256_blendv_ps(x, hi, _mm256_cmp_ps(x, hi, _CMP_GT_OQ));
    }
    case LCV_GEMM_ACT_LEAKYRELU: {
        __m256 neg = _mm256_mul_ps(x, _mm256_set1_ps(f->alpha));
        return _mm256_blendv_ps(neg, x, _mm256_cmp_ps(x, zero, _CMP_GE_OQ));
    }
    case LCV_GEMM_ACT_HARDSIGMOID: {
        __m256 v = _mm256_add_ps(_mm256_mul_ps(x, _mm256_set1_ps(f->alpha)),
                                 _mm256_set1_ps(f->beta));
        const __m256 one = _mm256_set1_ps(1.0f);
        v = _mm256_blendv_ps(v, zero, _mm256_cmp_ps(v, zero, _CMP_LT_OQ));
        return _mm256_blendv_ps(v, one, _mm256_cmp_ps(v, one, _CMP_GT_OQ));
    }
    case LCV_GEMM_ACT_HARDSWISH: {
        __m256 v = _mm256_add_ps(_mm256_div_ps(x, _mm256_set1_ps(6.0f)), _mm256_set1_ps(0.5f));
        const __m256 one = _mm256_set1_ps(1.0f);
        v = _mm256_blendv_ps(v, zero, _mm256_cmp_ps(v, zero, _CMP_LT_OQ));
        v = _mm256_blendv_ps(v, one, _mm256_cmp_ps(v, one, _CMP_GT_OQ));
        return _mm256_mul_ps(x, v);
    }
    default: return x;
    }
}

T256 INL __m256 load256(const float *p, bool full, __m256i m) {
    return full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m);
}

/* One tile of R rows and V 8-float column vectors; FULL: every column valid. */
T256 INL void tile256(const lcv_gemm_tile *t, const int R, const int V, const bool FULL) {
    __m256 acc[MR][NV];
    __m256i mk[NV];
    const int64_t ldc = t->ldc;
    float *c = t->c;
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
#pragma GCC unroll 4
    for (int v = 0; v < V; v++) mk[v] = _mm256_cmpgt_epi32(_mm256_set1_epi32(t->nr - 8 * v), iota);
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int v = 0; v < V; v++)
            acc[r][v] = t->load_c ? load256(c + r * ldc + 8 * v, FULL, mk[v]) : _mm256_setzero_ps();
    const float *a = t->a, *b = t->b;
    const int64_t bks = t->b_ks;
    for (int64_t k = 0; k < t->kc; k++) {
        __m256 bv[NV];
#pragma GCC unroll 4
        for (int v = 0; v < V; v++) bv[v] = load256(b + 8 * v, FULL, mk[v]);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            __m256 av = _mm256_broadcast_ss(a + r);
#pragma GCC unroll 4
            for (int v = 0; v < V; v++) acc[r][v] = _mm256_fmadd_ps(av, bv[v], acc[r][v]);
        }
        a += MR;
        b += bks;
    }
    const bool vact = t->epi && t->act.kind != LCV_GEMM_ACT_NONE &&
                      t->act.kind != LCV_GEMM_ACT_OTHER;
    if (t->epi) {
        __m256 bcol[NV] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
        if (t->bias && t->bias_per_col)
#pragma GCC unroll 4
            for (int v = 0; v < V; v++) bcol[v] = load256(t->bias + 8 * v, FULL, mk[v]);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            if (t->bias && !t->bias_per_col) {
                __m256 br = _mm256_set1_ps(t->bias[r]);
#pragma GCC unroll 4
                for (int v = 0; v < V; v++) acc[r][v] = _mm256_add_ps(acc[r][v], br);
            } else if (t->bias) {
#pragma GCC unroll 4
                for (int v = 0; v < V; v++) acc[r][v] = _mm256_add_ps(acc[r][v], bcol[v]);
            }
            if (t->res) {
                const float *rr = t->res + r * t->ld_res;
#pragma GCC unroll 4
                for (int v = 0; v < V; v++)
                    acc[r][v] = _mm256_add_ps(acc[r][v], load256(rr + 8 * v, FULL, mk[v]));
            }
            if (vact)
#pragma GCC unroll 4
                for (int v = 0; v < V; v++) acc[r][v] = act256(acc[r][v], &t->act);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int v = 0; v < V; v++) {
            if (FULL)
                _mm256_storeu_ps(c + r * ldc + 8 * v, acc[r][v]);
            else
                _mm256_maskstore_ps(c + r * ldc + 8 * v, mk[v], acc[r][v]);
        }
    if (t->epi && t->act.kind == LCV_GEMM_ACT_OTHER)
        for (int r = 0; r < R; r++) lcv_vact_apply(LCV_ISA_AVX2, t->act.fused, c + r * ldc, t->nr);
}

#define LCV_TILE256_CASE(R)                                                                      \
    case R:                                                                                      \
        if (t->nr == 16)                                                                         \
            tile256(t, R, 2, true);                                                              \
        else if (t->nr > 8)                                                                      \
            tile256(t, R, 2, false);                                                             \
        else if (t->nr == 8)                                                                     \
            tile256(t, R, 1, true);                                                              \
        else                                                                                     \
            tile256(t, R, 1, false);                                                             \
        return;

T256 void lcv_gemm_tile_avx2(const lcv_gemm_tile *t) {
    switch (t->mr) {
        LCV_TILE256_CASE(1)
        LCV_TILE256_CASE(2)
        LCV_TILE256_CASE(3)
        LCV_TILE256_CASE(4)
        LCV_TILE256_CASE(5)
        LCV_TILE256_CASE(6)
    default: return;
    }
}

#endif
