/* test_fuse_qdq.c - the fuse_qdq pass on QDQ graphs built in memory and loaded through the
 * ONNX writer: Conv (+Relu, bias, depthwise) and MatMul fuse into QLinearConv/QLinearMatMul,
 * Q(DQ(x)) and DQ -> MaxPool -> Q collapse, each near miss stays as it is, and every model
 * gives the same integers (within one quantization step) optimized and unoptimized. */
#include <stdlib.h>
#include <string.h>

#include "frontends/onnx/onnx.h"
#include "harness.h"
#include "leancv.h"
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

/* Adds a node; ins/outs are space-separated value names ("-" for an omitted input). */
static lcv_node *node(const char *op, const char *ins, const char *outs) {
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
    CHECK(lcv_graph_add_node(G, name, op, "", ni, iv, no, ov, &n, &err) == LCV_OK);
    n->op = lcv_op_lookup(op, "");
    n->opset = 13;
    return n;
}

static void attr_i(lcv_node *n, const char *name, int64_t v) {
    lcv_attr *a;
    CHECK(lcv_node_add_attr(n, name, &a, &err) == LCV_OK);
    a->type = LCV_ATTR_INT;
    a->i = v;
}

static void attr_ints(lcv_node *n, const char *name, int count, int64_t v) {
    lcv_attr *a;
    CHECK(lcv_node_add_attr(n, name, &a, &err) == LCV_OK);
    a->type = LCV_ATTR_INTS;
    a->n = count;
    a->ints = malloc(sizeof(int64_t) * (size_t)count);
    for (int k = 0; k < count; k++) a->ints[k] = v;
}

static void constant(const char *name, lcv_dtype dt, int nd, const int64_t *dims, const void *data) {
    lcv_tensor *t = NULL;
    CHECK(lcv_tensor_create(dt, nd, dims, &t) == LCV_OK);
    memcpy(lcv_tensor_data(t), data, lcv_dtype_size(dt) * (size_t)lcv_tensor_numel(t));
    CHECK(lcv_graph_set_initializer(G, val(name, dt, nd, dims), t, &err) == LCV_OK);
}

static void scalar_f(const char *name, float v) { constant(name, LCV_DTYPE_FLOAT32, 0, NULL, &v); }
static void scalar_q(const char *name, lcv_dtype dt, int32_t v) {
    uint8_t u = (uint8_t)v;
    int8_t s = (int8_t)v;
    constant(name, dt, 0, NULL, dt == LCV_DTYPE_UINT8 ? (const void *)&u : (const void *)&s);
}

static uint32_t rng = 1;
static int32_t rand_int(int32_t lo, int32_t hi) {
    rng = rng * 1664525u + 1013904223u;
    return lo + (int32_t)((rng >> 8) % (uint32_t)(hi - lo + 1));
}

static void begin(lcv_dtype in_dt, int nd, const int64_t *dims) {
    G = lcv_graph_new();
    CHECK(lcv_graph_add_opset(G, "", 13, &err) == LCV_OK);
    CHECK(lcv_graph_add_input(G, val("x", in_dt, nd, dims), &err) == LCV_OK);
}

static void output(const char *name, lcv_dtype dt) {
    int id = lcv_graph_find(G, name);
    CHECK(id >= 0);
    if (id < 0) return;
    G->values[id].dtype = dt;
    G->values[id].ndim = -1;
    CHECK(lcv_graph_add_output(G, id, &err) == LCV_OK);
}

static lcv_model *load(const void *buf, size_t size, int optimize, int reference) {
    lcv_model_params p = lcv_model_default_params();
    p.optimize = optimize;
    p.reference_kernels = reference;
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

/* The node list as sorted "Op[+act]" words (the toposort decides the order). */
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
    for (int i = 0; i < n; i++) len += (size_t)snprintf(s + len, 512 - len, "%s%s", i ? " " : "", w[i]);
}

/* Random inputs of each graph input's dtype (float in [-2, 2), integers over their range). */
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
            if (dt == LCV_DTYPE_FLOAT32) ((float *)p)[j] = (float)rand_int(-32768, 32767) / 16384.0f;
            else if (dt == LCV_DTYPE_INT8) ((int8_t *)p)[j] = (int8_t)rand_int(-127, 127);
            else ((uint8_t *)p)[j] = (uint8_t)rand_int(0, 255);
        }
        names[i] = lcv_model_input_name(m, i);
    }
    return n;
}

