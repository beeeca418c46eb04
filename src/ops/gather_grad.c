/* gather_grad.c - backward of Gather (gather.c): each gathered row's gradient is added back
 * to the row of data it came from (repeated indices accumulate); indices get none. Work is
 * split over the rows before the axis, each of which owns its slab of dData, and within a
 * slab indices are taken in order, so results do not depend on the thread count. */
#include <string.h>

#include "../core/threadpool.h"
#include "grad_util.h"

typedef struct gather_task {
    const float *dy;
    float *dx;
    const lcv_tensor *idx;
    int64_t n, ni, inner; /* axis extent, index count, elements per row */
} gather_task;

static int64_t index_at(const lcv_tensor *t, int64_t j, int64_t n) {
    int64_t k = t->dtype == LCV_DTYPE_INT32 ? ((const int32_t *)t->data)[j]
                                            : ((const int64_t *)t->data)[j];
    return k < 0 ? k + n : k;
}

static void gather_slabs(void *ctx, int64_t begin, int64_t end, int thread) {
    const gather_task *t = ctx;
    int64_t inner = t->inner;
    for (int64_t o = begin; o < end; o++) {
        float *slab = t->dx + o * t->n * inner;
        const float *g = t->dy + o * t->ni * inner;
        for (int64_t j = 0; j < t->ni; j++, g += inner) {
            float *row = slab + index_at(t->idx, j, t->n) * inner;
            for (int64_t i = 0; i < inner; i++) row[i] += g[i];
        }
    }
}

lcv_status lcv_grad_gather(lcv_gradctx *c) {
    const float *dy;
    float *dx;
    lcv_status st = lcv_gradu_dout(c, 0, &dy);
    if (st == LCV_OK) st = lcv_gradu_din(c, 0, &dx);
    if (st != LCV_OK || !dx) return st;
    const lcv_tensor *x = c->in[0], *idx = lcv_grad_input(c, 1);
    if (!idx || (idx->dtype != LCV_DTYPE_INT32 && idx->dtype != LCV_DTYPE_INT64))
        return lcv_grad_fail(c, LCV_ERR_SHAPE, "indices must be int32 or int64");
    int64_t a = lcv_attr_int(c->node, "axis", 0);
    if (a < -x->ndim || a >= x->ndim)
        return lcv_grad_fail(c, LCV_ERR_SHAPE, "axis %lld is out of range for rank %d",
                             (long long)a, x->ndim);
    int ax = (int)(a < 0 ? a + x->ndim : a);
    int64_t outer = 1, inner = 1, n = x->dims[ax], ni = lcv_tensor_count(idx);
    for (int i = 0; i < ax; i++) outer *= x->dims[i];
    for (int i = ax + 1; i < x->ndim; i++) inner *= x->dims[i];
    int64_t nx = lcv_tensor_count(x);
    if (lcv_tensor_count(c->out[0]) != outer * ni * inner)
        return lcv_grad_fail(c, LCV_ERR_SHAPE, "output size does not match data and indices");
    memset(dx, 0, sizeof(float) * (size_t)nx);
    if (!dy || nx == 0) return LCV_OK;
    for (int64_t j = 0; j < ni; j++) {
        int64_t k = index_at(idx, j, n);
        if (k < 0 || k >= n)
            return lcv_grad_fail(c, LCV_ERR_INVALID_ARG, "index %lld is out of range [%lld, "
                                 "%lld]", (long long)(k < 0 ? k - n : k), (long long)-n,
                                 (long long)(n - 1));
    }
    gather_task t = {dy, dx, idx, n, ni, inner};
    lcv_threadpool_parallel_for(c->pool, outer, 16384 / (ni * inner + 1) + 1, gather_slabs, &t);
    return LCV_OK;
}
