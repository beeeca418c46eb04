/* conv_grad.c - the backward of Conv (dX, dW, dB) and the convolution engine it shares with
 * ConvTranspose's backward (conv_grad.h). Convolutions with real per-group matrices go through
 * the packed GEMM: dW[g] = dY[g] * col(X[g])^T and dX[g] = col2im(W[g]^T * dY[g]), the column
 * matrix built tile by tile (rows of the outer output dim) in scratch; 1x1 stride-1 unpadded
 * convolutions read X in place. Depthwise-like ones (tiny groups) run direct loops; the 2-D
 * depthwise ones go through zero-padded planes, and their stride-1 adjoint through the
 * inference kernels of src/kernels/f32-dwconv. */
#include <stdlib.h>
#include <string.h>

#include "../kernels/f32-dwconv/dwconv.h"
#include "../kernels/f32-gemm/gemm.h"
#include "conv_grad_impl.h"

/* ---- column matrices ------------------------------------------------------------------- */

typedef struct col_task {
    const conv_run *r;
    int64_t t0, t1, nt; /* y rows of the tile and its positions */
    const float *x;     /* im2col: the group's first x channel */
    float *col;         /* [kdim, nt] */
    float *dx;          /* col2im: the group's first dx channel */
} col_task;

/* Rows [begin, end) of the column matrix: row (ci, tap) holds x[ci] at each position's tap. */
static void im2col_rows(void *ctx, int64_t begin, int64_t end, int thread) {
    const col_task *t = ctx;
    const conv_run *r = t->r;
    (void)thread;
    for (int64_t row = begin; row < end; row++) {
        int64_t ci = row / r->g->k_size, tap = row % r->g->k_size;
        const float *xp = t->x + ci * r->g->in_size;
        float *dst = t->col + row * t->nt;
        /* Runs come in increasing y order: zero only the gaps between them. */
        int64_t filled = 0;
        tap_iter it;
        tap_iter_init(&it, r, tap, t->t0, t->t1);
        while (tap_iter_next(&it)) {
            if (it.yo > filled) memset(dst + filled, 0, sizeof(float) * (size_t)(it.yo - filled));
            float *restrict d = dst + it.yo;
            const float *restrict s = xp + it.xo;
            if (it.s == 1) {
                memcpy(d, s, sizeof(float) * (size_t)it.n);
            } else {
                for (int64_t j = 0; j < it.n; j++) d[j] = s[j * it.s];
            }
            filled = it.yo + it.n;
        }
        if (t->nt > filled) memset(dst + filled, 0, sizeof(float) * (size_t)(t->nt - filled));
    }
}

/* Adds the column matrix back into dx for channels [begin, end): each channel's taps in order,
 * so a channel's sums never depend on the thread split. */
static void col2im_channels(void *ctx, int64_t begin, int64_t end, int thread) {
    const col_task *t = ctx;
    const conv_run *r = t->r;
    (void)thread;
    for (int64_t ci = begin; ci < end; ci++) {
        float *dxp = t->dx + ci * r->g->in_size;
        for (int64_t tap = 0; tap < r->g->k_size; tap++) {
            const float *src = t->col + (ci * r->g->k_size + tap) * t->nt;
            tap_iter it;
            tap_iter_init(&it, r, tap, t->t0, t->t1);
            while (tap_iter_next(&it)) {
                float *restrict d = dxp + it.xo;
                const float *restrict s = src + it.yo;
                if (it.s == 1) {
                    for (int64_t j = 0; j < it.n; j++) d[j] += s[j];
                } else {
                    for (int64_t j = 0; j < it.n; j++) d[j * it.s] += s[j];
                }
            }
        }
    }
}

static void run_im2col(lcv_gradctx *c, const conv_run *r, col_task *t) {
    int64_t grain = 8192 / t->nt;
    lcv_threadpool_parallel_for(c->pool, r->kdim, grain < 1 ? 1 : grain, im2col_rows, t);
}

static void run_col2im(lcv_gradctx *c, const conv_run *r, col_task *t) {
    int64_t grain = 8192 / (t->nt * r->g->k_size);
    lcv_threadpool_parallel_for(c->pool, r->g->c_g, grain < 1 ? 1 : grain, col2im_channels, t);
}

/* ---- direct loops for tiny groups -------------------------------------------------------- */

