/* test_biascorr.c - bias correction (lcv_quantize_params.bias_correction) on one-layer models:
 * Conv (padded, grouped, depthwise with a channel multiplier, with and without bias) and Gemm
 * (transB or not, with and without C), per channel and per tensor. The bias in the written
 * file is compared with b - (Wq - W) E[x] computed here in plain C from the calibration data,
 * and the mean output error per channel of weight-only quantization must drop with it on
 * held-out data; layers it must not touch (Gemm with alpha != 1) keep their bias. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leancv_compress.h"
#include "qgraph.h"

#define BATCH 4
#define N_CALIB 3
#define HELD 256 /* held-out rows: enough that their channel means are close to E[x] */

typedef struct lcase {
    const char *label;
    bool gemm, trans_b;
    int cin, cout, k, pad, groups, hw;
    bool bias, per_tensor;
    float alpha;      /* Gemm only; 1: correctable */
    double max_ratio; /* corrected / uncorrected mean error, at most */
} lcase;

typedef struct src {
    lcv_tensor *b[N_CALIB];
    int pos;
} src;

static lcv_status src_next(void *u, const lcv_tensor **t, char *err, size_t cap) {
    src *s = u;
    (void)err, (void)cap;
    *t = s->pos < N_CALIB ? s->b[s->pos++] : NULL;
    return LCV_OK;
}

static lcv_status src_rewind(void *u, char *err, size_t cap) {
    (void)err, (void)cap;
    ((src *)u)->pos = 0;
    return LCV_OK;
}

/* Input data with a distinct non-zero mean per channel, so (Wq - W) E[x] is not zero. */
static lcv_tensor *make_batch(const lcase *c, int rows) {
    int64_t dims[4] = {rows, c->cin, c->hw, c->hw};
    lcv_tensor *t = NULL;
    if (lcv_tensor_create(LCV_DTYPE_FLOAT32, c->gemm ? 2 : 4, dims, &t) != LCV_OK) return NULL;
    int64_t inner = c->gemm ? 1 : (int64_t)c->hw * c->hw;
    float *x = t->data;
    for (int64_t i = 0; i < lcv_tensor_count(t); i++) {
        int ch = (int)((i / inner) % c->cin);
        x[i] = (float)(0.6 + 0.45 * (ch % 5) + 2.0 * (qg_uniform() - 0.5));
    }
    return t;
}

static double ref_round(double v) {
    double f = floor(v), d = v - f;
    if (d != 0.5) return d < 0.5 ? f : f + 1;
    return fmod(f, 2.0) == 0 ? f : f + 1;
}

/* Plain convolution, stride 1, zero padding, weights w[o][c][ky][kx] (a Gemm is a 1x1 one);
 * y [HELD, cout, ho, ho]. */
static void conv_ref(const lcase *c, const float *x, const float *w, const float *b, double *y) {
    int cg = c->cin / c->groups, mg = c->cout / c->groups, ho = c->hw + 2 * c->pad - c->k + 1;
    for (int n = 0; n < HELD; n++)
        for (int o = 0; o < c->cout; o++)
            for (int oy = 0; oy < ho; oy++)
                for (int ox = 0; ox < ho; ox++) {
                    double s = b ? b[o] : 0.0;
                    for (int ci = 0; ci < cg; ci++)
                        for (int ky = 0; ky < c->k; ky++)
                            for (int kx = 0; kx < c->k; kx++) {
                                int iy = oy + ky - c->pad, ix = ox + kx - c->pad;
                                if (iy < 0 || ix < 0 || iy >= c->hw || ix >= c->hw) continue;
                                int ch = (o / mg) * cg + ci;
                                s += (double)w[((o * cg + ci) * c->k + ky) * c->k + kx] *
                                     x[((n * c->cin + ch) * c->hw + iy) * c->hw + ix];
                            }
                    y[((n * c->cout + o) * ho + oy) * ho + ox] = s;
                }
}

