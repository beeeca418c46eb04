/* test_equalize.c - cross-layer equalization (src/compress/equalize.c): on Conv chains with
 * Relu, linear and Clip(0, 6) links (grouped and depthwise convs), a Gemm pair and the built
 * resnet8 / mobilenetv2-tiny, the equalized float model gives the original's outputs
 * (relative 1e-5), one round makes each pair's channel ranges equal, ReLU6 links are left
 * alone without relu6 and become Relu with it, and layers whose output has other readers or
 * whose link is another clip are not touched. Also through lcv_quantize_model's report. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compress/compress.h"
#include "leancv_build.h"
#include "qgraph.h"

/* Weights whose output channels differ in range by up to 64x, so equalization moves them. */
static void weights(qg *q, const char *name, int ndim, const int64_t *dims) {
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= dims[d];
    float *w = malloc(sizeof(float) * (size_t)n);
    int64_t per = n / dims[0];
    for (int64_t i = 0; w && i < n; i++)
        w[i] = (float)((qg_uniform() * 2 - 1) * pow(4.0, (double)((i / per) % 4) - 1.5));
    qg_const(q, name, ndim, dims, w);
    free(w);
}

/* link: "Relu", "Clip6", "Clip4" (Clip(0, 4)). */
static void link_node(qg *q, const char *link, const char *in, const char *out) {
    const char *ins[3] = {in, "cmin", strcmp(link, "Clip4") == 0 ? "cmax4" : "cmax"};
    qg_node(q, strcmp(link, "Relu") == 0 ? "Relu" : "Clip", strcmp(link, "Relu") == 0 ? 1 : 3,
            ins, out);
}

static void clip_consts(qg *q) {
    const float lo = 0, hi = 6, hi4 = 4;
    qg_const(q, "cmin", 0, NULL, &lo);
    qg_const(q, "cmax", 0, NULL, &hi);
    qg_const(q, "cmax4", 0, NULL, &hi4);
}

/* x [2,3,8,8] -> Conv_0 (3->8, 3x3) -> Relu -> Conv_2 (8->8, 1x1) -> Conv_3 (depthwise 3x3)
 * -> link -> Conv_5 (8->4, 1x1, no bias) -> y. Seeded, so equal seeds give equal weights. */
static bool chain(const char *link, uint64_t seed, void **data, size_t *size) {
    qg q;
    const int64_t xd[4] = {2, 3, 8, 8}, w1[4] = {8, 3, 3, 3}, w2[4] = {8, 8, 1, 1};
    const int64_t w3[4] = {8, 1, 3, 3}, w4[4] = {4, 8, 1, 1}, b8[1] = {8};
    qg_rng = seed;
    qg_start(&q, 4, xd);
    clip_consts(&q);
    weights(&q, "w1", 4, w1);
    weights(&q, "b1", 1, b8);
    weights(&q, "w2", 4, w2);
    weights(&q, "b2", 1, b8);
    weights(&q, "w3", 4, w3);
    weights(&q, "b3", 1, b8);
    weights(&q, "w4", 4, w4);
    qg_conv(&q, "x", "w1", "b1", 1, 1, "h1");
    link_node(&q, "Relu", "h1", "r1");
    qg_conv(&q, "r1", "w2", "b2", 0, 1, "h2");
    qg_conv(&q, "h2", "w3", "b3", 1, 8, "h3");
    link_node(&q, link, "h3", "r3");
    qg_conv(&q, "r3", "w4", NULL, 0, 1, "y");
    qg_output(&q, "y");
    return qg_finish(&q, data, size);
}

/* Conv_0 (3->6, 3x3) -> link -> Conv_2 (6->4, 3x3, 2 groups); with `tap`, Conv_0's output is
 * also a graph output. */
static bool pair_conv(const char *link, bool tap, void **data, size_t *size) {
    qg q;
    const int64_t xd[4] = {2, 3, 8, 8}, w1[4] = {6, 3, 3, 3}, w2[4] = {4, 3, 3, 3}, b[1] = {6};
    qg_start(&q, 4, xd);
    clip_consts(&q);
    weights(&q, "w1", 4, w1);
    weights(&q, "b1", 1, b);
    weights(&q, "w2", 4, w2);
    qg_conv(&q, "x", "w1", "b1", 1, 1, "h1");
    link_node(&q, link, "h1", "r1");
    qg_conv(&q, "r1", "w2", NULL, 1, 2, "y");
    qg_output(&q, "y");
    if (tap) qg_output(&q, "h1");
    return qg_finish(&q, data, size);
}

