/* fused.c - what the optimizer's fusions mean after a reference kernel: residual add, then
 * the activation (defined in core/act.c); plus the session scratch buffer fast kernels
 * borrow. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op.h"

lcv_status lcv_op_apply_fused(lcv_opctx *c) {
    const lcv_fused *f = &c->node->fused;
    if (f->act == LCV_ACT_NONE && f->residual < 0) return LCV_OK;
    lcv_tensor *y = c->out[0];
    int64_t n = lcv_tensor_count(y);
    /* fuse_qdq's Relu on a requantized integer output: the real value is positive exactly
     * when the integer is above the zero point (input 7 of each op) */
    if ((c->node->op == LCV_OP_QLinearConv || c->node->op == LCV_OP_QLinearMatMul ||
         c->node->op == LCV_OP_QLinearAdd) &&
        f->act == LCV_ACT_RELU && f->residual < 0 && c->n_in > 7 && c->in[7] &&
        c->in[7]->dtype == y->dtype && (y->dtype == LCV_DTYPE_UINT8 || y->dtype == LCV_DTYPE_INT8)) {
        int64_t z = lcv_load_i64(y->dtype, c->in[7]->data, 0);
        for (int64_t i = 0; i < n; i++)
            if (lcv_load_i64(y->dtype, y->data, i) < z) lcv_store_i64(y->dtype, y->data, i, z);
        return LCV_OK;
    }
    if (!lcv_dtype_is_float(y->dtype))
        return lcv_op_fail(c, LCV_ERR_INTERNAL, "fused activation on %s output",
                           lcv_dtype_name(y->dtype));
    if (f->residual >= 0) {
        const lcv_tensor *r = c->in[f->residual];
        if (!r || r->dtype != y->dtype || !lcv_shape_equal(r->ndim, r->dims, y->ndim, y->dims)) {
            char a[128], b[128];
            return lcv_op_fail(c, LCV_ERR_SHAPE, "fused residual %s does not match output %s",
                               r ? lcv_shape_str(r->ndim, r->dims, a, sizeof a) : "(none)",
                               lcv_shape_str(y->ndim, y->dims, b, sizeof b));
        }
        if (y->dtype == LCV_DTYPE_FLOAT32) {
            float *py = y->data;
            const float *pr = r->data;
            for (int64_t i = 0; i < n; i++) py[i] += pr[i];
        } else {
            for (int64_t i = 0; i < n; i++)
                lcv_store_f64(y->dtype, y->data, i,
                              lcv_load_f64(y->dtype, y->data, i) + lcv_load_f64(r->dtype, r->data, i));
        }
    }
    if (y->dtype == LCV_DTYPE_FLOAT32) {
        lcv_act_apply_f32(f, y->data, n);
    } else if (f->act != LCV_ACT_NONE) {
        for (int64_t i = 0; i < n; i++)
            lcv_store_f64(y->dtype, y->data, i,
                          lcv_act_f32(f, (float)lcv_load_f64(y->dtype, y->data, i)));
    }
    return LCV_OK;
}

const float *lcv_op_fused_residual_f32(lcv_opctx *c, lcv_status *st) {
    *st = LCV_OK;
    int ri = c->node->fused.residual;
    if (ri < 0) return NULL;
    const lcv_tensor *r = c->in[ri], *y = c->out[0];
    if (!r || r->dtype != LCV_DTYPE_FLOAT32 || !lcv_shape_equal(r->ndim, r->dims, y->ndim, y->dims)) {
        *st = lcv_op_fail(c, LCV_ERR_SHAPE, "fused residual does not match the output");
        return NULL;
    }
    return r->data;
}

void *lcv_op_scratch(lcv_opctx *c, size_t bytes) {
    lcv_scratch *s = c->scratch;
    if (!s) return NULL;
    if (bytes <= s->size && s->data) return s->data;
    size_t want = bytes < 4096 ? 4096 : bytes;
    want = (want + 63) & ~(size_t)63;
    void *p = NULL;
    if (posix_memalign(&p, 64, want) != 0) return NULL;
    free(s->data);
    s->data = p;
    s->size = want;
    return p;
}
