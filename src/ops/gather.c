/* gather.c - indexing ops that read: Gather, GatherElements, GatherND, OneHot, Compress and
 * NonZero. Shapes and dtypes are validated in infer; index values come from data, so exec
 * bounds-checks every one before it is used. Elements move as raw bytes, so any dtype works.
 * Shared index helpers live in index_util.h (also used by scatter.c). */
#include <string.h>

#include "index_util.h"

/* ---- Gather ---- */

lcv_status lcv_infer_gather(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0], *idx = c->in[1];
    lcv_status st;
    if ((st = lcv_index_need_data(c, x, "data")) != LCV_OK) return st;
    if ((st = lcv_index_need_int(c, idx, "indices")) != LCV_OK) return st;
    int ax;
    if ((st = lcv_op_axis(c, lcv_attr_int(c->node, "axis", 0), x->ndim, &ax)) != LCV_OK)
        return st;
    int rank = x->ndim - 1 + idx->ndim;
    if (rank > LCV_MAX_DIMS)
        return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "output rank %d exceeds %d", rank,
                           LCV_MAX_DIMS);
    int64_t dims[LCV_MAX_DIMS];
    int n = 0;
    for (int i = 0; i < ax; i++) dims[n++] = x->dims[i];
    for (int i = 0; i < idx->ndim; i++) dims[n++] = idx->dims[i];
    for (int i = ax + 1; i < x->ndim; i++) dims[n++] = x->dims[i];
    lcv_op_set_out(c, 0, x->dtype, rank, dims);
    return LCV_OK;
}

lcv_status lcv_exec_gather(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0], *idx = c->in[1];
    int ax;
    lcv_status st = lcv_op_axis(c, lcv_attr_int(c->node, "axis", 0), x->ndim, &ax);
    if (st != LCV_OK) return st;
    int64_t outer = 1, inner = 1, n = x->dims[ax], ni = lcv_tensor_count(idx);
    for (int i = 0; i < ax; i++) outer *= x->dims[i];
    for (int i = ax + 1; i < x->ndim; i++) inner *= x->dims[i];
    /* Validate all indices once so the copy loop below can trust them. */
    for (int64_t j = 0; j < ni; j++) {
        int64_t k = 0;
        if ((st = lcv_index_fix(c, lcv_index_load(idx, j), n, "indices", &k)) != LCV_OK)
            return st;
    }
    size_t es = lcv_dtype_size(x->dtype), row = (size_t)inner * es;
    const char *src = x->data;
    char *dst = c->out[0]->data;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t j = 0; j < ni; j++) {
            int64_t k = lcv_index_load(idx, j);
            if (k < 0) k += n;
            memcpy(dst, src + (size_t)(o * n + k) * row, row);
            dst += row;
        }
    }
    return LCV_OK;
}

/* ---- GatherElements ---- */

lcv_status lcv_infer_gather_elements(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0], *idx = c->in[1];
    lcv_status st;
    if ((st = lcv_index_need_data(c, x, "data")) != LCV_OK) return st;
    if ((st = lcv_index_need_int(c, idx, "indices")) != LCV_OK) return st;
    int ax;
    if ((st = lcv_op_axis(c, lcv_attr_int(c->node, "axis", 0), x->ndim, &ax)) != LCV_OK)
        return st;
    if ((st = lcv_index_same_rank_within(c, x, idx, ax, "indices")) != LCV_OK) return st;
    lcv_op_set_out(c, 0, x->dtype, idx->ndim, idx->dims);
    return LCV_OK;
}

lcv_status lcv_exec_gather_elements(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0], *idx = c->in[1];
    int ax;
    lcv_status st = lcv_op_axis(c, lcv_attr_int(c->node, "axis", 0), x->ndim, &ax);
    if (st != LCV_OK) return st;
    int r = x->ndim;
    int64_t xs[LCV_MAX_DIMS], coord[LCV_MAX_DIMS] = {0};
    lcv_shape_strides(r, x->dims, xs);
    int64_t ni = lcv_tensor_count(idx);
    size_t es = lcv_dtype_size(x->dtype);
    const char *src = x->data;
    char *dst = c->out[0]->data;
    for (int64_t j = 0; j < ni; j++) {
        int64_t k = 0;
        if ((st = lcv_index_fix(c, lcv_index_load(idx, j), x->dims[ax], "indices", &k)) != LCV_OK)
            return st;
        int64_t off = 0;
        for (int d = 0; d < r; d++) off += (d == ax ? k : coord[d]) * xs[d];
        memcpy(dst + (size_t)j * es, src + (size_t)off * es, es);
        lcv_index_next(r, idx->dims, coord);
    }
    return LCV_OK;
}

