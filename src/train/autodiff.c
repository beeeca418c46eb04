/* autodiff.c - creating the autodiff engine: resolves and orders the graph, sorts initializers
 * into parameters, buffers and constants (the rule is in autodiff.h), folds constant nodes,
 * finds which values need gradients and checks every node on a parameter-to-seed path has a
 * backward. The forward and backward themselves are in autodiff_run.c. */
#include <stdlib.h>
#include <string.h>

#include "../core/threadpool.h"
#include "autodiff_impl.h"

/* The kind an initializer gets from one consuming slot (see autodiff.h). */
static lcv_ad_kind slot_kind(const lcv_node *n, int slot, const lcv_tensor *t) {
    if (t->dtype != LCV_DTYPE_FLOAT32) return LCV_AD_CONST;
    switch (n->op) {
    case LCV_OP_Conv:
    case LCV_OP_ConvTranspose:
    case LCV_OP_Gemm: return slot == 1 || slot == 2 ? LCV_AD_PARAM : LCV_AD_CONST;
    case LCV_OP_MatMul: return LCV_AD_PARAM;
    case LCV_OP_BatchNormalization:
        return slot == 1 || slot == 2 ? LCV_AD_PARAM : slot >= 3 ? LCV_AD_BUFFER : LCV_AD_CONST;
    case LCV_OP_LayerNormalization:
    case LCV_OP_InstanceNormalization:
        return slot == 1 || slot == 2 ? LCV_AD_PARAM : LCV_AD_CONST;
    case LCV_OP_PRelu: return slot == 1 ? LCV_AD_PARAM : LCV_AD_CONST;
    case LCV_OP_Add:
    case LCV_OP_Mul: return t->ndim >= 1 ? LCV_AD_PARAM : LCV_AD_CONST;
    default: return LCV_AD_CONST;
    }
}

/* Smaller is stronger: PARAM beats BUFFER beats CONST. */
static int kind_rank(lcv_ad_kind k) {
    return k == LCV_AD_PARAM ? 0 : k == LCV_AD_BUFFER ? 1 : 2;
}

/* Exporters deduplicate initializers with equal contents (PyTorch 1.13 turns a fresh
 * BatchNorm's running_var, all ones like its weight, into Identity(weight)). For inference that
 * is harmless; for training it would tie tensors that train separately. Every Identity of an
 * initializer becomes an initializer of its own again, a copy under the output's name. */
static lcv_status undo_dedup(lcv_graph *g, lcv_err *e) {
    bool *remove = NULL;
    lcv_status st = LCV_OK;
    for (int i = 0; i < g->n_nodes && st == LCV_OK; i++) {
        const lcv_node *n = &g->nodes[i];
        if (n->op != LCV_OP_Identity || n->n_in != 1 || n->n_out != 1 || n->in[0] < 0 ||
            n->out[0] < 0)
            continue;
        const lcv_value *src = &g->values[n->in[0]];
        lcv_value *dst = &g->values[n->out[0]];
        if (!src->init || src->producer >= 0 || dst->is_output || dst->is_input || dst->init)
            continue;
        if (!remove && !(remove = calloc((size_t)g->n_nodes, sizeof *remove)))
            return lcv_fail(e, LCV_ERR_NOMEM, "out of memory");
        lcv_tensor *copy = NULL;
        if (lcv_tensor_create(src->init->dtype, src->init->ndim, src->init->dims, &copy) != LCV_OK)
            st = lcv_fail(e, LCV_ERR_NOMEM, "out of memory copying '%s'", src->name);
        else
            memcpy(copy->data, src->init->data, lcv_tensor_nbytes(copy));
        remove[i] = true;
        dst->producer = -1; /* lets set_initializer accept it; remove_nodes agrees */
        if (st == LCV_OK) st = lcv_graph_set_initializer(g, n->out[0], copy, e);
    }
    if (remove && st == LCV_OK) lcv_graph_remove_nodes(g, remove);
    free(remove);
    return st;
}

