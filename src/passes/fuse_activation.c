/* fuse_activation.c - folds an activation that follows a Conv, Gemm or MatMul into it
 * (node->fused, applied in the producer's epilogue): Relu, Clip with constant bounds (ReLU6),
 * LeakyRelu, Sigmoid, HardSigmoid, HardSwish, Tanh, and SiLU written as x * Sigmoid(x).
 * Only when the producer's float32 output feeds the activation alone. */
#include <math.h>
#include <stdlib.h>

#include "passes.h"

static bool clip_bound(const lcv_graph *g, const lcv_node *n, int k, float *out) {
    if (n->n_in <= k || n->in[k] < 0) return true; /* omitted: unbounded */
    int64_t count = 0;
    const float *p = lcv_pass_const_f32(g, n->in[k], &count);
    if (!p || count != 1) return false;
    *out = p[0];
    return true;
}

/* The lcv_fused that activation node n means, or false if it is not a fusable activation. */
static bool activation_of(const lcv_graph *g, const lcv_node *n, lcv_fused *f) {
    f->alpha = f->beta = 0.0f;
    switch (n->op) {
    case LCV_OP_Relu: f->act = LCV_ACT_RELU; return true;
    case LCV_OP_Sigmoid: f->act = LCV_ACT_SIGMOID; return true;
    case LCV_OP_Tanh: f->act = LCV_ACT_TANH; return true;
    case LCV_OP_HardSwish: f->act = LCV_ACT_HARDSWISH; return true;
    case LCV_OP_LeakyRelu:
        f->act = LCV_ACT_LEAKYRELU;
        f->alpha = lcv_attr_float(n, "alpha", 0.01f);
        return true;
    case LCV_OP_HardSigmoid:
        f->act = LCV_ACT_HARDSIGMOID;
        f->alpha = lcv_attr_float(n, "alpha", 0.2f);
        f->beta = lcv_attr_float(n, "beta", 0.5f);
        return true;
    case LCV_OP_Clip: {
        f->act = LCV_ACT_CLIP;
        float lo = -INFINITY, hi = INFINITY;
        if (n->opset < 11) {
            if (n->n_in > 1) return false;
            lo = lcv_attr_float(n, "min", -INFINITY);
            hi = lcv_attr_float(n, "max", INFINITY);
        } else if (!clip_bound(g, n, 1, &lo) || !clip_bound(g, n, 2, &hi)) {
            return false;
        }
        /* the reference lets max win when min > max; the fused form assumes min <= max */
        if (!(lo <= hi)) return false;
        f->alpha = lo;
        f->beta = hi;
        return true;
    }
    default: return false;
    }
}

/* The Conv/Gemm/MatMul producing value v with nothing fused yet and a float32 output. */
static int fusable_producer(const lcv_graph *g, int v) {
    if (v < 0 || g->values[v].dtype != LCV_DTYPE_FLOAT32) return -1;
    int p = g->values[v].producer;
    if (p < 0) return -1;
    const lcv_node *n = &g->nodes[p];
    if (n->op != LCV_OP_Conv && n->op != LCV_OP_Gemm && n->op != LCV_OP_MatMul) return -1;
    if (n->n_out != 1 || n->out[0] != v || n->fused.act != LCV_ACT_NONE) return -1;
    return p;
}

/* Mul(x, Sigmoid(x)) in either order, x produced by a fusable node read only by these two:
 * returns the producer and sets *sig to the Sigmoid node. */
static int silu_producer(const lcv_graph *g, const lcv_pass_uses *u, const lcv_node *mul,
                         int *sig) {
    if (mul->n_in != 2) return -1;
    for (int side = 0; side < 2; side++) {
        int x = mul->in[side], s = mul->in[1 - side];
        if (x < 0 || s < 0 || lcv_pass_sole_consumer(g, u, s) < 0) continue;
        int si = g->values[s].producer;
        if (si < 0 || g->nodes[si].op != LCV_OP_Sigmoid || g->nodes[si].in[0] != x) continue;
        if (g->values[x].is_output || u->count[x] != 2) continue;
        int p = fusable_producer(g, x);
        if (p < 0) continue;
        *sig = si;
        return p;
    }
    return -1;
}

lcv_status lcv_pass_fuse_activation(lcv_graph *g, bool *changed, lcv_err *e) {
    lcv_pass_edit ed;
    lcv_status st = lcv_pass_edit_begin(g, &ed, e);
    if (st != LCV_OK) return st;
    for (int i = 0; i < g->n_nodes; i++) {
        const lcv_node *n = &g->nodes[i];
        if (n->n_out != 1 || n->out[0] < 0 || n->n_in < 1) continue;
        lcv_fused f;
        int p = -1, sig = -1;
        if (n->op == LCV_OP_Mul) {
            p = silu_producer(g, &ed.uses, n, &sig);
            f.act = LCV_ACT_SILU;
            f.alpha = f.beta = 0.0f;
        } else if (activation_of(g, n, &f) && lcv_pass_sole_consumer(g, &ed.uses, n->in[0]) >= 0) {
            p = fusable_producer(g, n->in[0]);
        }
        if (p < 0 || g->values[n->out[0]].dtype != LCV_DTYPE_FLOAT32) continue;
        lcv_fused *pf = &g->nodes[p].fused;
        pf->act = f.act;
        pf->alpha = f.alpha;
        pf->beta = f.beta;
        lcv_pass_take_output(g, p, i);
        lcv_pass_edit_remove(&ed, i);
        if (sig >= 0) {
            /* the Sigmoid read x and produced what only the Mul read: it goes too */
            int s = g->nodes[sig].out[0];
            g->values[s].producer = -1;
            g->nodes[sig].out[0] = -1;
            lcv_pass_edit_remove(&ed, sig);
        }
    }
    lcv_pass_edit_end(g, &ed, changed);
    return LCV_OK;
}
