/* pool_grad.c - the backward of MaxPool, AveragePool (count_include_pad either way),
 * GlobalAveragePool and GlobalMaxPool in any number of spatial dims. MaxPool routes each
 * output's gradient to the FIRST maximum of its window in scan order (row-major over the
 * window's taps inside the input, the order the forward compares them in), so ties and NaNs
 * pick the element the forward picked. Planes (N * C) are split over threads; each plane is
 * summed by one thread in a fixed order. */
#include <math.h>
#include <string.h>

#include "../core/threadpool.h"
#include "gemm_grad.h"
#include "window.h"

/* Rough window taps per thread chunk, as in the forward. */
#define POOL_GRAIN_WORK 32768

typedef enum pool_kind { POOL_MAX, POOL_AVG } pool_kind;

typedef struct pool_task {
    pool_kind kind;
    bool cip;
    lcv_window w;
    int64_t in_size, out_size;
    int64_t istr[LCV_MAX_DIMS];
    const float *x, *dy;
    float *dx;
} pool_task;

/* The taps of output o that land inside the input ([lo, hi) per dim), how many there are,
 * and how many land inside the input or its padding (the count_include_pad divisor). */
typedef struct pool_win {
    int64_t lo[LCV_MAX_DIMS], hi[LCV_MAX_DIMS], start[LCV_MAX_DIMS];
    int64_t n_valid, n_pad;
} pool_win;

static void pool_window(const lcv_window *w, const int64_t *o, pool_win *pw) {
    pw->n_valid = pw->n_pad = 1;
    for (int d = 0; d < w->nsp; d++) {
        int64_t start = o[d] * w->stride[d] - w->pad_begin[d], dil = w->dilation[d];
        int64_t lo = lcv_ceil_div(-start, dil), hi = lcv_floor_div(w->in[d] - 1 - start, dil) + 1;
        pw->lo[d] = lo < 0 ? 0 : lo;
        pw->hi[d] = hi > w->kernel[d] ? w->kernel[d] : hi;
        if (pw->hi[d] < pw->lo[d]) pw->hi[d] = pw->lo[d];
        pw->start[d] = start;
        int64_t hp = lcv_ceil_div(w->in[d] + w->pad_end[d] - start, dil);
        if (hp > w->kernel[d]) hp = w->kernel[d];
        if (hp < 0) hp = 0;
        pw->n_valid *= pw->hi[d] - pw->lo[d];
        pw->n_pad *= hp;
    }
}

static void pool_planes(void *ctx, int64_t begin, int64_t end, int thread) {
    const pool_task *t = ctx;
    const lcv_window *w = &t->w;
    int nsp = w->nsp;
    (void)thread;
    for (int64_t pl = begin; pl < end; pl++) {
        const float *x = t->x + pl * t->in_size, *dy = t->dy + pl * t->out_size;
        float *dx = t->dx + pl * t->in_size;
        memset(dx, 0, sizeof(float) * (size_t)t->in_size);
        int64_t o[LCV_MAX_DIMS] = {0};
        for (int64_t oi = 0; oi < t->out_size; oi++) {
            pool_win pw;
            pool_window(w, o, &pw);
            for (int d = nsp - 1; d >= 0 && ++o[d] == w->out[d]; d--) o[d] = 0;
            if (pw.n_valid == 0) continue;
            float g = dy[oi];
            if (t->kind == POOL_AVG) {
                int64_t div = t->cip ? pw.n_pad : pw.n_valid;
                g = (float)((double)g / (double)div);
            }
            int64_t k[LCV_MAX_DIMS], arg = -1;
            float best = 0.0f;
            for (int d = 0; d < nsp; d++) k[d] = pw.lo[d];
            for (;;) {
                int64_t off = 0;
                for (int d = 0; d < nsp; d++) off += (pw.start[d] + k[d] * w->dilation[d]) * t->istr[d];
                if (t->kind == POOL_AVG) {
                    dx[off] += g;
                } else if (arg < 0 || x[off] > best) {
                    best = x[off];
                    arg = off;
                }
                int d = nsp - 1;
                while (d >= 0 && ++k[d] == pw.hi[d]) {
                    k[d] = pw.lo[d];
                    d--;
                }
                if (d < 0) break;
            }
            if (t->kind == POOL_MAX) dx[arg] += g;
        }
    }
}

