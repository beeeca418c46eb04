/* reduce_grad.c - backward of ReduceSum and ReduceMean (reduce.c): dY broadcast back over the
 * reduced axes (divided by the number of reduced elements for the mean). The axes are read
 * as the forward reads them: the optional axes input when present, else the attribute; none
 * means all axes unless noop_with_empty_axes is set. */
#include <string.h>

#include "grad_util.h"
#include "layout_util.h"

static lcv_status reduced_axes(lcv_gradctx *c, int rank, bool *mask) {
    int64_t axes[LCV_MAX_DIMS], n = 0;
    const lcv_tensor *t = lcv_grad_input(c, 1);
    if (t) {
        if (!lcv_dtype_is_int(t->dtype) || t->ndim > 1 || lcv_tensor_count(t) > LCV_MAX_DIMS ||
            !t->data)
            return lcv_grad_fail(c, LCV_ERR_SHAPE, "axes input must be a 1-D integer tensor of "
                                 "at most %d values", LCV_MAX_DIMS);
        n = lcv_tensor_count(t);
        for (int64_t i = 0; i < n; i++) axes[i] = lcv_load_i64(t->dtype, t->data, i);
    } else {
        const int64_t *v;
        int64_t k = lcv_attr_ints(c->node, "axes", &v);
        if (k > LCV_MAX_DIMS)
            return lcv_grad_fail(c, LCV_ERR_SHAPE, "attribute 'axes' has %lld entries",
                                 (long long)k);
        for (int64_t i = 0; i < k; i++) axes[i] = v[i];
        n = k < 0 ? 0 : k;
    }
    bool noop = lcv_attr_int(c->node, "noop_with_empty_axes", 0) != 0;
    for (int i = 0; i < rank; i++) mask[i] = n == 0 && !noop;
    for (int64_t i = 0; i < n; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + rank : axes[i];
        if (a < 0 || a >= rank || mask[a])
            return lcv_grad_fail(c, LCV_ERR_SHAPE, "axis %lld is out of range or repeated",
                                 (long long)axes[i]);
        mask[a] = true;
    }
    return LCV_OK;
}

static lcv_status reduce_grad(lcv_gradctx *c, bool mean) {
    const float *dy;
    float *dx;
    lcv_status st = lcv_gradu_dout(c, 0, &dy);
    if (st == LCV_OK) st = lcv_gradu_din(c, 0, &dx);
    if (st != LCV_OK || !dx) return st;
    const lcv_tensor *x = c->in[0], *y = c->out[0];
    int r = x->ndim;
    bool mask[LCV_MAX_DIMS];
    if ((st = reduced_axes(c, r, mask)) != LCV_OK) return st;
    /* Y's shape with the reduced axes kept as 1 (what keepdims=1 gives), checked against Y. */
    int64_t kdims[LCV_MAX_DIMS], kstr[LCV_MAX_DIMS], nx = lcv_tensor_count(x);
    for (int k = 0; k < r; k++) kdims[k] = mask[k] ? 1 : x->dims[k];
    int64_t ny;
    lcv_shape_numel(r, kdims, &ny);
    if (ny != lcv_tensor_count(y))
        return lcv_grad_fail(c, LCV_ERR_SHAPE, "output has %lld elements, the reduction %lld",
                             (long long)lcv_tensor_count(y), (long long)ny);
    if (!dy || nx == 0) {
        memset(dx, 0, sizeof(float) * (size_t)nx);
        return LCV_OK;
    }
    lcv_shape_strides(r, kdims, kstr);
    lcv_walk w = {.nd = r, .block = sizeof(float)};
    for (int k = 0; k < r; k++) {
        w.dims[k] = x->dims[k];
        w.stride[k] = mask[k] ? 0 : kstr[k] * (int64_t)sizeof(float);
    }
    lcv_walk_simplify(&w);
    lcv_walk_copy(&w, dx, dy);
    if (mean) {
        float s = (float)(1.0 / (double)(nx / ny));
        for (int64_t i = 0; i < nx; i++) dx[i] *= s;
    }
    return LCV_OK;
}

lcv_status lcv_grad_reducesum(lcv_gradctx *c) { return reduce_grad(c, false); }
lcv_status lcv_grad_reducemean(lcv_gradctx *c) { return reduce_grad(c, true); }
