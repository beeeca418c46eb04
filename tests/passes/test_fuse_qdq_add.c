/* test_fuse_qdq_add.c - fuse_qdq's residual junction: DQ(a), DQ(b) -> Add (+Relu/Clip) -> Q
 * becomes QLinearAdd, and the optimized model gives the very bytes of the unoptimized one
 * (fast kernels at every ISA level up to the machine's best, 1 and 2 threads, and the
 * reference kernels), for uint8 and int8 on odd shapes; each near miss (a DQ or Add output
 * read twice, a scale that is not constant, a broadcast, mixed types) stays float. Also a
 * com.microsoft QLinearAdd node read from a file (ONNX Runtime's contrib op), and the rewritten
 * graph itself written as ONNX and read back. */
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "frontends/onnx/onnx.h"
#include "harness.h"
#include "leancv.h"
#include "ops/op.h"
#include "passes/passes.h"

static lcv_err err;
static lcv_graph *G;

static int val(const char *name, lcv_dtype dt, int nd, const int64_t *dims) {
    int id = -1;
    CHECK(lcv_graph_intern(G, name, &id, &err) == LCV_OK);
    G->values[id].dtype = dt;
    G->values[id].ndim = nd;
    for (int k = 0; k < nd; k++) G->values[id].dims[k] = dims[k];
    return id;
}

/* Adds a node of `domain`; ins/outs are space-separated value names ("-": omitted input). */
static lcv_node *node_in(const char *domain, const char *op, const char *ins, const char *outs) {
    char ib[256], ob[256], name[32];
    const char *iv[10], *ov[4];
    int ni = 0, no = 0;
    snprintf(ib, sizeof ib, "%s", ins);
    snprintf(ob, sizeof ob, "%s", outs);
    for (char *t = strtok(ib, " "); t && ni < 10; t = strtok(NULL, " "))
        iv[ni++] = strcmp(t, "-") ? t : "";
    for (char *t = strtok(ob, " "); t && no < 4; t = strtok(NULL, " ")) ov[no++] = t;
    snprintf(name, sizeof name, "%s_%d", op, G->n_nodes);
    lcv_node *n = NULL;
    CHECK(lcv_graph_add_node(G, name, op, domain, ni, iv, no, ov, &n, &err) == LCV_OK);
    n->op = lcv_op_lookup(op, domain);
    n->opset = domain[0] ? 1 : 13;
    return n;
}

static lcv_node *node(const char *op, const char *ins, const char *outs) {
    return node_in("", op, ins, outs);
}

static void constant(const char *name, lcv_dtype dt, int nd, const int64_t *dims,
                     const void *data) {
    lcv_tensor *t = NULL;
    CHECK(lcv_tensor_create(dt, nd, dims, &t) == LCV_OK);
    memcpy(lcv_tensor_data(t), data, lcv_dtype_size(dt) * (size_t)lcv_tensor_numel(t));
    CHECK(lcv_graph_set_initializer(G, val(name, dt, nd, dims), t, &err) == LCV_OK);
}

static void scalar_f(const char *name, float v) { constant(name, LCV_DTYPE_FLOAT32, 0, NULL, &v); }
static void scalar_q(const char *name, lcv_dtype dt, int32_t v) {
    uint8_t u = (uint8_t)v;
    constant(name, dt, 0, NULL, &u);
}

static void input(const char *name, lcv_dtype dt, int nd, const int64_t *dims) {
    CHECK(lcv_graph_add_input(G, val(name, dt, nd, dims), &err) == LCV_OK);
}

static void output(const char *name, lcv_dtype dt) {
    int id = lcv_graph_find(G, name);
    CHECK(id >= 0);
    if (id < 0) return;
    G->values[id].dtype = dt;
    G->values[id].ndim = -1;
    CHECK(lcv_graph_add_output(G, id, &err) == LCV_OK);
}

static uint32_t rng = 5;
static uint32_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static lcv_model *load(const void *buf, size_t size, int optimize, int reference, lcv_isa isa) {
    lcv_model_params p = lcv_model_default_params();
    p.optimize = optimize;
    p.reference_kernels = reference;
    p.max_isa = isa;
    lcv_model *m = NULL;
    lcv_status st = lcv_model_load_buffer(buf, size, &p, &m);
    CHECK_MSG(st == LCV_OK, "load: %s", m ? lcv_model_errmsg(m) : "no memory");
    if (st != LCV_OK) {
        lcv_model_free(m);
        return NULL;
    }
    return m;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The node list as sorted "Op[+act]" words. */
static void describe(const lcv_model *m, char *buf, size_t cap) {
    lcv_model_stats st;
    lcv_model_get_stats(m, &st);
    const char *words[64];
    char store[64][48];
    int n = 0;
    for (int64_t i = 0; i < st.node_count && n < 64; i++) {
        lcv_node_info ni;
        if (lcv_model_node_info(m, i, &ni) != LCV_OK) continue;
        snprintf(store[n], sizeof store[n], "%s%s%s", ni.op_type, ni.fused[0] ? "+" : "", ni.fused);
        words[n] = store[n];
        n++;
    }
    qsort(words, (size_t)n, sizeof words[0], cmp_str);
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? " " : "", words[i]);
}

