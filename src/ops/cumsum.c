/* cumsum.c - CumSum: running sums along the axis given by the second input, with the exclusive
 * and reverse attributes. Floats accumulate in double, integers in wrapping int64 arithmetic. */
#include "op.h"

/* Reads the axis input (a scalar or 1-element tensor) and normalises it against rank. */
static lcv_status cumsum_axis(lcv_opctx *c, int rank, int *axis) {
    const lcv_tensor *a = c->in[1];
    if (a->ndim > 1)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "axis input must be a scalar, got rank %d", a->ndim);
    if (a->dtype != LCV_DTYPE_INT32 && a->dtype != LCV_DTYPE_INT64)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "axis input must be int32 or int64, got %s",
                           lcv_dtype_name(a->dtype));
    int64_t v = 0, n = 0;
    lcv_status st = lcv_op_read_ints(c, a, "axis input", &v, 1, &n);
    if (st != LCV_OK) return st;
    if (n != 1) return lcv_op_fail(c, LCV_ERR_SHAPE, "axis input must hold one value, has %lld",
                                   (long long)n);
    return lcv_op_axis(c, v, rank, axis);
}

lcv_status lcv_infer_cumsum(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0];
    if (!lcv_dtype_is_float(x->dtype) && !lcv_dtype_is_int(x->dtype))
        return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "input dtype %s is not supported",
                           lcv_dtype_name(x->dtype));
    if (x->ndim < 0 || x->ndim > LCV_MAX_DIMS)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "input rank %d is not supported", x->ndim);
    /* The output shape does not depend on the axis, so unknown axis data is checked at run. */
    int axis;
    lcv_status st = cumsum_axis(c, x->ndim, &axis);
    if (st != LCV_OK && st != LCV_DEFERRED) return st;
    lcv_op_set_out(c, 0, x->dtype, x->ndim, x->dims);
    return LCV_OK;
}

lcv_status lcv_exec_cumsum(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0];
    lcv_tensor *y = c->out[0];
    int axis;
    lcv_status st = cumsum_axis(c, x->ndim, &axis);
    if (st != LCV_OK) return st;
    bool exclusive = lcv_attr_int(c->node, "exclusive", 0) != 0;
    bool reverse = lcv_attr_int(c->node, "reverse", 0) != 0;
    if (lcv_tensor_count(x) == 0) return LCV_OK;
    int64_t n = x->dims[axis], inner = 1, outer = 1;
    for (int i = axis + 1; i < x->ndim; i++) inner *= x->dims[i];
    for (int i = 0; i < axis; i++) outer *= x->dims[i];
    bool is_int = lcv_dtype_is_int(x->dtype);
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t j = 0; j < inner; j++) {
            int64_t base = o * n * inner + j;
            double fs = 0.0;
            uint64_t is = 0;
            for (int64_t r = 0; r < n; r++) {
                int64_t i = base + (reverse ? n - 1 - r : r) * inner;
                if (is_int) {
                    uint64_t v = (uint64_t)lcv_load_i64(x->dtype, x->data, i);
                    if (!exclusive) is += v;
                    lcv_store_i64(y->dtype, y->data, i, (int64_t)is);
                    if (exclusive) is += v;
                } else {
                    double v = lcv_load_f64(x->dtype, x->data, i);
                    if (!exclusive) fs += v;
                    lcv_store_f64(y->dtype, y->data, i, fs);
                    if (exclusive) fs += v;
                }
            }
        }
    }
    return LCV_OK;
}
