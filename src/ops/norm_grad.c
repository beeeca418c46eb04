/* norm_grad.c - training forward and backward of BatchNormalization, and the backward of
 * LayerNormalization and InstanceNormalization. BatchNorm trains with batch statistics over
 * N and the spatial dims (biased variance to normalise, unbiased for the running variance, as
 * PyTorch does) and keeps the per-channel mean, 1/std and variance for the backward. Every
 * backward recomputes x_hat = (x - mean) / std and uses
 *     dx = (1/std) * (g - mean(g) - x_hat * mean(g * x_hat)),  g = dy * scale,
 * with statistics and sums in double. Work is split over channels, rows or planes, each
 * summed in a fixed order, so results do not depend on the thread count. */
#include <math.h>
#include <string.h>

#include "../core/threadpool.h"
#include "../kernels/f32-sums/sums.h"
#include "gemm_grad.h"
#include "grad_util.h"

/* Product of dims[from..to), 0 as soon as one is 0. */
static int64_t span(const lcv_tensor *x, int from, int to) {
    for (int i = from; i < to; i++)
        if (x->dims[i] == 0) return 0;
    int64_t p = 1;
    for (int i = from; i < to; i++) p *= x->dims[i];
    return p;
}

/* ---- BatchNormalization ---- */

static const char *const bn_names[5] = {"X", "scale", "B", "input_mean", "input_var"};

/* Per-channel ([C]) float parameters; the per-position layout of spatial=0 (before opset 9)
 * is an inference-only feature. */
static lcv_status bn_check(const lcv_node *n, const lcv_tensor *const *in, lcv_err *err,
                           bool need_f32) {
    const lcv_tensor *x = in[0];
    const char *why = NULL;
    if (!x || !lcv_dtype_is_float(x->dtype) || (need_f32 && x->dtype != LCV_DTYPE_FLOAT32))
        why = "X must be float32";
    else if (x->ndim < 2)
        why = "X must have rank >= 2 (N, C, ...)";
    else if (n->opset < 9 && lcv_attr_int(n, "spatial", 1) == 0)
        why = "spatial=0 (per-position statistics) is not supported for training";
    if (why)
        return lcv_fail(err, LCV_ERR_UNSUPPORTED, "node '%s' (%s) training: %s", n->name,
                        n->op_type, why);
    for (int i = 1; i < 5; i++) {
        const lcv_tensor *p = in[i];
        if (!p || !lcv_dtype_is_float(p->dtype) || (need_f32 && p->dtype != LCV_DTYPE_FLOAT32) ||
            p->ndim != 1 || p->dims[0] != x->dims[1])
            return lcv_fail(err, LCV_ERR_SHAPE, "node '%s' (%s) training: %s must be a float%s "
                            "tensor of shape [%lld]", n->name, n->op_type, bn_names[i],
                            need_f32 ? "32" : "", (long long)x->dims[1]);
    }
    return LCV_OK;
}

typedef struct bn_fwd_task {
    const lcv_tensor *x, *sc, *bias;
    lcv_tensor *y;
    int64_t N, C, S;
    double eps;
    double *stats; /* [3][C]: batch mean, 1/std, biased variance */
    const lcv_f32_sums *kern; /* the statistics sums for the ISA */
    bool relu;                /* write max(y, 0) (lcv_train_io.relu_after) */
} bn_fwd_task;

/* The affine map y = x * a + b that BatchNorm applies to a channel. */
static void bn_affine(double scale, double bias, double mean, double inv, double *a, double *b) {
    *a = scale * inv;
    *b = bias - mean * *a;
}

