/* dwconv_impl.h - the buffered depthwise plane kernels of dwconv.h written once over a
 * lane-generic vector API, instantiated by dwconv_scalar.c, dwconv_avx2.c, dwconv_avx512.c
 * and dwconv_neon.c. Those define first: VT, VL, V(op) (set1, load, store, load_part,
 * store_part, fma, add: vmath_<isa>.h naming), KTARGET, KNAME(name), DW_NACC (independent
 * accumulators: enough to cover the FMA latency), DW_DEINT2(a, b, e, o) (e, o = the even and
 * odd elements of the 2*VL values a:b), and either the vmath activations (relu, clip,
 * leakyrelu, sigmoid, hardsigmoid, hardswish, silu, tanh, erf, mul) or DW_PORTABLE_EPILOGUE to apply
 * the activation with core/act.c. No include guard. */
#include <string.h>

#include "dwconv.h"

#define DW_INL KTARGET static inline __attribute__((always_inline))

/* p[0, n) = v's first n lanes (all when n >= VL, none when n <= 0). */
DW_INL void KNAME(store_n)(float *p, VT v, int64_t n) {
    if (n >= VL)
        V(store)(p, v);
    else if (n > 0)
        V(store_part)(p, v, n);
}

DW_INL void KNAME(zero)(float *p, int64_t n) {
    const VT z = V(set1)(0.0f);
    int64_t i = 0;
    for (; i + VL <= n; i += VL) V(store)(p + i, z);
    if (i < n) V(store_part)(p + i, z, n - i);
}

/* The buffer's pad columns are zeroed once per task (the caller's contract) and never
 * written, so a row fill stores only the input's columns. */

/* One row, stride 1: input column i is padded column i + pad. */
DW_INL void KNAME(fill_s1)(const float *xr, int64_t in_w, int64_t pad, float *d, int64_t pw) {
    int64_t lz = pad < pw ? pad : pw;
    int64_t n = in_w < pw - lz ? in_w : pw - lz;
    d += lz;
    int64_t i = 0;
    for (; i + 2 * VL <= n; i += 2 * VL) {
        VT a = V(load)(xr + i), b = V(load)(xr + i + VL);
        V(store)(d + i, a);
        V(store)(d + i + VL, b);
    }
    for (; i + VL <= n; i += VL) V(store)(d + i, V(load)(xr + i));
    if (i < n) V(store_part)(d + i, V(load_part)(xr + i, n - i, 0.0f), n - i);
}

/* One row, stride 2, into its two column phases: input column i is padded column i + pad,
 * phase (i + pad) % 2, position (i + pad) / 2. */
DW_INL void KNAME(fill_s2)(const float *xr, int64_t in_w, int64_t pad, float *d0, float *d1,
                           int64_t pw) {
    float *de = pad % 2 ? d1 : d0, *dd = pad % 2 ? d0 : d1; /* phases of x[2m] and x[2m+1] */
    int64_t ce = pad / 2, co = (pad + 1) / 2;                /* their first positions */
    if (ce >= pw) return;
    int64_t ne = (in_w + 1) / 2, no = in_w / 2;
    ne = ne < pw - ce ? ne : pw - ce;
    no = co >= pw ? 0 : no < pw - co ? no : pw - co;
    de += ce;
    dd += co;
    int64_t nfull = no < in_w / 2 ? no : in_w / 2, m = 0;
    if (ne < nfull) nfull = ne;
    for (; m + VL <= nfull; m += VL) { /* whole vectors of pairs, both phases stored */
        VT e, o;
        DW_DEINT2(V(load)(xr + 2 * m), V(load)(xr + 2 * m + VL), e, o);
        V(store)(de + m, e);
        V(store)(dd + m, o);
    }
    const VT z = V(set1)(0.0f);
    int64_t n2 = ne > no ? ne : no;
    for (; m < n2; m += VL) {
        int64_t avail = in_w - 2 * m; /* > 0 since m < ceil(in_w / 2) */
        VT a = avail >= VL ? V(load)(xr + 2 * m) : V(load_part)(xr + 2 * m, avail, 0.0f);
        VT b = avail >= 2 * VL ? V(load)(xr + 2 * m + VL)
               : avail > VL    ? V(load_part)(xr + 2 * m + VL, avail - VL, 0.0f)
                               : z;
        VT e, o;
        DW_DEINT2(a, b, e, o);
        KNAME(store_n)(de + m, e, ne - m);
        KNAME(store_n)(dd + m, o, no - m);
    }
}

