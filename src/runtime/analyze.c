/* analyze.c - turns an imported graph into a runnable model: resolves every node to its op,
 * orders the graph, infers shapes from the declared inputs (dynamic dims taken as 1), folds
 * nodes whose inputs are all constant, derives liveness, output slots and MACs, makes the
 * fast-kernel plans, frees constants nothing reads any more (originals the optimizer
 * replaced, weights a plan keeps in packed form) and fills the statistics. */
#include <stdlib.h>
#include <string.h>

#include "../passes/passes.h"
#include "model.h"

/* Outputs larger than this are not folded at load: they are computed at run time instead, so
 * a tiny hostile model cannot make loading allocate huge constants. */
#define LCV_FOLD_MAX_BYTES ((size_t)64 << 20)

static lcv_status resolve_ops(lcv_graph *g, lcv_err *e) {
    for (int i = 0; i < g->n_nodes; i++) {
        lcv_node *n = &g->nodes[i];
        n->op = lcv_op_lookup(n->op_type, n->domain);
        if (n->op < 0)
            return lcv_fail(e, LCV_ERR_UNSUPPORTED,
                            "node '%s': op '%s' (domain '%s', opset %d) is not supported",
                            n->name, n->op_type, n->domain[0] ? n->domain : "ai.onnx", n->opset);
        lcv_status st = lcv_op_check_arity(n, e);
        if (st != LCV_OK) return st;
    }
    return LCV_OK;
}

/* A shape-only view of value v for inference: dynamic dims become 1. */
static void value_view(const lcv_value *v, lcv_tensor *t) {
    lcv_tensor_init(t);
    t->owns_data = false;
    t->dtype = v->dtype;
    t->ndim = v->ndim;
    for (int k = 0; k < v->ndim; k++) t->dims[k] = v->dims[k] < 0 ? 1 : v->dims[k];
}

static bool value_known(const lcv_value *v) {
    return v->init || (v->ndim >= 0 && v->dtype != LCV_DTYPE_UNDEFINED);
}

static size_t out_bytes(const lcv_tensor *t) {
    int64_t n;
    size_t b;
    if (!lcv_shape_numel(t->ndim, t->dims, &n) || !lcv_mul_size((size_t)n, lcv_dtype_size(t->dtype), &b))
        return SIZE_MAX;
    return b;
}

/* Product of d[from, to), or -1 when a dim is unknown or the product passes 2^62 (shapes come
 * from the file: a hostile one must not overflow). */
static int64_t prod(const int64_t *d, int from, int to) {
    int64_t p;
    return lcv_shape_numel(to - from, d + from, &p) ? p : -1;
}

/* a * b for MAC counts: -1 when either is unknown (< 0) or the product passes 2^62. */
static int64_t mul_macs(int64_t a, int64_t b) {
    if (a < 0 || b < 0) return -1;
    if (b != 0 && a > ((int64_t)1 << 62) / b) return -1;
    return a * b;
}

