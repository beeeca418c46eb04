/* session.c - lcv_session: the execution loop and its memory. When the input shapes change, a
 * shape pass infers every node's output shape (running the tiny shape-computing nodes, such as
 * Shape -> Gather -> Concat feeding a Reshape, on the spot) and the memory planner (memplan.c)
 * gives every activation a place in one arena, in-place outputs sharing their input's place.
 * Nodes whose output size depends on data, and the shape-computing nodes, keep their own
 * grow-only buffers. Runs with unchanged shapes infer only data-dependent nodes and perform no
 * heap allocation. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/threadpool.h"
#include "memplan.h"
#include "model.h"

struct lcv_session {
    const lcv_model *m;
    lcv_err err;
    lcv_session_params params;
    lcv_tensor *slots;         /* one per node output slot (model->slot_base) */
    const lcv_tensor **cur;    /* per value: the tensor holding its data during a run */
    lcv_tensor *out_copies;    /* per graph output not produced by a node */
    lcv_tensor *last_inputs;   /* shapes of the previous run's inputs (no data) */
    bool planned;              /* slots hold shapes and places for last_inputs */
    bool have_outputs;
    double *prof_seconds;
    int64_t *prof_calls;
    lcv_threadpool *threads;   /* params.threads threads, NULL for one */
    lcv_scratch scratch;       /* grow-only scratch memory for fast kernels */
    /* scratch pointer arrays sized for the widest node */
    const lcv_tensor **ins;
    lcv_tensor **outs;
    /* The memory plan for last_inputs. */
    bool *dyn;                 /* per node: inferred during the run (its output size depends on
                                * data), outputs in own buffers */
    bool *own_buf;             /* per slot: own grow-only buffer instead of an arena place */
    bool *has_data;            /* per value: data known during the shape pass */
    size_t *slot_bytes;        /* per slot: bytes, or LCV_MEMPLAN_PRIVATE */
    size_t *slot_off;          /* per slot: offset in the arena */
    int *alias_of;             /* per slot: the slot whose place it takes in place, or -1 */
    void *arena;               /* owned, 64-byte aligned, grow-only */
    size_t arena_cap;
    size_t arena_used;         /* the plan's arena size */
    size_t act_total;          /* the arena tensors' sizes summed */
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
    free(s->slots);
    free(s->out_copies);
    free(s->cur);
    free(s->last_inputs);
    free(s->prof_seconds);
    free(s->prof_calls);
    free(s->ins);
    free(s->outs);
    free(s->dyn);
    free(s->own_buf);
    free(s->has_data);
    free(s->slot_bytes);
    free(s->slot_off);
    free(s->alias_of);
    free(s->arena);
    lcv_threadpool_free(s->threads);
    free(s->scratch.data);
    free(s);
}

const char *lcv_session_errmsg(const lcv_session *s) { return s ? s->err.msg : "no session"; }

/* A session on an analysed model (loaded or still loading: the load-time statistics plan
 * with one). */