/* The buffer for output rows [oy0, oy0 + rb): phase rows [0, rb + halo) (the rest hold
 * finite floats of an earlier block that only discarded lanes read); rows outside the input
 * are zeroed whole. */
KTARGET static void KNAME(fill)(const lcv_dwconv_job *j, const float *x, float *buf, int64_t oy0,
                                int64_t rb) {
    const lcv_dwconv_geom *g = &j->g;
    int64_t sh = g->stride_h, sw = g->stride_w, pw = j->pw, prpw = j->pr * pw;
    int64_t rows = rb + j->pr - j->rb; /* pr - rb is the halo */
    for (int64_t a = 0; a < sh; a++)
        for (int64_t r = 0; r < rows; r++) {
            int64_t iy = (oy0 + r) * sh + a - g->pad_top;
            float *d = buf + (a * sw * j->pr + r) * pw; /* column phase b at d + b * prpw */
            if (iy < 0 || iy >= g->in_h) {
                for (int64_t b = 0; b < sw; b++) KNAME(zero)(d + b * prpw, pw);
                continue;
            }
            const float *xr = x + iy * g->in_w;
            if (sw == 1) {
                KNAME(fill_s1)(xr, g->in_w, g->pad_left, d, pw);
            } else if (sw == 2) {
                KNAME(fill_s2)(xr, g->in_w, g->pad_left, d, d + prpw, pw);
            } else {
                for (int64_t b = 0; b < sw; b++)
                    for (int64_t c = 0; c < pw; c++) {
                        int64_t ix = c * sw + b - g->pad_left;
                        if (ix >= 0 && ix < g->in_w) d[b * prpw + c] = xr[ix];
                    }
            }
        }
}

/* y[0, n) = act(y + res) for the job's activation; res may be NULL. */
#define DW_EPI(EXPR)                                                                              \
    do {                                                                                          \
        int64_t i = 0;                                                                            \
        for (; i + VL <= n; i += VL) {                                                            \
            VT v = V(load)(y + i);                                                                \
            if (res) v = V(add)(v, V(load)(res + i));                                             \
            V(store)(y + i, EXPR);                                                                \
        }                                                                                         \
        if (i < n) {                                                                              \
            VT v = V(load_part)(y + i, n - i, 0.0f);                                              \
            if (res) v = V(add)(v, V(load_part)(res + i, n - i, 0.0f));                           \
            V(store_part)(y + i, EXPR, n - i);                                                    \
        }                                                                                         \
    } while (0)

#if !defined(DW_PORTABLE_EPILOGUE)
/* GELU as core/act.c writes it: 0.5 * x * (1 + erf(x * 0.70710678f)). */
DW_INL VT KNAME(gelu)(VT v) {
    VT e = V(erf)(V(mul)(v, V(set1)(0.70710678f)));
    return V(mul)(V(mul)(V(set1)(0.5f), v), V(add)(V(set1)(1.0f), e));
}
#endif