static void bn_fwd_channels(void *ctx, int64_t begin, int64_t end, int thread) {
    const bn_fwd_task *t = ctx;
    const lcv_tensor *x = t->x;
    bool f32 = x->dtype == LCV_DTYPE_FLOAT32 && t->y->dtype == LCV_DTYPE_FLOAT32;
    int64_t N = t->N, C = t->C, S = t->S;
    double cnt = (double)(N * S);
    for (int64_t ch = begin; ch < end; ch++) {
        double sum = 0, sq = 0;
        for (int64_t n = 0; n < N; n++) {
            int64_t base = (n * C + ch) * S;
            if (f32) {
                sum += t->kern->sum((const float *)x->data + base, S);
            } else {
                for (int64_t s = 0; s < S; s++) sum += lcv_load_f64(x->dtype, x->data, base + s);
            }
        }
        double m = sum / cnt;
        for (int64_t n = 0; n < N; n++) {
            int64_t base = (n * C + ch) * S;
            if (f32) {
                sq += t->kern->sumsq((const float *)x->data + base, S, m);
            } else {
                for (int64_t s = 0; s < S; s++) {
                    double d = lcv_load_f64(x->dtype, x->data, base + s) - m;
                    sq += d * d;
                }
            }
        }
        double v = sq / cnt, inv = 1.0 / sqrt(v + t->eps);
        double a, b;
        bn_affine(lcv_load_f64(t->sc->dtype, t->sc->data, ch),
                  lcv_load_f64(t->bias->dtype, t->bias->data, ch), m, inv, &a, &b);
        for (int64_t n = 0; n < N; n++) {
            int64_t base = (n * C + ch) * S;
            if (f32) { /* the same y = x * a + b in float as the inference kernel */
                const float *p = (const float *)x->data + base;
                float *q = (float *)t->y->data + base, fa = (float)a, fb = (float)b;
                if (t->relu) {
                    for (int64_t s = 0; s < S; s++) {
                        float y = lcv_affine_f32(p[s], fa, fb);
                        q[s] = y < 0.0f ? 0.0f : y; /* as Relu: NaN passes */
                    }
                } else {
                    for (int64_t s = 0; s < S; s++) q[s] = p[s] * fa + fb;
                }
            } else {
                for (int64_t s = 0; s < S; s++) {
                    double y = lcv_load_f64(x->dtype, x->data, base + s) * a + b;
                    lcv_store_f64(t->y->dtype, t->y->data, base + s,
                                  t->relu && y < 0.0 ? 0.0 : y);
                }
            }
        }
        t->stats[ch] = m;
        t->stats[C + ch] = inv;
        t->stats[2 * C + ch] = v;
    }
}

/* A running-statistics buffer the forward updates: float, C elements. */
static lcv_status bn_state(lcv_opctx *c, lcv_tensor *s, int i, int64_t C) {
    if (!s || (lcv_dtype_is_float(s->dtype) && lcv_tensor_count(s) == C && s->data)) return LCV_OK;
    return lcv_op_fail(c, LCV_ERR_SHAPE, "running %s buffer must be float with %lld elements",
                       i == 3 ? "mean" : "variance", (long long)C);
}

/* Batch statistics: y normalised with the biased batch variance; running = running * momentum
 * + batch * (1 - momentum) (ONNX's momentum), with the unbiased batch variance (PyTorch's
 * rule), written to the optional outputs 1, 2 and to t->state[3], t->state[4] when given.
 * saved[0] = float64 [3, C]: batch mean, 1/std, biased variance. */
