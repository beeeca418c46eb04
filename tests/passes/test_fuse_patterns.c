/* test_fuse_patterns.c - the passes that put decomposed ops back together (fuse_hardswish,
 * fuse_gelu, fuse_layernorm) on graphs built in memory: each accepted form fuses into what it
 * should, and each near miss (a shared intermediate, a wrong constant, a wrong axis, a graph
 * output in the middle, no host to fuse into) is left alone. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "frontends/onnx/onnx.h"
#include "harness.h"
#include "leancv.h"
#include "passes/passes.h"

static lcv_err err;

/* Adds a resolved node; ins/outs are space-separated value names. */
static lcv_node *add(lcv_graph *g, const char *op, const char *ins, const char *outs) {
    char ib[256], ob[256];
    const char *iv[8], *ov[8];
    int ni = 0, no = 0;
    snprintf(ib, sizeof ib, "%s", ins);
    snprintf(ob, sizeof ob, "%s", outs);
    for (char *t = strtok(ib, " "); t && ni < 8; t = strtok(NULL, " ")) iv[ni++] = t;
    for (char *t = strtok(ob, " "); t && no < 8; t = strtok(NULL, " ")) ov[no++] = t;
    char name[32];
    snprintf(name, sizeof name, "%s_%d", op, g->n_nodes);
    lcv_node *n = NULL;
    CHECK(lcv_graph_add_node(g, name, op, "", ni, iv, no, ov, &n, &err) == LCV_OK);
    n->op = lcv_op_lookup(op, "");
    n->opset = 13;
    return n;
}

static void attr_f(lcv_node *n, const char *name, float v) {
    lcv_attr *a;
    CHECK(lcv_node_add_attr(n, name, &a, &err) == LCV_OK);
    a->type = LCV_ATTR_FLOAT;
    a->f = v;
}

static void attr_i(lcv_node *n, const char *name, int64_t v) {
    lcv_attr *a;
    CHECK(lcv_node_add_attr(n, name, &a, &err) == LCV_OK);
    a->type = LCV_ATTR_INT;
    a->i = v;
}

static void attr_axes(lcv_node *n, int64_t axis) {
    lcv_attr *a;
    CHECK(lcv_node_add_attr(n, "axes", &a, &err) == LCV_OK);
    a->type = LCV_ATTR_INTS;
    a->n = 1;
    a->ints = malloc(sizeof(int64_t));
    a->ints[0] = axis;
}

/* Declares value name as float32 of the given shape. */
static int val(lcv_graph *g, const char *name, int ndim, const int64_t *dims) {
    int id = -1;
    CHECK(lcv_graph_intern(g, name, &id, &err) == LCV_OK);
    g->values[id].dtype = LCV_DTYPE_FLOAT32;
    g->values[id].ndim = ndim;
    for (int k = 0; k < ndim; k++) g->values[id].dims[k] = dims[k];
    return id;
}

static void input(lcv_graph *g, const char *name, int ndim, const int64_t *dims) {
    CHECK(lcv_graph_add_input(g, val(g, name, ndim, dims), &err) == LCV_OK);
}

static void output(lcv_graph *g, const char *name) {
    int id = lcv_graph_find(g, name);
    CHECK(id >= 0 && lcv_graph_add_output(g, id, &err) == LCV_OK);
}

static void constant(lcv_graph *g, const char *name, int ndim, const int64_t *dims,
                     const float *data) {
    lcv_tensor *t = NULL;
    CHECK(lcv_tensor_create(LCV_DTYPE_FLOAT32, ndim, dims, &t) == LCV_OK);
    memcpy(lcv_tensor_data(t), data, sizeof(float) * (size_t)lcv_tensor_numel(t));
    CHECK(lcv_graph_set_initializer(g, val(g, name, ndim, dims), t, &err) == LCV_OK);
}

static void scalar(lcv_graph *g, const char *name, float v) { constant(g, name, 0, NULL, &v); }

static const lcv_node *producer(const lcv_graph *g, const char *value) {
    int id = lcv_graph_find(g, value);
    return id >= 0 && g->values[id].producer >= 0 ? &g->nodes[g->values[id].producer] : NULL;
}

static int count_op(const lcv_graph *g, int op) {
    int c = 0;
    for (int i = 0; i < g->n_nodes; i++) c += g->nodes[i].op == op;
    return c;
}