static lcv_status pool_grad(lcv_gradctx *c, pool_kind kind) {
    lcv_status st = lcv_grad_check(c, NULL);
    if (st != LCV_OK) return st;
    const lcv_tensor *x = c->in[0];
    lcv_tensor *dx = lcv_grad_din(c, 0);
    const lcv_tensor *dyt = c->dout ? c->dout[0] : NULL;
    if (!dx) return LCV_OK;
    if (!dyt) {
        memset(dx->data, 0, sizeof(float) * (size_t)lcv_tensor_count(dx));
        return LCV_OK;
    }
    pool_task t;
    memset(&t, 0, sizeof t);
    lcv_opctx oc = {0};
    oc.node = c->node;
    oc.err = c->err;
    int nsp = x->ndim - 2;
    bool ceil_mode = lcv_attr_int(c->node, "ceil_mode", 0) != 0;
    if ((st = lcv_window_parse(&oc, nsp, x->dims + 2, NULL, &t.w)) != LCV_OK ||
        (st = lcv_window_forward_out(&oc, &t.w, ceil_mode)) != LCV_OK)
        return st;
    t.kind = kind;
    t.cip = lcv_attr_int(c->node, "count_include_pad", 0) == 1;
    t.in_size = t.out_size = 1;
    for (int d = 0; d < nsp; d++) {
        t.in_size *= t.w.in[d];
        t.out_size *= t.w.out[d];
    }
    lcv_shape_strides(nsp, t.w.in, t.istr);
    t.x = x->data;
    t.dy = dyt->data;
    t.dx = dx->data;
    int64_t taps = 1;
    for (int d = 0; d < nsp && taps < POOL_GRAIN_WORK; d++)
        taps = t.w.kernel[d] < POOL_GRAIN_WORK ? taps * t.w.kernel[d] : POOL_GRAIN_WORK;
    int64_t per_plane = t.out_size < POOL_GRAIN_WORK ? t.out_size * taps : POOL_GRAIN_WORK;
    per_plane += t.in_size < POOL_GRAIN_WORK ? t.in_size : POOL_GRAIN_WORK;
    int64_t grain = POOL_GRAIN_WORK / (per_plane > 0 ? per_plane : 1);
    lcv_threadpool_parallel_for(c->pool, x->dims[0] * x->dims[1], grain < 1 ? 1 : grain,
                                pool_planes, &t);
    return LCV_OK;
}

lcv_status lcv_grad_maxpool(lcv_gradctx *c) { return pool_grad(c, POOL_MAX); }
lcv_status lcv_grad_averagepool(lcv_gradctx *c) { return pool_grad(c, POOL_AVG); }

/* ---- Global pools: one window covering each whole plane ---------------------------------- */

typedef struct global_task {
    pool_kind kind;
    int64_t size;
    const float *x, *dy;
    float *dx;
} global_task;

static void global_planes(void *ctx, int64_t begin, int64_t end, int thread) {
    const global_task *t = ctx;
    int64_t size = t->size;
    (void)thread;
    for (int64_t pl = begin; pl < end; pl++) {
        const float *x = t->x + pl * size;
        float *dx = t->dx + pl * size;
        if (size == 0) continue;
        if (t->kind == POOL_AVG) {
            float g = (float)((double)t->dy[pl] / (double)size);
            for (int64_t i = 0; i < size; i++) dx[i] = g;
            continue;
        }
        memset(dx, 0, sizeof(float) * (size_t)size);
        int64_t arg = 0;
        for (int64_t i = 1; i < size; i++)
            if (x[i] > x[arg]) arg = i;
        dx[arg] = t->dy[pl];
    }
}

static lcv_status global_grad(lcv_gradctx *c, pool_kind kind) {
    lcv_status st = lcv_grad_check(c, NULL);
    if (st != LCV_OK) return st;
    const lcv_tensor *x = c->in[0];
    lcv_tensor *dx = lcv_grad_din(c, 0);
    const lcv_tensor *dyt = c->dout ? c->dout[0] : NULL;
    if (!dx) return LCV_OK;
    if (!dyt) {
        memset(dx->data, 0, sizeof(float) * (size_t)lcv_tensor_count(dx));
        return LCV_OK;
    }
    int64_t size = 1;
    for (int i = 2; i < x->ndim; i++) size *= x->dims[i];
    global_task t = {kind, size, x->data, dyt->data, dx->data};
    int64_t grain = POOL_GRAIN_WORK / (size > 0 ? size : 1);
    lcv_threadpool_parallel_for(c->pool, x->dims[0] * x->dims[1], grain < 1 ? 1 : grain,
                                global_planes, &t);
    return LCV_OK;
}

lcv_status lcv_grad_global_averagepool(lcv_gradctx *c) { return global_grad(c, POOL_AVG); }
lcv_status lcv_grad_global_maxpool(lcv_gradctx *c) { return global_grad(c, POOL_MAX); }
