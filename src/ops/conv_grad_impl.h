/* conv_grad_impl.h - what the two halves of the convolution backward engine share
 * (conv_grad.c: the per-image engine with intra-product threads; conv_grad_batch.c: batches
 * cut into chunks, one thread per chunk): the derived geometry of a call and the walk over the
 * positions one kernel tap reads. Private to src/ops. */
#ifndef LCV_OPS_CONV_GRAD_IMPL_H
#define LCV_OPS_CONV_GRAD_IMPL_H

#include "conv_grad.h"

/* Column tiles hold about this many floats (1 MiB), so im2col's output is still in L2 when
 * the GEMM reads it. */
#define CONV_COL_FLOATS ((int64_t)1 << 18)
/* Groups whose c_g * m_g is at most this run the direct loops: their GEMMs would be slivers. */
#define CONV_DIRECT_MAX 4

/* The geometry of one engine call with its derived strides and tiling. */
typedef struct conv_run {
    const lcv_convg *g;
    int64_t ostr[LCV_MAX_DIMS], istr[LCV_MAX_DIMS];
    int64_t kdim;      /* c_g * k_size: rows of the column matrix */
    int64_t tile_rows; /* outer-dim rows of y per column tile */
    bool pointwise;    /* 1x1, stride 1, no pad, in == out: x is its own column matrix */
    bool direct;
} conv_run;

static inline void conv_run_init(conv_run *r, const lcv_convg *g) {
    const lcv_window *w = &g->w;
    r->g = g;
    lcv_shape_strides(w->nsp, w->out, r->ostr);
    lcv_shape_strides(w->nsp, w->in, r->istr);
    r->kdim = g->c_g * g->k_size;
    /* written so that kdim * row length cannot overflow */
    r->tile_rows = r->ostr[0] >= CONV_COL_FLOATS / r->kdim
                       ? 1
                       : CONV_COL_FLOATS / (r->kdim * r->ostr[0]);
    if (r->tile_rows > w->out[0]) r->tile_rows = w->out[0];
    r->pointwise = g->k_size == 1;
    for (int d = 0; d < w->nsp; d++)
        if (w->stride[d] != 1 || w->pad_begin[d] != 0 || w->in[d] != w->out[d])
            r->pointwise = false;
    r->direct = g->c_g * g->m_g <= CONV_DIRECT_MAX;
}

/* ---- walking the positions a tap reads ------------------------------------------------- */

/* For one kernel tap and the y rows [t0, t1) of the outer dim: the runs of y positions along
 * the last dim whose x position lies inside x. Each run is n positions starting at y offset
 * yo (relative to the tile's first position) that read x at xo, xo + s, ... */
typedef struct tap_iter {
    int last;                      /* the run dim (nsp - 1) */
    int64_t lo[LCV_MAX_DIMS], hi[LCV_MAX_DIMS], o[LCV_MAX_DIMS];
    int64_t ystep[LCV_MAX_DIMS], xstep[LCV_MAX_DIMS]; /* offsets of one step along dim d */
    int64_t cy, cx;                /* offsets of the current run */
    bool more;
    int64_t yo, xo, n, s;
} tap_iter;

static inline void tap_iter_init(tap_iter *it, const conv_run *r, int64_t tap, int64_t t0, int64_t t1) {
    const lcv_window *w = &r->g->w;
    int64_t k[LCV_MAX_DIMS];
    it->last = w->nsp - 1;
    it->more = true;
    it->s = w->stride[it->last];
    for (int d = it->last; d >= 0; d--) {
        k[d] = tap % w->kernel[d];
        tap /= w->kernel[d];
    }
    it->cy = -t0 * r->ostr[0];
    it->cx = 0;
    for (int d = 0; d <= it->last; d++) {
        /* y positions o with o * stride + k * dilation - pad_begin inside [0, in) */
        int64_t off = k[d] * w->dilation[d] - w->pad_begin[d];
        int64_t lo = lcv_ceil_div(-off, w->stride[d]);
        int64_t hi = lcv_floor_div(w->in[d] - 1 - off, w->stride[d]) + 1;
        int64_t a = d == 0 ? t0 : 0, b = d == 0 ? t1 : w->out[d];
        it->lo[d] = lo > a ? lo : a;
        it->hi[d] = hi < b ? hi : b;
        if (it->lo[d] >= it->hi[d]) it->more = false;
        it->o[d] = it->lo[d];
        it->ystep[d] = r->ostr[d];
        it->xstep[d] = w->stride[d] * r->istr[d];
        it->cy += it->lo[d] * r->ostr[d];
        it->cx += (it->lo[d] * w->stride[d] + off) * r->istr[d];
    }
}

/* The next run (yo, xo, n), walking the outer dims like an odometer; false when done. */
static inline bool tap_iter_next(tap_iter *it) {
    if (!it->more) return false;
    it->yo = it->cy;
    it->xo = it->cx;
    it->n = it->hi[it->last] - it->lo[it->last];
    int d = it->last - 1;
    for (; d >= 0; d--) {
        it->cy += it->ystep[d];
        it->cx += it->xstep[d];
        if (++it->o[d] < it->hi[d]) break;
        int64_t span = it->hi[d] - it->lo[d];
        it->cy -= span * it->ystep[d];
        it->cx -= span * it->xstep[d];
        it->o[d] = it->lo[d];
    }
    if (d < 0) it->more = false;
    return true;
}

/* The batched engine (conv_grad_batch.c): whether it takes this call (batches of two or
 * more images whose column matrix per image is small enough; never the direct loops), and
 * its two products with the contracts of lcv_convg_weight_grad and lcv_convg_adjoint. The
 * choice does not depend on the thread count, and neither do the results. */
bool lcv_convg_batched(const conv_run *r);
lcv_status lcv_convg_batch_weight_grad(lcv_gradctx *c, const conv_run *r, const float *x,
                                       const float *dy, float *dw);
lcv_status lcv_convg_batch_adjoint(lcv_gradctx *c, const conv_run *r, const float *wt,
                                   const float *dy, float *dx);

#endif