static bool valid(lcv_graph *g) {
    lcv_status st = lcv_graph_toposort(g, &err);
    if (st != LCV_OK) fprintf(stderr, "  %s\n", err.msg);
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_out; k++) {
            int v = g->nodes[i].out[k];
            if (v >= 0 && g->values[v].producer != i) return false;
        }
    return st == LCV_OK;
}

static const int64_t D4[4] = {1, 2, 3, 3};

/* ---- HardSwish ---- */

/* x = Conv(in); y = x * HardSigmoid(x) with the given alpha; the Mul's operands swapped when
 * `swap`. */
static lcv_graph *hswish_graph(float alpha, bool swap) {
    lcv_graph *g = lcv_graph_new();
    input(g, "in", 4, D4);
    int64_t wd[4] = {2, 2, 1, 1};
    float w[4] = {1, 2, 3, 4};
    constant(g, "w", 4, wd, w);
    add(g, "Conv", "in w", "x");
    val(g, "x", 4, D4);
    lcv_node *h = add(g, "HardSigmoid", "x", "h");
    attr_f(h, "alpha", alpha);
    val(g, "h", 4, D4);
    add(g, "Mul", swap ? "h x" : "x h", "y");
    val(g, "y", 4, D4);
    output(g, "y");
    return g;
}

static void test_hardswish(void) {
    for (int swap = 0; swap < 2; swap++) {
        lcv_graph *g = hswish_graph(0.16666667f, swap);
        CHECK(lcv_passes_optimize(g, &err) == LCV_OK);
        const lcv_node *p = producer(g, "y");
        CHECK(g->n_nodes == 1 && p && p->op == LCV_OP_Conv && p->fused.act == LCV_ACT_HARDSWISH);
        CHECK(valid(g));
        lcv_graph_free(g);
    }
    /* without a fusable producer it still becomes one HardSwish node */
    lcv_graph *g = lcv_graph_new();
    input(g, "x", 4, D4);
    lcv_node *h = add(g, "HardSigmoid", "x", "h");
    attr_f(h, "alpha", 1.0f / 6.0f);
    add(g, "Mul", "h x", "y");
    val(g, "y", 4, D4);
    output(g, "y");
    bool changed = false;
    CHECK(lcv_pass_fuse_hardswish(g, &changed, &err) == LCV_OK && changed);
    const lcv_node *p = producer(g, "y");
    CHECK(g->n_nodes == 1 && p && p->op == LCV_OP_HardSwish && p->n_in == 1 &&
          p->in[0] == lcv_graph_find(g, "x") && p->n_attrs == 0 && p->opset >= 14 &&
          strcmp(p->op_type, "HardSwish") == 0);
    CHECK(valid(g));
    lcv_graph_free(g);

    /* near misses: default alpha 0.2; beta 0.6; HardSigmoid of something else (the
     * squeeze-excitation gate); the gate also a graph output; the gate read twice */
    for (int k = 0; k < 5; k++) {
        g = hswish_graph(k == 0 ? 0.2f : 1.0f / 6.0f, false);
        lcv_node *hs = &g->nodes[1];
        if (k == 1) attr_f(hs, "beta", 0.6f);
        if (k == 2) {
            input(g, "other", 4, D4);
            g->nodes[2].in[0] = lcv_graph_find(g, "other");
        }
        if (k == 3) output(g, "h");
        if (k == 4) {
            add(g, "Neg", "h", "z");
            val(g, "z", 4, D4);
            output(g, "z");
        }
        int before = g->n_nodes;
        changed = false;
        CHECK(lcv_pass_fuse_hardswish(g, &changed, &err) == LCV_OK);
        CHECK_MSG(!changed && g->n_nodes == before && count_op(g, LCV_OP_HardSwish) == 0,
                  "hardswish near miss %d fused", k);
        CHECK(valid(g));
        lcv_graph_free(g);
    }
}

/* ---- GELU ---- */

/* x = MatMul(in, w) + b (host "add") or Conv(in) (host "conv"), then GELU in form `form`:
 * 0: Div(x, sqrt2) ... (x * (1 + e)) * 0.5
 * 1: Mul(x, 1/sqrt2) ... (x * 0.5) * (1 + e), operands swapped throughout
 * 2: Div(x, sqrt2) ... ((1 + e) * 0.5) * x */