lcv_status lcv_train_fwd_batchnorm(lcv_opctx *c, lcv_train_io *t) {
    lcv_status st = bn_check(c->node, c->in, c->err, false);
    if (st != LCV_OK) return st;
    const lcv_tensor *x = c->in[0], *rmean = c->in[3], *rvar = c->in[4];
    int64_t N = x->dims[0], C = x->dims[1], S = span(x, 2, x->ndim);
    if (N * S < 2)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "batch statistics need more than one value per "
                           "channel, X has shape [%lld, %lld, ...] (%lld per channel)",
                           (long long)N, (long long)C, (long long)(N * S));
    lcv_tensor *smean = t->state ? t->state[3] : NULL, *svar = t->state ? t->state[4] : NULL;
    if ((st = bn_state(c, smean, 3, C)) != LCV_OK || (st = bn_state(c, svar, 4, C)) != LCV_OK)
        return st;
    int64_t sdims[2] = {3, C};
    st = lcv_tensor_reshape_alloc(&t->saved[0], LCV_DTYPE_FLOAT64, 2, sdims, c->err);
    if (st != LCV_OK) return st;
    double eps = lcv_attr_float(c->node, "epsilon", 1e-5f);
    double mom = lcv_attr_float(c->node, "momentum", 0.9f);
    bn_fwd_task task = {x, c->in[1], c->in[2], c->out[0], N, C, S, eps, t->saved[0].data,
                        lcv_f32_sums_for(lcv_grad_isa()), t->relu_after};
    int64_t grain = 16384 / (N * S) + 1;
    lcv_threadpool_parallel_for(c->pool, C, grain, bn_fwd_channels, &task);
    lcv_tensor *om = c->n_out > 1 ? c->out[1] : NULL, *ov = c->n_out > 2 ? c->out[2] : NULL;
    double unbias = (double)(N * S) / (double)(N * S - 1);
    for (int64_t ch = 0; ch < C; ch++) {
        double m = task.stats[ch], v = task.stats[2 * C + ch] * unbias;
        double nm = lcv_load_f64(rmean->dtype, rmean->data, ch) * mom + m * (1.0 - mom);
        double nv = lcv_load_f64(rvar->dtype, rvar->data, ch) * mom + v * (1.0 - mom);
        if (om) lcv_store_f64(om->dtype, om->data, ch, nm);
        if (ov) lcv_store_f64(ov->dtype, ov->data, ch, nv);
        if (smean) lcv_store_f64(smean->dtype, smean->data, ch, nm);
        if (svar) lcv_store_f64(svar->dtype, svar->data, ch, nv);
    }
    return LCV_OK;
}

typedef struct bn_bwd_task {
    const float *x, *dy, *scale, *bias, *rmean, *rvar;
    const double *stats; /* training: saved [3][C]; NULL: inference statistics */
    float *dx, *dscale, *dbias, *dmean, *dvar;
    int64_t N, C, S;
    double eps;
    const lcv_f32_sums *kern; /* the statistics sums for the ISA */
    bool relu;                /* dy is the gradient of max(y, 0) (lcv_train_io.relu_after) */
} bn_bwd_task;

static void bn_bwd_channels(void *ctx, int64_t begin, int64_t end, int thread) {
    const bn_bwd_task *t = ctx;
    int64_t N = t->N, C = t->C, S = t->S;
    double cnt = (double)(N * S);
    for (int64_t ch = begin; ch < end; ch++) {
        double m, inv;
        if (t->stats) {
            m = t->stats[ch];
            inv = t->stats[C + ch];
        } else {
            m = t->rmean[ch];
            inv = 1.0 / sqrt((double)t->rvar[ch] + t->eps);
        }
        /* with a fused Relu, dy counts only where the forward's x * a + b was positive */
        double a = 0, b = 0;
        if (t->relu) bn_affine(t->scale[ch], t->bias[ch], m, inv, &a, &b);
        float fa = (float)a, fb = (float)b;
        double sdy = 0, sdyx = 0; /* sum dy, sum dy * x_hat */
        for (int64_t n = 0; n < N; n++) {
            const float *gp = t->dy + (n * C + ch) * S, *xp = t->x + (n * C + ch) * S;
            if (t->relu)
                t->kern->sum_gx_relu(gp, xp, S, m, fa, fb, &sdy, &sdyx);
            else
                t->kern->sum_gx(gp, xp, S, m, &sdy, &sdyx);
        }
        sdyx *= inv;
        double k = t->scale[ch] * inv;
        if (t->dscale) t->dscale[ch] = (float)sdyx;
        if (t->dbias) t->dbias[ch] = (float)sdy;
        if (t->dmean) t->dmean[ch] = t->stats ? 0.0f : (float)(-k * sdy);
        if (t->dvar) t->dvar[ch] = t->stats ? 0.0f : (float)(-0.5 * k * inv * sdyx);
        if (!t->dx) continue;
        /* training: the batch mean and variance depend on x too */
        double mdy = t->stats ? sdy / cnt : 0.0, mdyx = t->stats ? sdyx / cnt : 0.0;
        float fk = (float)k, fm = (float)m, finv = (float)inv, fmdy = (float)mdy;
        float fmdyx = (float)mdyx;
        for (int64_t n = 0; n < N; n++) {
            const float *xp = t->x + (n * C + ch) * S, *gp = t->dy + (n * C + ch) * S;
            float *dp = t->dx + (n * C + ch) * S;
            if (t->relu) {
                for (int64_t s = 0; s < S; s++) {
                    float g = gp[s]; /* read unconditionally, so that the loop vectorises */
                    g = lcv_relu_passes(xp[s], fa, fb) ? g : 0.0f;
                    dp[s] = fk * (g - fmdy - (xp[s] - fm) * finv * fmdyx);
                }
            } else {
                for (int64_t s = 0; s < S; s++)
                    dp[s] = fk * (gp[s] - fmdy - (xp[s] - fm) * finv * fmdyx);
            }
        }
    }
}