/* Multiply-accumulates of the compute-heavy ops; 0 for everything else. */
static int64_t node_macs(const lcv_graph *g, const lcv_node *n) {
    const lcv_value *out = n->out[0] >= 0 ? &g->values[n->out[0]] : NULL;
    const lcv_value *x = n->in[0] >= 0 ? &g->values[n->in[0]] : NULL;
    const lcv_value *w = n->n_in > 1 && n->in[1] >= 0 ? &g->values[n->in[1]] : NULL;
    switch (n->op) {
    case LCV_OP_Conv:
    case LCV_OP_ConvTranspose:
    case LCV_OP_Gemm:
    case LCV_OP_MatMul: break;
    case LCV_OP_QLinearConv: /* the weights are input 3 */
        w = n->n_in > 3 && n->in[3] >= 0 ? &g->values[n->in[3]] : NULL;
        break;
    case LCV_OP_ConvInteger:
    case LCV_OP_QLinearMatMul:
    case LCV_OP_MatMulInteger: break;
    default: return 0;
    }
    if (!out || !x || !w || out->ndim < 0 || x->ndim < 0 || w->ndim < 0) return -1;
    int64_t out_n = prod(out->dims, 0, out->ndim);
    if (n->op == LCV_OP_Conv || n->op == LCV_OP_QLinearConv || n->op == LCV_OP_ConvInteger)
        /* each output element: (Cin/group) * kernel taps */
        return w->ndim >= 2 ? mul_macs(out_n, prod(w->dims, 1, w->ndim)) : -1;
    if (n->op == LCV_OP_ConvTranspose) /* each input element scatters Cout/group * taps */
        return w->ndim >= 2 ? mul_macs(prod(x->dims, 0, x->ndim), prod(w->dims, 1, w->ndim)) : -1;
    if (x->ndim < 1) return -1;
    if (n->op == LCV_OP_Gemm) {
        if (x->ndim != 2) return -1;
        return mul_macs(out_n, lcv_attr_int(n, "transA", 0) ? x->dims[0] : x->dims[1]);
    }
    return mul_macs(out_n, x->dims[x->ndim - 1]); /* MatMul: K is the last dim of A */
}

/* Nodes with more inputs/outputs than this get no fast plan (none of the planned ops do). */
#define LCV_PLAN_MAX_IO 16

/* Whether a failure st of a node whose inputs rest on guessed shapes (see infer_node) leaves
 * it to run time; if so the message is dropped. Running out of memory always fails. */
static bool defer_guessed(lcv_status st, bool guess, lcv_err *e) {
    if (st == LCV_OK || st == LCV_ERR_NOMEM || !guess) return false;
    if (e) e->msg[0] = '\0';
    return true;
}

/* Infers (and where possible folds) node i. Unknown input shapes leave outputs unknown.
 * probes[v]: analysis-only data of non-constant value v (owned by the caller), or NULL.
 * guessed[v]: v's shape rests on a dynamic input dim taken as 1. A node that rejects such a
 * shape is left to run-time inference instead of failing the load: a fully convolutional
 * network with dynamic height and width cannot be sized at 1x1 (its strided encoder and
 * upsampling decoder disagree there), yet runs at every real size. */