typedef enum direct_mode { DIRECT_FORWARD, DIRECT_ADJOINT, DIRECT_WEIGHT } direct_mode;

typedef struct direct_task {
    const conv_run *r;
    direct_mode mode;
    const float *x, *wt, *dy; /* forward: x, wt -> out (y); adjoint: wt, dy -> out (dx); */
    float *out;               /* weight: x, dy -> out (dw) */
} direct_task;

/* Dot product of e[0..n) with s at stride st, in DOT_LANES independent partial sums so the
 * additions need not wait on each other (the fixed lane order keeps results reproducible). */
#define DOT_LANES 8
/* Taps of the largest depthwise kernel the padded path takes (the accumulators are on the
 * stack); 9x9 covers every efficient backbone's depthwise kernels. */
#define LCV_DW_MAX_TAPS 81
static float dot_run(const float *restrict e, const float *restrict s, int64_t n, int64_t st) {
    float lane[DOT_LANES] = {0};
    int64_t j = 0;
    if (st == 1) {
        for (; j + DOT_LANES <= n; j += DOT_LANES)
            for (int k = 0; k < DOT_LANES; k++) lane[k] += e[j + k] * s[j + k];
    } else {
        for (; j + DOT_LANES <= n; j += DOT_LANES)
            for (int k = 0; k < DOT_LANES; k++) lane[k] += e[j + k] * s[(j + k) * st];
    }
    for (; j < n; j++) lane[j % DOT_LANES] += e[j] * s[j * st];
    float sum = 0.0f;
    for (int k = 0; k < DOT_LANES; k++) sum += lane[k];
    return sum;
}

/* y[mo] = sum over ci, taps of w * x[ci]: one y plane from one x plane, tap by tap. */
static void direct_forward_plane(const conv_run *r, const float *wk, const float *x, float *y) {
    for (int64_t tap = 0; tap < r->g->k_size; tap++) {
        float wv = wk[tap];
        tap_iter it;
        tap_iter_init(&it, r, tap, 0, r->g->w.out[0]);
        while (tap_iter_next(&it)) {
            float *restrict d = y + it.yo;
            const float *restrict s = x + it.xo;
            if (it.s == 1) {
                for (int64_t j = 0; j < it.n; j++) d[j] += wv * s[j];
            } else {
                for (int64_t j = 0; j < it.n; j++) d[j] += wv * s[j * it.s];
            }
        }
    }
}

static void direct_adjoint_plane(const conv_run *r, const float *wk, const float *dy,
                                 float *dx) {
    for (int64_t tap = 0; tap < r->g->k_size; tap++) {
        float wv = wk[tap];
        tap_iter it;
        tap_iter_init(&it, r, tap, 0, r->g->w.out[0]);
        while (tap_iter_next(&it)) {
            float *restrict d = dx + it.xo;
            const float *restrict s = dy + it.yo;
            if (it.s == 1) {
                for (int64_t j = 0; j < it.n; j++) d[j] += wv * s[j];
            } else {
                for (int64_t j = 0; j < it.n; j++) d[j * it.s] += wv * s[j];
            }
        }
    }
}

/* One group, every batch entry: the group's y (or dx) planes and its weights (dw) are only
 * touched here, in a fixed order. */
