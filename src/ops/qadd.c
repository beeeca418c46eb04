/* qadd.c - QLinearAdd (domain com.microsoft, as ONNX Runtime defines it): C = Q(DQ(A) +
 * DQ(B)) on int8/uint8 tensors with per-tensor scales and zero points (absent zero points are
 * 0), numpy broadcasting. The arithmetic is leancv's float chain DequantizeLinear x2 -> Add ->
 * QuantizeLinear, step for step (quant.c), so that fuse_qdq may write this op in place of the
 * chain without changing one bit; ONNX Runtime's own kernel may round a value differently. A
 * fused Relu (node->fused, from fuse_qdq) is applied by lcv_op_apply_fused at the zero point. */
#include <math.h>

#include "quant_util.h"

/* Inputs: A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point. */
typedef struct qadd_params {
    qvec as, az, bs, bz, cs, cz;
} qadd_params;

static lcv_status qadd_params_of(lcv_opctx *c, qadd_params *p) {
    lcv_status st;
    const lcv_tensor *a = c->in[0], *b = c->in[3];
    if ((st = q_need_q8(c, 0, "A")) != LCV_OK || (st = q_need_q8(c, 3, "B")) != LCV_OK) return st;
    if (a->dtype != b->dtype)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "A is %s but B is %s: they must have one type",
                           lcv_dtype_name(a->dtype), lcv_dtype_name(b->dtype));
    if (!c->in[1] || !c->in[4] || !c->in[6])
        return lcv_op_fail(c, LCV_ERR_SHAPE, "A_scale, B_scale and C_scale are required");
    if ((st = q_vec(c, 1, "A_scale", 0, &p->as)) != LCV_OK ||
        (st = q_vec(c, 2, "A_zero_point", 0, &p->az)) != LCV_OK ||
        (st = q_vec(c, 4, "B_scale", 0, &p->bs)) != LCV_OK ||
        (st = q_vec(c, 5, "B_zero_point", 0, &p->bz)) != LCV_OK ||
        (st = q_vec(c, 6, "C_scale", 0, &p->cs)) != LCV_OK ||
        (st = q_vec(c, 7, "C_zero_point", 0, &p->cz)) != LCV_OK)
        return st;
    if ((st = q_need_float(c, &p->as, "A_scale")) != LCV_OK ||
        (st = q_need_float(c, &p->bs, "B_scale")) != LCV_OK ||
        (st = q_need_float(c, &p->cs, "C_scale")) != LCV_OK ||
        (st = q_need_zp_like(c, &p->az, a->dtype, "A_zero_point")) != LCV_OK ||
        (st = q_need_zp_like(c, &p->bz, a->dtype, "B_zero_point")) != LCV_OK ||
        (st = q_need_zp_like(c, &p->cz, a->dtype, "C_zero_point")) != LCV_OK)
        return st;
    return LCV_OK;
}

lcv_status lcv_infer_qlinear_add(lcv_opctx *c) {
    qadd_params p;
    lcv_status st = qadd_params_of(c, &p);
    if (st != LCV_OK) return st;
    const lcv_tensor *a = c->in[0], *b = c->in[3];
    int nd = 0;
    int64_t dims[LCV_MAX_DIMS];
    if ((st = lcv_op_broadcast(c, a->ndim, a->dims, b->ndim, b->dims, &nd, dims)) != LCV_OK)
        return st;
    lcv_op_set_out(c, 0, a->dtype, nd, dims);
    return LCV_OK;
}

lcv_status lcv_exec_qlinear_add(lcv_opctx *c) {
    qadd_params p;
    lcv_status st = qadd_params_of(c, &p);
    if (st != LCV_OK) return st;
    const lcv_tensor *a = c->in[0], *b = c->in[3];
    lcv_tensor *y = c->out[0];
    int64_t n = lcv_tensor_count(y), str[LCV_MAX_DIMS];
    lcv_shape_strides(y->ndim, y->dims, str);
    bool a_full = lcv_shape_equal(a->ndim, a->dims, y->ndim, y->dims);
    bool b_full = lcv_shape_equal(b->ndim, b->dims, y->ndim, y->dims);
    float sa = (float)qv_f(&p.as, 0), sb = (float)qv_f(&p.bs, 0), sc = (float)qv_f(&p.cs, 0);
    int32_t za = qv_i(&p.az, 0), zb = qv_i(&p.bz, 0), zc = qv_i(&p.cz, 0);
    for (int64_t i = 0; i < n; i++) {
        int64_t ia = a_full ? i : lcv_broadcast_index(i, y->ndim, y->dims, str, a->ndim, a->dims);
        int64_t ib = b_full ? i : lcv_broadcast_index(i, y->ndim, y->dims, str, b->ndim, b->dims);
        /* DequantizeLinear's value of each operand, their float32 sum, QuantizeLinear's
         * float32 quotient rounded half to even: one statement each, never contracted */
        float fa = (float)(lcv_load_i64(a->dtype, a->data, ia) - za) * sa;
        float fb = (float)(lcv_load_i64(b->dtype, b->data, ib) - zb) * sb;
        float t = fa + fb;
        float v = t / sc;
        lcv_store_f64(y->dtype, y->data, i, (double)nearbyintf(v) + zc);
    }
    return LCV_OK;
}
