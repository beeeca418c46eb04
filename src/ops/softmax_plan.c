/* softmax_plan.c - the fast path for float32 Softmax and LogSoftmax over contiguous rows (the
 * last axis from opset 13, e.g. ViT attention; any axis before, where the op flattens the
 * trailing block): one row per kernel call with the vector exp of src/kernels/f32-vact, rows
 * split between threads. A softmax along an inner axis runs the reference (softmax.c). */
#include "../core/threadpool.h"
#include "vplan.h"

/* Rows and row length of x when the op works on contiguous rows; false otherwise (including
 * an axis the reference will reject). */
static bool softmax_rows(const lcv_node *node, const lcv_tensor *x, int64_t *rows, int64_t *n) {
    bool old = node->opset < 13;
    int64_t axis = lcv_attr_int(node, "axis", old ? 1 : -1);
    int rank = x->ndim;
    if (axis < 0) axis += rank;
    if (axis < 0 || axis > rank || (!old && axis == rank)) return false;
    int64_t o = 1, m = 1;
    for (int i = 0; i < rank; i++) {
        if (i < axis) o *= x->dims[i];
        else if (old || i == axis) m *= x->dims[i];
        else if (x->dims[i] != 1) return false; /* the axis is not the innermost one */
    }
    *rows = o;
    *n = m;
    return o > 0 && m > 0;
}

typedef struct softmax_task {
    const lcv_vact_kernels *k;
    const lcv_node *node;
    const float *x, *res;
    float *y;
    int64_t n;
    bool logsm;
} softmax_task;

static void softmax_task_rows(void *ctx, int64_t begin, int64_t end, int thread) {
    const softmax_task *t = ctx;
    (void)thread;
    for (int64_t r = begin; r < end; r++) {
        t->k->softmax(t->x + r * t->n, t->y + r * t->n, t->n, t->logsm);
        lcv_vplan_epilogue(t->k, t->node, t->res ? t->res + r * t->n : NULL, t->y + r * t->n,
                           t->n);
    }
}

static lcv_status softmax_exec(lcv_opctx *c) {
    const lcv_vplan *p = c->plan;
    const lcv_tensor *x = c->in[0];
    lcv_tensor *y = c->out[0];
    int64_t rows, n;
    if (!lcv_vplan_f32(x) || !lcv_vplan_f32(y) || !softmax_rows(c->node, x, &rows, &n))
        return lcv_vplan_reference(c);
    lcv_status st;
    softmax_task t = {p->k, c->node, x->data, lcv_op_fused_residual_f32(c, &st), y->data, n,
                      c->node->op == LCV_OP_LogSoftmax};
    if (st != LCV_OK) return st;
    lcv_threadpool_parallel_for(c->pool, rows, lcv_vplan_grain(n), softmax_task_rows, &t);
    return LCV_OK;
}

lcv_status lcv_plan_softmax(const lcv_plan_ctx *pc, lcv_plan *out) {
    const lcv_tensor *x = pc->in[0];
    int64_t rows, n;
    if (!lcv_vplan_f32(x) || !lcv_vplan_f32(pc->out[0]) || !softmax_rows(pc->node, x, &rows, &n))
        return LCV_OK;
    return lcv_vplan_make(pc, softmax_exec, out);
}