static void direct_groups(void *ctx, int64_t begin, int64_t end, int thread) {
    const direct_task *t = ctx;
    const conv_run *r = t->r;
    const lcv_convg *g = r->g;
    int64_t ks = g->k_size;
    (void)thread;
    for (int64_t gi = begin; gi < end; gi++) {
        if (t->mode == DIRECT_WEIGHT) {
            for (int64_t mo = gi * g->m_g; mo < (gi + 1) * g->m_g; mo++)
                for (int64_t ci = 0; ci < g->c_g; ci++)
                    for (int64_t tap = 0; tap < ks; tap++) {
                        double acc = 0.0;
                        for (int64_t n = 0; n < g->batch; n++) {
                            const float *xp = t->x + (n * g->c + gi * g->c_g + ci) * g->in_size;
                            const float *dyp = t->dy + (n * g->m + mo) * g->out_size;
                            tap_iter it;
                            tap_iter_init(&it, r, tap, 0, g->w.out[0]);
                            while (tap_iter_next(&it)) {
                                acc += dot_run(dyp + it.yo, xp + it.xo, it.n, it.s);
                            }
                        }
                        t->out[(mo * g->c_g + ci) * ks + tap] = (float)acc;
                    }
            continue;
        }
        for (int64_t n = 0; n < g->batch; n++) {
            if (t->mode == DIRECT_FORWARD) {
                for (int64_t mo = gi * g->m_g; mo < (gi + 1) * g->m_g; mo++) {
                    float *yp = t->out + (n * g->m + mo) * g->out_size;
                    memset(yp, 0, sizeof(float) * (size_t)g->out_size);
                    for (int64_t ci = 0; ci < g->c_g; ci++)
                        direct_forward_plane(r, t->wt + (mo * g->c_g + ci) * ks,
                                             t->x + (n * g->c + gi * g->c_g + ci) * g->in_size,
                                             yp);
                }
            } else {
                for (int64_t ci = 0; ci < g->c_g; ci++) {
                    float *dxp = t->out + (n * g->c + gi * g->c_g + ci) * g->in_size;
                    memset(dxp, 0, sizeof(float) * (size_t)g->in_size);
                    for (int64_t mo = gi * g->m_g; mo < (gi + 1) * g->m_g; mo++)
                        direct_adjoint_plane(r, t->wt + (mo * g->c_g + ci) * ks,
                                             t->dy + (n * g->m + mo) * g->out_size, dxp);
                }
            }
        }
    }
}

/* ---- 2-D depthwise planes through a padded copy --------------------------------------- */

/* The 2-D depthwise backward (one input and one output channel per group) sees every input
 * position a tap can read in a zero-padded plane, so each (tap, output row) is one
 * unconditional run: the weight gradient becomes one long dot product per tap and the adjoint
 * row updates with no edge cases. The direct loops above stay the reference. */
#define DW_PAD_MAX_FLOATS (1 << 22)

typedef struct dw_task {
    const conv_run *r;
    bool weight;              /* dw from x and dy; else dx from wt and dy */
    const float *x, *wt, *dy;
    float *out, *scratch;     /* scratch: one padded plane (per_thread floats) per thread */
    size_t per_thread;
    int64_t ph, pw;           /* the padded plane: every row / column a tap can read */
} dw_task;

/* Whether r is 2-D depthwise with a padded plane small enough; *ph, *pw its size. */
static bool dw_padded(const conv_run *r, int64_t *ph, int64_t *pw) {
    const lcv_window *w = &r->g->w;
    if (w->nsp != 2 || r->g->c_g != 1 || r->g->m_g != 1) return false;
    *ph = (w->out[0] - 1) * w->stride[0] + (w->kernel[0] - 1) * w->dilation[0] + 1;
    *pw = (w->out[1] - 1) * w->stride[1] + (w->kernel[1] - 1) * w->dilation[1] + 1;
    return *ph * *pw <= DW_PAD_MAX_FLOATS;
}

/* The widest kernel row dw_tap_row is instantiated for. */
#define DW_ROW_MAX 7

/* The weight gradient of one kernel row at column stride 1: sums[kx] = the dot product of
 * dy with the padded plane shifted by kx * dw, all kw taps in one pass over dy so each dy
 * vector is loaded once and feeds kw accumulators (kw is a constant at each call, so they
 * stay in registers). */
static inline __attribute__((always_inline)) void dw_tap_row(const float *restrict dy,
                                                             const float *restrict prow,
                                                             int64_t OH, int64_t OW, int64_t pw,
                                                             int64_t sh, int64_t dw, int kw,
                                                             float *sums) {
    float acc[DW_ROW_MAX][DOT_LANES] = {{0}};
    int64_t j0 = 0;
    for (; j0 + DOT_LANES <= OW; j0 += DOT_LANES)
        for (int64_t oy = 0; oy < OH; oy++) {
            const float *e = dy + oy * OW + j0, *s = prow + oy * sh * pw + j0;
            for (int kx = 0; kx < kw; kx++)
                for (int q = 0; q < DOT_LANES; q++) acc[kx][q] += e[q] * s[kx * dw + q];
        }
    for (int64_t oy = 0; oy < OH; oy++)
        for (int64_t j = j0; j < OW; j++) {
            float e = dy[oy * OW + j];
            const float *s = prow + oy * sh * pw + j;
            for (int kx = 0; kx < kw; kx++) acc[kx][j % DOT_LANES] += e * s[kx * dw];
        }
    for (int kx = 0; kx < kw; kx++) {
        sums[kx] = 0.0f;
        for (int q = 0; q < DOT_LANES; q++) sums[kx] += acc[kx][q];
    }
}

