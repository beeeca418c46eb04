/* quant.c - linear quantization ops: QuantizeLinear / DequantizeLinear (per-tensor and, from
 * opset 13, per-axis), DynamicQuantizeLinear, and the integer products MatMulInteger and
 * QLinearMatMul (numpy matmul broadcasting, per-row/per-column zero points and scales).
 * Rounding is half-to-even and results saturate; integer sums are exact. The convolutions
 * live in quant_conv.c. */
#include <math.h>
#include <string.h>

#include "../kernels/i8-gemm/i8_requant.h"
#include "quant_util.h"

/* ---- QuantizeLinear / DequantizeLinear ---- */

/* Common checks: scale/zero point shapes agree and are per-tensor or per-axis. *inner and
 * *chan let element i find its channel: (i / inner) % chan. */
static lcv_status qdq_params(lcv_opctx *c, qvec *s, qvec *zp, int64_t *inner, int64_t *chan) {
    const lcv_tensor *x = c->in[0];
    int ax = 0;
    int64_t per = 0;
    lcv_status st;
    bool per_axis = c->node->opset >= 13 && lcv_tensor_count(c->in[1]) != 1;
    if (per_axis) {
        if ((st = lcv_op_axis(c, lcv_attr_int(c->node, "axis", 1), x->ndim, &ax)) != LCV_OK)
            return st;
        per = x->dims[ax];
    }
    if ((st = q_vec(c, 1, "scale", per, s)) != LCV_OK) return st;
    if ((st = q_vec(c, 2, "zero point", per, zp)) != LCV_OK) return st;
    if ((st = q_need_float(c, s, "scale")) != LCV_OK) return st;
    if (zp->t && zp->n != s->n)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "zero point has %lld entries but scale has %lld",
                           (long long)zp->n, (long long)s->n);
    *inner = 1;
    *chan = 1;
    if (s->n > 1) {
        for (int d = ax + 1; d < x->ndim; d++) *inner *= x->dims[d];
        *chan = s->n;
    }
    return LCV_OK;
}

lcv_status lcv_infer_quantize_linear(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0];
    qvec s, zp;
    int64_t inner, chan;
    lcv_status st = qdq_params(c, &s, &zp, &inner, &chan);
    if (st != LCV_OK) return st;
    if (!lcv_dtype_is_float(x->dtype) && x->dtype != LCV_DTYPE_INT32)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "x must be float or int32, got %s",
                           lcv_dtype_name(x->dtype));
    lcv_dtype yd = zp.t ? zp.t->dtype : LCV_DTYPE_UINT8;
    if (!lcv_quant_is_q8(yd) && yd != LCV_DTYPE_UINT16 && yd != LCV_DTYPE_INT16)
        return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "zero point dtype %s is not supported "
                           "(uint8, int8, uint16, int16)", lcv_dtype_name(yd));
    lcv_op_set_out(c, 0, yd, x->ndim, x->dims);
    return LCV_OK;
}

lcv_status lcv_exec_quantize_linear(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0];
    lcv_tensor *y = c->out[0];
    qvec s, zp;
    int64_t inner, chan;
    lcv_status st = qdq_params(c, &s, &zp, &inner, &chan);
    if (st != LCV_OK) return st;
    int64_t n = lcv_tensor_count(x);
    for (int64_t i = 0; i < n; i++) {
        int64_t ch = (i / inner) % chan;
        /* Division in float32 as the reference does, then round half to even. */
        float v = (float)lcv_load_f64(x->dtype, x->data, i) / (float)qv_f(&s, ch);
        lcv_store_f64(y->dtype, y->data, i, (double)nearbyintf(v) + qv_i(&zp, ch));
    }
    return LCV_OK;
}