static double out_at(const lcv_tensor *t, int64_t j) {
    const void *p = lcv_tensor_cdata(t);
    switch (lcv_tensor_dtype(t)) {
    case LCV_DTYPE_UINT8: return ((const uint8_t *)p)[j];
    case LCV_DTYPE_INT8: return ((const int8_t *)p)[j];
    default: return ((const float *)p)[j];
    }
}

/* Runs a (optimize 0, reference kernels) and b on the same inputs: integer outputs within
 * one step, float outputs within 1e-4 relative. Returns the off-by-one count, *total the
 * integer elements compared. */
static int64_t compare(const char *what, lcv_model *a, lcv_model *b, int64_t *total) {
    lcv_tensor *ins[4];
    const char *names[4];
    int n = make_inputs(a, ins, names);
    lcv_session *sa = NULL, *sb = NULL;
    CHECK(lcv_session_create(a, NULL, &sa) == LCV_OK);
    CHECK(lcv_session_create(b, NULL, &sb) == LCV_OK);
    const lcv_tensor *const *cin = (const lcv_tensor *const *)ins;
    lcv_status ra = lcv_session_run(sa, n, names, cin), rb = lcv_session_run(sb, n, names, cin);
    CHECK_MSG(ra == LCV_OK, "%s unoptimized: %s", what, lcv_session_errmsg(sa));
    CHECK_MSG(rb == LCV_OK, "%s optimized: %s", what, lcv_session_errmsg(sb));
    int64_t off = 0;
    *total = 0;
    for (int o = 0; ra == LCV_OK && rb == LCV_OK && o < lcv_model_output_count(a); o++) {
        const lcv_tensor *x = lcv_session_output(sa, o), *y = lcv_session_output(sb, o);
        CHECK_MSG(lcv_tensor_dtype(x) == lcv_tensor_dtype(y) &&
                      lcv_tensor_numel(x) == lcv_tensor_numel(y),
                  "%s output %d: dtype/size differ", what, o);
        if (lcv_tensor_dtype(x) != lcv_tensor_dtype(y) || lcv_tensor_numel(x) != lcv_tensor_numel(y))
            continue;
        bool integer = lcv_tensor_dtype(x) != LCV_DTYPE_FLOAT32;
        double worst = 0;
        for (int64_t j = 0; j < lcv_tensor_numel(x); j++) {
            double d = fabs(out_at(x, j) - out_at(y, j));
            if (!integer) d /= 1.0 + fabs(out_at(x, j));
            if (d > worst || d != d) worst = d;
            if (integer && d == 1) off++;
        }
        if (integer) *total += lcv_tensor_numel(x);
        CHECK_MSG(worst <= (integer ? 1 : 1e-4), "%s output %d: worst difference %g", what, o, worst);
    }
    for (int i = 0; i < n; i++) lcv_tensor_free(ins[i]);
    lcv_session_free(sa);
    lcv_session_free(sb);
    return off;
}

static int64_t all_off, all_total;

/* Serializes G, checks the optimized structure against `want`, and compares the outputs of
 * the unoptimized model with the optimized one on reference and on fast kernels. */
static void finish(const char *what, const char *want) {
    void *buf = NULL;
    size_t size = 0;
    lcv_status st = lcv_onnx_write_graph(G, 13, &buf, &size, &err);
    CHECK_MSG(st == LCV_OK, "%s: write: %s", what, err.msg);
    lcv_graph_free(G);
    G = NULL;
    if (st != LCV_OK) return;
    lcv_model *a = load(buf, size, 0, 1), *b = load(buf, size, 1, 1), *c = load(buf, size, 1, 0);
    if (a && b && c) {
        char got[512], exp[512];
        describe(b, got, sizeof got);
        snprintf(exp, sizeof exp, "%s", want);
        sort_words(exp);
        CHECK_MSG(strcmp(got, exp) == 0, "%s:\n  got  '%s'\n  want '%s'", what, got, exp);
        int64_t total = 0, off = compare(what, a, b, &total);
        all_off += off;
        all_total += total;
        printf("  %-28s %s: %lld of %lld integers off by one\n", what, got, (long long)off,
               (long long)total);
        off = compare(what, a, c, &total);
        all_off += off;
        all_total += total;
    }
    lcv_model_free(a);
    lcv_model_free(b);
    lcv_model_free(c);
    free(buf);
}

