/* test_onnx_write_fused.c - the ONNX writer on optimized graphs: every activation the
 * optimizer fuses into a Conv (with and without a residual Add, Clip in both opset forms) and
 * the demo model are written from the fused graph, loaded back unoptimized with reference
 * kernels, and must compute what the fused model computes. A fused HardSwish cannot be written
 * below opset 14 and must be refused. With --write-dir DIR the written files are saved for
 * check_written.py (onnx.checker). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontends/onnx/onnx.h"
#include "harness.h"
#include "runtime/model.h"

static const char *write_dir;
static FILE *manifest;
static uint32_t rng = 2024;

static float frand(void) {
    rng = rng * 1664525u + 1013904223u;
    return (float)(rng >> 8) / (float)(1u << 24) * 2.0f - 1.0f;
}

static lcv_tensor *rand_tensor(int nd, const int64_t *dims, float scale) {
    lcv_tensor *t = NULL;
    CHECK(lcv_tensor_create(LCV_DTYPE_FLOAT32, nd, dims, &t) == LCV_OK);
    if (!t) return NULL;
    float *p = lcv_tensor_data(t);
    for (int64_t i = 0; i < lcv_tensor_numel(t); i++) p[i] = frand() * scale;
    return t;
}

static int value(lcv_graph *g, const char *name, int nd, const int64_t *dims, lcv_err *e) {
    int id = -1;
    CHECK(lcv_graph_intern(g, name, &id, e) == LCV_OK);
    if (id >= 0 && nd >= 0) {
        g->values[id].dtype = LCV_DTYPE_FLOAT32;
        g->values[id].ndim = nd;
        memcpy(g->values[id].dims, dims, sizeof(int64_t) * (size_t)nd);
    }
    return id;
}

static void init(lcv_graph *g, const char *name, lcv_tensor *t, lcv_err *e) {
    int id = value(g, name, -1, NULL, e);
    CHECK(id >= 0 && lcv_graph_set_initializer(g, id, t, e) == LCV_OK);
}

static void node(lcv_graph *g, const char *name, const char *op, int n_in, const char *const *in,
                 const char *out, lcv_node **nd, lcv_err *e) {
    lcv_node *made = NULL;
    CHECK_MSG(lcv_graph_add_node(g, name, op, "", n_in, in, 1, &out, &made, e) == LCV_OK, "%s",
              e->msg);
    if (made) made->opset = (int)lcv_graph_opset(g, "");
    if (nd) *nd = made;
}

static void float_attr(lcv_node *n, const char *name, float v, lcv_err *e) {
    lcv_attr *a = NULL;
    CHECK(n && lcv_node_add_attr(n, name, &a, e) == LCV_OK);
    if (a) {
        a->type = LCV_ATTR_FLOAT;
        a->f = v;
    }
}

/* X [1,2,5,5] -> Conv(W [3,2,3,3], B) -> [+ R] -> act -> Y [1,3,3,3]. */
static lcv_graph *conv_act_graph(int opset, const char *act, bool residual, float a, float b) {
    lcv_err e;
    lcv_graph *g = lcv_graph_new();
    CHECK(g && lcv_graph_add_opset(g, "", opset, &e) == LCV_OK);
    g->ir_version = 7;
    static const int64_t xd[4] = {1, 2, 5, 5}, wd[4] = {3, 2, 3, 3}, bd[1] = {3},
                         yd[4] = {1, 3, 3, 3};
    CHECK(lcv_graph_add_input(g, value(g, "X", 4, xd, &e), &e) == LCV_OK);
    init(g, "W", rand_tensor(4, wd, 0.5f), &e);
    init(g, "B", rand_tensor(1, bd, 0.5f), &e);
    const char *cin[3] = {"X", "W", "B"}, *cur = "conv";
    node(g, "conv", "Conv", 3, cin, "conv", NULL, &e);
    if (residual) {
        CHECK(lcv_graph_add_input(g, value(g, "R", 4, yd, &e), &e) == LCV_OK);
        const char *ain[2] = {"conv", "R"};
        node(g, "add", "Add", 2, ain, act ? "sum" : "Y", NULL, &e);
        cur = "sum";
    }
    lcv_node *n = NULL;
    if (act && strcmp(act, "SiLU") == 0) {
        const char *s_in[1] = {cur}, *m_in[2] = {cur, "sig"};
        node(g, "sig", "Sigmoid", 1, s_in, "sig", NULL, &e);
        node(g, "mul", "Mul", 2, m_in, "Y", NULL, &e);
    } else if (act && strcmp(act, "Clip") == 0 && opset >= 11) {
        int64_t none = 0;
        lcv_tensor *lo = rand_tensor(0, &none, 0), *hi = rand_tensor(0, &none, 0);
        if (lo && hi) {
            *(float *)lcv_tensor_data(lo) = a;
            *(float *)lcv_tensor_data(hi) = b;
        }
        init(g, "lo", lo, &e);
        init(g, "hi", hi, &e);
        const char *c_in[3] = {cur, "lo", "hi"};
        node(g, "act", "Clip", 3, c_in, "Y", NULL, &e);
    } else if (act) {
        const char *in[1] = {cur};
        node(g, "act", act, 1, in, "Y", &n, &e);
        if (strcmp(act, "LeakyRelu") == 0) float_attr(n, "alpha", a, &e);
        if (strcmp(act, "HardSigmoid") == 0) {
            float_attr(n, "alpha", a, &e);
            float_attr(n, "beta", b, &e);
        }
        if (strcmp(act, "Clip") == 0) {
            float_attr(n, "min", a, &e);
            float_attr(n, "max", b, &e);
        }
    }
    CHECK(lcv_graph_add_output(g, value(g, "Y", 4, yd, &e), &e) == LCV_OK);
    return g;
}

