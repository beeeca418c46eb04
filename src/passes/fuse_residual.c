/* fuse_residual.c - folds Add(conv_out, other) into the Conv as a residual input: the conv
 * gets `other` as its last input (lcv_fused.residual) and produces the Add's output, so the
 * sum happens in the conv's epilogue. Only when the shapes are exact and equal (no
 * broadcasting) and the conv's output feeds the Add alone. */
#include <stdlib.h>

#include "passes.h"

static bool exact_f32(const lcv_value *v) {
    if (v->dtype != LCV_DTYPE_FLOAT32 || v->ndim < 0) return false;
    for (int k = 0; k < v->ndim; k++)
        if (v->dims[k] < 0) return false;
    return true;
}

/* The conv that can absorb Add node `add` with its operand `side` (0 or 1), or -1. */
static int residual_conv(const lcv_graph *g, const lcv_pass_uses *u, const lcv_node *add,
                         int side) {
    int c = add->in[side], other = add->in[1 - side];
    if (c < 0 || other < 0 || c == other || lcv_pass_sole_consumer(g, u, c) < 0) return -1;
    int ci = g->values[c].producer;
    if (ci < 0) return -1;
    const lcv_node *conv = &g->nodes[ci];
    if (conv->op != LCV_OP_Conv || conv->n_out != 1 || conv->fused.act != LCV_ACT_NONE ||
        conv->fused.residual >= 0)
        return -1;
    const lcv_value *a = &g->values[c], *b = &g->values[other];
    if (!exact_f32(a) || !exact_f32(b) || !lcv_shape_equal(a->ndim, a->dims, b->ndim, b->dims))
        return -1;
    return ci;
}

lcv_status lcv_pass_fuse_residual(lcv_graph *g, bool *changed, lcv_err *e) {
    if (!g->static_shapes) return LCV_OK; /* inferred shapes are only exact then */
    lcv_pass_edit ed;
    lcv_status st = lcv_pass_edit_begin(g, &ed, e);
    if (st != LCV_OK) return st;
    for (int i = 0; st == LCV_OK && i < g->n_nodes; i++) {
        lcv_node *add = &g->nodes[i];
        if (add->op != LCV_OP_Add || add->n_in != 2 || add->out[0] < 0) continue;
        if (!exact_f32(&g->values[add->out[0]])) continue;
        int side = 0, ci = residual_conv(g, &ed.uses, add, 0);
        if (ci < 0) ci = residual_conv(g, &ed.uses, add, side = 1);
        if (ci < 0) continue;
        lcv_node *conv = &g->nodes[ci];
        st = lcv_pass_append_input(conv, add->in[1 - side], e);
        if (st != LCV_OK) break;
        conv->fused.residual = conv->n_in - 1;
        ed.uses.last[add->in[1 - side]] = ci;
        lcv_pass_take_output(g, ci, i);
        lcv_pass_edit_remove(&ed, i);
    }
    lcv_pass_edit_end(g, &ed, changed);
    return st;
}
