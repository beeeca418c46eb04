/* test_control.c - If and Loop over hand-built subgraphs: a Loop whose body holds an If that
 * reads a value two scopes out, an If whose branches output enclosing values directly (a
 * constant and a graph input), against plain C, with and without the optimizer and fast
 * kernels; then the refusals: a missing branch, a branch with the wrong output count, a cond
 * that is not bool, negative and huge trip counts, and nesting past the limit at load and in
 * the ONNX importer. */
#include "frontends/onnx/onnx.h"
#include "graph_build.h"

static void attach(lcv_graph *g, int node, const char *name, lcv_graph *sub) {
    lcv_attr *a = NULL;
    CHECK(lcv_graph_collect_outer(sub, &gb_err) == LCV_OK);
    CHECK(lcv_node_add_attr(&g->nodes[node], name, &a, &gb_err) == LCV_OK);
    if (!a) {
        lcv_graph_free(sub);
        return;
    }
    a->type = LCV_ATTR_GRAPH;
    a->g = sub;
}

static int node_index(const lcv_graph *g, const lcv_node *n) { return (int)(n - g->nodes); }

static lcv_graph *opset_graph(void) {
    lcv_graph *g = lcv_graph_new();
    CHECK(g && lcv_graph_add_opset(g, "", 13, &gb_err) == LCV_OK);
    return g;
}

/* acc_out = i > 1 ? acc * k : acc + k, with k from the top graph; scan = acc_out. */
static lcv_graph *loop_body(void) {
    static const int64_t d3[1] = {3};
    lcv_graph *b = opset_graph();
    gb_input(b, "i", LCV_DTYPE_INT64, 0, NULL);
    gb_input(b, "c", LCV_DTYPE_BOOL, 0, NULL);
    gb_input(b, "acc", LCV_DTYPE_FLOAT32, 1, d3);
    const double one = 1;
    gb_const(b, "one", LCV_DTYPE_INT64, 0, NULL, &one, 1);
    gb_node(b, "Greater", "i one", "late", 13);
    lcv_graph *th = opset_graph(), *el = opset_graph();
    gb_node(th, "Mul", "acc k", "t", 13);
    gb_output(th, "t");
    gb_node(el, "Add", "acc k", "e", 13);
    gb_output(el, "e");
    int ifn = node_index(b, gb_node(b, "If", "late", "acc_out", 13));
    attach(b, ifn, "then_branch", th);
    attach(b, ifn, "else_branch", el);
    CHECK(lcv_node_link_subgraphs(b, ifn, &gb_err) == LCV_OK);
    gb_node(b, "Identity", "c", "c_out", 13);
    gb_node(b, "Identity", "acc_out", "scan", 13);
    gb_value(b, "scan", LCV_DTYPE_FLOAT32, 1, d3); /* declared: a loop of no iteration uses it */
    gb_output(b, "c_out");
    gb_output(b, "acc_out");
    gb_output(b, "scan");
    return b;
}

static lcv_graph *nested_graph(void) {
    static const int64_t d3[1] = {3};
    lcv_graph *g = opset_graph();
    gb_input(g, "n", LCV_DTYPE_INT64, 0, NULL);
    gb_input(g, "x", LCV_DTYPE_FLOAT32, 1, d3);
    gb_input(g, "k", LCV_DTYPE_FLOAT32, 0, NULL);
    int ln = node_index(g, gb_node(g, "Loop", "n - x", "y ys", 13));
    attach(g, ln, "body", loop_body());
    CHECK(lcv_node_link_subgraphs(g, ln, &gb_err) == LCV_OK);
    /* the body reads k only through its If: the implicit input still reaches the Loop */
    CHECK(g->nodes[ln].n_implicit == 1 && g->nodes[ln].n_in == 4 &&
          g->nodes[ln].in[3] == lcv_graph_find(g, "k"));
    gb_output(g, "y");
    gb_output(g, "ys");
    return g;
}

static lcv_tensor *scalar_i64(int64_t v) {
    lcv_tensor *t = NULL;
    CHECK(lcv_tensor_create(LCV_DTYPE_INT64, 0, NULL, &t) == LCV_OK);
    if (t) ((int64_t *)t->data)[0] = v;
    return t;
}

static lcv_tensor *scalar_f32(float v) {
    lcv_tensor *t = NULL;
    CHECK(lcv_tensor_create(LCV_DTYPE_FLOAT32, 0, NULL, &t) == LCV_OK);
    if (t) ((float *)t->data)[0] = v;
    return t;
}

