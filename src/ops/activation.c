/* activation.c - elementwise activations that take attributes or bounds: Softplus, Softsign,
 * HardSwish, HardSigmoid, Mish, Elu, Selu, Celu, LeakyRelu, ThresholdedRelu, Shrink, Clip.
 * Attribute defaults follow the ONNX spec; float32 has typed loops for the ops found in
 * real CV models (Clip as ReLU6, HardSwish, HardSigmoid, LeakyRelu). */
#include <math.h>
#include <string.h>

#include "eltwise.h"

lcv_status lcv_activation_check(lcv_opctx *c) {
    if (c->node->op == LCV_OP_Celu) {
        float alpha = lcv_attr_float(c->node, "alpha", 1.0f);
        /* Celu divides by alpha */
        if (alpha == 0.0f || alpha != alpha)
            return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "attribute 'alpha' must be non-zero, got %g",
                               (double)alpha);
    }
    return LCV_OK;
}

/* Reads the op's attributes with their ONNX defaults. */
static void read_params(const lcv_node *n, lcv_unary_params *p, float alpha, float beta,
                        float gamma) {
    memset(p, 0, sizeof *p);
    p->falpha = lcv_attr_float(n, "alpha", alpha);
    p->fbeta = lcv_attr_float(n, "beta", beta);
    p->fgamma = lcv_attr_float(n, "gamma", gamma);
    p->alpha = p->falpha;
    p->beta = p->fbeta;
    p->gamma = p->fgamma;
}

static double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }

static double hsig(double x, double a, double b) {
    double t = a * x + b;
    return t < 0 ? 0.0 : t > 1 ? 1.0 : t;
}

static float hsigf(float x, float a, float b) {
    float t = a * x + b;
    return t < 0.0f ? 0.0f : t > 1.0f ? 1.0f : t;
}

static double f_softplus(double x, const lcv_unary_params *p) {
    (void)p;
    return softplus(x);
}
static double f_softsign(double x, const lcv_unary_params *p) {
    (void)p;
    return x / (1.0 + fabs(x));
}
static double f_hardswish(double x, const lcv_unary_params *p) {
    (void)p;
    return x * hsig(x, 1.0 / 6.0, 0.5);
}
static double f_hardsigmoid(double x, const lcv_unary_params *p) {
    return hsig(x, p->alpha, p->beta);
}
static double f_mish(double x, const lcv_unary_params *p) {
    (void)p;
    return x * tanh(softplus(x));
}
static double f_elu(double x, const lcv_unary_params *p) {
    return x < 0 ? p->alpha * expm1(x) : x;
}
static double f_selu(double x, const lcv_unary_params *p) {
    return x <= 0 ? p->gamma * (p->alpha * exp(x) - p->alpha) : p->gamma * x;
}
static double f_celu(double x, const lcv_unary_params *p) {
    double neg = p->alpha * expm1(x / p->alpha);
    return (x > 0 ? x : 0.0) + (neg < 0 ? neg : 0.0);
}
static double f_leakyrelu(double x, const lcv_unary_params *p) { return x < 0 ? p->alpha * x : x; }
static double f_thresholdedrelu(double x, const lcv_unary_params *p) {
    return x > p->alpha ? x : 0.0;
}
/* Shrink keeps alpha = lambd, beta = bias */
static double f_shrink(double x, const lcv_unary_params *p) {
    return x < -p->alpha ? x + p->beta : x > p->alpha ? x - p->beta : 0.0;
}
/* min(max(x, lo), hi) as numpy's clip: hi wins when lo > hi; NaN passes through */
static double f_clip(double x, const lcv_unary_params *p) {
    double t = x < p->lo ? p->lo : x;
    return t > p->hi ? p->hi : t;
}
static int64_t i_clip(int64_t x, bool uns, const lcv_unary_params *p) {
    if (uns) {
        uint64_t t = (uint64_t)x < (uint64_t)p->ilo ? (uint64_t)p->ilo : (uint64_t)x;
        return (int64_t)(t > (uint64_t)p->ihi ? (uint64_t)p->ihi : t);
    }
    int64_t t = x < p->ilo ? p->ilo : x;
    return t > p->ihi ? p->ihi : t;
}

