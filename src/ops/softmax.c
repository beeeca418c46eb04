/* softmax.c - Softmax, LogSoftmax and Hardmax. Before opset 13 the input is viewed as 2-D at
 * `axis` (default 1) and the op runs over the flattened trailing block; from opset 13 it runs
 * along `axis` alone (default -1). Both are an (outer, n, inner) walk here. The reference
 * accumulates in double; contiguous float32 rows have a fast path. */
#include <math.h>

#include "../core/threadpool.h"
#include "op.h"

typedef enum smkind { SM_SOFTMAX, SM_LOGSOFTMAX, SM_HARDMAX } smkind;

/* Splits x into (outer, n, inner) for the node's opset and axis. */
static lcv_status softmax_layout(lcv_opctx *c, const lcv_tensor *x, int64_t *outer, int64_t *n,
                                 int64_t *inner) {
    bool old = c->node->opset < 13;
    int64_t axis = lcv_attr_int(c->node, "axis", old ? 1 : -1);
    int rank = x->ndim;
    int a;
    if (old) {
        /* The 2-D coercion accepts axis == rank (an [N, 1] view). */
        int64_t k = axis < 0 ? axis + rank : axis;
        if (k < 0 || k > rank)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "axis %lld is out of range for rank %d",
                               (long long)axis, rank);
        a = (int)k;
    } else {
        lcv_status st = lcv_op_axis(c, axis, rank, &a);
        if (st != LCV_OK) return st;
    }
    /* Any zero dim makes the tensor empty; the products below are then never used. */
    int64_t o = 1, m = 1, in = 1;
    for (int i = 0; i < rank; i++)
        if (x->dims[i] == 0) o = m = in = 0;
    if (o != 0) {
        for (int i = 0; i < a; i++) o *= x->dims[i];
        if (old) {
            for (int i = a; i < rank; i++) m *= x->dims[i];
        } else {
            m = x->dims[a];
            for (int i = a + 1; i < rank; i++) in *= x->dims[i];
        }
    }
    *outer = o;
    *n = m;
    *inner = in;
    return LCV_OK;
}

lcv_status lcv_infer_softmax(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0];
    if (!lcv_dtype_is_float(x->dtype))
        return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "input dtype %s is not supported (float only)",
                           lcv_dtype_name(x->dtype));
    if (x->ndim < 0 || x->ndim > LCV_MAX_DIMS)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "input rank %d is not supported", x->ndim);
    int64_t outer, n, inner;
    lcv_status st = softmax_layout(c, x, &outer, &n, &inner);
    if (st != LCV_OK) return st;
    lcv_op_set_out(c, 0, x->dtype, x->ndim, x->dims);
    return LCV_OK;
}

/* float32 rows of length n, contiguous (inner == 1). */
static void softmax_rows_f32(smkind k, const float *x, float *y, int64_t rows, int64_t n) {
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        float m = xr[0];
        int64_t arg = 0;
        for (int64_t i = 1; i < n; i++)
            if (xr[i] > m) {
                m = xr[i];
                arg = i;
            }
        if (k == SM_HARDMAX) {
            for (int64_t i = 0; i < n; i++) yr[i] = i == arg ? 1.0f : 0.0f;
            continue;
        }
        double sum = 0.0;
        if (k == SM_SOFTMAX) {
            for (int64_t i = 0; i < n; i++) {
                float e = expf(xr[i] - m);
                yr[i] = e;
                sum += e;
            }
            float inv = (float)(1.0 / sum);
            for (int64_t i = 0; i < n; i++) yr[i] *= inv;
        } else {
            for (int64_t i = 0; i < n; i++) sum += expf(xr[i] - m);
            /* Subtract m first: m + log(sum) would round away the small term for large m. */
            float ls = (float)log(sum);
            for (int64_t i = 0; i < n; i++) yr[i] = (xr[i] - m) - ls;
        }
    }
}

/* Elements per thread chunk (whole rows, at least one). */
#define SOFTMAX_GRAIN 8192

/* Rows are independent, so any split over them gives the same bits. */
typedef struct softmax_task {
    smkind k;
    const float *x;
    float *y;
    int64_t n;
} softmax_task;

static void softmax_rows_task(void *ctx, int64_t begin, int64_t end, int thread) {
    const softmax_task *t = ctx;
    softmax_rows_f32(t->k, t->x + begin * t->n, t->y + begin * t->n, end - begin, t->n);
}

static lcv_status softmax_exec(lcv_opctx *c, smkind k) {
    const lcv_tensor *x = c->in[0];
    lcv_tensor *y = c->out[0];
    int64_t outer, n, inner;
    lcv_status st = softmax_layout(c, x, &outer, &n, &inner);
    if (st != LCV_OK) return st;
    if (outer == 0 || n == 0 || inner == 0) return LCV_OK;
    if (x->dtype == LCV_DTYPE_FLOAT32 && inner == 1) {
        softmax_task t = {k, x->data, y->data, n};
        int64_t grain = n < SOFTMAX_GRAIN ? SOFTMAX_GRAIN / n : 1;
        lcv_threadpool_parallel_for(c->pool, outer, grain, softmax_rows_task, &t);
        return LCV_OK;
    }
    lcv_dtype dt = x->dtype;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t j = 0; j < inner; j++) {
            int64_t base = o * n * inner + j;
            double m = lcv_load_f64(dt, x->data, base);
            int64_t arg = 0;
            for (int64_t i = 1; i < n; i++) {
                double v = lcv_load_f64(dt, x->data, base + i * inner);
                if (v > m) {
                    m = v;
                    arg = i;
                }
            }
            if (k == SM_HARDMAX) {
                for (int64_t i = 0; i < n; i++)
                    lcv_store_f64(dt, y->data, base + i * inner, i == arg ? 1.0 : 0.0);
                continue;
            }
            double sum = 0.0;
            for (int64_t i = 0; i < n; i++)
                sum += exp(lcv_load_f64(dt, x->data, base + i * inner) - m);
            double ls = log(sum);
            for (int64_t i = 0; i < n; i++) {
                double v = lcv_load_f64(dt, x->data, base + i * inner);
                lcv_store_f64(dt, y->data, base + i * inner,
                              k == SM_SOFTMAX ? exp(v - m) / sum : (v - m) - ls);
            }
        }
    }
    return LCV_OK;
}

lcv_status lcv_exec_softmax(lcv_opctx *c) { return softmax_exec(c, SM_SOFTMAX); }
lcv_status lcv_exec_logsoftmax(lcv_opctx *c) { return softmax_exec(c, SM_LOGSOFTMAX); }
lcv_status lcv_exec_hardmax(lcv_opctx *c) { return softmax_exec(c, SM_HARDMAX); }
