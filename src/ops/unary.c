/* unary.c - one-input elementwise ops: math functions, Clip, Identity, Dropout (inference),
 * Not, BitwiseNot, IsNaN/IsInf, plus the shared "output = input's dtype and shape" infer and
 * the dtype-class helpers of eltwise.h. Activations with attributes live in activation.c.
 * Every op has a double reference path; integers that must stay exact go through int64, and
 * the float32 ops common in real models have typed loops. */
#include <math.h>
#include <string.h>

#include "../core/threadpool.h"
#include "eltwise.h"

/* ---- dtype classes (eltwise.h) ---- */

unsigned lcv_eltwise_class(lcv_dtype d) {
    if (lcv_dtype_is_float(d)) return LCV_DT_FLOAT;
    if (d == LCV_DTYPE_BOOL) return LCV_DT_BOOL;
    if (lcv_dtype_is_int(d)) return lcv_dtype_is_signed(d) ? LCV_DT_SINT : LCV_DT_UINT;
    return 0;
}

static const char *class_words(unsigned allowed) {
    switch (allowed) {
    case LCV_DT_FLOAT: return "a floating-point dtype";
    case LCV_DT_BOOL: return "bool";
    case LCV_DT_INT: return "an integer dtype";
    case LCV_DT_UINT: return "an unsigned integer dtype";
    case LCV_DT_NUM: return "a numeric dtype (not bool)";
    case LCV_DT_FLOAT | LCV_DT_SINT: return "a floating-point or signed integer dtype";
    default: return "a numeric or bool dtype";
    }
}

lcv_status lcv_eltwise_need(lcv_opctx *c, const lcv_tensor *t, int idx, unsigned allowed) {
    if (lcv_eltwise_class(t->dtype) & allowed) return LCV_OK;
    lcv_status st = t->dtype == LCV_DTYPE_STRING ? LCV_ERR_UNSUPPORTED : LCV_ERR_SHAPE;
    return lcv_op_fail(c, st, "input %d has dtype %s; expected %s", idx, lcv_dtype_name(t->dtype),
                       class_words(allowed));
}

/* ---- the unary driver ---- */

/* Elements per thread chunk: enough work (tens of microseconds) to hide the hand-off. */
#define UNARY_GRAIN 16384

/* The float32 loop split over the flat index range: elementwise, so any split gives the same
 * bits. */
typedef struct unary_task {
    const lcv_unary_op *u;
    const lcv_unary_params *p;
    const float *x;
    float *y;
} unary_task;

static void unary_f32_range(void *ctx, int64_t begin, int64_t end, int thread) {
    const unary_task *t = ctx;
    t->u->f32(t->x + begin, t->y + begin, end - begin, t->p);
}

lcv_status lcv_unary_run(lcv_opctx *c, const lcv_unary_op *u, const lcv_unary_params *p) {
    const lcv_tensor *x = c->in[0];
    lcv_tensor *y = c->out[0];
    int64_t n = lcv_tensor_count(x);
    lcv_dtype d = x->dtype, od = y->dtype;
    if (d == LCV_DTYPE_FLOAT32 && od == LCV_DTYPE_FLOAT32 && u->f32) {
        unary_task t = {u, p, x->data, y->data};
        lcv_threadpool_parallel_for(c->pool, n, UNARY_GRAIN, unary_f32_range, &t);
    } else if (lcv_dtype_is_float(d) || !u->fi) {
        for (int64_t i = 0; i < n; i++)
            lcv_store_f64(od, y->data, i, u->f(lcv_load_f64(d, x->data, i), p));
    } else {
        bool uns = lcv_eltwise_class(d) == LCV_DT_UINT;
        for (int64_t i = 0; i < n; i++)
            lcv_store_i64(od, y->data, i, u->fi(lcv_load_i64(d, x->data, i), uns, p));
    }
    return LCV_OK;
}

/* ---- infer ---- */

/* Which dtype classes each op accepts. Ops of other files that share lcv_infer_unary
 * (the normalisations) are float-only in ONNX. */
static unsigned unary_allowed(int op) {
    switch (op) {
    case LCV_OP_Abs:
    case LCV_OP_Sign:
    case LCV_OP_Erf:
    case LCV_OP_Shrink:
    case LCV_OP_Clip:
    case LCV_OP_Relu: return LCV_DT_NUM;
    case LCV_OP_Neg: return LCV_DT_FLOAT | LCV_DT_SINT;
    case LCV_OP_BitwiseNot: return LCV_DT_INT;
    case LCV_OP_Identity: return LCV_DT_ANY;
    default: return LCV_DT_FLOAT;
    }
}

