/* graph.c - construction, lookup, ownership and topological ordering of the IR graph. */
#include <stdlib.h>
#include <string.h>

#include "graph.h"

static char *dup_str(const char *s) {
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

/* Grows *arr (elements of size esz) so that index `need-1` fits. */
static bool grow(void **arr, int *cap, int need, size_t esz) {
    if (need <= *cap) return true;
    int nc = *cap ? *cap : 16;
    while (nc < need) {
        if (nc > (1 << 29)) return false;
        nc *= 2;
    }
    void *p = realloc(*arr, (size_t)nc * esz);
    if (!p) return false;
    memset((char *)p + (size_t)*cap * esz, 0, (size_t)(nc - *cap) * esz);
    *arr = p;
    *cap = nc;
    return true;
}

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

lcv_graph *lcv_graph_new(void) { return calloc(1, sizeof(lcv_graph)); }

void lcv_attr_clear(lcv_attr *a) {
    free(a->name);
    free(a->s);
    if (a->t) lcv_tensor_free(a->t);
    free(a->floats);
    free(a->ints);
    if (a->strings)
        for (int64_t i = 0; i < a->n; i++) free(a->strings[i]);
    free(a->strings);
    lcv_graph_free(a->g);
    memset(a, 0, sizeof *a);
}

static void node_clear(lcv_node *n) {
    free(n->name);
    free(n->op_type);
    free(n->domain);
    free(n->in);
    free(n->out);
    for (int k = 0; k < n->n_attrs; k++) lcv_attr_clear(&n->attrs[k]);
    free(n->attrs);
}

void lcv_graph_free(lcv_graph *g) {
    if (!g) return;
    for (int i = 0; i < g->n_values; i++) {
        lcv_value *v = &g->values[i];
        free(v->name);
        for (int k = 0; k < LCV_MAX_DIMS; k++) free(v->dim_params[k]);
        if (v->init) lcv_tensor_free(v->init);
    }
    for (int i = 0; i < g->n_nodes; i++) node_clear(&g->nodes[i]);
    for (int i = 0; i < g->n_opsets; i++) free(g->opsets[i].domain);
    free(g->opsets);
    free(g->values);
    free(g->nodes);
    free(g->inputs);
    free(g->outputs);
    free(g->index);
    free(g->name);
    free(g->outer);
    free(g->outer_in);
    free(g);
}

int lcv_graph_find(const lcv_graph *g, const char *name) {
    if (!g->index_cap) return -1;
    uint64_t mask = (uint64_t)g->index_cap - 1;
    for (uint64_t h = hash_str(name) & mask;; h = (h + 1) & mask) {
        int id = g->index[h];
        if (id < 0) return -1;
        if (strcmp(g->values[id].name, name) == 0) return id;
    }
}

static bool index_insert(lcv_graph *g, int id) {
    if ((g->n_values + 1) * 2 > g->index_cap) {
        int nc = g->index_cap ? g->index_cap * 2 : 64;
        int *ni = malloc((size_t)nc * sizeof *ni);
        if (!ni) return false;
        for (int i = 0; i < nc; i++) ni[i] = -1;
        free(g->index);
        g->index = ni;
        g->index_cap = nc;
        for (int k = 0; k < g->n_values; k++) {
            if (k == id) continue;
            uint64_t h = hash_str(g->values[k].name) & (uint64_t)(nc - 1);
            while (g->index[h] >= 0) h = (h + 1) & (uint64_t)(nc - 1);
            g->index[h] = k;
        }
    }
    uint64_t mask = (uint64_t)g->index_cap - 1;
    uint64_t h = hash_str(g->values[id].name) & mask;
    while (g->index[h] >= 0) h = (h + 1) & mask;
    g->index[h] = id;
    return true;
}

lcv_status lcv_graph_intern(lcv_graph *g, const char *name, int *id, lcv_err *e) {
    int found = lcv_graph_find(g, name);
    if (found >= 0) {
        *id = found;
        return LCV_OK;
    }
    if (!grow((void **)&g->values, &g->cap_values, g->n_values + 1, sizeof(lcv_value)))
        return lcv_fail(e, LCV_ERR_NOMEM, "out of memory adding value '%s'", name);
    int nid = g->n_values;
    lcv_value *v = &g->values[nid];
    memset(v, 0, sizeof *v);
    v->name = dup_str(name);
    if (!v->name) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory adding value '%s'", name);
    v->ndim = -1;
    v->producer = -1;
    if (!index_insert(g, nid)) {
        free(v->name);
        return lcv_fail(e, LCV_ERR_NOMEM, "out of memory indexing value '%s'", name);
    }
    g->n_values++;
    *id = nid;
    return LCV_OK;
}

lcv_status lcv_graph_add_node(lcv_graph *g, const char *name, const char *op_type,
                              const char *domain, int n_in, const char *const *in_names, int n_out,
                              const char *const *out_names, lcv_node **node_out, lcv_err *e) {
    if (!grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof(lcv_node)))
        return lcv_fail(e, LCV_ERR_NOMEM, "out of memory adding a node");
    int nid = g->n_nodes;
    lcv_node *n = &g->nodes[nid];
    memset(n, 0, sizeof *n);
    n->op = -1;
    n->fused.residual = -1;
    n->name = dup_str(name ? name : "");
    n->op_type = dup_str(op_type ? op_type : "");
    n->domain = dup_str(domain ? domain : "");
    n->in = malloc(sizeof(int) * (size_t)(n_in > 0 ? n_in : 1));
    n->out = malloc(sizeof(int) * (size_t)(n_out > 0 ? n_out : 1));
    g->n_nodes++; /* from here on lcv_graph_free releases the node's memory */
    if (!n->name || !n->op_type || !n->domain || !n->in || !n->out)
        return lcv_fail(e, LCV_ERR_NOMEM, "out of memory adding node '%s'", name ? name : "");
    for (int i = 0; i < n_in; i++) {
        n->in[i] = -1;
        n->n_in = i + 1;
        if (!in_names[i] || !in_names[i][0]) continue;
        int id;
        lcv_status st = lcv_graph_intern(g, in_names[i], &id, e);
        if (st != LCV_OK) return st;
        n = &g->nodes[nid];
        n->in[i] = id;
    }
    for (int i = 0; i < n_out; i++) {
        n->out[i] = -1;
        n->n_out = i + 1;
        if (!out_names[i] || !out_names[i][0]) continue; /* omitted optional output */
        int id;
        lcv_status st = lcv_graph_intern(g, out_names[i], &id, e);
        if (st != LCV_OK) return st;
        n = &g->nodes[nid];
        lcv_value *v = &g->values[id];
        if (v->producer >= 0)
            return lcv_fail(e, LCV_ERR_PARSE,
                            "value '%s' is produced by both node '%s' and node '%s'", v->name,
                            g->nodes[v->producer].name, n->name);
        if (v->is_initializer)
            return lcv_fail(e, LCV_ERR_PARSE,
                            "value '%s' is an initializer and also produced by node '%s'",
                            v->name, n->name);
        v->producer = nid;
        n->out[i] = id;
    }
    if (node_out) *node_out = n;
    return LCV_OK;
}

