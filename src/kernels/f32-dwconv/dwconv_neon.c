/* dwconv_neon.c - AArch64 NEON depthwise plane kernels: 4 output columns per vector, kernel
 * width 3/5/7 and horizontal stride 1/2 unrolled at compile time (dilation 1 across the row;
 * any kernel height, vertical stride and dilation). The interior loads whole vectors with no
 * bounds tests; borders and narrow rows gather their taps lane by lane with zeros outside the
 * row, since NEON has no masked loads. */
#include "dwconv.h"

#if defined(__aarch64__)
#include <arm_neon.h>

#define LCV_INLINE static inline __attribute__((always_inline))
#define V 4

/* 4 inputs at p[0], p[S], p[2S], p[3S]. For S == 2 the second load starts at p + 3 so the last
 * element read is p[6], the last one needed (vld2q would read p[7], past the interior):
 * p0 p1 p2 p3 and (p3 p4 p5 p6 rotated to p4 p5 p6 p3) interleave-select to p0 p2 p4 p6. */
LCV_INLINE float32x4_t load_strided(const float *p, int S) {
    if (S == 1) return vld1q_f32(p);
    float32x4_t hi = vld1q_f32(p + 3);
    return vuzp1q_f32(vld1q_f32(p), vextq_f32(hi, hi, 1));
}

/* One vector of outputs starting at column ox of row oy, kernel rows [ky0, ky1). */
LCV_INLINE float32x4_t dw_vec(const lcv_dwconv_geom *g, const float *x, const float *w,
                              float32x4_t acc, int64_t oy, int64_t ox, int64_t ky0, int64_t ky1,
                              int KW, int S) {
    for (int64_t ky = ky0; ky < ky1; ky++) {
        const float *xr = x + (oy * g->stride_h + ky * g->dil_h - g->pad_top) * g->in_w +
                          ox * S - g->pad_left;
        const float *wr = w + ky * KW;
        for (int kx = 0; kx < KW; kx++)
            acc = vfmaq_n_f32(acc, load_strided(xr + kx, S), wr[kx]);
    }
    return acc;
}

/* Lane i = row[ib + i * S] where that column is inside [0, in_w), else 0. */
LCV_INLINE float32x4_t gather(const float *row, int64_t ib, int64_t in_w, int S) {
    float lanes[V];
    for (int i = 0; i < V; i++) {
        int64_t col = ib + (int64_t)i * S;
        lanes[i] = col >= 0 && col < in_w ? row[col] : 0.0f;
    }
    return vld1q_f32(lanes);
}

/* Outputs [ox, ox + n) (n <= 4) of row oy at the borders; only those n are stored. */
LCV_INLINE void dw_vec_border(const lcv_dwconv_geom *g, const float *x, const float *w,
                              float bias, float *yr, int64_t oy, int64_t ox, int64_t n,
                              int64_t ky0, int64_t ky1, int KW, int S) {
    float32x4_t acc = vdupq_n_f32(bias);
    for (int64_t ky = ky0; ky < ky1; ky++) {
        const float *xr = x + (oy * g->stride_h + ky * g->dil_h - g->pad_top) * g->in_w;
        const float *wr = w + ky * KW;
        for (int kx = 0; kx < KW; kx++)
            acc = vfmaq_n_f32(acc, gather(xr, ox * S + kx - g->pad_left, g->in_w, S), wr[kx]);
    }
    if (n >= V) {
        vst1q_f32(yr + ox, acc);
        return;
    }
    vst1q_lane_f32(yr + ox, acc, 0);
    if (n > 1) vst1q_lane_f32(yr + ox + 1, acc, 1);
    if (n > 2) vst1q_lane_f32(yr + ox + 2, acc, 2);
}

LCV_INLINE void dw_plane(const lcv_dwconv_geom *g, const float *x, const float *w, float bias,
                         float *y, int KW, int S) {
    const float32x4_t vb = vdupq_n_f32(bias);
    int64_t c0, c1;
    lcv_dwconv_interior_cols(g, &c0, &c1);
    for (int64_t oy = 0; oy < g->out_h; oy++) {
        float *yr = y + oy * g->out_w;
        int64_t ky0, ky1;
        lcv_dwconv_rows(g, oy, &ky0, &ky1);
        if (c1 - c0 < V) { /* narrow rows: gathered vectors throughout */
            for (int64_t ox = 0; ox < g->out_w; ox += V)
                dw_vec_border(g, x, w, bias, yr, oy, ox, g->out_w - ox < V ? g->out_w - ox : V,
                              ky0, ky1, KW, S);
            continue;
        }
        for (int64_t ox = 0; ox < c0; ox += V)
            dw_vec_border(g, x, w, bias, yr, oy, ox, c0 - ox < V ? c0 - ox : V, ky0, ky1, KW, S);
        int64_t ox = c0;
        for (; ox + 2 * V <= c1; ox += 2 * V) {
            float32x4_t a0 = vb, a1 = vb;
            for (int64_t ky = ky0; ky < ky1; ky++) {
                const float *xr = x + (oy * g->stride_h + ky * g->dil_h - g->pad_top) * g->in_w +
                                  ox * S - g->pad_left;
                const float *wr = w + ky * KW;
                for (int kx = 0; kx < KW; kx++) {
                    a0 = vfmaq_n_f32(a0, load_strided(xr + kx, S), wr[kx]);
                    a1 = vfmaq_n_f32(a1, load_strided(xr + kx + V * S, S), wr[kx]);
                }
            }
            vst1q_f32(yr + ox, a0);
            vst1q_f32(yr + ox + V, a1);
        }
        for (; ox + V <= c1; ox += V)
            vst1q_f32(yr + ox, dw_vec(g, x, w, vb, oy, ox, ky0, ky1, KW, S));
        if (ox < c1) { /* the last few: one vector ending at c1, overlapping done columns */
            ox = c1 - V;
            vst1q_f32(yr + ox, dw_vec(g, x, w, vb, oy, ox, ky0, ky1, KW, S));
        }
        for (ox = c1; ox < g->out_w; ox += V)
            dw_vec_border(g, x, w, bias, yr, oy, ox, g->out_w - ox < V ? g->out_w - ox : V, ky0,
                          ky1, KW, S);
    }
}

#define LCV_DW_VARIANT(KW, S)                                                                   \
    static void dw_k##KW##_s##S(const lcv_dwconv_geom *g, const float *x, const float *w,     \
                                float bias, float *y) {                                         \
        dw_plane(g, x, w, bias, y, KW, S);                                                       \
    }
LCV_DW_VARIANT(3, 1)
LCV_DW_VARIANT(3, 2)
LCV_DW_VARIANT(5, 1)
LCV_DW_VARIANT(5, 2)
LCV_DW_VARIANT(7, 1)
LCV_DW_VARIANT(7, 2)
#undef LCV_DW_VARIANT

lcv_dwconv_plane_fn lcv_dwconv_select_neon(const lcv_dwconv_geom *g) {
    static const lcv_dwconv_plane_fn table[3][2] = {
        {dw_k3_s1, dw_k3_s2}, {dw_k5_s1, dw_k5_s2}, {dw_k7_s1, dw_k7_s2}};
    if (g->dil_w != 1 || (g->stride_w != 1 && g->stride_w != 2)) return NULL;
    if (g->kw != 3 && g->kw != 5 && g->kw != 7) return NULL;
    return table[(g->kw - 3) / 2][g->stride_w - 1];
}

#endif /* __aarch64__ */
