/* dwconv_avx512.c - AVX-512 depthwise plane kernels: 16 output columns per vector, kernel
 * width 3/5/7 and horizontal stride 1/2 unrolled at compile time (dilation 1 across the
 * row; any kernel height, vertical stride and dilation). Borders and narrow rows use masked
 * loads that read zeros outside the row; the interior loop has no bounds tests. */
#include "dwconv.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define LCV_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))
#define LCV_INLINE static inline __attribute__((always_inline))
#define V 16

/* 16 inputs at p[0], p[S], ..., p[15*S]. For S == 2 the second load starts at p + 15 so the
 * last element read is p[30], the last one needed: no read past the interior. */
LCV_INLINE LCV_AVX512 __m512 load_strided(const float *p, int S, __m512i idx) {
    if (S == 1) return _mm512_loadu_ps(p);
    return _mm512_permutex2var_ps(_mm512_loadu_ps(p), idx, _mm512_loadu_ps(p + 15));
}

/* One vector of outputs starting at column ox of row oy, kernel rows [ky0, ky1). */
LCV_INLINE LCV_AVX512 __m512 dw_vec(const lcv_dwconv_geom *g, const float *x, const float *w,
                                    __m512 acc, int64_t oy, int64_t ox, int64_t ky0,
                                    int64_t ky1, int KW, int S, __m512i idx) {
    for (int64_t ky = ky0; ky < ky1; ky++) {
        const float *xr = x + (oy * g->stride_h + ky * g->dil_h - g->pad_top) * g->in_w +
                          ox * S - g->pad_left;
        const float *wr = w + ky * KW;
        for (int kx = 0; kx < KW; kx++)
            acc = _mm512_fmadd_ps(load_strided(xr + kx, S, idx), _mm512_set1_ps(wr[kx]), acc);
    }
    return acc;
}

