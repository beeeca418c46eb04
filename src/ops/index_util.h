/* index_util.h - small helpers shared by the indexing ops (gather.c, scatter.c, topk.c): dtype
 * checks with op-naming errors, reading int32/int64 index values, normalising a possibly
 * negative index with a bounds check, and a row-major coordinate odometer. Private to src/ops. */
#ifndef LCV_OPS_INDEX_UTIL_H
#define LCV_OPS_INDEX_UTIL_H

#include "op.h"

/* t must hold a storable (fixed-size) dtype: anything but string/undefined. */
static inline lcv_status lcv_index_need_data(lcv_opctx *c, const lcv_tensor *t,
                                             const char *what) {
    if (lcv_dtype_size(t->dtype) == 0)
        return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "%s has unsupported dtype %s", what,
                           lcv_dtype_name(t->dtype));
    return LCV_OK;
}

/* t must be a numeric or bool tensor. */
static inline lcv_status lcv_index_need_num(lcv_opctx *c, const lcv_tensor *t,
                                            const char *what) {
    if (!lcv_dtype_is_float(t->dtype) && !lcv_dtype_is_int(t->dtype) &&
        t->dtype != LCV_DTYPE_BOOL)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "%s must be numeric, got %s", what,
                           lcv_dtype_name(t->dtype));
    return LCV_OK;
}

/* t must be an int32 or int64 index tensor. */
static inline lcv_status lcv_index_need_int(lcv_opctx *c, const lcv_tensor *t,
                                            const char *what) {
    if (t->dtype != LCV_DTYPE_INT32 && t->dtype != LCV_DTYPE_INT64)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "%s must be int32 or int64, got %s", what,
                           lcv_dtype_name(t->dtype));
    return LCV_OK;
}

/* Element i of an int32/int64 tensor. */
static inline int64_t lcv_index_load(const lcv_tensor *t, int64_t i) {
    return t->dtype == LCV_DTYPE_INT32 ? ((const int32_t *)t->data)[i]
                                       : ((const int64_t *)t->data)[i];
}

/* Maps v in [-n, n-1] to [0, n); anything else is an error naming the value. */
static inline lcv_status lcv_index_fix(lcv_opctx *c, int64_t v, int64_t n, const char *what,
                                       int64_t *out) {
    int64_t r = v < 0 ? v + n : v;
    if (r < 0 || r >= n)
        return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "%s value %lld is out of range [%lld, %lld]",
                           what, (long long)v, (long long)-n, (long long)(n - 1));
    *out = r;
    return LCV_OK;
}

/* idx must have x's rank (>= 1) and, off the axis ax, no dim larger than x's: the
 * GatherElements/ScatterElements rule that keeps the implied coordinates inside x. */
static inline lcv_status lcv_index_same_rank_within(lcv_opctx *c, const lcv_tensor *x,
                                                    const lcv_tensor *idx, int ax,
                                                    const char *what) {
    if (idx->ndim != x->ndim)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "%s has rank %d but data has rank %d", what,
                           idx->ndim, x->ndim);
    for (int d = 0; d < x->ndim; d++)
        if (d != ax && idx->dims[d] > x->dims[d])
            return lcv_op_fail(c, LCV_ERR_SHAPE, "%s dim %d is %lld, larger than data's %lld",
                               what, d, (long long)idx->dims[d], (long long)x->dims[d]);
    return LCV_OK;
}

/* Advances a row-major coordinate over dims by one element. */
static inline void lcv_index_next(int r, const int64_t *dims, int64_t *coord) {
    for (int d = r - 1; d >= 0; d--) {
        if (++coord[d] < dims[d]) return;
        coord[d] = 0;
    }
}

#endif /* LCV_OPS_INDEX_UTIL_H */
