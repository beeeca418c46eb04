/* eliminate_identity.c - removes Identity and inference-mode Dropout by rewiring their readers
 * to the input. A graph output keeps its value: then the input's producer is made to produce
 * it instead, when nothing else reads the input. */
#include <stdlib.h>

#include "passes.h"

/* Dropout is the identity at inference unless training_mode may be true (then the node stays,
 * so its checks still run) or its mask output is wanted. */
static bool is_identity(const lcv_graph *g, const lcv_pass_uses *u, const lcv_node *n) {
    if (n->op == LCV_OP_Identity) return n->n_in == 1 && n->n_out == 1;
    if (n->op != LCV_OP_Dropout) return false;
    const lcv_value *x = &g->values[n->in[0]];
    if (!lcv_dtype_is_float(x->dtype)) return false; /* leave bad inputs to Dropout's check */
    if (n->n_out > 1 && n->out[1] >= 0 && (u->count[n->out[1]] > 0 || g->values[n->out[1]].is_output))
        return false;
    if (n->n_in > 1 && n->in[1] >= 0) {
        const lcv_tensor *r = g->values[n->in[1]].init;
        if (!r || !lcv_dtype_is_float(r->dtype) || lcv_tensor_count(r) != 1) return false;
    }
    if (n->n_in > 2 && n->in[2] >= 0) {
        const lcv_tensor *t = g->values[n->in[2]].init;
        if (!t || t->dtype != LCV_DTYPE_BOOL || lcv_tensor_count(t) != 1 ||
            ((const uint8_t *)t->data)[0])
            return false;
    }
    return true;
}

lcv_status lcv_pass_eliminate_identity(lcv_graph *g, bool *changed, lcv_err *e) {
    lcv_pass_edit ed;
    lcv_status st = lcv_pass_edit_begin(g, &ed, e);
    if (st != LCV_OK) return st;
    for (int i = 0; i < g->n_nodes; i++) {
        lcv_node *n = &g->nodes[i];
        if (n->in[0] < 0 || n->out[0] < 0 || !is_identity(g, &ed.uses, n)) continue;
        int x = n->in[0], y = n->out[0];
        if (!g->values[y].is_output) {
            lcv_pass_replace_uses(g, y, x);
            ed.uses.count[x] += ed.uses.count[y] - 1;
            ed.uses.count[y] = 0;
        } else {
            /* y must stay; let x's producer make y directly if x is otherwise unused */
            int p = g->values[x].producer;
            if (p < 0 || g->values[x].is_output || ed.uses.count[x] != 1 || ed.remove[p]) continue;
            lcv_node *pn = &g->nodes[p];
            int k = 0;
            while (k < pn->n_out && pn->out[k] != x) k++;
            if (k == pn->n_out) continue;
            pn->out[k] = y;
            g->values[y].producer = p;
            g->values[x].producer = -1;
            ed.uses.count[x] = 0;
        }
        /* outputs handed to another node keep that producer on removal; the rest lose it */
        for (int k = 0; k < n->n_out; k++) {
            if (n->out[k] >= 0 && g->values[n->out[k]].producer == i)
                g->values[n->out[k]].producer = -1;
            n->out[k] = -1;
        }
        lcv_pass_edit_remove(&ed, i);
    }
    lcv_pass_edit_end(g, &ed, changed);
    return LCV_OK;
}
