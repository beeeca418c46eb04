/* convdirect.c - the portable part of the direct small-Cin convolution: weight packing, the
 * padded stride-phase input copy, the scalar row kernel (the twin of the vector ones), ISA
 * dispatch and the threaded driver with the activation epilogue. */
#include "convdirect.h"

#include <string.h>

#include "../f32-vact/vact.h"

#define CB LCV_CONVDIRECT_CB

/* Caps that keep every index product below 2^62 and the input copy reasonable. */
#define CONVDIRECT_MAX_ATTR 4096
#define CONVDIRECT_MAX_FLOATS ((int64_t)1 << 28)

size_t lcv_convdirect_packed_floats(int64_t cout, int64_t cin, int64_t kh, int64_t kw) {
    if (cout < 1 || cin < 1 || kh < 1 || kw < 1 || cin > CONVDIRECT_MAX_FLOATS ||
        kh > CONVDIRECT_MAX_ATTR || kw > CONVDIRECT_MAX_ATTR || cout > CONVDIRECT_MAX_FLOATS)
        return 0;
    int64_t blocks = (cout + CB - 1) / CB, per = cin * kh * kw;
    if (per > CONVDIRECT_MAX_FLOATS / CB / blocks) return 0;
    return (size_t)(blocks * per * CB);
}

void lcv_convdirect_pack(int64_t cout, int64_t cin, int64_t kh, int64_t kw, const float *w,
                         float *dst) {
    int64_t per = cin * kh * kw, blocks = (cout + CB - 1) / CB;
    for (int64_t b = 0; b < blocks; b++)
        for (int64_t t = 0; t < per; t++)
            for (int64_t c = 0; c < CB; c++) {
                int64_t co = b * CB + c;
                dst[(b * per + t) * CB + c] = co < cout ? w[co * per + t] : 0.0f;
            }
}

void lcv_convdirect_layout_of(const lcv_convdirect_geom *g, lcv_convdirect_layout *l) {
    int64_t wp = (g->out_w - 1) * g->stride_w + g->kw; /* padded columns the taps read */
    l->rows = (g->out_h - 1) * g->stride_h + g->kh;
    l->len = (wp + g->stride_w - 1) / g->stride_w;
}

void lcv_convdirect_tap_offsets(const lcv_convdirect_geom *g, const lcv_convdirect_layout *l,
                                int64_t *off) {
    const int64_t sw = g->stride_w;
    for (int64_t ci = 0, t = 0; ci < g->cin; ci++)
        for (int64_t ky = 0; ky < g->kh; ky++)
            for (int64_t kx = 0; kx < g->kw; kx++, t++)
                off[t] = ((ci * l->rows + ky) * sw + kx % sw) * l->len + kx / sw;
}

size_t lcv_convdirect_scratch_floats(const lcv_convdirect_geom *g) {
    const int64_t m = CONVDIRECT_MAX_ATTR;
    if (g->cin < 1 || g->cout < 1 || g->in_h < 1 || g->in_w < 1 || g->out_h < 1 ||
        g->out_w < 1 || g->kh < 1 || g->kw < 1 || g->stride_h < 1 || g->stride_w < 1 ||
        g->pad_top < 0 || g->pad_left < 0 || g->kh > m || g->kw > m || g->stride_h > m ||
        g->stride_w > m || g->out_h > CONVDIRECT_MAX_FLOATS || g->out_w > CONVDIRECT_MAX_FLOATS ||
        g->cin > LCV_CONVDIRECT_MAX_TAPS || g->cin * g->kh * g->kw > LCV_CONVDIRECT_MAX_TAPS)
        return 0;
    lcv_convdirect_layout l;
    lcv_convdirect_layout_of(g, &l);
    double floats = (double)g->cin * (double)l.rows * (double)g->stride_w * (double)l.len;
    if (floats > (double)CONVDIRECT_MAX_FLOATS) return 0;
    return (size_t)(g->cin * l.rows * g->stride_w * l.len);
}

static void row_scalar(const lcv_convdirect_geom *g, const float *xs, const float *wp,
                       const float *bias, const float *res, float *y, int64_t oy) {
    lcv_convdirect_layout l;
    lcv_convdirect_layout_of(g, &l);
    const int64_t plane = g->out_h * g->out_w, per = g->cin * g->kh * g->kw;
    const int64_t sw = g->stride_w;
    for (int64_t cb = 0; cb < g->cout; cb += CB) {
        const float *wb = wp + cb * per;
        int64_t nc = g->cout - cb < CB ? g->cout - cb : CB;
        for (int64_t ox = 0; ox < g->out_w; ox++) {
            float acc[CB] = {0};
            const float *w = wb;
            for (int64_t ci = 0; ci < g->cin; ci++)
                for (int64_t ky = 0; ky < g->kh; ky++) {
                    const float *row = xs + ((ci * l.rows + oy * g->stride_h + ky) * sw) * l.len;
                    for (int64_t kx = 0; kx < g->kw; kx++, w += CB) {
                        float xv = row[(kx % sw) * l.len + kx / sw + ox];
                        for (int c = 0; c < CB; c++) acc[c] += w[c] * xv;
                    }
                }
            for (int64_t c = 0; c < nc; c++) {
                int64_t i = (cb + c) * plane + oy * g->out_w + ox;
                float v = acc[c] + (bias ? bias[cb + c] : 0.0f);
                y[i] = res ? v + res[i] : v;
            }
        }
    }
}