static lcv_graph *gelu_graph(bool conv, int form, float sqrt2, float one, float half) {
    lcv_graph *g = lcv_graph_new();
    if (conv) {
        input(g, "in", 4, D4);
        int64_t wd[4] = {2, 2, 1, 1};
        float w[4] = {1, 2, 3, 4};
        constant(g, "w", 4, wd, w);
        add(g, "Conv", "in w", "x");
        val(g, "x", 4, D4);
    } else {
        int64_t in_d[2] = {3, 4}, w_d[2] = {4, 5}, b_d = 5, x_d[2] = {3, 5};
        float w[20], b[5] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f};
        for (int i = 0; i < 20; i++) w[i] = (float)i / 10.0f;
        input(g, "in", 2, in_d);
        constant(g, "w", 2, w_d, w);
        constant(g, "b", 1, &b_d, b);
        add(g, "MatMul", "in w", "mm");
        val(g, "mm", 2, x_d);
        add(g, "Add", "b mm", "x");
        val(g, "x", 2, x_d);
    }
    scalar(g, "k_sqrt2", form == 1 ? 1.0f / sqrt2 : sqrt2);
    scalar(g, "k_one", one);
    scalar(g, "k_half", half);
    if (form == 1)
        add(g, "Mul", "k_sqrt2 x", "u");
    else
        add(g, "Div", "x k_sqrt2", "u");
    add(g, "Erf", "u", "e");
    add(g, form == 1 ? "Add" : "Add", form == 1 ? "k_one e" : "e k_one", "t");
    if (form == 0) {
        add(g, "Mul", "x t", "p");
        add(g, "Mul", "p k_half", "y");
    } else if (form == 1) {
        add(g, "Mul", "k_half x", "p");
        add(g, "Mul", "t p", "y");
    } else {
        add(g, "Mul", "t k_half", "p");
        add(g, "Mul", "p x", "y");
    }
    const char *names[] = {"u", "e", "t", "p", "y"};
    int xid = lcv_graph_find(g, "x");
    for (int k = 0; k < 5; k++) val(g, names[k], g->values[xid].ndim, g->values[xid].dims);
    output(g, "y");
    return g;
}

static void test_gelu(void) {
    for (int conv = 0; conv < 2; conv++)
        for (int form = 0; form < 3; form++) {
            lcv_graph *g = gelu_graph(conv, form, 1.4142135f, 1.0f, 0.5f);
            CHECK(lcv_passes_optimize(g, &err) == LCV_OK);
            const lcv_node *p = producer(g, "y");
            bool ok = p && p->op == (conv ? LCV_OP_Conv : LCV_OP_Add) &&
                      p->fused.act == LCV_ACT_GELU && g->n_nodes == (conv ? 1 : 2) &&
                      count_op(g, LCV_OP_Erf) == 0;
            CHECK_MSG(ok, "gelu form %d on %s not fused (%d nodes)", form, conv ? "conv" : "add",
                      g->n_nodes);
            CHECK(valid(g));
            lcv_graph_free(g);
        }
    /* near misses: wrong constants; x read by another node; an intermediate is a graph
     * output; the host already has an activation; x is a graph input (nothing to fuse into) */
    for (int k = 0; k < 8; k++) {
        lcv_graph *g = gelu_graph(k == 6, k % 3, k == 0 ? 1.5f : 1.4142135f, k == 1 ? 2.0f : 1.0f,
                                  k == 2 ? 0.25f : 0.5f);
        if (k == 3) {
            add(g, "Neg", "x", "z");
            val(g, "z", 2, g->values[lcv_graph_find(g, "x")].dims);
            output(g, "z");
        }
        if (k == 4) output(g, "t");
        if (k == 5) output(g, "x");
        if (k == 6) g->nodes[0].fused.act = LCV_ACT_RELU;
        if (k == 7) { /* the pattern straight on a graph input */
            int x = lcv_graph_find(g, "x"), in = lcv_graph_find(g, "in");
            for (int i = 0; i < g->n_nodes; i++)
                for (int j = 0; j < g->nodes[i].n_in; j++)
                    if (g->nodes[i].in[j] == x && g->nodes[i].op != LCV_OP_Add)
                        g->nodes[i].in[j] = in;
        }
        int before_erf = count_op(g, LCV_OP_Erf);
        bool changed = false;
        CHECK(lcv_pass_fuse_gelu(g, &changed, &err) == LCV_OK);
        CHECK_MSG(!changed && before_erf == 1 && count_op(g, LCV_OP_Erf) == 1,
                  "gelu near miss %d fused", k);
        for (int i = 0; i < g->n_nodes; i++) CHECK(g->nodes[i].fused.act != LCV_ACT_GELU);
        CHECK(valid(g));
        lcv_graph_free(g);
    }
}

/* Output 0 of the ONNX model in (d, n) run unoptimized with reference kernels on input "in"
 * (caller frees), or NULL. */
