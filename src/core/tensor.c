/* tensor.c - the lcv_tensor object: public accessors and the internal grow-only buffer logic
 * that lets a session reuse its buffers from run to run. */
#include <stdlib.h>
#include <string.h>

#include "core.h"

void lcv_tensor_init(lcv_tensor *t) {
    memset(t, 0, sizeof *t);
    t->owns_data = true;
}

void lcv_tensor_release(lcv_tensor *t) {
    if (t->owns_data) free(t->data);
    lcv_tensor_init(t);
}

int64_t lcv_tensor_count(const lcv_tensor *t) {
    int64_t n = 0;
    if (!lcv_shape_numel(t->ndim, t->dims, &n)) return 0;
    return n;
}

lcv_status lcv_tensor_reshape_alloc(lcv_tensor *t, lcv_dtype dtype, int ndim, const int64_t *dims,
                                    lcv_err *e) {
    size_t esize = lcv_dtype_size(dtype);
    if (esize == 0)
        return lcv_fail(e, LCV_ERR_UNSUPPORTED, "dtype %s cannot be stored in a tensor",
                        lcv_dtype_name(dtype));
    if (ndim < 0 || ndim > LCV_MAX_DIMS)
        return lcv_fail(e, LCV_ERR_UNSUPPORTED, "rank %d exceeds the supported maximum %d", ndim,
                        LCV_MAX_DIMS);
    int64_t numel;
    size_t bytes;
    if (!lcv_shape_numel(ndim, dims, &numel) || !lcv_mul_size((size_t)numel, esize, &bytes)) {
        char buf[128];
        return lcv_fail(e, LCV_ERR_NOMEM, "tensor shape %s is negative or too large",
                        lcv_shape_str(ndim, dims, buf, sizeof buf));
    }
    if (!t->owns_data) {
        t->data = NULL;
        t->capacity = 0;
        t->owns_data = true;
    }
    if (bytes > t->capacity || t->data == NULL) {
        size_t want = bytes ? bytes : 1;
        void *p = realloc(t->data, want);
        if (!p) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory allocating %zu bytes", want);
        t->data = p;
        t->capacity = want;
    }
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->dims[i] = dims[i];
    return LCV_OK;
}

lcv_status lcv_tensor_copy_into(lcv_tensor *dst, const lcv_tensor *src, lcv_err *e) {
    lcv_status st = lcv_tensor_reshape_alloc(dst, src->dtype, src->ndim, src->dims, e);
    if (st != LCV_OK) return st;
    size_t n = (size_t)lcv_tensor_count(src) * lcv_dtype_size(src->dtype);
    if (n) memcpy(dst->data, src->data, n);
    return LCV_OK;
}

/* ---- public API ---- */

lcv_status lcv_tensor_create(lcv_dtype dtype, int ndim, const int64_t *dims, lcv_tensor **out) {
    if (!out) return LCV_ERR_INVALID_ARG;
    *out = NULL;
    if (ndim < 0 || ndim > LCV_MAX_DIMS || (ndim > 0 && !dims) || lcv_dtype_size(dtype) == 0)
        return LCV_ERR_INVALID_ARG;
    lcv_tensor *t = malloc(sizeof *t);
    if (!t) return LCV_ERR_NOMEM;
    lcv_tensor_init(t);
    lcv_status st = lcv_tensor_reshape_alloc(t, dtype, ndim, dims, NULL);
    if (st != LCV_OK) {
        free(t);
        return st == LCV_ERR_NOMEM ? LCV_ERR_NOMEM : LCV_ERR_INVALID_ARG;
    }
    memset(t->data, 0, t->capacity);
    *out = t;
    return LCV_OK;
}

void lcv_tensor_free(lcv_tensor *t) {
    if (!t) return;
    lcv_tensor_release(t);
    free(t);
}

lcv_dtype lcv_tensor_dtype(const lcv_tensor *t) { return t->dtype; }
int lcv_tensor_ndim(const lcv_tensor *t) { return t->ndim; }
int64_t lcv_tensor_dim(const lcv_tensor *t, int i) {
    return (i >= 0 && i < t->ndim) ? t->dims[i] : 0;
}
int64_t lcv_tensor_numel(const lcv_tensor *t) { return lcv_tensor_count(t); }
size_t lcv_tensor_nbytes(const lcv_tensor *t) {
    return (size_t)lcv_tensor_count(t) * lcv_dtype_size(t->dtype);
}
void *lcv_tensor_data(lcv_tensor *t) { return t->data; }
const void *lcv_tensor_cdata(const lcv_tensor *t) { return t->data; }