/* ---- GatherND ---- */

static lcv_status gather_nd_batch(lcv_opctx *c, int *b) {
    const lcv_tensor *x = c->in[0], *idx = c->in[1];
    int64_t bd = c->node->opset >= 12 ? lcv_attr_int(c->node, "batch_dims", 0) : 0;
    int lim = x->ndim < idx->ndim ? x->ndim : idx->ndim;
    if (bd < 0 || bd >= lim)
        return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "batch_dims %lld must be in [0, %d)",
                           (long long)bd, lim);
    *b = (int)bd;
    return LCV_OK;
}

lcv_status lcv_infer_gather_nd(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0], *idx = c->in[1];
    lcv_status st;
    if ((st = lcv_index_need_data(c, x, "data")) != LCV_OK) return st;
    if ((st = lcv_index_need_int(c, idx, "indices")) != LCV_OK) return st;
    if (x->ndim < 1 || idx->ndim < 1)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "data (rank %d) and indices (rank %d) need rank "
                           ">= 1", x->ndim, idx->ndim);
    int b = 0;
    if ((st = gather_nd_batch(c, &b)) != LCV_OK) return st;
    int64_t last = idx->dims[idx->ndim - 1];
    if (last < 0 || last > x->ndim - b)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "indices' last dim %lld must be in [0, %d] (data "
                           "rank %d, batch_dims %d)", (long long)last, x->ndim - b, x->ndim, b);
    for (int i = 0; i < b; i++)
        if (x->dims[i] != idx->dims[i])
            return lcv_op_fail(c, LCV_ERR_SHAPE, "batch dim %d differs: data %lld, indices %lld",
                               i, (long long)x->dims[i], (long long)idx->dims[i]);
    int rank = idx->ndim - 1 + x->ndim - b - (int)last;
    if (rank > LCV_MAX_DIMS)
        return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "output rank %d exceeds %d", rank,
                           LCV_MAX_DIMS);
    int64_t dims[LCV_MAX_DIMS];
    int n = 0;
    for (int i = 0; i < idx->ndim - 1; i++) dims[n++] = idx->dims[i];
    for (int i = b + (int)last; i < x->ndim; i++) dims[n++] = x->dims[i];
    lcv_op_set_out(c, 0, x->dtype, rank, dims);
    return LCV_OK;
}

lcv_status lcv_exec_gather_nd(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0], *idx = c->in[1];
    int b = 0;
    lcv_status st = gather_nd_batch(c, &b);
    if (st != LCV_OK) return st;
    int last = (int)idx->dims[idx->ndim - 1];
    int64_t nb = 1, tuples = 1, slice = 1, xstr[LCV_MAX_DIMS];
    for (int i = 0; i < b; i++) nb *= x->dims[i];
    for (int i = b; i < idx->ndim - 1; i++) tuples *= idx->dims[i];
    for (int i = b + last; i < x->ndim; i++) slice *= x->dims[i];
    lcv_shape_strides(x->ndim, x->dims, xstr);
    int64_t xbatch = b > 0 ? xstr[b - 1] : lcv_tensor_count(x);
    size_t es = lcv_dtype_size(x->dtype), sbytes = (size_t)slice * es;
    const char *src = x->data;
    char *dst = c->out[0]->data;
    int64_t t = 0;
    for (int64_t bi = 0; bi < nb; bi++) {
        for (int64_t j = 0; j < tuples; j++, t++) {
            int64_t off = bi * xbatch;
            for (int q = 0; q < last; q++) {
                int64_t k = 0;
                st = lcv_index_fix(c, lcv_index_load(idx, t * last + q), x->dims[b + q],
                                   "indices", &k);
                if (st != LCV_OK) return st;
                off += k * xstr[b + q];
            }
            memcpy(dst, src + (size_t)off * es, sbytes);
            dst += sbytes;
        }
    }
    return LCV_OK;
}