lcv_status lcv_infer_dequantize_linear(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0];
    qvec s, zp;
    int64_t inner, chan;
    lcv_status st = qdq_params(c, &s, &zp, &inner, &chan);
    if (st != LCV_OK) return st;
    if (!lcv_quant_is_q8(x->dtype) && x->dtype != LCV_DTYPE_INT32 && x->dtype != LCV_DTYPE_UINT16 &&
        x->dtype != LCV_DTYPE_INT16)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "x must be int8, uint8, int16, uint16 or int32, "
                           "got %s", lcv_dtype_name(x->dtype));
    if ((st = q_need_zp_like(c, &zp, x->dtype, "x_zero_point")) != LCV_OK) return st;
    lcv_op_set_out(c, 0, s.t->dtype, x->ndim, x->dims);
    return LCV_OK;
}

lcv_status lcv_exec_dequantize_linear(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0];
    lcv_tensor *y = c->out[0];
    qvec s, zp;
    int64_t inner, chan;
    lcv_status st = qdq_params(c, &s, &zp, &inner, &chan);
    if (st != LCV_OK) return st;
    int64_t n = lcv_tensor_count(x);
    for (int64_t i = 0; i < n; i++) {
        int64_t ch = (i / inner) % chan;
        int64_t q = lcv_load_i64(x->dtype, x->data, i) - qv_i(&zp, ch);
        lcv_store_f64(y->dtype, y->data, i, (double)((float)q * (float)qv_f(&s, ch)));
    }
    return LCV_OK;
}

/* ---- DynamicQuantizeLinear ---- */

lcv_status lcv_infer_dynamic_quantize_linear(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0];
    if (x->dtype != LCV_DTYPE_FLOAT32)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "x must be float32, got %s",
                           lcv_dtype_name(x->dtype));
    lcv_op_set_out(c, 0, LCV_DTYPE_UINT8, x->ndim, x->dims);
    lcv_op_set_out(c, 1, LCV_DTYPE_FLOAT32, 0, NULL);
    lcv_op_set_out(c, 2, LCV_DTYPE_UINT8, 0, NULL);
    return LCV_OK;
}

lcv_status lcv_exec_dynamic_quantize_linear(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0];
    const float *xv = x->data;
    int64_t n = lcv_tensor_count(x);
    /* The range always includes 0 so that 0 is exactly representable; NaNs are ignored. */
    float lo = 0, hi = 0;
    for (int64_t i = 0; i < n; i++) {
        if (xv[i] < lo) lo = xv[i];
        if (xv[i] > hi) hi = xv[i];
    }
    float scale = (hi - lo) / 255.0f, zpf = 0;
    if (scale > 0 && isfinite(scale)) {
        zpf = nearbyintf(0.0f - lo / scale);
        zpf = zpf < 0 ? 0 : zpf > 255 ? 255 : zpf;
    }
    uint8_t *y = c->out[0]->data;
    for (int64_t i = 0; i < n; i++) {
        float v = scale > 0 ? nearbyintf(xv[i] / scale) + zpf : zpf;
        y[i] = v != v ? 0 : v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)v;
    }
    *(float *)c->out[1]->data = scale;
    *(uint8_t *)c->out[2]->data = (uint8_t)zpf;
    return LCV_OK;
}

/* ---- integer matrix products ---- */

typedef struct mm_shape {
    int64_t M, K, N, batch;
    int nb, na_b, nb_b;
    int64_t bdims[LCV_MAX_DIMS], bstr[LCV_MAX_DIMS], a_bd[LCV_MAX_DIMS], b_bd[LCV_MAX_DIMS];
    int out_nd;
    int64_t out[LCV_MAX_DIMS];
} mm_shape;

/* numpy matmul shape rule: 1-D operands gain (and then lose) a unit row/column; batch dims
 * broadcast. */