static void g_hardswish(const float *xs, float *ys, int64_t n, const lcv_unary_params *p) {
    (void)p;
    for (int64_t i = 0; i < n; i++) ys[i] = xs[i] * hsigf(xs[i], 1.0f / 6.0f, 0.5f);
}
static void g_hardsigmoid(const float *xs, float *ys, int64_t n, const lcv_unary_params *p) {
    float a = p->falpha, b = p->fbeta;
    for (int64_t i = 0; i < n; i++) ys[i] = hsigf(xs[i], a, b);
}
static void g_leakyrelu(const float *xs, float *ys, int64_t n, const lcv_unary_params *p) {
    float a = p->falpha;
    for (int64_t i = 0; i < n; i++) ys[i] = xs[i] < 0.0f ? a * xs[i] : xs[i];
}
static void g_clip(const float *xs, float *ys, int64_t n, const lcv_unary_params *p) {
    float lo = p->flo, hi = p->fhi;
    for (int64_t i = 0; i < n; i++) {
        float t = xs[i] < lo ? lo : xs[i];
        ys[i] = t > hi ? hi : t;
    }
}

#define EXEC_ACT(opname, a, b, g, f, f32)                                                         \
    lcv_status lcv_exec_##opname(lcv_opctx *c) {                                                 \
        static const lcv_unary_op u = {f, NULL, f32};                                             \
        lcv_unary_params p;                                                                       \
        read_params(c->node, &p, a, b, g);                                                        \
        return lcv_unary_run(c, &u, &p);                                                          \
    }

EXEC_ACT(softplus, 0.0f, 0.0f, 0.0f, f_softplus, NULL)
EXEC_ACT(softsign, 0.0f, 0.0f, 0.0f, f_softsign, NULL)
EXEC_ACT(hardswish, 0.0f, 0.0f, 0.0f, f_hardswish, g_hardswish)
EXEC_ACT(hardsigmoid, 0.2f, 0.5f, 0.0f, f_hardsigmoid, g_hardsigmoid)
EXEC_ACT(mish, 0.0f, 0.0f, 0.0f, f_mish, NULL)
EXEC_ACT(elu, 1.0f, 0.0f, 0.0f, f_elu, NULL)
EXEC_ACT(selu, 1.67326319217681884765625f, 0.0f, 1.05070102214813232421875f, f_selu, NULL)
EXEC_ACT(celu, 1.0f, 0.0f, 0.0f, f_celu, NULL)
EXEC_ACT(leakyrelu, 0.01f, 0.0f, 0.0f, f_leakyrelu, g_leakyrelu)
EXEC_ACT(thresholdedrelu, 1.0f, 0.0f, 0.0f, f_thresholdedrelu, NULL)

lcv_status lcv_exec_shrink(lcv_opctx *c) {
    static const lcv_unary_op u = {f_shrink, NULL, NULL};
    lcv_unary_params p;
    memset(&p, 0, sizeof p);
    p.alpha = lcv_attr_float(c->node, "lambd", 0.5f);
    p.beta = lcv_attr_float(c->node, "bias", 0.0f);
    return lcv_unary_run(c, &u, &p);
}

lcv_status lcv_exec_clip(lcv_opctx *c) {
    static const lcv_unary_op u = {f_clip, i_clip, g_clip};
    lcv_unary_params p;
    memset(&p, 0, sizeof p);
    lcv_dtype d = c->in[0]->dtype;
    bool uns = lcv_eltwise_class(d) == LCV_DT_UINT;
    p.lo = -INFINITY;
    p.hi = INFINITY;
    p.ilo = uns ? 0 : INT64_MIN;
    p.ihi = uns ? -1 /* UINT64_MAX */ : INT64_MAX;
    if (c->node->opset < 11) {
        p.lo = lcv_attr_float(c->node, "min", -INFINITY);
        p.hi = lcv_attr_float(c->node, "max", INFINITY);
    } else {
        const lcv_tensor *mn = lcv_op_input(c, 1), *mx = lcv_op_input(c, 2);
        if (mn) {
            p.lo = lcv_load_f64(d, mn->data, 0);
            p.ilo = lcv_load_i64(d, mn->data, 0);
        }
        if (mx) {
            p.hi = lcv_load_f64(d, mx->data, 0);
            p.ihi = lcv_load_i64(d, mx->data, 0);
        }
    }
    p.flo = (float)p.lo;
    p.fhi = (float)p.hi;
    return lcv_unary_run(c, &u, &p);
}