/* The body of dw_planes, compiled once per instruction set below: its loops are plain C that
 * the compiler vectorises to whatever width the target allows. */
static inline __attribute__((always_inline)) void dw_planes_body(const dw_task *t,
                                                                 int64_t begin, int64_t end,
                                                                 int thread) {
    const lcv_convg *g = t->r->g;
    const lcv_window *w = &g->w;
    int64_t H = w->in[0], W = w->in[1], OH = w->out[0], OW = w->out[1];
    int64_t sh = w->stride[0], sw = w->stride[1], dh = w->dilation[0], dw = w->dilation[1];
    int64_t top = w->pad_begin[0], left = w->pad_begin[1], KH = w->kernel[0], KW = w->kernel[1];
    int64_t ph = t->ph, pw = t->pw;
    float *pad = t->scratch + (size_t)thread * t->per_thread;
    for (int64_t ch = begin; ch < end; ch++) {
        double acc[LCV_DW_MAX_TAPS];
        if (t->weight)
            for (int64_t k = 0; k < KH * KW; k++) acc[k] = 0.0;
        for (int64_t n = 0; n < g->batch; n++) {
            const float *dyp = t->dy + (n * g->m + ch) * g->out_size;
            if (t->weight) {
                const float *xp = t->x + (n * g->c + ch) * g->in_size;
                /* columns [c0, c1) of a padded row hold x; the rest are zero */
                int64_t c0 = left < pw ? left : pw, c1 = left + W < pw ? left + W : pw;
                for (int64_t py = 0; py < ph; py++) {
                    int64_t iy = py - top;
                    float *row = pad + py * pw;
                    if (iy < 0 || iy >= H || c1 <= c0) {
                        memset(row, 0, sizeof(float) * (size_t)pw);
                        continue;
                    }
                    memset(row, 0, sizeof(float) * (size_t)c0);
                    memcpy(row + c0, xp + iy * W + (c0 - left), sizeof(float) * (size_t)(c1 - c0));
                    memset(row + c1, 0, sizeof(float) * (size_t)(pw - c1));
                }
                for (int64_t ky = 0; ky < KH; ky++) {
                    float sums[LCV_DW_MAX_TAPS];
                    const float *prow = pad + ky * dh * pw;
                    if (sw == 1 && KW == 3)
                        dw_tap_row(dyp, prow, OH, OW, pw, sh, dw, 3, sums);
                    else if (sw == 1 && KW == 5)
                        dw_tap_row(dyp, prow, OH, OW, pw, sh, dw, 5, sums);
                    else if (sw == 1 && KW == 7)
                        dw_tap_row(dyp, prow, OH, OW, pw, sh, dw, 7, sums);
                    else
                        for (int64_t kx = 0; kx < KW; kx++) {
                            float lane[DOT_LANES] = {0};
                            for (int64_t oy = 0; oy < OH; oy++) {
                                const float *restrict e = dyp + oy * OW;
                                const float *restrict s = prow + oy * sh * pw + kx * dw;
                                int64_t j = 0;
                                for (; j + DOT_LANES <= OW; j += DOT_LANES)
                                    for (int q = 0; q < DOT_LANES; q++)
                                        lane[q] += e[j + q] * s[(j + q) * sw];
                                for (; j < OW; j++) lane[j % DOT_LANES] += e[j] * s[j * sw];
                            }
                            sums[kx] = 0.0f;
                            for (int q = 0; q < DOT_LANES; q++) sums[kx] += lane[q];
                        }
                    for (int64_t kx = 0; kx < KW; kx++) acc[ky * KW + kx] += sums[kx];
                }
                continue;
            }
            const float *wk = t->wt + ch * KH * KW;
            memset(pad, 0, sizeof(float) * (size_t)(ph * pw));
            /* kx outermost: the rows updated one after another then start at the same column,
             * so no load waits on a partly overlapping earlier store */
            for (int64_t kx = 0; kx < KW; kx++)
                for (int64_t oy = 0; oy < OH; oy++) {
                    const float *restrict e = dyp + oy * OW;
                    for (int64_t ky = 0; ky < KH; ky++) {
                        float wv = wk[ky * KW + kx];
                        float *restrict d = pad + (oy * sh + ky * dh) * pw + kx * dw;
                        if (sw == 1) {
                            for (int64_t j = 0; j < OW; j++) d[j] += wv * e[j];
                        } else {
                            for (int64_t j = 0; j < OW; j++) d[j * sw] += wv * e[j];
                        }
                    }
                }
            float *dxp = t->out + (n * g->c + ch) * g->in_size;
            for (int64_t iy = 0; iy < H; iy++)
                for (int64_t ix = 0; ix < W; ix++) {
                    int64_t py = iy + top, px = ix + left;
                    dxp[iy * W + ix] = py < ph && px < pw ? pad[py * pw + px] : 0.0f;
                }
        }
        if (t->weight)
            for (int64_t k = 0; k < KH * KW; k++) t->out[ch * KH * KW + k] = (float)acc[k];
    }
}

