/* session.c - lcv_session: per-session buffers and the execution loop. Buffers are recycled
 * by liveness through a small pool, so once a shape has been run, later runs with the same
 * shapes perform no heap allocation. Shapes are re-inferred only when input shapes change or
 * when a node's output shape depends on run-time data. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/threadpool.h"
#include "model.h"

typedef struct pool_block {
    void *data;
    size_t capacity;
} pool_block;

struct lcv_session {
    const lcv_model *m;
    lcv_err err;
    lcv_session_params params;
    lcv_tensor *slots;         /* one per node output slot (model->slot_base) */
    const lcv_tensor **cur;    /* per value: the tensor holding its data during a run */
    lcv_tensor *out_copies;    /* per graph output not produced by a node */
    pool_block *pool;          /* released buffers waiting for reuse */
    int n_pool, cap_pool;
    lcv_tensor *last_inputs;   /* shapes of the previous run's inputs (no data) */
    bool planned;              /* slots hold inferred shapes for last_inputs */
    bool have_outputs;
    double *prof_seconds;
    int64_t *prof_calls;
    lcv_threadpool *threads;   /* params.threads threads, NULL for one */
    lcv_scratch scratch;       /* grow-only scratch memory for fast kernels */
    /* scratch pointer arrays sized for the widest node */
    const lcv_tensor **ins;
    lcv_tensor **outs;
};

lcv_session_params lcv_session_default_params(void) {
    lcv_session_params p;
    memset(&p, 0, sizeof p);
    p.threads = 1;
    return p;
}

void lcv_session_free(lcv_session *s) {
    if (!s) return;
    if (s->slots)
        for (int i = 0; i < s->m->n_slots; i++) lcv_tensor_release(&s->slots[i]);
    if (s->out_copies)
        for (int i = 0; i < s->m->g->n_outputs; i++) lcv_tensor_release(&s->out_copies[i]);
    for (int i = 0; i < s->n_pool; i++) free(s->pool[i].data);
    free(s->pool);
    free(s->slots);
    free(s->out_copies);
    free(s->cur);
    free(s->last_inputs);
    free(s->prof_seconds);
    free(s->prof_calls);
    free(s->ins);
    free(s->outs);
    lcv_threadpool_free(s->threads);
    free(s->scratch.data);
    free(s);
}

const char *lcv_session_errmsg(const lcv_session *s) { return s ? s->err.msg : "no session"; }

lcv_status lcv_session_create(const lcv_model *model, const lcv_session_params *params,
                              lcv_session **out) {
    if (!out) return LCV_ERR_INVALID_ARG;
    *out = NULL;
    if (!model || !model->loaded) return LCV_ERR_INVALID_ARG;
    const lcv_graph *g = model->g;
    lcv_session *s = calloc(1, sizeof *s);
    if (!s) return LCV_ERR_NOMEM;
    s->m = model;
    s->params = params ? *params : lcv_session_default_params();
    if (s->params.threads < 1) s->params.threads = 1;
    int width = 1;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].n_in > width) width = g->nodes[i].n_in;
        if (g->nodes[i].n_out > width) width = g->nodes[i].n_out;
    }
    s->slots = calloc((size_t)model->n_slots + 1, sizeof(lcv_tensor));
    s->out_copies = calloc((size_t)g->n_outputs + 1, sizeof(lcv_tensor));
    s->cur = calloc((size_t)g->n_values + 1, sizeof(lcv_tensor *));
    s->last_inputs = calloc((size_t)g->n_inputs + 1, sizeof(lcv_tensor));
    s->prof_seconds = calloc((size_t)g->n_nodes + 1, sizeof(double));
    s->prof_calls = calloc((size_t)g->n_nodes + 1, sizeof(int64_t));
    s->ins = calloc((size_t)width, sizeof(lcv_tensor *));
    s->outs = calloc((size_t)width, sizeof(lcv_tensor *));
    if (!s->slots || !s->out_copies || !s->cur || !s->last_inputs || !s->prof_seconds ||
        !s->prof_calls || !s->ins || !s->outs) {
        lcv_session_free(s);
        return LCV_ERR_NOMEM;
    }
    if (s->params.threads > 1 &&
        lcv_threadpool_create(s->params.threads, &s->threads, &s->err) != LCV_OK) {
        lcv_session_free(s);
        return LCV_ERR_NOMEM;
    }
    for (int i = 0; i < model->n_slots; i++) lcv_tensor_init(&s->slots[i]);
    for (int i = 0; i < g->n_outputs; i++) lcv_tensor_init(&s->out_copies[i]);
    *out = s;
    return LCV_OK;
}

/* Gives t's buffer back to the pool (the tensor keeps its shape facts). */
static lcv_status pool_put(lcv_session *s, lcv_tensor *t) {
    if (!t->data || !t->owns_data) return LCV_OK;
    if (s->n_pool == s->cap_pool) {
        int nc = s->cap_pool ? s->cap_pool * 2 : 32;
        pool_block *p = realloc(s->pool, sizeof *p * (size_t)nc);
        if (!p) return lcv_fail(&s->err, LCV_ERR_NOMEM, "out of memory");
        s->pool = p;
        s->cap_pool = nc;
    }
    s->pool[s->n_pool].data = t->data;
    s->pool[s->n_pool].capacity = t->capacity;
    s->n_pool++;
    t->data = NULL;
    t->capacity = 0;
    return LCV_OK;
}