static lcv_status infer_node(lcv_model *m, int i, lcv_tensor **probes, bool *guessed,
                             lcv_err *e) {
    lcv_graph *g = m->g;
    lcv_node *n = &g->nodes[i];
    lcv_tensor ins_store[16];
    const lcv_tensor *ins_small[16];
    lcv_tensor *outs_small[16];
    lcv_tensor outs_store[16];
    lcv_tensor *ins_buf = ins_store, *outs_buf = outs_store;
    const lcv_tensor **ins = ins_small;
    lcv_tensor **outs = outs_small;
    lcv_status st = LCV_OK;
    bool all_const = true, all_data = true, known = true, guess = false;
    if (n->n_in > 16 || n->n_out > 16) {
        ins_buf = calloc((size_t)n->n_in, sizeof *ins_buf);
        outs_buf = calloc((size_t)n->n_out, sizeof *outs_buf);
        ins = calloc((size_t)n->n_in, sizeof *ins);
        outs = calloc((size_t)n->n_out, sizeof *outs);
        if (!ins_buf || !outs_buf || !ins || !outs) {
            st = lcv_fail(e, LCV_ERR_NOMEM, "out of memory analysing node '%s'", n->name);
            goto done;
        }
    }
    for (int k = 0; k < n->n_in; k++) {
        ins[k] = NULL;
        if (n->in[k] < 0) continue;
        const lcv_value *v = &g->values[n->in[k]];
        if (v->init) {
            ins[k] = v->init;
            continue;
        }
        all_const = false;
        guess = guess || guessed[n->in[k]];
        if (probes[n->in[k]]) {
            ins[k] = probes[n->in[k]];
            continue;
        }
        all_data = false;
        if (!value_known(v)) known = false;
        value_view(v, &ins_buf[k]);
        ins[k] = &ins_buf[k];
    }
    for (int k = 0; k < n->n_out; k++) {
        lcv_tensor_init(&outs_buf[k]);
        outs[k] = &outs_buf[k];
        if (n->out[k] >= 0) guessed[n->out[k]] = guess;
    }
    if (!known) {
        m->runtime_shape[i] = true;
        goto done;
    }
    lcv_opctx c = {n, lcv_node_op_inputs(n), ins, n->n_out, outs, e, NULL, NULL, NULL};
    st = lcv_op_table[n->op].infer(&c);
    if (st == LCV_DEFERRED || defer_guessed(st, guess, e)) {
        m->runtime_shape[i] = true;
        st = LCV_OK;
        goto done;
    }
    if (st != LCV_OK) goto done;
    bool small = true, tiny = true;
    for (int k = 0; k < n->n_out; k++) {
        if (out_bytes(outs[k]) > LCV_FOLD_MAX_BYTES) small = false;
        if (lcv_tensor_count(outs[k]) > LCV_SHAPE_DATA_MAX_ELEMS) tiny = false;
    }
    /* Shape-sized tensors (Shape outputs and what is computed from them) are evaluated so that
     * nodes like Reshape get a shape for the statistics; they are not folded, because with a
     * dynamic batch they change from run to run. The session's shape pass uses the same rule. */
    bool probe = !all_const && tiny && (all_data || n->op == LCV_OP_Shape || n->op == LCV_OP_Size);
    if (probe) {
        /* Shape and Size read only their input's shape, so they run on the shape-only view. */
        st = lcv_op_invoke(n, n->n_in, ins, n->n_out, outs, e);
        if (defer_guessed(st, guess, e)) {
            m->runtime_shape[i] = true;
            st = LCV_OK;
            goto done;
        }
        if (st != LCV_OK) goto done;
        for (int k = 0; k < n->n_out; k++) {
            if (n->out[k] < 0) continue;
            lcv_tensor *t = malloc(sizeof *t);
            if (!t) {
                st = lcv_fail(e, LCV_ERR_NOMEM, "out of memory analysing node '%s'", n->name);
                goto done;
            }
            *t = outs_buf[k];
            lcv_tensor_init(&outs_buf[k]);
            probes[n->out[k]] = t;
        }
    }
    if (all_const && small && n->op != LCV_OP_Dropout) {
        st = lcv_op_invoke(n, n->n_in, ins, n->n_out, outs, e);
        if (st != LCV_OK) goto done;
        for (int k = 0; k < n->n_out; k++) {
            if (n->out[k] < 0) continue;
            lcv_tensor *t = malloc(sizeof *t);
            if (!t) {
                st = lcv_fail(e, LCV_ERR_NOMEM, "out of memory folding node '%s'", n->name);
                goto done;
            }
            *t = outs_buf[k];
            lcv_tensor_init(&outs_buf[k]);
            g->values[n->out[k]].init = t;
        }
        m->folded[i] = true;
    }
    for (int k = 0; k < n->n_out; k++) {
        if (n->out[k] < 0) continue;
        lcv_value *v = &g->values[n->out[k]];
        const lcv_tensor *t = v->init ? v->init : probes[n->out[k]] ? probes[n->out[k]] : outs[k];
        v->dtype = t->dtype;
        v->ndim = t->ndim;
        for (int d = 0; d < t->ndim; d++) v->dims[d] = t->dims[d];
    }
done:
    for (int k = 0; k < n->n_out && outs; k++)
        if (outs[k]) lcv_tensor_release(&outs_buf[k]);
    if (ins_buf != ins_store) {
        free(ins_buf);
        free(outs_buf);
        free((void *)ins);
        free(outs);
    }
    return st;
}