/* ---- Conv ---- */

typedef struct conv_case {
    const char *what, *want;
    int64_t C, M, k, group, stride, pad;
    lcv_dtype xdt, ydt;
    int32_t zx, zy;
    bool relu;
    int bias;        /* 0 none, 1 float, 2 DequantizeLinear of int32 */
    float bias_mag;
    int w_axis;      /* -1 per-tensor weight scale, else the DequantizeLinear axis */
    int32_t zw;
    bool w_input;    /* weights are a graph input, not a constant */
    bool x_per_chan; /* the activation's DequantizeLinear has a per-channel scale */
    bool shared;     /* the Conv output has a second reader */
    float clip_hi;   /* > 0: Clip(0, clip_hi) in place of the Relu */
} conv_case;

static void conv_model(const conv_case *k) {
    int64_t xd[4] = {2, k->C, 7, 9}, cpg = k->C / k->group;
    int64_t wd[4] = {k->M, cpg, k->k, k->k}, nw = k->M * cpg * k->k * k->k;
    begin(LCV_DTYPE_FLOAT32, 4, xd);
    scalar_f("sx", 0.0173f);
    scalar_q("zx", k->xdt, k->zx);
    node("QuantizeLinear", "x sx zx", "xq");
    if (k->x_per_chan) {
        float s[64];
        int8_t z[64] = {0};
        uint8_t zu[64];
        for (int c = 0; c < k->C; c++) s[c] = 0.0173f * (1.0f + 0.1f * (float)c), zu[c] = (uint8_t)k->zx;
        constant("sxc", LCV_DTYPE_FLOAT32, 1, &k->C, s);
        constant("zxc", k->xdt, 1, &k->C, k->xdt == LCV_DTYPE_UINT8 ? (const void *)zu : (const void *)z);
        attr_i(node("DequantizeLinear", "xq sxc zxc", "xf"), "axis", 1);
    } else {
        node("DequantizeLinear", "xq sx zx", "xf");
    }
    int64_t ns = k->w_axis < 0 ? 1 : wd[k->w_axis];
    float sw[64];
    int8_t zw[64], w[4096];
    for (int64_t i = 0; i < ns; i++) sw[i] = 0.004f + 0.0005f * (float)i, zw[i] = (int8_t)k->zw;
    for (int64_t i = 0; i < nw; i++) w[i] = (int8_t)rand_int(-127, 127);
    if (k->w_input) CHECK(lcv_graph_add_input(G, val("wq", LCV_DTYPE_INT8, 4, wd), &err) == LCV_OK);
    else constant("wq", LCV_DTYPE_INT8, 4, wd, w);
    constant("sw", LCV_DTYPE_FLOAT32, k->w_axis < 0 ? 0 : 1, &ns, sw);
    constant("zw", LCV_DTYPE_INT8, k->w_axis < 0 ? 0 : 1, &ns, zw);
    lcv_node *dw = node("DequantizeLinear", "wq sw zw", "wf");
    if (k->w_axis >= 0) attr_i(dw, "axis", k->w_axis);
    const char *cin = "xf wf";
    if (k->bias == 1) {
        float b[64];
        for (int64_t m = 0; m < k->M; m++) b[m] = k->bias_mag * (float)rand_int(-100, 100) / 100.0f;
        constant("b", LCV_DTYPE_FLOAT32, 1, &k->M, b);
        cin = "xf wf b";
    } else if (k->bias == 2) {
        int32_t bq[64];
        float bs[64];
        for (int64_t m = 0; m < k->M; m++) {
            bq[m] = rand_int(-3000, 3000);
            bs[m] = 0.0173f * sw[k->w_axis == 0 ? m : 0];
        }
        constant("bq", LCV_DTYPE_INT32, 1, &k->M, bq);
        constant("bs", LCV_DTYPE_FLOAT32, 1, &k->M, bs);
        attr_i(node("DequantizeLinear", "bq bs", "b"), "axis", 0);
        cin = "xf wf b";
    }
    char ins[64];
    snprintf(ins, sizeof ins, "%s", cin);
    lcv_node *cv = node("Conv", ins, "c");
    attr_i(cv, "group", k->group);
    attr_ints(cv, "strides", 2, k->stride);
    attr_ints(cv, "pads", 4, k->pad);
    if (k->relu && k->clip_hi > 0) {
        scalar_f("clo", 0.0f);
        scalar_f("chi", k->clip_hi);
        node("Clip", "c clo chi", "r");
    } else if (k->relu) {
        node("Relu", "c", "r");
    }
    if (k->shared) {
        node("Sigmoid", "c", "side");
        output("side", LCV_DTYPE_FLOAT32);
    }
    scalar_f("sy", 0.0219f);
    scalar_q("zy", k->ydt, k->zy);
    node("QuantizeLinear", k->relu ? "r sy zy" : "c sy zy", "y");
    output("y", k->ydt);
    finish(k->what, k->want);
}

