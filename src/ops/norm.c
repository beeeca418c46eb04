/* norm.c - BatchNormalization (inference, and training mode with running statistics),
 * InstanceNormalization and LayerNormalization (with its optional Mean and InvStdDev outputs).
 * Statistics accumulate in double; float32 data has direct-pointer inner loops. LRN,
 * LpNormalization and MeanVarianceNormalization live in norm_local.c. */
#include <math.h>

#include "../core/threadpool.h"
#include "op.h"

/* Product of x->dims[from..to) (0 when one of them is 0, so it cannot overflow). */
static int64_t span(const lcv_tensor *x, int from, int to) {
    for (int i = from; i < to; i++)
        if (x->dims[i] == 0) return 0;
    int64_t p = 1;
    for (int i = from; i < to; i++) p *= x->dims[i];
    return p;
}

static lcv_status need_float(lcv_opctx *c, const lcv_tensor *t, const char *what) {
    if (!lcv_dtype_is_float(t->dtype))
        return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "%s dtype %s is not supported (float only)",
                           what, lcv_dtype_name(t->dtype));
    return LCV_OK;
}

/* ---- BatchNormalization ---- */

static const char *const bn_names[5] = {"X", "scale", "B", "input_mean", "input_var"};

/* Whether the node computes batch statistics: training_mode from opset 14; before that, the
 * training outputs being requested (and is_test off in opset 6). */
static bool bn_training(const lcv_opctx *c) {
    if (c->node->opset >= 14) return lcv_attr_int(c->node, "training_mode", 0) != 0;
    return c->n_out > 1 && lcv_attr_int(c->node, "is_test", 0) == 0;
}

/* Parameters are per channel ([C]) or, with spatial=0 before opset 9, per position
 * (X.shape[1:]). Sets *per_pos accordingly. */
static lcv_status bn_check_params(lcv_opctx *c, bool *per_pos) {
    const lcv_tensor *x = c->in[0];
    bool spatial = c->node->opset >= 9 || lcv_attr_int(c->node, "spatial", 1) != 0;
    *per_pos = false;
    for (int i = 1; i < 5; i++) {
        const lcv_tensor *p = c->in[i];
        char sa[128], sb[128];
        lcv_status st = need_float(c, p, bn_names[i]);
        if (st != LCV_OK) return st;
        bool chan = p->ndim == 1 && p->dims[0] == x->dims[1];
        bool pos = !spatial && lcv_shape_equal(p->ndim, p->dims, x->ndim - 1, x->dims + 1);
        if (chan && pos && x->ndim == 2) pos = false;
        if (!chan && !pos)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "%s has shape %s, expected [%lld]%s%s", bn_names[i],
                               lcv_shape_str(p->ndim, p->dims, sa, sizeof sa),
                               (long long)x->dims[1], spatial ? "" : " or ",
                               spatial ? "" : lcv_shape_str(x->ndim - 1, x->dims + 1, sb, sizeof sb));
        if (i > 1 && pos != *per_pos)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "%s and scale disagree on spatial layout",
                               bn_names[i]);
        *per_pos = pos;
    }
    return LCV_OK;
}

lcv_status lcv_infer_batchnorm(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0];
    lcv_status st = need_float(c, x, "X");
    if (st != LCV_OK) return st;
    if (x->ndim < 2 || x->ndim > LCV_MAX_DIMS)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "X must have rank >= 2 (N, C, ...), got %d", x->ndim);
    bool per_pos;
    st = bn_check_params(c, &per_pos);
    if (st != LCV_OK) return st;
    lcv_op_set_out(c, 0, x->dtype, x->ndim, x->dims);
    for (int i = 1; i < c->n_out && i < 3; i++)
        if (c->out[i]) lcv_op_set_out(c, i, c->in[2 + i]->dtype, c->in[2 + i]->ndim, c->in[2 + i]->dims);
    return LCV_OK;
}

/* Normalises the elements of parameter group g: channel ch, positions [s0, s0 + ns) of each
 * of the N images, with y = x * a + b. */
static void bn_apply(const lcv_tensor *x, lcv_tensor *y, int64_t N, int64_t CS, int64_t ch_off,
                     int64_t ns, double a, double b) {
    for (int64_t n = 0; n < N; n++) {
        int64_t base = n * CS + ch_off;
        if (x->dtype == LCV_DTYPE_FLOAT32) {
            const float *xp = (const float *)x->data + base;
            float *yp = (float *)y->data + base;
            float fa = (float)a, fb = (float)b;
            for (int64_t s = 0; s < ns; s++) yp[s] = xp[s] * fa + fb;
        } else {
            for (int64_t s = 0; s < ns; s++)
                lcv_store_f64(y->dtype, y->data, base + s,
                              lcv_load_f64(x->dtype, x->data, base + s) * a + b);
        }
    }
}