static lcv_status resolve(lcv_graph *g, lcv_err *e) {
    for (int i = 0; i < g->n_nodes; i++) {
        lcv_node *n = &g->nodes[i];
        n->op = lcv_op_lookup(n->op_type, n->domain);
        if (n->op < 0)
            return lcv_fail(e, LCV_ERR_UNSUPPORTED,
                            "node '%s': op '%s' (domain '%s', opset %d) is not supported",
                            n->name, n->op_type, n->domain[0] ? n->domain : "ai.onnx", n->opset);
        if (n->fused.act != LCV_ACT_NONE || n->fused.residual >= 0)
            return lcv_fail(e, LCV_ERR_INTERNAL, "node '%s': fused graphs cannot be trained",
                            n->name);
        lcv_status st = lcv_op_check_arity(n, e);
        if (st != LCV_OK) return st;
    }
    lcv_status st = undo_dedup(g, e);
    if (st != LCV_OK) return st;
    for (int i = 0; i < g->n_inputs; i++) {
        const lcv_value *v = &g->values[g->inputs[i]];
        if (v->dtype == LCV_DTYPE_STRING ||
            (v->dtype != LCV_DTYPE_UNDEFINED && lcv_dtype_size(v->dtype) == 0))
            return lcv_fail(e, LCV_ERR_UNSUPPORTED, "graph input '%s' has unsupported dtype %s",
                            v->name, lcv_dtype_name(v->dtype));
    }
    return lcv_graph_toposort(g, e);
}

static void classify(lcv_autodiff *ad) {
    lcv_graph *g = ad->g;
    for (int v = 0; v < g->n_values; v++) ad->kind[v] = LCV_AD_UNUSED;
    for (int i = 0; i < g->n_inputs; i++) ad->kind[g->inputs[i]] = LCV_AD_INPUT;
    for (int i = 0; i < g->n_nodes; i++) {
        const lcv_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0) ad->kind[n->out[k]] = LCV_AD_ACTIVATION;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const lcv_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_in; k++) {
            int v = n->in[k];
            if (v < 0 || !g->values[v].init || g->values[v].producer >= 0 ||
                ad->kind[v] == LCV_AD_INPUT)
                continue;
            lcv_ad_kind sk = slot_kind(n, k, g->values[v].init);
            if (ad->kind[v] == LCV_AD_UNUSED || kind_rank(sk) < kind_rank(ad->kind[v]))
                ad->kind[v] = sk;
        }
    }
}

/* Nodes whose inputs are all constant are computed once now (Dropout excepted: it is random
 * while training). Their outputs become constants. */
static lcv_status fold(lcv_autodiff *ad, lcv_err *e) {
    lcv_graph *g = ad->g;
    for (int i = 0; i < g->n_nodes; i++) {
        const lcv_node *n = &g->nodes[i];
        bool all_const = n->op != LCV_OP_Dropout;
        for (int k = 0; k < n->n_in && all_const; k++)
            if (n->in[k] >= 0 && ad->kind[n->in[k]] != LCV_AD_CONST) all_const = false;
        if (!all_const) continue;
        for (int k = 0; k < n->n_in; k++) ad->ins[k] = n->in[k] >= 0 ? ad->cur[n->in[k]] : NULL;
        for (int k = 0; k < n->n_out; k++) ad->outs[k] = &ad->slots[ad->slot_base[i] + k];
        lcv_status st = lcv_op_invoke(n, n->n_in, ad->ins, n->n_out, ad->outs, e);
        if (st != LCV_OK) return st;
        ad->folded[i] = true;
        for (int k = 0; k < n->n_out; k++) {
            if (n->out[k] < 0) continue;
            ad->kind[n->out[k]] = LCV_AD_CONST;
            ad->cur[n->out[k]] = ad->outs[k];
        }
    }
    return LCV_OK;
}

static int find_seed(const lcv_graph *g, const char *name, lcv_err *e) {
    int v = name ? lcv_graph_find(g, name) : -1;
    if (v < 0)
        lcv_fail(e, LCV_ERR_INVALID_ARG, "loss value '%s' is not in the graph",
                 name ? name : "(null)");
    return v;
}

/* req: which values depend on a parameter; reach: which of those a seed depends on; active:
 * nodes whose backward runs. A parameter each value depends on names it in errors. */
