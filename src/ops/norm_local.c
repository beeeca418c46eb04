/* norm_local.c - normalisations whose shape rule is the identity (their infer is the shared
 * lcv_infer_unary), so their attributes are validated here at run time: LRN (across channels),
 * LpNormalization (p = 1 or 2 along an axis) and MeanVarianceNormalization (over `axes`). */
#include <math.h>

#include "op.h"

static lcv_status need_float_input(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0];
    if (!lcv_dtype_is_float(x->dtype))
        return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "input dtype %s is not supported (float only)",
                           lcv_dtype_name(x->dtype));
    if (x->ndim < 0 || x->ndim > LCV_MAX_DIMS)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "input rank %d is not supported", x->ndim);
    return LCV_OK;
}

/* ---- LRN ---- */

lcv_status lcv_exec_lrn(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0];
    lcv_tensor *y = c->out[0];
    lcv_status st = need_float_input(c);
    if (st != LCV_OK) return st;
    if (x->ndim < 2)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "input must have rank >= 2 (N, C, ...), got %d",
                           x->ndim);
    const lcv_attr *sa = lcv_attr_find(c->node, "size");
    if (!sa || sa->type != LCV_ATTR_INT || sa->i < 1)
        return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "attribute 'size' must be an int >= 1");
    int64_t size = sa->i;
    double alpha = lcv_attr_float(c->node, "alpha", 1e-4f);
    double beta = lcv_attr_float(c->node, "beta", 0.75f);
    double bias = lcv_attr_float(c->node, "bias", 1.0f);
    if (lcv_tensor_count(x) == 0) return LCV_OK;
    int64_t N = x->dims[0], C = x->dims[1], S = 1;
    for (int i = 2; i < x->ndim; i++) S *= x->dims[i];
    /* The window covers channels [ch - floor((size-1)/2), ch + ceil((size-1)/2)]. */
    int64_t lo_half = (size - 1) / 2, hi_half = size / 2;
    for (int64_t n = 0; n < N; n++)
        for (int64_t ch = 0; ch < C; ch++) {
            int64_t lo = ch - lo_half < 0 ? 0 : ch - lo_half;
            int64_t hi = hi_half > C - 1 - ch ? C - 1 : ch + hi_half;
            for (int64_t s = 0; s < S; s++) {
                double sq = 0.0;
                for (int64_t k = lo; k <= hi; k++) {
                    double v = lcv_load_f64(x->dtype, x->data, (n * C + k) * S + s);
                    sq += v * v;
                }
                int64_t i = (n * C + ch) * S + s;
                double v = lcv_load_f64(x->dtype, x->data, i);
                lcv_store_f64(y->dtype, y->data, i, v / pow(bias + alpha / (double)size * sq, beta));
            }
        }
    return LCV_OK;
}

/* ---- LpNormalization ---- */

lcv_status lcv_exec_lpnorm(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0];
    lcv_tensor *y = c->out[0];
    lcv_status st = need_float_input(c);
    if (st != LCV_OK) return st;
    int axis;
    st = lcv_op_axis(c, lcv_attr_int(c->node, "axis", -1), x->ndim, &axis);
    if (st != LCV_OK) return st;
    int64_t p = lcv_attr_int(c->node, "p", 2);
    if (p != 1 && p != 2)
        return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "p must be 1 or 2, got %lld", (long long)p);
    if (lcv_tensor_count(x) == 0) return LCV_OK;
    int64_t n = x->dims[axis], outer = 1, inner = 1;
    for (int i = 0; i < axis; i++) outer *= x->dims[i];
    for (int i = axis + 1; i < x->ndim; i++) inner *= x->dims[i];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            int64_t base = o * n * inner + j;
            double norm = 0.0;
            for (int64_t r = 0; r < n; r++) {
                double v = lcv_load_f64(x->dtype, x->data, base + r * inner);
                norm += p == 1 ? fabs(v) : v * v;
            }
            if (p == 2) norm = sqrt(norm);
            /* An all-zero vector stays zero instead of becoming 0/0. */
            double inv = norm > 0.0 ? 1.0 / norm : 0.0;
            for (int64_t r = 0; r < n; r++) {
                int64_t i = base + r * inner;
                lcv_store_f64(y->dtype, y->data, i, lcv_load_f64(x->dtype, x->data, i) * inv);
            }
        }
    return LCV_OK;
}

/* ---- MeanVarianceNormalization ---- */

/* Flat offset of the k-th element of the sub-tensor spanned by the dims in `sel`. */
static int64_t sub_offset(int64_t k, int rank, const int64_t *dims, const int64_t *strides,
                          const bool *sel, bool want) {
    int64_t off = 0;
    for (int i = rank - 1; i >= 0; i--) {
        if (sel[i] != want) continue;
        off += (k % dims[i]) * strides[i];
        k /= dims[i];
    }
    return off;
}

lcv_status lcv_exec_mvn(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0];
    lcv_tensor *y = c->out[0];
    lcv_status st = need_float_input(c);
    if (st != LCV_OK) return st;
    static const int64_t def_axes[3] = {0, 2, 3};
    const int64_t *axes = def_axes;
    int64_t na = lcv_attr_ints(c->node, "axes", &axes);
    if (na < 0) {
        axes = def_axes;
        na = 3;
    }
    bool red[LCV_MAX_DIMS] = {false};
    for (int64_t i = 0; i < na; i++) {
        int a;
        st = lcv_op_axis(c, axes[i], x->ndim, &a);
        if (st != LCV_OK) return st;
        if (red[a])
            return lcv_op_fail(c, LCV_ERR_SHAPE, "axis %lld is listed twice", (long long)axes[i]);
        red[a] = true;
    }
    if (lcv_tensor_count(x) == 0) return LCV_OK;
    int64_t strides[LCV_MAX_DIMS], n_kept = 1, n_red = 1;
    lcv_shape_strides(x->ndim, x->dims, strides);
    for (int i = 0; i < x->ndim; i++) {
        if (red[i])
            n_red *= x->dims[i];
        else
            n_kept *= x->dims[i];
    }
    for (int64_t g = 0; g < n_kept; g++) {
        int64_t base = sub_offset(g, x->ndim, x->dims, strides, red, false);
        double sum = 0.0, sq = 0.0;
        for (int64_t k = 0; k < n_red; k++)
            sum += lcv_load_f64(x->dtype, x->data,
                                base + sub_offset(k, x->ndim, x->dims, strides, red, true));
        double m = sum / (double)n_red;
        for (int64_t k = 0; k < n_red; k++) {
            double d = lcv_load_f64(x->dtype, x->data,
                                    base + sub_offset(k, x->ndim, x->dims, strides, red, true)) - m;
            sq += d * d;
        }
        /* ONNX's function body divides by sqrt(variance) + 1e-9. */
        double denom = sqrt(sq / (double)n_red) + 1e-9;
        for (int64_t k = 0; k < n_red; k++) {
            int64_t i = base + sub_offset(k, x->ndim, x->dims, strides, red, true);
            lcv_store_f64(y->dtype, y->data, i, (lcv_load_f64(x->dtype, x->data, i) - m) / denom);
        }
    }
    return LCV_OK;
}
