/* pool2d.c - the portable part of the separable 2-D pooling kernel: geometry checks, the
 * scalar row operations, ISA dispatch, and the per-plane driver (vertical pass into a padded
 * row, stride phases, horizontal taps, average divisors) threaded over planes. */
#include "pool2d.h"

#include <math.h>
#include <string.h>

static void max_scalar(float *d, const float *s, int64_t n) {
    for (int64_t i = 0; i < n; i++) d[i] = s[i] > d[i] ? s[i] : d[i];
}

static void add_scalar(float *d, const float *s, int64_t n) {
    for (int64_t i = 0; i < n; i++) d[i] += s[i];
}

static void deint2_scalar(const float *v, float *e, float *o, int64_t pairs) {
    for (int64_t j = 0; j < pairs; j++) {
        e[j] = v[2 * j];
        o[j] = v[2 * j + 1];
    }
}

static void div_scalar(float *y, const float *cnt, float rows, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float den = rows * cnt[i];
        y[i] = den > 0.0f ? y[i] / den : 0.0f;
    }
}

static const lcv_pool2d_rowops rowops_scalar = {max_scalar, add_scalar, deint2_scalar,
                                                div_scalar};

const lcv_pool2d_rowops *lcv_pool2d_rowops_for(lcv_isa isa) {
#if defined(__x86_64__)
    /* Exact matches: LCV_ISA_NEON is numerically above AVX512 but means scalar here. */
    if (isa == LCV_ISA_AVX512) return &lcv_pool2d_rowops_avx512;
    if (isa == LCV_ISA_AVX2) return &lcv_pool2d_rowops_avx2;
#else
    (void)isa;
#endif
    return &rowops_scalar;
}

/* Length of the padded row the horizontal taps read: (out_w - 1) * stride + kw. */
static int64_t padded_row(const lcv_pool2d_geom *g) {
    return (g->out_w - 1) * g->stride_w + g->kw;
}

bool lcv_pool2d_supported(const lcv_pool2d_geom *g) {
    const int64_t m = LCV_POOL2D_MAX_ROW;
    if (g->planes < 0 || g->in_h < 1 || g->in_w < 1 || g->out_h < 1 || g->out_w < 1 ||
        g->kh < 1 || g->kw < 1 || g->stride_h < 1 || g->stride_w < 1 || g->pad_top < 0 ||
        g->pad_left < 0 || g->pad_bottom < 0 || g->pad_right < 0)
        return false;
    /* each bound keeps the next product far from overflow */
    if (g->out_w > m || g->kw > m || g->stride_w > m) return false;
    return padded_row(g) <= m;
}

/* Per-thread rows (on the task's stack; 32 KiB). Phases of stride s hold at most
 * padded_row + s <= 2 * LCV_POOL2D_MAX_ROW floats. */
typedef struct pool_rows {
    float v[LCV_POOL2D_MAX_ROW];
    float ph[2 * LCV_POOL2D_MAX_ROW];
    float cnt[LCV_POOL2D_MAX_ROW];
} pool_rows;

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Taps of the window starting at `start` (size k) inside [0, in) or, with pad, inside the
 * padded extent [-pad_begin, in + pad_end); start >= -pad_begin always. */
static int64_t window_taps(int64_t start, int64_t k, int64_t in, int64_t pad_end, bool pad) {
    if (pad) return clamp64(in + pad_end - start, 0, k);
    int64_t lo = start < 0 ? 0 : start, hi = start + k < in ? start + k : in;
    return hi > lo ? hi - lo : 0;
}

/* Splits v[0, wp) into the stride phases: phase p (p < min(s, kw)) starts at *ph_at[p] and
 * holds v[p + j * s]. Returns the phase starts in ph_at. */
static void make_phases(const lcv_pool2d_geom *g, const lcv_pool2d_rowops *ops, const float *v,
                        int64_t wp, float *ph, const float **ph_at) {
    const int64_t s = g->stride_w;
    if (s == 1) {
        ph_at[0] = v;
        return;
    }
    if (s == 2) {
        int64_t pairs = wp / 2, ne = (wp + 1) / 2;
        ops->deint2(v, ph, ph + ne, pairs);
        if (wp % 2) ph[pairs] = v[wp - 1];
        ph_at[0] = ph;
        ph_at[1] = ph + ne;
        return;
    }
    int64_t np = s < g->kw ? s : g->kw, off = 0;
    for (int64_t p = 0; p < np; p++) {
        int64_t len = (wp - p + s - 1) / s;
        for (int64_t j = 0; j < len; j++) ph[off + j] = v[p + j * s];
        ph_at[p] = ph + off;
        off += len;
    }
}