lcv_status lcv_exec_batchnorm(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0];
    const lcv_tensor *sc = c->in[1], *bias = c->in[2], *mean = c->in[3], *var = c->in[4];
    bool per_pos;
    lcv_status st = bn_check_params(c, &per_pos);
    if (st != LCV_OK) return st;
    double eps = lcv_attr_float(c->node, "epsilon", 1e-5f);
    double momentum = lcv_attr_float(c->node, "momentum", 0.9f);
    bool training = bn_training(c);
    lcv_tensor *rmean = c->n_out > 1 ? c->out[1] : NULL;
    lcv_tensor *rvar = c->n_out > 2 ? c->out[2] : NULL;
    int64_t N = x->dims[0], C = x->dims[1], S = span(x, 2, x->ndim);
    if (N == 0) {
        S = 0; /* no batch: statistics are empty, outputs copy the running values */
        training = false;
    }
    /* A parameter group is one channel, or one (channel, position) pair when per_pos. */
    int64_t P = per_pos ? S : 1, ns = per_pos ? 1 : S;
    if (C == 0 || (per_pos && S == 0)) P = 0;
    for (int64_t ch = 0; ch < C; ch++) {
        for (int64_t sp = 0; sp < P; sp++) {
            int64_t g = ch * P + sp, off = ch * S + (per_pos ? sp : 0);
            double m = lcv_load_f64(mean->dtype, mean->data, g);
            double v = lcv_load_f64(var->dtype, var->data, g);
            double rm = m, rv = v;
            if (training) {
                double sum = 0.0, sq = 0.0, cnt = (double)(N * ns);
                for (int64_t n = 0; n < N; n++)
                    for (int64_t s = 0; s < ns; s++)
                        sum += lcv_load_f64(x->dtype, x->data, n * C * S + off + s);
                double bm = sum / cnt;
                for (int64_t n = 0; n < N; n++)
                    for (int64_t s = 0; s < ns; s++) {
                        double d = lcv_load_f64(x->dtype, x->data, n * C * S + off + s) - bm;
                        sq += d * d;
                    }
                double bv = sq / cnt;
                rm = m * momentum + bm * (1.0 - momentum);
                rv = v * momentum + bv * (1.0 - momentum);
                m = bm;
                v = bv;
            }
            double a = lcv_load_f64(sc->dtype, sc->data, g) / sqrt(v + eps);
            double b = lcv_load_f64(bias->dtype, bias->data, g) - m * a;
            bn_apply(x, c->out[0], N, C * S, off, ns, a, b);
            if (rmean) lcv_store_f64(rmean->dtype, rmean->data, g, rm);
            if (rvar) lcv_store_f64(rvar->dtype, rvar->data, g, rv);
        }
    }
    if (P == 0) { /* no statistics computed: running outputs keep the inputs */
        for (int64_t g = 0; rmean && g < lcv_tensor_count(rmean); g++)
            lcv_store_f64(rmean->dtype, rmean->data, g, lcv_load_f64(mean->dtype, mean->data, g));
        for (int64_t g = 0; rvar && g < lcv_tensor_count(rvar); g++)
            lcv_store_f64(rvar->dtype, rvar->data, g, lcv_load_f64(var->dtype, var->data, g));
    }
    return LCV_OK;
}

/* ---- InstanceNormalization ---- */

lcv_status lcv_infer_instancenorm(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0];
    lcv_status st = need_float(c, x, "input");
    if (st != LCV_OK) return st;
    if (x->ndim < 2 || x->ndim > LCV_MAX_DIMS)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "input must have rank >= 2 (N, C, ...), got %d",
                           x->ndim);
    for (int i = 1; i < 3; i++) {
        const lcv_tensor *p = c->in[i];
        char sa[128];
        st = need_float(c, p, i == 1 ? "scale" : "B");
        if (st != LCV_OK) return st;
        if (p->ndim != 1 || p->dims[0] != x->dims[1])
            return lcv_op_fail(c, LCV_ERR_SHAPE, "%s has shape %s, expected [%lld]",
                               i == 1 ? "scale" : "B",
                               lcv_shape_str(p->ndim, p->dims, sa, sizeof sa),
                               (long long)x->dims[1]);
    }
    lcv_op_set_out(c, 0, x->dtype, x->ndim, x->dims);
    return LCV_OK;
}