static void sort_words(char *s) {
    char copy[512], *w[64];
    int n = 0;
    snprintf(copy, sizeof copy, "%s", s);
    for (char *t = strtok(copy, " "); t && n < 64; t = strtok(NULL, " ")) w[n++] = t;
    qsort(w, (size_t)n, sizeof w[0], cmp_str);
    size_t len = 0;
    s[0] = '\0';
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(s + len, 512 - len, "%s%s", i ? " " : "", w[i]);
}

/* Random inputs of each graph input's dtype: integers over their whole range, floats (a
 * scale given as an input) in [0.01, 0.05). */
static int make_inputs(const lcv_model *m, lcv_tensor **ts, const char **names) {
    int n = lcv_model_input_count(m);
    for (int i = 0; i < n; i++) {
        int64_t d[LCV_MAX_DIMS];
        lcv_dtype dt;
        int nd = lcv_model_input_info(m, i, &dt, d, NULL);
        ts[i] = NULL;
        CHECK(lcv_tensor_create(dt, nd, d, &ts[i]) == LCV_OK);
        void *p = lcv_tensor_data(ts[i]);
        for (int64_t j = 0; j < lcv_tensor_numel(ts[i]); j++) {
            if (dt == LCV_DTYPE_FLOAT32) ((float *)p)[j] = 0.01f + (float)(next() % 4000) * 1e-5f;
            else ((uint8_t *)p)[j] = (uint8_t)next();
        }
        names[i] = lcv_model_input_name(m, i);
    }
    return n;
}

/* Runs a and b on the same inputs (b on `threads` threads); every output must be identical
 * byte for byte. */
static void compare(const char *what, lcv_model *a, lcv_model *b, int threads) {
    lcv_tensor *ins[4];
    const char *names[4];
    int n = make_inputs(a, ins, names);
    lcv_session_params sp = lcv_session_default_params();
    sp.threads = threads;
    lcv_session *sa = NULL, *sb = NULL;
    CHECK(lcv_session_create(a, NULL, &sa) == LCV_OK);
    CHECK(lcv_session_create(b, &sp, &sb) == LCV_OK);
    const lcv_tensor *const *cin = (const lcv_tensor *const *)ins;
    lcv_status ra = lcv_session_run(sa, n, names, cin), rb = lcv_session_run(sb, n, names, cin);
    CHECK_MSG(ra == LCV_OK, "%s unoptimized: %s", what, lcv_session_errmsg(sa));
    CHECK_MSG(rb == LCV_OK, "%s optimized: %s", what, lcv_session_errmsg(sb));
    for (int o = 0; ra == LCV_OK && rb == LCV_OK && o < lcv_model_output_count(a); o++) {
        const lcv_tensor *x = lcv_session_output(sa, o), *y = lcv_session_output(sb, o);
        size_t bytes = lcv_dtype_size(lcv_tensor_dtype(x)) * (size_t)lcv_tensor_numel(x);
        bool same = lcv_tensor_dtype(x) == lcv_tensor_dtype(y) &&
                    lcv_tensor_numel(x) == lcv_tensor_numel(y) &&
                    memcmp(lcv_tensor_cdata(x), lcv_tensor_cdata(y), bytes) == 0;
        CHECK_MSG(same, "%s output %d differs (%d threads)", what, o, threads);
    }
    for (int i = 0; i < n; i++) lcv_tensor_free(ins[i]);
    lcv_session_free(sa);
    lcv_session_free(sb);
}

/* Serializes G, checks the optimized structure against `want` (sorted words) and compares
 * the unoptimized model with the optimized one at each ISA level, on 1 and 2 threads, and on
 * the reference kernels. */