static lcv_tensor *run_written(const void *d, size_t n, const lcv_tensor *in) {
    lcv_model_params p = lcv_model_default_params();
    p.optimize = 0;
    p.reference_kernels = 1;
    lcv_model *m = NULL;
    lcv_session *s = NULL;
    lcv_tensor *y = NULL;
    const char *names[1] = {"in"};
    if (lcv_model_load_buffer(d, n, &p, &m) == LCV_OK &&
        lcv_session_create(m, NULL, &s) == LCV_OK && lcv_session_run(s, 1, names, &in) == LCV_OK) {
        const lcv_tensor *o = lcv_session_output(s, 0);
        if (lcv_tensor_create(LCV_DTYPE_FLOAT32, o->ndim, o->dims, &y) == LCV_OK)
            memcpy(lcv_tensor_data(y), lcv_tensor_cdata(o),
                   sizeof(float) * (size_t)lcv_tensor_numel(o));
    } else {
        fprintf(stderr, "  written model: %s\n", s ? lcv_session_errmsg(s) : lcv_model_errmsg(m));
    }
    lcv_session_free(s);
    lcv_model_free(m);
    return y;
}

/* A fused GELU written back to ONNX (onnx_write.c) is the Erf pattern again: the written
 * model computes what the original did. */
static void test_gelu_write(void) {
    lcv_graph *orig = gelu_graph(false, 0, 1.4142135f, 1.0f, 0.5f);
    lcv_graph *fused = gelu_graph(false, 0, 1.4142135f, 1.0f, 0.5f);
    CHECK(lcv_passes_optimize(fused, &err) == LCV_OK && count_op(fused, LCV_OP_Erf) == 0);
    void *d[2] = {NULL, NULL};
    size_t n[2] = {0, 0};
    CHECK(lcv_onnx_write_graph(orig, 13, &d[0], &n[0], &err) == LCV_OK);
    CHECK_MSG(lcv_onnx_write_graph(fused, 13, &d[1], &n[1], &err) == LCV_OK, "%s", err.msg);
    lcv_graph *back = NULL;
    if (d[1]) {
        CHECK(lcv_onnx_import(d[1], n[1], NULL, 0, &back, &err) == LCV_OK);
        /* MatMul, Add, then 3 Constants, Div, Erf, Add, Mul, Mul */
        CHECK_MSG(back && back->n_nodes == 10, "%d nodes written", back ? back->n_nodes : -1);
        lcv_graph_free(back);
    }
    lcv_tensor *in = NULL;
    int64_t dims[2] = {3, 4};
    CHECK(lcv_tensor_create(LCV_DTYPE_FLOAT32, 2, dims, &in) == LCV_OK);
    float *pi = lcv_tensor_data(in);
    for (int k = 0; k < 12; k++) pi[k] = (float)(k * 7 % 12) / 3.0f - 2.0f;
    lcv_tensor *ya = d[0] ? run_written(d[0], n[0], in) : NULL;
    lcv_tensor *yb = d[1] ? run_written(d[1], n[1], in) : NULL;
    CHECK(ya && yb && lcv_tensor_numel(ya) == 15 && lcv_tensor_numel(yb) == 15);
    if (ya && yb)
        for (int k = 0; k < 15; k++) {
            float a = ((const float *)lcv_tensor_cdata(ya))[k],
                  b = ((const float *)lcv_tensor_cdata(yb))[k];
            CHECK_MSG(fabsf(a - b) <= 1e-6f * (1.0f + fabsf(a)), "written GELU %d: %g vs %g", k,
                      (double)b, (double)a);
        }
    /* Erf exists from opset 9 on */
    void *old = NULL;
    size_t old_n = 0;
    CHECK(lcv_onnx_write_graph(fused, 8, &old, &old_n, &err) == LCV_ERR_UNSUPPORTED && !old);
    CHECK(strstr(err.msg, "GELU") != NULL);
    lcv_tensor_free(in);
    lcv_tensor_free(ya);
    lcv_tensor_free(yb);
    free(d[0]);
    free(d[1]);
    lcv_graph_free(orig);
    lcv_graph_free(fused);
}

/* ---- LayerNormalization ---- */

enum { LN_PLAIN, LN_AXIS1, LN_KEEPDIMS0, LN_POW3, LN_SHARED_D, LN_NO_AFFINE, LN_SCALAR_GAMMA,
       LN_EPS_INPUT, LN_AXIS_POS, LN_CASES };