static void save(const char *name, const void *d, size_t n) {
    if (!write_dir) return;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.onnx", write_dir, name);
    FILE *f = fopen(path, "wb");
    CHECK_MSG(f && fwrite(d, 1, n, f) == n, "cannot write %s", path);
    if (f) fclose(f);
    fprintf(manifest, "%s\t-\n", path);
}

/* Runs model m and the model in (d, n) loaded unoptimized on the same random inputs (dynamic
 * dims 2); the largest absolute difference of output 0. */
static double run_both(const lcv_model *m, const void *d, size_t n, const char *label) {
    lcv_model_params p = lcv_model_default_params();
    p.optimize = 0;
    p.reference_kernels = 1;
    lcv_model *mw = NULL;
    CHECK_MSG(lcv_model_load_buffer(d, n, &p, &mw) == LCV_OK, "%s: %s", label,
              lcv_model_errmsg(mw));
    double worst = INFINITY;
    lcv_session *sa = NULL, *sb = NULL;
    int ni = lcv_model_input_count(m);
    lcv_tensor *in[8] = {0};
    const char *names[8];
    for (int i = 0; i < ni && i < 8; i++) {
        lcv_dtype dt;
        int64_t dims[LCV_MAX_DIMS];
        int nd = lcv_model_input_info(m, i, &dt, dims, NULL);
        for (int k = 0; k < nd; k++)
            if (dims[k] < 0) dims[k] = 2;
        in[i] = rand_tensor(nd, dims, 1.0f);
        names[i] = lcv_model_input_name(m, i);
    }
    if (mw && lcv_session_create(m, NULL, &sa) == LCV_OK &&
        lcv_session_create(mw, NULL, &sb) == LCV_OK &&
        lcv_session_run(sa, ni, names, (const lcv_tensor *const *)in) == LCV_OK &&
        lcv_session_run(sb, ni, names, (const lcv_tensor *const *)in) == LCV_OK) {
        const lcv_tensor *x = lcv_session_output(sa, 0), *y = lcv_session_output(sb, 0);
        if (lcv_tensor_numel(x) == lcv_tensor_numel(y)) {
            worst = 0;
            const float *px = lcv_tensor_cdata(x), *py = lcv_tensor_cdata(y);
            for (int64_t k = 0; k < lcv_tensor_numel(x); k++)
                worst = fmax(worst, fabs((double)px[k] - (double)py[k]));
        }
    }
    CHECK_MSG(worst <= 1e-5, "%s: outputs differ by %g (%s)", label, worst,
              sb ? lcv_session_errmsg(sb) : "no session");
    for (int i = 0; i < ni && i < 8; i++) lcv_tensor_free(in[i]);
    lcv_session_free(sa);
    lcv_session_free(sb);
    lcv_model_free(mw);
    return worst;
}

