/* dwconv_avx2.c - AVX2+FMA depthwise plane kernels: 8 output columns per vector, kernel width
 * 3/5/7 and horizontal stride 1/2 unrolled at compile time (dilation 1 across the row; any
 * kernel height, vertical stride and dilation). Borders and narrow rows use masked loads that
 * read zeros outside the row; the interior loop has no bounds tests. */
#include "dwconv.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define LCV_AVX2 __attribute__((target("avx2,fma")))
#define LCV_INLINE static inline __attribute__((always_inline))
#define V 8

/* 8 inputs at p[0], p[S], ..., p[7*S]. For S == 2 the second load starts at p + 7 so the last
 * element read is p[14], the last one needed: no read past the interior. */
LCV_INLINE LCV_AVX2 __m256 load_strided(const float *p, int S) {
    if (S == 1) return _mm256_loadu_ps(p);
    /* per 128-bit lane: a[0], a[2], b[1], b[3] -> x0 x2 x8 x10 | x4 x6 x12 x14 */
    __m256 t = _mm256_shuffle_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 7), 0xD8);
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), 0xD8));
}

/* One vector of outputs starting at column ox of row oy, kernel rows [ky0, ky1). */
LCV_INLINE LCV_AVX2 __m256 dw_vec(const lcv_dwconv_geom *g, const float *x, const float *w,
                                  __m256 acc, int64_t oy, int64_t ox, int64_t ky0, int64_t ky1,
                                  int KW, int S) {
    for (int64_t ky = ky0; ky < ky1; ky++) {
        const float *xr = x + (oy * g->stride_h + ky * g->dil_h - g->pad_top) * g->in_w +
                          ox * S - g->pad_left;
        const float *wr = w + ky * KW;
        for (int kx = 0; kx < KW; kx++)
            acc = _mm256_fmadd_ps(load_strided(xr + kx, S), _mm256_set1_ps(wr[kx]), acc);
    }
    return acc;
}

/* A lane mask (all ones in lanes [lo, hi)) for the masked loads and stores. */
LCV_INLINE LCV_AVX2 __m256i lane_range(int64_t lo, int64_t hi) {
    lo = lo < 0 ? 0 : lo > V ? V : lo;
    hi = hi < 0 ? 0 : hi > V ? V : hi;
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_and_si256(_mm256_cmpgt_epi32(lane, _mm256_set1_epi32((int)lo - 1)),
                            _mm256_cmpgt_epi32(_mm256_set1_epi32((int)hi), lane));
}

LCV_INLINE LCV_AVX2 __m256 load_masked(const float *row, int64_t at, int64_t lo, int64_t hi) {
    return _mm256_maskload_ps((const float *)((uintptr_t)row + (uintptr_t)at * 4),
                              lane_range(lo, hi));
}

/* Outputs [ox, ox + n) (n <= 8) of row oy at the borders: taps outside the input row are
 * masked loads of zero (masked lanes are never accessed, so nothing is read out of range). */
LCV_INLINE LCV_AVX2 void dw_vec_masked(const lcv_dwconv_geom *g, const float *x, const float *w,
                                       float bias, float *yr, int64_t oy, int64_t ox, int64_t n,
                                       int64_t ky0, int64_t ky1, int KW, int S) {
    __m256 acc = _mm256_set1_ps(bias);
    for (int64_t ky = ky0; ky < ky1; ky++) {
        const float *xr = x + (oy * g->stride_h + ky * g->dil_h - g->pad_top) * g->in_w;
        const float *wr = w + ky * KW;
        for (int kx = 0; kx < KW; kx++) {
            int64_t ib = ox * S + kx - g->pad_left; /* input column of lane 0 */
            __m256 v;
            if (S == 1) {
                v = load_masked(xr, ib, -ib, g->in_w - ib < n ? g->in_w - ib : n);
            } else { /* as load_strided, each load masked to the row */
                __m256 t = _mm256_shuffle_ps(load_masked(xr, ib, -ib, g->in_w - ib),
                                             load_masked(xr, ib + 7, -ib - 7, g->in_w - ib - 7),
                                             0xD8);
                v = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), 0xD8));
            }
            acc = _mm256_fmadd_ps(v, _mm256_set1_ps(wr[kx]), acc);
        }
    }
    _mm256_maskstore_ps(yr + ox, lane_range(0, n), acc);
}

