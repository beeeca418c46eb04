/* autodiff_run.c - one training step's graph work: the forward (training forwards where ops have
 * them, with a following Relu folded in where one can be; fast-kernel plans rebuilt from the
 * current weights for Conv/Gemm/MatMul and the other planned ops; reference kernels otherwise)
 * keeping every value, then the backward in reverse node order, summing the contributions of a
 * value's consumers in a fixed order. */
#include <stdlib.h>
#include <string.h>

#include "autodiff_impl.h"

static uint64_t mix64(uint64_t x) {
    /* splitmix64 finaliser */
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static lcv_status bind_inputs(lcv_autodiff *ad, int n_inputs, const lcv_tensor *const *inputs,
                              lcv_err *e) {
    const lcv_graph *g = ad->g;
    if (n_inputs != g->n_inputs || (n_inputs > 0 && !inputs))
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "the model has %d inputs, %d were given",
                        g->n_inputs, n_inputs);
    for (int i = 0; i < n_inputs; i++) {
        const lcv_value *v = &g->values[g->inputs[i]];
        const lcv_tensor *t = inputs[i];
        char want[160], got[160];
        if (!t) return lcv_fail(e, LCV_ERR_INVALID_ARG, "input '%s' is NULL", v->name);
        if (v->dtype != LCV_DTYPE_UNDEFINED && t->dtype != v->dtype)
            return lcv_fail(e, LCV_ERR_SHAPE, "input '%s': expected dtype %s, got %s", v->name,
                            lcv_dtype_name(v->dtype), lcv_dtype_name(t->dtype));
        bool ok = v->ndim < 0 || v->ndim == t->ndim;
        for (int k = 0; ok && v->ndim >= 0 && k < v->ndim; k++)
            if (v->dims[k] >= 0 && v->dims[k] != t->dims[k]) ok = false;
        if (!ok)
            return lcv_fail(e, LCV_ERR_SHAPE, "input '%s': expected shape %s (-1 = any), got %s",
                            v->name, lcv_shape_str(v->ndim, v->dims, want, sizeof want),
                            lcv_shape_str(t->ndim, t->dims, got, sizeof got));
        if (!t->data && lcv_tensor_count(t) > 0)
            return lcv_fail(e, LCV_ERR_INVALID_ARG, "input '%s' has no data", v->name);
        ad->cur[g->inputs[i]] = t;
    }
    return LCV_OK;
}

/* FNV-1a over the input shapes: a plan is rebuilt when they change. */
static uint64_t shape_key(int n, const lcv_tensor *const *in) {
    uint64_t h = 1469598103934665603ULL;
    for (int k = 0; k < n; k++) {
        uint64_t parts[2 + LCV_MAX_DIMS] = {0};
        int np = 1;
        parts[0] = in[k] ? (uint64_t)in[k]->ndim * 131u + (uint64_t)in[k]->dtype : 0xffu;
        for (int d = 0; in[k] && d < in[k]->ndim; d++) parts[np++] = (uint64_t)in[k]->dims[d];
        for (int p = 0; p < np; p++) {
            h ^= parts[p];
            h *= 1099511628211ULL;
        }
    }
    return h;
}

/* The node's fast plan for the current inputs (made from the current weights when it reads
 * parameters), or NULL when its op has none or declined. */
static lcv_status ensure_plan(lcv_autodiff *ad, int i, const lcv_plan **plan, lcv_err *e) {
    const lcv_node *n = &ad->g->nodes[i];
    *plan = NULL;
    lcv_plan_fn fn = lcv_plan_lookup(n->op);
    if (!fn) return LCV_OK;
    uint64_t key = shape_key(n->n_in, ad->ins);
    if (ad->plan_made[i] && ad->plan_key[i] == key &&
        (!ad->uses_param[i] || ad->plan_version[i] == ad->param_version)) {
        *plan = ad->plans[i].exec ? &ad->plans[i] : NULL;
        return LCV_OK;
    }
    lcv_plan_clear(&ad->plans[i]);
    ad->plan_made[i] = false;
    /* Constant and parameter inputs carry data (the plan may pack them); activations are
     * shape-only so that no plan mistakes this step's data for a constant. */
    const lcv_tensor *pin[16];
    if (n->n_in > 16) return LCV_OK;
    for (int k = 0; k < n->n_in; k++) {
        pin[k] = ad->ins[k];
        if (!ad->ins[k]) continue;
        lcv_ad_kind kd = ad->kind[n->in[k]];
        if (kd == LCV_AD_PARAM || kd == LCV_AD_CONST || kd == LCV_AD_BUFFER) continue;
        ad->views[k] = *ad->ins[k];
        ad->views[k].data = NULL;
        ad->views[k].owns_data = false;
        ad->views[k].capacity = 0;
        pin[k] = &ad->views[k];
    }
    lcv_plan_ctx pc = {n, n->n_in, pin, n->n_out, (const lcv_tensor *const *)ad->outs, ad->isa,
                       e};
    lcv_status st = fn(&pc, &ad->plans[i]);
    if (st != LCV_OK) return st;
    ad->plan_made[i] = true;
    ad->plan_key[i] = key;
    ad->plan_version[i] = ad->param_version;
    *plan = ad->plans[i].exec ? &ad->plans[i] : NULL;
    return LCV_OK;
}