static void test_fused_acts(void) {
    static const struct {
        const char *act;
        int opset;
        float a, b;
        lcv_act_kind kind;
    } cases[] = {
        {NULL, 13, 0, 0, LCV_ACT_NONE},          {"Relu", 13, 0, 0, LCV_ACT_RELU},
        {"Clip", 13, 0, 6, LCV_ACT_CLIP},        {"Clip", 10, -0.5f, 0.25f, LCV_ACT_CLIP},
        {"LeakyRelu", 13, 0.1f, 0, LCV_ACT_LEAKYRELU},
        {"Sigmoid", 13, 0, 0, LCV_ACT_SIGMOID},
        {"HardSigmoid", 13, 0.3f, 0.4f, LCV_ACT_HARDSIGMOID},
        {"HardSwish", 14, 0, 0, LCV_ACT_HARDSWISH}, {"SiLU", 13, 0, 0, LCV_ACT_SILU},
        {"Tanh", 13, 0, 0, LCV_ACT_TANH},
    };
    lcv_model_params p = lcv_model_default_params();
    p.optimize = 1;
    p.reference_kernels = 1; /* planning would release the weights it packs */
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        for (int res = 0; res < 2; res++) {
            if (!cases[k].act && !res) continue; /* nothing to fuse */
            char label[96];
            snprintf(label, sizeof label, "fused_%s_opset%d%s", cases[k].act ? cases[k].act : "add",
                     cases[k].opset, res ? "_residual" : "");
            lcv_model *m = NULL;
            lcv_graph *g =
                conv_act_graph(cases[k].opset, cases[k].act, res, cases[k].a, cases[k].b);
            CHECK_MSG(lcv_model_from_graph(g, &p, &m) == LCV_OK, "%s: %s", label,
                      lcv_model_errmsg(m));
            if (!m || !m->loaded) {
                lcv_model_free(m);
                continue;
            }
            const lcv_node *conv = NULL;
            for (int i = 0; i < m->g->n_nodes; i++)
                if (strcmp(m->g->nodes[i].op_type, "Conv") == 0) conv = &m->g->nodes[i];
            CHECK_MSG(conv && conv->fused.act == cases[k].kind &&
                          (conv->fused.residual >= 0) == (res != 0) && m->g->n_nodes == 1,
                      "%s: the optimizer did not fuse as expected", label);
            void *d = NULL;
            size_t n = 0;
            lcv_err e;
            CHECK_MSG(lcv_onnx_write_graph(m->g, 0, &d, &n, &e) == LCV_OK, "%s: %s", label, e.msg);
            if (d) {
                save(label, d, n);
                run_both(m, d, n, label);
                lcv_graph *back = NULL;
                CHECK(lcv_onnx_import(d, n, NULL, 0, &back, &e) == LCV_OK);
                /* the epilogue became nodes again: Conv, [Add], act (Clip: 2 Constants too) */
                int want = 1 + res + (cases[k].act ? 1 : 0) +
                           (cases[k].kind == LCV_ACT_SILU) +
                           (cases[k].kind == LCV_ACT_CLIP && cases[k].opset >= 11 ? 2 : 0);
                CHECK_MSG(back && back->n_nodes == want, "%s: %d nodes written, expected %d",
                          label, back ? back->n_nodes : -1, want);
                lcv_graph_free(back);
                free(d);
            }
            if (cases[k].kind == LCV_ACT_HARDSWISH) { /* HardSwish exists from opset 14 on */
                d = NULL;
                CHECK(lcv_onnx_write_graph(m->g, 13, &d, &n, &e) == LCV_ERR_UNSUPPORTED && !d);
                CHECK(strstr(e.msg, "HardSwish") && strstr(e.msg, "opset 14"));
            }
            lcv_model_free(m);
        }
    }
}

/* The demo model, optimized (Conv/Gemm + ReLU fused), written and run unoptimized. */
static void test_demo_model(void) {
    lcv_model *m = NULL;
    lcv_model_params p = lcv_model_default_params();
    lcv_err e;
    void *d = NULL;
    size_t n = 0;
    /* Planned: the packed weights replaced the originals, which the writer cannot write. */
    CHECK(lcv_model_load_file("models/fashion_cnn.onnx", &p, &m) == LCV_OK);
    CHECK(m && lcv_onnx_write_graph(m->g, 0, &d, &n, &e) == LCV_ERR_INVALID_ARG && !d);
    CHECK_MSG(strstr(e.msg, "reference_kernels") != NULL, "%s", e.msg);
    lcv_model_free(m);
    p.reference_kernels = 1;
    m = NULL;
    CHECK(lcv_model_load_file("models/fashion_cnn.onnx", &p, &m) == LCV_OK);
    if (m && m->loaded) {
        int fused = 0;
        for (int i = 0; i < m->g->n_nodes; i++) fused += m->g->nodes[i].fused.act != LCV_ACT_NONE;
        CHECK(fused >= 2);
        CHECK_MSG(lcv_onnx_write_graph(m->g, 0, &d, &n, &e) == LCV_OK, "%s", e.msg);
        if (d) {
            save("fashion_cnn_optimized", d, n);
            run_both(m, d, n, "fashion_cnn optimized");
        }
        free(d);
    }
    lcv_model_free(m);
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--write-dir") == 0) {
        write_dir = argv[2];
        char mpath[1024];
        snprintf(mpath, sizeof mpath, "%s/manifest.tsv", write_dir);
        manifest = fopen(mpath, "w");
        if (!manifest) return 1;
    }
    test_fused_acts();
    test_demo_model();
    if (manifest) fclose(manifest);
    return lcv_test_finish("onnx_write_fused");
}