lcv_status lcv_node_add_attr(lcv_node *node, const char *name, lcv_attr **out, lcv_err *e) {
    for (int i = 0; i < node->n_attrs; i++)
        if (strcmp(node->attrs[i].name, name) == 0)
            return lcv_fail(e, LCV_ERR_PARSE, "node '%s' (%s): attribute '%s' appears twice",
                            node->name, node->op_type, name);
    lcv_attr *na = realloc(node->attrs, sizeof(lcv_attr) * (size_t)(node->n_attrs + 1));
    if (!na) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory adding attribute '%s'", name);
    node->attrs = na;
    lcv_attr *a = &na[node->n_attrs];
    memset(a, 0, sizeof *a);
    a->name = dup_str(name);
    if (!a->name) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory adding attribute '%s'", name);
    node->n_attrs++;
    *out = a;
    return LCV_OK;
}


void lcv_graph_remove_nodes(lcv_graph *g, const bool *remove) {
    int kept = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        lcv_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0) g->values[n->out[k]].producer = remove[i] ? -1 : kept;
        if (remove[i]) {
            node_clear(n);
            continue;
        }
        g->nodes[kept++] = *n;
    }
    g->n_nodes = kept;
}

static lcv_status push_id(int **arr, int *n, int *cap, int id, lcv_err *e) {
    if (!grow((void **)arr, cap, *n + 1, sizeof(int)))
        return lcv_fail(e, LCV_ERR_NOMEM, "out of memory");
    (*arr)[(*n)++] = id;
    return LCV_OK;
}

lcv_status lcv_graph_add_input(lcv_graph *g, int id, lcv_err *e) {
    if (g->values[id].is_input)
        return lcv_fail(e, LCV_ERR_PARSE, "graph input '%s' is declared twice",
                        g->values[id].name);
    g->values[id].is_input = true;
    return push_id(&g->inputs, &g->n_inputs, &g->cap_inputs, id, e);
}

lcv_status lcv_graph_add_output(lcv_graph *g, int id, lcv_err *e) {
    if (g->values[id].is_output)
        return lcv_fail(e, LCV_ERR_PARSE, "graph output '%s' is declared twice",
                        g->values[id].name);
    g->values[id].is_output = true;
    return push_id(&g->outputs, &g->n_outputs, &g->cap_outputs, id, e);
}

