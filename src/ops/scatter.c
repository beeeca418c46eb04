/* scatter.c - indexing ops that write: ScatterElements (and the deprecated Scatter) and
 * ScatterND, with the reductions none/add/mul (opset 16) and max/min (opset 18). The output
 * starts as a copy of data; index values are bounds-checked in exec before each write. */
#include <string.h>

#include "index_util.h"

typedef enum scatter_red { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN } scatter_red;

static lcv_status scatter_reduction(lcv_opctx *c, scatter_red *red) {
    const char *s = lcv_attr_str(c->node, "reduction", "none");
    int opset = c->node->opset;
    *red = RED_NONE;
    if (strcmp(s, "none") == 0) return LCV_OK;
    if (c->node->op != LCV_OP_Scatter && opset >= 16) {
        if (strcmp(s, "add") == 0) { *red = RED_ADD; return LCV_OK; }
        if (strcmp(s, "mul") == 0) { *red = RED_MUL; return LCV_OK; }
        if (opset >= 18 && strcmp(s, "max") == 0) { *red = RED_MAX; return LCV_OK; }
        if (opset >= 18 && strcmp(s, "min") == 0) { *red = RED_MIN; return LCV_OK; }
    }
    return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "reduction '%s' is not supported at opset %d",
                       s, opset);
}

/* Combines update element j of u into element i of y (same dtype). */
static void scatter_apply(scatter_red red, lcv_tensor *y, int64_t i, const lcv_tensor *u,
                          int64_t j, size_t es) {
    char *yp = y->data;
    const char *up = u->data;
    if (red == RED_NONE) {
        memcpy(yp + (size_t)i * es, up + (size_t)j * es, es);
    } else if (lcv_dtype_is_float(y->dtype)) {
        double a = lcv_load_f64(y->dtype, y->data, i), b = lcv_load_f64(u->dtype, u->data, j);
        double r = red == RED_ADD ? a + b
                   : red == RED_MUL ? a * b
                   : red == RED_MAX ? (b > a ? b : a)
                                    : (b < a ? b : a);
        lcv_store_f64(y->dtype, y->data, i, r);
    } else {
        int64_t a = lcv_load_i64(y->dtype, y->data, i), b = lcv_load_i64(u->dtype, u->data, j);
        /* Wrapping arithmetic through uint64 keeps integer overflow defined. */
        int64_t r = red == RED_ADD   ? (int64_t)((uint64_t)a + (uint64_t)b)
                    : red == RED_MUL ? (int64_t)((uint64_t)a * (uint64_t)b)
                    : red == RED_MAX ? (b > a ? b : a)
                                     : (b < a ? b : a);
        lcv_store_i64(y->dtype, y->data, i, r);
    }
}

static lcv_status need_updates(lcv_opctx *c, const lcv_tensor *x, const lcv_tensor *u) {
    if (u->dtype != x->dtype)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "updates dtype %s differs from data dtype %s",
                           lcv_dtype_name(u->dtype), lcv_dtype_name(x->dtype));
    return LCV_OK;
}

/* ---- ScatterElements / Scatter ---- */

lcv_status lcv_infer_scatter_elements(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0], *idx = c->in[1], *u = c->in[2];
    lcv_status st;
    scatter_red red;
    if ((st = lcv_index_need_data(c, x, "data")) != LCV_OK) return st;
    if ((st = lcv_index_need_int(c, idx, "indices")) != LCV_OK) return st;
    if ((st = need_updates(c, x, u)) != LCV_OK) return st;
    if ((st = scatter_reduction(c, &red)) != LCV_OK) return st;
    if (red != RED_NONE && (st = lcv_index_need_num(c, x, "data")) != LCV_OK) return st;
    int ax = 0;
    if ((st = lcv_op_axis(c, lcv_attr_int(c->node, "axis", 0), x->ndim, &ax)) != LCV_OK)
        return st;
    if ((st = lcv_index_same_rank_within(c, x, idx, ax, "indices")) != LCV_OK) return st;
    if (!lcv_shape_equal(idx->ndim, idx->dims, u->ndim, u->dims)) {
        char a[128], b[128];
        return lcv_op_fail(c, LCV_ERR_SHAPE, "updates shape %s differs from indices shape %s",
                           lcv_shape_str(u->ndim, u->dims, a, sizeof a),
                           lcv_shape_str(idx->ndim, idx->dims, b, sizeof b));
    }
    lcv_op_set_out(c, 0, x->dtype, x->ndim, x->dims);
    return LCV_OK;
}

