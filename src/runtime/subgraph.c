/* subgraph.c - makes the subgraphs of If/Loop nodes executable: at load each one becomes a
 * model of its own (analysed, optimised and planned like the enclosing graph) whose inputs
 * are its declared inputs followed by the enclosing values it reads that are not constants
 * (constants are copied in, so they fold and plan); at run time the op (src/ops/control.c)
 * opens a session on it per node execution, so sessions of a shared model never share state. */
#include <stdlib.h>
#include <string.h>

#include "../ops/control.h"
#include "model.h"

struct lcv_subgraph {
    lcv_model *m;        /* owned; its graph is borrowed from the node's attribute */
    int n_formal;        /* declared inputs, fed by the op */
    int n_fed;           /* enclosing values fed as inputs after them */
    int *fed_in;         /* owned, n_fed: the node input that carries each */
    const char **names;  /* owned array (names borrowed from m->g): every input, in order */
};

struct lcv_subgraph_run {
    const lcv_subgraph *sub;
    lcv_session *s;           /* owned */
    const lcv_tensor **ins;   /* owned array, n_formal + n_fed */
};

static void sub_free(lcv_subgraph *sub) {
    if (!sub) return;
    lcv_model_free(sub->m);
    free(sub->fed_in);
    free(sub->names);
    free(sub);
}

static void control_plan_free(void *p) {
    lcv_control_plan *cp = p;
    for (int k = 0; k < cp->n_subs; k++) sub_free((lcv_subgraph *)cp->subs[k]);
    free(cp);
}

static lcv_status run_open(const lcv_subgraph *sub, lcv_subgraph_run **out, lcv_err *e) {
    *out = NULL;
    lcv_subgraph_run *r = calloc(1, sizeof *r);
    int n = sub->n_formal + sub->n_fed;
    if (r) r->ins = calloc((size_t)n + 1, sizeof *r->ins);
    if (!r || !r->ins || lcv_session_create(sub->m, NULL, &r->s) != LCV_OK) {
        if (r) free(r->ins);
        free(r);
        return lcv_fail(e, LCV_ERR_NOMEM, "out of memory opening a subgraph session");
    }
    r->sub = sub;
    *out = r;
    return LCV_OK;
}

static lcv_status run_run(lcv_subgraph_run *r, const lcv_tensor *const *formal,
                          const lcv_tensor *const *node_in, lcv_err *e) {
    const lcv_subgraph *sub = r->sub;
    for (int i = 0; i < sub->n_formal; i++) r->ins[i] = formal[i];
    for (int f = 0; f < sub->n_fed; f++) {
        r->ins[sub->n_formal + f] = node_in[sub->fed_in[f]];
        if (!r->ins[sub->n_formal + f])
            return lcv_fail(e, LCV_ERR_INTERNAL, "enclosing value '%s' has no data",
                            sub->names[sub->n_formal + f]);
    }
    lcv_status st = lcv_session_run(r->s, sub->n_formal + sub->n_fed, sub->names, r->ins);
    if (st != LCV_OK) return lcv_fail(e, st, "%s", lcv_session_errmsg(r->s));
    return LCV_OK;
}

static const lcv_tensor *run_output(const lcv_subgraph_run *r, int i) {
    return lcv_session_output(r->s, i);
}

static void run_close(lcv_subgraph_run *r) {
    if (!r) return;
    lcv_session_free(r->s);
    free(r->ins);
    free(r);
}

static const lcv_control_api API = {run_open, run_run, run_output, run_close};

/* Subgraph sg of node `node` in m: declared inputs lose their dims (a loop-carried value may
 * change shape between iterations), enclosing constants are copied in, the other enclosing
 * values become inputs, and the result is analysed as a model. */
static lcv_status sub_build(lcv_model *m, const lcv_node *node, const char *attr, lcv_graph *sg,
                            lcv_subgraph **out, lcv_err *e) {
    lcv_subgraph *sub = *out = calloc(1, sizeof *sub);
    if (!sub) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory for a subgraph");
    sub->n_formal = sg->n_inputs;
    sub->fed_in = malloc(sizeof(int) * ((size_t)sg->n_outer + 1));
    if (!sub->fed_in) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory for a subgraph");
    for (int i = 0; i < sg->n_inputs; i++) sg->values[sg->inputs[i]].ndim = -1;
    lcv_status st = LCV_OK;
    for (int k = 0; k < sg->n_outer && st == LCV_OK; k++) {
        int j = sg->outer_in ? sg->outer_in[k] : -1;
        lcv_value *v = &sg->values[sg->outer[k]];
        if (j < node->n_in - node->n_implicit || j >= node->n_in || node->in[j] < 0)
            return lcv_fail(e, LCV_ERR_INVALID_ARG, "node '%s' (%s) %s: value '%s' of the "
                            "enclosing graph is not among the node's implicit inputs",
                            node->name, node->op_type, attr, v->name);
        const lcv_value *pv = &m->g->values[node->in[j]];
        const lcv_tensor *pt = pv->init;
        if (pt && !pv->is_input && (pt->data || lcv_tensor_count(pt) == 0)) {
            lcv_tensor *t = malloc(sizeof *t);
            if (!t) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory copying '%s'", v->name);
            lcv_tensor_init(t);
            if ((st = lcv_tensor_copy_into(t, pt, e)) != LCV_OK) {
                lcv_tensor_free(t);
                return st;
            }
            v->init = t;
            v->dtype = t->dtype;
            v->ndim = t->ndim;
            memcpy(v->dims, t->dims, sizeof v->dims);
            continue;
        }
        v->dtype = pv->dtype;
        v->ndim = -1;
        sub->fed_in[sub->n_fed++] = j;
        st = lcv_graph_add_input(sg, sg->outer[k], e);
    }
    if (st == LCV_OK) st = lcv_model_from_subgraph(sg, m, &sub->m, e);
    if (st != LCV_OK) {
        lcv_err_prefix(e, "node '%s' (%s) %s", node->name, node->op_type, attr);
        return st;
    }
    sub->names = malloc(sizeof(char *) * ((size_t)sg->n_inputs + 1));
    if (!sub->names) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory for a subgraph");
    for (int i = 0; i < sg->n_inputs; i++) sub->names[i] = sg->values[sg->inputs[i]].name;
    return LCV_OK;
}