static void dw_planes(void *ctx, int64_t begin, int64_t end, int thread) {
    dw_planes_body(ctx, begin, end, thread);
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2,fma"))) static void dw_planes_avx2(void *ctx, int64_t begin,
                                                                int64_t end, int thread) {
    dw_planes_body(ctx, begin, end, thread);
}
#endif

static lcv_task_fn dw_planes_for(lcv_isa isa) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (isa >= LCV_ISA_AVX2 && isa != LCV_ISA_NEON) return dw_planes_avx2;
#endif
    (void)isa;
    return dw_planes;
}

/* The adjoint of a stride-1 2-D depthwise conv is itself a depthwise conv: dy correlated
 * with the flipped kernel, the begin pads mirrored to (kernel - 1) * dilation - pad. So it runs
 * on the inference kernels (register-blocked, vectorised along rows) instead of scattering
 * updates. False when the geometry is not of that kind (then the caller goes on). */
static bool dw_adjoint_as_forward(lcv_gradctx *c, const conv_run *r, const float *wt,
                                  const float *dy, float *dx, lcv_status *st) {
    const lcv_convg *g = r->g;
    const lcv_window *w = &g->w;
    if (w->nsp != 2 || g->c_g != 1 || g->m_g != 1 || w->stride[0] != 1 || w->stride[1] != 1 ||
        w->kernel[0] > LCV_DWCONV_MAX_K || w->kernel[1] > LCV_DWCONV_MAX_K)
        return false;
    lcv_dwconv_geom dg = {.batch = g->batch, .channels = g->group, .in_h = w->out[0],
                          .in_w = w->out[1], .out_h = w->in[0], .out_w = w->in[1],
                          .kh = w->kernel[0], .kw = w->kernel[1], .stride_h = 1, .stride_w = 1,
                          .dil_h = w->dilation[0], .dil_w = w->dilation[1],
                          .pad_top = (w->kernel[0] - 1) * w->dilation[0] - w->pad_begin[0],
                          .pad_left = (w->kernel[1] - 1) * w->dilation[1] - w->pad_begin[1]};
    if (dg.pad_top < 0 || dg.pad_left < 0) return false; /* pads wider than the kernel */
    int64_t taps = dg.kh * dg.kw;
    void *owned;
    float *flip = lcv_grad_floats(c, (size_t)(g->group * taps), &owned);
    if (!flip) {
        *st = LCV_ERR_NOMEM;
        return true;
    }
    for (int64_t ch = 0; ch < g->group; ch++)
        for (int64_t k = 0; k < taps; k++) flip[ch * taps + k] = wt[ch * taps + taps - 1 - k];
    lcv_dwconv_run(&dg, lcv_dwconv_select(lcv_grad_isa(), &dg), dy, flip, NULL, NULL, NULL, dx,
                   c->pool);
    free(owned);
    *st = LCV_OK;
    return true;
}