static lcv_status forward_node(lcv_autodiff *ad, int i, bool training, uint64_t seed, lcv_err *e) {
    const lcv_node *n = &ad->g->nodes[i];
    for (int k = 0; k < n->n_in; k++) ad->ins[k] = n->in[k] >= 0 ? ad->cur[n->in[k]] : NULL;
    for (int k = 0; k < n->n_out; k++) ad->outs[k] = &ad->slots[ad->slot_base[i] + k];
    lcv_opctx c = {n, n->n_in, ad->ins, n->n_out, ad->outs, e, NULL, ad->pool, &ad->scratch};
    lcv_status st = lcv_op_table[n->op].infer(&c);
    if (st == LCV_DEFERRED)
        st = lcv_fail(e, LCV_ERR_INTERNAL, "node '%s' (%s): shape unknown at run time", n->name,
                      n->op_type);
    for (int k = 0; k < n->n_out && st == LCV_OK; k++)
        st = lcv_tensor_reshape_alloc(ad->outs[k], ad->outs[k]->dtype, ad->outs[k]->ndim,
                                      ad->outs[k]->dims, e);
    if (st != LCV_OK) return st;
    lcv_train_fwd_fn tf = training ? lcv_train_fwd_lookup(n->op) : NULL;
    if (tf) {
        ad->io[i].seed = mix64(seed ^ mix64((uint64_t)i + 1));
        st = tf(&c, &ad->io[i]);
    } else {
        const lcv_plan *plan;
        st = ensure_plan(ad, i, &plan, e);
        if (st != LCV_OK) return st;
        if (plan) {
            c.plan = plan->data;
            st = plan->exec(&c);
        } else {
            st = lcv_op_table[n->op].exec(&c);
        }
    }
    if (st != LCV_OK) return st;
    for (int k = 0; k < n->n_out; k++)
        if (n->out[k] >= 0) ad->cur[n->out[k]] = ad->outs[k];
    if (tf && ad->relu_out[i] >= 0) ad->cur[ad->relu_out[i]] = ad->outs[0];
    return LCV_OK;
}

lcv_status lcv_autodiff_forward(lcv_autodiff *ad, int n_inputs, const lcv_tensor *const *inputs,
                                bool training, uint64_t seed, lcv_err *e) {
    const lcv_graph *g = ad->g;
    ad->trained = false;
    for (int v = 0; v < g->n_values; v++) ad->has_grad[v] = false;
    lcv_status st = bind_inputs(ad, n_inputs, inputs, e);
    for (int i = 0; i < g->n_nodes && st == LCV_OK; i++)
        if (!ad->folded[i] && !(training && ad->absorbed[i]))
            st = forward_node(ad, i, training, seed, e);
    if (st != LCV_OK) return st;
    ad->trained = training;
    return LCV_OK;
}

const lcv_tensor *lcv_autodiff_value(const lcv_autodiff *ad, int value) {
    if (value < 0 || value >= ad->g->n_values) return NULL;
    return ad->cur[value];
}

