/* quant_util.h - helpers shared by quant.c and quant_conv.c: a scale or zero-point operand
 * that is absent, one value, or one value per row/column/channel, read with checks that name
 * the operand. Private to src/ops. */
#ifndef LCV_OPS_QUANT_UTIL_H
#define LCV_OPS_QUANT_UTIL_H

#include "op.h"

static inline bool lcv_quant_is_q8(lcv_dtype d) {
    return d == LCV_DTYPE_UINT8 || d == LCV_DTYPE_INT8;
}

/* A scale or zero point: absent (n 0), one value (n 1) or one per row/column/channel. */
typedef struct qvec {
    const lcv_tensor *t;
    int64_t n;
} qvec;

/* Reads optional input i as a scalar or a 1-D vector of `per` entries (per 0: scalar only). */
static inline lcv_status q_vec(lcv_opctx *c, int i, const char *what, int64_t per, qvec *q) {
    const lcv_tensor *t = lcv_op_input(c, i);
    q->t = t;
    q->n = 0;
    if (!t) return LCV_OK;
    int64_t cnt = lcv_tensor_count(t);
    if (cnt == 1 && t->ndim <= 1) q->n = 1;
    else if (per > 0 && t->ndim == 1 && cnt == per) q->n = per;
    else if (per > 0)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "%s must be a scalar or 1-D with %lld entries, got "
                           "%lld entries (rank %d)", what, (long long)per, (long long)cnt, t->ndim);
    else
        return lcv_op_fail(c, LCV_ERR_SHAPE, "%s must be a scalar, got %lld entries", what,
                           (long long)cnt);
    if (!lcv_dtype_is_float(t->dtype) && !lcv_dtype_is_int(t->dtype))
        return lcv_op_fail(c, LCV_ERR_SHAPE, "%s has non-numeric dtype %s", what,
                           lcv_dtype_name(t->dtype));
    return LCV_OK;
}

/* Value i of a scale (1.0 when absent) and of a zero point (0 when absent). */
static inline double qv_f(const qvec *q, int64_t i) {
    return q->n ? lcv_load_f64(q->t->dtype, q->t->data, q->n == 1 ? 0 : i) : 1.0;
}
static inline int32_t qv_i(const qvec *q, int64_t i) {
    return q->n ? (int32_t)lcv_load_i64(q->t->dtype, q->t->data, q->n == 1 ? 0 : i) : 0;
}

static inline lcv_status q_need_float(lcv_opctx *c, const qvec *q, const char *what) {
    if (q->t && !lcv_dtype_is_float(q->t->dtype))
        return lcv_op_fail(c, LCV_ERR_SHAPE, "%s must be a float tensor, got %s", what,
                           lcv_dtype_name(q->t->dtype));
    return LCV_OK;
}

/* A zero point must have the dtype of the tensor it belongs to. */
static inline lcv_status q_need_zp_like(lcv_opctx *c, const qvec *zp, lcv_dtype d,
                                        const char *what) {
    if (zp->t && zp->t->dtype != d)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "%s has dtype %s but its tensor is %s", what,
                           lcv_dtype_name(zp->t->dtype), lcv_dtype_name(d));
    return LCV_OK;
}

/* Input i must be int8 or uint8. */
static inline lcv_status q_need_q8(lcv_opctx *c, int i, const char *what) {
    if (!lcv_quant_is_q8(c->in[i]->dtype))
        return lcv_op_fail(c, LCV_ERR_SHAPE, "%s must be int8 or uint8, got %s", what,
                           lcv_dtype_name(c->in[i]->dtype));
    return LCV_OK;
}

#endif /* LCV_OPS_QUANT_UTIL_H */