LCV_INLINE LCV_AVX2 void dw_plane(const lcv_dwconv_geom *g, const float *x, const float *w,
                                  float bias, float *y, int KW, int S) {
    const __m256 vb = _mm256_set1_ps(bias);
    int64_t c0, c1;
    lcv_dwconv_interior_cols(g, &c0, &c1);
    for (int64_t oy = 0; oy < g->out_h; oy++) {
        float *yr = y + oy * g->out_w;
        int64_t ky0, ky1;
        lcv_dwconv_rows(g, oy, &ky0, &ky1);
        if (c1 - c0 < V) { /* narrow rows: masked vectors throughout */
            for (int64_t ox = 0; ox < g->out_w; ox += V)
                dw_vec_masked(g, x, w, bias, yr, oy, ox, g->out_w - ox < V ? g->out_w - ox : V,
                              ky0, ky1, KW, S);
            continue;
        }
        for (int64_t ox = 0; ox < c0; ox += V)
            dw_vec_masked(g, x, w, bias, yr, oy, ox, c0 - ox < V ? c0 - ox : V, ky0, ky1, KW, S);
        int64_t ox = c0;
        for (; ox + 2 * V <= c1; ox += 2 * V) {
            __m256 a0 = vb, a1 = vb;
            for (int64_t ky = ky0; ky < ky1; ky++) {
                const float *xr = x + (oy * g->stride_h + ky * g->dil_h - g->pad_top) * g->in_w +
                                  ox * S - g->pad_left;
                const float *wr = w + ky * KW;
                for (int kx = 0; kx < KW; kx++) {
                    __m256 wv = _mm256_set1_ps(wr[kx]);
                    a0 = _mm256_fmadd_ps(load_strided(xr + kx, S), wv, a0);
                    a1 = _mm256_fmadd_ps(load_strided(xr + kx + V * S, S), wv, a1);
                }
            }
            _mm256_storeu_ps(yr + ox, a0);
            _mm256_storeu_ps(yr + ox + V, a1);
        }
        for (; ox + V <= c1; ox += V)
            _mm256_storeu_ps(yr + ox, dw_vec(g, x, w, vb, oy, ox, ky0, ky1, KW, S));
        if (ox < c1) { /* the last few: one vector ending at c1, overlapping done columns */
            ox = c1 - V;
            _mm256_storeu_ps(yr + ox, dw_vec(g, x, w, vb, oy, ox, ky0, ky1, KW, S));
        }
        for (ox = c1; ox < g->out_w; ox += V)
            dw_vec_masked(g, x, w, bias, yr, oy, ox, g->out_w - ox < V ? g->out_w - ox : V, ky0,
                          ky1, KW, S);
    }
}

#define LCV_DW_VARIANT(KW, S)                                                                   \
    static LCV_AVX2 void dw_k##KW##_s##S(const lcv_dwconv_geom *g, const float *x,             \
                                         const float *w, float bias, float *y) {               \
        dw_plane(g, x, w, bias, y, KW, S);                                                        \
    }
LCV_DW_VARIANT(3, 1)
LCV_DW_VARIANT(3, 2)
LCV_DW_VARIANT(5, 1)
LCV_DW_VARIANT(5, 2)
LCV_DW_VARIANT(7, 1)
LCV_DW_VARIANT(7, 2)
#undef LCV_DW_VARIANT

lcv_dwconv_plane_fn lcv_dwconv_select_avx2(const lcv_dwconv_geom *g) {
    static const lcv_dwconv_plane_fn table[3][2] = {
        {dw_k3_s1, dw_k3_s2}, {dw_k5_s1, dw_k5_s2}, {dw_k7_s1, dw_k7_s2}};
    if (g->dil_w != 1 || (g->stride_w != 1 && g->stride_w != 2)) return NULL;
    if (g->kw != 3 && g->kw != 5 && g->kw != 7) return NULL;
    return table[(g->kw - 3) / 2][g->stride_w - 1];
}

#endif /* __x86_64__ */