lcv_status lcv_graph_set_initializer(lcv_graph *g, int id, lcv_tensor *t, lcv_err *e) {
    lcv_value *v = &g->values[id];
    if (v->init || v->is_initializer) {
        lcv_tensor_free(t);
        return lcv_fail(e, LCV_ERR_PARSE, "initializer '%s' is defined twice", v->name);
    }
    if (v->producer >= 0) {
        lcv_tensor_free(t);
        return lcv_fail(e, LCV_ERR_PARSE, "initializer '%s' is also produced by node '%s'",
                        v->name, g->nodes[v->producer].name);
    }
    v->init = t;
    v->is_initializer = true;
    v->dtype = t->dtype;
    v->ndim = t->ndim;
    for (int i = 0; i < t->ndim; i++) v->dims[i] = t->dims[i];
    return LCV_OK;
}

lcv_status lcv_graph_add_opset(lcv_graph *g, const char *domain, int64_t version, lcv_err *e) {
    lcv_opset_import *p = realloc(g->opsets, sizeof *p * (size_t)(g->n_opsets + 1));
    if (!p) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory");
    g->opsets = p;
    p[g->n_opsets].domain = dup_str(domain ? domain : "");
    if (!p[g->n_opsets].domain) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory");
    p[g->n_opsets].version = version;
    g->n_opsets++;
    return LCV_OK;
}

static bool same_domain(const char *a, const char *b) {
    bool da = !a || !a[0] || strcmp(a, "ai.onnx") == 0;
    bool db = !b || !b[0] || strcmp(b, "ai.onnx") == 0;
    if (da || db) return da && db;
    return strcmp(a, b) == 0;
}

int64_t lcv_graph_opset(const lcv_graph *g, const char *domain) {
    for (int i = 0; i < g->n_opsets; i++)
        if (same_domain(g->opsets[i].domain, domain)) return g->opsets[i].version;
    return -1;
}

/* Kahn's algorithm over producer->consumer edges, taking ready nodes in original order. */
lcv_status lcv_graph_toposort(lcv_graph *g, lcv_err *e) {
    int nn = g->n_nodes;
    for (int i = 0; i < nn; i++) {
        const lcv_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_in; k++) {
            int id = n->in[k];
            if (id < 0) continue;
            const lcv_value *v = &g->values[id];
            if (v->producer < 0 && !v->init && !v->is_input)
                return lcv_fail(e, LCV_ERR_PARSE,
                                "node '%s' (%s): input '%s' is not produced by any node, not an "
                                "initializer and not a graph input",
                                n->name, n->op_type, v->name);
        }
    }
    for (int i = 0; i < g->n_outputs; i++) {
        const lcv_value *v = &g->values[g->outputs[i]];
        if (v->producer < 0 && !v->init && !v->is_input)
            return lcv_fail(e, LCV_ERR_PARSE, "graph output '%s' is never produced", v->name);
    }
    int *pending = calloc((size_t)(nn ? nn : 1), sizeof(int));
    int *order = malloc(sizeof(int) * (size_t)(nn ? nn : 1));
    int *queue = malloc(sizeof(int) * (size_t)(nn ? nn : 1));
    /* consumers as CSR: for each value, the nodes consuming it */
    int *cons_start = calloc((size_t)g->n_values + 1, sizeof(int));
    int total = 0;
    for (int i = 0; i < nn; i++) total += g->nodes[i].n_in;
    int *cons = malloc(sizeof(int) * (size_t)(total ? total : 1));
    if (!pending || !order || !queue || !cons_start || !cons) {
        free(pending), free(order), free(queue), free(cons_start), free(cons);
        return lcv_fail(e, LCV_ERR_NOMEM, "out of memory ordering the graph");
    }
    for (int i = 0; i < nn; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++)
            if (g->nodes[i].in[k] >= 0) cons_start[g->nodes[i].in[k] + 1]++;
    for (int v = 0; v < g->n_values; v++) cons_start[v + 1] += cons_start[v];
    int *fill = calloc((size_t)g->n_values + 1, sizeof(int));
    if (!fill) {
        free(pending), free(order), free(queue), free(cons_start), free(cons);
        return lcv_fail(e, LCV_ERR_NOMEM, "out of memory ordering the graph");
    }
    for (int i = 0; i < nn; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++) {
            int id = g->nodes[i].in[k];
            if (id < 0) continue;
            cons[cons_start[id] + fill[id]++] = i;
            if (g->values[id].producer >= 0) pending[i]++;
        }
    int head = 0, tail = 0, done = 0;
    for (int i = 0; i < nn; i++)
        if (pending[i] == 0) queue[tail++] = i;
    while (head < tail) {
        int i = queue[head++];
        order[done++] = i;
        const lcv_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_out; k++) {
            int id = n->out[k];
            if (id < 0) continue;
            for (int c = cons_start[id]; c < cons_start[id + 1]; c++)
                if (--pending[cons[c]] == 0) queue[tail++] = cons[c];
        }
    }
    lcv_status st = LCV_OK;
    if (done != nn) {
        int culprit = 0;
        for (int i = 0; i < nn; i++)
            if (pending[i] > 0) {
                culprit = i;
                break;
            }
        st = lcv_fail(e, LCV_ERR_PARSE, "the graph has a cycle through node '%s' (%s)",
                      g->nodes[culprit].name, g->nodes[culprit].op_type);
    } else {
        lcv_node *sorted = malloc(sizeof(lcv_node) * (size_t)(nn ? nn : 1));
        int *newidx = malloc(sizeof(int) * (size_t)(nn ? nn : 1));
        if (!sorted || !newidx) {
            free(sorted);
            free(newidx);
            st = lcv_fail(e, LCV_ERR_NOMEM, "out of memory ordering the graph");
        } else {
            for (int i = 0; i < nn; i++) {
                sorted[i] = g->nodes[order[i]];
                newidx[order[i]] = i;
            }
            if (nn) memcpy(g->nodes, sorted, sizeof(lcv_node) * (size_t)nn);
            for (int v = 0; v < g->n_values; v++)
                if (g->values[v].producer >= 0) g->values[v].producer = newidx[g->values[v].producer];
            free(sorted);
            free(newidx);
        }
    }
    free(pending), free(order), free(queue), free(cons_start), free(cons), free(fill);
    return st;
}