static lcv_status mm_shape_of(lcv_opctx *c, const lcv_tensor *a, const lcv_tensor *b,
                              mm_shape *s) {
    if (a->ndim < 1 || b->ndim < 1)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "A (rank %d) and B (rank %d) need rank >= 1",
                           a->ndim, b->ndim);
    s->M = a->ndim >= 2 ? a->dims[a->ndim - 2] : 1;
    s->K = a->dims[a->ndim - 1];
    int64_t kb = b->ndim >= 2 ? b->dims[b->ndim - 2] : b->dims[0];
    s->N = b->ndim >= 2 ? b->dims[b->ndim - 1] : 1;
    if (kb != s->K)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "inner dims differ: A has %lld columns, B has "
                           "%lld rows", (long long)s->K, (long long)kb);
    s->na_b = a->ndim > 2 ? a->ndim - 2 : 0;
    s->nb_b = b->ndim > 2 ? b->ndim - 2 : 0;
    memcpy(s->a_bd, a->dims, sizeof(int64_t) * (size_t)s->na_b);
    memcpy(s->b_bd, b->dims, sizeof(int64_t) * (size_t)s->nb_b);
    lcv_status st = lcv_op_broadcast(c, s->na_b, s->a_bd, s->nb_b, s->b_bd, &s->nb, s->bdims);
    if (st != LCV_OK) return st;
    lcv_shape_strides(s->nb, s->bdims, s->bstr);
    s->batch = 1;
    for (int i = 0; i < s->nb; i++) s->batch *= s->bdims[i];
    s->out_nd = 0;
    for (int i = 0; i < s->nb; i++) s->out[s->out_nd++] = s->bdims[i];
    if (a->ndim >= 2) s->out[s->out_nd++] = s->M;
    if (b->ndim >= 2) s->out[s->out_nd++] = s->N;
    return LCV_OK;
}

/* Output requantization for QLinearMatMul; NULL for MatMulInteger's raw int32 sums. */
typedef struct mm_requant {
    qvec as, bs, ys, yzp;
} mm_requant;

static void mm_run(const mm_shape *s, const lcv_tensor *a, const lcv_tensor *b, const qvec *azp,
                   const qvec *bzp, const mm_requant *rq, lcv_tensor *y) {
    int64_t oi = 0;
    for (int64_t bi = 0; bi < s->batch; bi++) {
        int64_t ao = lcv_broadcast_index(bi, s->nb, s->bdims, s->bstr, s->na_b, s->a_bd) * s->M * s->K;
        int64_t bo = lcv_broadcast_index(bi, s->nb, s->bdims, s->bstr, s->nb_b, s->b_bd) * s->K * s->N;
        for (int64_t m = 0; m < s->M; m++) {
            int32_t za = qv_i(azp, m);
            for (int64_t n = 0; n < s->N; n++, oi++) {
                int32_t zb = qv_i(bzp, n);
                int64_t acc = 0;
                for (int64_t k = 0; k < s->K; k++)
                    acc += (lcv_load_i64(a->dtype, a->data, ao + m * s->K + k) - za) *
                           (lcv_load_i64(b->dtype, b->data, bo + k * s->N + n) - zb);
                if (!rq) {
                    /* int32 accumulation wraps like the spec's int32 arithmetic would. */
                    ((int32_t *)y->data)[oi] = (int32_t)(uint32_t)(uint64_t)acc;
                    continue;
                }
                float mult = lcv_i8_mult((float)qv_f(&rq->as, m), (float)qv_f(&rq->bs, n),
                                         (float)qv_f(&rq->ys, m));
                int32_t lo = y->dtype == LCV_DTYPE_UINT8 ? 0 : -128;
                lcv_store_i64(y->dtype, y->data, oi,
                              lcv_i8_requant(lcv_i32_wrap(acc), mult, qv_i(&rq->yzp, m), lo,
                                             lo + 255));
            }
        }
    }
}