static lcv_status run_direct(lcv_gradctx *c, const conv_run *r, direct_mode mode,
                             const float *x, const float *wt, const float *dy, float *out) {
    int64_t ph, pw;
    lcv_status st;
    if (mode == DIRECT_ADJOINT && dw_adjoint_as_forward(c, r, wt, dy, out, &st)) return st;
    if (mode != DIRECT_FORWARD && r->g->k_size <= LCV_DW_MAX_TAPS && dw_padded(r, &ph, &pw)) {
        dw_task t = {.r = r, .weight = mode == DIRECT_WEIGHT, .x = x, .wt = wt, .dy = dy,
                     .out = out, .ph = ph, .pw = pw};
        int threads = lcv_threadpool_size(c->pool);
        size_t per = (size_t)(ph * pw);
        void *owned;
        t.scratch = lcv_grad_floats(c, (size_t)(threads < 1 ? 1 : threads) * per, &owned);
        if (!t.scratch) return LCV_ERR_NOMEM;
        t.per_thread = per;
        lcv_threadpool_parallel_for(c->pool, r->g->group, 1, dw_planes_for(lcv_grad_isa()), &t);
        free(owned);
        return LCV_OK;
    }
    direct_task t = {r, mode, x, wt, dy, out};
    lcv_threadpool_parallel_for(c->pool, r->g->group, 1, direct_groups, &t);
    return LCV_OK;
}

/* ---- the GEMM paths ---------------------------------------------------------------------- */

/* Nothing to compute: an empty batch, channel set or plane. */
static bool conv_empty(const lcv_convg *g) {
    return g->batch == 0 || g->c == 0 || g->m == 0 || g->in_size == 0 || g->out_size == 0;
}

/* Scratch for a packed operand of pack_floats, then the column tile (unless x is read in
 * place). */
static float *conv_scratch(lcv_gradctx *c, const conv_run *r, size_t pack_floats, float **col,
                           void **owned) {
    size_t a, cols = 0, total;
    bool ok = lcv_grad_round16(pack_floats, &a);
    if (ok && !r->pointwise)
        ok = lcv_mul_size((size_t)r->kdim, (size_t)(r->tile_rows * r->ostr[0]), &cols);
    if (!ok || !lcv_add_size(a, cols, &total)) {
        lcv_grad_fail(c, LCV_ERR_NOMEM, "convolution scratch is too large");
        *owned = NULL;
        return NULL;
    }
    float *p = lcv_grad_floats(c, total, owned);
    *col = p ? p + a : NULL;
    return p;
}

static lcv_status gemm_fail(lcv_gradctx *c, const lcv_err *e) {
    return lcv_grad_fail(c, LCV_ERR_INTERNAL, "%s", e->msg);
}

lcv_status lcv_convg_forward(lcv_gradctx *c, const lcv_convg *g, const float *x,
                             const float *wt, float *y) {
    if (conv_empty(g)) {
        memset(y, 0, sizeof(float) * (size_t)(g->batch * g->m * g->out_size));
        return LCV_OK;
    }
    conv_run r;
    conv_run_init(&r, g);
    if (r.direct) {
        return run_direct(c, &r, DIRECT_FORWARD, x, wt, NULL, y);
    }
    lcv_isa isa = lcv_grad_isa();
    int64_t K = r.kdim;
    void *owned;
    float *col, *pa = conv_scratch(c, &r, lcv_gemm_pack_a_size(isa, g->m_g, K) / sizeof(float),
                                   &col, &owned);
    if (!pa) return LCV_ERR_NOMEM;
    lcv_status st = LCV_OK;
    lcv_err err;
    for (int64_t gi = 0; gi < g->group && st == LCV_OK; gi++) {
        lcv_gemm_pack_a(isa, g->m_g, K, wt + gi * g->m_g * K, K, false, 1.0f, pa);
        for (int64_t n = 0; n < g->batch && st == LCV_OK; n++) {
            const float *xg = x + (n * g->c + gi * g->c_g) * g->in_size;
            float *yg = y + (n * g->m + gi * g->m_g) * g->out_size;
            for (int64_t t0 = 0; t0 < g->w.out[0] && st == LCV_OK; t0 += r.tile_rows) {
                int64_t t1 = t0 + r.tile_rows < g->w.out[0] ? t0 + r.tile_rows : g->w.out[0];
                int64_t p0 = t0 * r.ostr[0], nt = (t1 - t0) * r.ostr[0];
                lcv_gemm_operand b = {xg + p0, g->in_size, false, false};
                if (!r.pointwise) {
                    col_task t = {&r, t0, t1, nt, xg, col, NULL};
                    run_im2col(c, &r, &t);
                    b.data = col;
                    b.ld = nt;
                }
                lcv_gemm_args a = {isa, g->m_g, nt, K, {pa, 0, false, true}, b, yg + p0,
                                   g->out_size, NULL};
                if (lcv_gemm_run(&a, c->pool, &err) != LCV_OK) st = gemm_fail(c, &err);
            }
        }
    }
    free(owned);
    return st;
}

