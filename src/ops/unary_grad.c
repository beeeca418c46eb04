/* unary_grad.c - backward of the math ops of unary.c (Relu, Sigmoid, Tanh, Erf, Exp, Log, Sqrt,
 * Neg, Abs, Reciprocal, Identity) and Dropout's training forward and backward. Derivatives
 * that are cheaper from the output than from the input use the forward's output (sigmoid,
 * tanh, exp, sqrt, reciprocal). At kinks the choice matches PyTorch (Relu and Abs pass
 * nothing at 0). */
#include <math.h>
#include <string.h>

#include "../core/threadpool.h"
#include "grad_util.h"

/* ---- elementwise math ---- */

#define UNARY_GRAD(name, expr)                                                                    \
    static void name(const float *xs, const float *ys, const float *dys, float *dxs, int64_t n,  \
                     const float *p) {                                                            \
        (void)p;                                                                                  \
        for (int64_t i = 0; i < n; i++) {                                                         \
            float x = xs[i], y = ys[i], dy = dys[i];                                              \
            (void)x;                                                                              \
            (void)y;                                                                              \
            dxs[i] = (expr);                                                                      \
        }                                                                                         \
    }

/* 2 / sqrt(pi): d erf(x) / dx = 2/sqrt(pi) * exp(-x^2) */
#define TWO_OVER_SQRT_PI 1.1283791670955126f

UNARY_GRAD(g_relu, x > 0.0f ? dy : 0.0f)
UNARY_GRAD(g_sigmoid, dy * y * (1.0f - y))
UNARY_GRAD(g_tanh, dy * (1.0f - y * y))
UNARY_GRAD(g_erf, dy * TWO_OVER_SQRT_PI * expf(-x * x))
UNARY_GRAD(g_exp, dy * y)
UNARY_GRAD(g_log, dy / x)
UNARY_GRAD(g_sqrt, dy * 0.5f / y)
UNARY_GRAD(g_neg, -dy)
UNARY_GRAD(g_abs, x > 0.0f ? dy : x < 0.0f ? -dy : 0.0f)
UNARY_GRAD(g_reciprocal, -dy * y * y)
UNARY_GRAD(g_identity, dy)

lcv_status lcv_grad_relu(lcv_gradctx *c) { return lcv_gradu_unary(c, g_relu, NULL); }
lcv_status lcv_grad_sigmoid(lcv_gradctx *c) { return lcv_gradu_unary(c, g_sigmoid, NULL); }
lcv_status lcv_grad_tanh(lcv_gradctx *c) { return lcv_gradu_unary(c, g_tanh, NULL); }
lcv_status lcv_grad_erf(lcv_gradctx *c) { return lcv_gradu_unary(c, g_erf, NULL); }
lcv_status lcv_grad_exp(lcv_gradctx *c) { return lcv_gradu_unary(c, g_exp, NULL); }
lcv_status lcv_grad_log(lcv_gradctx *c) { return lcv_gradu_unary(c, g_log, NULL); }
lcv_status lcv_grad_sqrt(lcv_gradctx *c) { return lcv_gradu_unary(c, g_sqrt, NULL); }
lcv_status lcv_grad_neg(lcv_gradctx *c) { return lcv_gradu_unary(c, g_neg, NULL); }
lcv_status lcv_grad_abs(lcv_gradctx *c) { return lcv_gradu_unary(c, g_abs, NULL); }
lcv_status lcv_grad_reciprocal(lcv_gradctx *c) { return lcv_gradu_unary(c, g_reciprocal, NULL); }
lcv_status lcv_grad_identity(lcv_gradctx *c) { return lcv_gradu_unary(c, g_identity, NULL); }

/* ---- Dropout ---- */

/* The mask is a pure function of (seed, element index): a counter-based stream, so any split
 * of the work over threads draws the same mask, and the same seed repeats it exactly. The
 * mixer is the splitmix64 finaliser (Steele, Lea and Flood, "Fast splittable pseudorandom
 * number generators", OOPSLA 2014; constants as published by S. Vigna). */
static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Element i is kept when its 24-bit uniform draw is >= threshold = round(ratio * 2^24). */
static bool dropout_keep(uint64_t seed, int64_t i, uint32_t threshold) {
    uint64_t u = mix64(seed + (uint64_t)(i + 1) * 0x9E3779B97F4A7C15ULL) >> 40;
    return u >= threshold;
}

/* The drop ratio (attribute before opset 12, else input 1; default 0.5) and whether the node
 * drops at all: an explicit training_mode input that is false (or is_test before opset 7)
 * makes it the identity even while training. */
static lcv_status dropout_params(lcv_opctx *c, double *ratio, bool *active) {
    const lcv_node *n = c->node;
    *ratio = 0.5;
    *active = true;
    if (n->opset < 12) {
        *ratio = lcv_attr_float(n, "ratio", 0.5f);
        if (n->opset < 7 && lcv_attr_int(n, "is_test", 0) != 0) *active = false;
    } else {
        const lcv_tensor *r = lcv_op_input(c, 1), *tm = lcv_op_input(c, 2);
        if (r) {
            if (!lcv_dtype_is_float(r->dtype) || lcv_tensor_count(r) != 1 || !r->data)
                return lcv_op_fail(c, LCV_ERR_SHAPE, "ratio must be one float value");
            *ratio = lcv_load_f64(r->dtype, r->data, 0);
        }
        if (tm) {
            if (tm->dtype != LCV_DTYPE_BOOL || lcv_tensor_count(tm) != 1 || !tm->data)
                return lcv_op_fail(c, LCV_ERR_SHAPE, "training_mode must be one bool value");
            if (!((const uint8_t *)tm->data)[0]) *active = false;
        }
    }
    if (!(*ratio >= 0.0 && *ratio <= 1.0))
        return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "ratio %g is outside [0, 1]", *ratio);
    return LCV_OK;
}