static lcv_status analyse(lcv_autodiff *ad, const lcv_autodiff_params *p, lcv_err *e) {
    lcv_graph *g = ad->g;
    int *src = malloc(sizeof(int) * ((size_t)g->n_values + 1));
    if (!src) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory analysing the graph");
    for (int v = 0; v < g->n_values; v++) {
        ad->req[v] = ad->kind[v] == LCV_AD_PARAM;
        src[v] = ad->req[v] ? v : -1;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const lcv_node *n = &g->nodes[i];
        int from = -1;
        for (int k = 0; k < n->n_in && from < 0; k++)
            if (n->in[k] >= 0 && ad->req[n->in[k]]) from = src[n->in[k]];
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0 && ad->kind[n->in[k]] == LCV_AD_PARAM) ad->uses_param[i] = true;
        if (from < 0 || ad->folded[i]) continue;
        for (int k = 0; k < n->n_out; k++) {
            int v = n->out[k];
            /* dtypes are only known for sure at run time; integer outputs (Shape, ArgMax) stop
             * gradients, so only outputs not known to be non-float carry them. */
            if (v < 0) continue;
            lcv_dtype dt = g->values[v].dtype;
            if (dt != LCV_DTYPE_UNDEFINED && dt != LCV_DTYPE_FLOAT32) continue;
            if (n->op == LCV_OP_Shape || n->op == LCV_OP_Size) continue;
            ad->req[v] = true;
            src[v] = from;
        }
    }
    if (p && p->n_seeds > 0) {
        for (int s = 0; s < p->n_seeds; s++) {
            int v = find_seed(g, p->seed_names ? p->seed_names[s] : NULL, e);
            if (v < 0) {
                free(src);
                return LCV_ERR_INVALID_ARG;
            }
            ad->is_seed[v] = true;
        }
    } else {
        for (int i = 0; i < g->n_outputs; i++) ad->is_seed[g->outputs[i]] = true;
    }
    for (int v = 0; v < g->n_values; v++) ad->reach[v] = ad->is_seed[v] && ad->req[v];
    lcv_status st = LCV_OK;
    for (int i = g->n_nodes - 1; i >= 0 && st == LCV_OK; i--) {
        const lcv_node *n = &g->nodes[i];
        bool out_reach = false, in_req = false;
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0 && ad->reach[n->out[k]]) out_reach = true;
        int from = -1;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0 && ad->req[n->in[k]]) {
                in_req = true;
                if (from < 0) from = src[n->in[k]];
            }
        if (!out_reach || !in_req) continue;
        if (!lcv_grad_lookup(n->op)) {
            st = lcv_fail(e, LCV_ERR_UNSUPPORTED,
                          "node '%s' (%s) has no backward, but the loss depends on parameter "
                          "'%s' through it", n->name, n->op_type, g->values[from].name);
            break;
        }
        ad->active[i] = true;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0 && ad->req[n->in[k]]) ad->reach[n->in[k]] = true;
    }
    free(src);
    return st;
}

/* Pairs a node whose training forward can fold in a Relu (lcv_train_fwd_fuses_relu) with the
 * Relu that alone reads its output 0: that output must have no other reader and not be a
 * graph output or a loss value, and the node's other outputs must be unused. */
static lcv_status fuse_relus(lcv_autodiff *ad, lcv_err *e) {
    const lcv_graph *g = ad->g;
    int *readers = calloc((size_t)g->n_values + 1, sizeof *readers);
    if (!readers) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory analysing the graph");
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++)
            if (g->nodes[i].in[k] >= 0) readers[g->nodes[i].in[k]]++;
    for (int i = 0; i < g->n_outputs; i++) readers[g->outputs[i]]++;
    for (int i = 0; i < g->n_nodes; i++) ad->relu_out[i] = -1;
    for (int j = 0; j < g->n_nodes; j++) {
        const lcv_node *r = &g->nodes[j];
        if (r->op != LCV_OP_Relu || ad->folded[j] || r->n_out != 1 || r->out[0] < 0) continue;
        int v = r->in[0];
        if (v < 0 || readers[v] != 1 || ad->is_seed[v] || g->values[v].producer < 0) continue;
        int i = g->values[v].producer;
        const lcv_node *n = &g->nodes[i];
        bool ok = !ad->folded[i] && lcv_train_fwd_fuses_relu(n->op) && n->out[0] == v;
        for (int k = 1; k < n->n_out && ok; k++)
            if (n->out[k] >= 0 && readers[n->out[k]] > 0) ok = false;
        if (!ok) continue;
        ad->relu_out[i] = r->out[0];
        ad->absorbed[j] = true;
    }
    free(readers);
    return LCV_OK;
}

/* The per-node training state: saved tensors and writable views of buffer inputs. */
static lcv_status setup_nodes(lcv_autodiff *ad, lcv_err *e) {
    lcv_graph *g = ad->g;
    for (int i = 0; i < g->n_nodes; i++) {
        const lcv_node *n = &g->nodes[i];
        for (int k = 0; k < LCV_GRAD_MAX_SAVED; k++) lcv_tensor_init(&ad->io[i].saved[k]);
        bool any = false;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0 && ad->kind[n->in[k]] == LCV_AD_BUFFER) any = true;
        if (!any) continue;
        ad->state[i] = calloc((size_t)n->n_in, sizeof(lcv_tensor *));
        if (!ad->state[i]) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory");
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0 && ad->kind[n->in[k]] == LCV_AD_BUFFER)
                ad->state[i][k] = g->values[n->in[k]].init;
        ad->io[i].state = (lcv_tensor *const *)ad->state[i];
    }
    for (int i = 0; i < g->n_nodes; i++) ad->io[i].relu_after = ad->relu_out[i] >= 0;
    return LCV_OK;
}