/* Whether the data of constant value v may be freed: it is no graph input (a caller may feed
 * it, or not and get the default) or output, and at most `readers` nodes read it. */
static bool constant_releasable(const lcv_value *v, const int *readers, int id, int max) {
    return v->init && !v->is_input && !v->is_output && readers[id] <= max;
}

/* Frees the data of the constants a node's plan keeps in its own form (lcv_plan.drops_inputs)
 * when that node is their only reader; the tensor keeps its dtype and shape for inference. */
static void drop_planned_inputs(lcv_model *m, int i, const int *readers) {
    const lcv_node *n = &m->g->nodes[i];
    uint32_t drops = m->plans[i].drops_inputs;
    for (int k = 0; k < n->n_in && k < 32 && drops; k++) {
        int v = n->in[k];
        if (!(drops >> k & 1u) || v < 0) continue;
        lcv_value *val = &m->g->values[v];
        if (!constant_releasable(val, readers, v, 1) || !val->init->owns_data) continue;
        free(val->init->data);
        val->init->data = NULL;
        val->init->capacity = 0;
    }
}

/* Ops planned even when an input's shape is known only at run time: Gemm's plan packs only
 * its constant B and C and its fast exec checks A on every run, so the box head of a detector
 * (rows = the boxes NMS kept) still gets the packed GEMM. */
static bool plans_unknown_shapes(int op) { return op == LCV_OP_Gemm; }

/* Asks each node's op for a fast-kernel plan, given its constant inputs and inferred shapes.
 * readers: per value, how many inputs of nodes run at run time name it. */
static lcv_status make_plans(lcv_model *m, const int *readers, lcv_err *e) {
    const lcv_graph *g = m->g;
    for (int i = 0; i < g->n_nodes; i++) {
        const lcv_node *n = &g->nodes[i];
        lcv_plan_fn fn = lcv_plan_lookup(n->op);
        bool any_shape = plans_unknown_shapes(n->op);
        if (!fn || m->folded[i] || (m->runtime_shape[i] && !any_shape)) continue;
        lcv_tensor ins_buf[LCV_PLAN_MAX_IO], outs_buf[LCV_PLAN_MAX_IO];
        const lcv_tensor *ins[LCV_PLAN_MAX_IO], *outs[LCV_PLAN_MAX_IO];
        if (n->n_in > LCV_PLAN_MAX_IO || n->n_out > LCV_PLAN_MAX_IO) continue;
        bool known = true;
        for (int k = 0; k < n->n_in; k++) {
            ins[k] = NULL;
            if (n->in[k] < 0) continue;
            const lcv_value *v = &g->values[n->in[k]];
            if (!v->init && !value_known(v)) known = false;
            value_view(v, &ins_buf[k]);
            ins[k] = v->init ? v->init : &ins_buf[k];
        }
        for (int k = 0; k < n->n_out; k++) {
            outs[k] = NULL;
            if (n->out[k] < 0) continue;
            const lcv_value *v = &g->values[n->out[k]];
            if (!value_known(v)) known = false;
            value_view(v, &outs_buf[k]);
            outs[k] = &outs_buf[k];
        }
        if (!known && !any_shape) continue;
        lcv_plan_ctx pc = {n, lcv_node_op_inputs(n), ins, n->n_out, outs, m->isa, e};
        lcv_status st = fn(&pc, &m->plans[i]);
        if (st != LCV_OK) return st;
        /* At once, so the originals and the packed copies never all exist together. */
        if (m->plans[i].exec) drop_planned_inputs(m, i, readers);
    }
    return LCV_OK;
}

/* Frees the constants no node reads at run time: originals the optimizer replaced (weights
 * before BatchNorm folding), inputs of folded nodes. */
static void drop_unread_constants(lcv_model *m, const int *readers) {
    lcv_graph *g = m->g;
    for (int v = 0; v < g->n_values; v++) {
        lcv_value *val = &g->values[v];
        if (!constant_releasable(val, readers, v, 0)) continue;
        lcv_tensor_free(val->init);
        val->init = NULL;
    }
}