/* Mean and biased variance of n elements of x starting at base (contiguous). */
static void row_stats(const lcv_tensor *x, int64_t base, int64_t n, double *mean, double *var) {
    double sum = 0.0, sq = 0.0;
    if (x->dtype == LCV_DTYPE_FLOAT32) {
        const float *p = (const float *)x->data + base;
        for (int64_t i = 0; i < n; i++) sum += p[i];
        double m = sum / (double)n;
        for (int64_t i = 0; i < n; i++) sq += (p[i] - m) * (p[i] - m);
        *mean = m;
    } else {
        for (int64_t i = 0; i < n; i++) sum += lcv_load_f64(x->dtype, x->data, base + i);
        double m = sum / (double)n;
        for (int64_t i = 0; i < n; i++) {
            double d = lcv_load_f64(x->dtype, x->data, base + i) - m;
            sq += d * d;
        }
        *mean = m;
    }
    *var = sq / (double)n;
}

/* Elements per thread chunk (whole rows or planes, at least one): rows are normalised
 * independently, so any split over them gives the same bits. */
#define NORM_GRAIN 8192

typedef struct inorm_task {
    const lcv_tensor *x, *sc, *bias;
    lcv_tensor *y;
    int64_t C, S;
    double eps;
} inorm_task;

static void inorm_planes(void *ctx, int64_t begin, int64_t end, int thread) {
    const inorm_task *t = ctx;
    for (int64_t pl = begin; pl < end; pl++) {
        int64_t ch = pl % t->C, base = pl * t->S;
        double m, v;
        row_stats(t->x, base, t->S, &m, &v);
        double a = lcv_load_f64(t->sc->dtype, t->sc->data, ch) / sqrt(v + t->eps);
        double b = lcv_load_f64(t->bias->dtype, t->bias->data, ch) - m * a;
        bn_apply(t->x, t->y, 1, 0, base, t->S, a, b);
    }
}

lcv_status lcv_exec_instancenorm(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0], *sc = c->in[1], *bias = c->in[2];
    double eps = lcv_attr_float(c->node, "epsilon", 1e-5f);
    int64_t N = x->dims[0], C = x->dims[1], S = span(x, 2, x->ndim);
    if (lcv_tensor_count(x) == 0) return LCV_OK;
    inorm_task t = {x, sc, bias, c->out[0], C, S, eps};
    lcv_threadpool_parallel_for(c->pool, N * C, NORM_GRAIN / S + 1, inorm_planes, &t);
    return LCV_OK;
}

/* ---- LayerNormalization ---- */

/* Scale and B broadcast to X's shape (unidirectionally). */
static lcv_status ln_check_param(lcv_opctx *c, const lcv_tensor *p, const char *what) {
    const lcv_tensor *x = c->in[0];
    char sa[128], sb[128];
    lcv_status st = need_float(c, p, what);
    if (st != LCV_OK) return st;
    bool ok = p->ndim <= x->ndim;
    for (int i = 0; ok && i < p->ndim; i++) {
        int64_t d = p->dims[p->ndim - 1 - i], xd = x->dims[x->ndim - 1 - i];
        ok = d == xd || d == 1;
    }
    if (!ok)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "%s shape %s does not broadcast to X shape %s", what,
                           lcv_shape_str(p->ndim, p->dims, sa, sizeof sa),
                           lcv_shape_str(x->ndim, x->dims, sb, sizeof sb));
    return LCV_OK;
}

static lcv_status ln_axis(lcv_opctx *c, int *axis) {
    return lcv_op_axis(c, lcv_attr_int(c->node, "axis", -1), c->in[0]->ndim, axis);
}

lcv_status lcv_infer_layernorm(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0], *b = lcv_op_input(c, 2);
    lcv_status st = need_float(c, x, "X");
    if (st != LCV_OK) return st;
    if (x->ndim < 0 || x->ndim > LCV_MAX_DIMS)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "X rank %d is not supported", x->ndim);
    int axis;
    st = ln_axis(c, &axis);
    if (st != LCV_OK) return st;
    st = ln_check_param(c, c->in[1], "Scale");
    if (st == LCV_OK && b) st = ln_check_param(c, b, "B");
    if (st != LCV_OK) return st;
    int64_t stash = lcv_attr_int(c->node, "stash_type", 1);
    if (stash < 0 || stash > 16 || !lcv_dtype_is_float((lcv_dtype)stash))
        return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "stash_type %lld is not a float type",
                           (long long)stash);
    lcv_op_set_out(c, 0, x->dtype, x->ndim, x->dims);
    int64_t sdims[LCV_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) sdims[i] = i < axis ? x->dims[i] : 1;
    for (int i = 1; i < c->n_out && i < 3; i++)
        if (c->out[i]) lcv_op_set_out(c, i, (lcv_dtype)stash, x->ndim, sdims);
    return LCV_OK;
}