/* Clip's bounds: attributes before opset 11, optional scalar inputs of X's dtype from 11. */
static lcv_status check_clip(lcv_opctx *c) {
    if (c->node->opset < 11) {
        for (int i = 1; i < c->n_in; i++)
            if (c->in[i])
                return lcv_op_fail(c, LCV_ERR_SHAPE,
                                   "takes min/max as attributes before opset 11, not inputs");
        if (!lcv_dtype_is_float(c->in[0]->dtype))
            return lcv_eltwise_need(c, c->in[0], 0, LCV_DT_FLOAT);
        return LCV_OK;
    }
    for (int i = 1; i < c->n_in && i < 3; i++) {
        const lcv_tensor *t = c->in[i];
        if (!t) continue;
        if (t->dtype != c->in[0]->dtype)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "%s has dtype %s but input has %s",
                               i == 1 ? "min" : "max", lcv_dtype_name(t->dtype),
                               lcv_dtype_name(c->in[0]->dtype));
        if (lcv_tensor_count(t) != 1)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "%s must be a scalar, has %lld elements",
                               i == 1 ? "min" : "max", (long long)lcv_tensor_count(t));
    }
    return LCV_OK;
}

lcv_status lcv_infer_unary(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0];
    lcv_status st = lcv_eltwise_need(c, x, 0, unary_allowed(c->node->op));
    if (st != LCV_OK) return st;
    if (c->node->op == LCV_OP_Clip && (st = check_clip(c)) != LCV_OK) return st;
    if ((st = lcv_activation_check(c)) != LCV_OK) return st;
    lcv_op_set_out(c, 0, x->dtype, x->ndim, x->dims);
    return LCV_OK;
}

/* ---- math functions ---- */

#define F64_FN(name, expr)                                                                        \
    static double name(double x, const lcv_unary_params *p) {                                    \
        (void)p;                                                                                  \
        return (expr);                                                                            \
    }

#define F32_LOOP(name, expr)                                                                      \
    static void name(const float *xs, float *ys, int64_t n, const lcv_unary_params *p) {         \
        (void)p;                                                                                  \
        for (int64_t i = 0; i < n; i++) {                                                         \
            float x = xs[i];                                                                      \
            ys[i] = (expr);                                                                       \
        }                                                                                         \
    }

/* Half to even independent of the floating-point environment's rounding mode. */
static double round_even(double x) {
    double r = floor(x), d = x - r;
    if (d > 0.5 || (d == 0.5 && fmod(r, 2.0) != 0.0)) r += 1.0;
    return copysign(r, x);
}

