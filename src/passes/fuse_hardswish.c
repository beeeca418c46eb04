/* fuse_hardswish.c - rewrites x * HardSigmoid(x) with alpha 1/6 and beta 1/2 (how exporters
 * write HardSwish before opset 14, e.g. torchvision's mobilenet_v3) as one HardSwish node, so
 * that fuse_activation can then fold it into the producing Conv. Only when the HardSigmoid's
 * output feeds that Mul alone. */
#include <math.h>

#include "passes.h"

/* The HardSigmoid node computing Mul node `mul`'s operand `side` from its other operand. */
static int hardsigmoid_side(const lcv_graph *g, const lcv_pass_uses *u, int mul, int side) {
    const lcv_node *m = &g->nodes[mul];
    int h = m->in[side], x = m->in[1 - side];
    if (h < 0 || x < 0 || h == x || lcv_pass_sole_consumer(g, u, h) != mul) return -1;
    int hs = g->values[h].producer;
    if (hs < 0) return -1;
    const lcv_node *n = &g->nodes[hs];
    if (n->op != LCV_OP_HardSigmoid || n->n_in != 1 || n->in[0] != x || n->n_out != 1) return -1;
    /* alpha 1/6 as float (exporters write 0.16666667), beta exactly 1/2 */
    float alpha = lcv_attr_float(n, "alpha", 0.2f), beta = lcv_attr_float(n, "beta", 0.5f);
    if (fabsf(alpha - 1.0f / 6.0f) > 1e-6f || beta != 0.5f) return -1;
    return hs;
}

lcv_status lcv_pass_fuse_hardswish(lcv_graph *g, bool *changed, lcv_err *e) {
    lcv_pass_edit ed;
    lcv_status st = lcv_pass_edit_begin(g, &ed, e);
    if (st != LCV_OK) return st;
    for (int i = 0; st == LCV_OK && i < g->n_nodes; i++) {
        lcv_node *m = &g->nodes[i];
        if (m->op != LCV_OP_Mul || m->n_in != 2 || m->n_out != 1 || m->out[0] < 0) continue;
        if (g->values[m->out[0]].dtype != LCV_DTYPE_FLOAT32) continue;
        int side = 0, hs = hardsigmoid_side(g, &ed.uses, i, 0);
        if (hs < 0) hs = hardsigmoid_side(g, &ed.uses, i, side = 1);
        if (hs < 0 || ed.remove[hs]) continue;
        int x = m->in[1 - side], h = m->in[side];
        if (g->values[x].dtype != LCV_DTYPE_FLOAT32) continue;
        st = lcv_pass_retype(m, "HardSwish", LCV_OP_HardSwish, 14, e);
        if (st != LCV_OK) break;
        m->in[0] = x;
        m->n_in = 1;
        ed.uses.count[x]--; /* read by the HardSigmoid and the Mul, now by the HardSwish */
        ed.uses.count[h] = 0;
        if (ed.uses.count[x] == 1) ed.uses.last[x] = i;
        g->values[h].producer = -1;
        g->nodes[hs].out[0] = -1;
        lcv_pass_edit_remove(&ed, hs);
    }
    lcv_pass_edit_end(g, &ed, changed);
    return st;
}
