/* control.c - control flow: If (run one of two branch subgraphs) and Loop (run a body
 * subgraph while a trip count and/or a condition allow, carrying values from one iteration to
 * the next and stacking per-iteration scan outputs along a new axis 0), following the ONNX
 * operator definitions. Output shapes depend on data, so both ops defer inference until the
 * runtime runs them; the subgraphs execute through the runtime's control plan (control.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"

/* The node's GRAPH attribute `name`, or NULL with an error naming it. */
static const lcv_graph *sub_attr(lcv_opctx *c, const char *name, lcv_status *st) {
    const lcv_attr *a = lcv_attr_find(c->node, name);
    if (!a || a->type != LCV_ATTR_GRAPH || !a->g) {
        *st = lcv_op_fail(c, LCV_ERR_INVALID_ARG, "attribute '%s' (a graph) is %s", name,
                          a ? "not a graph" : "missing");
        return NULL;
    }
    *st = LCV_OK;
    return a->g;
}

/* Declared inputs of subgraph k: the plan knows them once the runtime appended the enclosing
 * values it feeds; before that the graph's own list is exactly the declared one. */
static int formal_count(const lcv_opctx *c, int k, const lcv_graph *g) {
    const lcv_control_plan *p = c->plan;
    return p ? p->n_formal[k] : g->n_inputs;
}

static lcv_status need_scalar(lcv_opctx *c, const lcv_tensor *t, lcv_dtype dt, const char *what,
                              bool need_data) {
    if (t->dtype != LCV_DTYPE_UNDEFINED && t->dtype != dt)
        return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "%s must be %s, got %s", what,
                           lcv_dtype_name(dt), lcv_dtype_name(t->dtype));
    if (need_data && (lcv_tensor_count(t) != 1 || !t->data))
        return lcv_op_fail(c, LCV_ERR_SHAPE, "%s must hold one element, got %lld", what,
                           (long long)lcv_tensor_count(t));
    return LCV_OK;
}

/* Outputs are sized by exec (lcv_tensor_reshape_alloc), so infer leaves them untyped. */
static lcv_status defer_or_placeholder(lcv_opctx *c) {
    if (!c->plan) return LCV_DEFERRED;
    for (int k = 0; k < c->n_out; k++) lcv_op_set_out(c, k, LCV_DTYPE_UNDEFINED, 0, NULL);
    return LCV_OK;
}

static lcv_status need_plan(lcv_opctx *c) {
    if (c->plan) return LCV_OK;
    return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "its subgraphs run only inside a loaded model "
                       "(no runtime plan)");
}

/* Runs subgraph k of the plan once, keeping the run context open in *r for its outputs. */
static lcv_status run_sub(lcv_opctx *c, int k, lcv_subgraph_run **r,
                          const lcv_tensor *const *formal, const char *what) {
    const lcv_control_plan *p = c->plan;
    lcv_err sub;
    sub.msg[0] = '\0';
    lcv_status st = *r ? LCV_OK : p->api->open(p->subs[k], r, &sub);
    if (st == LCV_OK) st = p->api->run(*r, formal, c->in, &sub);
    if (st != LCV_OK) return lcv_op_fail(c, st, "%s: %s", what, sub.msg);
    return LCV_OK;
}

/* ---- If ---- */

static lcv_status if_check(lcv_opctx *c) {
    lcv_status st;
    if (c->n_in - c->node->n_implicit != 1)
        return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "expects 1 input (cond), got %d",
                           c->n_in - c->node->n_implicit);
    static const char *const names[2] = {"then_branch", "else_branch"};
    for (int k = 0; k < 2; k++) {
        const lcv_graph *g = sub_attr(c, names[k], &st);
        if (!g) return st;
        if (formal_count(c, k, g) != 0)
            return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "%s declares %d inputs; If branches "
                               "take none", names[k], formal_count(c, k, g));
        if (g->n_outputs != c->n_out)
            return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "%s has %d outputs, the node %d",
                               names[k], g->n_outputs, c->n_out);
    }
    if (!c->in[0]) return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "input cond is missing");
    return need_scalar(c, c->in[0], LCV_DTYPE_BOOL, "cond", false);
}

