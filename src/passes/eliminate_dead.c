/* eliminate_dead.c - removes nodes whose outputs nobody reads and that are not graph outputs,
 * walking backwards so whole dead chains go in one sweep. Unread initializers stay: the model
 * statistics (parameter count) still describe the file. */
#include <stdlib.h>

#include "passes.h"

lcv_status lcv_pass_eliminate_dead(lcv_graph *g, bool *changed, lcv_err *e) {
    lcv_pass_edit ed;
    lcv_status st = lcv_pass_edit_begin(g, &ed, e);
    if (st != LCV_OK) return st;
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        const lcv_node *n = &g->nodes[i];
        bool live = false;
        for (int k = 0; k < n->n_out && !live; k++) {
            int v = n->out[k];
            if (v >= 0 && (ed.uses.count[v] > 0 || g->values[v].is_output)) live = true;
        }
        if (live) continue;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0) ed.uses.count[n->in[k]]--;
        lcv_pass_edit_remove(&ed, i);
    }
    lcv_pass_edit_end(g, &ed, changed);
    return LCV_OK;
}