/* ---- subgraphs ---- */

static bool defined_here(const lcv_value *v) {
    return v->producer >= 0 || v->init || v->is_initializer || v->is_input;
}

lcv_status lcv_graph_collect_outer(lcv_graph *sg, lcv_err *e) {
    free(sg->outer);
    free(sg->outer_in);
    sg->outer = sg->outer_in = NULL;
    sg->n_outer = 0;
    bool *seen = calloc((size_t)sg->n_values + 1, sizeof *seen);
    int *ids = malloc(sizeof(int) * ((size_t)sg->n_values + 1));
    int *slots = malloc(sizeof(int) * ((size_t)sg->n_values + 1));
    if (!seen || !ids || !slots) {
        free(seen), free(ids), free(slots);
        return lcv_fail(e, LCV_ERR_NOMEM, "out of memory scanning a subgraph");
    }
    int n = 0;
    for (int i = 0; i <= sg->n_nodes; i++) {
        const int *list = i < sg->n_nodes ? sg->nodes[i].in : sg->outputs;
        int cnt = i < sg->n_nodes ? sg->nodes[i].n_in : sg->n_outputs;
        for (int k = 0; k < cnt; k++) {
            int id = list[k];
            if (id < 0 || seen[id] || defined_here(&sg->values[id])) continue;
            seen[id] = true;
            ids[n] = id;
            slots[n++] = -1;
        }
    }
    free(seen);
    if (n == 0) {
        free(ids), free(slots);
        return LCV_OK;
    }
    sg->outer = ids;
    sg->outer_in = slots;
    sg->n_outer = n;
    return LCV_OK;
}

lcv_status lcv_node_link_subgraphs(lcv_graph *g, int node, lcv_err *e) {
    for (int a = 0; a < g->nodes[node].n_attrs; a++) {
        lcv_graph *sg = g->nodes[node].attrs[a].type == LCV_ATTR_GRAPH ? g->nodes[node].attrs[a].g
                                                                        : NULL;
        for (int k = 0; sg && k < sg->n_outer; k++) {
            const char *name = sg->values[sg->outer[k]].name;
            int id;
            lcv_status st = lcv_graph_intern(g, name, &id, e);
            if (st != LCV_OK) return st;
            lcv_node *n = &g->nodes[node];
            int at = -1;
            for (int j = n->n_in - n->n_implicit; j < n->n_in && at < 0; j++)
                if (n->in[j] == id) at = j;
            if (at < 0) {
                int *in = realloc(n->in, sizeof(int) * ((size_t)n->n_in + 1));
                if (!in)
                    return lcv_fail(e, LCV_ERR_NOMEM, "out of memory linking node '%s'",
                                    n->name);
                n->in = in;
                at = n->n_in++;
                in[at] = id;
                n->n_implicit++;
            }
            sg->outer_in[k] = at;
        }
    }
    return LCV_OK;
}