static lcv_tensor *scalar_bool(bool v) {
    lcv_tensor *t = NULL;
    CHECK(lcv_tensor_create(LCV_DTYPE_BOOL, 0, NULL, &t) == LCV_OK);
    if (t) ((uint8_t *)t->data)[0] = v;
    return t;
}

static void check_nested_run(lcv_session *s, int64_t trips, float k) {
    static const int64_t d3[1] = {3};
    lcv_tensor *x = gb_tensor(LCV_DTYPE_FLOAT32, 1, d3, 7), *n = scalar_i64(trips),
               *kt = scalar_f32(k);
    const char *names[3] = {"n", "x", "k"};
    const lcv_tensor *ins[3] = {n, x, kt};
    lcv_status st = lcv_session_run(s, 3, names, ins);
    CHECK_MSG(st == LCV_OK, "%s", lcv_session_errmsg(s));
    const lcv_tensor *y = lcv_session_output(s, 0), *ys = lcv_session_output(s, 1);
    if (st == LCV_OK && y && ys && x) {
        float acc[3];
        memcpy(acc, x->data, sizeof acc);
        CHECK(ys->dtype == LCV_DTYPE_FLOAT32 && ys->ndim == 2 && ys->dims[0] == trips &&
              ys->dims[1] == 3);
        for (int64_t i = 0; i < trips; i++)
            for (int j = 0; j < 3; j++) {
                acc[j] = i > 1 ? acc[j] * k : acc[j] + k;
                if (ys->ndim == 2 && ys->dims[0] == trips)
                    CHECK(((const float *)ys->data)[i * 3 + j] == acc[j]);
            }
        CHECK(y->ndim == 1 && y->dims[0] == 3 && memcmp(y->data, acc, sizeof acc) == 0);
    }
    lcv_tensor_free(x);
    lcv_tensor_free(n);
    lcv_tensor_free(kt);
}

static void test_nested(void) {
    for (int mode = 0; mode < 3; mode++) {
        lcv_model *m = gb_model(nested_graph(), mode != 1, mode == 2);
        if (!m) continue;
        lcv_session *s = NULL, *s2 = NULL;
        CHECK(lcv_session_create(m, NULL, &s) == LCV_OK && lcv_session_create(m, NULL, &s2) == LCV_OK);
        check_nested_run(s, 5, 1.5f);
        check_nested_run(s, 5, -0.5f); /* same shapes, new data */
        check_nested_run(s2, 1, 2.0f);
        check_nested_run(s, 0, 2.0f); /* no iteration: y = x, ys is [0, 3] */
        check_nested_run(s, 3, 0.25f);
        lcv_session_free(s);
        lcv_session_free(s2);
        lcv_model_free(m);
    }
}

/* If(c): then outputs the top graph's constant w, else Neg(x); both enclosing values. */
static lcv_graph *if_graph(lcv_dtype cond_dt, int then_outputs, bool with_else) {
    static const int64_t d3[1] = {3};
    static const double w[3] = {1, 2, 3};
    lcv_graph *g = opset_graph();
    gb_input(g, "c", cond_dt, -1, NULL); /* any rank: a 2-element cond reaches the op */
    gb_input(g, "x", LCV_DTYPE_FLOAT32, 1, d3);
    gb_const(g, "w", LCV_DTYPE_FLOAT32, 1, d3, w, 3);
    lcv_graph *th = opset_graph(), *el = opset_graph();
    gb_value(th, "w", LCV_DTYPE_UNDEFINED, -1, NULL);
    gb_output(th, "w");
    if (then_outputs == 2) {
        gb_node(th, "Neg", "w", "w2", 13);
        gb_output(th, "w2");
    }
    gb_node(el, "Neg", "x", "z", 13);
    gb_output(el, "z");
    int ifn = node_index(g, gb_node(g, "If", "c", "r", 13));
    attach(g, ifn, "then_branch", th);
    if (with_else)
        attach(g, ifn, "else_branch", el);
    else
        lcv_graph_free(el);
    CHECK(lcv_node_link_subgraphs(g, ifn, &gb_err) == LCV_OK);
    gb_output(g, "r");
    return g;
}

