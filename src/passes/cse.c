/* cse.c - common-subexpression elimination: a node identical to an earlier one (same op,
 * domain, opset, inputs, attributes and fusion) is dropped and its readers use the earlier
 * node's outputs. Only deterministic ops: Dropout (random when training) is left alone. */
#include <stdlib.h>
#include <string.h>

#include "passes.h"

static bool same_tensor(const lcv_tensor *a, const lcv_tensor *b) {
    if (!a || !b) return a == b;
    if (a->dtype != b->dtype || !lcv_shape_equal(a->ndim, a->dims, b->ndim, b->dims)) return false;
    size_t bytes = (size_t)lcv_tensor_count(a) * lcv_dtype_size(a->dtype);
    if (bytes == 0) return true;
    return a->data && b->data && memcmp(a->data, b->data, bytes) == 0;
}

/* Attribute equality by bits (so NaN attributes compare equal to themselves). Sub-graph and
 * sparse attributes are never considered equal. */
static bool same_attr(const lcv_attr *a, const lcv_attr *b) {
    if (a->type != b->type || strcmp(a->name, b->name) != 0) return false;
    switch (a->type) {
    case LCV_ATTR_FLOAT: return memcmp(&a->f, &b->f, sizeof a->f) == 0;
    case LCV_ATTR_INT: return a->i == b->i;
    case LCV_ATTR_STRING: return a->s_len == b->s_len && memcmp(a->s, b->s, a->s_len) == 0;
    case LCV_ATTR_TENSOR: return same_tensor(a->t, b->t);
    case LCV_ATTR_FLOATS:
        return a->n == b->n && (a->n == 0 || memcmp(a->floats, b->floats, sizeof(float) * (size_t)a->n) == 0);
    case LCV_ATTR_INTS:
        return a->n == b->n && (a->n == 0 || memcmp(a->ints, b->ints, sizeof(int64_t) * (size_t)a->n) == 0);
    case LCV_ATTR_STRINGS:
        if (a->n != b->n) return false;
        for (int64_t k = 0; k < a->n; k++)
            if (strcmp(a->strings[k], b->strings[k]) != 0) return false;
        return true;
    default: return false;
    }
}

static bool same_node(const lcv_graph *g, const lcv_node *a, const lcv_node *b) {
    if (a->op != b->op || a->opset != b->opset || a->n_in != b->n_in || a->n_out != b->n_out ||
        a->n_attrs != b->n_attrs || strcmp(a->domain, b->domain) != 0)
        return false;
    if (memcmp(&a->fused, &b->fused, sizeof a->fused) != 0) return false;
    if (a->n_in && memcmp(a->in, b->in, sizeof(int) * (size_t)a->n_in) != 0) return false;
    for (int k = 0; k < a->n_attrs; k++) {
        const lcv_attr *x = &a->attrs[k], *y = NULL;
        for (int j = 0; j < b->n_attrs && !y; j++)
            if (strcmp(b->attrs[j].name, x->name) == 0) y = &b->attrs[j];
        if (!y || !same_attr(x, y)) return false;
    }
    /* b's outputs must map onto a's: present where b's are, and b's not graph outputs */
    for (int k = 0; k < b->n_out; k++) {
        if (b->out[k] < 0) continue;
        if (a->out[k] < 0 || g->values[b->out[k]].is_output) return false;
    }
    return true;
}

static uint64_t node_hash(const lcv_node *n) {
    uint64_t h = 1469598103934665603ull ^ (uint64_t)(n->op + 1);
    for (int k = 0; k < n->n_in; k++) h = (h ^ (uint64_t)(n->in[k] + 2)) * 1099511628211ull;
    return (h ^ (uint64_t)n->n_attrs) * 1099511628211ull;
}

lcv_status lcv_pass_cse(lcv_graph *g, bool *changed, lcv_err *e) {
    int nn = g->n_nodes;
    uint64_t *hash = malloc(sizeof(uint64_t) * (size_t)(nn + 1));
    bool *remove = calloc((size_t)nn + 1, sizeof(bool));
    if (!hash || !remove) {
        free(hash);
        free(remove);
        return lcv_fail(e, LCV_ERR_NOMEM, "out of memory in the graph optimizer");
    }
    int removed = 0;
    for (int i = 0; i < nn; i++) {
        lcv_node *b = &g->nodes[i];
        hash[i] = node_hash(b); /* inputs are final here: earlier rewires happened before */
        if (b->op == LCV_OP_Dropout || b->n_in == 0) continue;
        for (int j = 0; j < i; j++) {
            if (remove[j] || hash[j] != hash[i] || !same_node(g, &g->nodes[j], b)) continue;
            const lcv_node *a = &g->nodes[j];
            for (int k = 0; k < b->n_out; k++) {
                if (b->out[k] < 0) continue;
                lcv_pass_replace_uses(g, b->out[k], a->out[k]);
                g->values[b->out[k]].producer = -1;
                b->out[k] = -1;
            }
            remove[i] = true;
            removed++;
            break;
        }
    }
    if (removed) lcv_graph_remove_nodes(g, remove);
    *changed = *changed || removed > 0;
    free(hash);
    free(remove);
    return LCV_OK;
}