static void pool_plane(const lcv_pool2d_geom *g, const lcv_pool2d_rowops *ops, const float *x,
                       float *y, pool_rows *r) {
    const float init = g->is_max ? -INFINITY : 0.0f;
    const int64_t iw = g->in_w, ow = g->out_w, wp = padded_row(g);
    const int64_t lo = g->pad_left < wp ? g->pad_left : wp;
    const int64_t hi = g->pad_left + iw < wp ? g->pad_left + iw : wp;
    const float *ph_at[LCV_POOL2D_MAX_ROW];
    float *v = r->v;
    for (int64_t i = 0; i < lo; i++) v[i] = init;
    for (int64_t i = hi; i < wp; i++) v[i] = init;
    for (int64_t oy = 0; oy < g->out_h; oy++) {
        float *yr = y + oy * ow;
        int64_t ys = oy * g->stride_h - g->pad_top;
        int64_t r0 = ys < 0 ? 0 : ys, r1 = ys + g->kh < g->in_h ? ys + g->kh : g->in_h;
        if (r1 <= r0 || hi <= lo) { /* the window reads padding only */
            for (int64_t i = 0; i < ow; i++) yr[i] = init;
            continue;
        }
        const float *xr = x + r0 * iw + (lo - g->pad_left);
        if (g->is_max) {
            for (int64_t i = lo; i < hi; i++) v[i] = -INFINITY; /* NaN taps are skipped */
            for (int64_t rr = r0; rr < r1; rr++, xr += iw) ops->max(v + lo, xr, hi - lo);
        } else {
            memcpy(v + lo, xr, sizeof(float) * (size_t)(hi - lo));
            for (int64_t rr = r0 + 1; rr < r1; rr++) ops->add(v + lo, xr += iw, hi - lo);
        }
        make_phases(g, ops, v, wp, r->ph, ph_at);
        const int64_t s = g->stride_w;
        if (g->is_max) {
            for (int64_t i = 0; i < ow; i++) yr[i] = -INFINITY;
            for (int64_t kx = 0; kx < g->kw; kx++) ops->max(yr, ph_at[kx % s] + kx / s, ow);
        } else {
            memcpy(yr, ph_at[0], sizeof(float) * (size_t)ow);
            for (int64_t kx = 1; kx < g->kw; kx++) ops->add(yr, ph_at[kx % s] + kx / s, ow);
            int64_t ny = window_taps(ys, g->kh, g->in_h, g->pad_bottom, g->count_pad);
            ops->div(yr, r->cnt, (float)ny, ow);
        }
    }
}

typedef struct pool_task {
    const lcv_pool2d_geom *g;
    const lcv_pool2d_rowops *ops;
    const float *x;
    float *y;
} pool_task;

static void pool_planes(void *ctx, int64_t begin, int64_t end, int thread) {
    const pool_task *t = ctx;
    const lcv_pool2d_geom *g = t->g;
    pool_rows r;
    (void)thread;
    if (!g->is_max)
        for (int64_t ox = 0; ox < g->out_w; ox++)
            r.cnt[ox] = (float)window_taps(ox * g->stride_w - g->pad_left, g->kw, g->in_w,
                                           g->pad_right, g->count_pad);
    int64_t in_plane = g->in_h * g->in_w, out_plane = g->out_h * g->out_w;
    for (int64_t p = begin; p < end; p++)
        pool_plane(g, t->ops, t->x + p * in_plane, t->y + p * out_plane, &r);
}

void lcv_pool2d_run(const lcv_pool2d_geom *g, const lcv_pool2d_rowops *ops, const float *x,
                    float *y, lcv_threadpool *pool) {
    pool_task t = {g, ops, x, y};
    /* ~32k taps per chunk at least, so small planes are not handed out one by one */
    int64_t work = g->out_h * (g->kh * g->in_w + g->kw * g->out_w);
    int64_t grain = work > 0 ? 32768 / work : g->planes;
    lcv_threadpool_parallel_for(pool, g->planes, grain < 1 ? 1 : grain, pool_planes, &t);
}
