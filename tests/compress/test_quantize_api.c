/* test_quantize_api.c - lcv_quantize_model and lcv_convert_half through the public API: the
 * bundled Fashion-MNIST CNN and built architectures with BatchNorm, residual adds and
 * depthwise convs (BN folded, no fused epilogue or BatchNorm in the file, every Conv/Gemm
 * reading DequantizeLinear outputs, output close to fp32), the report, keep-float, and the
 * errors: empty data, wrong shapes, failing callbacks, bad params, quantized input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontends/onnx/onnx.h"
#include "ir/graph.h"
#include "harness.h"
#include "leancv_build.h"
#include "leancv_compress.h"

typedef struct src_state {
    int batches, batch, c, h, w; /* what next() hands out */
    int pos, fail_at;            /* fail_at: batch index whose next() fails (-1 never) */
    uint64_t seed;
    lcv_tensor *t;
    int progress_calls;
} src_state;

static lcv_status next(void *user, const lcv_tensor **batch, char *errbuf, size_t cap) {
    src_state *s = user;
    *batch = NULL;
    if (s->pos == s->fail_at) {
        snprintf(errbuf, cap, "disk on fire at batch %d", s->pos);
        return LCV_ERR_IO;
    }
    if (s->pos >= s->batches) return LCV_OK;
    uint64_t r = s->seed + (uint64_t)s->pos * 7919u;
    float *x = lcv_tensor_data(s->t);
    for (int64_t i = 0; i < lcv_tensor_numel(s->t); i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((r >> 40) & 0xffff) / 65535.0f;
    }
    s->pos++;
    *batch = s->t;
    return LCV_OK;
}

static lcv_status rewind_src(void *user, char *errbuf, size_t cap) {
    ((src_state *)user)->pos = 0;
    return LCV_OK;
}

static void progress(void *user, int pass, int n_passes, const char *what, int64_t samples) {
    ((src_state *)user)->progress_calls++;
}

static void src_init(src_state *s, int batches, int batch, int c, int h, int w) {
    memset(s, 0, sizeof *s);
    s->batches = batches;
    s->batch = batch;
    s->fail_at = -1;
    s->seed = 42;
    int64_t dims[4] = {batch, c, h, w};
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 4, dims, &s->t);
}

static void *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *p = malloc((size_t)n);
    *size = p ? fread(p, 1, (size_t)n, f) : 0;
    fclose(f);
    return p;
}

/* SQNR (dB) of model b's first output vs model a's on one batch of s. */
static double sqnr(const void *a, size_t na, const void *b, size_t nb, src_state *s) {
    lcv_model *ma = NULL, *mb = NULL;
    lcv_session *sa = NULL, *sb = NULL;
    double sig = 0, noise = 0;
    CHECK(lcv_model_load_buffer(a, na, NULL, &ma) == LCV_OK);
    CHECK_MSG(lcv_model_load_buffer(b, nb, NULL, &mb) == LCV_OK, "%s", lcv_model_errmsg(mb));
    if (lcv_session_create(ma, NULL, &sa) == LCV_OK && lcv_session_create(mb, NULL, &sb) == LCV_OK) {
        const lcv_tensor *x;
        char err[64];
        s->pos = 0;
        next(s, &x, err, sizeof err);
        const char *na_[1] = {lcv_model_input_name(ma, 0)}, *nb_[1] = {lcv_model_input_name(mb, 0)};
        CHECK(lcv_session_run(sa, 1, na_, &x) == LCV_OK);
        CHECK_MSG(lcv_session_run(sb, 1, nb_, &x) == LCV_OK, "%s", lcv_session_errmsg(sb));
        const lcv_tensor *ya = lcv_session_output(sa, 0), *yb = lcv_session_output(sb, 0);
        if (ya && yb && lcv_tensor_numel(ya) == lcv_tensor_numel(yb)) {
            const float *p = lcv_tensor_cdata(ya), *q = lcv_tensor_cdata(yb);
            for (int64_t i = 0; i < lcv_tensor_numel(ya); i++) {
                sig += (double)p[i] * p[i];
                noise += ((double)p[i] - q[i]) * ((double)p[i] - q[i]);
            }
        }
    }
    lcv_session_free(sa);
    lcv_session_free(sb);
    lcv_model_free(ma);
    lcv_model_free(mb);
    return noise > 0 ? 10 * log10(sig / noise) : (sig > 0 ? INFINITY : -INFINITY);
}

/* The written file: no BatchNorm, every Conv/Gemm input from a DequantizeLinear (unless its
 * name is `kept`), and the same number of activation nodes as the float model. */