/* After the training forward (saved statistics present): the batch-statistics backward, and
 * the running-statistics inputs get zeros. Without it (the node ran its inference exec, e.g.
 * frozen BatchNorm): y = scale * (x - mean) / sqrt(var + eps) + B differentiated as written,
 * including mean and var. */
lcv_status lcv_grad_batchnorm(lcv_gradctx *c) {
    lcv_status st = bn_check(c->node, c->in, c->err, true);
    if (st != LCV_OK) return st;
    const lcv_tensor *x = c->in[0];
    int64_t N = x->dims[0], C = x->dims[1], S = span(x, 2, x->ndim);
    const lcv_train_io *t = c->train;
    bool train = t && t->saved[0].dtype == LCV_DTYPE_FLOAT64 && t->saved[0].ndim == 2 &&
                 t->saved[0].dims[0] == 3 && t->saved[0].dims[1] == C;
    bn_bwd_task task;
    memset(&task, 0, sizeof task);
    float *d[5];
    const float *dy;
    for (int i = 0; i < 5 && st == LCV_OK; i++) st = lcv_gradu_din(c, i, &d[i]);
    if (st == LCV_OK) st = lcv_gradu_dout(c, 0, &dy);
    if (st != LCV_OK) return st;
    if (!dy || N * S == 0) {
        for (int i = 0; i < 5; i++)
            if (d[i]) memset(d[i], 0, sizeof(float) * (size_t)lcv_tensor_count(c->in[i]));
        return LCV_OK;
    }
    task.x = x->data;
    task.dy = dy;
    task.scale = c->in[1]->data;
    task.bias = c->in[2]->data;
    task.relu = train && t->relu_after;
    task.rmean = c->in[3]->data;
    task.rvar = c->in[4]->data;
    task.stats = train ? t->saved[0].data : NULL;
    task.dx = d[0];
    task.dscale = d[1];
    task.dbias = d[2];
    task.dmean = d[3];
    task.dvar = d[4];
    task.N = N;
    task.C = C;
    task.S = S;
    task.eps = lcv_attr_float(c->node, "epsilon", 1e-5f);
    task.kern = lcv_f32_sums_for(lcv_grad_isa());
    lcv_threadpool_parallel_for(c->pool, C, 8192 / (N * S) + 1, bn_bwd_channels, &task);
    return LCV_OK;
}

/* ---- LayerNormalization ---- */

/* A parameter as LayerNorm broadcasts it to X: right-aligned, dims 1 or equal. `block`: it
 * only varies within the normalised block and has its size, so element j of a row is p[j]. */