/* x [4,10] -> Gemm_0 (W [12,10], transB, C [12]) -> Relu -> Gemm_2 (W [12,5], C [5]) -> y */
static bool pair_gemm(void **data, size_t *size) {
    qg q;
    const int64_t xd[2] = {4, 10}, w1[2] = {12, 10}, c1[1] = {12}, c5[1] = {5};
    qg_start(&q, 2, xd);
    weights(&q, "w1", 2, w1);
    weights(&q, "c1", 1, c1);
    int64_t w2[2] = {12, 5};
    float w2d[60];
    for (int i = 0; i < 60; i++) /* rows (its input channels) of different ranges */
        w2d[i] = (float)((qg_uniform() * 2 - 1) * pow(3.0, (double)((i / 5) % 3)));
    qg_const(&q, "w2", 2, w2, w2d);
    weights(&q, "c2", 1, c5);
    const char *g1[3] = {"x", "w1", "c1"}, *g2[3] = {"r1", "w2", "c2"};
    qg_attr_int(&q, qg_node(&q, "Gemm", 3, g1, "h1"), "transB", 1);
    link_node(&q, "Relu", "h1", "r1");
    qg_node(&q, "Gemm", 3, g2, "y");
    qg_output(&q, "y");
    return qg_finish(&q, data, size);
}

static const lcv_tensor *weight_of(const lcv_graph *g, const char *node) {
    for (int i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i].name, node) == 0) return g->values[g->nodes[i].in[1]].init;
    return NULL;
}

/* Largest max over channels of |r1_i - r2_i| / max(r1_i, r2_i): L1's output channel i vs
 * L2's input channel i (Conv with groups, or Gemm: rows of L1 with transB, rows of L2). */
static double range_gap(const lcv_graph *g, const char *n1, const char *n2, int groups,
                        double *spread) {
    const lcv_tensor *a = weight_of(g, n1), *b = weight_of(g, n2);
    if (!a || !b) return INFINITY;
    int64_t chan = a->dims[0], per1 = lcv_tensor_count(a) / chan;
    int64_t cg = b->ndim == 2 ? 1 : b->dims[1];
    int64_t ksz = b->ndim == 2 ? b->dims[1] : lcv_tensor_count(b) / (b->dims[0] * cg);
    int64_t outs = b->ndim == 2 ? 1 : b->dims[0] / groups;
    double gap = 0, lo = INFINITY, hi = 0;
    for (int64_t i = 0; i < chan; i++) {
        double r1 = 0, r2 = 0;
        for (int64_t k = 0; k < per1; k++)
            r1 = fmax(r1, fabsf(((const float *)a->data)[i * per1 + k]));
        for (int64_t o = 0; o < outs; o++) {
            int64_t row = b->ndim == 2 ? i : ((i / cg) * outs + o) * cg + i % cg;
            for (int64_t k = 0; k < ksz; k++)
                r2 = fmax(r2, fabsf(((const float *)b->data)[row * ksz + k]));
        }
        gap = fmax(gap, fabs(r1 - r2) / fmax(r1, r2));
        lo = fmin(lo, r1 / r2);
        hi = fmax(hi, r1 / r2);
    }
    if (spread) *spread = hi / lo;
    return gap;
}

typedef struct eq_run {
    lcv_graph *g;      /* the equalized graph (owned) */
    lcv_cle_stats st;
    double diff;       /* equalized vs reference output, relative */
} eq_run;

/* Random input in [0, 1), image-like: with inputs of both signs the deeper test chains sum
 * terms that cancel, and any two float evaluations of them differ by ~1e-5 already. */
static lcv_tensor *input_for(const void *data, size_t size) {
    lcv_model *m = NULL;
    lcv_tensor *x = NULL;
    int64_t dims[LCV_MAX_DIMS];
    lcv_dtype dt;
    if (lcv_model_load_buffer(data, size, NULL, &m) == LCV_OK) {
        int nd = lcv_model_input_info(m, 0, &dt, dims, NULL);
        for (int d = 0; d < nd; d++) dims[d] = dims[d] < 1 ? 2 : dims[d];
        if (lcv_tensor_create(LCV_DTYPE_FLOAT32, nd, dims, &x) == LCV_OK) {
            float *p = lcv_tensor_data(x);
            for (int64_t i = 0; i < lcv_tensor_numel(x); i++) p[i] = (float)qg_uniform();
        }
    }
    lcv_model_free(m);
    return x;
}

