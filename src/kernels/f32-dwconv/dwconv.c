/* dwconv.c - the portable part of the depthwise conv kernels: border/interior geometry, the
 * scalar generic plane kernel (any kernel, stride, dilation, padding), ISA dispatch, and the
 * threaded driver with the bias/residual/activation epilogue. */
#include "dwconv.h"

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

void lcv_dwconv_rows(const lcv_dwconv_geom *g, int64_t oy, int64_t *lo, int64_t *hi) {
    int64_t base = oy * g->stride_h - g->pad_top; /* input row of kernel row 0 */
    int64_t l = -floor_div(base, g->dil_h);         /* ceil(-base / dil) */
    int64_t h = floor_div(g->in_h - 1 - base, g->dil_h) + 1;
    *lo = clamp64(l, 0, g->kh);
    *hi = clamp64(h, *lo, g->kh);
}

void lcv_dwconv_interior_cols(const lcv_dwconv_geom *g, int64_t *lo, int64_t *hi) {
    int64_t l = -floor_div(-g->pad_left, g->stride_w);
    int64_t h = floor_div(g->in_w - 1 - (g->kw - 1) * g->dil_w + g->pad_left, g->stride_w) + 1;
    *lo = clamp64(l, 0, g->out_w);
    *hi = clamp64(h, *lo, g->out_w);
}

void lcv_dwconv_cols_checked(const lcv_dwconv_geom *g, const float *x, const float *w,
                             float bias, int64_t oy, int64_t ox0, int64_t ox1, float *yrow) {
    int64_t ky0, ky1;
    lcv_dwconv_rows(g, oy, &ky0, &ky1);
    for (int64_t ox = ox0; ox < ox1; ox++) {
        float acc = bias;
        for (int64_t ky = ky0; ky < ky1; ky++) {
            const float *xr = x + (oy * g->stride_h + ky * g->dil_h - g->pad_top) * g->in_w;
            const float *wr = w + ky * g->kw;
            for (int64_t kx = 0; kx < g->kw; kx++) {
                int64_t ix = ox * g->stride_w + kx * g->dil_w - g->pad_left;
                if (ix >= 0 && ix < g->in_w) acc += wr[kx] * xr[ix];
            }
        }
        yrow[ox] = acc;
    }
}

/* Any geometry: checked borders, branch-free interior columns. */
static void dw_plane_generic(const lcv_dwconv_geom *g, const float *x, const float *w,
                             float bias, float *y) {
    int64_t c0, c1;
    lcv_dwconv_interior_cols(g, &c0, &c1);
    for (int64_t oy = 0; oy < g->out_h; oy++) {
        float *yr = y + oy * g->out_w;
        int64_t ky0, ky1;
        lcv_dwconv_rows(g, oy, &ky0, &ky1);
        lcv_dwconv_cols_checked(g, x, w, bias, oy, 0, c0, yr);
        for (int64_t ox = c0; ox < c1; ox++) {
            float acc = bias;
            for (int64_t ky = ky0; ky < ky1; ky++) {
                const float *xr = x + (oy * g->stride_h + ky * g->dil_h - g->pad_top) * g->in_w +
                                  ox * g->stride_w - g->pad_left;
                const float *wr = w + ky * g->kw;
                for (int64_t kx = 0; kx < g->kw; kx++) acc += wr[kx] * xr[kx * g->dil_w];
            }
            yr[ox] = acc;
        }
        lcv_dwconv_cols_checked(g, x, w, bias, oy, c1, g->out_w, yr);
    }
}

lcv_dwconv_plane_fn lcv_dwconv_select(lcv_isa isa, const lcv_dwconv_geom *g) {
    lcv_dwconv_plane_fn fn = NULL;
#if defined(__x86_64__)
    /* Exact matches: LCV_ISA_NEON is numerically above AVX512 but means scalar here. */
    if (isa == LCV_ISA_AVX512) fn = lcv_dwconv_select_avx512(g);
    if (!fn && (isa == LCV_ISA_AVX512 || isa == LCV_ISA_AVX2)) fn = lcv_dwconv_select_avx2(g);
#elif defined(__aarch64__)
    if (isa == LCV_ISA_NEON) fn = lcv_dwconv_select_neon(g);
#else
    (void)isa;
#endif
    return fn ? fn : dw_plane_generic;
}

typedef struct dw_task {
    const lcv_dwconv_geom *g;
    lcv_dwconv_plane_fn fn;
    const float *x, *w, *bias, *res;
    lcv_dwconv_act_fn act;
    const void *act_ctx;
    float *y;
} dw_task;

static void dw_run_planes(void *ctx, int64_t begin, int64_t end, int thread) {
    const dw_task *t = ctx;
    const lcv_dwconv_geom *g = t->g;
    int64_t in_plane = g->in_h * g->in_w, out_plane = g->out_h * g->out_w;
    (void)thread;
    for (int64_t p = begin; p < end; p++) {
        int64_t ch = p % g->channels;
        float *y = t->y + p * out_plane;
        t->fn(g, t->x + p * in_plane, t->w + ch * g->kh * g->kw, t->bias ? t->bias[ch] : 0.0f, y);
        if (t->res) {
            const float *r = t->res + p * out_plane;
            for (int64_t i = 0; i < out_plane; i++) y[i] += r[i];
        }
        if (t->act) t->act(t->act_ctx, y, out_plane);
    }
}

void lcv_dwconv_run(const lcv_dwconv_geom *g, lcv_dwconv_plane_fn fn, const float *x,
                    const float *w, const float *bias, const float *residual,
                    lcv_dwconv_act_fn act, const void *act_ctx, float *y, lcv_threadpool *pool) {
    dw_task t = {g, fn, x, w, bias, residual, act, act_ctx, y};
    int64_t planes = g->batch * g->channels;
    /* ~32k multiply-adds per chunk at least, so tiny planes are not split to single items. */
    int64_t work = g->out_h * g->out_w * g->kh * g->kw;
    int64_t grain = work > 0 ? 32768 / work : planes;
    lcv_threadpool_parallel_for(pool, planes, grain < 1 ? 1 : grain, dw_run_planes, &t);
}