static void finish(const char *what, const char *want) {
    void *buf = NULL;
    size_t size = 0;
    lcv_status st = lcv_onnx_write_graph(G, 13, &buf, &size, &err);
    CHECK_MSG(st == LCV_OK, "%s: write: %s", what, err.msg);
    lcv_graph_free(G);
    G = NULL;
    if (st != LCV_OK) return;
    lcv_cpu_info info;
    lcv_cpu_detect(&info);
    lcv_isa best = lcv_cpu_best_isa(&info);
    for (lcv_isa isa = LCV_ISA_SCALAR; isa != LCV_ISA_AUTO; isa = lcv_isa_next(isa, best)) {
        lcv_model *a = load(buf, size, 0, 0, isa), *b = load(buf, size, 1, 0, isa);
        if (a && b) {
            char got[512], exp[512];
            describe(b, got, sizeof got);
            snprintf(exp, sizeof exp, "%s", want);
            sort_words(exp);
            CHECK_MSG(strcmp(got, exp) == 0, "%s:\n  got  '%s'\n  want '%s'", what, got, exp);
            if (isa == LCV_ISA_SCALAR) printf("  %-34s %s\n", what, got);
            for (int threads = 1; threads <= 2; threads++) compare(what, a, b, threads);
        }
        lcv_model_free(a);
        lcv_model_free(b);
    }
    lcv_model *a = load(buf, size, 0, 1, LCV_ISA_AUTO), *b = load(buf, size, 1, 1, LCV_ISA_AUTO);
    if (a && b) compare(what, a, b, 1);
    lcv_model_free(a);
    lcv_model_free(b);
    free(buf);
}

enum {
    F_BCAST = 1,      /* b is [1, C, 1, W] */
    F_DQ_TWICE = 2,   /* a's DequantizeLinear output is also a graph output */
    F_SUM_TWICE = 4,  /* the Relu output is also read by a second Add (a float residual
                       * stream, as leancv's quantizer leaves a ResNet's identity path) */
    F_SCALE_IN = 8,   /* a's scale is a graph input */
};

typedef struct add_case {
    const char *what, *want;
    lcv_dtype adt, bdt, ydt;
    int32_t za, zb, zy;
    int act;         /* 0 none, 1 Relu, 2 Clip(0, clip_hi) */
    float clip_hi;
    int64_t dims[4];
    int flags;       /* F_* above */
} add_case;

static void add_model(const add_case *k) {
    int64_t bd[4] = {1, k->dims[1], 1, k->dims[3]};
    G = lcv_graph_new();
    CHECK(lcv_graph_add_opset(G, "", 13, &err) == LCV_OK);
    input("a", k->adt, 4, k->dims);
    input("b", k->bdt, 4, (k->flags & F_BCAST) ? bd : k->dims);
    if (k->flags & F_SCALE_IN) input("sa", LCV_DTYPE_FLOAT32, 0, NULL);
    else scalar_f("sa", 0.0173f);
    scalar_f("sb", 0.0291f);
    scalar_f("sy", 0.0411f);
    scalar_q("za", k->adt, k->za);
    scalar_q("zb", k->bdt, k->zb);
    scalar_q("zy", k->ydt, k->zy);
    node("DequantizeLinear", "a sa za", "af");
    node("DequantizeLinear", "b sb zb", "bf");
    node("Add", "af bf", "s");
    const char *r = "s";
    if (k->act == 1) {
        node("Relu", "s", "r");
        r = "r";
    } else if (k->act == 2) {
        scalar_f("clo", 0.0f);
        scalar_f("chi", k->clip_hi);
        node("Clip", "s clo chi", "r");
        r = "r";
    }
    char ins[64];
    snprintf(ins, sizeof ins, "%s sy zy", r);
    node("QuantizeLinear", ins, "y");
    output("y", k->ydt);
    if (k->flags & F_DQ_TWICE) output("af", LCV_DTYPE_FLOAT32);
    if (k->flags & F_SUM_TWICE) {
        snprintf(ins, sizeof ins, "%s bf", r);
        node("Add", ins, "s2");
        output("s2", LCV_DTYPE_FLOAT32);
    }
    finish(k->what, k->want);
}