/* Prepares and equalizes model `data`, compares its output with model `ref`'s (data when
 * NULL) on random input. *before (optional): the prepared graph before equalization. */
static bool equalize(const void *data, size_t size, const void *ref, size_t ref_size, bool relu6,
                     int rounds, eq_run *r, lcv_graph **before) {
    lcv_err e;
    void *out = NULL;
    size_t osize = 0;
    memset(r, 0, sizeof *r);
    r->diff = INFINITY;
    bool ok = lcv_qdq_prepare(data, size, &r->g, &e) == LCV_OK;
    if (ok && before) ok = lcv_qdq_prepare(data, size, before, &e) == LCV_OK;
    if (ok) ok = lcv_cle_equalize(r->g, relu6, rounds, &r->st, &e) == LCV_OK;
    if (ok) ok = lcv_onnx_write_graph(r->g, 0, &out, &osize, &e) == LCV_OK;
    CHECK_MSG(ok, "equalize: %s", e.msg);
    lcv_tensor *x = ok ? input_for(data, size) : NULL;
    int64_t n0 = 0, n1 = 0;
    float *y0 = x ? qg_run(ref ? ref : data, ref ? ref_size : size, x, &n0) : NULL;
    float *y1 = x ? qg_run(out, osize, x, &n1) : NULL;
    if (y0 && y1 && n0 == n1 && n0 > 0) r->diff = qg_rel_diff(y0, y1, n0);
    free(y0);
    free(y1);
    free(out);
    lcv_tensor_free(x);
    return ok;
}

static int count_op(const lcv_graph *g, const char *op) {
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++) n += strcmp(g->nodes[i].op_type, op) == 0;
    return n;
}

static void check_one_round(void) {
    void *d = NULL;
    size_t n = 0;
    eq_run r;
    lcv_graph *g0 = NULL;
    qg_rng = 11;
    if (!pair_conv("Relu", false, &d, &n) || !equalize(d, n, NULL, 0, false, 1, &r, &g0)) goto done;
    double spread0 = 0, spread1 = 0;
    range_gap(g0, "Conv_0", "Conv_2", 2, &spread0);
    double gap = range_gap(r.g, "Conv_0", "Conv_2", 2, &spread1);
    printf("conv pair, one round: r1/r2 spread %.1f -> %.7f, largest gap %.2e, output diff %.2e\n",
           spread0, spread1, gap, r.diff);
    CHECK_MSG(spread0 > 4, "the test's ranges differ too little (%.2f)", spread0);
    CHECK_MSG(gap <= 1e-6, "ranges differ by %.3g after one step", gap);
    CHECK_MSG(r.diff <= 1e-5, "output differs by %.3g", r.diff);
    CHECK(r.st.pairs == 1 && r.st.rounds == 1 && r.st.relu6_skipped == 0);
done:
    lcv_graph_free(r.g);
    lcv_graph_free(g0);
    free(d);
}

static void check_chain(void) {
    void *d = NULL, *dr = NULL;
    size_t n = 0, nr = 0;
    eq_run r, r6;
    memset(&r6, 0, sizeof r6);
    lcv_graph *g0 = NULL;
    if (!chain("Clip6", 5, &d, &n) || !chain("Relu", 5, &dr, &nr)) goto done;
    /* Without relu6: Conv_0 -> Relu -> Conv_2 and Conv_2 -> Conv_3 (linear), the clip skipped. */
    if (equalize(d, n, NULL, 0, false, 100, &r, &g0)) {
        printf("chain: %d pairs in %d rounds, %d ReLU6 skipped, output diff %.2e\n", r.st.pairs,
               r.st.rounds, r.st.relu6_skipped, r.diff);
        CHECK(r.st.pairs == 2 && r.st.relu6_skipped == 1 && r.st.relu6_replaced == 0);
        CHECK(r.st.rounds > 2 && r.st.rounds < 100);
        CHECK_MSG(r.diff <= 1e-5, "output differs by %.3g", r.diff);
        CHECK(count_op(r.g, "Clip") == 1);
        const lcv_tensor *a = weight_of(g0, "Conv_5"), *b = weight_of(r.g, "Conv_5");
        CHECK(a && b && memcmp(a->data, b->data, sizeof(float) * (size_t)lcv_tensor_count(a)) == 0);
        double g12 = range_gap(r.g, "Conv_0", "Conv_2", 1, NULL);
        double g23 = range_gap(r.g, "Conv_2", "Conv_3", 8, NULL);
        CHECK_MSG(g12 <= 1e-3 && g23 <= 1e-3, "converged gaps %.3g, %.3g", g12, g23);
    }
    /* With relu6: the Clip becomes Relu, and the model equals the one built with Relu. */
    if (equalize(d, n, dr, nr, true, 100, &r6, NULL)) {
        CHECK(r6.st.pairs == 3 && r6.st.relu6_replaced == 1 && r6.st.relu6_skipped == 0);
        CHECK(count_op(r6.g, "Clip") == 0);
        CHECK_MSG(r6.diff <= 1e-5, "output differs from the Relu model by %.3g", r6.diff);
        double g34 = range_gap(r6.g, "Conv_3", "Conv_5", 1, NULL);
        CHECK_MSG(g34 <= 1e-3, "converged gap %.3g", g34);
    }
    lcv_graph_free(r.g);
done:
    lcv_graph_free(r6.g);
    lcv_graph_free(g0);
    free(d);
    free(dr);
}