lcv_tensor *lcv_autodiff_seed(lcv_autodiff *ad, int value, lcv_err *e) {
    const lcv_graph *g = ad->g;
    if (value < 0 || value >= g->n_values || !ad->is_seed[value]) {
        lcv_fail(e, LCV_ERR_INVALID_ARG, "value '%s' was not declared as a loss value",
                 value >= 0 && value < g->n_values ? g->values[value].name : "?");
        return NULL;
    }
    const lcv_tensor *t = ad->cur[value];
    if (!ad->trained || !t || t->dtype != LCV_DTYPE_FLOAT32) {
        lcv_fail(e, LCV_ERR_INVALID_ARG, "value '%s' has no float32 data from a training forward",
                 g->values[value].name);
        return NULL;
    }
    lcv_tensor *gr = &ad->grads[value];
    if (lcv_tensor_reshape_alloc(gr, LCV_DTYPE_FLOAT32, t->ndim, t->dims, e) != LCV_OK) return NULL;
    memset(gr->data, 0, sizeof(float) * (size_t)lcv_tensor_count(t));
    ad->has_grad[value] = true;
    return gr;
}

static void add_into(float *dst, const float *src, int64_t n) {
    for (int64_t j = 0; j < n; j++) dst[j] += src[j];
}

static lcv_status backward_node(lcv_autodiff *ad, int i, lcv_err *e) {
    const lcv_node *n = &ad->g->nodes[i];
    bool any = false;
    for (int k = 0; k < n->n_out; k++) {
        int v = k == 0 && ad->relu_out[i] >= 0 ? ad->relu_out[i] : n->out[k];
        ad->dout[k] = v >= 0 && ad->has_grad[v] ? &ad->grads[v] : NULL;
        ad->outs[k] = &ad->slots[ad->slot_base[i] + k];
        if (ad->dout[k]) any = true;
    }
    if (!any) return LCV_OK;
    bool wanted = false;
    for (int k = 0; k < n->n_in; k++) {
        int v = n->in[k];
        ad->ins[k] = v >= 0 ? ad->cur[v] : NULL;
        ad->din[k] = NULL;
        ad->direct[k] = false;
        if (v < 0 || !ad->reach[v] || ad->cur[v]->dtype != LCV_DTYPE_FLOAT32) continue;
        /* The first contribution to a value goes straight into its gradient; later ones (other
         * consumers, or this node reading the value twice) go to a temporary and are added. */
        bool first = !ad->has_grad[v];
        for (int j = 0; j < k && first; j++)
            if (n->in[j] == v && ad->din[j]) first = false;
        lcv_tensor *t = first ? &ad->grads[v] : &ad->tmp[k];
        lcv_status st = lcv_tensor_reshape_alloc(t, LCV_DTYPE_FLOAT32, ad->cur[v]->ndim,
                                                 ad->cur[v]->dims, e);
        if (st != LCV_OK) return st;
        ad->din[k] = t;
        ad->direct[k] = first;
        wanted = true;
    }
    if (!wanted) return LCV_OK;
    lcv_gradctx c = {n,       n->n_in, ad->ins, n->n_out, (const lcv_tensor *const *)ad->outs,
                     ad->dout, ad->din, &ad->io[i], e, ad->pool, &ad->scratch};
    lcv_status st = lcv_grad_lookup(n->op)(&c);
    if (st != LCV_OK) return st;
    for (int k = 0; k < n->n_in; k++) {
        if (!ad->din[k]) continue;
        int v = n->in[k];
        if (ad->direct[k])
            ad->has_grad[v] = true;
        else
            add_into(ad->grads[v].data, ad->tmp[k].data, lcv_tensor_count(&ad->tmp[k]));
    }
    return LCV_OK;
}

lcv_status lcv_autodiff_backward(lcv_autodiff *ad, lcv_err *e) {
    const lcv_graph *g = ad->g;
    if (!ad->trained)
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "backward needs a training forward first");
    lcv_status st = LCV_OK;
    for (int i = g->n_nodes - 1; i >= 0 && st == LCV_OK; i--)
        if (ad->active[i] && !ad->absorbed[i]) st = backward_node(ad, i, e);
    if (st != LCV_OK) return st;
    for (int p = 0; p < ad->n_params; p++) {
        int v = ad->params[p];
        if (ad->has_grad[v]) continue;
        const lcv_tensor *w = g->values[v].init;
        st = lcv_tensor_reshape_alloc(&ad->grads[v], LCV_DTYPE_FLOAT32, w->ndim, w->dims, e);
        if (st != LCV_OK) return st;
        memset(ad->grads[v].data, 0, sizeof(float) * (size_t)lcv_tensor_count(w));
        ad->has_grad[v] = true;
    }
    ad->trained = false; /* the saved state is consumed: one backward per forward */
    return LCV_OK;
}