static lcv_status allocate(lcv_autodiff *ad, lcv_err *e) {
    lcv_graph *g = ad->g;
    size_t nv = (size_t)g->n_values + 1, nn = (size_t)g->n_nodes + 1;
    int width = 1;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].n_in > width) width = g->nodes[i].n_in;
        if (g->nodes[i].n_out > width) width = g->nodes[i].n_out;
    }
    ad->width = width;
    ad->kind = calloc(nv, sizeof *ad->kind);
    ad->req = calloc(nv, sizeof *ad->req);
    ad->reach = calloc(nv, sizeof *ad->reach);
    ad->is_seed = calloc(nv, sizeof *ad->is_seed);
    ad->cur = calloc(nv, sizeof *ad->cur);
    ad->grads = calloc(nv, sizeof *ad->grads);
    ad->has_grad = calloc(nv, sizeof *ad->has_grad);
    ad->folded = calloc(nn, sizeof *ad->folded);
    ad->active = calloc(nn, sizeof *ad->active);
    ad->uses_param = calloc(nn, sizeof *ad->uses_param);
    ad->relu_out = calloc(nn, sizeof *ad->relu_out);
    ad->absorbed = calloc(nn, sizeof *ad->absorbed);
    ad->slot_base = calloc(nn, sizeof *ad->slot_base);
    ad->io = calloc(nn, sizeof *ad->io);
    ad->state = calloc(nn, sizeof *ad->state);
    ad->plans = calloc(nn, sizeof *ad->plans);
    ad->plan_made = calloc(nn, sizeof *ad->plan_made);
    ad->plan_key = calloc(nn, sizeof *ad->plan_key);
    ad->plan_version = calloc(nn, sizeof *ad->plan_version);
    ad->params = calloc(nv, sizeof *ad->params);
    ad->buffers = calloc(nv, sizeof *ad->buffers);
    ad->ins = calloc((size_t)width, sizeof *ad->ins);
    ad->outs = calloc((size_t)width, sizeof *ad->outs);
    ad->views = calloc((size_t)width, sizeof *ad->views);
    ad->dout = calloc((size_t)width, sizeof *ad->dout);
    ad->din = calloc((size_t)width, sizeof *ad->din);
    ad->tmp = calloc((size_t)width, sizeof *ad->tmp);
    ad->direct = calloc((size_t)width, sizeof *ad->direct);
    if (!ad->kind || !ad->req || !ad->reach || !ad->is_seed || !ad->cur || !ad->grads ||
        !ad->has_grad || !ad->folded || !ad->active || !ad->uses_param || !ad->relu_out ||
        !ad->absorbed || !ad->slot_base || !ad->io || !ad->state || !ad->plans ||
        !ad->plan_made || !ad->plan_key || !ad->plan_version || !ad->params || !ad->buffers ||
        !ad->ins || !ad->outs || !ad->views || !ad->dout || !ad->din || !ad->tmp || !ad->direct)
        return lcv_fail(e, LCV_ERR_NOMEM, "out of memory creating the trainer");
    for (int i = 0; i < g->n_nodes; i++)
        ad->slot_base[i + 1] = ad->slot_base[i] + g->nodes[i].n_out;
    ad->slots = calloc((size_t)ad->slot_base[g->n_nodes] + 1, sizeof *ad->slots);
    if (!ad->slots) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory creating the trainer");
    for (int s = 0; s < ad->slot_base[g->n_nodes]; s++) lcv_tensor_init(&ad->slots[s]);
    for (int v = 0; v < g->n_values; v++) {
        lcv_tensor_init(&ad->grads[v]);
        if (g->values[v].init) ad->cur[v] = g->values[v].init;
    }
    for (int k = 0; k < width; k++) lcv_tensor_init(&ad->tmp[k]);
    return LCV_OK;
}