/* The op's own checks (input/output counts against the subgraphs, cond and trip count
 * dtypes) on node i: load-time inference skips nodes whose inputs have unknown shapes, and
 * these checks need none. */
static lcv_status check_node(const lcv_model *m, int i, lcv_err *e) {
    const lcv_graph *g = m->g;
    const lcv_node *n = &g->nodes[i];
    lcv_tensor *views = calloc((size_t)n->n_in + 1, sizeof *views);
    const lcv_tensor **ins = calloc((size_t)n->n_in + 1, sizeof *ins);
    lcv_tensor *outs_buf = calloc((size_t)n->n_out + 1, sizeof *outs_buf);
    lcv_tensor **outs = calloc((size_t)n->n_out + 1, sizeof *outs);
    lcv_status st = LCV_OK;
    if (!views || !ins || !outs_buf || !outs) {
        st = lcv_fail(e, LCV_ERR_NOMEM, "out of memory checking node '%s'", n->name);
    } else {
        for (int k = 0; k < n->n_in; k++) {
            if (n->in[k] < 0) continue;
            lcv_tensor_init(&views[k]);
            views[k].owns_data = false;
            views[k].dtype = g->values[n->in[k]].dtype; /* rank 0, no data: dtypes only */
            ins[k] = &views[k];
        }
        for (int k = 0; k < n->n_out; k++) {
            lcv_tensor_init(&outs_buf[k]);
            outs[k] = &outs_buf[k];
        }
        lcv_opctx c = {n, lcv_node_op_inputs(n), ins, n->n_out, outs, e, NULL, NULL, NULL};
        st = lcv_op_table[n->op].infer(&c);
        if (st == LCV_DEFERRED) st = LCV_OK;
    }
    free(views), free(ins), free(outs_buf), free(outs);
    return st;
}

/* Whether g's subgraphs nest more than `room` levels; looks no deeper than that. */
static const lcv_node *too_deep(const lcv_graph *g, int room) {
    for (int i = 0; i < g->n_nodes; i++)
        for (int a = 0; a < g->nodes[i].n_attrs; a++) {
            const lcv_attr *at = &g->nodes[i].attrs[a];
            if (at->type != LCV_ATTR_GRAPH || !at->g) continue;
            if (room == 0 || too_deep(at->g, room - 1)) return &g->nodes[i];
        }
    return NULL;
}

lcv_status lcv_subgraphs_prepare(lcv_model *m, lcv_err *e) {
    static const char *const if_names[] = {"then_branch", "else_branch"};
    static const char *const loop_names[] = {"body"};
    lcv_graph *g = m->g;
    /* checked once at the top, so the refusal is not buried under one prefix per level */
    const lcv_node *deep = m->depth == 0 ? too_deep(g, LCV_MAX_SUBGRAPH_DEPTH) : NULL;
    if (deep)
        return lcv_fail(e, LCV_ERR_UNSUPPORTED, "node '%s' (%s): subgraphs nest deeper than %d "
                        "levels", deep->name, deep->op_type, LCV_MAX_SUBGRAPH_DEPTH);
    for (int i = 0; i < g->n_nodes; i++) {
        const lcv_node *n = &g->nodes[i];
        if (m->folded[i] || (n->op != LCV_OP_If && n->op != LCV_OP_Loop)) continue;
        lcv_status st = check_node(m, i, e);
        if (st != LCV_OK) return st;
        lcv_control_plan *cp = calloc(1, sizeof *cp);
        if (!cp) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory planning node '%s'", n->name);
        lcv_plan_clear(&m->plans[i]);
        m->plans[i].data = cp; /* freed with the model from here on, even half built */
        m->plans[i].free_data = control_plan_free;
        cp->api = &API;
        cp->n_subs = n->op == LCV_OP_If ? 2 : 1;
        const char *const *names = n->op == LCV_OP_If ? if_names : loop_names;
        for (int k = 0; k < cp->n_subs; k++) {
            const lcv_attr *a = lcv_attr_find(n, names[k]);
            if (!a || a->type != LCV_ATTR_GRAPH || !a->g)
                return lcv_fail(e, LCV_ERR_INVALID_ARG, "node '%s' (%s): attribute '%s' (a "
                                "graph) is missing", n->name, n->op_type, names[k]);
            cp->n_formal[k] = a->g->n_inputs;
            lcv_subgraph *sub = NULL;
            st = sub_build(m, n, names[k], a->g, &sub, e);
            cp->subs[k] = sub;
            if (st != LCV_OK) return st;
            cp->declared_out[k] = sub->m->declared;
        }
    }
    return LCV_OK;
}