KTARGET static void KNAME(epilogue)(const lcv_fused *f, const float *res, float *y, int64_t n) {
#if defined(DW_PORTABLE_EPILOGUE)
    if (res)
        for (int64_t i = 0; i < n; i++) y[i] += res[i];
    if (f) lcv_act_apply_f32(f, y, n);
#else
    if (!f) {
        if (res) DW_EPI(v);
        return;
    }
    const VT va = V(set1)(f->alpha), vb = V(set1)(f->beta);
    switch (f->act) {
    case LCV_ACT_NONE: DW_EPI(v); return;
    case LCV_ACT_RELU: DW_EPI(V(relu)(v)); return;
    case LCV_ACT_CLIP: DW_EPI(V(clip)(v, va, vb)); return;
    case LCV_ACT_LEAKYRELU: DW_EPI(V(leakyrelu)(v, va)); return;
    case LCV_ACT_SIGMOID: DW_EPI(V(sigmoid)(v)); return;
    case LCV_ACT_HARDSIGMOID: DW_EPI(V(hardsigmoid)(v, va, vb)); return;
    case LCV_ACT_HARDSWISH: DW_EPI(V(hardswish)(v)); return;
    case LCV_ACT_SILU: DW_EPI(V(silu)(v)); return;
    case LCV_ACT_TANH: DW_EPI(V(tanh)(v)); return;
    case LCV_ACT_GELU: DW_EPI(KNAME(gelu)(v)); return;
    }
    lcv_act_apply_f32(f, y, n); /* a kind added later: its definition */
#endif
}
#undef DW_EPI

/* A tile of RG output rows x CG vectors (RG * CG == DW_NACC accumulators): rows r0.. of the
 * block (clamped to the last, rb - 1: a clamped row is recomputed and stored again, unchanged),
 * vectors c0.. of each row. KW_ > 0: kernel width KW_, column stride S_ and dilation 1 unrolled
 * at compile time; KW_ == 0: any width through the column offset table. */
DW_INL void KNAME(tile)(const lcv_dwconv_job *j, const float *buf, const float *w, VT vbias,
                        float *yb, int64_t r0, int64_t rb, int64_t c0, int RG, int CG, int KW_,
                        int S_) {
    const int64_t ow = j->g.out_w, pw = j->pw, prpw = j->pr * pw, kh = j->g.kh, kw = j->g.kw;
    const float *src[DW_NACC];
    float *dst[DW_NACC];
#pragma GCC unroll 16
    for (int rr = 0; rr < RG; rr++) {
        int64_t row = r0 + rr < rb ? r0 + rr : rb - 1;
        src[rr] = buf + row * pw + c0 * VL;
        dst[rr] = yb + row * ow + c0 * VL;
    }
    VT acc[DW_NACC];
#pragma GCC unroll 16
    for (int u = 0; u < DW_NACC; u++) acc[u] = vbias;
    for (int64_t ky = 0; ky < kh; ky++) {
        const int64_t ro = j->rowoff[ky];
        const float *wr = w + ky * kw;
        if (KW_ > 0) {
#pragma GCC unroll 8
            for (int kx = 0; kx < KW_; kx++) {
                const int64_t off = ro + (kx % S_) * prpw + kx / S_;
                const VT wv = V(set1)(wr[kx]);
#pragma GCC unroll 16
                for (int rr = 0; rr < RG; rr++)
#pragma GCC unroll 16
                    for (int cc = 0; cc < CG; cc++)
                        acc[rr * CG + cc] =
                            V(fma)(V(load)(src[rr] + off + cc * VL), wv, acc[rr * CG + cc]);
            }
        } else {
            for (int64_t kx = 0; kx < kw; kx++) {
                const int64_t off = ro + j->coloff[kx];
                const VT wv = V(set1)(wr[kx]);
#pragma GCC unroll 16
                for (int rr = 0; rr < RG; rr++)
#pragma GCC unroll 16
                    for (int cc = 0; cc < CG; cc++)
                        acc[rr * CG + cc] =
                            V(fma)(V(load)(src[rr] + off + cc * VL), wv, acc[rr * CG + cc]);
            }
        }
    }
#pragma GCC unroll 16
    for (int rr = 0; rr < RG; rr++)
#pragma GCC unroll 16
        for (int cc = 0; cc < CG; cc++)
            KNAME(store_n)(dst[rr] + cc * VL, acc[rr * CG + cc], ow - (c0 + cc) * VL);
}

/* One block's outputs in RG x CG tiles; the last tile of a row or of the block is moved back
 * to end at the edge (recomputing a few outputs) rather than computing past it. */
