/* norm_plan.c - the fast path for float32 LayerNormalization with per-element Scale and B
 * over the normalised block (the transformer case) and only the Y output: one row per kernel
 * call (two passes for mean and variance, one for the output) with the vector kernels of
 * src/kernels/f32-vact, rows split between threads. Broadcast parameters, other dtypes and
 * the Mean/InvStdDev outputs run the reference (norm.c). */
#include "../core/threadpool.h"
#include "vplan.h"

/* True when p (Scale or B) holds exactly one value per element of the normalised block
 * dims[axis..]: its dims aligned before axis are all 1. */
static bool ln_block_param(const lcv_tensor *x, const lcv_tensor *p, int axis, int64_t n) {
    if (!lcv_vplan_f32(p) || p->ndim > x->ndim) return false;
    for (int i = 0; i < p->ndim; i++)
        if (x->ndim - p->ndim + i < axis && p->dims[i] != 1) return false;
    return lcv_tensor_count(p) == n;
}

/* Rows and row length for the node; false when the fast path does not apply. */
static bool ln_rows(const lcv_node *node, int n_out, const lcv_tensor *const *in, int n_in,
                    const lcv_tensor *y, int64_t *rows, int64_t *n) {
    const lcv_tensor *x = in[0], *sc = n_in > 1 ? in[1] : NULL, *b = n_in > 2 ? in[2] : NULL;
    if (!lcv_vplan_f32(x) || !lcv_vplan_f32(y)) return false;
    for (int i = 1; i < n_out && i < node->n_out; i++)
        if (node->out[i] >= 0) return false; /* Mean / InvStdDev wanted */
    int64_t axis = lcv_attr_int(node, "axis", -1);
    if (axis < 0) axis += x->ndim;
    if (axis < 0 || axis >= x->ndim) return false;
    int64_t o = 1, m = 1;
    for (int i = 0; i < x->ndim; i++) *(i < axis ? &o : &m) *= x->dims[i];
    if (o <= 0 || m <= 0 || !ln_block_param(x, sc, (int)axis, m)) return false;
    if (b && !ln_block_param(x, b, (int)axis, m)) return false;
    *rows = o;
    *n = m;
    return true;
}

typedef struct ln_task {
    const lcv_vact_kernels *k;
    const lcv_node *node;
    const float *x, *scale, *bias, *res;
    float *y;
    float eps;
    int64_t n;
} ln_task;

static void ln_task_rows(void *ctx, int64_t begin, int64_t end, int thread) {
    const ln_task *t = ctx;
    (void)thread;
    for (int64_t r = begin; r < end; r++) {
        t->k->layernorm(t->x + r * t->n, t->scale, t->bias, t->eps, t->y + r * t->n, t->n);
        lcv_vplan_epilogue(t->k, t->node, t->res ? t->res + r * t->n : NULL, t->y + r * t->n,
                           t->n);
    }
}

static lcv_status ln_exec(lcv_opctx *c) {
    const lcv_vplan *p = c->plan;
    int64_t rows, n;
    if (!ln_rows(c->node, c->n_out, c->in, c->n_in, c->out[0], &rows, &n))
        return lcv_vplan_reference(c);
    const lcv_tensor *b = lcv_op_input(c, 2);
    lcv_status st;
    ln_task t = {p->k,
                 c->node,
                 c->in[0]->data,
                 c->in[1]->data,
                 b ? b->data : NULL,
                 lcv_op_fused_residual_f32(c, &st),
                 c->out[0]->data,
                 lcv_attr_float(c->node, "epsilon", 1e-5f),
                 n};
    if (st != LCV_OK) return st;
    lcv_threadpool_parallel_for(c->pool, rows, lcv_vplan_grain(n), ln_task_rows, &t);
    return LCV_OK;
}

lcv_status lcv_plan_layernorm(const lcv_plan_ctx *pc, lcv_plan *out) {
    int64_t rows, n;
    if (!ln_rows(pc->node, pc->n_out, pc->in, pc->n_in, pc->out[0], &rows, &n)) return LCV_OK;
    return lcv_vplan_make(pc, ln_exec, out);
}
