/* softmax_grad.c - backward of Softmax and LogSoftmax from their outputs y, along any axis:
 *     Softmax:    dx = y * (dy - sum(dy * y))
 *     LogSoftmax: dx = dy - exp(y) * sum(dy)
 * with the sums in double over each softmax group. The grouping follows the forward: along
 * `axis` alone from opset 13, over the flattened dims from `axis` on before it. */
#include <math.h>
#include <string.h>

#include "../core/threadpool.h"
#include "grad_util.h"

/* (outer, n, inner) of the forward's layout (softmax.c) for x's shape. */
static lcv_status softmax_layout(lcv_gradctx *c, const lcv_tensor *x, int64_t *outer,
                                 int64_t *n, int64_t *inner) {
    bool old = c->node->opset < 13;
    int64_t axis = lcv_attr_int(c->node, "axis", old ? 1 : -1);
    int64_t k = axis < 0 ? axis + x->ndim : axis;
    /* before opset 13 the 2-D view accepts axis == rank */
    if (k < 0 || k > x->ndim || (!old && k == x->ndim))
        return lcv_grad_fail(c, LCV_ERR_SHAPE, "axis %lld is out of range for rank %d",
                             (long long)axis, x->ndim);
    int64_t o = 1, m = 1, in = 1;
    for (int i = 0; i < x->ndim; i++) {
        int64_t d = x->dims[i];
        if (i < k) o *= d;
        else if (old || i == k) m *= d;
        else in *= d;
    }
    *outer = o;
    *n = m;
    *inner = in;
    return LCV_OK;
}

typedef struct sm_task {
    bool log;
    const float *y, *dy;
    float *dx;
    int64_t n, inner;
} sm_task;

static void sm_blocks(void *ctx, int64_t begin, int64_t end, int thread) {
    const sm_task *t = ctx;
    int64_t n = t->n, inner = t->inner;
    for (int64_t o = begin; o < end; o++) {
        for (int64_t j = 0; j < inner; j++) {
            int64_t base = o * n * inner + j;
            const float *y = t->y + base, *dy = t->dy + base;
            float *dx = t->dx + base;
            double s = 0;
            if (t->log) {
                for (int64_t i = 0; i < n; i++) s += dy[i * inner];
                float fs = (float)s;
                for (int64_t i = 0; i < n; i++)
                    dx[i * inner] = dy[i * inner] - expf(y[i * inner]) * fs;
            } else {
                for (int64_t i = 0; i < n; i++) s += (double)dy[i * inner] * y[i * inner];
                float fs = (float)s;
                for (int64_t i = 0; i < n; i++) dx[i * inner] = y[i * inner] * (dy[i * inner] - fs);
            }
        }
    }
}

static lcv_status softmax_grad(lcv_gradctx *c, bool log) {
    const float *x, *y, *dy;
    float *dx;
    lcv_status st = lcv_gradu_in(c, 0, &x);
    if (st == LCV_OK) st = lcv_gradu_out(c, 0, &y);
    if (st == LCV_OK) st = lcv_gradu_dout(c, 0, &dy);
    if (st == LCV_OK) st = lcv_gradu_din(c, 0, &dx);
    if (st != LCV_OK || !dx) return st;
    const lcv_tensor *xt = c->in[0];
    int64_t outer = 0, n = 0, inner = 0, total = lcv_tensor_count(xt);
    if ((st = softmax_layout(c, xt, &outer, &n, &inner)) != LCV_OK) return st;
    if (lcv_tensor_count(c->out[0]) != total)
        return lcv_grad_fail(c, LCV_ERR_SHAPE, "output and input sizes differ");
    if (!dy || total == 0) {
        memset(dx, 0, sizeof(float) * (size_t)total);
        return LCV_OK;
    }
    sm_task t = {log, y, dy, dx, n, inner};
    lcv_threadpool_parallel_for(c->pool, outer, 8192 / (n * inner) + 1, sm_blocks, &t);
    return LCV_OK;
}

lcv_status lcv_grad_softmax(lcv_gradctx *c) { return softmax_grad(c, false); }
lcv_status lcv_grad_logsoftmax(lcv_gradctx *c) { return softmax_grad(c, true); }