DW_INL void KNAME(tiles)(const lcv_dwconv_job *j, const float *buf, const float *w, VT vbias,
                         float *yb, int64_t rb, int64_t nv, int RG, int CG, int KW_, int S_) {
    for (int64_t r0 = 0; r0 < rb; r0 += RG) {
        int64_t r = r0 + RG > rb && rb >= RG ? rb - RG : r0;
        for (int64_t c0 = 0; c0 < nv; c0 += CG)
            KNAME(tile)(j, buf, w, vbias, yb, r, rb, c0 + CG > nv ? nv - CG : c0, RG, CG, KW_,
                        S_);
    }
}

/* One plane, block by block: fill the buffer, compute the tiles, then the epilogue on the
 * block's outputs while they are in L1. Tiles are as wide as the row allows (CG vectors, the
 * largest power of two <= the row's vectors), the rest of the accumulators going to rows. */
DW_INL void KNAME(plane)(const lcv_dwconv_job *j, const float *x, const float *w, float bias,
                         const float *res, float *y, float *buf, int KW_, int S_) {
    const lcv_dwconv_geom *g = &j->g;
    const int64_t ow = g->out_w;
    const int64_t nv = (ow + VL - 1) / VL;
    int64_t cg = 1;
    while (cg * 2 <= nv && cg * 2 <= DW_NACC) cg *= 2;
    const VT vbias = V(set1)(bias);
    for (int64_t oy0 = 0; oy0 < g->out_h; oy0 += j->rb) {
        int64_t rb = g->out_h - oy0 < j->rb ? g->out_h - oy0 : j->rb;
        KNAME(fill)(j, x, buf, oy0, rb);
        float *yb = y + oy0 * ow;
        switch (cg) {
        case 1: KNAME(tiles)(j, buf, w, vbias, yb, rb, nv, DW_NACC, 1, KW_, S_); break;
        case 2: KNAME(tiles)(j, buf, w, vbias, yb, rb, nv, DW_NACC / 2, 2, KW_, S_); break;
#if DW_NACC >= 8
        case 4: KNAME(tiles)(j, buf, w, vbias, yb, rb, nv, DW_NACC / 4, 4, KW_, S_); break;
#endif
        default: KNAME(tiles)(j, buf, w, vbias, yb, rb, nv, 1, DW_NACC, KW_, S_); break;
        }
        if (j->act || res) KNAME(epilogue)(j->act, res ? res + oy0 * ow : NULL, yb, rb * ow);
    }
}

#define DW_VARIANT(KW_, S_)                                                                       \
    KTARGET static void KNAME(k##KW_##_s##S_)(const lcv_dwconv_job *j, const float *x,            \
                                              const float *w, float bias, const float *res,       \
                                              float *y, float *buf) {                             \
        KNAME(plane)(j, x, w, bias, res, y, buf, KW_, S_);                                        \
    }
DW_VARIANT(3, 1)
DW_VARIANT(3, 2)
DW_VARIANT(5, 1)
DW_VARIANT(5, 2)
DW_VARIANT(7, 1)
DW_VARIANT(7, 2)
DW_VARIANT(0, 1) /* any geometry the buffer holds */
#undef DW_VARIANT

/* The kernel for g, or NULL when the buffer cannot hold its rows. */
static lcv_dwconv_plane_fn KNAME(select)(const lcv_dwconv_geom *g) {
    static const lcv_dwconv_plane_fn table[3][2] = {{KNAME(k3_s1), KNAME(k3_s2)},
                                                    {KNAME(k5_s1), KNAME(k5_s2)},
                                                    {KNAME(k7_s1), KNAME(k7_s2)}};
    lcv_dwconv_job j;
    lcv_dwconv_job_init(&j, g, NULL);
    if (!j.buffered) return NULL;
    if (g->dil_w == 1 && (g->stride_w == 1 || g->stride_w == 2) &&
        (g->kw == 3 || g->kw == 5 || g->kw == 7))
        return table[(g->kw - 3) / 2][g->stride_w - 1];
    return KNAME(k0_s1);
}

#undef DW_INL