static void add_cases(void) {
    const lcv_dtype U8 = LCV_DTYPE_UINT8, I8 = LCV_DTYPE_INT8;
    /* what, want, adt, bdt, ydt, za, zb, zy, act, clip_hi, dims, flags */
    const add_case cases[] = {
        {"u8 relu", "QLinearAdd+relu", U8, U8, U8, 131, 90, 140, 1, 0, {2, 3, 7, 9}, 0},
        {"i8 relu", "QLinearAdd+relu", I8, I8, I8, 3, -38, 12, 1, 0, {2, 3, 7, 9}, 0},
        {"u8 no relu", "QLinearAdd", U8, U8, U8, 131, 90, 140, 0, 0, {1, 5, 11, 13}, 0},
        {"i8 no relu", "QLinearAdd", I8, I8, I8, -7, 0, -128 + 70, 0, 0, {3, 1, 1, 257}, 0},
        /* zy at the type's low end: the Relu is the saturation itself */
        {"u8 relu implied (zy 0)", "QLinearAdd", U8, U8, U8, 128, 128, 0, 1, 0, {2, 3, 5, 5}, 0},
        /* Clip(0, 6): 6 / sy saturates int8 at zy 0, so only the lower bound remains */
        {"i8 relu6 (relu kept)", "QLinearAdd+relu", I8, I8, I8, 0, 0, 0, 2, 6.0f, {1, 4, 6, 7}, 0},
        /* large enough that two threads split it, odd so tiles and the split are cut */
        {"u8 relu, 2 threads split", "QLinearAdd+relu", U8, U8, U8, 120, 135, 128, 1, 0,
         {1, 7, 97, 101}, 0},
        {"i8 no relu, 2 threads split", "QLinearAdd", I8, I8, I8, 1, 2, 3, 0, 0, {1, 7, 97, 101},
         0},
        /* must not fuse */
        {"no: clip inside the range", "DequantizeLinear DequantizeLinear Add Clip QuantizeLinear",
         U8, U8, U8, 128, 128, 0, 2, 1.0f, {1, 2, 3, 5}, 0},
        {"no: broadcast", "DequantizeLinear DequantizeLinear Add Relu QuantizeLinear", U8, U8,
         U8, 128, 128, 100, 1, 0, {2, 3, 7, 9}, F_BCAST},
        {"no: mixed types", "DequantizeLinear DequantizeLinear Add QuantizeLinear", U8, I8, U8,
         128, 0, 100, 0, 0, {2, 3, 7, 9}, 0},
        {"no: output type differs", "DequantizeLinear DequantizeLinear Add QuantizeLinear", I8,
         I8, U8, 0, 0, 100, 0, 0, {2, 3, 7, 9}, 0},
        {"no: DQ output read twice", "DequantizeLinear DequantizeLinear Add Relu QuantizeLinear",
         U8, U8, U8, 128, 128, 100, 1, 0, {2, 3, 7, 9}, F_DQ_TWICE},
        {"no: float residual stream", "DequantizeLinear DequantizeLinear Add Add Relu "
         "QuantizeLinear", I8, I8, I8, 0, 0, 5, 1, 0, {2, 3, 7, 9}, F_SUM_TWICE},
        {"no: scale not constant", "DequantizeLinear DequantizeLinear Add QuantizeLinear", U8,
         U8, U8, 128, 128, 100, 0, 0, {2, 3, 7, 9}, F_SCALE_IN},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) add_model(&cases[i]);
}

/* ONNX Runtime's contrib QLinearAdd read from a file: the com.microsoft domain resolves, C's
 * zero point may be omitted (0), and it broadcasts like Add; values checked by hand. */
static void contrib_node(void) {
    G = lcv_graph_new();
    CHECK(lcv_graph_add_opset(G, "", 13, &err) == LCV_OK);
    CHECK(lcv_graph_add_opset(G, "com.microsoft", 1, &err) == LCV_OK);
    int64_t ad[2] = {2, 3}, bd[1] = {3};
    input("a", LCV_DTYPE_UINT8, 2, ad);
    input("b", LCV_DTYPE_UINT8, 1, bd);
    scalar_f("sa", 0.5f);
    scalar_f("sb", 0.25f);
    scalar_f("sy", 1.0f);
    scalar_q("za", LCV_DTYPE_UINT8, 10);
    scalar_q("zb", LCV_DTYPE_UINT8, 0);
    node_in("com.microsoft", "QLinearAdd", "a sa za b sb zb sy", "y");
    output("y", LCV_DTYPE_UINT8);
    void *buf = NULL;
    size_t size = 0;
    CHECK(lcv_onnx_write_graph(G, 13, &buf, &size, &err) == LCV_OK);
    lcv_graph_free(G);
    G = NULL;
    lcv_model *m = load(buf, size, 1, 0, LCV_ISA_AUTO);
    free(buf);
    lcv_session *s = NULL;
    CHECK(m && lcv_session_create(m, NULL, &s) == LCV_OK);
    const uint8_t av[6] = {10, 12, 13, 0, 255, 11}, bv[3] = {2, 6, 4};
    lcv_tensor *in[2] = {NULL, NULL};
    CHECK(lcv_tensor_create(LCV_DTYPE_UINT8, 2, ad, &in[0]) == LCV_OK);
    CHECK(lcv_tensor_create(LCV_DTYPE_UINT8, 1, bd, &in[1]) == LCV_OK);
    memcpy(lcv_tensor_data(in[0]), av, 6);
    memcpy(lcv_tensor_data(in[1]), bv, 3);
    const char *names[2] = {"a", "b"};
    /* (a - 10) * 0.5 + b * 0.25, rounded half to even, saturated to 0..255 */
    const uint8_t want[6] = {0, 2, 2, 0, 124, 2};
    if (s && lcv_session_run(s, 2, names, (const lcv_tensor *const *)in) == LCV_OK) {
        const lcv_tensor *y = lcv_session_output(s, 0);
        CHECK(lcv_tensor_numel(y) == 6 && memcmp(lcv_tensor_cdata(y), want, 6) == 0);
    } else {
        CHECK_MSG(false, "contrib QLinearAdd: %s", s ? lcv_session_errmsg(s) : "no session");
    }
    lcv_tensor_free(in[0]);
    lcv_tensor_free(in[1]);
    lcv_session_free(s);
    lcv_model_free(m);
}