/* Lanes [lo, hi) of a 16-lane mask, clamped. */
LCV_INLINE __mmask16 lane_range(int64_t lo, int64_t hi) {
    lo = lo < 0 ? 0 : lo;
    hi = hi > V ? V : hi;
    if (lo >= hi) return 0;
    return (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

/* Outputs [ox, ox + n) (n <= 16) of row oy at the borders: taps outside the input row are
 * masked loads of zero (masked lanes are never accessed, so nothing is read out of range). */
LCV_INLINE LCV_AVX512 void dw_vec_masked(const lcv_dwconv_geom *g, const float *x,
                                         const float *w, float bias, float *yr, int64_t oy,
                                         int64_t ox, int64_t n, int64_t ky0, int64_t ky1,
                                         int KW, int S, __m512i idx) {
    __m512 acc = _mm512_set1_ps(bias);
    for (int64_t ky = ky0; ky < ky1; ky++) {
        const float *xr = x + (oy * g->stride_h + ky * g->dil_h - g->pad_top) * g->in_w;
        const float *wr = w + ky * KW;
        for (int kx = 0; kx < KW; kx++) {
            int64_t ib = ox * S + kx - g->pad_left; /* input column of lane 0 */
            __m512 v;
            if (S == 1) {
                __mmask16 m = lane_range(-ib, (g->in_w - ib < n ? g->in_w - ib : n));
                v = _mm512_maskz_loadu_ps(m, (const float *)((uintptr_t)xr + ib * 4));
            } else {
                __mmask16 m0 = lane_range(-ib, g->in_w - ib);
                __mmask16 m1 = lane_range(-ib - V, g->in_w - ib - V);
                v = _mm512_permutex2var_ps(
                    _mm512_maskz_loadu_ps(m0, (const float *)((uintptr_t)xr + ib * 4)), idx,
                    _mm512_maskz_loadu_ps(m1, (const float *)((uintptr_t)xr + (ib + V) * 4)));
            }
            acc = _mm512_fmadd_ps(v, _mm512_set1_ps(wr[kx]), acc);
        }
    }
    _mm512_mask_storeu_ps(yr + ox, lane_range(0, n), acc);
}

LCV_INLINE LCV_AVX512 void dw_plane(const lcv_dwconv_geom *g, const float *x, const float *w,
                                    float bias, float *y, int KW, int S) {
    const __m512i idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 17, 19, 21, 23, 25, 27,
                                          29, 31);
    const __m512i idx_even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24,
                                               26, 28, 30);
    const __m512 vb = _mm512_set1_ps(bias);
    int64_t c0, c1;
    lcv_dwconv_interior_cols(g, &c0, &c1);
    for (int64_t oy = 0; oy < g->out_h; oy++) {
        float *yr = y + oy * g->out_w;
        int64_t ky0, ky1;
        lcv_dwconv_rows(g, oy, &ky0, &ky1);
        if (c1 - c0 < V) { /* narrow rows: masked vectors throughout */
            for (int64_t ox = 0; ox < g->out_w; ox += V)
                dw_vec_masked(g, x, w, bias, yr, oy, ox, g->out_w - ox < V ? g->out_w - ox : V,
                              ky0, ky1, KW, S, idx_even);
            continue;
        }
        for (int64_t ox = 0; ox < c0; ox += V)
            dw_vec_masked(g, x, w, bias, yr, oy, ox, c0 - ox < V ? c0 - ox : V, ky0, ky1, KW, S,
                          idx_even);
        int64_t ox = c0;
        for (; ox + 2 * V <= c1; ox += 2 * V) {
            __m512 a0 = vb, a1 = vb;
            for (int64_t ky = ky0; ky < ky1; ky++) {
                const float *xr = x + (oy * g->stride_h + ky * g->dil_h - g->pad_top) * g->in_w +
                                  ox * S - g->pad_left;
                const float *wr = w + ky * KW;
                for (int kx = 0; kx < KW; kx++) {
                    __m512 wv = _mm512_set1_ps(wr[kx]);
                    a0 = _mm512_fmadd_ps(load_strided(xr + kx, S, idx), wv, a0);
                    a1 = _mm512_fmadd_ps(load_strided(xr + kx + V * S, S, idx), wv, a1);
                }
            }
            _mm512_storeu_ps(yr + ox, a0);
            _mm512_storeu_ps(yr + ox + V, a1);
        }
        for (; ox + V <= c1; ox += V)
            _mm512_storeu_ps(yr + ox, dw_vec(g, x, w, vb, oy, ox, ky0, ky1, KW, S, idx));
        if (ox < c1) { /* the last few: one vector ending at c1, overlapping done columns */
            ox = c1 - V;
            _mm512_storeu_ps(yr + ox, dw_vec(g, x, w, vb, oy, ox, ky0, ky1, KW, S, idx));
        }
        for (ox = c1; ox < g->out_w; ox += V)
            dw_vec_masked(g, x, w, bias, yr, oy, ox, g->out_w - ox < V ? g->out_w - ox : V, ky0,
                          ky1, KW, S, idx_even);
    }
}

#define LCV_DW_VARIANT(KW, S)                                                                   \
    static LCV_AVX512 void dw_k##KW##_s##S(const lcv_dwconv_geom *g, const float *x,           \
                                           const float *w, float bias, float *y) {             \
        dw_plane(g, x, w, bias, y, KW, S);                                                        \
    }
LCV_DW_VARIANT(3, 1)
LCV_DW_VARIANT(3, 2)
LCV_DW_VARIANT(5, 1)
LCV_DW_VARIANT(5, 2)
LCV_DW_VARIANT(7, 1)
LCV_DW_VARIANT(7, 2)
#undef LCV_DW_VARIANT

lcv_dwconv_plane_fn lcv_dwconv_select_avx512(const lcv_dwconv_geom *g) {
    static const lcv_dwconv_plane_fn table[3][2] = {
        {dw_k3_s1, dw_k3_s2}, {dw_k5_s1, dw_k5_s2}, {dw_k7_s1, dw_k7_s2}};
    if (g->dil_w != 1 || (g->stride_w != 1 && g->stride_w != 2)) return NULL;
    if (g->kw != 3 && g->kw != 5 && g->kw != 7) return NULL;
    return table[(g->kw - 3) / 2][g->stride_w - 1];
}

#endif /* __x86_64__ */