static void conv_cases(void) {
    const lcv_dtype U8 = LCV_DTYPE_UINT8, I8 = LCV_DTYPE_INT8;
    /* what, want, C, M, k, group, stride, pad, xdt, ydt, zx, zy, relu, bias, mag, w_axis, zw,
     * w_input, x_per_chan, shared, clip_hi */
    const conv_case cases[] = {
        {"conv relu u8 (implied)", "QuantizeLinear QLinearConv", 3, 5, 3, 1, 1, 1, U8, U8, 128,
         0, true, 1, 0.5f, 0, 0, false, false, false, 0},
        {"conv relu i8 (kept)", "QuantizeLinear QLinearConv+relu", 4, 6, 3, 1, 2, 0, I8, I8, 3,
         7, true, 1, 0.5f, 0, 0, false, false, false, 0},
        {"conv relu u8 zy 40 (kept)", "QuantizeLinear QLinearConv+relu", 4, 6, 1, 1, 1, 0, U8,
         U8, 100, 40, true, 0, 0, -1, 0, false, false, false, 0},
        {"conv int32 bias", "QuantizeLinear QLinearConv", 4, 8, 3, 2, 1, 1, U8, I8, 128, -3,
         false, 2, 0, 0, 0, false, false, false, 0},
        {"depthwise", "QuantizeLinear QLinearConv", 6, 6, 3, 6, 2, 1, I8, U8, 0, 128, false, 1,
         0.3f, 0, 0, false, false, false, 0},
        {"per-tensor weights", "QuantizeLinear QLinearConv", 5, 3, 2, 1, 1, 0, U8, U8, 120, 130,
         false, 1, 0.2f, -1, 0, false, false, false, 0},
        /* must not fuse */
        {"no: weights not constant", "QuantizeLinear DequantizeLinear DequantizeLinear Conv "
         "QuantizeLinear", 3, 4, 3, 1, 1, 1, U8, U8, 128, 128, false, 0, 0, 0, 0, true, false, false, 0},
        {"no: per-channel x scale", "QuantizeLinear DequantizeLinear Conv QuantizeLinear", 4, 4,
         3, 1, 1, 1, U8, U8, 128, 128, false, 0, 0, 0, 0, false, true, false, 0},
        {"no: conv read twice", "QuantizeLinear DequantizeLinear Conv Sigmoid QuantizeLinear", 3, 4, 3, 1, 1, 1,
         U8, U8, 128, 128, false, 1, 0.3f, 0, 0, false, false, true, 0},
        {"no: scale on axis 1", "QuantizeLinear DequantizeLinear Conv QuantizeLinear", 4, 4, 3, 1, 1, 1, U8, U8,
         128, 128, false, 0, 0, 1, 0, false, false, false, 0},
        {"no: zw nonzero", "QuantizeLinear DequantizeLinear Conv QuantizeLinear", 4, 4, 3, 1, 1, 1, U8, U8, 128,
         128, false, 0, 0, 0, 3, false, false, false, 0},
        {"no: bias overflows int32", "QuantizeLinear DequantizeLinear Conv QuantizeLinear", 3, 4, 3, 1, 1, 1, U8,
         U8, 128, 128, false, 1, 1e9f, 0, 0, false, false, false, 0},
        /* ReLU6 as Clip(0, 6): 6 saturates at sy 0.0219, so only the lower bound may remain */
        {"conv relu6 u8 (implied)", "QuantizeLinear QLinearConv", 3, 5, 3, 1, 1, 1, U8, U8, 128,
         0, true, 1, 0.5f, 0, 0, false, false, false, 6.0f},
        {"conv relu6 i8 (relu kept)", "QuantizeLinear QLinearConv+relu", 3, 5, 3, 1, 1, 1, I8,
         I8, 0, 5, true, 1, 0.5f, 0, 0, false, false, false, 6.0f},
        {"no: clip max inside range", "QuantizeLinear DequantizeLinear Conv+clip QuantizeLinear",
         3, 5, 3, 1, 1, 1, U8, U8, 128, 0, true, 1, 0.5f, 0, 0, false, false, false, 1.0f},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) conv_model(&cases[i]);
}

