/* pool.c - pooling: MaxPool (with dilations, ceil_mode, storage_order and the optional int64
 * Indices output), AveragePool (count_include_pad), LpPool, the Global* pools and MaxUnpool.
 * Reference kernels walk each output's window clipped to the input, so the work is bounded by
 * the real input whatever kernel and padding the attributes ask for. */
#include <math.h>
#include <string.h>

#include "../core/threadpool.h"
#include "window.h"

typedef struct pool_geom {
    int nsp;
    int64_t planes; /* N * C */
    int64_t in_size, out_size;
    lcv_window w;
} pool_geom;

/* Element i of a float tensor as double; float32 is read directly as the common case. */
static inline double ld(const lcv_tensor *t, int64_t i) {
    return t->dtype == LCV_DTYPE_FLOAT32 ? ((const float *)t->data)[i]
                                         : lcv_load_f64(t->dtype, t->data, i);
}
static inline void st(lcv_tensor *t, int64_t i, double v) {
    if (t->dtype == LCV_DTYPE_FLOAT32) ((float *)t->data)[i] = (float)v;
    else lcv_store_f64(t->dtype, t->data, i, v);
}

static lcv_status pool_geom_get(lcv_opctx *c, pool_geom *g) {
    const lcv_tensor *x = lcv_op_input(c, 0);
    if (!x) return lcv_op_fail(c, LCV_ERR_SHAPE, "input X is required");
    bool is_max = c->node->op == LCV_OP_MaxPool;
    bool ok = lcv_dtype_is_float(x->dtype) ||
              (is_max && (x->dtype == LCV_DTYPE_INT8 || x->dtype == LCV_DTYPE_UINT8));
    if (!ok)
        return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "X has dtype %s; float%s expected",
                           lcv_dtype_name(x->dtype), is_max ? ", int8 or uint8" : "");
    if (x->ndim < 3) {
        char sx[128];
        return lcv_op_fail(c, LCV_ERR_SHAPE, "X %s must have rank >= 3 (N, C, spatial...)",
                           lcv_shape_str(x->ndim, x->dims, sx, sizeof sx));
    }
    g->nsp = x->ndim - 2;
    g->planes = x->dims[0] * x->dims[1];
    int64_t ceil_mode = lcv_attr_int(c->node, "ceil_mode", 0);
    if (ceil_mode != 0 && ceil_mode != 1)
        return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "ceil_mode = %lld must be 0 or 1",
                           (long long)ceil_mode);
    lcv_status s = lcv_window_parse(c, g->nsp, x->dims + 2, NULL, &g->w);
    if (s != LCV_OK) return s;
    if ((s = lcv_window_forward_out(c, &g->w, ceil_mode != 0)) != LCV_OK) return s;
    int64_t n;
    if (!lcv_shape_numel(g->nsp, g->w.out, &n)) return lcv_op_fail(c, LCV_ERR_SHAPE,
                                                                   "output is too large");
    g->out_size = n;
    lcv_shape_numel(g->nsp, g->w.in, &g->in_size);
    return LCV_OK;
}

lcv_status lcv_infer_pool(lcv_opctx *c) {
    pool_geom g;
    lcv_status s = pool_geom_get(c, &g);
    if (s != LCV_OK) return s;
    const lcv_tensor *x = c->in[0];
    int64_t dims[LCV_MAX_DIMS] = {x->dims[0], x->dims[1]}, n;
    for (int i = 0; i < g.nsp; i++) dims[2 + i] = g.w.out[i];
    if (!lcv_shape_numel(g.nsp + 2, dims, &n))
        return lcv_op_fail(c, LCV_ERR_SHAPE, "output is too large");
    if (c->node->op == LCV_OP_MaxPool) {
        int64_t so = lcv_attr_int(c->node, "storage_order", 0);
        if (so != 0 && so != 1)
            return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "storage_order = %lld must be 0 or 1",
                               (long long)so);
    } else if (c->node->op == LCV_OP_LpPool) {
        float p = lcv_attr_float(c->node, "p", 2.0f);
        if (!(p > 0.0f) || isinf(p))
            return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "p = %g must be positive and finite",
                               (double)p);
    } else {
        int64_t cip = lcv_attr_int(c->node, "count_include_pad", 0);
        if (cip != 0 && cip != 1)
            return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "count_include_pad = %lld must be 0 "
                               "or 1", (long long)cip);
    }
    lcv_op_set_out(c, 0, x->dtype, g.nsp + 2, dims);
    if (c->n_out > 1 && c->out[1]) lcv_op_set_out(c, 1, LCV_DTYPE_INT64, g.nsp + 2, dims);
    return LCV_OK;
}