/* Index into p for element j of a normalised block, or -1 when p also varies across blocks
 * (then the generic broadcast index is used). */
static bool ln_param_is_block(const lcv_tensor *x, const lcv_tensor *p, int axis) {
    for (int i = 0; i < p->ndim; i++) {
        int xi = x->ndim - p->ndim + i;
        if (xi < axis && p->dims[i] != 1) return false;
    }
    return lcv_tensor_count(p) == span(x, axis, x->ndim);
}

static double ln_param(const lcv_tensor *x, const lcv_tensor *p, bool block, int64_t flat,
                       int64_t j, const int64_t *xstrides) {
    if (!p) return 0.0;
    int64_t k = block ? j : lcv_broadcast_index(flat, x->ndim, x->dims, xstrides, p->ndim, p->dims);
    return lcv_load_f64(p->dtype, p->data, k);
}

typedef struct ln_task {
    const lcv_tensor *x, *sc, *b;
    lcv_tensor *y, *om, *oi;
    int64_t n; /* elements per row */
    double eps;
    int64_t xstrides[LCV_MAX_DIMS];
    bool sblock, bblock, fast;
} ln_task;

static void ln_rows(void *ctx, int64_t begin, int64_t end, int thread) {
    const ln_task *t = ctx;
    const lcv_tensor *x = t->x, *sc = t->sc, *b = t->b;
    lcv_tensor *y = t->y, *om = t->om, *oi = t->oi;
    int64_t n = t->n;
    const int64_t *xstrides = t->xstrides;
    for (int64_t r = begin; r < end; r++) {
        int64_t base = r * n;
        double m, v;
        row_stats(x, base, n, &m, &v);
        double inv = 1.0 / sqrt(v + t->eps);
        if (om) lcv_store_f64(om->dtype, om->data, r, m);
        if (oi) lcv_store_f64(oi->dtype, oi->data, r, inv);
        if (t->fast) {
            const float *xp = (const float *)x->data + base, *sp = sc->data;
            const float *bp = b ? b->data : NULL;
            float *yp = (float *)y->data + base;
            float fm = (float)m, fi = (float)inv;
            for (int64_t j = 0; j < n; j++)
                yp[j] = (xp[j] - fm) * fi * sp[j] + (bp ? bp[j] : 0.0f);
            continue;
        }
        for (int64_t j = 0; j < n; j++) {
            double xv = lcv_load_f64(x->dtype, x->data, base + j);
            double s = ln_param(x, sc, t->sblock, base + j, j, xstrides);
            double bv = ln_param(x, b, t->bblock, base + j, j, xstrides);
            lcv_store_f64(y->dtype, y->data, base + j, (xv - m) * inv * s + bv);
        }
    }
}

lcv_status lcv_exec_layernorm(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0], *sc = c->in[1], *b = lcv_op_input(c, 2);
    lcv_tensor *y = c->out[0];
    lcv_tensor *om = c->n_out > 1 ? c->out[1] : NULL, *oi = c->n_out > 2 ? c->out[2] : NULL;
    int axis;
    lcv_status st = ln_axis(c, &axis);
    if (st != LCV_OK) return st;
    double eps = lcv_attr_float(c->node, "epsilon", 1e-5f);
    int64_t outer = span(x, 0, axis), n = span(x, axis, x->ndim);
    if (lcv_tensor_count(x) == 0) {
        /* An empty normalised block has no statistics: report NaN rows. */
        for (int64_t r = 0; r < outer && n == 0; r++) {
            if (om) lcv_store_f64(om->dtype, om->data, r, NAN);
            if (oi) lcv_store_f64(oi->dtype, oi->data, r, NAN);
        }
        return LCV_OK;
    }
    bool sblock = ln_param_is_block(x, sc, axis), bblock = !b || ln_param_is_block(x, b, axis);
    bool fast = x->dtype == LCV_DTYPE_FLOAT32 && sc->dtype == LCV_DTYPE_FLOAT32 && sblock &&
                (!b || (b->dtype == LCV_DTYPE_FLOAT32 && bblock));
    ln_task t = {x, sc, b, y, om, oi, n, eps, {0}, sblock, bblock, fast};
    lcv_shape_strides(x->ndim, x->dims, t.xstrides);
    lcv_threadpool_parallel_for(c->pool, outer, NORM_GRAIN / n + 1, ln_rows, &t);
    return LCV_OK;
}