/* The pass on its own: the node it writes (domain, opset, inputs, fused Relu), the domain
 * import it adds, and the rewritten graph serialized and loaded again. */
static void rewritten_graph(void) {
    int64_t d[2] = {3, 5};
    G = lcv_graph_new();
    CHECK(lcv_graph_add_opset(G, "", 13, &err) == LCV_OK);
    input("a", LCV_DTYPE_INT8, 2, d);
    input("b", LCV_DTYPE_INT8, 2, d);
    scalar_f("sa", 0.02f);
    scalar_f("sb", 0.03f);
    scalar_f("sy", 0.04f);
    scalar_q("za", LCV_DTYPE_INT8, 1);
    scalar_q("zb", LCV_DTYPE_INT8, -2);
    scalar_q("zy", LCV_DTYPE_INT8, 5);
    node("DequantizeLinear", "a sa za", "af");
    node("DequantizeLinear", "b sb zb", "bf");
    node("Add", "af bf", "s");
    node("Relu", "s", "r");
    node("QuantizeLinear", "r sy zy", "y");
    output("y", LCV_DTYPE_INT8);
    /* the types analysis would have inferred */
    val("af", LCV_DTYPE_FLOAT32, 2, d);
    val("bf", LCV_DTYPE_FLOAT32, 2, d);
    val("s", LCV_DTYPE_FLOAT32, 2, d);
    val("r", LCV_DTYPE_FLOAT32, 2, d);
    bool changed = false;
    CHECK(lcv_pass_fuse_qdq(G, &changed, &err) == LCV_OK && changed);
    int y = lcv_graph_find(G, "y"), p = y >= 0 ? G->values[y].producer : -1;
    CHECK(p >= 0);
    if (p < 0) return;
    const lcv_node *n = &G->nodes[p];
    CHECK(n->op == LCV_OP_QLinearAdd && strcmp(n->op_type, "QLinearAdd") == 0);
    CHECK(strcmp(n->domain, "com.microsoft") == 0 && n->opset == 1);
    CHECK(n->fused.act == LCV_ACT_RELU && n->fused.residual < 0 && n->n_in == 8);
    const char *want[8] = {"a", "sa", "za", "b", "sb", "zb", "sy", "zy"};
    for (int k = 0; k < 8 && k < n->n_in; k++)
        CHECK_MSG(n->in[k] == lcv_graph_find(G, want[k]), "input %d is not %s", k, want[k]);
    CHECK(lcv_graph_opset(G, "com.microsoft") == 1);
    /* the Relu is fused state, not ONNX: drop it; the graph (dead DequantizeLinears and all)
     * must then load as written */
    G->nodes[p].fused.act = LCV_ACT_NONE;
    void *buf = NULL;
    size_t size = 0;
    CHECK_MSG(lcv_onnx_write_graph(G, 13, &buf, &size, &err) == LCV_OK, "write: %s", err.msg);
    lcv_graph_free(G);
    G = NULL;
    lcv_model *m = buf ? load(buf, size, 0, 0, LCV_ISA_AUTO) : NULL;
    char got[512];
    if (m) describe(m, got, sizeof got);
    CHECK_MSG(m && strstr(got, "QLinearAdd"), "rewritten graph: %s", m ? got : "did not load");
    lcv_model_free(m);
    free(buf);
}

int main(void) {
    add_cases();
    rewritten_graph();
    contrib_node();
    return lcv_test_finish("passes_fuse_qdq_add");
}
