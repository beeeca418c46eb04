/* unary_plan.c - the fast path for float32 activations as standalone ops (Relu, Sigmoid,
 * Tanh, Erf, Exp, HardSigmoid, HardSwish, Clip, LeakyRelu): the vector kernels of
 * src/kernels/f32-vact over blocks split between threads, with the fused epilogue applied
 * per block. Other dtypes, and a Clip whose min exceeds its max, run the reference
 * (unary.c, activation.c). */
#include <math.h>

#include "../core/threadpool.h"
#include "vplan.h"

typedef struct unary_task {
    const lcv_vact_kernels *k;
    const lcv_node *node;
    lcv_vfn fn;
    float alpha, beta;
    const float *x, *res;
    float *y;
    int64_t n;
} unary_task;

static void unary_blocks(void *ctx, int64_t begin, int64_t end, int thread) {
    const unary_task *t = ctx;
    (void)thread;
    for (int64_t b = begin; b < end; b++) {
        int64_t off = b * LCV_VPLAN_BLOCK;
        int64_t cnt = t->n - off < LCV_VPLAN_BLOCK ? t->n - off : LCV_VPLAN_BLOCK;
        t->k->unary(t->fn, t->alpha, t->beta, t->x + off, t->y + off, cnt);
        lcv_vplan_epilogue(t->k, t->node, t->res ? t->res + off : NULL, t->y + off, cnt);
    }
}

/* Clip's bounds (attributes before opset 11, optional scalar inputs from 11); false when the
 * fast path does not apply (min > max: the reference lets max win). */
static bool clip_bounds(lcv_opctx *c, float *lo, float *hi) {
    *lo = -INFINITY;
    *hi = INFINITY;
    if (c->node->opset < 11) {
        *lo = lcv_attr_float(c->node, "min", -INFINITY);
        *hi = lcv_attr_float(c->node, "max", INFINITY);
    } else {
        const lcv_tensor *mn = lcv_op_input(c, 1), *mx = lcv_op_input(c, 2);
        if (mn && (!lcv_vplan_f32(mn) || lcv_tensor_count(mn) != 1)) return false;
        if (mx && (!lcv_vplan_f32(mx) || lcv_tensor_count(mx) != 1)) return false;
        if (mn) *lo = *(const float *)mn->data;
        if (mx) *hi = *(const float *)mx->data;
    }
    return !(*lo > *hi);
}

/* The kernel function and parameters of the node's op; false when not handled here. */
static bool unary_fn(lcv_opctx *c, lcv_vfn *fn, float *alpha, float *beta) {
    *alpha = *beta = 0.0f;
    switch (c->node->op) {
    case LCV_OP_Relu: *fn = LCV_VFN_RELU_KEEP_NAN; return true;
    case LCV_OP_Sigmoid: *fn = LCV_VFN_SIGMOID; return true;
    case LCV_OP_Tanh: *fn = LCV_VFN_TANH; return true;
    case LCV_OP_Erf: *fn = LCV_VFN_ERF; return true;
    case LCV_OP_Exp: *fn = LCV_VFN_EXP; return true;
    case LCV_OP_LeakyRelu:
        *fn = LCV_VFN_LEAKYRELU;
        *alpha = lcv_attr_float(c->node, "alpha", 0.01f);
        return true;
    case LCV_OP_HardSigmoid:
        *fn = LCV_VFN_HARDSIGMOID;
        *alpha = lcv_attr_float(c->node, "alpha", 0.2f);
        *beta = lcv_attr_float(c->node, "beta", 0.5f);
        return true;
    case LCV_OP_HardSwish:
        *fn = LCV_VFN_HARDSWISH_AB;
        *alpha = 1.0f / 6.0f;
        *beta = 0.5f;
        return true;
    case LCV_OP_Clip: *fn = LCV_VFN_CLIP; return clip_bounds(c, alpha, beta);
    default: return false;
    }
}

static lcv_status unary_exec(lcv_opctx *c) {
    const lcv_vplan *p = c->plan;
    const lcv_tensor *x = c->in[0];
    lcv_tensor *y = c->out[0];
    unary_task t;
    if (!lcv_vplan_f32(x) || !lcv_vplan_f32(y) || !unary_fn(c, &t.fn, &t.alpha, &t.beta))
        return lcv_vplan_reference(c);
    lcv_status st;
    t.res = lcv_op_fused_residual_f32(c, &st);
    if (st != LCV_OK) return st;
    t.k = p->k;
    t.node = c->node;
    t.x = x->data;
    t.y = y->data;
    t.n = lcv_tensor_count(x);
    int64_t blocks = (t.n + LCV_VPLAN_BLOCK - 1) / LCV_VPLAN_BLOCK;
    lcv_threadpool_parallel_for(c->pool, blocks, lcv_vplan_grain(LCV_VPLAN_BLOCK), unary_blocks,
                                &t);
    return LCV_OK;
}

lcv_status lcv_plan_unary(const lcv_plan_ctx *pc, lcv_plan *out) {
    if (!lcv_vplan_f32(pc->in[0]) || !lcv_vplan_f32(pc->out[0])) return LCV_OK;
    return lcv_vplan_make(pc, unary_exec, out);
}
