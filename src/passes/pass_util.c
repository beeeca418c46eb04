/* pass_util.c - small graph-surgery helpers the optimizer passes share: use counts, sole
 * consumers, moving an output from one node to another, rewiring readers, and adding new
 * constant initializers under unique names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes.h"

lcv_status lcv_pass_uses_build(const lcv_graph *g, lcv_pass_uses *u, lcv_err *e) {
    size_t nv = (size_t)g->n_values + 1;
    u->count = calloc(nv, sizeof(int));
    u->last = malloc(nv * sizeof(int));
    if (!u->count || !u->last) {
        lcv_pass_uses_free(u);
        return lcv_fail(e, LCV_ERR_NOMEM, "out of memory in the graph optimizer");
    }
    for (int v = 0; v < g->n_values; v++) u->last[v] = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        const lcv_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_in; k++) {
            if (n->in[k] < 0) continue;
            u->count[n->in[k]]++;
            u->last[n->in[k]] = i;
        }
    }
    return LCV_OK;
}

void lcv_pass_uses_free(lcv_pass_uses *u) {
    free(u->count);
    free(u->last);
    u->count = u->last = NULL;
}

lcv_status lcv_pass_edit_begin(const lcv_graph *g, lcv_pass_edit *ed, lcv_err *e) {
    ed->removed = 0;
    ed->remove = NULL;
    lcv_status st = lcv_pass_uses_build(g, &ed->uses, e);
    if (st != LCV_OK) return st;
    ed->remove = calloc((size_t)g->n_nodes + 1, sizeof(bool));
    if (!ed->remove) {
        lcv_pass_uses_free(&ed->uses);
        return lcv_fail(e, LCV_ERR_NOMEM, "out of memory in the graph optimizer");
    }
    return LCV_OK;
}

void lcv_pass_edit_remove(lcv_pass_edit *ed, int i) {
    if (ed->remove[i]) return;
    ed->remove[i] = true;
    ed->removed++;
}

void lcv_pass_edit_end(lcv_graph *g, lcv_pass_edit *ed, bool *changed) {
    if (ed->removed) lcv_graph_remove_nodes(g, ed->remove);
    *changed = *changed || ed->removed > 0;
    free(ed->remove);
    ed->remove = NULL;
    lcv_pass_uses_free(&ed->uses);
}

int lcv_pass_sole_consumer(const lcv_graph *g, const lcv_pass_uses *u, int v) {
    if (v < 0 || g->values[v].is_output || u->count[v] != 1) return -1;
    return u->last[v];
}

void lcv_pass_take_output(lcv_graph *g, int keep, int gone) {
    lcv_node *k = &g->nodes[keep], *r = &g->nodes[gone];
    int old = k->out[0], nv = r->out[0];
    if (old >= 0) g->values[old].producer = -1;
    k->out[0] = nv;
    r->out[0] = -1; /* so removing `gone` does not clear the value's new producer */
    if (nv >= 0) g->values[nv].producer = keep;
}

void lcv_pass_replace_uses(lcv_graph *g, int from, int to) {
    for (int i = 0; i < g->n_nodes; i++) {
        lcv_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] == from) n->in[k] = to;
    }
}

lcv_status lcv_pass_append_input(lcv_node *n, int id, lcv_err *e) {
    int *in = realloc(n->in, sizeof(int) * (size_t)(n->n_in + 1));
    if (!in) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory fusing into node '%s'", n->name);
    n->in = in;
    in[n->n_in++] = id;
    return LCV_OK;
}

lcv_status lcv_pass_add_constant(lcv_graph *g, const char *base, const char *suffix,
                                 lcv_tensor *t, int *id, lcv_err *e) {
    size_t cap = strlen(base) + strlen(suffix) + 24;
    char *name = malloc(cap);
    if (!name) {
        lcv_tensor_free(t);
        return lcv_fail(e, LCV_ERR_NOMEM, "out of memory naming a fused constant");
    }
    snprintf(name, cap, "%s%s", base, suffix);
    for (int k = 2; lcv_graph_find(g, name) >= 0; k++) snprintf(name, cap, "%s%s_%d", base, suffix, k);
    lcv_status st = lcv_graph_intern(g, name, id, e);
    free(name);
    if (st != LCV_OK) {
        lcv_tensor_free(t);
        return st;
    }
    /* A derived constant like a folded value, not a graph.initializer: the parameter count
     * keeps describing the file. */
    lcv_value *v = &g->values[*id];
    v->init = t;
    v->dtype = t->dtype;
    v->ndim = t->ndim;
    for (int k = 0; k < t->ndim; k++) v->dims[k] = t->dims[k];
    return LCV_OK;
}

const float *lcv_pass_const_f32(const lcv_graph *g, int id, int64_t *count) {
    if (id < 0) return NULL;
    const lcv_tensor *t = g->values[id].init;
    if (!t || t->dtype != LCV_DTYPE_FLOAT32 || (!t->data && lcv_tensor_count(t) > 0)) return NULL;
    *count = lcv_tensor_count(t);
    return t->data;
}