static lcv_status ln_param(lcv_gradctx *c, const lcv_tensor *p, const char *what, int axis,
                           bool *block) {
    const lcv_tensor *x = c->in[0];
    bool ok = p->ndim <= x->ndim;
    for (int i = 0; ok && i < p->ndim; i++) {
        int64_t d = p->dims[p->ndim - 1 - i], xd = x->dims[x->ndim - 1 - i];
        ok = d == xd || d == 1;
    }
    if (!ok) {
        char a[128], b[128];
        return lcv_grad_fail(c, LCV_ERR_SHAPE, "%s shape %s does not broadcast to X shape %s",
                             what, lcv_shape_str(p->ndim, p->dims, a, sizeof a),
                             lcv_shape_str(x->ndim, x->dims, b, sizeof b));
    }
    *block = lcv_tensor_count(p) == span(x, axis, x->ndim);
    for (int i = 0; *block && i < p->ndim; i++)
        if (x->ndim - p->ndim + i < axis && p->dims[i] != 1) *block = false;
    return LCV_OK;
}

typedef struct ln_task {
    const lcv_tensor *xt, *st;
    const float *x, *dy, *dmean, *dinv, *s;
    float *dx, *xhat_dy; /* xhat_dy: dy * x_hat over X (for dScale), or NULL */
    int64_t n;
    double eps;
    bool sblock;
    int64_t xstrides[LCV_MAX_DIMS];
    const lcv_f32_sums *kern; /* the statistics sums for the ISA */
} ln_task;

static void ln_rows(void *ctx, int64_t begin, int64_t end, int thread) {
    const ln_task *t = ctx;
    int64_t n = t->n;
    for (int64_t r = begin; r < end; r++) {
        const float *xp = t->x + r * n, *gp = t->dy + r * n;
        double m = t->kern->sum(xp, n) / (double)n;
        double inv = 1.0 / sqrt(t->kern->sumsq(xp, n, m) / (double)n + t->eps);
        double sg = 0, sgx = 0; /* sum g, sum g * x_hat with g = dy * scale */
        for (int64_t j = 0; j < n; j++) {
            int64_t k = t->sblock ? j
                                  : lcv_broadcast_index(r * n + j, t->xt->ndim, t->xt->dims,
                                                        t->xstrides, t->st->ndim, t->st->dims);
            double xh = (xp[j] - m) * inv, g = (double)gp[j] * t->s[k];
            sg += g;
            sgx += g * xh;
            if (t->xhat_dy) t->xhat_dy[r * n + j] = (float)(gp[j] * xh);
        }
        if (!t->dx) continue;
        double dm = t->dmean ? t->dmean[r] : 0.0, di = t->dinv ? t->dinv[r] : 0.0;
        /* mean's slope is 1/n; 1/std's is -x_hat / (n std^2) */
        double c0 = -sg / (double)n * inv + dm / (double)n;
        double c1 = -sgx / (double)n * inv - di * inv * inv / (double)n;
        float *dp = t->dx + r * n;
        for (int64_t j = 0; j < n; j++) {
            int64_t k = t->sblock ? j
                                  : lcv_broadcast_index(r * n + j, t->xt->ndim, t->xt->dims,
                                                        t->xstrides, t->st->ndim, t->st->dims);
            double xh = (xp[j] - m) * inv;
            dp[j] = (float)(inv * gp[j] * t->s[k] + c0 + c1 * xh);
        }
    }
}