/* ---- MatMul, MaxPool, Q(DQ(x)) ---- */

static void matmul_model(const char *what, bool per_col, bool relu, const char *want) {
    int64_t xd[3] = {2, 5, 12}, wd[2] = {12, 7};
    begin(LCV_DTYPE_FLOAT32, 3, xd);
    scalar_f("sx", 0.0161f);
    scalar_q("zx", LCV_DTYPE_INT8, -5);
    node("QuantizeLinear", "x sx zx", "xq");
    node("DequantizeLinear", "xq sx zx", "xf");
    int8_t w[84], zw[7] = {0, 1, -2, 0, 3, 0, 0};
    float sw[7];
    for (int i = 0; i < 84; i++) w[i] = (int8_t)rand_int(-127, 127);
    for (int i = 0; i < 7; i++) sw[i] = 0.01f + 0.001f * (float)i;
    int64_t ns = per_col ? 7 : 1;
    constant("wq", LCV_DTYPE_INT8, 2, wd, w);
    constant("sw", LCV_DTYPE_FLOAT32, per_col, &ns, sw);
    constant("zw", LCV_DTYPE_INT8, per_col, &ns, zw);
    attr_i(node("DequantizeLinear", "wq sw zw", "wf"), "axis", per_col ? 1 : 0);
    node("MatMul", "xf wf", "mm");
    if (relu) node("Relu", "mm", "r");
    scalar_f("sy", 0.05f);
    scalar_q("zy", LCV_DTYPE_UINT8, 128);
    node("QuantizeLinear", relu ? "r sy zy" : "mm sy zy", "y");
    output("y", LCV_DTYPE_UINT8);
    finish(what, want);
}

/* Q -> DQ -> MaxPool -> Q2 -> DQ2 -> Conv -> Q3: with Q2 like Q, the pool runs on integers
 * and Q2/DQ2 vanish. */
static void pool_model(const char *what, float s2, const char *want) {
    int64_t xd[4] = {1, 3, 9, 8}, wd[4] = {4, 3, 1, 1};
    begin(LCV_DTYPE_FLOAT32, 4, xd);
    scalar_f("sx", 0.02f);
    scalar_q("zx", LCV_DTYPE_UINT8, 128);
    scalar_f("s2", s2);
    node("QuantizeLinear", "x sx zx", "xq");
    node("DequantizeLinear", "xq sx zx", "xf");
    lcv_node *mp = node("MaxPool", "xf", "p");
    attr_ints(mp, "kernel_shape", 2, 3);
    attr_ints(mp, "strides", 2, 2);
    attr_ints(mp, "pads", 4, 1);
    node("QuantizeLinear", "p s2 zx", "pq");
    node("DequantizeLinear", "pq s2 zx", "pf");
    int8_t w[12], zw = 0;
    for (int i = 0; i < 12; i++) w[i] = (int8_t)rand_int(-127, 127);
    float sw = 0.01f;
    constant("wq", LCV_DTYPE_INT8, 4, wd, w);
    constant("sw", LCV_DTYPE_FLOAT32, 0, NULL, &sw);
    constant("zw", LCV_DTYPE_INT8, 0, NULL, &zw);
    node("DequantizeLinear", "wq sw zw", "wf");
    node("Conv", "pf wf", "c");
    scalar_f("sy", 0.03f);
    node("QuantizeLinear", "c sy zx", "y");
    output("y", LCV_DTYPE_UINT8);
    finish(what, want);
}