lcv_status lcv_exec_scatter_elements(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0], *idx = c->in[1], *u = c->in[2];
    lcv_tensor *y = c->out[0];
    scatter_red red;
    int ax = 0;
    lcv_status st = scatter_reduction(c, &red);
    if (st != LCV_OK) return st;
    if ((st = lcv_op_axis(c, lcv_attr_int(c->node, "axis", 0), x->ndim, &ax)) != LCV_OK)
        return st;
    size_t es = lcv_dtype_size(x->dtype);
    if (y->data != x->data) memcpy(y->data, x->data, (size_t)lcv_tensor_count(x) * es);
    int r = x->ndim;
    int64_t xs[LCV_MAX_DIMS], coord[LCV_MAX_DIMS] = {0};
    lcv_shape_strides(r, x->dims, xs);
    int64_t ni = lcv_tensor_count(idx);
    for (int64_t j = 0; j < ni; j++) {
        int64_t k = 0;
        if ((st = lcv_index_fix(c, lcv_index_load(idx, j), x->dims[ax], "indices", &k)) != LCV_OK)
            return st;
        int64_t off = 0;
        for (int d = 0; d < r; d++) off += (d == ax ? k : coord[d]) * xs[d];
        scatter_apply(red, y, off, u, j, es);
        lcv_index_next(r, idx->dims, coord);
    }
    return LCV_OK;
}

/* ---- ScatterND ---- */

lcv_status lcv_infer_scatter_nd(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0], *idx = c->in[1], *u = c->in[2];
    lcv_status st;
    scatter_red red;
    if ((st = lcv_index_need_data(c, x, "data")) != LCV_OK) return st;
    if ((st = lcv_index_need_int(c, idx, "indices")) != LCV_OK) return st;
    if ((st = need_updates(c, x, u)) != LCV_OK) return st;
    if ((st = scatter_reduction(c, &red)) != LCV_OK) return st;
    if (red != RED_NONE && (st = lcv_index_need_num(c, x, "data")) != LCV_OK) return st;
    if (x->ndim < 1 || idx->ndim < 1)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "data (rank %d) and indices (rank %d) need rank "
                           ">= 1", x->ndim, idx->ndim);
    int64_t k = idx->dims[idx->ndim - 1];
    if (k < 1 || k > x->ndim)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "indices' last dim %lld must be in [1, %d]",
                           (long long)k, x->ndim);
    int64_t want[2 * LCV_MAX_DIMS];
    int n = 0;
    for (int i = 0; i < idx->ndim - 1; i++) want[n++] = idx->dims[i];
    for (int i = (int)k; i < x->ndim; i++) want[n++] = x->dims[i];
    if (!lcv_shape_equal(u->ndim, u->dims, n, want)) {
        char a[128], b[128];
        return lcv_op_fail(c, LCV_ERR_SHAPE, "updates shape %s, expected %s",
                           lcv_shape_str(u->ndim, u->dims, a, sizeof a),
                           lcv_shape_str(n > LCV_MAX_DIMS ? LCV_MAX_DIMS : n, want, b, sizeof b));
    }
    lcv_op_set_out(c, 0, x->dtype, x->ndim, x->dims);
    return LCV_OK;
}

lcv_status lcv_exec_scatter_nd(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0], *idx = c->in[1], *u = c->in[2];
    lcv_tensor *y = c->out[0];
    scatter_red red;
    lcv_status st = scatter_reduction(c, &red);
    if (st != LCV_OK) return st;
    size_t es = lcv_dtype_size(x->dtype);
    if (y->data != x->data) memcpy(y->data, x->data, (size_t)lcv_tensor_count(x) * es);
    int k = (int)idx->dims[idx->ndim - 1];
    int64_t xs[LCV_MAX_DIMS], tuples = 1, slice = 1;
    lcv_shape_strides(x->ndim, x->dims, xs);
    for (int i = 0; i < idx->ndim - 1; i++) tuples *= idx->dims[i];
    for (int i = k; i < x->ndim; i++) slice *= x->dims[i];
    for (int64_t t = 0; t < tuples; t++) {
        int64_t off = 0;
        for (int q = 0; q < k; q++) {
            int64_t v = 0;
            st = lcv_index_fix(c, lcv_index_load(idx, t * k + q), x->dims[q], "indices", &v);
            if (st != LCV_OK) return st;
            off += v * xs[q];
        }
        for (int64_t s = 0; s < slice; s++) scatter_apply(red, y, off + s, u, t * slice + s, es);
    }
    return LCV_OK;
}