/* The one-layer model with weight w (conv layout) and bias b. */
static bool make_model(const lcase *c, const float *w, const float *b, void **data,
                       size_t *size) {
    qg q;
    int64_t xd[4] = {BATCH, c->cin, c->hw, c->hw};
    qg_start(&q, c->gemm ? 2 : 4, xd);
    int cg = c->cin / c->groups;
    int64_t wn = (int64_t)c->cout * cg * c->k * c->k, bd[1] = {c->cout};
    float *wf = malloc(sizeof(float) * (size_t)wn);
    for (int64_t i = 0; wf && i < wn; i++) /* Gemm without transB: W [K, N] */
        wf[c->gemm && !c->trans_b ? (i % cg) * c->cout + i / cg : i] = w[i];
    if (c->gemm) {
        int64_t wd[2] = {c->trans_b ? c->cout : c->cin, c->trans_b ? c->cin : c->cout};
        qg_const(&q, "w", 2, wd, wf);
    } else {
        int64_t wd[4] = {c->cout, cg, c->k, c->k};
        qg_const(&q, "w", 4, wd, wf);
    }
    if (c->bias) qg_const(&q, "b", 1, bd, b);
    if (c->gemm) {
        const char *ins[3] = {"x", "w", "b"};
        lcv_node *n = qg_node(&q, "Gemm", c->bias ? 3 : 2, ins, "y");
        if (c->trans_b) qg_attr_int(&q, n, "transB", 1);
        if (c->alpha != 1.0f) qg_attr_float(&q, n, "alpha", c->alpha);
    } else {
        qg_conv(&q, "x", "w", c->bias ? "b" : NULL, c->pad, c->groups, "y");
    }
    qg_output(&q, "y");
    free(wf);
    return qg_finish(&q, data, size);
}

/* The constant tensor a DequantizeLinear producing value v reads as input k, or NULL. */
static const lcv_tensor *dq_input(const lcv_graph *g, int v, int k) {
    int p = v >= 0 ? g->values[v].producer : -1;
    if (p < 0 || strcmp(g->nodes[p].op_type, "DequantizeLinear") != 0) return NULL;
    int id = g->nodes[p].in[k];
    return id >= 0 ? g->values[id].init : NULL;
}

/* From a QDQ file: the dequantized weight (conv layout), bias (NaN when none) and bias scale. */
static bool read_qdq(const lcase *c, const void *data, size_t size, float *wq, double *bq,
                     double *bscale) {
    lcv_graph *g = NULL;
    lcv_err e;
    if (lcv_onnx_import(data, size, NULL, 0, &g, &e) != LCV_OK) return false;
    const lcv_node *n = NULL;
    for (int i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i].op_type, c->gemm ? "Gemm" : "Conv") == 0) n = &g->nodes[i];
    const lcv_tensor *q = n ? dq_input(g, n->in[1], 0) : NULL;
    const lcv_tensor *s = n ? dq_input(g, n->in[1], 1) : NULL;
    bool ok = q && s && q->dtype == LCV_DTYPE_INT8;
    int cg = c->cin / c->groups, kk = c->k * c->k;
    for (int64_t i = 0; ok && i < (int64_t)c->cout * cg * kk; i++) {
        int64_t o = i / (cg * kk), fi = c->gemm && !c->trans_b ? (i % cg) * c->cout + o : i;
        float sc = ((const float *)s->data)[lcv_tensor_count(s) == 1 ? 0 : o];
        wq[i] = (float)((const int8_t *)q->data)[fi] * sc;
    }
    const lcv_tensor *bi = ok && n->n_in > 2 ? dq_input(g, n->in[2], 0) : NULL;
    const lcv_tensor *bs = ok && n->n_in > 2 ? dq_input(g, n->in[2], 1) : NULL;
    /* a bias left in float (a Gemm that is not corrected) */
    const lcv_tensor *bf = ok && n->n_in > 2 && !bi ? g->values[n->in[2]].init : NULL;
    for (int o = 0; ok && o < c->cout; o++) {
        float sc = bs ? ((const float *)bs->data)[lcv_tensor_count(bs) == 1 ? 0 : o] : NAN;
        bscale[o] = sc;
        bq[o] = bi ? (double)((const int32_t *)bi->data)[o] * sc
                : bf ? (double)((const float *)bf->data)[o] : NAN;
    }
    lcv_graph_free(g);
    return ok;
}