static lcv_status session_new(const lcv_model *model, const lcv_session_params *params,
                              lcv_session **out) {
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
    size_t nn = (size_t)g->n_nodes + 1, ns = (size_t)model->n_slots + 1;
    size_t nv = (size_t)g->n_values + 1;
    s->slots = calloc(ns, sizeof(lcv_tensor));
    s->out_copies = calloc((size_t)g->n_outputs + 1, sizeof(lcv_tensor));
    s->cur = calloc(nv, sizeof(lcv_tensor *));
    s->last_inputs = calloc((size_t)g->n_inputs + 1, sizeof(lcv_tensor));
    s->prof_seconds = calloc(nn, sizeof(double));
    s->prof_calls = calloc(nn, sizeof(int64_t));
    s->ins = calloc((size_t)width, sizeof(lcv_tensor *));
    s->outs = calloc((size_t)width, sizeof(lcv_tensor *));
    s->dyn = calloc(nn, sizeof(bool));
    s->own_buf = calloc(ns, sizeof(bool));
    s->has_data = calloc(nv, sizeof(bool));
    s->slot_bytes = calloc(ns, sizeof(size_t));
    s->slot_off = calloc(ns, sizeof(size_t));
    s->alias_of = calloc(ns, sizeof(int));
    if (!s->slots || !s->out_copies || !s->cur || !s->last_inputs || !s->prof_seconds ||
        !s->prof_calls || !s->ins || !s->outs || !s->dyn || !s->own_buf || !s->has_data ||
        !s->slot_bytes || !s->slot_off || !s->alias_of) {
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

lcv_status lcv_session_create(const lcv_model *model, const lcv_session_params *params,
                              lcv_session **out) {
    if (!out) return LCV_ERR_INVALID_ARG;
    *out = NULL;
    if (!model || !model->loaded) return LCV_ERR_INVALID_ARG;
    return session_new(model, params, out);
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

/* The op context of node i over the session's current tensors. */
static lcv_opctx node_ctx(lcv_session *s, int i) {
    const lcv_model *m = s->m;
    const lcv_node *n = &m->g->nodes[i];
    for (int k = 0; k < n->n_in; k++) s->ins[k] = n->in[k] >= 0 ? s->cur[n->in[k]] : NULL;
    for (int k = 0; k < n->n_out; k++) s->outs[k] = &s->slots[m->slot_base[i] + k];
    lcv_opctx c = {n,       lcv_node_op_inputs(n), s->ins, n->n_out, s->outs, &s->err,
                   m->plans[i].data, s->threads, &s->scratch};
    return c;
}

static lcv_status exec_node(lcv_session *s, int i, lcv_opctx *c) {
    const lcv_plan *plan = &s->m->plans[i];
    if (plan->exec) return plan->exec(c); /* applies node->fused itself */
    lcv_status st = lcv_op_table[s->m->g->nodes[i].op].exec(c);
    return st == LCV_OK ? lcv_op_apply_fused(c) : st;
}

static void publish_outputs(lcv_session *s, int i) {
    const lcv_node *n = &s->m->g->nodes[i];
    for (int k = 0; k < n->n_out; k++)
        if (n->out[k] >= 0) s->cur[n->out[k]] = &s->slots[s->m->slot_base[i] + k];
}

/* Slot t gets its own buffer (kept if it has one) or gives it up for an arena place. */
static void slot_own(lcv_tensor *t) {
    if (t->owns_data) return;
    t->data = NULL;
    t->capacity = 0;
    t->owns_data = true;
}

static void slot_to_arena(lcv_tensor *t) {
    if (t->owns_data) free(t->data);
    t->data = NULL;
    t->capacity = 0;
    t->owns_data = false;
}

/* Sizes an own-buffer slot for the shape infer gave it; grow-only, so a repeated shape does
 * not allocate. An output infer left without a dtype is not produced and needs no buffer. */
static lcv_status slot_fit(lcv_session *s, lcv_tensor *t) {
    if (lcv_dtype_size(t->dtype) == 0) return LCV_OK;
    return lcv_tensor_reshape_alloc(t, t->dtype, t->ndim, t->dims, &s->err);
}

/* Node i is computed from data during the shape pass when its outputs are tiny and its inputs
 * are data known by then (constants, earlier such nodes) or only their shapes are read
 * (Shape, Size): the same rule the load-time analysis uses for its probes. */
static bool shape_node(const lcv_session *s, int i) {
    const lcv_model *m = s->m;
    const lcv_graph *g = m->g;
    const lcv_node *n = &g->nodes[i];
    for (int k = 0; k < n->n_out; k++)
        if (lcv_tensor_count(&s->slots[m->slot_base[i] + k]) > LCV_SHAPE_DATA_MAX_ELEMS)
            return false;
    bool all_const = true, all_data = true;
    for (int k = 0; k < n->n_in; k++) {
        int v = n->in[k];
        if (v < 0) continue;
        if (!g->values[v].init) all_const = false;
        if (!s->has_data[v]) all_data = false;
    }
    return !all_const && (all_data || n->op == LCV_OP_Shape || n->op == LCV_OP_Size);
}

/* Infers every node's output shapes for the bound inputs and decides where each output
 * lives: data-dependent nodes (and all they feed) are marked dyn and inferred again during
 * the run; shape-computing nodes run now; everything else gets an arena place. */
static lcv_status shape_pass(lcv_session *s) {
    const lcv_model *m = s->m;
    const lcv_graph *g = m->g;
    for (int v = 0; v < g->n_values; v++)
        s->has_data[v] = g->values[v].init != NULL && !g->values[v].is_input;
    for (int i = 0; i < g->n_nodes; i++) {
        if (m->folded[i]) continue;
        const lcv_node *n = &g->nodes[i];
        bool dyn = m->runtime_shape[i] || lcv_op_sized_by_exec(n->op);
        for (int k = 0; k < n->n_in && !dyn; k++) {
            int p = n->in[k] >= 0 ? g->values[n->in[k]].producer : -1;
            if (p >= 0 && !m->folded[p] && s->dyn[p]) dyn = true;
        }
        lcv_opctx c = node_ctx(s, i);
        lcv_status st = LCV_DEFERRED;
        if (!dyn) st = lcv_op_table[n->op].infer(&c);
        if (st != LCV_OK && st != LCV_DEFERRED) return st;
        s->dyn[i] = st == LCV_DEFERRED;
        bool computed = !s->dyn[i] && shape_node(s, i);
        for (int k = 0; k < n->n_out; k++) {
            int slot = m->slot_base[i] + k;
            s->own_buf[slot] = s->dyn[i] || computed;
            if (s->own_buf[slot])
                slot_own(&s->slots[slot]);
            else
                slot_to_arena(&s->slots[slot]);
            if (computed && (st = slot_fit(s, &s->slots[slot])) != LCV_OK) return st;
        }
        if (computed) {
            if ((st = exec_node(s, i, &c)) != LCV_OK) return st;
            for (int k = 0; k < n->n_out; k++)
                if (n->out[k] >= 0) s->has_data[n->out[k]] = true;
        }
        publish_outputs(s, i);
    }
    return LCV_OK;
}

/* Plans the arena for the shapes the shape pass left in the slots (no buffers are touched). */
static lcv_status plan_slots(lcv_session *s) {
    const lcv_model *m = s->m;
    const lcv_graph *g = m->g;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_out; k++) {
            int slot = m->slot_base[i] + k;
            const lcv_tensor *t = &s->slots[slot];
            size_t bytes = 0;
            if (m->folded[i] || s->own_buf[slot]) {
                bytes = LCV_MEMPLAN_PRIVATE;
            } else if (!lcv_mul_size((size_t)lcv_tensor_count(t), lcv_dtype_size(t->dtype),
                                     &bytes) || bytes == LCV_MEMPLAN_PRIVATE) {
                char sh[128];
                return lcv_fail(&s->err, LCV_ERR_NOMEM, "node '%s' (%s): output %d of shape %s "
                                "is too large", g->nodes[i].name, g->nodes[i].op_type, k,
                                lcv_shape_str(t->ndim, t->dims, sh, sizeof sh));
            }
            s->slot_bytes[slot] = bytes;
        }
    return lcv_memplan_model(m, s->slot_bytes, s->slot_off, s->alias_of, &s->arena_used,
                             &s->act_total, &s->err);
}

/* Makes the arena big enough for the plan (grow-only) and points the arena slots into it. */
static lcv_status bind_arena(lcv_session *s) {
    const lcv_model *m = s->m;
    if (!s->arena || s->arena_used > s->arena_cap) {
        size_t want = s->arena_used ? s->arena_used : LCV_MEMPLAN_ALIGN;
        void *p = NULL;
        if (posix_memalign(&p, LCV_MEMPLAN_ALIGN, want) != 0)
            return lcv_fail(&s->err, LCV_ERR_NOMEM,
                            "out of memory for the activation arena of %zu bytes", want);
        free(s->arena);
        s->arena = p;
        s->arena_cap = want;
    }
    for (int slot = 0; slot < m->n_slots; slot++) {
        if (s->slot_bytes[slot] == LCV_MEMPLAN_PRIVATE) continue;
        lcv_tensor *t = &s->slots[slot];
        slot_to_arena(t);
        t->data = (char *)s->arena + s->slot_off[slot];
        t->capacity = s->slot_bytes[slot];
    }
    return LCV_OK;
}

static lcv_status run_node(lcv_session *s, int i) {
    lcv_opctx c = node_ctx(s, i);
    lcv_status st;
    if (s->dyn[i] && !lcv_op_sized_by_exec(c.node->op)) {
        st = lcv_op_table[c.node->op].infer(&c);
        if (st == LCV_DEFERRED)
            st = lcv_fail(&s->err, LCV_ERR_INTERNAL, "node '%s' (%s): shape unknown at run time",
                          c.node->name, c.node->op_type);
        for (int k = 0; k < c.n_out && st == LCV_OK; k++) st = slot_fit(s, c.out[k]);
        if (st != LCV_OK) return st;
    }
    st = exec_node(s, i, &c);
    if (st == LCV_OK) publish_outputs(s, i);
    return st;
}

/* Constants the nodes read (never inputs: a caller may feed an input that has a default). */
static void bind_constants(lcv_session *s) {
    const lcv_graph *g = s->m->g;
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].init && !g->values[v].is_input) s->cur[v] = g->values[v].init;
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
    bind_constants(s);
    s->planned = false;
    if (!same) {
        st = shape_pass(s);
        if (st == LCV_OK) st = plan_slots(s);
        if (st == LCV_OK) st = bind_arena(s);
        if (st != LCV_OK) return st;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        if (m->folded[i]) continue;
        double t0 = s->params.profile ? now_seconds() : 0.0;
        st = run_node(s, i);
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

void lcv_session_memory(const lcv_session *s, size_t *arena_bytes, size_t *total_bytes,
                        const int **alias_of) {
    if (arena_bytes) *arena_bytes = s && s->planned ? s->arena_used : 0;
    if (total_bytes) *total_bytes = s && s->planned ? s->act_total : 0;
    if (alias_of) *alias_of = s && s->planned ? s->alias_of : NULL;
}

lcv_status lcv_model_plan_memory(const lcv_model *m, int64_t *arena_bytes, int64_t *total_bytes,
                                 lcv_err *e) {
    const lcv_graph *g = m->g;
    *arena_bytes = -1;
    *total_bytes = -1;
    lcv_session *s = NULL;
    if (session_new(m, NULL, &s) != LCV_OK)
        return lcv_fail(e, LCV_ERR_NOMEM, "out of memory planning the activation memory");
    bool known = true;
    lcv_tensor *views = calloc((size_t)g->n_inputs + 1, sizeof *views);
    if (!views) known = false;
    for (int i = 0; known && i < g->n_inputs; i++) {
        const lcv_value *v = &g->values[g->inputs[i]];
        lcv_tensor *t = &views[i];
        if (v->ndim < 0 || lcv_dtype_size(v->dtype) == 0) {
            known = false; /* no shape to plan for: the statistic stays unknown */
            break;
        }
        lcv_tensor_init(t);
        t->owns_data = false;
        t->dtype = v->dtype;
        t->ndim = v->ndim;
        for (int k = 0; k < v->ndim; k++) t->dims[k] = v->dims[k] < 0 ? 1 : v->dims[k];
        s->cur[g->inputs[i]] = t;
    }
    lcv_status st = LCV_OK;
    if (known) {
        bind_constants(s);
        st = shape_pass(s);
        if (st == LCV_OK) st = plan_slots(s);
        if (st == LCV_OK) {
            *arena_bytes = (int64_t)s->arena_used;
            *total_bytes = (int64_t)s->act_total;
        } else if (st != LCV_ERR_NOMEM) {
            st = LCV_OK; /* shapes the declared inputs do not pin down: unknown, not an error */
        } else {
            lcv_fail(e, st, "%s", s->err.msg);
        }
    }
    free(views);
    lcv_session_free(s);
    return st;
}