/* Infers every node in order (folding constant ones), into freshly sized per-node arrays. */
static lcv_status infer_all(lcv_model *m, lcv_err *e) {
    lcv_graph *g = m->g;
    int nn = g->n_nodes;
    free(m->folded);
    free(m->runtime_shape);
    m->folded = calloc((size_t)nn + 1, sizeof(bool));
    m->runtime_shape = calloc((size_t)nn + 1, sizeof(bool));
    lcv_tensor **probes = calloc((size_t)g->n_values + 1, sizeof *probes);
    bool *guessed = calloc((size_t)g->n_values + 1, sizeof *guessed);
    lcv_status st = LCV_OK;
    if (!m->folded || !m->runtime_shape || !probes || !guessed)
        st = lcv_fail(e, LCV_ERR_NOMEM, "out of memory analysing the model");
    for (int i = 0; i < g->n_inputs && st == LCV_OK; i++) {
        const lcv_value *v = &g->values[g->inputs[i]];
        for (int k = 0; k < v->ndim; k++)
            if (v->dims[k] < 0) guessed[g->inputs[i]] = true;
    }
    for (int i = 0; i < nn && st == LCV_OK; i++) st = infer_node(m, i, probes, guessed, e);
    if (probes)
        for (int v = 0; v < g->n_values; v++) lcv_tensor_free(probes[v]);
    free(probes);
    free(guessed);
    if (st != LCV_OK) return st;
    /* A node fed by a node whose output shape is only known at run time must be re-inferred at
     * run time too (value_info hints from the file may have made it look known). */
    for (int i = 0; i < nn; i++) {
        const lcv_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_in && !m->runtime_shape[i]; k++) {
            int p = n->in[k] >= 0 ? g->values[n->in[k]].producer : -1;
            if (p >= 0 && m->runtime_shape[p] && !m->folded[p]) m->runtime_shape[i] = true;
        }
    }
    return LCV_OK;
}

/* Graph optimisation: folded nodes leave the graph (their outputs are constants now), the
 * passes rewrite what remains using the inferred shapes, and shapes are inferred again. */
static lcv_status optimize(lcv_model *m, lcv_err *e) {
    lcv_graph *g = m->g;
    g->static_shapes = true;
    for (int i = 0; i < g->n_inputs; i++) {
        const lcv_value *v = &g->values[g->inputs[i]];
        if (v->ndim < 0) g->static_shapes = false;
        for (int k = 0; k < v->ndim; k++)
            if (v->dims[k] < 0) g->static_shapes = false;
    }
    /* A DequantizeLinear of constants stays a node through the passes, so that fuse_qdq sees
     * the integer weights behind a float Conv/MatMul operand; infer_all folds it again if it
     * survives. */
    for (int i = 0; i < g->n_nodes; i++) {
        lcv_node *n = &g->nodes[i];
        if (!m->folded[i] || n->op != LCV_OP_DequantizeLinear || n->out[0] < 0) continue;
        bool read = g->values[n->out[0]].is_output;
        for (int j = 0; j < g->n_nodes && !read; j++)
            for (int k = 0; k < g->nodes[j].n_in && !m->folded[j]; k++)
                read = read || g->nodes[j].in[k] == n->out[0];
        if (!read) continue;
        lcv_tensor_free(g->values[n->out[0]].init);
        g->values[n->out[0]].init = NULL;
        m->folded[i] = false;
    }
    lcv_graph_remove_nodes(g, m->folded);
    lcv_status st = lcv_passes_optimize(g, e);
    if (st == LCV_OK) st = lcv_graph_toposort(g, e);
    if (st == LCV_OK) st = infer_all(m, e);
    /* what is still constant after the passes (a DequantizeLinear of weights that no fusion
     * took) leaves the graph like the first folded nodes did */
    bool any = false;
    for (int i = 0; st == LCV_OK && i < g->n_nodes; i++) any = any || m->folded[i];
    if (any) {
        lcv_graph_remove_nodes(g, m->folded);
        st = infer_all(m, e);
    }
    return st;
}

