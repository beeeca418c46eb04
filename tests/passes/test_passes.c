/* test_passes.c - each optimizer pass on small graphs built in memory: what it removes, what
 * it rewires, and what it must leave alone (graph outputs, shared values, inexact shapes). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "passes/passes.h"

static lcv_err err;

/* Adds a resolved node; ins/outs are space-separated value names ("-" = omitted). */
static lcv_node *add(lcv_graph *g, const char *op, const char *ins, const char *outs) {
    char ib[256], ob[256];
    const char *iv[8], *ov[8];
    int ni = 0, no = 0;
    snprintf(ib, sizeof ib, "%s", ins);
    snprintf(ob, sizeof ob, "%s", outs);
    for (char *t = strtok(ib, " "); t && ni < 8; t = strtok(NULL, " ")) iv[ni++] = strcmp(t, "-") ? t : "";
    for (char *t = strtok(ob, " "); t && no < 8; t = strtok(NULL, " ")) ov[no++] = t;
    char name[32];
    snprintf(name, sizeof name, "%s_%d", op, g->n_nodes);
    lcv_node *n = NULL;
    CHECK(lcv_graph_add_node(g, name, op, "", ni, iv, no, ov, &n, &err) == LCV_OK);
    n->op = lcv_op_lookup(op, "");
    n->opset = 14;
    return n;
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

static int input(lcv_graph *g, const char *name, int ndim, const int64_t *dims) {
    int id = val(g, name, ndim, dims);
    CHECK(lcv_graph_add_input(g, id, &err) == LCV_OK);
    return id;
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
    int id = val(g, name, ndim, dims);
    CHECK(lcv_graph_set_initializer(g, id, t, &err) == LCV_OK);
}

static const lcv_node *producer(const lcv_graph *g, const char *value) {
    int id = lcv_graph_find(g, value);
    return id >= 0 && g->values[id].producer >= 0 ? &g->nodes[g->values[id].producer] : NULL;
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

static void test_identity(void) {
    lcv_graph *g = lcv_graph_new();
    input(g, "x", 4, D4);
    add(g, "Identity", "x", "a");
    add(g, "Relu", "a", "b");
    add(g, "Identity", "b", "y"); /* graph output: Relu must produce y itself */
    add(g, "Dropout", "x", "d");
    add(g, "Neg", "d", "z");
    add(g, "Identity", "x", "w"); /* input straight to output: must stay */
    output(g, "y");
    output(g, "z");
    output(g, "w");
    output(g, "b"); /* b is an output too, so y's Identity stays */
    bool changed = false;
    CHECK(lcv_pass_eliminate_identity(g, &changed, &err) == LCV_OK && changed);
    CHECK(g->n_nodes == 4);
    CHECK(producer(g, "b") && producer(g, "b")->in[0] == lcv_graph_find(g, "x"));
    CHECK(producer(g, "y") && producer(g, "y")->op == LCV_OP_Identity);
    CHECK(producer(g, "z") && producer(g, "z")->in[0] == lcv_graph_find(g, "x"));
    CHECK(producer(g, "w") && producer(g, "w")->op == LCV_OP_Identity);
    CHECK(valid(g));
    lcv_graph_free(g);

    g = lcv_graph_new();
    input(g, "x", 4, D4);
    add(g, "Relu", "x", "b");
    add(g, "Identity", "b", "y");
    output(g, "y");
    changed = false;
    CHECK(lcv_pass_eliminate_identity(g, &changed, &err) == LCV_OK && changed);
    CHECK(g->n_nodes == 1 && producer(g, "y") && producer(g, "y")->op == LCV_OP_Relu);
    CHECK(valid(g));
    lcv_graph_free(g);
}

static void test_dead(void) {
    lcv_graph *g = lcv_graph_new();
    input(g, "x", 4, D4);
    float w[2] = {1, 2};
    int64_t d1 = 2;
    constant(g, "c", 1, &d1, w);
    add(g, "Relu", "x", "a");
    add(g, "Neg", "a", "b"); /* a -> b is a dead chain */
    add(g, "Mul", "x", "y");
    g->nodes[2].n_in = 1;
    add(g, "Add", "x c", "unused_too");
    output(g, "y");
    bool changed = false;
    CHECK(lcv_pass_eliminate_dead(g, &changed, &err) == LCV_OK && changed);
    CHECK(g->n_nodes == 1 && producer(g, "y"));
    CHECK(g->values[lcv_graph_find(g, "c")].init != NULL); /* unread constants stay */
    CHECK(valid(g));
    changed = false;
    CHECK(lcv_pass_eliminate_dead(g, &changed, &err) == LCV_OK && !changed);
    lcv_graph_free(g);
}

static void test_conv_bn(void) {
    lcv_graph *g = lcv_graph_new();
    input(g, "x", 4, D4);
    int64_t wd[4] = {2, 2, 1, 1}, cd = 2;
    float w[4] = {1, 2, 3, 4}, b[2] = {0.5f, -1}, s[2] = {2, 3}, beta[2] = {1, 0}, mean[2] = {1, 2},
          var[2] = {3, 8};
    constant(g, "w", 4, wd, w);
    constant(g, "b", 1, &cd, b);
    constant(g, "s", 1, &cd, s);
    constant(g, "beta", 1, &cd, beta);
    constant(g, "mean", 1, &cd, mean);
    constant(g, "var", 1, &cd, var);
    add(g, "Conv", "x w b", "c");
    lcv_node *bn = add(g, "BatchNormalization", "c s beta mean var", "y");
    lcv_attr *a;
    CHECK(lcv_node_add_attr(bn, "epsilon", &a, &err) == LCV_OK);
    a->type = LCV_ATTR_FLOAT;
    a->f = 1.0f;
    add(g, "Conv", "x w", "y2"); /* shares w: it must keep the original weights */
    add(g, "Conv", "x w", "c3");
    add(g, "BatchNormalization", "c3 s beta mean var", "y3");
    add(g, "Neg", "c3", "y4"); /* c3 has two readers: no fold */
    output(g, "y");
    output(g, "y2");
    output(g, "y3");
    output(g, "y4");
    bool changed = false;
    CHECK(lcv_pass_fuse_conv_bn(g, &changed, &err) == LCV_OK && changed);
    CHECK(g->n_nodes == 5);
    const lcv_node *c = producer(g, "y");
    CHECK(c && c->op == LCV_OP_Conv && c->n_in == 3);
    if (c && c->n_in == 3) {
        const float *nw = g->values[c->in[1]].init->data, *nb = g->values[c->in[2]].init->data;
        double s0 = 2 / sqrt(4.0), s1 = 3 / sqrt(9.0);
        CHECK_NEAR(nw[0], 1 * s0, 1e-6);
        CHECK_NEAR(nw[3], 4 * s1, 1e-6);
        CHECK_NEAR(nb[0], (0.5 - 1) * s0 + 1, 1e-6);
        CHECK_NEAR(nb[1], (-1 - 2) * s1 + 0, 1e-6);
    }
    const float *ow = g->values[lcv_graph_find(g, "w")].init->data;
    CHECK(ow[0] == 1 && ow[3] == 4);
    CHECK(producer(g, "y2")->in[1] == lcv_graph_find(g, "w"));
    CHECK(producer(g, "y3")->op == LCV_OP_BatchNormalization);
    CHECK(valid(g));
    lcv_graph_free(g);
}

static void test_activation(void) {
    lcv_graph *g = lcv_graph_new();
    input(g, "x", 4, D4);
    int64_t wd[4] = {2, 2, 1, 1}, one = 1;
    float w[4] = {1, 2, 3, 4}, lo = 0, hi = 6;
    constant(g, "w", 4, wd, w);
    constant(g, "lo", 0, &one, &lo);
    constant(g, "hi", 0, &one, &hi);
    const char *outs[] = {"c1", "c2", "c3", "c4", "c5"};
    for (int i = 0; i < 5; i++) {
        add(g, "Conv", "x w", outs[i]);
        val(g, outs[i], 4, D4);
    }
    add(g, "Clip", "c1 lo hi", "y1");       /* ReLU6 */
    add(g, "Relu", "c2", "y2");
    add(g, "Neg", "c2", "y2b");             /* c2 read twice: no fusion */
    add(g, "Sigmoid", "c3", "s3");
    add(g, "Mul", "c3 s3", "y3");           /* SiLU */
    add(g, "Relu", "c4", "y4");
    output(g, "c4");                        /* graph output: no fusion */
    add(g, "Clip", "c5 x", "y5");           /* non-constant bound: no fusion */
    for (int i = 1; i <= 5; i++) {
        char n[8];
        snprintf(n, sizeof n, "y%d", i);
        val(g, n, 4, D4);
        output(g, n);
    }
    output(g, "y2b");
    bool changed = false;
    CHECK(lcv_pass_fuse_activation(g, &changed, &err) == LCV_OK && changed);
    const lcv_node *p1 = producer(g, "y1"), *p2 = producer(g, "y2"), *p3 = producer(g, "y3"),
                   *p4 = producer(g, "y4"), *p5 = producer(g, "y5");
    CHECK(p1 && p1->op == LCV_OP_Conv && p1->fused.act == LCV_ACT_CLIP && p1->fused.alpha == 0 &&
          p1->fused.beta == 6);
    CHECK(p2 && p2->op == LCV_OP_Relu);
    CHECK(p3 && p3->op == LCV_OP_Conv && p3->fused.act == LCV_ACT_SILU);
    CHECK(p4 && p4->op == LCV_OP_Relu);
    CHECK(p5 && p5->op == LCV_OP_Clip);
    CHECK(g->n_nodes == 12 - 3); /* Clip, and Sigmoid + Mul fused */
    CHECK(valid(g));
    lcv_graph_free(g);
}

static lcv_graph *residual_graph(const int64_t *other_dims, bool static_shapes) {
    lcv_graph *g = lcv_graph_new();
    g->static_shapes = static_shapes;
    input(g, "x", 4, D4);
    input(g, "r", 4, other_dims);
    int64_t wd[4] = {2, 2, 1, 1};
    float w[4] = {1, 2, 3, 4};
    constant(g, "w", 4, wd, w);
    add(g, "Conv", "x w", "c");
    val(g, "c", 4, D4);
    add(g, "Add", "r c", "a");
    val(g, "a", 4, D4);
    add(g, "Relu", "a", "y");
    val(g, "y", 4, D4);
    output(g, "y");
    return g;
}

static void test_residual(void) {
    lcv_graph *g = residual_graph(D4, true);
    CHECK(lcv_passes_optimize(g, &err) == LCV_OK);
    const lcv_node *c = producer(g, "y");
    CHECK(g->n_nodes == 1 && c && c->op == LCV_OP_Conv && c->n_in == 3);
    CHECK(c && c->fused.residual == 2 && c->in[2] == lcv_graph_find(g, "r"));
    CHECK(c && c->fused.act == LCV_ACT_RELU && lcv_node_op_inputs(c) == 2);
    CHECK(valid(g));
    lcv_graph_free(g);
    /* broadcasting Add, or shapes that are not exact: left alone (so the Relu stays too) */
    int64_t bd[4] = {1, 2, 1, 1};
    for (int k = 0; k < 2; k++) {
        g = k ? residual_graph(D4, false) : residual_graph(bd, true);
        CHECK(lcv_passes_optimize(g, &err) == LCV_OK);
        CHECK(g->n_nodes == 3 && producer(g, "y") && producer(g, "y")->op == LCV_OP_Relu);
        CHECK(producer(g, "a") && producer(g, "a")->op == LCV_OP_Add);
        lcv_graph_free(g);
    }
}

static void test_cse(void) {
    lcv_graph *g = lcv_graph_new();
    input(g, "x", 4, D4);
    add(g, "Relu", "x", "a");
    add(g, "Relu", "x", "b");
    lcv_node *l1 = add(g, "LeakyRelu", "x", "c");
    lcv_attr *at;
    CHECK(lcv_node_add_attr(l1, "alpha", &at, &err) == LCV_OK);
    at->type = LCV_ATTR_FLOAT;
    at->f = 0.5f;
    lcv_node *l2 = add(g, "LeakyRelu", "x", "d"); /* different alpha: distinct */
    CHECK(lcv_node_add_attr(l2, "alpha", &at, &err) == LCV_OK);
    at->type = LCV_ATTR_FLOAT;
    at->f = 0.25f;
    add(g, "Add", "a b", "s");
    add(g, "Add", "a a", "s2"); /* identical to s once b is replaced by a */
    add(g, "Relu", "x", "o");   /* duplicate of a, but a graph output: stays */
    add(g, "Sub", "s s2", "y");
    output(g, "y");
    output(g, "c");
    output(g, "d");
    output(g, "o");
    CHECK(lcv_passes_optimize(g, &err) == LCV_OK);
    CHECK(g->n_nodes == 6);
    CHECK(producer(g, "y") && producer(g, "y")->in[0] == producer(g, "y")->in[1]);
    CHECK(producer(g, "c") && producer(g, "d") && producer(g, "o"));
    CHECK(valid(g));
    lcv_graph_free(g);
}

int main(void) {
    test_identity();
    test_dead();
    test_conv_bn();
    test_activation();
    test_residual();
    test_cse();
    return lcv_test_finish("passes");
}