/* dX, dScale, dB; gradients reaching the optional Mean and InvStdDev outputs flow into dX. */
lcv_status lcv_grad_layernorm(lcv_gradctx *c) {
    const float *x, *s, *dy, *dmean = NULL, *dinv = NULL;
    float *dx, *ds, *db;
    lcv_status st = lcv_gradu_in(c, 0, &x);
    if (st == LCV_OK) st = lcv_gradu_in(c, 1, &s);
    if (st == LCV_OK && lcv_grad_input(c, 2)) {
        const float *b;
        st = lcv_gradu_in(c, 2, &b);
    }
    if (st == LCV_OK) st = lcv_gradu_dout(c, 0, &dy);
    if (st == LCV_OK && c->n_out > 1 && c->out[1]) st = lcv_gradu_dout(c, 1, &dmean);
    if (st == LCV_OK && c->n_out > 2 && c->out[2]) st = lcv_gradu_dout(c, 2, &dinv);
    if (st == LCV_OK) st = lcv_gradu_din(c, 0, &dx);
    if (st == LCV_OK) st = lcv_gradu_din(c, 1, &ds);
    if (st == LCV_OK) st = lcv_gradu_din(c, 2, &db);
    if (st != LCV_OK) return st;
    const lcv_tensor *xt = c->in[0], *sct = c->in[1], *bt = lcv_grad_input(c, 2);
    int axis;
    int64_t ax = lcv_attr_int(c->node, "axis", -1);
    if (ax < -xt->ndim || ax >= xt->ndim)
        return lcv_grad_fail(c, LCV_ERR_SHAPE, "axis %lld is out of range for rank %d",
                             (long long)ax, xt->ndim);
    axis = (int)(ax < 0 ? ax + xt->ndim : ax);
    bool sblock = false, bblock = false;
    if ((st = ln_param(c, sct, "Scale", axis, &sblock)) != LCV_OK) return st;
    if (bt && (st = ln_param(c, bt, "B", axis, &bblock)) != LCV_OK) return st;
    int64_t outer = span(xt, 0, axis), n = span(xt, axis, xt->ndim), nx = outer * n;
    int64_t nmean = c->n_out > 1 && c->out[1] ? lcv_tensor_count(c->out[1]) : outer;
    int64_t ninv = c->n_out > 2 && c->out[2] ? lcv_tensor_count(c->out[2]) : outer;
    if (nmean != outer || ninv != outer)
        return lcv_grad_fail(c, LCV_ERR_SHAPE, "Mean/InvStdDev outputs must have %lld elements",
                             (long long)outer);
    if (db) {
        if (dy) st = lcv_gradu_sum_to(c, dy, xt->ndim, xt->dims, db, bt->ndim, bt->dims);
        else memset(db, 0, sizeof(float) * (size_t)lcv_tensor_count(bt));
        if (st != LCV_OK) return st;
    }
    if (!dx && !ds) return LCV_OK;
    if (nx == 0 || (!dy && !dmean && !dinv)) {
        if (dx) memset(dx, 0, sizeof(float) * (size_t)nx);
        if (ds) memset(ds, 0, sizeof(float) * (size_t)lcv_tensor_count(sct));
        return LCV_OK;
    }
    /* dy == NULL with Mean/InvStdDev gradients: a zero dy keeps one code path */
    lcv_gradu_buf buf = {0};
    size_t need = (ds ? (size_t)nx : 0) + (dy ? 0 : (size_t)nx);
    if (need && (st = lcv_gradu_buf_get(c, need * sizeof(float), &buf)) != LCV_OK) return st;
    float *mem = buf.data;
    ln_task t;
    memset(&t, 0, sizeof t);
    t.xt = xt;
    t.st = sct;
    t.x = x;
    t.s = s;
    t.dmean = dmean;
    t.dinv = dinv;
    t.dx = dx;
    t.n = n;
    t.eps = lcv_attr_float(c->node, "epsilon", 1e-5f);
    t.sblock = sblock;
    lcv_shape_strides(xt->ndim, xt->dims, t.xstrides);
    if (ds) {
        t.xhat_dy = mem;
        mem += nx;
    }
    if (!dy) {
        memset(mem, 0, sizeof(float) * (size_t)nx);
        dy = mem;
    }
    t.dy = dy;
    t.kern = lcv_f32_sums_for(lcv_grad_isa());
    lcv_threadpool_parallel_for(c->pool, outer, 8192 / n + 1, ln_rows, &t);
    if (ds) st = lcv_gradu_sum_to(c, t.xhat_dy, xt->ndim, xt->dims, ds, sct->ndim, sct->dims);
    lcv_gradu_buf_free(&buf);
    return st;
}

/* ---- InstanceNormalization ---- */

typedef struct in_task {
    const float *x, *dy, *scale;
    float *dx;
    double *sums; /* per plane: sum dy, sum dy * x_hat */
    int64_t C, S;
    double eps;
    const lcv_f32_sums *kern; /* the statistics sums for the ISA */
} in_task;