static void check_structure(const void *q, size_t nq, const void *f, size_t nf, const char *kept,
                            const char *label) {
    lcv_graph *gq = NULL, *gf = NULL;
    lcv_err e;
    CHECK(lcv_onnx_import(q, nq, NULL, 0, &gq, &e) == LCV_OK);
    CHECK(lcv_onnx_import(f, nf, NULL, 0, &gf, &e) == LCV_OK);
    if (!gq || !gf) goto done;
    int acts_q = 0, acts_f = 0, convs = 0;
    static const char *const ACTS[] = {"Relu", "Clip", "HardSwish", "Sigmoid", "Add", "Mul"};
    for (int pass = 0; pass < 2; pass++) {
        lcv_graph *g = pass ? gf : gq;
        for (int i = 0; i < g->n_nodes; i++)
            for (size_t k = 0; k < sizeof ACTS / sizeof ACTS[0]; k++)
                if (strcmp(g->nodes[i].op_type, ACTS[k]) == 0) *(pass ? &acts_f : &acts_q) += 1;
    }
    CHECK_MSG(acts_q == acts_f, "%s: %d activation/add nodes, float model %d", label, acts_q, acts_f);
    for (int i = 0; i < gq->n_nodes; i++) {
        const lcv_node *n = &gq->nodes[i];
        CHECK_MSG(strcmp(n->op_type, "BatchNormalization") != 0, "%s: BN left", label);
        if (strcmp(n->op_type, "Conv") != 0 && strcmp(n->op_type, "Gemm") != 0) continue;
        convs++;
        bool want = !kept || strcmp(n->name, kept) != 0;
        for (int k = 0; k < n->n_in; k++) {
            int p = n->in[k] >= 0 ? gq->values[n->in[k]].producer : -1;
            bool dq = p >= 0 && strcmp(gq->nodes[p].op_type, "DequantizeLinear") == 0;
            CHECK_MSG(dq == want, "%s: node '%s' input %d %s", label, n->name, k,
                      want ? "is not dequantized" : "is dequantized though kept in float");
        }
    }
    CHECK(convs > 0);
done:
    lcv_graph_free(gq);
    lcv_graph_free(gf);
}

