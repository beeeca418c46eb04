/* gemm_neon.c - the AArch64 NEON GEMM microkernel: an 8 x 12 tile in 24 q-register
 * accumulators, each k step one multiply-add of a B vector by a lane of the packed A column
 * (vfmaq_laneq_f32). One specialised copy per (rows, vectors, full/partial columns); the last
 * vector of a partial tile is loaded and stored lane by lane, so nothing outside the matrices
 * is touched. The epilogue (bias, residual, activation) runs on the registers before the store. */
#include "gemm_internal.h"
#include "../../kernels/f32-vact/vact.h"

#if defined(__aarch64__)
#include <arm_neon.h>

#define MR LCV_GEMM_MR_NEON
#define NV (LCV_GEMM_NR_NEON / 4)
#define INL static inline __attribute__((always_inline))

/* x where keep is set, else y. */
INL float32x4_t pick(uint32x4_t keep, float32x4_t x, float32x4_t y) {
    return vbslq_f32(keep, x, y);
}

/* The activation (lcv_act_f32 semantics) on 4 lanes. Every choice is a compare and a select
 * rather than vmax/vmin, because ordered compares are false for NaN exactly like the C
 * comparisons in core/act.c, while FMAX/FMIN would propagate the NaN. Products and sums are
 * separate instructions (no fusion) so results match the C expression bit for bit. */
INL float32x4_t act128(float32x4_t x, const lcv_gemm_act *f) {
    const float32x4_t zero = vdupq_n_f32(0.0f), one = vdupq_n_f32(1.0f);
    switch (f->kind) {
    case LCV_GEMM_ACT_RELU: return pick(vcgtq_f32(x, zero), x, zero);
    case LCV_GEMM_ACT_CLIP: {
        /* Both masks from x: below alpha wins even when alpha > beta, as in the C ternary. */
        float32x4_t lo = vdupq_n_f32(f->alpha), hi = vdupq_n_f32(f->beta);
        float32x4_t r = pick(vcgtq_f32(x, hi), hi, x);
        return pick(vcltq_f32(x, lo), lo, r);
    }
    case LCV_GEMM_ACT_LEAKYRELU:
        return pick(vcgeq_f32(x, zero), x, vmulq_f32(x, vdupq_n_f32(f->alpha)));
    case LCV_GEMM_ACT_HARDSIGMOID: {
        float32x4_t v = vaddq_f32(vmulq_f32(vdupq_n_f32(f->alpha), x), vdupq_n_f32(f->beta));
        float32x4_t r = pick(vcgtq_f32(v, one), one, v);
        return pick(vcltq_f32(v, zero), zero, r);
    }
    case LCV_GEMM_ACT_HARDSWISH: {
        float32x4_t v = vaddq_f32(vdivq_f32(x, vdupq_n_f32(6.0f)), vdupq_n_f32(0.5f));
        float32x4_t r = pick(vcgtq_f32(v, one), one, v);
        return vmulq_f32(x, pick(vcltq_f32(v, zero), zero, r));
    }
    default: return x;
    }
}

/* The first n (1..4) floats at p, zeros above. */
INL float32x4_t load_n(const float *p, int n) {
    if (n >= 4) return vld1q_f32(p);
    float32x4_t v = vdupq_n_f32(0.0f);
    v = vld1q_lane_f32(p, v, 0);
    if (n > 1) v = vld1q_lane_f32(p + 1, v, 1);
    if (n > 2) v = vld1q_lane_f32(p + 2, v, 2);
    return v;
}

INL void store_n(float *p, float32x4_t v, int n) {
    if (n >= 4) {
        vst1q_f32(p, v);
        return;
    }
    vst1q_lane_f32(p, v, 0);
    if (n > 1) vst1q_lane_f32(p + 1, v, 1);
    if (n > 2) vst1q_lane_f32(p + 2, v, 2);
}

/* Vector v of a row: whole unless it is the last one of a partial tile (`last` lanes). */
INL float32x4_t load_vec(const float *row, int v, int V, bool FULL, int last) {
    return FULL || v < V - 1 ? vld1q_f32(row + 4 * v) : load_n(row + 4 * v, last);
}

INL void store_vec(float *row, int v, float32x4_t x, int V, bool FULL, int last) {
    if (FULL || v < V - 1)
        vst1q_f32(row + 4 * v, x);
    else
        store_n(row + 4 * v, x, last);
}

/* acc[r][*] += b * lane l of av, for row r of the tile when it has one. The lane is spelled
 * out as a literal: vfmaq_laneq_f32 needs a constant. */