/* Makes sure t has a buffer for its current shape, preferring the smallest pooled block that
 * fits; falls back to (re)allocation. */
static lcv_status pool_take(lcv_session *s, lcv_tensor *t) {
    int64_t n;
    size_t bytes;
    if (!lcv_shape_numel(t->ndim, t->dims, &n) || !lcv_mul_size((size_t)n, lcv_dtype_size(t->dtype), &bytes))
        return lcv_fail(&s->err, LCV_ERR_NOMEM, "output too large");
    if (t->data && t->capacity >= bytes) return LCV_OK;
    int best = -1;
    for (int i = 0; i < s->n_pool; i++)
        if (s->pool[i].capacity >= bytes &&
            (best < 0 || s->pool[i].capacity < s->pool[best].capacity))
            best = i;
    if (best >= 0) {
        lcv_status st = pool_put(s, t); /* may grow the pool array; best index stays valid */
        if (st != LCV_OK) return st;
        t->data = s->pool[best].data;
        t->capacity = s->pool[best].capacity;
        t->owns_data = true;
        s->pool[best] = s->pool[--s->n_pool];
        return LCV_OK;
    }
    return lcv_tensor_reshape_alloc(t, t->dtype, t->ndim, t->dims, &s->err);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Binds the caller's inputs to graph input values, checking names, dtypes and shapes.
 * Returns whether the input shapes equal those of the previous run in *same_shapes. */
static lcv_status bind_inputs(lcv_session *s, int n_inputs, const char *const *names,
                              const lcv_tensor *const *inputs, bool *same_shapes) {
    const lcv_graph *g = s->m->g;
    for (int i = 0; i < g->n_inputs; i++) s->cur[g->inputs[i]] = NULL;
    if (n_inputs < 0 || (n_inputs > 0 && (!names || !inputs)))
        return lcv_fail(&s->err, LCV_ERR_INVALID_ARG, "invalid input arrays");
    for (int i = 0; i < n_inputs; i++) {
        if (!names[i] || !inputs[i])
            return lcv_fail(&s->err, LCV_ERR_INVALID_ARG, "input %d has a NULL name or tensor", i);
        int id = lcv_graph_find(g, names[i]);
        if (id < 0 || !g->values[id].is_input)
            return lcv_fail(&s->err, LCV_ERR_INVALID_ARG, "'%s' is not an input of the model",
                            names[i]);
        if (s->cur[id])
            return lcv_fail(&s->err, LCV_ERR_INVALID_ARG, "input '%s' is given twice", names[i]);
        const lcv_value *v = &g->values[id];
        const lcv_tensor *t = inputs[i];
        char want[160], got[160];
        if (v->dtype != LCV_DTYPE_UNDEFINED && t->dtype != v->dtype)
            return lcv_fail(&s->err, LCV_ERR_SHAPE, "input '%s': expected dtype %s, got %s",
                            names[i], lcv_dtype_name(v->dtype), lcv_dtype_name(t->dtype));
        if (lcv_dtype_size(t->dtype) == 0)
            return lcv_fail(&s->err, LCV_ERR_UNSUPPORTED, "input '%s': dtype %s is not supported",
                            names[i], lcv_dtype_name(t->dtype));
        bool ok = v->ndim < 0 || v->ndim == t->ndim;
        for (int k = 0; ok && v->ndim >= 0 && k < v->ndim; k++)
            if (v->dims[k] >= 0 && v->dims[k] != t->dims[k]) ok = false;
        if (!ok)
            return lcv_fail(&s->err, LCV_ERR_SHAPE,
                            "input '%s': expected shape %s (-1 = any), got %s", names[i],
                            lcv_shape_str(v->ndim, v->dims, want, sizeof want),
                            lcv_shape_str(t->ndim, t->dims, got, sizeof got));
        if (t->ndim > 0 && !t->data && lcv_tensor_count(t) > 0)
            return lcv_fail(&s->err, LCV_ERR_INVALID_ARG, "input '%s' has no data", names[i]);
        s->cur[id] = t;
    }
    *same_shapes = s->planned;
    for (int i = 0; i < g->n_inputs; i++) {
        int id = g->inputs[i];
        const lcv_value *v = &g->values[id];
        if (!s->cur[id]) {
            if (!v->init)
                return lcv_fail(&s->err, LCV_ERR_INVALID_ARG, "input '%s' was not given",
                                v->name);
            s->cur[id] = v->init; /* old-style input with a default initializer */
        }
        lcv_tensor *last = &s->last_inputs[i];
        const lcv_tensor *t = s->cur[id];
        if (last->dtype != t->dtype || !lcv_shape_equal(last->ndim, last->dims, t->ndim, t->dims)) {
            *same_shapes = false;
            last->dtype = t->dtype;
            last->ndim = t->ndim;
            memcpy(last->dims, t->dims, sizeof last->dims);
        }
    }
    return LCV_OK;
}

static lcv_status run_node(lcv_session *s, int i, bool reinfer) {
    const lcv_model *m = s->m;
    const lcv_graph *g = m->g;
    const lcv_node *n = &g->nodes[i];
    for (int k = 0; k < n->n_in; k++) s->ins[k] = n->in[k] >= 0 ? s->cur[n->in[k]] : NULL;
    for (int k = 0; k < n->n_out; k++) s->outs[k] = &s->slots[m->slot_base[i] + k];
    const lcv_plan *plan = &m->plans[i];
    lcv_opctx c = {n,        lcv_node_op_inputs(n), s->ins, n->n_out, s->outs, &s->err,
                   plan->data, s->threads, &s->scratch};
    lcv_status st;
    if (reinfer || m->runtime_shape[i]) {
        st = lcv_op_table[n->op].infer(&c);
        if (st == LCV_DEFERRED)
            st = lcv_fail(&s->err, LCV_ERR_INTERNAL, "node '%s' (%s): shape unknown at run time",
                          n->name, n->op_type);
        if (st != LCV_OK) return st;
    }
    for (int k = 0; k < n->n_out; k++) {
        st = pool_take(s, s->outs[k]);
        if (st != LCV_OK) return st;
    }
    if (plan->exec) {
        st = plan->exec(&c); /* applies node->fused itself */
    } else {
        st = lcv_op_table[n->op].exec(&c);
        if (st == LCV_OK) st = lcv_op_apply_fused(&c);
    }
    if (st != LCV_OK) return st;
    for (int k = 0; k < n->n_out; k++)
        if (n->out[k] >= 0) s->cur[n->out[k]] = s->outs[k];
    /* Release inputs whose last reader this is (never constants, inputs or graph outputs). */
    for (int k = 0; k < n->n_in; k++) {
        int id = n->in[k];
        if (id < 0 || m->last_use[id] != i) continue;
        const lcv_value *v = &g->values[id];
        if (v->init || v->producer < 0) continue;
        lcv_tensor *t = &s->slots[m->slot_base[v->producer]];
        for (int o = 0; o < g->nodes[v->producer].n_out; o++)
            if (g->nodes[v->producer].out[o] == id) t = &s->slots[m->slot_base[v->producer] + o];
        st = pool_put(s, t);
        if (st != LCV_OK) return st;
    }
    /* Omitted optional outputs are dead at once. */
    for (int k = 0; k < n->n_out; k++)
        if (n->out[k] < 0 || m->last_use[n->out[k]] < 0) {
            if (n->out[k] >= 0 && g->values[n->out[k]].is_output) continue;
            st = pool_put(s, s->outs[k]);
            if (st != LCV_OK) return st;
        }
    return LCV_OK;
}

lcv_status lcv_session_run(lcv_session *s, int n_inputs, const char *const *names,
                           const lcv_tensor *const *inputs) {
    if (!s) return LCV_ERR_INVALID_ARG;
    s->err.msg[0] = '\0';
    s->have_outputs = false;
    const lcv_model *m = s->m;
    const lcv_graph *g = m->g;
    bool same = false;
    lcv_status st = bind_inputs(s, n_inputs, names, inputs, &same);
    if (st != LCV_OK) return st;
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].init && !g->values[v].is_input) s->cur[v] = g->values[v].init;
    s->planned = false;
    for (int i = 0; i < g->n_nodes; i++) {
        if (m->folded[i]) continue;
        double t0 = s->params.profile ? now_seconds() : 0.0;
        st = run_node(s, i, !same);
        if (st != LCV_OK) return st;
        if (s->params.profile) {
            s->prof_seconds[i] += now_seconds() - t0;
            s->prof_calls[i]++;
        }
    }
    /* Graph outputs that no node produces (an input or a constant) are copied so that they
     * outlive the caller's input tensors. */
    for (int i = 0; i < g->n_outputs; i++) {
        int id = g->outputs[i];
        if (g->values[id].producer >= 0 && !m->folded[g->values[id].producer]) continue;
        st = lcv_tensor_copy_into(&s->out_copies[i], s->cur[id], &s->err);
        if (st != LCV_OK) return st;
        s->cur[id] = &s->out_copies[i];
    }
    s->planned = true;
    s->have_outputs = true;
    return LCV_OK;
}

const lcv_tensor *lcv_session_output(const lcv_session *s, int i) {
    if (!s || !s->have_outputs || i < 0 || i >= s->m->g->n_outputs) return NULL;
    return s->cur[s->m->g->outputs[i]];
}

lcv_status lcv_session_profile(const lcv_session *s, int64_t i, double *seconds, int64_t *calls) {
    if (!s || i < 0 || i >= s->m->g->n_nodes) return LCV_ERR_INVALID_ARG;
    if (seconds) *seconds = s->prof_seconds[i];
    if (calls) *calls = s->prof_calls[i];
    return LCV_OK;
}