static lcv_graph *ln_graph(int kind) {
    lcv_graph *g = lcv_graph_new();
    int64_t xd[3] = {2, 4, 6}, sd[3] = {2, 4, 1}, c = 6, one = 1;
    float gamma[6] = {1, 2, 3, 4, 5, 6}, beta[6] = {0, 1, 0, -1, 0, 1}, gs = 2.0f;
    input(g, "x", 3, xd);
    constant(g, "gamma", 1, kind == LN_SCALAR_GAMMA ? &one : &c,
             kind == LN_SCALAR_GAMMA ? &gs : gamma);
    constant(g, "beta", 1, &c, beta);
    scalar(g, "two", kind == LN_POW3 ? 3.0f : 2.0f);
    if (kind == LN_EPS_INPUT)
        input(g, "eps", 0, NULL);
    else
        scalar(g, "eps", 1e-5f);
    lcv_node *m = add(g, "ReduceMean", "x", "m");
    attr_axes(m, kind == LN_AXIS1 ? 1 : kind == LN_AXIS_POS ? 2 : -1);
    if (kind == LN_KEEPDIMS0) attr_i(m, "keepdims", 0);
    add(g, "Sub", "x m", "d");
    add(g, "Pow", "d two", "p");
    lcv_node *v = add(g, "ReduceMean", "p", "v");
    attr_axes(v, kind == LN_AXIS_POS ? 2 : -1);
    add(g, "Add", "v eps", "ve");
    add(g, "Sqrt", "ve", "s");
    add(g, "Div", "d s", "n");
    if (kind == LN_NO_AFFINE) {
        add(g, "Identity", "n", "y");
    } else {
        add(g, "Mul", "gamma n", "gm");
        add(g, "Add", "gm beta", "y");
    }
    if (kind == LN_SHARED_D) {
        add(g, "Neg", "d", "z");
        val(g, "z", 3, xd);
        output(g, "z");
    }
    const char *full[] = {"d", "p", "n", "gm", "y"}, *red[] = {"m", "v", "ve", "s"};
    for (int k = 0; k < 5; k++) val(g, full[k], 3, xd);
    for (int k = 0; k < 4; k++) val(g, red[k], 3, sd);
    output(g, "y");
    return g;
}

static void test_layernorm(void) {
    for (int kind = 0; kind < LN_CASES; kind++) {
        lcv_graph *g = ln_graph(kind);
        CHECK(lcv_passes_optimize(g, &err) == LCV_OK);
        bool fires = kind == LN_PLAIN || kind == LN_NO_AFFINE || kind == LN_SCALAR_GAMMA ||
                     kind == LN_AXIS_POS;
        int lns = count_op(g, LCV_OP_LayerNormalization);
        CHECK_MSG(lns == (fires ? 1 : 0), "layernorm case %d: %d LayerNormalization nodes", kind,
                  lns);
        CHECK_MSG(fires || count_op(g, LCV_OP_ReduceMean) == 2, "layernorm case %d", kind);
        const lcv_node *p = producer(g, kind == LN_SCALAR_GAMMA ? "n" : "y");
        if (fires && p) {
            CHECK(p->op == LCV_OP_LayerNormalization && p->in[0] == lcv_graph_find(g, "x"));
            CHECK(lcv_attr_int(p, "axis", 0) == -1 && lcv_attr_float(p, "epsilon", 0) == 1e-5f);
            CHECK(p->opset >= 17);
            if (kind == LN_PLAIN || kind == LN_AXIS_POS) {
                CHECK(g->n_nodes == 1 && p->n_in == 3);
                CHECK(p->in[1] == lcv_graph_find(g, "gamma") &&
                      p->in[2] == lcv_graph_find(g, "beta"));
            } else {
                /* no per-channel gamma: a Scale of ones, and the Mul/Add stay after it */
                CHECK(p->n_in == 2);
                int64_t n = 0;
                const float *s = lcv_pass_const_f32(g, p->in[1], &n);
                CHECK(s && n == 6 && s[0] == 1.0f && s[5] == 1.0f);
                CHECK(g->n_nodes == (kind == LN_NO_AFFINE ? 1 : 3));
            }
        } else {
            CHECK_MSG(!fires, "layernorm case %d: no producer", kind);
        }
        CHECK(valid(g));
        lcv_graph_free(g);
    }
}

int main(void) {
    test_hardswish();
    test_gelu();
    test_gelu_write();
    test_layernorm();
    return lcv_test_finish("passes_fuse_patterns");
}