#define LCV_NEON_ROW(r, av, l)                                                                   \
    if (R > (r)) {                                                                               \
        _Pragma("GCC unroll 4") for (int v = 0; v < V; v++) acc[r][v] =                          \
            vfmaq_laneq_f32(acc[r][v], bv[v], av, l);                                            \
    }

/* One tile of R rows and V 4-float column vectors; FULL: every column valid. */
INL void tile128(const lcv_gemm_tile *t, const int R, const int V, const bool FULL) {
    float32x4_t acc[MR][NV];
    const int64_t ldc = t->ldc;
    const int last = t->nr - 4 * (V - 1); /* lanes of the last vector, 1..4 */
    float *c = t->c;
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int v = 0; v < V; v++)
            acc[r][v] = t->load_c ? load_vec(c + r * ldc, v, V, FULL, last) : vdupq_n_f32(0.0f);
    const float *a = t->a, *b = t->b;
    const int64_t bks = t->b_ks;
    for (int64_t k = 0; k < t->kc; k++) {
        float32x4_t bv[NV];
#pragma GCC unroll 4
        for (int v = 0; v < V; v++) bv[v] = load_vec(b, v, V, FULL, last);
        /* The packed A column always holds MR floats (zero past the valid rows). */
        const float32x4_t a0 = vld1q_f32(a);
        LCV_NEON_ROW(0, a0, 0)
        LCV_NEON_ROW(1, a0, 1)
        LCV_NEON_ROW(2, a0, 2)
        LCV_NEON_ROW(3, a0, 3)
        if (R > 4) {
            const float32x4_t a1 = vld1q_f32(a + 4);
            LCV_NEON_ROW(4, a1, 0)
            LCV_NEON_ROW(5, a1, 1)
            LCV_NEON_ROW(6, a1, 2)
            LCV_NEON_ROW(7, a1, 3)
        }
        a += MR;
        b += bks;
    }
    const bool vact = t->epi && t->act.kind != LCV_GEMM_ACT_NONE &&
                      t->act.kind != LCV_GEMM_ACT_OTHER;
    if (t->epi) {
        float32x4_t bcol[NV];
#pragma GCC unroll 4
        for (int v = 0; v < V; v++)
            bcol[v] = t->bias && t->bias_per_col ? load_vec(t->bias, v, V, FULL, last)
                                                 : vdupq_n_f32(0.0f);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            if (t->bias && !t->bias_per_col) {
                float32x4_t br = vdupq_n_f32(t->bias[r]);
#pragma GCC unroll 4
                for (int v = 0; v < V; v++) acc[r][v] = vaddq_f32(acc[r][v], br);
            } else if (t->bias) {
#pragma GCC unroll 4
                for (int v = 0; v < V; v++) acc[r][v] = vaddq_f32(acc[r][v], bcol[v]);
            }
            if (t->res) {
                const float *rr = t->res + r * t->ld_res;
#pragma GCC unroll 4
                for (int v = 0; v < V; v++)
                    acc[r][v] = vaddq_f32(acc[r][v], load_vec(rr, v, V, FULL, last));
            }
            if (vact)
#pragma GCC unroll 4
                for (int v = 0; v < V; v++) acc[r][v] = act128(acc[r][v], &t->act);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int v = 0; v < V; v++) store_vec(c + r * ldc, v, acc[r][v], V, FULL, last);
    if (t->epi && t->act.kind == LCV_GEMM_ACT_OTHER)
        for (int r = 0; r < R; r++) lcv_vact_apply(LCV_ISA_NEON, t->act.fused, c + r * ldc, t->nr);
}

#define LCV_TILE128_CASE(R)                                                                      \
    case R:                                                                                      \
        if (t->nr == 12)                                                                         \
            tile128(t, R, 3, true);                                                              \
        else if (t->nr > 8)                                                                      \
            tile128(t, R, 3, false);                                                             \
        else if (t->nr == 8)                                                                     \
            tile128(t, R, 2, true);                                                              \
        else if (t->nr > 4)                                                                      \
            tile128(t, R, 2, false);                                                             \
        else if (t->nr == 4)                                                                     \
            tile128(t, R, 1, true);                                                              \
        else                                                                                     \
            tile128(t, R, 1, false);                                                             \
        return;

void lcv_gemm_tile_neon(const lcv_gemm_tile *t) {
    switch (t->mr) {
        LCV_TILE128_CASE(1)
        LCV_TILE128_CASE(2)
        LCV_TILE128_CASE(3)
        LCV_TILE128_CASE(4)
        LCV_TILE128_CASE(5)
        LCV_TILE128_CASE(6)
        LCV_TILE128_CASE(7)
        LCV_TILE128_CASE(8)
    default: return;
    }
}

#endif /* __aarch64__ */