typedef enum pool_kind { POOL_MAX, POOL_AVG, POOL_LP } pool_kind;

/* One window: taps k in [lo[d], hi[d]) land inside the input; n_pad counts the taps that land
 * inside the input or its padding (the divisor of count_include_pad). */
typedef struct pool_win {
    int64_t lo[LCV_MAX_DIMS], hi[LCV_MAX_DIMS], base[LCV_MAX_DIMS];
    int64_t n_valid, n_pad;
} pool_win;

static void pool_window_at(const lcv_window *w, const int64_t *o, pool_win *pw) {
    pw->n_valid = pw->n_pad = 1;
    for (int d = 0; d < w->nsp; d++) {
        int64_t start = o[d] * w->stride[d] - w->pad_begin[d], dil = w->dilation[d];
        int64_t lo = lcv_ceil_div(-start, dil), hi = lcv_floor_div(w->in[d] - 1 - start, dil) + 1;
        pw->lo[d] = lo < 0 ? 0 : lo;
        pw->hi[d] = hi > w->kernel[d] ? w->kernel[d] : hi;
        if (pw->hi[d] < pw->lo[d]) pw->hi[d] = pw->lo[d];
        pw->base[d] = start;
        /* Taps inside [-pad_begin, in + pad_end): the window clipped to the padded input. */
        int64_t hp = lcv_ceil_div(w->in[d] + w->pad_end[d] - start, dil);
        if (hp > w->kernel[d]) hp = w->kernel[d];
        if (hp < 0) hp = 0;
        pw->n_valid *= pw->hi[d] - pw->lo[d];
        pw->n_pad *= hp;
    }
}

/* Rough work (window taps) per thread chunk: enough to hide the hand-off between threads. */
#define POOL_GRAIN_WORK 32768

/* Planes per chunk so that a chunk does about POOL_GRAIN_WORK taps. */
static int64_t pool_grain(int64_t work_per_plane) {
    if (work_per_plane < 1) work_per_plane = 1;
    int64_t g = POOL_GRAIN_WORK / work_per_plane;
    return g < 1 ? 1 : g;
}

/* Everything one range of planes needs; planes are independent, so any split of them gives
 * the same bits. */
typedef struct pool_task {
    const pool_geom *g;
    pool_kind kind;
    const lcv_tensor *x;
    lcv_tensor *y, *ind;
    bool col_major, cip;
    double p;
    int64_t istr[LCV_MAX_DIMS], cstr[LCV_MAX_DIMS];
} pool_task;

static void pool_planes(void *ctx, int64_t begin, int64_t end, int thread) {
    const pool_task *t = ctx;
    const pool_geom *g = t->g;
    const lcv_window *w = &g->w;
    const lcv_tensor *x = t->x;
    int nsp = g->nsp;
    pool_kind kind = t->kind;
    const int64_t *istr = t->istr, *cstr = t->cstr;
    for (int64_t pl = begin; pl < end; pl++) {
        int64_t xbase = pl * g->in_size, ybase = pl * g->out_size;
        int64_t o[LCV_MAX_DIMS] = {0};
        for (int64_t oi = 0; oi < g->out_size; oi++) {
            pool_win pw;
            pool_window_at(w, o, &pw);
            double acc = kind == POOL_MAX ? -INFINITY : 0.0;
            int64_t arg = -1;
            if (pw.n_valid > 0) {
                int64_t k[LCV_MAX_DIMS];
                for (int d = 0; d < nsp; d++) k[d] = pw.lo[d];
                for (;;) {
                    int64_t off = 0;
                    for (int d = 0; d < nsp; d++)
                        off += (pw.base[d] + k[d] * w->dilation[d]) * istr[d];
                    double v = ld(x, xbase + off);
                    if (kind == POOL_MAX) {
                        if (v > acc || arg < 0) {
                            acc = v;
                            arg = off;
                        }
                    } else if (kind == POOL_AVG) {
                        acc += v;
                    } else {
                        acc += pow(fabs(v), t->p);
                    }
                    int d = nsp - 1;
                    while (d >= 0 && ++k[d] == pw.hi[d]) {
                        k[d] = pw.lo[d];
                        d--;
                    }
                    if (d < 0) break;
                }
            }
            if (kind == POOL_AVG) {
                int64_t div = t->cip ? pw.n_pad : pw.n_valid;
                acc = div > 0 ? acc / (double)div : 0.0;
            } else if (kind == POOL_LP) {
                acc = pow(acc, 1.0 / t->p);
            }
            st(t->y, ybase + oi, acc);
            if (t->ind) {
                int64_t idx = -1;
                if (arg >= 0) {
                    idx = arg;
                    if (t->col_major) {
                        idx = 0;
                        for (int d = 0; d < nsp; d++) idx += (arg / istr[d] % w->in[d]) * cstr[d];
                    }
                    idx += xbase;
                }
                ((int64_t *)t->ind->data)[ybase + oi] = idx;
            }
            for (int d = nsp - 1; d >= 0 && ++o[d] == w->out[d]; d--) o[d] = 0;
        }
    }
}

