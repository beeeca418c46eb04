/* dwconv.c - the portable part of the depthwise conv kernels: the buffered layout (block
 * height, tap offsets), the unbuffered scalar kernel for geometries the buffer cannot hold
 * (any kernel, stride, dilation, padding), ISA dispatch, and the threaded driver. */
#include "dwconv.h"

#include <string.h>

/* Output rows per block aim at about this many buffered floats (24 KiB): the block's input
 * rows and the output rows written from them stay in a 32 KiB L1 data cache. */
#define DW_BLOCK_FLOATS 6144
/* ... and at most this many output values per block, re-read by the epilogue from L1. */
#define DW_BLOCK_OUT 4096

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

void lcv_dwconv_job_init(lcv_dwconv_job *j, const lcv_dwconv_geom *g, const lcv_fused *act) {
    *j = (lcv_dwconv_job){.g = *g, .act = act};
    const int64_t cap = LCV_DWCONV_BUF_FLOATS;
    /* Bounds first, so the products below cannot overflow. */
    if (g->kh > LCV_DWCONV_MAX_K || g->kw > LCV_DWCONV_MAX_K || g->stride_h > 8 ||
        g->stride_w > 8 || g->dil_h > cap || g->dil_w > cap || g->out_w > cap ||
        g->out_h < 1 || g->out_w < 1)
        return;
    int64_t phases = g->stride_h * g->stride_w;
    int64_t pw = g->out_w + (g->kw - 1) * g->dil_w / g->stride_w;
    int64_t halo = (g->kh - 1) * g->dil_h / g->stride_h;
    int64_t row_floats = phases * pw;
    if (pw > cap || halo > cap || row_floats * (halo + 1) > cap - LCV_DWCONV_SLACK) return;
    int64_t rb = (DW_BLOCK_FLOATS - LCV_DWCONV_SLACK) / row_floats - halo;
    if (rb > DW_BLOCK_OUT / g->out_w) rb = DW_BLOCK_OUT / g->out_w;
    rb = clamp64(rb, 1, g->out_h);
    j->buffered = true;
    j->pw = pw;
    j->pr = rb + halo;
    j->rb = rb;
    for (int64_t ky = 0; ky < g->kh; ky++) {
        int64_t t = ky * g->dil_h;
        j->rowoff[ky] = ((t % g->stride_h) * g->stride_w * j->pr + t / g->stride_h) * pw;
    }
    for (int64_t kx = 0; kx < g->kw; kx++) {
        int64_t t = kx * g->dil_w;
        j->coloff[kx] = (t % g->stride_w) * j->pr * pw + t / g->stride_w;
    }
}

int64_t lcv_dwconv_buf_floats(const lcv_dwconv_job *j) {
    if (!j->buffered) return 0;
    return j->g.stride_h * j->g.stride_w * j->pr * j->pw + LCV_DWCONV_SLACK;
}

/* Valid kernel rows [*lo, *hi) for output row oy (the taps whose input row exists). */
static void dw_rows(const lcv_dwconv_geom *g, int64_t oy, int64_t *lo, int64_t *hi) {
    int64_t base = oy * g->stride_h - g->pad_top; /* input row of kernel row 0 */
    int64_t l = -floor_div(base, g->dil_h);         /* ceil(-base / dil) */
    int64_t h = floor_div(g->in_h - 1 - base, g->dil_h) + 1;
    *lo = clamp64(l, 0, g->kh);
    *hi = clamp64(h, *lo, g->kh);
}

/* Any geometry, no buffer: every tap bounds-checked, then the epilogue as core/act.c defines
 * it. Only for convs the buffer cannot hold (huge rows or kernels), so kept plain. */
static void dw_plane_unbuffered(const lcv_dwconv_job *j, const float *x, const float *w,
                                float bias, const float *res, float *y, float *buf) {
    const lcv_dwconv_geom *g = &j->g;
    (void)buf;
    for (int64_t oy = 0; oy < g->out_h; oy++) {
        int64_t ky0, ky1;
        dw_rows(g, oy, &ky0, &ky1);
        for (int64_t ox = 0; ox < g->out_w; ox++) {
            float acc = bias;
            for (int64_t ky = ky0; ky < ky1; ky++) {
                const float *xr = x + (oy * g->stride_h + ky * g->dil_h - g->pad_top) * g->in_w;
                const float *wr = w + ky * g->kw;
                for (int64_t kx = 0; kx < g->kw; kx++) {
                    int64_t ix = ox * g->stride_w + kx * g->dil_w - g->pad_left;
                    if (ix >= 0 && ix < g->in_w) acc += wr[kx] * xr[ix];
                }
            }
            int64_t o = oy * g->out_w + ox;
            if (res) acc += res[o];
            y[o] = j->act ? lcv_act_f32(j->act, acc) : acc;
        }
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
    if (!fn) fn = lcv_dwconv_select_scalar(g);
    return fn ? fn : dw_plane_unbuffered;
}

typedef struct dw_task {
    const lcv_dwconv_job *j;
    lcv_dwconv_plane_fn fn;
    const float *x, *w, *bias, *res;
    float *y;
} dw_task;

static void dw_run_planes(void *ctx, int64_t begin, int64_t end, int thread) {
    const dw_task *t = ctx;
    const lcv_dwconv_geom *g = &t->j->g;
    int64_t in_plane = g->in_h * g->in_w, out_plane = g->out_h * g->out_w;
    _Alignas(64) float buf[LCV_DWCONV_BUF_FLOATS];
    (void)thread;
    memset(buf, 0, sizeof(float) * (size_t)lcv_dwconv_buf_floats(t->j)); /* the pads, once */
    for (int64_t p = begin; p < end; p++) {
        int64_t ch = p % g->channels;
        t->fn(t->j, t->x + p * in_plane, t->w + ch * g->kh * g->kw, t->bias ? t->bias[ch] : 0.0f,
              t->res ? t->res + p * out_plane : NULL, t->y + p * out_plane, buf);
    }
}

void lcv_dwconv_run(const lcv_dwconv_geom *g, lcv_dwconv_plane_fn fn, const float *x,
                    const float *w, const float *bias, const float *residual,
                    const lcv_fused *act, float *y, lcv_threadpool *pool) {
    lcv_dwconv_job j;
    lcv_dwconv_job_init(&j, g, act && act->act != LCV_ACT_NONE ? act : NULL);
    if (!j.buffered) fn = dw_plane_unbuffered; /* a kernel chosen for another geometry */
    dw_task t = {&j, fn, x, w, bias, residual, y};
    int64_t planes = g->batch * g->channels;
    /* ~32k multiply-adds per chunk at least, so tiny planes are not split to single items. */
    int64_t work = g->out_h * g->out_w * g->kh * g->kw;
    int64_t grain = work > 0 ? 32768 / work : planes;
    lcv_threadpool_parallel_for(pool, planes, grain < 1 ? 1 : grain, dw_run_planes, &t);
}