static double sigmoid(double x) {
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

static float sigmoidf(float x) {
    if (x >= 0) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

/* tanh through one expm1f: about twice as fast as libm's tanhf, within 2 ulp, and free of
 * cancellation near 0 (expm1 is accurate there) and of overflow for large |x|. */
static float tanh_fast(float x) {
    float t = expm1f(-2.0f * fabsf(x));
    return copysignf(-t / (t + 2.0f), x);
}

F64_FN(f_abs, fabs(x))
F64_FN(f_neg, -x)
F64_FN(f_exp, exp(x))
F64_FN(f_log, log(x))
F64_FN(f_sqrt, sqrt(x))
F64_FN(f_recip, 1.0 / x)
F64_FN(f_floor, floor(x))
F64_FN(f_ceil, ceil(x))
F64_FN(f_round, round_even(x))
F64_FN(f_sign, x > 0 ? 1.0 : x < 0 ? -1.0 : x)
F64_FN(f_sin, sin(x))
F64_FN(f_cos, cos(x))
F64_FN(f_tan, tan(x))
F64_FN(f_asin, asin(x))
F64_FN(f_acos, acos(x))
F64_FN(f_atan, atan(x))
F64_FN(f_sinh, sinh(x))
F64_FN(f_cosh, cosh(x))
F64_FN(f_asinh, asinh(x))
F64_FN(f_acosh, acosh(x))
F64_FN(f_atanh, atanh(x))
F64_FN(f_tanh, tanh(x))
F64_FN(f_sigmoid, sigmoid(x))
F64_FN(f_relu, x < 0 ? 0.0 : x)
F64_FN(f_erf, erf(x))
F64_FN(f_bnot, x)

F32_LOOP(g_abs, fabsf(x))
F32_LOOP(g_neg, -x)
F32_LOOP(g_exp, expf(x))
F32_LOOP(g_sqrt, sqrtf(x))
F32_LOOP(g_tanh, tanh_fast(x))
F32_LOOP(g_sigmoid, sigmoidf(x))
F32_LOOP(g_relu, x < 0.0f ? 0.0f : x)
F32_LOOP(g_erf, erff(x))

/* integer paths: wrap-around negation avoids the undefined -INT64_MIN */
static int64_t i_abs(int64_t x, bool uns, const lcv_unary_params *p) {
    (void)p;
    return (uns || x >= 0) ? x : (int64_t)(0 - (uint64_t)x);
}
static int64_t i_neg(int64_t x, bool uns, const lcv_unary_params *p) {
    (void)p;
    (void)uns;
    return (int64_t)(0 - (uint64_t)x);
}
static int64_t i_sign(int64_t x, bool uns, const lcv_unary_params *p) {
    (void)p;
    if (uns) return x != 0;
    return x > 0 ? 1 : x < 0 ? -1 : 0;
}
static int64_t i_relu(int64_t x, bool uns, const lcv_unary_params *p) {
    (void)p;
    return (!uns && x < 0) ? 0 : x;
}
static int64_t i_bnot(int64_t x, bool uns, const lcv_unary_params *p) {
    (void)p;
    (void)uns;
    return ~x;
}

#define EXEC_UNARY(opname, f, fi, f32)                                                            \
    lcv_status lcv_exec_##opname(lcv_opctx *c) {                                                 \
        static const lcv_unary_op u = {f, fi, f32};                                               \
        lcv_unary_params p;                                                                       \
        memset(&p, 0, sizeof p);                                                                  \
        return lcv_unary_run(c, &u, &p);                                                          \
    }

EXEC_UNARY(abs, f_abs, i_abs, g_abs)
EXEC_UNARY(neg, f_neg, i_neg, g_neg)
EXEC_UNARY(exp, f_exp, NULL, g_exp)
EXEC_UNARY(log, f_log, NULL, NULL)
EXEC_UNARY(sqrt, f_sqrt, NULL, g_sqrt)
EXEC_UNARY(reciprocal, f_recip, NULL, NULL)
EXEC_UNARY(floor, f_floor, NULL, NULL)
EXEC_UNARY(ceil, f_ceil, NULL, NULL)
EXEC_UNARY(round, f_round, NULL, NULL)
EXEC_UNARY(sign, f_sign, i_sign, NULL)
EXEC_UNARY(sin, f_sin, NULL, NULL)
EXEC_UNARY(cos, f_cos, NULL, NULL)
EXEC_UNARY(tan, f_tan, NULL, NULL)
EXEC_UNARY(asin, f_asin, NULL, NULL)
EXEC_UNARY(acos, f_acos, NULL, NULL)
EXEC_UNARY(atan, f_atan, NULL, NULL)
EXEC_UNARY(sinh, f_sinh, NULL, NULL)
EXEC_UNARY(cosh, f_cosh, NULL, NULL)
EXEC_UNARY(asinh, f_asinh, NULL, NULL)
EXEC_UNARY(acosh, f_acosh, NULL, NULL)
EXEC_UNARY(atanh, f_atanh, NULL, NULL)
EXEC_UNARY(tanh, f_tanh, NULL, g_tanh)
EXEC_UNARY(sigmoid, f_sigmoid, NULL, g_sigmoid)
EXEC_UNARY(relu, f_relu, i_relu, g_relu)
EXEC_UNARY(erf, f_erf, NULL, g_erf)
EXEC_UNARY(bitwise_not, f_bnot, i_bnot, NULL)

lcv_status lcv_exec_identity(lcv_opctx *c) {
    size_t nb = lcv_dtype_size(c->in[0]->dtype) * (size_t)lcv_tensor_count(c->in[0]);
    if (nb && c->out[0]->data != c->in[0]->data) memcpy(c->out[0]->data, c->in[0]->data, nb);
    return LCV_OK;
}

/* ---- Dropout (inference only) ---- */

/* Training-mode dropout is random and belongs to training; it is refused once the data show
 * that it would actually drop something. Returns LCV_OK while the data are unknown. */
static lcv_status dropout_check(lcv_opctx *c) {
    const lcv_tensor *ratio = lcv_op_input(c, 1), *train = lcv_op_input(c, 2);
    if (c->node->opset < 12 && (ratio || train))
        return lcv_op_fail(c, LCV_ERR_SHAPE, "takes one input before opset 12, got more");
    if (ratio) {
        lcv_status st = lcv_eltwise_need(c, ratio, 1, LCV_DT_FLOAT);
        if (st != LCV_OK) return st;
        if (lcv_tensor_count(ratio) != 1)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "ratio must be a scalar, has %lld elements",
                               (long long)lcv_tensor_count(ratio));
    }
    if (!train) return LCV_OK;
    lcv_status st = lcv_eltwise_need(c, train, 2, LCV_DT_BOOL);
    if (st != LCV_OK) return st;
    if (lcv_tensor_count(train) != 1)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "training_mode must be a scalar, has %lld elements",
                           (long long)lcv_tensor_count(train));
    if (!train->data || !((const uint8_t *)train->data)[0]) return LCV_OK;
    if (ratio && !ratio->data) return LCV_OK;
    double r = ratio ? lcv_load_f64(ratio->dtype, ratio->data, 0) : 0.5;
    if (r != 0.0)
        return lcv_op_fail(c, LCV_ERR_UNSUPPORTED,
                           "training_mode is true with ratio %g: random dropout (training) is not "
                           "supported, only inference",
                           r);
    return LCV_OK;
}

