/* maxpool8.c - separable 8-bit max pooling: each output row reduces its clipped window rows
 * into one padded row (a byte-wise max that compilers turn into one vector instruction per 16
 * to 64 bytes on every ISA, so this file needs no per-ISA twin), then takes the kw taps of each
 * output column. int8 runs as uint8 with the sign bit flipped: x ^ 0x80 keeps the order, and
 * 0 (the flipped lowest value) is the identity of the max and the value of padding. */
#include "maxpool8.h"

#include <string.h>

typedef struct maxpool8_task {
    const lcv_pool2d_geom *g;
    const uint8_t *x;
    uint8_t *y;
    uint8_t flip;
} maxpool8_task;

static void max_rows(uint8_t *restrict d, const uint8_t *restrict s, int64_t n, uint8_t flip) {
    for (int64_t i = 0; i < n; i++) {
        uint8_t v = (uint8_t)(s[i] ^ flip);
        d[i] = v > d[i] ? v : d[i];
    }
}

static void pool_plane(const lcv_pool2d_geom *g, const uint8_t *x, uint8_t *y, uint8_t flip,
                       uint8_t *v) {
    const int64_t iw = g->in_w, ow = g->out_w, sw = g->stride_w, kw = g->kw;
    const int64_t wp = (ow - 1) * sw + kw; /* the padded row the taps read */
    const int64_t lo = g->pad_left < wp ? g->pad_left : wp;
    const int64_t hi = g->pad_left + iw < wp ? g->pad_left + iw : wp;
    memset(v, 0, (size_t)wp);
    for (int64_t oy = 0; oy < g->out_h; oy++) {
        uint8_t *yr = y + oy * ow;
        int64_t ys = oy * g->stride_h - g->pad_top;
        int64_t r0 = ys < 0 ? 0 : ys, r1 = ys + g->kh < g->in_h ? ys + g->kh : g->in_h;
        if (r1 <= r0 || hi <= lo) { /* the window reads padding only */
            memset(yr, flip, (size_t)ow);
            continue;
        }
        const uint8_t *xr = x + r0 * iw + (lo - g->pad_left);
        memset(v + lo, 0, (size_t)(hi - lo));
        for (int64_t r = r0; r < r1; r++, xr += iw) max_rows(v + lo, xr, hi - lo, flip);
        for (int64_t ox = 0; ox < ow; ox++) {
            const uint8_t *t = v + ox * sw;
            uint8_t m = t[0];
            for (int64_t k = 1; k < kw; k++) m = t[k] > m ? t[k] : m;
            yr[ox] = (uint8_t)(m ^ flip);
        }
    }
}

static void pool_planes(void *ctx, int64_t begin, int64_t end, int thread) {
    const maxpool8_task *t = ctx;
    const lcv_pool2d_geom *g = t->g;
    uint8_t v[LCV_POOL2D_MAX_ROW];
    (void)thread;
    int64_t in_plane = g->in_h * g->in_w, out_plane = g->out_h * g->out_w;
    for (int64_t p = begin; p < end; p++)
        pool_plane(g, t->x + p * in_plane, t->y + p * out_plane, t->flip, v);
}

void lcv_maxpool8_run(const lcv_pool2d_geom *g, bool is_signed, const uint8_t *x, uint8_t *y,
                      lcv_threadpool *pool) {
    maxpool8_task t = {g, x, y, is_signed ? 0x80 : 0};
    /* ~32k taps per chunk at least, so small planes are not handed out one by one */
    int64_t work = g->out_h * (g->kh * g->in_w + g->kw * g->out_w);
    int64_t grain = work > 0 ? 32768 / work : g->planes;
    lcv_threadpool_parallel_for(pool, g->planes, grain < 1 ? 1 : grain, pool_planes, &t);
}