static void check_fashion(void) {
    size_t n = 0;
    void *f = read_all("models/fashion_cnn.onnx", &n);
    CHECK_MSG(f != NULL, "models/fashion_cnn.onnx (run from the source root)");
    if (!f) return;
    src_state s;
    src_init(&s, 3, 8, 1, 28, 28);
    lcv_calib_source src = {&s, next, rewind_src, progress};
    lcv_quantize_params p = lcv_quantize_default_params();
    p.report = 1;
    void *q = NULL;
    size_t nq = 0;
    lcv_quant_report *r = NULL;
    char err[512];
    CHECK_MSG(lcv_quantize_model(f, n, &p, &src, &q, &nq, &r, err, sizeof err) == LCV_OK, "%s", err);
    /* conv1, conv2, fc1, fc2 and the two MaxPool inputs after conv1 and conv2 */
    CHECK(q && nq > 0 && r && r->n_layers == 6 && r->samples == 24);
    CHECK(s.progress_calls == 3 * 3); /* ranges, sensitivity, check */
    for (int k = 0; r && k < r->n_layers; k++) {
        CHECK(r->layers[k].quantized && r->layers[k].hi > 0 && r->layers[k].sqnr_db > 25);
        CHECK(r->layers[k].alone_sqnr_db > 30 && r->layers[k].alone_top1 >= 90);
    }
    CHECK(r && r->model_sqnr_db > 25 && r->model_top1 >= 90);
    if (q) {
        double db = sqnr(f, n, q, nq, &s);
        CHECK_MSG(db > 25, "fashion int8 SQNR %.2f dB", db);
        printf("fashion_cnn: output SQNR %.2f dB vs fp32 on random images\n", db);
        check_structure(q, nq, f, n, NULL, "fashion");
    }
    /* keep-float by pattern: that node reads float weights */
    const char *pat[1] = {"/conv2/*"};
    p.keep_float_patterns = pat;
    p.n_patterns = 1;
    p.report = 0;
    void *qk = NULL;
    size_t nk = 0;
    lcv_quant_report *rk = NULL;
    CHECK_MSG(lcv_quantize_model(f, n, &p, &src, &qk, &nk, &rk, err, sizeof err) == LCV_OK, "%s", err);
    CHECK(rk && !rk->layers[1].quantized && rk->layers[0].quantized && isnan(rk->model_sqnr_db));
    if (qk) check_structure(qk, nk, f, n, "/conv2/Conv", "fashion keep-float");
    /* bf16 / fp16: half the size, nearly the same output */
    lcv_dtype dts[2] = {LCV_DTYPE_BFLOAT16, LCV_DTYPE_FLOAT16};
    for (int k = 0; k < 2; k++) {
        void *h = NULL;
        size_t nh = 0;
        CHECK_MSG(lcv_convert_half(f, n, dts[k], &h, &nh, err, sizeof err) == LCV_OK, "%s", err);
        CHECK_MSG(nh <= 0.52 * n, "%s: %zu of %zu bytes", lcv_dtype_name(dts[k]), nh, n);
        if (h) CHECK(sqnr(f, n, h, nh, &s) > (k ? 50 : 35));
        lcv_compress_free_buffer(h);
    }
    void *h = (void *)1;
    size_t nh = 1;
    CHECK(lcv_convert_half(f, n, LCV_DTYPE_INT8, &h, &nh, err, sizeof err) == LCV_ERR_INVALID_ARG);
    CHECK(!h && nh == 0 && strstr(err, "int8"));
    /* errors: each returns nothing */
    p = lcv_quantize_default_params();
    void *o = (void *)1;
    size_t no = 1;
    lcv_quant_report *ro = (lcv_quant_report *)1;
    s.batches = 0;
    CHECK(lcv_quantize_model(f, n, &p, &src, &o, &no, &ro, err, sizeof err) == LCV_ERR_INVALID_ARG);
    CHECK(!o && !no && !ro && strstr(err, "calibration data is empty"));
    s.batches = 3;
    s.fail_at = 2;
    CHECK(lcv_quantize_model(f, n, &p, &src, &o, &no, &ro, err, sizeof err) == LCV_ERR_IO);
    CHECK(!o && strstr(err, "disk on fire at batch 2"));
    s.fail_at = -1;
    lcv_tensor_free(s.t);
    src_init(&s, 2, 4, 3, 28, 28);
    CHECK(lcv_quantize_model(f, n, &p, &src, &o, &no, &ro, err, sizeof err) == LCV_ERR_SHAPE);
    CHECK(!o && strstr(err, "[4,3,28,28] does not fit"));
    p.bins = 3;
    CHECK(lcv_quantize_model(f, n, &p, &src, &o, &no, &ro, err, sizeof err) == LCV_ERR_INVALID_ARG);
    CHECK(!o && strstr(err, "bins 3"));
    p = lcv_quantize_default_params();
    if (q) {
        CHECK(lcv_quantize_model(q, nq, &p, &src, &o, &no, &ro, err, sizeof err) == LCV_ERR_INVALID_ARG);
        CHECK(!o && strstr(err, "already quantized"));
    }
    CHECK(lcv_quantize_model(f, n, &p, NULL, &o, &no, &ro, err, sizeof err) == LCV_ERR_INVALID_ARG);
    CHECK(lcv_quantize_model("junk", 4, &p, &src, &o, &no, &ro, err, sizeof err) != LCV_OK && !o);
    lcv_compress_free_buffer(q);
    lcv_compress_free_buffer(qk);
    lcv_quant_report_free(r);
    lcv_quant_report_free(rk);
    lcv_tensor_free(s.t);
    free(f);
}

/* Built architectures: BN after every conv, residual adds, depthwise convs, hardswish. */
static void check_arch(const char *arch, lcv_calib_method method, int int8_act) {
    void *f = NULL;
    size_t n = 0;
    char err[512];
    CHECK_MSG(lcv_build_arch(arch, 3, 16, 16, 10, 7, &f, &n, err, sizeof err) == LCV_OK, "%s", err);
    if (!f) return;
    src_state s;
    src_init(&s, 2, 8, 3, 16, 16);
    lcv_calib_source src = {&s, next, rewind_src, NULL};
    lcv_quantize_params p = lcv_quantize_default_params();
    p.method = method;
    p.int8_activations = int8_act;
    p.keep_float = 1;
    void *q = NULL;
    size_t nq = 0;
    lcv_quant_report *r = NULL;
    CHECK_MSG(lcv_quantize_model(f, n, &p, &src, &q, &nq, &r, err, sizeof err) == LCV_OK,
              "%s: %s", arch, err);
    int kept = 0;
    for (int k = 0; r && k < r->n_layers; k++) kept += !r->layers[k].quantized;
    CHECK_MSG(r && kept == 1 && r->n_layers > 5, "%s: kept %d of %d", arch, kept, r ? r->n_layers : 0);
    if (q) {
        double db = sqnr(f, n, q, nq, &s);
        CHECK_MSG(db > 15, "%s (method %d): int8 SQNR %.2f dB", arch, (int)method, db);
        printf("%s (method %d, int8 activations %d): %d layers, output SQNR %.2f dB vs fp32\n",
               arch, (int)method, int8_act, r ? r->n_layers : 0, db);
        const char *kept_name = NULL;
        for (int k = 0; r && k < r->n_layers; k++)
            if (!r->layers[k].quantized) kept_name = r->layers[k].name;
        check_structure(q, nq, f, n, kept_name, arch);
    }
    lcv_compress_free_buffer(q);
    lcv_quant_report_free(r);
    lcv_tensor_free(s.t);
    lcv_build_free_buffer(f);
}