static lcv_status pool_exec(lcv_opctx *c, pool_kind kind) {
    pool_geom g;
    lcv_status s = pool_geom_get(c, &g);
    if (s != LCV_OK) return s;
    pool_task t = {.g = &g, .kind = kind, .x = c->in[0], .y = c->out[0]};
    t.ind = (kind == POOL_MAX && c->n_out > 1) ? c->out[1] : NULL;
    t.col_major = lcv_attr_int(c->node, "storage_order", 0) == 1;
    t.cip = lcv_attr_int(c->node, "count_include_pad", 0) == 1;
    t.p = lcv_attr_float(c->node, "p", 2.0f);
    const lcv_window *w = &g.w;
    lcv_shape_strides(g.nsp, w->in, t.istr);
    /* Column-major spatial strides, for Indices with storage_order = 1. */
    for (int d = 0; d < g.nsp; d++) t.cstr[d] = d == 0 ? 1 : t.cstr[d - 1] * w->in[d - 1];
    /* The kernel volume bounds the taps per output (windows are clipped to the input). */
    int64_t taps = 1;
    for (int d = 0; d < g.nsp; d++) {
        taps = w->kernel[d] < POOL_GRAIN_WORK ? taps * w->kernel[d] : POOL_GRAIN_WORK;
        if (taps > POOL_GRAIN_WORK) taps = POOL_GRAIN_WORK;
    }
    int64_t per_plane = g.out_size < POOL_GRAIN_WORK ? g.out_size * taps : POOL_GRAIN_WORK;
    lcv_threadpool_parallel_for(c->pool, g.planes, pool_grain(per_plane), pool_planes, &t);
    return LCV_OK;
}

lcv_status lcv_exec_maxpool(lcv_opctx *c) { return pool_exec(c, POOL_MAX); }
lcv_status lcv_exec_averagepool(lcv_opctx *c) { return pool_exec(c, POOL_AVG); }
lcv_status lcv_exec_lppool(lcv_opctx *c) { return pool_exec(c, POOL_LP); }

/* ---- Global pools ------------------------------------------------------------------------ */

lcv_status lcv_infer_global_pool(lcv_opctx *c) {
    const lcv_tensor *x = lcv_op_input(c, 0);
    if (!x) return lcv_op_fail(c, LCV_ERR_SHAPE, "input X is required");
    if (!lcv_dtype_is_float(x->dtype))
        return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "X has dtype %s; a float type expected",
                           lcv_dtype_name(x->dtype));
    if (x->ndim < 3) {
        char sx[128];
        return lcv_op_fail(c, LCV_ERR_SHAPE, "X %s must have rank >= 3 (N, C, spatial...)",
                           lcv_shape_str(x->ndim, x->dims, sx, sizeof sx));
    }
    if (c->node->op == LCV_OP_GlobalLpPool) {
        float p = lcv_attr_float(c->node, "p", 2.0f);
        if (!(p > 0.0f) || isinf(p))
            return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "p = %g must be positive and finite",
                               (double)p);
    }
    int64_t dims[LCV_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) dims[i] = i < 2 ? x->dims[i] : 1;
    lcv_op_set_out(c, 0, x->dtype, x->ndim, dims);
    return LCV_OK;
}