lcv_status lcv_convg_adjoint(lcv_gradctx *c, const lcv_convg *g, const float *wt,
                             const float *dy, float *dx) {
    if (conv_empty(g)) {
        memset(dx, 0, sizeof(float) * (size_t)(g->batch * g->c * g->in_size));
        return LCV_OK;
    }
    conv_run r;
    conv_run_init(&r, g);
    if (r.direct) {
        return run_direct(c, &r, DIRECT_ADJOINT, NULL, wt, dy, dx);
    }
    if (lcv_convg_batched(&r)) return lcv_convg_batch_adjoint(c, &r, wt, dy, dx);
    lcv_isa isa = lcv_grad_isa();
    int64_t K = r.kdim;
    void *owned;
    float *col, *pa = conv_scratch(c, &r, lcv_gemm_pack_a_size(isa, K, g->m_g) / sizeof(float),
                                   &col, &owned);
    if (!pa) return LCV_ERR_NOMEM;
    lcv_status st = LCV_OK;
    lcv_err err;
    for (int64_t gi = 0; gi < g->group && st == LCV_OK; gi++) {
        /* A = W[g]^T: [K, m_g] read from the [m_g, K] weights. */
        lcv_gemm_pack_a(isa, K, g->m_g, wt + gi * g->m_g * K, K, true, 1.0f, pa);
        for (int64_t n = 0; n < g->batch && st == LCV_OK; n++) {
            const float *dyg = dy + (n * g->m + gi * g->m_g) * g->out_size;
            float *dxg = dx + (n * g->c + gi * g->c_g) * g->in_size;
            if (!r.pointwise) memset(dxg, 0, sizeof(float) * (size_t)(g->c_g * g->in_size));
            for (int64_t t0 = 0; t0 < g->w.out[0] && st == LCV_OK; t0 += r.tile_rows) {
                int64_t t1 = t0 + r.tile_rows < g->w.out[0] ? t0 + r.tile_rows : g->w.out[0];
                int64_t p0 = t0 * r.ostr[0], nt = (t1 - t0) * r.ostr[0];
                lcv_gemm_args a = {isa, K, nt, g->m_g, {pa, 0, false, true},
                                   {dyg + p0, g->out_size, false, false}, dxg + p0, g->in_size,
                                   NULL};
                if (!r.pointwise) {
                    a.c = col;
                    a.ldc = nt;
                }
                if (lcv_gemm_run(&a, c->pool, &err) != LCV_OK) {
                    st = gemm_fail(c, &err);
                } else if (!r.pointwise) {
                    col_task t = {&r, t0, t1, nt, NULL, col, dxg};
                    run_col2im(c, &r, &t);
                }
            }
        }
    }
    free(owned);
    return st;
}