static void check_gemm(void) {
    void *d = NULL;
    size_t n = 0;
    eq_run r;
    qg_rng = 17;
    if (!pair_gemm(&d, &n) || !equalize(d, n, NULL, 0, false, 1, &r, NULL)) goto out;
    double gap = range_gap(r.g, "Gemm_0", "Gemm_2", 1, NULL);
    CHECK(r.st.pairs == 1);
    CHECK_MSG(gap <= 1e-6, "gemm ranges differ by %.3g after one step", gap);
    CHECK_MSG(r.diff <= 1e-5, "gemm output differs by %.3g", r.diff);
    lcv_graph_free(r.g);
out:
    free(d);
}

/* Pairs that must not be equalized. */
static void check_untouched(void) {
    const struct {
        const char *link;
        bool tap, relu6;
    } cases[] = {{"Relu", true, false}, {"Clip4", false, true}, {"Clip6", true, true}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        void *d = NULL;
        size_t n = 0;
        eq_run r;
        lcv_graph *g0 = NULL;
        if (pair_conv(cases[k].link, cases[k].tap, &d, &n) &&
            equalize(d, n, NULL, 0, cases[k].relu6, 100, &r, &g0)) {
            CHECK_MSG(r.st.pairs == 0 && r.st.relu6_skipped == 0 && r.st.relu6_replaced == 0,
                      "%s%s: %d pairs", cases[k].link, cases[k].tap ? " tapped" : "", r.st.pairs);
            const lcv_tensor *a = weight_of(g0, "Conv_0"), *b = weight_of(r.g, "Conv_0");
            CHECK(a && b &&
                  memcmp(a->data, b->data, sizeof(float) * (size_t)lcv_tensor_count(a)) == 0);
            CHECK(count_op(r.g, "Clip") == count_op(g0, "Clip"));
            lcv_graph_free(r.g);
        }
        lcv_graph_free(g0);
        free(d);
    }
}

static void check_arch(const char *arch) {
    void *f = NULL;
    size_t n = 0;
    char err[256];
    eq_run r, r6;
    CHECK_MSG(lcv_build_arch(arch, 3, 16, 16, 10, 3, &f, &n, err, sizeof err) == LCV_OK, "%s", err);
    if (!f) return;
    if (equalize(f, n, NULL, 0, false, 100, &r, NULL)) {
        printf("%s: %d pairs in %d rounds, %d ReLU6 links skipped, output diff %.2e\n", arch,
               r.st.pairs, r.st.rounds, r.st.relu6_skipped, r.diff);
        /* mobilenetv2-tiny has no pair without ReLU6: each projection also feeds a residual */
        CHECK_MSG(r.st.pairs + r.st.relu6_skipped > 0 && r.diff <= 1e-5,
                  "%s: %d pairs, output diff %.3g", arch, r.st.pairs, r.diff);
        if (equalize(f, n, NULL, 0, true, 100, &r6, NULL)) {
            printf("%s with relu6: %d pairs, %d ReLU6 replaced\n", arch, r6.st.pairs,
                   r6.st.relu6_replaced);
            CHECK(r6.st.relu6_replaced == r.st.relu6_skipped);
            CHECK(r6.st.pairs == r.st.pairs + r.st.relu6_skipped);
            CHECK(count_op(r6.g, "Relu") == count_op(r.g, "Relu") + r6.st.relu6_replaced);
            lcv_graph_free(r6.g);
        }
        lcv_graph_free(r.g);
    }
    lcv_build_free_buffer(f);
}

typedef struct rnd_src {
    lcv_tensor *t;
    int pos;
} rnd_src;