typedef struct global_task {
    pool_kind kind;
    const lcv_tensor *x;
    lcv_tensor *y;
    int64_t size; /* elements per plane */
    double p;
} global_task;

static void global_planes(void *ctx, int64_t begin, int64_t end, int thread) {
    const global_task *t = ctx;
    pool_kind kind = t->kind;
    int64_t size = t->size;
    for (int64_t pl = begin; pl < end; pl++) {
        double acc = kind == POOL_MAX ? -INFINITY : 0.0;
        for (int64_t i = 0; i < size; i++) {
            double v = ld(t->x, pl * size + i);
            if (kind == POOL_MAX) acc = (v > acc || i == 0) ? v : acc;
            else if (kind == POOL_AVG) acc += v;
            else acc += pow(fabs(v), t->p);
        }
        if (kind == POOL_AVG) acc = size > 0 ? acc / (double)size : NAN;
        else if (kind == POOL_LP) acc = pow(acc, 1.0 / t->p);
        st(t->y, pl, acc);
    }
}

static lcv_status global_exec(lcv_opctx *c, pool_kind kind) {
    lcv_status s = lcv_infer_global_pool(c);
    if (s != LCV_OK) return s;
    const lcv_tensor *x = c->in[0];
    lcv_tensor *y = c->out[0];
    int64_t planes = x->dims[0] * x->dims[1], size = 1;
    for (int i = 2; i < x->ndim; i++) size *= x->dims[i];
    global_task t = {kind, x, y, size, lcv_attr_float(c->node, "p", 2.0f)};
    lcv_threadpool_parallel_for(c->pool, planes, pool_grain(size), global_planes, &t);
    return LCV_OK;
}

lcv_status lcv_exec_global_averagepool(lcv_opctx *c) { return global_exec(c, POOL_AVG); }
lcv_status lcv_exec_global_maxpool(lcv_opctx *c) { return global_exec(c, POOL_MAX); }
lcv_status lcv_exec_global_lppool(lcv_opctx *c) { return global_exec(c, POOL_LP); }

/* ---- MaxUnpool --------------------------------------------------------------------------- */

/* The indices address a tensor of the "inferred" shape (what MaxPool's input would have been);
 * an output_shape input, at least as large, receives that tensor in its leading corner. */
typedef struct unpool_geom {
    int ndim;
    int64_t inferred[LCV_MAX_DIMS];
    int64_t out[LCV_MAX_DIMS];
} unpool_geom;