lcv_status lcv_infer_if(lcv_opctx *c) {
    lcv_status st = if_check(c);
    return st == LCV_OK ? defer_or_placeholder(c) : st;
}

lcv_status lcv_exec_if(lcv_opctx *c) {
    lcv_status st = if_check(c);
    if (st == LCV_OK) st = need_plan(c);
    if (st == LCV_OK) st = need_scalar(c, c->in[0], LCV_DTYPE_BOOL, "cond", true);
    if (st != LCV_OK) return st;
    int k = ((const uint8_t *)c->in[0]->data)[0] ? 0 : 1;
    const lcv_control_plan *p = c->plan;
    lcv_subgraph_run *r = NULL;
    st = run_sub(c, k, &r, NULL, k == 0 ? "then_branch" : "else_branch");
    for (int i = 0; i < c->n_out && st == LCV_OK; i++)
        st = lcv_tensor_copy_into(c->out[i], p->api->output(r, i), c->err);
    if (r) p->api->close(r);
    return st;
}

/* ---- Loop ---- */

typedef struct loop_shape {
    int n_carried, n_scan;
    const lcv_graph *body;
} loop_shape;

static lcv_status loop_check(lcv_opctx *c, loop_shape *ls) {
    lcv_status st;
    int n_decl = c->n_in - c->node->n_implicit;
    if (n_decl < 2)
        return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "expects at least 2 inputs (M, cond), got %d",
                           n_decl);
    ls->body = sub_attr(c, "body", &st);
    if (!ls->body) return st;
    ls->n_carried = n_decl - 2;
    ls->n_scan = ls->body->n_outputs - 1 - ls->n_carried;
    int formal = formal_count(c, 0, ls->body);
    if (formal != 2 + ls->n_carried)
        return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "body declares %d inputs; with %d loop-carried "
                           "values it needs %d (iteration, cond, values)", formal, ls->n_carried,
                           2 + ls->n_carried);
    if (ls->n_scan < 0 || c->n_out != ls->n_carried + ls->n_scan)
        return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "body has %d outputs and the node %d, for %d "
                           "loop-carried values (body: cond, values, scan outputs; node: values, "
                           "scan outputs)", ls->body->n_outputs, c->n_out, ls->n_carried);
    if (c->in[0] && (st = need_scalar(c, c->in[0], LCV_DTYPE_INT64, "trip count M", false)))
        return st;
    if (c->in[1] && (st = need_scalar(c, c->in[1], LCV_DTYPE_BOOL, "cond", false))) return st;
    for (int j = 0; j < ls->n_carried; j++)
        if (!c->in[2 + j])
            return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "loop-carried input %d is missing", j);
    return LCV_OK;
}

lcv_status lcv_infer_loop(lcv_opctx *c) {
    loop_shape ls;
    lcv_status st = loop_check(c, &ls);
    return st == LCV_OK ? defer_or_placeholder(c) : st;
}

/* One scan output's iterations, appended into a growing buffer. */
typedef struct scan_acc {
    char *buf;
    size_t used, cap, item;
    lcv_dtype dtype;
    int ndim;
    int64_t dims[LCV_MAX_DIMS];
} scan_acc;