lcv_status lcv_infer_dropout(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0];
    lcv_status st = lcv_eltwise_need(c, x, 0, LCV_DT_FLOAT);
    if (st != LCV_OK) return st;
    if ((st = dropout_check(c)) != LCV_OK) return st;
    lcv_op_set_out(c, 0, x->dtype, x->ndim, x->dims);
    /* the mask became bool in opset 10; before it had X's type */
    if (c->n_out > 1 && c->out[1])
        lcv_op_set_out(c, 1, c->node->opset >= 10 ? LCV_DTYPE_BOOL : x->dtype, x->ndim, x->dims);
    return LCV_OK;
}

lcv_status lcv_exec_dropout(lcv_opctx *c) {
    lcv_status st = dropout_check(c);
    if (st != LCV_OK) return st;
    st = lcv_exec_identity(c);
    if (st != LCV_OK || c->n_out < 2 || !c->out[1]) return st;
    lcv_tensor *m = c->out[1];
    int64_t n = lcv_tensor_count(m);
    for (int64_t i = 0; i < n; i++) lcv_store_f64(m->dtype, m->data, i, 1.0);
    return LCV_OK;
}

/* ---- Not, IsNaN, IsInf ---- */

lcv_status lcv_infer_not(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0];
    lcv_status st = lcv_eltwise_need(c, x, 0, LCV_DT_BOOL);
    if (st != LCV_OK) return st;
    lcv_op_set_out(c, 0, LCV_DTYPE_BOOL, x->ndim, x->dims);
    return LCV_OK;
}

lcv_status lcv_exec_not(lcv_opctx *c) {
    const uint8_t *x = c->in[0]->data;
    uint8_t *y = c->out[0]->data;
    int64_t n = lcv_tensor_count(c->in[0]);
    for (int64_t i = 0; i < n; i++) y[i] = !x[i];
    return LCV_OK;
}

lcv_status lcv_infer_isnan(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0];
    lcv_status st = lcv_eltwise_need(c, x, 0, LCV_DT_FLOAT);
    if (st != LCV_OK) return st;
    lcv_op_set_out(c, 0, LCV_DTYPE_BOOL, x->ndim, x->dims);
    return LCV_OK;
}

lcv_status lcv_exec_isnan(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0];
    uint8_t *y = c->out[0]->data;
    int64_t n = lcv_tensor_count(x);
    for (int64_t i = 0; i < n; i++) {
        double v = lcv_load_f64(x->dtype, x->data, i);
        y[i] = v != v;
    }
    return LCV_OK;
}

lcv_status lcv_exec_isinf(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0];
    bool neg = lcv_attr_int(c->node, "detect_negative", 1) != 0;
    bool pos = lcv_attr_int(c->node, "detect_positive", 1) != 0;
    uint8_t *y = c->out[0]->data;
    int64_t n = lcv_tensor_count(x);
    for (int64_t i = 0; i < n; i++) {
        double v = lcv_load_f64(x->dtype, x->data, i);
        y[i] = (pos && v == INFINITY) || (neg && v == -INFINITY);
    }
    return LCV_OK;
}