lcv_status lcv_convg_weight_grad(lcv_gradctx *c, const lcv_convg *g, const float *x,
                                 const float *dy, float *dw) {
    int64_t K = g->c_g * g->k_size;
    if (conv_empty(g)) {
        memset(dw, 0, sizeof(float) * (size_t)(g->m * K));
        return LCV_OK;
    }
    conv_run r;
    conv_run_init(&r, g);
    if (r.direct) {
        return run_direct(c, &r, DIRECT_WEIGHT, x, NULL, dy, dw);
    }
    if (lcv_convg_batched(&r)) return lcv_convg_batch_weight_grad(c, &r, x, dy, dw);
    lcv_isa isa = lcv_grad_isa();
    int64_t max_nt = r.tile_rows * r.ostr[0];
    /* acc = dW[g]^T [K, m_g] = col * dY^T (dY^T, the smaller operand, is the one packed), then
     * the pack, then the column tile; one scratch block. */
    size_t acc_floats, pb_floats, col_floats, total;
    bool ok = lcv_grad_round16((size_t)(K * g->m_g), &acc_floats) &&
              lcv_grad_round16(lcv_grad_mm_pack_floats(isa, max_nt, g->m_g), &pb_floats) &&
              lcv_mul_size((size_t)K, r.pointwise ? 0 : (size_t)max_nt, &col_floats) &&
              lcv_add_size(acc_floats, pb_floats, &total) &&
              lcv_add_size(total, col_floats, &total);
    if (!ok) return lcv_grad_fail(c, LCV_ERR_NOMEM, "convolution scratch is too large");
    void *owned;
    float *acc = lcv_grad_floats(c, total, &owned);
    if (!acc) return LCV_ERR_NOMEM;
    float *pack = acc + acc_floats, *col = pack + pb_floats;
    lcv_status st = LCV_OK;
    for (int64_t gi = 0; gi < g->group && st == LCV_OK; gi++) {
        for (int64_t n = 0; n < g->batch && st == LCV_OK; n++) {
            const float *xg = x + (n * g->c + gi * g->c_g) * g->in_size;
            const float *dyg = dy + (n * g->m + gi * g->m_g) * g->out_size;
            for (int64_t t0 = 0; t0 < g->w.out[0] && st == LCV_OK; t0 += r.tile_rows) {
                int64_t t1 = t0 + r.tile_rows < g->w.out[0] ? t0 + r.tile_rows : g->w.out[0];
                int64_t p0 = t0 * r.ostr[0], nt = (t1 - t0) * r.ostr[0];
                lcv_grad_mat a = {xg + p0, g->in_size, false};
                if (!r.pointwise) {
                    col_task t = {&r, t0, t1, nt, xg, col, NULL};
                    run_im2col(c, &r, &t);
                    a.data = col;
                    a.ld = nt;
                }
                st = lcv_grad_mm(c, isa, K, g->m_g, nt, a,
                                 (lcv_grad_mat){dyg + p0, g->out_size, true}, 1.0f, acc, g->m_g,
                                 n > 0 || t0 > 0, pack);
            }
        }
        for (int64_t mo = 0; mo < g->m_g; mo++)
            for (int64_t kk = 0; kk < K; kk++)
                dw[(gi * g->m_g + mo) * K + kk] = acc[kk * g->m_g + mo];
    }
    free(owned);
    return st;
}

/* ---- Conv -------------------------------------------------------------------------------- */

lcv_status lcv_grad_conv(lcv_gradctx *c) {
    lcv_status st = lcv_grad_check(c, NULL);
    if (st != LCV_OK) return st;
    const lcv_tensor *x = c->in[0], *wt = c->in[1];
    lcv_tensor *dx = lcv_grad_din(c, 0), *dw = lcv_grad_din(c, 1), *db = lcv_grad_din(c, 2);
    const lcv_tensor *dyt = c->dout ? c->dout[0] : NULL;
    lcv_convg g;
    lcv_opctx oc = {0};
    oc.node = c->node;
    oc.err = c->err;
    int nsp = x->ndim - 2;
    if ((st = lcv_window_parse(&oc, nsp, x->dims + 2, wt->dims + 2, &g.w)) != LCV_OK ||
        (st = lcv_window_forward_out(&oc, &g.w, false)) != LCV_OK)
        return st;
    g.batch = x->dims[0];
    g.c = x->dims[1];
    g.m = wt->dims[0];
    g.c_g = wt->dims[1];
    g.group = lcv_attr_int(c->node, "group", 1);
    g.m_g = g.m / g.group;
    g.in_size = g.out_size = g.k_size = 1;
    for (int d = 0; d < nsp; d++) {
        g.in_size *= g.w.in[d];
        g.out_size *= g.w.out[d];
        g.k_size *= g.w.kernel[d];
    }
    if (!dyt) {
        for (int i = 0; i < 3; i++) {
            lcv_tensor *d = lcv_grad_din(c, i);
            if (d) memset(d->data, 0, sizeof(float) * (size_t)lcv_tensor_count(d));
        }
        return LCV_OK;
    }
    const float *dy = dyt->data;
    if (db) lcv_grad_channel_sums(c, g.batch, g.m, g.out_size, dy, db->data);
    if (dw) st = lcv_convg_weight_grad(c, &g, x->data, dy, dw->data);
    if (st == LCV_OK && dx) st = lcv_convg_adjoint(c, &g, wt->data, dy, dx->data);
    return st;
}