lcv_status lcv_model_analyze(lcv_model *m, lcv_err *e) {
    lcv_graph *g = m->g;
    lcv_status st = resolve_ops(g, e);
    if (st == LCV_OK) st = lcv_graph_toposort(g, e);
    if (st != LCV_OK) return st;
    for (int i = 0; i < g->n_inputs; i++) {
        const lcv_value *v = &g->values[g->inputs[i]];
        if (v->dtype == LCV_DTYPE_STRING || (v->dtype != LCV_DTYPE_UNDEFINED && lcv_dtype_size(v->dtype) == 0))
            return lcv_fail(e, LCV_ERR_UNSUPPORTED, "graph input '%s' has unsupported dtype %s",
                            v->name, lcv_dtype_name(v->dtype));
    }
    /* Parameters as the file has them, before the optimizer rewrites weights. */
    for (int v = 0; v < g->n_values; v++) {
        const lcv_value *val = &g->values[v];
        if (!val->is_initializer || !val->init) continue;
        m->stats.param_count += lcv_tensor_count(val->init);
        m->stats.weight_bytes +=
            lcv_tensor_count(val->init) * (int64_t)lcv_dtype_size(val->init->dtype);
    }
    st = infer_all(m, e);
    if (st == LCV_OK && m->optimize) st = optimize(m, e);
    if (st != LCV_OK || m->export_only) return st;
    int nn = g->n_nodes;
    m->slot_base = calloc((size_t)nn + 1, sizeof(int));
    m->last_use = calloc((size_t)g->n_values + 1, sizeof(int));
    m->node_macs = calloc((size_t)nn + 1, sizeof(int64_t));
    m->plans = calloc((size_t)nn + 1, sizeof(lcv_plan));
    if (!m->slot_base || !m->last_use || !m->node_macs || !m->plans)
        return lcv_fail(e, LCV_ERR_NOMEM, "out of memory analysing the model");
    /* Output slots, liveness and MACs. */
    for (int i = 0; i < nn; i++) m->slot_base[i + 1] = m->slot_base[i] + g->nodes[i].n_out;
    m->n_slots = m->slot_base[nn];
    for (int v = 0; v < g->n_values; v++) m->last_use[v] = -1;
    m->stats.macs = 0;
    for (int i = 0; i < nn; i++) {
        const lcv_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0) m->last_use[n->in[k]] = i;
        m->node_macs[i] = node_macs(g, n);
        if (m->node_macs[i] < 0 || m->stats.macs < 0 ||
            m->stats.macs > INT64_MAX - m->node_macs[i])
            m->stats.macs = -1;
        else
            m->stats.macs += m->node_macs[i];
    }
    for (int i = 0; i < g->n_outputs; i++) m->last_use[g->outputs[i]] = INT32_MAX;
    m->stats.node_count = nn;
    m->n_feeds = g->n_inputs;
    int *readers = calloc((size_t)g->n_values + 1, sizeof *readers);
    if (!readers) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory analysing the model");
    for (int i = 0; i < nn; i++)
        for (int k = 0; k < g->nodes[i].n_in && !m->folded[i]; k++)
            if (g->nodes[i].in[k] >= 0) readers[g->nodes[i].in[k]]++;
    drop_unread_constants(m, readers);
    st = m->reference ? LCV_OK : make_plans(m, readers, e);
    free(readers);
    if (st == LCV_OK) st = lcv_subgraphs_prepare(m, e);
    if (st != LCV_OK) return st;
    return lcv_model_plan_memory(m, &m->stats.peak_activation_bytes,
                                 &m->stats.activation_bytes, e);
}