lcv_convdirect_row_fn lcv_convdirect_select(lcv_isa isa) {
#if defined(__x86_64__)
    /* Exact matches: LCV_ISA_NEON is numerically above AVX512 but means scalar here. */
    if (isa == LCV_ISA_AVX512) return lcv_convdirect_row_avx512;
    if (isa == LCV_ISA_AVX2) return lcv_convdirect_row_avx2;
#else
    (void)isa;
#endif
    return row_scalar;
}

typedef struct cd_task {
    lcv_isa isa;
    const lcv_convdirect_geom *g;
    lcv_convdirect_layout l;
    lcv_convdirect_row_fn fn;
    const float *x, *wp, *bias, *res; /* x, res, y: the current image */
    const lcv_fused *act;
    float *y, *xs;
} cd_task;

/* Fills padded rows [begin, end) (item = ci * rows + r) of the input copy, every phase. */
static void prep_rows(void *ctx, int64_t begin, int64_t end, int thread) {
    const cd_task *t = ctx;
    const lcv_convdirect_geom *g = t->g;
    const int64_t s = g->stride_w, len = t->l.len;
    (void)thread;
    for (int64_t item = begin; item < end; item++) {
        int64_t ci = item / t->l.rows, ir = item % t->l.rows - g->pad_top;
        for (int64_t p = 0; p < s; p++) {
            float *d = t->xs + (item * s + p) * len;
            if (ir < 0 || ir >= g->in_h) {
                memset(d, 0, sizeof(float) * (size_t)len);
                continue;
            }
            /* phase column j reads input column p + j*s - pad_left: inside for [j0, j1) */
            int64_t off = p - g->pad_left;
            int64_t j0 = off >= 0 ? 0 : (-off + s - 1) / s;
            int64_t j1 = g->in_w - off <= 0 ? 0 : (g->in_w - off + s - 1) / s;
            if (j1 > len) j1 = len;
            if (j0 > j1) j0 = j1;
            const float *xr = t->x + (ci * g->in_h + ir) * g->in_w;
            int64_t j = 0;
            for (; j < j0; j++) d[j] = 0.0f;
            if (s == 1 && j1 > j0) {
                memcpy(d + j0, xr + off + j0, sizeof(float) * (size_t)(j1 - j0));
                j = j1;
            }
            for (; j < j1; j++) d[j] = xr[off + j * s];
            for (; j < len; j++) d[j] = 0.0f;
        }
    }
}

static void compute_rows(void *ctx, int64_t begin, int64_t end, int thread) {
    const cd_task *t = ctx;
    const lcv_convdirect_geom *g = t->g;
    const int64_t plane = g->out_h * g->out_w;
    (void)thread;
    for (int64_t oy = begin; oy < end; oy++) {
        t->fn(g, t->xs, t->wp, t->bias, t->res, t->y, oy);
        if (t->act && t->act->act != LCV_ACT_NONE)
            for (int64_t co = 0; co < g->cout; co++)
                lcv_vact_apply(t->isa, t->act, t->y + co * plane + oy * g->out_w, g->out_w);
    }
}

void lcv_convdirect_run(lcv_isa isa, const lcv_convdirect_geom *g, int64_t batch,
                        const float *x, const float *wp, const float *bias, const float *res,
                        const lcv_fused *act, float *y, float *scratch, lcv_threadpool *pool) {
    cd_task t = {isa, g, {0, 0}, lcv_convdirect_select(isa), NULL, wp, bias, NULL, act, NULL,
                 scratch};
    lcv_convdirect_layout_of(g, &t.l);
    const int64_t in_img = g->cin * g->in_h * g->in_w, out_img = g->cout * g->out_h * g->out_w;
    /* grains: ~16k copied floats / ~64k multiply-adds per chunk at least */
    int64_t prep_grain = 16384 / (g->stride_w * t.l.len) + 1;
    int64_t row_work = g->cout * g->out_w * g->cin * g->kh * g->kw;
    int64_t row_grain = 65536 / (row_work + 1) + 1;
    for (int64_t n = 0; n < batch; n++) {
        t.x = x + n * in_img;
        t.y = y + n * out_img;
        t.res = res ? res + n * out_img : NULL;
        lcv_threadpool_parallel_for(pool, g->cin * t.l.rows, prep_grain, prep_rows, &t);
        lcv_threadpool_parallel_for(pool, g->out_h, row_grain, compute_rows, &t);
    }
}