lcv_status lcv_autodiff_create(lcv_graph *g, const lcv_autodiff_params *p, lcv_autodiff **out,
                               lcv_err *e) {
    *out = NULL;
    lcv_autodiff *ad = calloc(1, sizeof *ad);
    if (!ad) {
        lcv_graph_free(g);
        return lcv_fail(e, LCV_ERR_NOMEM, "out of memory creating the trainer");
    }
    ad->g = g;
    ad->isa = lcv_isa_choose(p ? p->isa : LCV_ISA_AUTO);
    lcv_status st = resolve(g, e);
    if (st == LCV_OK) st = allocate(ad, e);
    if (st == LCV_OK) {
        classify(ad);
        st = fold(ad, e);
    }
    if (st == LCV_OK) st = analyse(ad, p, e);
    if (st == LCV_OK) st = fuse_relus(ad, e);
    if (st == LCV_OK) st = setup_nodes(ad, e);
    if (st == LCV_OK && p && p->threads > 1)
        st = lcv_threadpool_create(p->threads, &ad->pool, e);
    if (st != LCV_OK) {
        lcv_autodiff_free(ad);
        return st;
    }
    for (int v = 0; v < g->n_values; v++) {
        if (ad->kind[v] == LCV_AD_PARAM) ad->params[ad->n_params++] = v;
        if (ad->kind[v] == LCV_AD_BUFFER) ad->buffers[ad->n_buffers++] = v;
    }
    *out = ad;
    return LCV_OK;
}

void lcv_autodiff_free(lcv_autodiff *ad) {
    if (!ad) return;
    lcv_graph *g = ad->g;
    if (ad->slots)
        for (int s = 0; s < ad->slot_base[g->n_nodes]; s++) lcv_tensor_release(&ad->slots[s]);
    if (ad->grads)
        for (int v = 0; v < g->n_values; v++) lcv_tensor_release(&ad->grads[v]);
    if (ad->tmp)
        for (int k = 0; k < ad->width; k++) lcv_tensor_release(&ad->tmp[k]);
    for (int i = 0; i < g->n_nodes; i++) {
        if (ad->io)
            for (int k = 0; k < LCV_GRAD_MAX_SAVED; k++) lcv_tensor_release(&ad->io[i].saved[k]);
        if (ad->state) free(ad->state[i]);
        if (ad->plans) lcv_plan_clear(&ad->plans[i]);
    }
    free(ad->kind);
    free(ad->req);
    free(ad->reach);
    free(ad->is_seed);
    free(ad->cur);
    free(ad->grads);
    free(ad->has_grad);
    free(ad->folded);
    free(ad->active);
    free(ad->uses_param);
    free(ad->relu_out);
    free(ad->absorbed);
    free(ad->slot_base);
    free(ad->slots);
    free(ad->io);
    free(ad->state);
    free(ad->plans);
    free(ad->plan_made);
    free(ad->plan_key);
    free(ad->plan_version);
    free(ad->params);
    free(ad->buffers);
    free(ad->ins);
    free(ad->outs);
    free(ad->views);
    free(ad->dout);
    free(ad->din);
    free(ad->tmp);
    free(ad->direct);
    lcv_threadpool_free(ad->pool);
    free(ad->scratch.data);
    lcv_graph_free(g);
    free(ad);
}

lcv_graph *lcv_autodiff_graph(lcv_autodiff *ad) { return ad->g; }

lcv_ad_kind lcv_autodiff_kind(const lcv_autodiff *ad, int value) {
    return value >= 0 && value < ad->g->n_values ? ad->kind[value] : LCV_AD_UNUSED;
}

int lcv_autodiff_param_count(const lcv_autodiff *ad) { return ad->n_params; }
int lcv_autodiff_param_value(const lcv_autodiff *ad, int i) { return ad->params[i]; }
lcv_tensor *lcv_autodiff_param(lcv_autodiff *ad, int i) {
    return ad->g->values[ad->params[i]].init;
}
lcv_tensor *lcv_autodiff_param_grad(lcv_autodiff *ad, int i) { return &ad->grads[ad->params[i]]; }
int lcv_autodiff_buffer_count(const lcv_autodiff *ad) { return ad->n_buffers; }
int lcv_autodiff_buffer_value(const lcv_autodiff *ad, int i) { return ad->buffers[i]; }
lcv_tensor *lcv_autodiff_buffer(lcv_autodiff *ad, int i) {
    return ad->g->values[ad->buffers[i]].init;
}
void lcv_autodiff_params_changed(lcv_autodiff *ad) { ad->param_version++; }
lcv_threadpool *lcv_autodiff_pool(lcv_autodiff *ad) { return ad->pool; }