static void test_if_outer_values(void) {
    static const int64_t d3[1] = {3};
    lcv_model *m = gb_model(if_graph(LCV_DTYPE_BOOL, 1, true), 1, 0);
    if (!m) return;
    lcv_session *s = NULL;
    CHECK(lcv_session_create(m, NULL, &s) == LCV_OK);
    lcv_tensor *x = gb_tensor(LCV_DTYPE_FLOAT32, 1, d3, 3);
    for (int pass = 0; pass < 4 && s && x; pass++) {
        bool cv = pass % 2 == 0;
        lcv_tensor *c = scalar_bool(cv);
        const char *names[2] = {"c", "x"};
        const lcv_tensor *ins[2] = {c, x};
        lcv_status st = lcv_session_run(s, 2, names, ins);
        CHECK_MSG(st == LCV_OK, "%s", lcv_session_errmsg(s));
        const lcv_tensor *r = lcv_session_output(s, 0);
        if (st == LCV_OK && r) {
            CHECK(r->ndim == 1 && r->dims[0] == 3 && r->dtype == LCV_DTYPE_FLOAT32);
            for (int j = 0; j < 3 && r->ndim == 1; j++)
                CHECK(((const float *)r->data)[j] ==
                      (cv ? (float)(j + 1) : -((const float *)x->data)[j]));
        }
        lcv_tensor_free(c);
    }
    /* a cond of two elements is refused at run time */
    int64_t two = 2;
    lcv_tensor *c2 = NULL;
    CHECK(lcv_tensor_create(LCV_DTYPE_BOOL, 1, &two, &c2) == LCV_OK);
    const char *names[2] = {"c", "x"};
    const lcv_tensor *ins[2] = {c2, x};
    CHECK(lcv_session_run(s, 2, names, ins) != LCV_OK &&
          strstr(lcv_session_errmsg(s), "one element"));
    lcv_tensor_free(c2);
    lcv_tensor_free(x);
    lcv_session_free(s);
    lcv_model_free(m);
}

/* Loading g must fail with a message containing want. */
static void expect_load_error(lcv_graph *g, const char *want) {
    lcv_model *m = NULL;
    lcv_status st = lcv_model_from_graph(g, NULL, &m);
    CHECK_MSG(st != LCV_OK && strstr(lcv_model_errmsg(m), want), "want '%s', got: %s", want,
              lcv_model_errmsg(m));
    lcv_model_free(m);
}

static void test_refusals(void) {
    expect_load_error(if_graph(LCV_DTYPE_BOOL, 1, false), "else_branch");
    expect_load_error(if_graph(LCV_DTYPE_BOOL, 2, true), "then_branch has 2 outputs");
    expect_load_error(if_graph(LCV_DTYPE_FLOAT32, 1, true), "cond must be bool");
    /* trip counts: negative, and beyond the limit without a cond */
    lcv_model *m = gb_model(nested_graph(), 1, 0);
    lcv_session *s = NULL;
    if (m) CHECK(lcv_session_create(m, NULL, &s) == LCV_OK);
    static const int64_t d3[1] = {3};
    lcv_tensor *x = gb_tensor(LCV_DTYPE_FLOAT32, 1, d3, 7), *k = scalar_f32(1);
    const int64_t trips[2] = {-1, (int64_t)1 << 40};
    const char *want[2] = {"trip count M is -1", "at most"};
    for (int t = 0; t < 2 && s; t++) {
        lcv_tensor *n = scalar_i64(trips[t]);
        const char *names[3] = {"n", "x", "k"};
        const lcv_tensor *ins[3] = {n, x, k};
        CHECK_MSG(lcv_session_run(s, 3, names, ins) != LCV_OK &&
                  strstr(lcv_session_errmsg(s), want[t]), "%s", lcv_session_errmsg(s));
        lcv_tensor_free(n);
    }
    lcv_tensor_free(x);
    lcv_tensor_free(k);
    lcv_session_free(s);
    lcv_model_free(m);
}

/* If nodes nested `depth` deep, the innermost then-branch outputs Neg(x) of the top graph. */
static lcv_graph *deep_if(int depth) {
    lcv_graph *g = opset_graph();
    gb_node(g, "Neg", "x", "r", 13);
    gb_output(g, "r");
    for (int d = 0; d < depth; d++) {
        lcv_graph *outer = opset_graph(), *el = opset_graph();
        gb_value(el, "x", LCV_DTYPE_UNDEFINED, -1, NULL);
        gb_output(el, "x");
        int ifn = node_index(outer, gb_node(outer, "If", "c", "r", 13));
        attach(outer, ifn, "then_branch", g);
        attach(outer, ifn, "else_branch", el);
        CHECK(lcv_node_link_subgraphs(outer, ifn, &gb_err) == LCV_OK);
        gb_output(outer, "r");
        g = outer;
    }
    gb_input(g, "c", LCV_DTYPE_BOOL, 0, NULL);
    gb_input(g, "x", LCV_DTYPE_FLOAT32, 0, NULL);
    return g;
}