static lcv_status matmul_integer_params(lcv_opctx *c, mm_shape *s, qvec *azp, qvec *bzp) {
    lcv_status st;
    if ((st = q_need_q8(c, 0, "A")) != LCV_OK || (st = q_need_q8(c, 1, "B")) != LCV_OK) return st;
    if ((st = mm_shape_of(c, c->in[0], c->in[1], s)) != LCV_OK) return st;
    if ((st = q_vec(c, 2, "a_zero_point", s->M, azp)) != LCV_OK) return st;
    if ((st = q_vec(c, 3, "b_zero_point", s->N, bzp)) != LCV_OK) return st;
    if ((st = q_need_zp_like(c, azp, c->in[0]->dtype, "a_zero_point")) != LCV_OK) return st;
    return q_need_zp_like(c, bzp, c->in[1]->dtype, "b_zero_point");
}

lcv_status lcv_infer_matmul_integer(lcv_opctx *c) {
    mm_shape s;
    qvec azp, bzp;
    lcv_status st = matmul_integer_params(c, &s, &azp, &bzp);
    if (st != LCV_OK) return st;
    lcv_op_set_out(c, 0, LCV_DTYPE_INT32, s.out_nd, s.out);
    return LCV_OK;
}

lcv_status lcv_exec_matmul_integer(lcv_opctx *c) {
    mm_shape s;
    qvec azp, bzp;
    lcv_status st = matmul_integer_params(c, &s, &azp, &bzp);
    if (st != LCV_OK) return st;
    mm_run(&s, c->in[0], c->in[1], &azp, &bzp, NULL, c->out[0]);
    return LCV_OK;
}

/* QLinearMatMul inputs: a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp. */
static lcv_status qlinear_matmul_params(lcv_opctx *c, mm_shape *s, qvec *azp, qvec *bzp,
                                        mm_requant *rq) {
    lcv_status st;
    if ((st = q_need_q8(c, 0, "a")) != LCV_OK || (st = q_need_q8(c, 3, "b")) != LCV_OK ||
        (st = q_need_q8(c, 7, "y_zero_point")) != LCV_OK)
        return st;
    if ((st = mm_shape_of(c, c->in[0], c->in[3], s)) != LCV_OK) return st;
    if ((st = q_vec(c, 1, "a_scale", s->M, &rq->as)) != LCV_OK ||
        (st = q_vec(c, 2, "a_zero_point", s->M, azp)) != LCV_OK ||
        (st = q_vec(c, 4, "b_scale", s->N, &rq->bs)) != LCV_OK ||
        (st = q_vec(c, 5, "b_zero_point", s->N, bzp)) != LCV_OK ||
        (st = q_vec(c, 6, "y_scale", s->M, &rq->ys)) != LCV_OK ||
        (st = q_vec(c, 7, "y_zero_point", s->M, &rq->yzp)) != LCV_OK)
        return st;
    if ((st = q_need_float(c, &rq->as, "a_scale")) != LCV_OK ||
        (st = q_need_float(c, &rq->bs, "b_scale")) != LCV_OK ||
        (st = q_need_float(c, &rq->ys, "y_scale")) != LCV_OK ||
        (st = q_need_zp_like(c, azp, c->in[0]->dtype, "a_zero_point")) != LCV_OK ||
        (st = q_need_zp_like(c, bzp, c->in[3]->dtype, "b_zero_point")) != LCV_OK)
        return st;
    return LCV_OK;
}

lcv_status lcv_infer_qlinear_matmul(lcv_opctx *c) {
    mm_shape s;
    qvec azp, bzp;
    mm_requant rq;
    lcv_status st = qlinear_matmul_params(c, &s, &azp, &bzp, &rq);
    if (st != LCV_OK) return st;
    lcv_op_set_out(c, 0, c->in[7]->dtype, s.out_nd, s.out);
    return LCV_OK;
}

lcv_status lcv_exec_qlinear_matmul(lcv_opctx *c) {
    mm_shape s;
    qvec azp, bzp;
    mm_requant rq;
    lcv_status st = qlinear_matmul_params(c, &s, &azp, &bzp, &rq);
    if (st != LCV_OK) return st;
    mm_run(&s, c->in[0], c->in[3], &azp, &bzp, &rq, c->out[0]);
    return LCV_OK;
}