/* Q -> DQ -> Q2 -> DQ2 -> Conv -> Q3: Q2(DQ(x)) is x when Q2 has DQ's scale and zero point. */
static void requant_model(const char *what, int32_t z2, const char *want) {
    int64_t xd[4] = {1, 2, 5, 6}, wd[4] = {3, 2, 1, 1};
    begin(LCV_DTYPE_FLOAT32, 4, xd);
    scalar_f("sx", 0.02f);
    scalar_q("zx", LCV_DTYPE_INT8, 3);
    scalar_q("z2", LCV_DTYPE_INT8, z2);
    node("QuantizeLinear", "x sx zx", "xq");
    node("DequantizeLinear", "xq sx zx", "xf");
    node("QuantizeLinear", "xf sx z2", "xq2");
    node("DequantizeLinear", "xq2 sx z2", "xf2");
    int8_t w[6] = {5, -7, 9, -11, 13, -15}, zw = 0;
    float sw = 0.01f;
    constant("wq", LCV_DTYPE_INT8, 4, wd, w);
    constant("sw", LCV_DTYPE_FLOAT32, 0, NULL, &sw);
    constant("zw", LCV_DTYPE_INT8, 0, NULL, &zw);
    node("DequantizeLinear", "wq sw zw", "wf");
    node("Conv", "xf2 wf", "c");
    scalar_f("sy", 0.004f);
    node("QuantizeLinear", "c sy zx", "y");
    output("y", LCV_DTYPE_INT8);
    finish(what, want);
}

/* A Conv whose Relu fuse_activation already took (node->fused) fuses the same way. */
static void prefused_relu(void) {
    int64_t xd[4] = {1, 2, 4, 4}, wd[4] = {3, 2, 1, 1};
    begin(LCV_DTYPE_FLOAT32, 4, xd);
    scalar_f("sx", 0.02f);
    scalar_q("zx", LCV_DTYPE_INT8, 0);
    node("QuantizeLinear", "x sx zx", "xq");
    node("DequantizeLinear", "xq sx zx", "xf");
    int8_t w[6] = {1, -2, 3, -4, 5, -6}, zw = 0;
    float sw = 0.01f;
    constant("wq", LCV_DTYPE_INT8, 4, wd, w);
    constant("sw", LCV_DTYPE_FLOAT32, 0, NULL, &sw);
    constant("zw", LCV_DTYPE_INT8, 0, NULL, &zw);
    node("DequantizeLinear", "wq sw zw", "wf");
    node("Conv", "xf wf", "c")->fused.act = LCV_ACT_RELU;
    scalar_f("sy", 0.03f);
    scalar_q("zy", LCV_DTYPE_INT8, -20);
    node("QuantizeLinear", "c sy zy", "y");
    output("y", LCV_DTYPE_INT8);
    /* the types analysis would have inferred */
    val("xq", LCV_DTYPE_INT8, 4, xd);
    val("c", LCV_DTYPE_FLOAT32, 4, (const int64_t[4]){1, 3, 4, 4});
    bool changed = false;
    CHECK(lcv_pass_fuse_qdq(G, &changed, &err) == LCV_OK && changed);
    int y = lcv_graph_find(G, "y"), p = G->values[y].producer;
    CHECK(p >= 0 && G->nodes[p].op == LCV_OP_QLinearConv && G->nodes[p].n_in == 8);
    CHECK(p >= 0 && G->nodes[p].fused.act == LCV_ACT_RELU);
    CHECK(p >= 0 && G->nodes[p].in[0] == lcv_graph_find(G, "xq"));
    lcv_graph_free(G);
    G = NULL;
}

int main(void) {
    conv_cases();
    matmul_model("matmul per-column", true, false, "QuantizeLinear QLinearMatMul");
    matmul_model("matmul per-tensor", false, false, "QuantizeLinear QLinearMatMul");
    matmul_model("matmul relu (kept)", true, true, "QuantizeLinear QLinearMatMul+relu");
    pool_model("maxpool same scale", 0.02f, "QuantizeLinear MaxPool QLinearConv");
    pool_model("no: maxpool rescaled",
               0.025f, "QuantizeLinear DequantizeLinear MaxPool QuantizeLinear QLinearConv");
    requant_model("requantize same params", 3, "QuantizeLinear QLinearConv");
    requant_model("no: requantize other zp", 4,
                  "QuantizeLinear DequantizeLinear QuantizeLinear QLinearConv");
    prefused_relu();
    printf("fuse_qdq: %lld of %lld integer outputs off by one step (%.3f%%)\n",
           (long long)all_off, (long long)all_total,
           all_total ? 100.0 * (double)all_off / (double)all_total : 0.0);
    /* off-by-one comes only from rounding the float sum differently near .5 ties */
    CHECK_MSG(all_total > 0 && (double)all_off <= 0.02 * (double)all_total,
              "%lld of %lld off by one", (long long)all_off, (long long)all_total);
    return lcv_test_finish("passes_fuse_qdq");
}