/* ---- OneHot ---- */

static lcv_status onehot_params(lcv_opctx *c, int *ax, int64_t *depth) {
    const lcv_tensor *idx = c->in[0], *dep = c->in[1], *vals = c->in[2];
    lcv_status st;
    if ((st = lcv_index_need_num(c, idx, "indices")) != LCV_OK) return st;
    if ((st = lcv_index_need_num(c, dep, "depth")) != LCV_OK) return st;
    if ((st = lcv_index_need_data(c, vals, "values")) != LCV_OK) return st;
    if (vals->ndim != 1 || vals->dims[0] != 2)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "values must have shape [2], got rank %d with %lld "
                           "elements", vals->ndim, (long long)lcv_tensor_count(vals));
    if (lcv_tensor_count(dep) != 1 || dep->ndim > 1)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "depth must be a scalar or have one element");
    if (idx->ndim + 1 > LCV_MAX_DIMS)
        return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "output rank %d exceeds %d", idx->ndim + 1,
                           LCV_MAX_DIMS);
    if ((st = lcv_op_axis(c, lcv_attr_int(c->node, "axis", -1), idx->ndim + 1, ax)) != LCV_OK)
        return st;
    if (!dep->data) return LCV_DEFERRED;
    double d = lcv_load_f64(dep->dtype, dep->data, 0);
    if (!(d >= 1.0) || d > 4611686018427387904.0)
        return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "depth %g must be a positive count", d);
    *depth = lcv_load_i64(dep->dtype, dep->data, 0);
    return LCV_OK;
}

lcv_status lcv_infer_onehot(lcv_opctx *c) {
    int ax;
    int64_t depth;
    lcv_status st = onehot_params(c, &ax, &depth);
    if (st != LCV_OK) return st;
    const lcv_tensor *idx = c->in[0];
    int64_t dims[LCV_MAX_DIMS];
    for (int i = 0, k = 0; i <= idx->ndim; i++)
        dims[i] = i == ax ? depth : idx->dims[k++];
    lcv_op_set_out(c, 0, c->in[2]->dtype, idx->ndim + 1, dims);
    return LCV_OK;
}

lcv_status lcv_exec_onehot(lcv_opctx *c) {
    int ax;
    int64_t depth;
    lcv_status st = onehot_params(c, &ax, &depth);
    if (st != LCV_OK) return st;
    const lcv_tensor *idx = c->in[0], *vals = c->in[2];
    lcv_tensor *y = c->out[0];
    size_t es = lcv_dtype_size(vals->dtype);
    const char *off_v = vals->data, *on_v = off_v + es;
    char *dst = y->data;
    int64_t total = lcv_tensor_count(y), outer = 1, inner = 1;
    for (int i = 0; i < ax; i++) outer *= idx->dims[i];
    for (int i = ax; i < idx->ndim; i++) inner *= idx->dims[i];
    for (int64_t i = 0; i < total; i++) memcpy(dst + (size_t)i * es, off_v, es);
    /* Indices outside [-depth, depth-1] leave an all-off row, as the spec asks. */
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t k = lcv_load_i64(idx->dtype, idx->data, o * inner + i);
            if (k < 0) k += depth;
            if (k < 0 || k >= depth) continue;
            memcpy(dst + (size_t)((o * depth + k) * inner + i) * es, on_v, es);
        }
    return LCV_OK;
}

/* ---- Compress ---- */

