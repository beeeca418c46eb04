/* eliminate_dead.c - removes nodes whose outputs nobody reads and that are not graph outputs,
 * walking backwards so whole dead chains go in one sweep. Unread initializers stay: the model
 * statistics (parameter count) still describe the file. */
#include <stdlib.h>

#include "passes.h"

lcv_status lcv_pass_eliminate_dead(lcv_graph *g, bool *changed, lcv_err *e) {
    lcv_pass_uses u;
    lcv_status st = lcv_pass_uses_build(g, &u, e);
    if (st != LCV_OK) return st;
    bool *remove = calloc((size_t)g->n_nodes + 1, sizeof(bool));
    if (!remove) {
        lcv_pass_uses_free(&u);
        return lcv_fail(e, LCV_ERR_NOMEM, "out of memory in the graph optimizer");
    }
    int removed = 0;
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        const lcv_node *n = &g->nodes[i];
        bool live = false;
        for (int k = 0; k < n->n_out && !live; k++) {
            int v = n->out[k];
            if (v >= 0 && (u.count[v] > 0 || g->values[v].is_output)) live = true;
        }
        if (live) continue;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0) u.count[n->in[k]]--;
        remove[i] = true;
        removed++;
    }
    if (removed) lcv_graph_remove_nodes(g, remove);
    *changed = *changed || removed > 0;
    free(remove);
    lcv_pass_uses_free(&u);
    return LCV_OK;
}