/* ---- a tiny protobuf writer for the importer's depth limit ---- */

typedef struct pbuf {
    uint8_t *p;
    size_t n, cap;
} pbuf;

static void put(pbuf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        size_t nc = (b->n + n) * 2 + 64;
        uint8_t *p = realloc(b->p, nc);
        if (!p) return;
        b->p = p;
        b->cap = nc;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void put_varint(pbuf *b, uint64_t v) {
    do {
        uint8_t c = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) c |= 0x80;
        put(b, &c, 1);
    } while (v);
}

static void put_len(pbuf *b, int field, const void *d, size_t n) {
    put_varint(b, (uint64_t)field << 3 | 2);
    put_varint(b, n);
    put(b, d, n);
}

static void put_str(pbuf *b, int field, const char *s) { put_len(b, field, s, strlen(s)); }

/* GraphProto with one If node whose then_branch nests `depth` more levels. */
static pbuf onnx_graph(int depth) {
    pbuf g = {0}, node = {0}, attr = {0};
    if (depth == 0) {
        put_str(&node, 1, "c"), put_str(&node, 2, "r"), put_str(&node, 4, "Identity");
    } else {
        pbuf sub = onnx_graph(depth - 1);
        put_str(&attr, 1, "then_branch");
        put_varint(&attr, 20 << 3), put_varint(&attr, LCV_ATTR_GRAPH);
        put_len(&attr, 6, sub.p, sub.n);
        put_str(&node, 1, "c"), put_str(&node, 2, "r"), put_str(&node, 4, "If");
        put_len(&node, 5, attr.p, attr.n);
        free(sub.p);
    }
    put_len(&g, 1, node.p, node.n);
    free(node.p), free(attr.p);
    return g;
}

static lcv_status import_depth(int depth, lcv_err *e) {
    pbuf m = {0}, op = {0};
    put_varint(&m, 1 << 3), put_varint(&m, 8);
    put_str(&op, 1, ""), put_varint(&op, 2 << 3), put_varint(&op, 13);
    put_len(&m, 8, op.p, op.n);
    pbuf g = onnx_graph(depth);
    put_len(&m, 7, g.p, g.n);
    lcv_graph *out = NULL;
    lcv_status st = lcv_onnx_import(m.p, m.n, NULL, 0, &out, e);
    lcv_graph_free(out);
    free(m.p), free(op.p), free(g.p);
    return st;
}

static void test_depth(void) {
    lcv_model *m = gb_model(deep_if(3), 1, 0);
    if (m) {
        lcv_session *s = NULL;
        CHECK(lcv_session_create(m, NULL, &s) == LCV_OK);
        lcv_tensor *c = scalar_bool(true), *x = scalar_f32(2.5f);
        const char *names[2] = {"c", "x"};
        const lcv_tensor *ins[2] = {c, x};
        CHECK_MSG(s && lcv_session_run(s, 2, names, ins) == LCV_OK, "%s", lcv_session_errmsg(s));
        const lcv_tensor *r = lcv_session_output(s, 0);
        CHECK(r && r->ndim == 0 && ((const float *)r->data)[0] == -2.5f);
        lcv_tensor_free(c);
        lcv_tensor_free(x);
        lcv_session_free(s);
        lcv_model_free(m);
    }
    expect_load_error(deep_if(LCV_MAX_SUBGRAPH_DEPTH + 1), "nest deeper than");
    lcv_err e;
    CHECK_MSG(import_depth(LCV_MAX_SUBGRAPH_DEPTH, &e) == LCV_OK, "%s", e.msg);
    CHECK(import_depth(LCV_MAX_SUBGRAPH_DEPTH + 1, &e) == LCV_ERR_UNSUPPORTED &&
          strstr(e.msg, "nest deeper than"));
    CHECK(import_depth(1000, &e) == LCV_ERR_UNSUPPORTED);
}

int main(void) {
    test_nested();
    test_if_outer_values();
    test_refusals();
    test_depth();
    return lcv_test_finish("runtime_control");
}