static lcv_status unpool_geom_get(lcv_opctx *c, unpool_geom *g) {
    const lcv_tensor *x = lcv_op_input(c, 0), *ind = lcv_op_input(c, 1);
    const lcv_tensor *oshape = lcv_op_input(c, 2);
    if (!x || !ind) return lcv_op_fail(c, LCV_ERR_SHAPE, "inputs X and I are required");
    char sx[128], si[128];
    lcv_shape_str(x->ndim, x->dims, sx, sizeof sx);
    lcv_shape_str(ind->ndim, ind->dims, si, sizeof si);
    if (lcv_dtype_size(x->dtype) == 0 || x->dtype == LCV_DTYPE_STRING)
        return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "X has dtype %s", lcv_dtype_name(x->dtype));
    if (ind->dtype != LCV_DTYPE_INT64)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "I must be int64, got %s",
                           lcv_dtype_name(ind->dtype));
    if (x->ndim < 3 || !lcv_shape_equal(x->ndim, x->dims, ind->ndim, ind->dims))
        return lcv_op_fail(c, LCV_ERR_SHAPE, "X %s must have rank >= 3 and I %s the same shape",
                           sx, si);
    int nsp = x->ndim - 2;
    lcv_window w;
    lcv_status s = lcv_window_parse(c, nsp, x->dims + 2, NULL, &w);
    if (s != LCV_OK) return s;
    g->ndim = x->ndim;
    g->inferred[0] = g->out[0] = x->dims[0];
    g->inferred[1] = g->out[1] = x->dims[1];
    for (int d = 0; d < nsp; d++) {
        int64_t v = (w.in[d] - 1) * w.stride[d] + w.kernel[d] - w.pad_begin[d] - w.pad_end[d];
        if (w.in[d] < 1 || v < 1)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "spatial dim %d: output size %lld < 1 (input "
                               "%lld, kernel %lld, stride %lld, pads %lld+%lld)", d,
                               (long long)v, (long long)w.in[d], (long long)w.kernel[d],
                               (long long)w.stride[d], (long long)w.pad_begin[d],
                               (long long)w.pad_end[d]);
        g->inferred[2 + d] = g->out[2 + d] = v;
    }
    int64_t n;
    if (!lcv_shape_numel(g->ndim, g->inferred, &n))
        return lcv_op_fail(c, LCV_ERR_SHAPE, "output is too large");
    if (oshape) {
        int64_t v[LCV_MAX_DIMS], cnt = 0;
        s = lcv_op_read_ints(c, oshape, "output_shape", v, LCV_MAX_DIMS, &cnt);
        if (s != LCV_OK) return s;
        if (cnt != g->ndim || v[0] != g->out[0] || v[1] != g->out[1])
            return lcv_op_fail(c, LCV_ERR_SHAPE, "output_shape must have %d values starting "
                               "with N=%lld, C=%lld", g->ndim, (long long)g->out[0],
                               (long long)g->out[1]);
        for (int d = 0; d < nsp; d++) {
            int64_t lo = g->inferred[2 + d];
            int64_t hi = lo + (w.stride[d] > w.kernel[d] ? w.stride[d] : w.kernel[d]);
            if (v[2 + d] < lo || v[2 + d] > hi)
                return lcv_op_fail(c, LCV_ERR_SHAPE, "output_shape[%d] = %lld is outside "
                                   "[%lld, %lld] for this input, kernel and stride", 2 + d,
                                   (long long)v[2 + d], (long long)lo, (long long)hi);
            g->out[2 + d] = v[2 + d];
        }
        if (!lcv_shape_numel(g->ndim, g->out, &n))
            return lcv_op_fail(c, LCV_ERR_SHAPE, "output is too large");
    }
    return LCV_OK;
}

lcv_status lcv_infer_maxunpool(lcv_opctx *c) {
    unpool_geom g;
    lcv_status s = unpool_geom_get(c, &g);
    if (s != LCV_OK) return s;
    lcv_op_set_out(c, 0, c->in[0]->dtype, g.ndim, g.out);
    return LCV_OK;
}

lcv_status lcv_exec_maxunpool(lcv_opctx *c) {
    unpool_geom g;
    lcv_status s = unpool_geom_get(c, &g);
    if (s != LCV_OK) return s;
    const lcv_tensor *x = c->in[0], *ind = c->in[1];
    lcv_tensor *y = c->out[0];
    size_t es = lcv_dtype_size(x->dtype);
    memset(y->data, 0, es * (size_t)lcv_tensor_count(y));
    int nsp = g.ndim - 2;
    int64_t total, isz = 1, istr[LCV_MAX_DIMS], ostr[LCV_MAX_DIMS], osz = 1;
    lcv_shape_numel(g.ndim, g.inferred, &total);
    lcv_shape_strides(nsp, g.inferred + 2, istr);
    lcv_shape_strides(nsp, g.out + 2, ostr);
    for (int d = 0; d < nsp; d++) {
        isz *= g.inferred[2 + d];
        osz *= g.out[2 + d];
    }
    const int64_t *iv = ind->data;
    int64_t n = lcv_tensor_count(x);
    for (int64_t j = 0; j < n; j++) {
        int64_t idx = iv[j];
        if (idx < 0 || idx >= total)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "index I[%lld] = %lld is outside [0, %lld)",
                               (long long)j, (long long)idx, (long long)total);
        int64_t plane = idx / isz, rem = idx % isz, dst = plane * osz;
        for (int d = 0; d < nsp; d++) dst += (rem / istr[d] % g.inferred[2 + d]) * ostr[d];
        memcpy((char *)y->data + (size_t)dst * es, (const char *)x->data + (size_t)j * es, es);
    }
    return LCV_OK;
}