static void in_planes(void *ctx, int64_t begin, int64_t end, int thread) {
    const in_task *t = ctx;
    int64_t S = t->S;
    for (int64_t pl = begin; pl < end; pl++) {
        const float *xp = t->x + pl * S, *gp = t->dy + pl * S;
        double m = t->kern->sum(xp, S) / (double)S;
        double inv = 1.0 / sqrt(t->kern->sumsq(xp, S, m) / (double)S + t->eps);
        double sdy = 0, sdyx = 0;
        t->kern->sum_gx(gp, xp, S, m, &sdy, &sdyx);
        sdyx *= inv;
        t->sums[2 * pl] = sdy;
        t->sums[2 * pl + 1] = sdyx;
        if (!t->dx) continue;
        double k = t->scale[pl % t->C] * inv;
        float fk = (float)k, fm = (float)m, finv = (float)inv;
        float mdy = (float)(sdy / (double)S), mdyx = (float)(sdyx / (double)S);
        float *dp = t->dx + pl * S;
        for (int64_t j = 0; j < S; j++) dp[j] = fk * (gp[j] - mdy - (xp[j] - fm) * finv * mdyx);
    }
}

lcv_status lcv_grad_instancenorm(lcv_gradctx *c) {
    const float *x, *s, *b, *dy;
    float *dx, *ds, *db;
    lcv_status st = lcv_gradu_in(c, 0, &x);
    if (st == LCV_OK) st = lcv_gradu_in(c, 1, &s);
    if (st == LCV_OK) st = lcv_gradu_in(c, 2, &b);
    if (st == LCV_OK) st = lcv_gradu_dout(c, 0, &dy);
    if (st == LCV_OK) st = lcv_gradu_din(c, 0, &dx);
    if (st == LCV_OK) st = lcv_gradu_din(c, 1, &ds);
    if (st == LCV_OK) st = lcv_gradu_din(c, 2, &db);
    if (st != LCV_OK) return st;
    const lcv_tensor *xt = c->in[0];
    if (xt->ndim < 2)
        return lcv_grad_fail(c, LCV_ERR_SHAPE, "input must have rank >= 2, got %d", xt->ndim);
    int64_t N = xt->dims[0], C = xt->dims[1], S = span(xt, 2, xt->ndim);
    for (int i = 1; i < 3; i++)
        if (c->in[i]->ndim != 1 || c->in[i]->dims[0] != C)
            return lcv_grad_fail(c, LCV_ERR_SHAPE, "%s must have shape [%lld]",
                                 i == 1 ? "scale" : "B", (long long)C);
    if (!dy || N * C * S == 0) {
        if (dx) memset(dx, 0, sizeof(float) * (size_t)(N * C * S));
        if (ds) memset(ds, 0, sizeof(float) * (size_t)C);
        if (db) memset(db, 0, sizeof(float) * (size_t)C);
        return LCV_OK;
    }
    lcv_gradu_buf buf;
    if ((st = lcv_gradu_buf_get(c, sizeof(double) * 2 * (size_t)(N * C), &buf)) != LCV_OK)
        return st;
    in_task t = {x, dy, s, dx, buf.data, C, S, lcv_attr_float(c->node, "epsilon", 1e-5f),
                 lcv_f32_sums_for(lcv_grad_isa())};
    lcv_threadpool_parallel_for(c->pool, N * C, 8192 / S + 1, in_planes, &t);
    for (int64_t ch = 0; ch < C; ch++) {
        double sdy = 0, sdyx = 0;
        for (int64_t n = 0; n < N; n++) {
            sdy += t.sums[2 * (n * C + ch)];
            sdyx += t.sums[2 * (n * C + ch) + 1];
        }
        if (ds) ds[ch] = (float)sdyx;
        if (db) db[ch] = (float)sdy;
    }
    lcv_gradu_buf_free(&buf);
    return LCV_OK;
}