static lcv_status scan_append(lcv_opctx *c, scan_acc *a, const lcv_tensor *t, int k,
                              int64_t iter) {
    char want[128], got[128];
    if (iter == 0) {
        if (t->ndim + 1 > LCV_MAX_DIMS)
            return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "scan output %d has rank %d; stacked it "
                               "would exceed %d", k, t->ndim, LCV_MAX_DIMS);
        a->dtype = t->dtype;
        a->ndim = t->ndim;
        memcpy(a->dims, t->dims, sizeof a->dims);
        a->item = (size_t)lcv_tensor_count(t) * lcv_dtype_size(t->dtype);
    } else if (t->dtype != a->dtype || !lcv_shape_equal(t->ndim, t->dims, a->ndim, a->dims)) {
        return lcv_op_fail(c, LCV_ERR_SHAPE, "scan output %d is %s %s at iteration %lld but was "
                           "%s %s at iteration 0", k, lcv_dtype_name(t->dtype),
                           lcv_shape_str(t->ndim, t->dims, got, sizeof got), (long long)iter,
                           lcv_dtype_name(a->dtype),
                           lcv_shape_str(a->ndim, a->dims, want, sizeof want));
    }
    size_t need;
    if (!lcv_add_size(a->used, a->item, &need))
        return lcv_op_fail(c, LCV_ERR_NOMEM, "scan output %d overflows", k);
    if (need > a->cap) {
        size_t nc = a->cap ? a->cap : 256;
        while (nc < need)
            if (!lcv_mul_size(nc, 2, &nc))
                return lcv_op_fail(c, LCV_ERR_NOMEM, "scan output %d overflows", k);
        char *p = realloc(a->buf, nc);
        if (!p)
            return lcv_op_fail(c, LCV_ERR_NOMEM, "out of memory for scan output %d (%zu bytes)",
                               k, nc);
        a->buf = p;
        a->cap = nc;
    }
    if (a->item) memcpy(a->buf + a->used, t->data, a->item);
    a->used = need;
    return LCV_OK;
}

/* Stacks the iterations of scan output k into out; with no iteration the shape is [0] followed
 * by the body's declared output shape where it is fully known. */
static lcv_status scan_finish(lcv_opctx *c, const loop_shape *ls, scan_acc *a, int k,
                              int64_t iters, lcv_tensor *out) {
    int64_t dims[LCV_MAX_DIMS];
    dims[0] = iters;
    int ndim = 1;
    lcv_dtype dt = a->dtype;
    if (iters == 0) {
        const lcv_control_plan *p = c->plan;
        const lcv_value *v = &p->declared_out[0][1 + ls->n_carried + k];
        dt = lcv_dtype_size(v->dtype) ? v->dtype : LCV_DTYPE_FLOAT32;
        bool known = v->ndim >= 0 && v->ndim < LCV_MAX_DIMS;
        for (int d = 0; known && d < v->ndim; d++) known = v->dims[d] >= 0;
        for (int d = 0; known && d < v->ndim; d++) dims[ndim++] = v->dims[d];
    } else {
        for (int d = 0; d < a->ndim; d++) dims[ndim++] = a->dims[d];
    }
    lcv_status st = lcv_tensor_reshape_alloc(out, dt, ndim, dims, c->err);
    if (st == LCV_OK && a->used) memcpy(out->data, a->buf, a->used);
    return st;
}

/* Reads M and cond and decides the iteration limit; refuses loops that could never end or
 * that would run past LCV_LOOP_MAX_ITERS without a condition. */
static lcv_status loop_bounds(lcv_opctx *c, int64_t *max_iter, bool *cond) {
    lcv_status st;
    const lcv_tensor *m = c->in[0], *cd = c->in[1];
    *max_iter = -1;
    *cond = true;
    if (m) {
        if ((st = need_scalar(c, m, LCV_DTYPE_INT64, "trip count M", true)) != LCV_OK) return st;
        *max_iter = ((const int64_t *)m->data)[0];
        if (*max_iter < 0)
            return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "trip count M is %lld; it must be >= 0",
                               (long long)*max_iter);
    }
    if (cd) {
        if ((st = need_scalar(c, cd, LCV_DTYPE_BOOL, "cond", true)) != LCV_OK) return st;
        *cond = ((const uint8_t *)cd->data)[0] != 0;
    } else if (!m) {
        return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "neither a trip count M nor a cond is given: "
                           "the loop would never end");
    } else if (*max_iter > LCV_LOOP_MAX_ITERS) {
        return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "trip count M is %lld; leancv runs at most "
                           "%lld iterations", (long long)*max_iter,
                           (long long)LCV_LOOP_MAX_ITERS);
    }
    return LCV_OK;
}