/* x [N, 8] -> MatMul W [8, 5] -> Add b: the weight gets per-column scales (axis 1), and the
 * Add stays a float node reading a float bias. */
static void check_matmul(void) {
    lcv_graph *g = lcv_graph_new();
    lcv_err e;
    int x = -1, y = -1, w = -1, b = -1;
    lcv_tensor *tw = NULL, *tb = NULL;
    int64_t wd[2] = {8, 5}, bd[1] = {5};
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 2, wd, &tw);
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 1, bd, &tb);
    for (int i = 0; i < 40; i++) ((float *)tw->data)[i] = (float)((i * 37) % 11 - 5) * (1 + i % 5) / 7.0f;
    for (int i = 0; i < 5; i++) ((float *)tb->data)[i] = 0.1f * (float)i;
    const char *mm_in[2] = {"x", "w"}, *mm_out[1] = {"h"}, *add_in[2] = {"h", "b"}, *add_out[1] = {"y"};
    bool ok = lcv_graph_add_opset(g, "", 13, &e) == LCV_OK &&
              lcv_graph_intern(g, "x", &x, &e) == LCV_OK && lcv_graph_add_input(g, x, &e) == LCV_OK &&
              lcv_graph_intern(g, "w", &w, &e) == LCV_OK && lcv_graph_set_initializer(g, w, tw, &e) == LCV_OK &&
              lcv_graph_intern(g, "b", &b, &e) == LCV_OK && lcv_graph_set_initializer(g, b, tb, &e) == LCV_OK &&
              lcv_graph_add_node(g, "mm", "MatMul", "", 2, mm_in, 1, mm_out, NULL, &e) == LCV_OK &&
              lcv_graph_add_node(g, "add", "Add", "", 2, add_in, 1, add_out, NULL, &e) == LCV_OK &&
              lcv_graph_intern(g, "y", &y, &e) == LCV_OK && lcv_graph_add_output(g, y, &e) == LCV_OK;
    CHECK_MSG(ok, "%s", e.msg);
    if (ok) {
        g->values[x].dtype = g->values[y].dtype = LCV_DTYPE_FLOAT32;
        g->values[x].ndim = 2;
        g->values[x].dims[0] = 4;
        g->values[x].dims[1] = 8;
    }
    g->ir_version = 7;
    void *f = NULL, *q = NULL;
    size_t n = 0, nq = 0;
    CHECK_MSG(ok && lcv_onnx_write_graph(g, 13, &f, &n, &e) == LCV_OK, "%s", e.msg);
    lcv_graph_free(g);
    src_state s;
    src_init(&s, 2, 4, 1, 1, 8);
    int64_t dims[2] = {4, 8};
    lcv_tensor_free(s.t);
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 2, dims, &s.t);
    lcv_calib_source src = {&s, next, rewind_src, NULL};
    char err[512];
    CHECK_MSG(f && lcv_quantize_model(f, n, NULL, &src, &q, &nq, NULL, err, sizeof err) == LCV_OK,
              "%s", err);
    lcv_graph *gq = NULL;
    if (q && lcv_onnx_import(q, nq, NULL, 0, &gq, &e) == LCV_OK) {
        int dq_axis1 = 0, adds = 0;
        for (int i = 0; i < gq->n_nodes; i++) {
            const lcv_node *nd = &gq->nodes[i];
            adds += strcmp(nd->op_type, "Add") == 0;
            if (strcmp(nd->op_type, "DequantizeLinear") == 0)
                for (int k = 0; k < nd->n_attrs; k++)
                    dq_axis1 += strcmp(nd->attrs[k].name, "axis") == 0 && nd->attrs[k].i == 1;
        }
        CHECK(dq_axis1 == 1 && adds == 1);
        double db = sqnr(f, n, q, nq, &s);
        CHECK_MSG(db > 30, "MatMul int8 SQNR %.2f dB", db);
    }
    CHECK(gq != NULL);
    lcv_graph_free(gq);
    lcv_compress_free_buffer(q);
    free(f);
    lcv_tensor_free(s.t);
}

int main(void) {
    check_matmul();
    check_fashion();
    check_arch("resnet8", LCV_CALIB_MINMAX, 0);
    check_arch("mobilenetv2-tiny", LCV_CALIB_ENTROPY, 1);
    check_arch("ghostnet-tiny", LCV_CALIB_MSE, 0);
    return lcv_test_finish("test_quantize_api");
}