/* Resolves the axis (-1 = flattened input) and counts the selected entries. */
static lcv_status compress_params(lcv_opctx *c, int *ax, int64_t *len, int64_t *count) {
    const lcv_tensor *x = c->in[0], *cond = c->in[1];
    lcv_status st;
    if ((st = lcv_index_need_data(c, x, "input")) != LCV_OK) return st;
    if (cond->dtype != LCV_DTYPE_BOOL || cond->ndim != 1)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "condition must be a 1-D bool tensor, got %s of "
                           "rank %d", lcv_dtype_name(cond->dtype), cond->ndim);
    const lcv_attr *a = lcv_attr_find(c->node, "axis");
    *ax = -1;
    *len = lcv_tensor_count(x);
    if (a) {
        if ((st = lcv_op_axis(c, lcv_attr_int(c->node, "axis", 0), x->ndim, ax)) != LCV_OK)
            return st;
        *len = x->dims[*ax];
    }
    if (cond->dims[0] > *len)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "condition has %lld entries but the %s has %lld",
                           (long long)cond->dims[0], a ? "axis" : "flattened input",
                           (long long)*len);
    if (!cond->data) return LCV_DEFERRED;
    const uint8_t *cv = cond->data;
    int64_t n = 0;
    for (int64_t i = 0; i < cond->dims[0]; i++) n += cv[i] != 0;
    *count = n;
    return LCV_OK;
}

lcv_status lcv_infer_compress(lcv_opctx *c) {
    int ax;
    int64_t len = 0, count = 0;
    lcv_status st = compress_params(c, &ax, &len, &count);
    if (st != LCV_OK) return st;
    const lcv_tensor *x = c->in[0];
    if (ax < 0) {
        lcv_op_set_out(c, 0, x->dtype, 1, &count);
    } else {
        int64_t dims[LCV_MAX_DIMS];
        memcpy(dims, x->dims, sizeof dims);
        dims[ax] = count;
        lcv_op_set_out(c, 0, x->dtype, x->ndim, dims);
    }
    return LCV_OK;
}

lcv_status lcv_exec_compress(lcv_opctx *c) {
    int ax;
    int64_t len = 0, count = 0;
    lcv_status st = compress_params(c, &ax, &len, &count);
    if (st != LCV_OK) return st;
    const lcv_tensor *x = c->in[0], *cond = c->in[1];
    int64_t outer = 1, inner = 1;
    if (ax >= 0) {
        for (int i = 0; i < ax; i++) outer *= x->dims[i];
        for (int i = ax + 1; i < x->ndim; i++) inner *= x->dims[i];
    }
    size_t row = (size_t)inner * lcv_dtype_size(x->dtype);
    const uint8_t *cv = cond->data;
    const char *src = x->data;
    char *dst = c->out[0]->data;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < cond->dims[0]; j++)
            if (cv[j]) {
                memcpy(dst, src + (size_t)(o * len + j) * row, row);
                dst += row;
            }
    return LCV_OK;
}

/* ---- NonZero ---- */

static bool elem_nonzero(const lcv_tensor *t, int64_t i) {
    if (lcv_dtype_is_float(t->dtype)) return lcv_load_f64(t->dtype, t->data, i) != 0.0;
    return lcv_load_i64(t->dtype, t->data, i) != 0;
}

lcv_status lcv_infer_nonzero(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0];
    lcv_status st = lcv_index_need_num(c, x, "X");
    if (st != LCV_OK) return st;
    if (!x->data) return LCV_DEFERRED;
    int64_t n = lcv_tensor_count(x), nz = 0;
    for (int64_t i = 0; i < n; i++) nz += elem_nonzero(x, i);
    /* A scalar is treated as a 1-element vector, so its coordinate list has one row. */
    int64_t dims[2] = {x->ndim > 0 ? x->ndim : 1, nz};
    lcv_op_set_out(c, 0, LCV_DTYPE_INT64, 2, dims);
    return LCV_OK;
}

lcv_status lcv_exec_nonzero(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0];
    lcv_tensor *y = c->out[0];
    int64_t n = lcv_tensor_count(x), nz = y->dims[1], j = 0;
    int64_t coord[LCV_MAX_DIMS] = {0};
    int64_t *o = y->data;
    for (int64_t i = 0; i < n; i++) {
        if (elem_nonzero(x, i)) {
            if (j >= nz)
                return lcv_op_fail(c, LCV_ERR_INTERNAL, "non-zero count changed since infer");
            if (x->ndim == 0) o[j] = 0;
            for (int d = 0; d < x->ndim; d++) o[d * nz + j] = coord[d];
            j++;
        }
        lcv_index_next(x->ndim, x->dims, coord);
    }
    return LCV_OK;
}