lcv_status lcv_exec_loop(lcv_opctx *c) {
    loop_shape ls;
    lcv_status st = loop_check(c, &ls);
    if (st == LCV_OK) st = need_plan(c);
    int64_t max_iter;
    bool cond;
    if (st == LCV_OK) st = loop_bounds(c, &max_iter, &cond);
    if (st != LCV_OK) return st;
    const lcv_control_plan *p = c->plan;
    int nc = ls.n_carried, ns = ls.n_scan;
    lcv_tensor *carry = calloc((size_t)nc + 1, sizeof *carry);
    scan_acc *acc = calloc((size_t)ns + 1, sizeof *acc);
    const lcv_tensor **formal = calloc((size_t)nc + 2, sizeof *formal);
    if (!carry || !acc || !formal) {
        free(carry), free(acc), free(formal);
        return lcv_op_fail(c, LCV_ERR_NOMEM, "out of memory for %d loop-carried values", nc);
    }
    for (int j = 0; j < nc; j++) lcv_tensor_init(&carry[j]);
    for (int j = 0; j < nc && st == LCV_OK; j++)
        st = lcv_tensor_copy_into(&carry[j], c->in[2 + j], c->err);
    int64_t iter_val = 0;
    uint8_t cond_val = 1;
    lcv_tensor iter_t, cond_t;
    lcv_tensor_init(&iter_t);
    lcv_tensor_init(&cond_t);
    iter_t.owns_data = cond_t.owns_data = false;
    iter_t.dtype = LCV_DTYPE_INT64;
    iter_t.data = &iter_val;
    cond_t.dtype = LCV_DTYPE_BOOL;
    cond_t.data = &cond_val;
    formal[0] = &iter_t;
    formal[1] = &cond_t;
    for (int j = 0; j < nc; j++) formal[2 + j] = &carry[j];
    lcv_subgraph_run *r = NULL;
    int64_t i = 0;
    for (; st == LCV_OK && cond && (max_iter < 0 || i < max_iter); i++) {
        if (i >= LCV_LOOP_MAX_ITERS) {
            st = lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "the loop did not end within %lld "
                             "iterations", (long long)LCV_LOOP_MAX_ITERS);
            break;
        }
        char what[64];
        snprintf(what, sizeof what, "body, iteration %lld", (long long)i);
        iter_val = i;
        cond_val = 1;
        if ((st = run_sub(c, 0, &r, formal, what)) != LCV_OK) break;
        const lcv_tensor *co = p->api->output(r, 0);
        if ((st = need_scalar(c, co, LCV_DTYPE_BOOL, "the body's cond output", true)) != LCV_OK)
            break;
        cond = ((const uint8_t *)co->data)[0] != 0;
        for (int j = 0; j < nc && st == LCV_OK; j++)
            st = lcv_tensor_copy_into(&carry[j], p->api->output(r, 1 + j), c->err);
        for (int k = 0; k < ns && st == LCV_OK; k++)
            st = scan_append(c, &acc[k], p->api->output(r, 1 + nc + k), k, i);
    }
    if (r) p->api->close(r);
    for (int j = 0; j < nc && st == LCV_OK; j++) st = lcv_tensor_copy_into(c->out[j], &carry[j], c->err);
    for (int k = 0; k < ns && st == LCV_OK; k++) st = scan_finish(c, &ls, &acc[k], k, i, c->out[nc + k]);
    for (int j = 0; j < nc; j++) lcv_tensor_release(&carry[j]);
    for (int k = 0; k < ns; k++) free(acc[k].buf);
    free(carry), free(acc), free(formal);
    return st;
}