static void run_case(const lcase *c) {
    int cg = c->cin / c->groups, kk = c->k * c->k, ho = c->hw + 2 * c->pad - c->k + 1;
    int64_t wn = (int64_t)c->cout * cg * kk, yn = (int64_t)HELD * c->cout * ho * ho;
    float *w = malloc(sizeof(float) * (size_t)wn), *b = calloc((size_t)c->cout, sizeof(float));
    float *wq = malloc(sizeof(float) * (size_t)wn), *wr = malloc(sizeof(float) * (size_t)wn);
    double *bq = calloc((size_t)c->cout, sizeof(double));
    double *bs = calloc((size_t)c->cout, sizeof(double));
    double *yf = malloc(sizeof(double) * (size_t)yn), *yw = malloc(sizeof(double) * (size_t)yn);
    double *yc = malloc(sizeof(double) * (size_t)yn), *mu = calloc((size_t)c->cin, sizeof(double));
    float *bc = calloc((size_t)c->cout, sizeof(float));
    if (!w || !b || !wq || !wr || !bq || !bs || !yf || !yw || !yc || !mu || !bc) return;
    for (int64_t i = 0; i < wn; i++)
        w[i] = (float)((qg_uniform() * 2 - 1) * (1 + (i / (cg * kk)) % 3));
    for (int o = 0; c->bias && o < c->cout; o++) b[o] = (float)(qg_uniform() - 0.5);
    void *model = NULL, *out = NULL;
    size_t msize = 0, osize = 0;
    src s = {{NULL}, 0};
    for (int k = 0; k < N_CALIB; k++) s.b[k] = make_batch(c, BATCH);
    lcv_tensor *held = make_batch(c, HELD);
    lcv_calib_source cs = {&s, src_next, src_rewind, NULL};
    lcv_quantize_params p = lcv_quantize_default_params();
    p.per_tensor_weights = c->per_tensor;
    p.bias_correction = 1;
    lcv_quant_report *r = NULL;
    char err[512];
    if (!make_model(c, w, b, &model, &msize)) goto done;
    lcv_status st = lcv_quantize_model(model, msize, &p, &cs, &out, &osize, &r, err, sizeof err);
    CHECK_MSG(st == LCV_OK, "%s: %s", c->label, err);
    if (!out) goto done;
    bool want = c->alpha == 1.0f;
    CHECK_MSG(r->n_bias_corrected == want && r->layers[0].bias_corrected == want,
              "%s: %d layers corrected", c->label, r->n_bias_corrected);
    CHECK_MSG(read_qdq(c, out, osize, wq, bq, bs), "%s: no DequantizeLinear weight", c->label);
    /* The reference: E[x] over the calibration batches, Wq quantized here. */
    int64_t inner = c->gemm ? 1 : (int64_t)c->hw * c->hw;
    for (int k = 0; k < N_CALIB; k++)
        for (int64_t i = 0; i < lcv_tensor_count(s.b[k]); i++)
            mu[(i / inner) % c->cin] += ((const float *)s.b[k]->data)[i];
    for (int ch = 0; ch < c->cin; ch++) mu[ch] /= (double)(N_CALIB * BATCH * inner);
    int bad_w = 0;
    double worst = 0, delta_max = 0, half_max = 0;
    for (int o = 0; o < c->cout; o++) {
        float m = 0;
        for (int64_t i = 0; i < wn; i++)
            if (c->per_tensor || i / (cg * kk) == o) m = fmaxf(m, fabsf(w[i]));
        float sc = m > 0 ? m / 127.0f : 1.0f;
        double delta = 0;
        for (int64_t i = (int64_t)o * cg * kk; i < (int64_t)(o + 1) * cg * kk; i++) {
            double qv = fmax(-127, fmin(127, ref_round((double)(w[i] / sc))));
            wr[i] = (float)qv * sc;
            bad_w += wr[i] != wq[i];
            int ch = (o / (c->cout / c->groups)) * cg + (int)((i / kk) % cg);
            delta += ((double)wr[i] - w[i]) * mu[ch];
        }
        double bref = (double)b[o] - (want ? delta : 0.0);
        double err_o = fabs((isnan(bq[o]) ? 0.0 : bq[o]) - bref);
        /* the int32 bias rounds to half a step of its scale */
        double tol = isnan(bs[o]) ? 1e-7 : 0.5 * bs[o] * (1 + 1e-5) + 1e-6 * fabs(bref);
        worst = fmax(worst, err_o / tol);
        delta_max = fmax(delta_max, fabs(delta));
        half_max = fmax(half_max, isnan(bs[o]) ? 0 : 0.5 * bs[o]);
        bc[o] = isnan(bq[o]) ? 0.0f : (float)bq[o];
    }
    CHECK_MSG(bad_w == 0, "%s: %d weights differ from the reference quantization", c->label, bad_w);
    CHECK_MSG(worst <= 1.0, "%s: corrected bias off by %.3g times the int32 rounding", c->label,
              worst);
    /* The correction is far above the int32 rounding: the comparison above can fail. */
    CHECK_MSG(delta_max > 20 * half_max, "%s: correction %.3g vs rounding %.3g", c->label,
              delta_max, half_max);
    /* Weight-only quantization's mean output error per channel, on held-out data. */
    conv_ref(c, held->data, w, b, yf);
    conv_ref(c, held->data, wq, b, yw);
    conv_ref(c, held->data, wq, bc, yc);
    double e_w = 0, e_c = 0;
    int64_t per = (int64_t)HELD * ho * ho;
    for (int o = 0; o < c->cout; o++) {
        double sw = 0, sc = 0;
        for (int n = 0; n < HELD; n++)
            for (int i = 0; i < ho * ho; i++) {
                int64_t j = ((int64_t)n * c->cout + o) * ho * ho + i;
                sw += yw[j] - yf[j];
                sc += yc[j] - yf[j];
            }
        e_w += fabs(sw / (double)per) / c->cout;
        e_c += fabs(sc / (double)per) / c->cout;
    }
    printf("%-34s mean |error| per channel: %.3e uncorrected, %.3e corrected (%.1f%%)\n",
           c->label, e_w, e_c, 100 * e_c / e_w);
    CHECK_MSG(e_w > 1e-3, "%s: the uncorrected error %.3g is too small to test", c->label, e_w);
    if (want)
        CHECK_MSG(e_c <= c->max_ratio * e_w, "%s: error %.3g corrected vs %.3g", c->label, e_c,
                  e_w);
    else
        CHECK_MSG(fabs(e_c - e_w) <= 0.05 * e_w, "%s: bias changed (%.3g vs %.3g)", c->label, e_c,
                  e_w);
done:
    lcv_quant_report_free(r);
    lcv_compress_free_buffer(out);
    free(model);
    for (int k = 0; k < N_CALIB; k++) lcv_tensor_free(s.b[k]);
    lcv_tensor_free(held);
    free(w), free(b), free(wq), free(wr), free(bq), free(bs), free(yf), free(yw), free(yc);
    free(mu), free(bc);
}

int main(void) {
    static const lcase cases[] = {
        /* label, gemm, transB, cin, cout, k, pad, groups, hw, bias, per tensor, alpha, ratio */
        {"conv 3x3 pad 1, bias, per channel", false, false, 4, 6, 3, 1, 1, 8, true, false, 1, 0.35},
        {"conv 3x3 pad 1, bias, per tensor", false, false, 4, 6, 3, 1, 1, 8, true, true, 1, 0.35},
        {"depthwise x2, no bias, per tensor", false, false, 6, 12, 3, 0, 6, 7, false, true, 1, 0.1},
        {"grouped 1x1, bias, per channel", false, false, 8, 4, 1, 0, 2, 5, true, false, 1, 0.1},
        {"gemm transB, no C, per channel", true, true, 24, 5, 1, 0, 1, 1, false, false, 1, 0.15},
        {"gemm, C, per tensor", true, false, 24, 7, 1, 0, 1, 1, true, true, 1, 0.15},
        {"gemm alpha 0.5 (left alone)", true, true, 24, 5, 1, 0, 1, 1, true, true, 0.5f, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) run_case(&cases[k]);
    return lcv_test_finish("test_biascorr");
}
