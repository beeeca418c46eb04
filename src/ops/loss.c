/* loss.c - SoftmaxCrossEntropyLoss and NegativeLogLikelihoodLoss. Both read scores/log-probs of
 * shape (N, C, D1..Dk) and integer labels (N, D1..Dk), with optional class weights (C),
 * ignore_index and reduction none/sum/mean, where "mean" divides by the summed weights of the
 * labels that were not ignored. SoftmaxCrossEntropyLoss may also output log_prob. */
#include <math.h>
#include <string.h>

#include "op.h"

typedef enum reduction { RED_NONE, RED_SUM, RED_MEAN } reduction;

static lcv_status loss_reduction(lcv_opctx *c, reduction *r) {
    const char *s = lcv_attr_str(c->node, "reduction", "mean");
    if (strcmp(s, "none") == 0)
        *r = RED_NONE;
    else if (strcmp(s, "sum") == 0)
        *r = RED_SUM;
    else if (strcmp(s, "mean") == 0)
        *r = RED_MEAN;
    else
        return lcv_op_fail(c, LCV_ERR_INVALID_ARG,
                           "reduction '%s' is not one of 'none', 'sum', 'mean'", s);
    return LCV_OK;
}

/* Shared shape and dtype checks; sets output 0 (the loss). */
static lcv_status loss_infer(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0], *lab = c->in[1], *w = lcv_op_input(c, 2);
    char sa[128], sb[128];
    if (!lcv_dtype_is_float(x->dtype))
        return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "input dtype %s is not supported (float only)",
                           lcv_dtype_name(x->dtype));
    if (lab->dtype != LCV_DTYPE_INT32 && lab->dtype != LCV_DTYPE_INT64)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "labels must be int32 or int64, got %s",
                           lcv_dtype_name(lab->dtype));
    if (x->ndim < 2 || x->ndim > LCV_MAX_DIMS)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "input must have rank >= 2 (N, C, ...), got %d",
                           x->ndim);
    bool ok = lab->ndim == x->ndim - 1 && lab->dims[0] == x->dims[0];
    for (int i = 1; ok && i < lab->ndim; i++) ok = lab->dims[i] == x->dims[i + 1];
    if (!ok)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "labels shape %s does not match input shape %s",
                           lcv_shape_str(lab->ndim, lab->dims, sa, sizeof sa),
                           lcv_shape_str(x->ndim, x->dims, sb, sizeof sb));
    if (w) {
        if (w->ndim != 1 || w->dims[0] != x->dims[1])
            return lcv_op_fail(c, LCV_ERR_SHAPE, "weights shape %s must be [%lld] (C)",
                               lcv_shape_str(w->ndim, w->dims, sa, sizeof sa),
                               (long long)x->dims[1]);
        if (w->dtype != x->dtype)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "weights dtype %s differs from input dtype %s",
                               lcv_dtype_name(w->dtype), lcv_dtype_name(x->dtype));
    }
    reduction r = RED_NONE;
    lcv_status st = loss_reduction(c, &r);
    if (st != LCV_OK) return st;
    if (r == RED_NONE)
        lcv_op_set_out(c, 0, x->dtype, lab->ndim, lab->dims);
    else
        lcv_op_set_out(c, 0, x->dtype, 0, NULL);
    return LCV_OK;
}

lcv_status lcv_infer_nll_loss(lcv_opctx *c) { return loss_infer(c); }

lcv_status lcv_infer_sce_loss(lcv_opctx *c) {
    lcv_status st = loss_infer(c);
    if (st != LCV_OK) return st;
    if (c->n_out > 1 && c->out[1])
        lcv_op_set_out(c, 1, c->in[0]->dtype, c->in[0]->ndim, c->in[0]->dims);
    return LCV_OK;
}

/* log-sum-exp over the C classes of position (n, d); stride between classes is D. */
static double class_lse(const lcv_tensor *x, int64_t base, int64_t C, int64_t D) {
    double m = -INFINITY;
    for (int64_t k = 0; k < C; k++) {
        double v = lcv_load_f64(x->dtype, x->data, base + k * D);
        if (v > m || v != v) m = v;
    }
    if (isinf(m) || m != m) return m;
    double s = 0.0;
    for (int64_t k = 0; k < C; k++) s += exp(lcv_load_f64(x->dtype, x->data, base + k * D) - m);
    return m + log(s);
}

/* softmax: the input holds raw scores and log_prob is computed; otherwise it holds log-probs. */
static lcv_status loss_exec(lcv_opctx *c, bool softmax) {
    const lcv_tensor *x = c->in[0], *lab = c->in[1], *w = lcv_op_input(c, 2);
    lcv_tensor *y = c->out[0];
    lcv_tensor *lp = softmax && c->n_out > 1 ? c->out[1] : NULL;
    reduction r = RED_NONE;
    lcv_status st = loss_reduction(c, &r);
    if (st != LCV_OK) return st;
    const lcv_attr *ia = lcv_attr_find(c->node, "ignore_index");
    bool has_ignore = ia && ia->type == LCV_ATTR_INT;
    int64_t ignore = has_ignore ? ia->i : 0;
    int64_t N = x->dims[0], C = x->dims[1];
    /* D is 0 when a spatial dim is; then there are no labels either. Otherwise it is bounded
     * by the label count, so the product cannot overflow. */
    int64_t D = 1;
    for (int i = 2; i < x->ndim; i++)
        if (x->dims[i] == 0) D = 0;
    for (int i = 2; i < x->ndim && D > 0; i++) D *= x->dims[i];
    if (lp && lcv_tensor_count(x) > 0) {
        for (int64_t n = 0; n < N; n++)
            for (int64_t d = 0; d < D; d++) {
                int64_t base = n * C * D + d;
                double lse = class_lse(x, base, C, D);
                for (int64_t k = 0; k < C; k++)
                    lcv_store_f64(lp->dtype, lp->data, base + k * D,
                                  lcv_load_f64(x->dtype, x->data, base + k * D) - lse);
            }
    }
    double total = 0.0, wsum = 0.0;
    int64_t n_lab = lcv_tensor_count(lab);
    for (int64_t i = 0; i < n_lab; i++) {
        int64_t n = i / D, d = i % D;
        int64_t label = lcv_load_i64(lab->dtype, lab->data, i);
        double loss = 0.0, wt = 0.0;
        if (!(has_ignore && label == ignore)) {
            if (label < 0 || label >= C)
                return lcv_op_fail(c, LCV_ERR_INVALID_ARG,
                                   "label %lld at position %lld is outside [0, %lld)",
                                   (long long)label, (long long)i, (long long)C);
            int64_t base = n * C * D + d;
            double v = lcv_load_f64(x->dtype, x->data, base + label * D);
            if (softmax) v -= class_lse(x, base, C, D);
            wt = w ? lcv_load_f64(w->dtype, w->data, label) : 1.0;
            loss = -v * wt;
        }
        if (r == RED_NONE) lcv_store_f64(y->dtype, y->data, i, loss);
        total += loss;
        wsum += wt;
    }
    if (r == RED_SUM) lcv_store_f64(y->dtype, y->data, 0, total);
    /* With every label ignored the mean is 0/0, as in the ONNX reference. */
    if (r == RED_MEAN) lcv_store_f64(y->dtype, y->data, 0, total / wsum);
    return LCV_OK;
}

lcv_status lcv_exec_nll_loss(lcv_opctx *c) { return loss_exec(c, false); }
lcv_status lcv_exec_sce_loss(lcv_opctx *c) { return loss_exec(c, true); }
