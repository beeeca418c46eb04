/* activation_grad.c - backward of the activations of activation.c used in trainable CV nets:
 * Clip (bounds as attributes or inputs, with gradients for the bound inputs), LeakyRelu,
 * HardSigmoid, HardSwish, Softplus and Elu. Attribute defaults are the forward's (ONNX's).
 * At kinks the choice matches PyTorch: Clip passes the gradient at x == min or max,
 * HardSigmoid passes nothing at its corners, HardSwish takes the inner slope at +-3, LeakyRelu
 * and Elu use the slope of x <= 0 at 0. */
#include <math.h>
#include <string.h>

#include "grad_util.h"

/* ---- Clip ---- */

/* The forward is t = x < lo ? lo : x; y = t > hi ? hi : t. x reaches y unless one of the two
 * replacements happened; ties keep x. */
static void g_clip(const float *xs, const float *ys, const float *dys, float *dxs, int64_t n,
                   const float *p) {
    float lo = p[0], hi = p[1];
    for (int64_t i = 0; i < n; i++) {
        float x = xs[i], t = x < lo ? lo : x;
        dxs[i] = (t > hi || x < lo) ? 0.0f : dys[i];
    }
}

/* Bounds as the forward reads them: attributes before opset 11, optional scalar inputs after. */
static lcv_status clip_bounds(lcv_gradctx *c, float *lo, float *hi) {
    *lo = -INFINITY;
    *hi = INFINITY;
    if (c->node->opset < 11) {
        *lo = lcv_attr_float(c->node, "min", -INFINITY);
        *hi = lcv_attr_float(c->node, "max", INFINITY);
        return LCV_OK;
    }
    for (int i = 1; i < 3; i++) {
        const lcv_tensor *b = lcv_grad_input(c, i);
        if (!b) continue;
        if (b->dtype != LCV_DTYPE_FLOAT32 || lcv_tensor_count(b) != 1 || !b->data)
            return lcv_grad_fail(c, LCV_ERR_SHAPE, "%s must be one float32 value",
                                 i == 1 ? "min" : "max");
        *(i == 1 ? lo : hi) = ((const float *)b->data)[0];
    }
    return LCV_OK;
}

lcv_status lcv_grad_clip(lcv_gradctx *c) {
    float p[2];
    lcv_status st = clip_bounds(c, &p[0], &p[1]);
    if (st == LCV_OK) st = lcv_gradu_unary(c, g_clip, p);
    if (st != LCV_OK) return st;
    /* The bound that replaced x collects its gradient (serial: a fixed summation order). */
    float *dmin, *dmax;
    const float *x, *dy;
    st = lcv_gradu_din(c, 1, &dmin);
    if (st == LCV_OK) st = lcv_gradu_din(c, 2, &dmax);
    if (st != LCV_OK || (!dmin && !dmax)) return st;
    if ((st = lcv_gradu_in(c, 0, &x)) != LCV_OK || (st = lcv_gradu_dout(c, 0, &dy)) != LCV_OK)
        return st;
    double smin = 0, smax = 0;
    int64_t n = lcv_tensor_count(c->in[0]);
    for (int64_t i = 0; dy && i < n; i++) {
        float t = x[i] < p[0] ? p[0] : x[i];
        if (t > p[1]) smax += dy[i];
        else if (x[i] < p[0]) smin += dy[i];
    }
    if (dmin) dmin[0] = (float)smin;
    if (dmax) dmax[0] = (float)smax;
    return LCV_OK;
}

/* ---- activations with attributes ---- */

static void g_leakyrelu(const float *xs, const float *ys, const float *dys, float *dxs,
                        int64_t n, const float *p) {
    float a = p[0];
    for (int64_t i = 0; i < n; i++) dxs[i] = xs[i] > 0.0f ? dys[i] : a * dys[i];
}

/* y = clamp(a x + b, 0, 1) */
static void g_hardsigmoid(const float *xs, const float *ys, const float *dys, float *dxs,
                          int64_t n, const float *p) {
    float a = p[0], b = p[1];
    for (int64_t i = 0; i < n; i++) {
        float t = a * xs[i] + b;
        dxs[i] = (t > 0.0f && t < 1.0f) ? a * dys[i] : 0.0f;
    }
}

/* y = x * clamp(x/6 + 1/2, 0, 1): slope x/3 + 1/2 on [-3, 3], 0 below, 1 above (PyTorch's
 * closed interval at the kinks). */
static void g_hardswish(const float *xs, const float *ys, const float *dys, float *dxs,
                        int64_t n, const float *p) {
    for (int64_t i = 0; i < n; i++) {
        float x = xs[i];
        dxs[i] = x < -3.0f ? 0.0f : x > 3.0f ? dys[i] : dys[i] * (x * (1.0f / 3.0f) + 0.5f);
    }
}

/* d softplus / dx = sigmoid(x), in the form that cannot overflow */
static void g_softplus(const float *xs, const float *ys, const float *dys, float *dxs,
                       int64_t n, const float *p) {
    for (int64_t i = 0; i < n; i++) {
        float x = xs[i], s;
        if (x >= 0.0f) {
            s = 1.0f / (1.0f + expf(-x));
        } else {
            float e = expf(x);
            s = e / (1.0f + e);
        }
        dxs[i] = dys[i] * s;
    }
}

/* y = alpha (e^x - 1) for x < 0: the slope alpha e^x is y + alpha. */
static void g_elu(const float *xs, const float *ys, const float *dys, float *dxs, int64_t n,
                  const float *p) {
    float a = p[0];
    for (int64_t i = 0; i < n; i++) dxs[i] = xs[i] > 0.0f ? dys[i] : dys[i] * (ys[i] + a);
}

lcv_status lcv_grad_leakyrelu(lcv_gradctx *c) {
    float p[1] = {lcv_attr_float(c->node, "alpha", 0.01f)};
    return lcv_gradu_unary(c, g_leakyrelu, p);
}

lcv_status lcv_grad_hardsigmoid(lcv_gradctx *c) {
    float p[2] = {lcv_attr_float(c->node, "alpha", 0.2f), lcv_attr_float(c->node, "beta", 0.5f)};
    return lcv_gradu_unary(c, g_hardsigmoid, p);
}

lcv_status lcv_grad_hardswish(lcv_gradctx *c) { return lcv_gradu_unary(c, g_hardswish, NULL); }

lcv_status lcv_grad_softplus(lcv_gradctx *c) { return lcv_gradu_unary(c, g_softplus, NULL); }

lcv_status lcv_grad_elu(lcv_gradctx *c) {
    float p[1] = {lcv_attr_float(c->node, "alpha", 1.0f)};
    return lcv_gradu_unary(c, g_elu, p);
}
