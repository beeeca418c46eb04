/* reduce_plan.c - the fast path for float32 means over trailing contiguous axes:
 * GlobalAveragePool (each [H, W, ...] plane) and ReduceMean whose reduced axes are the last
 * ones (e.g. the decomposed LayerNorm of ViT). Each mean is one vector sum (src/kernels/
 * f32-vact) times 1/n; means are split between threads. Other axes and dtypes run the
 * reference (pool.c, reduce.c). */
#include "../core/threadpool.h"
#include "vplan.h"

/* ReduceMean's reduced axes as a mask; false when they cannot be read here (the reference
 * then reports the problem) or nothing is reduced. */
static bool reduce_mask(const lcv_node *node, const lcv_tensor *axes_in, int rank, bool *mask) {
    int64_t axes[LCV_MAX_DIMS], n = 0;
    if (axes_in) {
        if (axes_in->ndim > 1 || !axes_in->data || axes_in->dtype != LCV_DTYPE_INT64) return false;
        n = lcv_tensor_count(axes_in);
        if (n > LCV_MAX_DIMS) return false;
        for (int64_t i = 0; i < n; i++) axes[i] = ((const int64_t *)axes_in->data)[i];
    } else {
        const lcv_attr *a = lcv_attr_find(node, "axes");
        if (a) {
            if (a->type != LCV_ATTR_INTS || a->n > LCV_MAX_DIMS) return false;
            n = a->n;
            for (int64_t i = 0; i < n; i++) axes[i] = a->ints[i];
        }
    }
    if (n == 0 && lcv_attr_int(node, "noop_with_empty_axes", 0) != 0) return false;
    for (int i = 0; i < rank; i++) mask[i] = n == 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + rank : axes[i];
        if (a < 0 || a >= rank || mask[a]) return false;
        mask[a] = true;
    }
    return true;
}

/* Rows and row length for reducing the masked axes of x; false unless every reduced axis of
 * size > 1 comes after every kept axis of size > 1, so each mean covers a contiguous row. */
static bool mean_rows(const lcv_tensor *x, const bool *mask, int64_t *rows, int64_t *n) {
    int64_t o = 1, m = 1;
    bool reducing = false;
    for (int i = 0; i < x->ndim; i++) {
        if (mask[i]) {
            m *= x->dims[i];
            if (x->dims[i] != 1) reducing = true;
        } else {
            if (reducing && x->dims[i] != 1) return false;
            o *= x->dims[i];
        }
    }
    *rows = o;
    *n = m;
    return o > 0 && m > 0;
}

/* Rows and row length of the node's mean; false when the fast path does not apply. */
static bool node_rows(const lcv_node *node, const lcv_tensor *x, const lcv_tensor *axes_in,
                      const lcv_tensor *y, int64_t *rows, int64_t *n) {
    if (!lcv_vplan_f32(x) || !lcv_vplan_f32(y)) return false;
    bool mask[LCV_MAX_DIMS];
    if (node->op == LCV_OP_GlobalAveragePool) {
        if (x->ndim < 3) return false;
        for (int i = 0; i < x->ndim; i++) mask[i] = i >= 2;
    } else if (x->ndim > LCV_MAX_DIMS || !reduce_mask(node, axes_in, x->ndim, mask)) {
        return false;
    }
    return mean_rows(x, mask, rows, n) && lcv_tensor_count(y) == *rows;
}

typedef struct mean_task {
    const lcv_vact_kernels *k;
    const float *x;
    float *y;
    int64_t n;
} mean_task;

static void mean_task_rows(void *ctx, int64_t begin, int64_t end, int thread) {
    const mean_task *t = ctx;
    (void)thread;
    double scale = 1.0 / (double)t->n;
    for (int64_t r = begin; r < end; r++)
        t->y[r] = (float)(t->k->sum(t->x + r * t->n, t->n) * scale);
}

static lcv_status mean_exec(lcv_opctx *c) {
    const lcv_vplan *p = c->plan;
    const lcv_tensor *x = c->in[0];
    lcv_tensor *y = c->out[0];
    int64_t rows, n;
    if (!node_rows(c->node, x, lcv_op_input(c, 1), y, &rows, &n)) return lcv_vplan_reference(c);
    lcv_status st;
    const float *res = lcv_op_fused_residual_f32(c, &st);
    if (st != LCV_OK) return st;
    mean_task t = {p->k, x->data, y->data, n};
    lcv_threadpool_parallel_for(c->pool, rows, lcv_vplan_grain(n), mean_task_rows, &t);
    lcv_vplan_epilogue(p->k, c->node, res, y->data, rows);
    return LCV_OK;
}

lcv_status lcv_plan_mean(const lcv_plan_ctx *pc, lcv_plan *out) {
    int64_t rows, n;
    const lcv_tensor *axes_in = pc->n_in > 1 ? pc->in[1] : NULL;
    if (axes_in && !axes_in->data) return LCV_OK; /* axes computed at run time */
    if (!node_rows(pc->node, pc->in[0], axes_in, pc->out[0], &rows, &n)) return LCV_OK;
    return lcv_vplan_make(pc, mean_exec, out);
}