typedef struct drop_task {
    uint64_t seed;
    uint32_t threshold;
    bool active;
    float scale;
    const float *x;
    float *y;
    uint8_t *mask;
} drop_task;

static void drop_range(void *ctx, int64_t begin, int64_t end, int thread) {
    const drop_task *t = ctx;
    for (int64_t i = begin; i < end; i++) {
        bool k = !t->active || dropout_keep(t->seed, i, t->threshold);
        t->mask[i] = k;
        t->y[i] = k ? t->x[i] * t->scale : 0.0f;
    }
}

/* saved[0]: the mask (uint8, X's shape); saved[1]: the scale applied to kept elements. */
lcv_status lcv_train_fwd_dropout(lcv_opctx *c, lcv_train_io *t) {
    const lcv_tensor *x = c->in[0];
    lcv_tensor *y = c->out[0];
    if (!lcv_dtype_is_float(x->dtype) || y->dtype != x->dtype)
        return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "training forward needs float data, got %s",
                           lcv_dtype_name(x->dtype));
    double ratio;
    bool active;
    lcv_status st = dropout_params(c, &ratio, &active);
    if (st != LCV_OK) return st;
    if (!active) ratio = 0.0;
    double scale = ratio < 1.0 ? 1.0 / (1.0 - ratio) : 0.0;
    static const int64_t one = 1;
    st = lcv_tensor_reshape_alloc(&t->saved[0], LCV_DTYPE_UINT8, x->ndim, x->dims, c->err);
    if (st == LCV_OK)
        st = lcv_tensor_reshape_alloc(&t->saved[1], LCV_DTYPE_FLOAT32, 1, &one, c->err);
    if (st != LCV_OK) return st;
    ((float *)t->saved[1].data)[0] = (float)scale;
    int64_t n = lcv_tensor_count(x);
    drop_task dt = {t->seed, (uint32_t)llround(ratio * 16777216.0), active && ratio > 0.0,
                    (float)scale, x->data, y->data, t->saved[0].data};
    if (x->dtype == LCV_DTYPE_FLOAT32) {
        lcv_threadpool_parallel_for(c->pool, n, LCV_GRADU_GRAIN, drop_range, &dt);
    } else { /* float64 and the half types: finite-difference checks, not training speed */
        for (int64_t i = 0; i < n; i++) {
            bool k = !dt.active || dropout_keep(dt.seed, i, dt.threshold);
            dt.mask[i] = k;
            lcv_store_f64(y->dtype, y->data, i, k ? lcv_load_f64(x->dtype, x->data, i) * scale : 0);
        }
    }
    lcv_tensor *m = c->n_out > 1 ? c->out[1] : NULL;
    for (int64_t i = 0; m && i < n; i++) lcv_store_f64(m->dtype, m->data, i, dt.mask[i]);
    return LCV_OK;
}

typedef struct drop_grad_task {
    const uint8_t *mask;
    float scale;
    const float *dy;
    float *dx;
} drop_grad_task;

static void drop_grad_range(void *ctx, int64_t begin, int64_t end, int thread) {
    const drop_grad_task *t = ctx;
    for (int64_t i = begin; i < end; i++) t->dx[i] = t->mask[i] ? t->dy[i] * t->scale : 0.0f;
}

/* With the training forward's mask: dX = dY * mask * scale. Without one (the node ran its
 * inference exec, which is the identity): dX = dY. Ratio and training_mode get zeros. */
lcv_status lcv_grad_dropout(lcv_gradctx *c) {
    lcv_status st = lcv_gradu_din_zero(c, 1);
    if (st != LCV_OK) return st;
    const lcv_train_io *t = c->train;
    int64_t n = lcv_tensor_count(c->in[0]);
    bool have = t && t->saved[0].dtype == LCV_DTYPE_UINT8 && lcv_tensor_count(&t->saved[0]) == n &&
                t->saved[1].dtype == LCV_DTYPE_FLOAT32 && lcv_tensor_count(&t->saved[1]) == 1;
    if (!have) return lcv_gradu_unary(c, g_identity, NULL);
    const float *dy;
    float *dx;
    st = lcv_gradu_dout(c, 0, &dy);
    if (st == LCV_OK) st = lcv_gradu_din(c, 0, &dx);
    if (st != LCV_OK || !dx) return st;
    if (!dy) {
        memset(dx, 0, sizeof(float) * (size_t)n);
        return LCV_OK;
    }
    drop_grad_task g = {t->saved[0].data, ((const float *)t->saved[1].data)[0], dy, dx};
    lcv_threadpool_parallel_for(c->pool, n, LCV_GRADU_GRAIN, drop_grad_range, &g);
    return LCV_OK;
}