static lcv_status rs_next(void *u, const lcv_tensor **t, char *err, size_t cap) {
    rnd_src *s = u;
    (void)err, (void)cap;
    *t = s->pos++ < 2 ? s->t : NULL;
    return LCV_OK;
}

static lcv_status rs_rewind(void *u, char *err, size_t cap) {
    (void)err, (void)cap;
    ((rnd_src *)u)->pos = 0;
    return LCV_OK;
}

/* The public path: equalize_relu6 alone implies equalization; the report counts. */
static void check_api(void) {
    void *f = NULL, *q = NULL;
    size_t n = 0, nq = 0;
    char err[512];
    lcv_quant_report *r = NULL;
    CHECK(lcv_build_arch("mobilenetv2-tiny", 3, 16, 16, 10, 3, &f, &n, err, sizeof err) == LCV_OK);
    rnd_src s = {f ? input_for(f, n) : NULL, 0};
    lcv_calib_source src = {&s, rs_next, rs_rewind, NULL};
    lcv_quantize_params p = lcv_quantize_default_params();
    p.equalize_relu6 = 1;
    p.bias_correction = 1;
    if (s.t)
        CHECK_MSG(lcv_quantize_model(f, n, &p, &src, &q, &nq, &r, err, sizeof err) == LCV_OK,
                  "%s", err);
    if (r) {
        printf("mobilenetv2-tiny quantized: %d pairs equalized in %d rounds, %d ReLU6 replaced, "
               "%d biases corrected of %d layers\n", r->n_equalized, r->equalize_rounds,
               r->n_relu6_replaced, r->n_bias_corrected, r->n_layers);
        CHECK(r->n_equalized > 0 && r->n_relu6_replaced > 0 && r->n_relu6_skipped == 0);
        CHECK(r->n_bias_corrected > 0);
    }
    if (q && s.t) {
        int64_t ny = 0;
        float *y = qg_run(q, nq, s.t, &ny);
        CHECK(y && ny == 20);
        free(y);
    }
    lcv_quant_report_free(r);
    lcv_compress_free_buffer(q);
    lcv_tensor_free(s.t);
    lcv_build_free_buffer(f);
}

/* Output SQNR (dB) of the int8 model vs float on a batch other than the calibration one. */
static double quant_sqnr(const void *f, size_t n, const lcv_quantize_params *p) {
    void *q = NULL;
    size_t nq = 0;
    char err[512];
    double db = -INFINITY;
    rnd_src s = {input_for(f, n), 0};
    lcv_calib_source src = {&s, rs_next, rs_rewind, NULL};
    lcv_tensor *x = input_for(f, n);
    CHECK_MSG(lcv_quantize_model(f, n, p, &src, &q, &nq, NULL, err, sizeof err) == LCV_OK,
              "%s", err);
    int64_t n0 = 0, n1 = 0;
    float *y0 = q && x ? qg_run(f, n, x, &n0) : NULL, *y1 = y0 ? qg_run(q, nq, x, &n1) : NULL;
    if (y1 && n0 == n1) {
        double sig = 0, noise = 0;
        for (int64_t i = 0; i < n0; i++) {
            sig += (double)y0[i] * y0[i];
            noise += ((double)y0[i] - y1[i]) * ((double)y0[i] - y1[i]);
        }
        db = 10 * log10(sig / noise);
    }
    free(y0);
    free(y1);
    free(q);
    lcv_tensor_free(s.t);
    lcv_tensor_free(x);
    return db;
}

/* Where equalization pays: per-tensor weight scales on the chain whose channels differ in
 * range by 64x waste most of the int8 levels on the small channels; equalized, they do not. */
static void check_gain(void) {
    void *f = NULL;
    size_t n = 0;
    if (!chain("Relu", 5, &f, &n)) return;
    lcv_quantize_params p = lcv_quantize_default_params();
    p.per_tensor_weights = 1;
    double plain = quant_sqnr(f, n, &p);
    p.equalize = 1;
    double eq = quant_sqnr(f, n, &p);
    printf("relu chain, per-tensor int8: output SQNR %.2f dB, equalized %.2f dB\n", plain, eq);
    CHECK_MSG(eq > plain + 3, "equalization gained %.2f dB", eq - plain);

    free(f);
}

int main(void) {
    check_one_round();
    check_chain();
    check_gemm();
    check_untouched();
    check_arch("resnet8");
    check_arch("mobilenetv2-tiny");
    check_api();
    check_gain();
    return lcv_test_finish("test_equalize");
}
