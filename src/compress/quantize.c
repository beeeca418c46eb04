/* quantize.c - post-training static quantization, the driver: prepares (and, when asked,
 * equalizes) the float graph, runs it over the caller's calibration batches with the
 * quantized nodes' activation inputs exposed as outputs (ranges and channel means, then
 * histograms for the histogram calibrators), measures each layer's sensitivity when asked (or
 * to pick the layers --keep-float keeps), and writes the QDQ model. */
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../frontends/onnx/onnx.h"
#include "compress.h"

lcv_quantize_params lcv_quantize_default_params(void) {
    lcv_quantize_params p;
    memset(&p, 0, sizeof p);
    p.method = LCV_CALIB_MINMAX;
    p.percentile = 99.99;
    p.bins = 2048;
    return p;
}

void lcv_compress_free_buffer(void *p) { free(p); }

void lcv_quant_report_free(lcv_quant_report *r) {
    if (!r) return;
    for (int i = 0; r->layers && i < r->n_layers; i++) free((char *)r->layers[i].name);
    free(r->layers);
    free(r);
}

typedef struct qctx {
    const lcv_quantize_params *p;
    const lcv_calib_source *src;
    lcv_err *e;
    void *prep;        /* the prepared float graph, serialized (owned) */
    size_t prep_size;
    lcv_graph *g;      /* a fresh import of prep, whose value ids the sites use (owned) */
    lcv_qsite *sites;  /* owned */
    int n_sites;
    int *acts, n_acts; /* distinct activation value ids (owned) */
    int *act_of;       /* per site: index into acts (owned) */
    lcv_hist *hist;    /* per activation (owned) */
    lcv_chan_mean *mean; /* per activation, for bias correction (owned) */
    bool *want_mean;   /* per activation: read by a weighted site (owned) */
    lcv_cle_stats cle;
    int pass, n_passes;
    int64_t samples;
    int64_t in_dims[LCV_MAX_DIMS];
    int in_ndim;
} qctx;

static lcv_status fresh_graph(qctx *c, lcv_graph **g) {
    return lcv_onnx_import(c->prep, c->prep_size, NULL, 0, g, c->e);
}

/* Loads g with the values extra[] exposed as outputs after its own. *m: caller frees. */
static lcv_status load_exposed(qctx *c, lcv_graph *g, const int *extra, int n, lcv_model **m) {
    void *data = NULL;
    size_t size = 0;
    *m = NULL;
    lcv_status st = lcv_qdq_write_with_outputs(g, extra, n, &data, &size, c->e);
    if (st != LCV_OK) return st;
    st = lcv_model_load_buffer(data, size, NULL, m);
    free(data);
    if (st != LCV_OK) {
        lcv_fail(c->e, st, "loading the calibration graph: %s",
                 *m ? lcv_model_errmsg(*m) : "out of memory");
        lcv_model_free(*m);
        *m = NULL;
    }
    return st;
}

static lcv_status run(qctx *c, lcv_session *s, const lcv_model *m, const lcv_tensor *x) {
    const char *name = lcv_model_input_name(m, 0);
    lcv_status st = lcv_session_run(s, 1, &name, &x);
    if (st != LCV_OK) lcv_fail(c->e, st, "calibration run: %s", lcv_session_errmsg(s));
    return st;
}

/* The batch's shape must fit the model input's declared one (dynamic dims anything). */
static lcv_status check_batch(qctx *c, const lcv_tensor *x, int64_t index) {
    char want[128], got[128];
    int64_t dims[LCV_MAX_DIMS];
    /* An input of unknown rank takes any float32 batch. */
    bool ok = lcv_tensor_dtype(x) == LCV_DTYPE_FLOAT32 &&
              (c->in_ndim < 0 || lcv_tensor_ndim(x) == c->in_ndim);
    for (int d = 0; d < lcv_tensor_ndim(x); d++) {
        dims[d] = lcv_tensor_dim(x, d);
        if (ok && c->in_ndim >= 0 && c->in_dims[d] >= 0 && c->in_dims[d] != dims[d]) ok = false;
    }
    if (ok) return LCV_OK;
    if (c->in_ndim >= 0)
        lcv_shape_str(c->in_ndim, c->in_dims, want, sizeof want);
    else
        snprintf(want, sizeof want, "of any shape");
    lcv_shape_str(lcv_tensor_ndim(x), dims, got, sizeof got);
    return lcv_fail(c->e, LCV_ERR_SHAPE, "calibration batch %lld: %s %s does not fit the model "
                    "input (float32 %s, -1 any)", (long long)index,
                    lcv_dtype_name(lcv_tensor_dtype(x)), got, want);
}

typedef lcv_status (*batch_fn)(qctx *c, const lcv_tensor *x, void *arg);

/* One pass over the calibration data, calling fn on each batch. */
static lcv_status data_pass(qctx *c, const char *what, batch_fn fn, void *arg) {
    char msg[256] = "";
    c->pass++;
    if (c->src->rewind(c->src->user, msg, sizeof msg) != LCV_OK)
        return lcv_fail(c->e, LCV_ERR_IO, "calibration data: %s", msg);
    int64_t samples = 0, index = 0;
    for (;; index++) {
        const lcv_tensor *x = NULL;
        if (c->src->next(c->src->user, &x, msg, sizeof msg) != LCV_OK)
            return lcv_fail(c->e, LCV_ERR_IO, "calibration data: %s", msg);
        if (!x) break;
        lcv_status st = check_batch(c, x, index);
        if (st == LCV_OK) st = fn(c, x, arg);
        if (st != LCV_OK) return st;
        samples += lcv_tensor_ndim(x) > 0 ? lcv_tensor_dim(x, 0) : 1;
        if (c->src->progress)
            c->src->progress(c->src->user, c->pass, c->n_passes, what, samples);
    }
    if (samples == 0)
        return lcv_fail(c->e, LCV_ERR_INVALID_ARG, "calibration data is empty");
    c->samples = samples;
    return LCV_OK;
}

/* ---- statistics of the activations ---- */

typedef struct stat_run {
    lcv_model *m;
    lcv_session *s;
    int *slot; /* per activation: output index, or -1 for the graph input */
    bool hist;
} stat_run;

static lcv_status stat_batch(qctx *c, const lcv_tensor *x, void *arg) {
    stat_run *r = arg;
    lcv_status st = run(c, r->s, r->m, x);
    for (int a = 0; a < c->n_acts && st == LCV_OK; a++) {
        const lcv_tensor *t = r->slot[a] < 0 ? x : lcv_session_output(r->s, r->slot[a]);
        const float *d = lcv_tensor_cdata(t);
        if (r->hist)
            lcv_hist_add(&c->hist[a], d, lcv_tensor_numel(t));
        else
            lcv_hist_range(&c->hist[a], d, lcv_tensor_numel(t));
        if (!r->hist && c->want_mean[a]) st = lcv_chan_mean_add(&c->mean[a], t, c->e);
    }
    return st;
}

static lcv_status collect_stats(qctx *c) {
    stat_run r = {NULL, NULL, NULL, false};
    int n0 = c->g->n_outputs, *extra = calloc((size_t)c->n_acts + 1, sizeof(int)), n_extra = 0;
    r.slot = calloc((size_t)c->n_acts + 1, sizeof(int));
    lcv_status st = extra && r.slot ? LCV_OK : lcv_fail(c->e, LCV_ERR_NOMEM, "out of memory");
    for (int a = 0; a < c->n_acts && st == LCV_OK; a++) {
        const lcv_value *v = &c->g->values[c->acts[a]];
        r.slot[a] = -1;
        if (v->is_input) continue;
        for (int k = 0; k < n0; k++)
            if (c->g->outputs[k] == c->acts[a]) r.slot[a] = k;
        if (r.slot[a] < 0) {
            r.slot[a] = n0 + n_extra;
            extra[n_extra++] = c->acts[a];
        }
    }
    if (st == LCV_OK) st = load_exposed(c, c->g, extra, n_extra, &r.m);
    lcv_session_params sp = lcv_session_default_params();
    sp.threads = c->p->threads;
    if (st == LCV_OK && lcv_session_create(r.m, &sp, &r.s) != LCV_OK)
        st = lcv_fail(c->e, LCV_ERR_NOMEM, "out of memory creating a session");
    if (st == LCV_OK) st = data_pass(c, "ranges", stat_batch, &r);
    for (int a = 0; a < c->n_acts && st == LCV_OK; a++) lcv_chan_mean_finish(&c->mean[a]);
    for (int k = 0; k < c->n_sites && st == LCV_OK; k++) {
        c->sites[k].mean = c->mean[c->act_of[k]].sum;
        c->sites[k].n_mean = c->mean[c->act_of[k]].n;
    }
    if (st == LCV_OK && c->p->method != LCV_CALIB_MINMAX) {
        for (int a = 0; a < c->n_acts; a++)
            c->hist[a].amax = fmax(fabs((double)c->hist[a].lo), fabs((double)c->hist[a].hi));
        r.hist = true;
        st = data_pass(c, "histograms", stat_batch, &r);
    }
    lcv_session_free(r.s);
    lcv_model_free(r.m);
    free(r.slot);
    free(extra);
    return st;
}

/* The range of activation a by the chosen calibrator. */
static void act_range(const qctx *c, int a, float *lo, float *hi) {
    const lcv_hist *h = &c->hist[a];
    *lo = h->lo;
    *hi = h->hi;
    if (!(h->lo <= h->hi)) { /* nothing finite was seen */
        *lo = *hi = 0;
        return;
    }
    double t;
    bool sym = c->p->int8_activations != 0;
    int levels = !sym && h->lo >= 0 ? 256 : 128;
    switch (c->p->method) {
    case LCV_CALIB_PERCENTILE: t = lcv_calib_percentile(h->count, h->n, h->amax, c->p->percentile); break;
    case LCV_CALIB_ENTROPY: t = lcv_calib_entropy(h->count, h->n, h->amax, levels); break;
    case LCV_CALIB_MSE: t = lcv_calib_mse(h->count, h->n, h->amax, levels); break;
    default: return;
    }
    if (*lo < -t) *lo = (float)-t;
    if (*hi > t) *hi = (float)t;
}

/* ---- sensitivity ---- */

typedef struct cmp_acc {
    double sig, noise;
    int64_t agree, rows;
} cmp_acc;

static void cmp_add(cmp_acc *a, const lcv_tensor *ref, const lcv_tensor *q) {
    if (!ref || !q || lcv_tensor_dtype(ref) != LCV_DTYPE_FLOAT32 ||
        lcv_tensor_dtype(q) != LCV_DTYPE_FLOAT32 || lcv_tensor_numel(ref) != lcv_tensor_numel(q))
        return;
    const float *r = lcv_tensor_cdata(ref), *y = lcv_tensor_cdata(q);
    int64_t n = lcv_tensor_numel(ref);
    for (int64_t i = 0; i < n; i++) {
        double d = (double)r[i] - y[i];
        a->sig += (double)r[i] * r[i];
        a->noise += d * d;
    }
    int nd = lcv_tensor_ndim(ref);
    int64_t cols = nd >= 1 ? lcv_tensor_dim(ref, nd - 1) : 1;
    if (nd != 2 || cols < 2) return;
    for (int64_t row = 0; row < n / cols; row++) {
        int64_t br = 0, bq = 0;
        for (int64_t k = 1; k < cols; k++) {
            if (r[row * cols + k] > r[row * cols + br]) br = k;
            if (y[row * cols + k] > y[row * cols + bq]) bq = k;
        }
        a->agree += br == bq;
        a->rows++;
    }
}

static double cmp_sqnr(const cmp_acc *a) {
    if (!(a->sig > 0)) return NAN;
    return a->noise > 0 ? 10.0 * log10(a->sig / a->noise) : INFINITY;
}

static double cmp_top1(const cmp_acc *a) { return a->rows ? 100.0 * a->agree / a->rows : NAN; }

/* Models compared against the float one on the same batches: model 0 is fp32. */
typedef struct cmp_run {
    int n;            /* models */
    lcv_model **m;    /* owned */
    lcv_session **s;  /* owned */
    const int *slot;  /* per site: its output's index in models 0 and 1 (borrowed) */
    int n_sites;
    cmp_acc *out;     /* per model: its first output vs model 0's */
    cmp_acc *layer;   /* per site: its output in model 1 vs model 0 */
} cmp_run;

static lcv_status cmp_batch(qctx *c, const lcv_tensor *x, void *arg) {
    cmp_run *r = arg;
    lcv_status st = LCV_OK;
    for (int k = 0; k < r->n && st == LCV_OK; k++) st = run(c, r->s[k], r->m[k], x);
    for (int k = 1; k < r->n && st == LCV_OK; k++)
        cmp_add(&r->out[k], lcv_session_output(r->s[0], 0), lcv_session_output(r->s[k], 0));
    for (int j = 0; r->slot && j < r->n_sites && st == LCV_OK; j++)
        cmp_add(&r->layer[j], lcv_session_output(r->s[0], r->slot[j]),
                lcv_session_output(r->s[1], r->slot[j]));
    return st;
}

/* Model of a comparison: the prepared graph with the sites of on[] quantized (on NULL:
 * float), with the sites' outputs exposed when slot (per site: the output index) is given. */
static lcv_status cmp_model(qctx *c, const bool *on, const float *lo, const float *hi,
                            int *slot, lcv_model **m) {
    lcv_graph *g = NULL;
    int *extra = calloc((size_t)c->n_sites + 1, sizeof(int)), n_extra = 0;
    lcv_status st = extra ? fresh_graph(c, &g) : lcv_fail(c->e, LCV_ERR_NOMEM, "out of memory");
    /* Value ids survive the rewrite (node indices do not: it re-sorts). */
    for (int k = 0; st == LCV_OK && slot && k < c->n_sites; k++) {
        int v = g->nodes[c->sites[k].node].out[0];
        slot[k] = -1;
        for (int o = 0; o < g->n_outputs; o++)
            if (g->outputs[o] == v) slot[k] = o;
        if (slot[k] < 0 && v >= 0) {
            slot[k] = g->n_outputs + n_extra;
            extra[n_extra++] = v;
        }
    }
    if (st == LCV_OK && on) st = lcv_qdq_rewrite(g, c->sites, c->n_sites, on, lo, hi, c->p, c->e);
    if (st == LCV_OK) st = load_exposed(c, g, extra, n_extra, m);
    lcv_graph_free(g);
    free(extra);
    return st;
}

static lcv_status cmp_start(qctx *c, cmp_run *r, int n) {
    memset(r, 0, sizeof *r);
    r->m = calloc((size_t)n, sizeof *r->m);
    r->s = calloc((size_t)n, sizeof *r->s);
    r->out = calloc((size_t)n, sizeof *r->out);
    r->layer = calloc((size_t)c->n_sites + 1, sizeof *r->layer);
    r->n = n;
    r->n_sites = c->n_sites;
    if (!r->m || !r->s || !r->out || !r->layer)
        return lcv_fail(c->e, LCV_ERR_NOMEM, "out of memory");
    return LCV_OK;
}

static lcv_status cmp_sessions(qctx *c, cmp_run *r) {
    lcv_session_params sp = lcv_session_default_params();
    sp.threads = c->p->threads;
    for (int k = 0; k < r->n; k++)
        if (lcv_session_create(r->m[k], &sp, &r->s[k]) != LCV_OK)
            return lcv_fail(c->e, LCV_ERR_NOMEM, "out of memory creating a session");
    return LCV_OK;
}

static void cmp_free(cmp_run *r) {
    for (int k = 0; k < r->n; k++) {
        if (r->s) lcv_session_free(r->s[k]);
        if (r->m) lcv_model_free(r->m[k]);
    }
    free(r->s);
    free(r->m);
    free(r->out);
    free(r->layer);
}

/* Models held at once by a sensitivity pass: as many as fit about 1 GiB, each taken as twice
 * the prepared file (weights plus packed copies), at least one. */
static int sens_group(const qctx *c) {
    size_t per = 2 * c->prep_size + 1, fit = ((size_t)1 << 30) / per;
    return fit < 1 ? 1 : fit > (size_t)c->n_sites ? (c->n_sites > 0 ? c->n_sites : 1) : (int)fit;
}

/* The end-to-end effect of quantizing each site alone (of those on), a group of sites per
 * data pass: model j+1 of a pass has site idx[j] quantized, model 0 none. Fills
 * alone_sqnr_db / alone_top1 (NaN for sites kept in float). */
static lcv_status sensitivity(qctx *c, const bool *on, const float *lo, const float *hi,
                              lcv_quant_layer *layers) {
    int group = sens_group(c), *idx = calloc((size_t)group, sizeof(int));
    bool *one = calloc((size_t)c->n_sites + 1, sizeof *one);
    lcv_status st = idx && one ? LCV_OK : lcv_fail(c->e, LCV_ERR_NOMEM, "out of memory");
    for (int k0 = 0; k0 < c->n_sites && st == LCV_OK; k0 += group) {
        int n = 0;
        for (int k = k0; k < c->n_sites && k < k0 + group; k++)
            if (on[k]) idx[n++] = k;
        cmp_run r;
        st = cmp_start(c, &r, n + 1);
        if (st == LCV_OK) st = cmp_model(c, NULL, lo, hi, NULL, &r.m[0]);
        for (int j = 0; j < n && st == LCV_OK; j++) {
            memset(one, 0, sizeof *one * (size_t)c->n_sites);
            one[idx[j]] = true;
            st = cmp_model(c, one, lo, hi, NULL, &r.m[j + 1]);
        }
        if (st == LCV_OK) st = cmp_sessions(c, &r);
        if (st == LCV_OK) st = data_pass(c, "sensitivity", cmp_batch, &r);
        for (int j = 0; j < n && st == LCV_OK; j++) {
            layers[idx[j]].alone_sqnr_db = cmp_sqnr(&r.out[j + 1]);
            layers[idx[j]].alone_top1 = cmp_top1(&r.out[j + 1]);
        }
        cmp_free(&r);
    }
    free(idx);
    free(one);
    return st;
}

/* The written model against the float one: per-layer output SQNR and the model's. */
static lcv_status check_final(qctx *c, const bool *on, const float *lo, const float *hi,
                              lcv_quant_report *rep) {
    cmp_run r;
    int *slot0 = calloc((size_t)c->n_sites + 1, sizeof(int));
    int *slot1 = calloc((size_t)c->n_sites + 1, sizeof(int));
    lcv_status st = cmp_start(c, &r, 2);
    if (st == LCV_OK && (!slot0 || !slot1)) st = lcv_fail(c->e, LCV_ERR_NOMEM, "out of memory");
    if (st == LCV_OK) st = cmp_model(c, NULL, lo, hi, slot0, &r.m[0]);
    if (st == LCV_OK) st = cmp_model(c, on, lo, hi, slot1, &r.m[1]);
    for (int k = 0; k < c->n_sites && st == LCV_OK; k++)
        if (slot0[k] != slot1[k]) st = lcv_fail(c->e, LCV_ERR_INTERNAL, "layer outputs differ");
    r.slot = slot0;
    if (st == LCV_OK) st = cmp_sessions(c, &r);
    if (st == LCV_OK) st = data_pass(c, "check", cmp_batch, &r);
    for (int k = 0; k < c->n_sites && st == LCV_OK; k++)
        rep->layers[k].sqnr_db = slot0[k] >= 0 ? cmp_sqnr(&r.layer[k]) : NAN;
    if (st == LCV_OK) {
        rep->model_sqnr_db = cmp_sqnr(&r.out[1]);
        rep->model_top1 = cmp_top1(&r.out[1]);
    }
    cmp_free(&r);
    free(slot0);
    free(slot1);
    return st;
}

/* Marks the keep_float most sensitive quantized sites (lowest alone SQNR) off. */
static void keep_most_sensitive(qctx *c, bool *on, const lcv_quant_layer *layers) {
    for (int round = 0; round < c->p->keep_float; round++) {
        int worst = -1;
        for (int k = 0; k < c->n_sites; k++) {
            if (!on[k]) continue;
            double s = layers[k].alone_sqnr_db;
            if (s != s) s = -INFINITY; /* no signal: treat as most sensitive */
            double w = worst < 0 ? INFINITY : layers[worst].alone_sqnr_db;
            if (w != w) w = -INFINITY;
            if (worst < 0 || s < w) worst = k;
        }
        if (worst < 0) return;
        on[worst] = false;
    }
}

static lcv_status check_params(const lcv_quantize_params *p, lcv_err *e) {
    if (p->method < LCV_CALIB_MINMAX || p->method > LCV_CALIB_MSE)
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "unknown calibration method %d", (int)p->method);
    if (!(p->percentile > 0 && p->percentile <= 100))
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "percentile %g is outside (0, 100]", p->percentile);
    if (p->bins < 256 || p->bins > (1 << 20))
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "histogram bins %d outside [256, 1048576]", p->bins);
    if (p->keep_float < 0 || p->n_patterns < 0 || (p->n_patterns > 0 && !p->keep_float_patterns))
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "keep_float %d / %d patterns are invalid",
                        p->keep_float, p->n_patterns);
    for (int k = 0; k < p->n_patterns; k++)
        if (!p->keep_float_patterns[k])
            return lcv_fail(e, LCV_ERR_INVALID_ARG, "keep-float pattern %d is NULL", k);
    return LCV_OK;
}

static lcv_status setup(qctx *c, const void *data, size_t size) {
    lcv_graph *pg = NULL;
    lcv_status st = lcv_qdq_prepare(data, size, &pg, c->e);
    /* Equalization rewrites the float model every later step starts from. */
    if (st == LCV_OK && (c->p->equalize || c->p->equalize_relu6))
        st = lcv_cle_equalize(pg, c->p->equalize_relu6 != 0, 100, &c->cle, c->e);
    if (st == LCV_OK && pg->n_inputs != 1)
        st = lcv_fail(c->e, LCV_ERR_UNSUPPORTED, "the model has %d inputs; calibration feeds "
                      "models of one input", pg->n_inputs);
    if (st == LCV_OK) st = lcv_onnx_write_graph(pg, 0, &c->prep, &c->prep_size, c->e);
    lcv_graph_free(pg);
    if (st == LCV_OK) st = fresh_graph(c, &c->g);
    if (st == LCV_OK) st = lcv_qdq_check_opset(c->g, c->p, c->e);
    if (st == LCV_OK) st = lcv_qdq_sites(c->g, &c->sites, &c->n_sites, c->e);
    if (st != LCV_OK) return st;
    if (c->n_sites == 0)
        return lcv_fail(c->e, LCV_ERR_INVALID_ARG, "nothing to quantize: the model has no Conv, "
                        "Gemm or MatMul with a constant float32 weight and a float32 input");
    const lcv_value *in = &c->g->values[c->g->inputs[0]];
    c->in_ndim = in->ndim;
    for (int d = 0; d < in->ndim; d++) c->in_dims[d] = in->dims[d];
    c->acts = calloc((size_t)c->n_sites, sizeof(int));
    c->act_of = calloc((size_t)c->n_sites, sizeof(int));
    c->hist = calloc((size_t)c->n_sites, sizeof(lcv_hist));
    c->mean = calloc((size_t)c->n_sites, sizeof(lcv_chan_mean));
    c->want_mean = calloc((size_t)c->n_sites, sizeof(bool));
    if (!c->acts || !c->act_of || !c->hist || !c->mean || !c->want_mean)
        return lcv_fail(c->e, LCV_ERR_NOMEM, "out of memory");
    for (int k = 0; k < c->n_sites; k++) {
        int a = 0;
        while (a < c->n_acts && c->acts[a] != c->sites[k].x) a++;
        if (a == c->n_acts) {
            st = lcv_hist_init(&c->hist[a], c->p->bins, c->e);
            if (st != LCV_OK) return st;
            c->acts[c->n_acts++] = c->sites[k].x;
        }
        c->act_of[k] = a;
        c->want_mean[a] |= c->p->bias_correction && c->sites[k].weights;
    }
    return LCV_OK;
}

static void qctx_free(qctx *c) {
    for (int a = 0; c->hist && a < c->n_acts; a++) lcv_hist_free(&c->hist[a]);
    for (int a = 0; c->mean && a < c->n_acts; a++) lcv_chan_mean_free(&c->mean[a]);
    free(c->mean);
    free(c->want_mean);
    free(c->hist);
    free(c->acts);
    free(c->act_of);
    free(c->sites);
    lcv_graph_free(c->g);
    free(c->prep);
}

static lcv_status new_report(qctx *c, lcv_quant_report **out) {
    lcv_quant_report *r = *out = calloc(1, sizeof *r);
    if (!r || !(r->layers = calloc((size_t)c->n_sites, sizeof *r->layers)))
        return lcv_fail(c->e, LCV_ERR_NOMEM, "out of memory");
    r->n_layers = c->n_sites;
    r->model_sqnr_db = r->model_top1 = NAN;
    for (int k = 0; k < c->n_sites; k++) {
        lcv_quant_layer *l = &r->layers[k];
        const lcv_node *n = &c->g->nodes[c->sites[k].node];
        l->op_type = strcmp(n->op_type, "Conv") == 0   ? "Conv"
                     : strcmp(n->op_type, "Gemm") == 0 ? "Gemm"
                     : strcmp(n->op_type, "Add") == 0  ? "Add"
                     : strcmp(n->op_type, "MaxPool") == 0 ? "MaxPool"
                                                       : "MatMul";
        l->sqnr_db = l->alone_sqnr_db = l->alone_top1 = NAN;
        if (!(l->name = strdup(n->name))) return lcv_fail(c->e, LCV_ERR_NOMEM, "out of memory");
    }
    return LCV_OK;
}

/* A MaxPool input takes the range of the MaxPool's output where that is quantized too: max
 * commutes with a monotonic quantizer, so input and output then share one scale and zero point
 * (and the pooling runs on integers), and a clipping calibrator never clips the values the
 * pooling would have picked. */
static void share_pool_ranges(qctx *c, float *lo, float *hi) {
    for (int k = 0; k < c->n_sites; k++) {
        const lcv_node *n = &c->g->nodes[c->sites[k].node];
        if (c->sites[k].weights || strcmp(n->op_type, "MaxPool") != 0) continue;
        for (int j = 0; j < c->n_sites; j++)
            if (c->sites[j].x == n->out[0]) {
                lo[k] = lo[j];
                hi[k] = hi[j];
                break;
            }
    }
}

static lcv_status quantize(qctx *c, void **out, size_t *out_size, lcv_quant_report *rep) {
    const lcv_quantize_params *p = c->p;
    bool sens = p->report || p->keep_float > 0;
    int group = sens_group(c), n_sens = (c->n_sites + group - 1) / group;
    c->n_passes = 1 + (p->method != LCV_CALIB_MINMAX) + (sens ? n_sens : 0) + (p->report != 0);
    lcv_status st = collect_stats(c);
    float *lo = calloc((size_t)c->n_sites, sizeof(float));
    float *hi = calloc((size_t)c->n_sites, sizeof(float));
    bool *on = calloc((size_t)c->n_sites, sizeof(bool));
    if (st == LCV_OK && (!lo || !hi || !on)) st = lcv_fail(c->e, LCV_ERR_NOMEM, "out of memory");
    for (int k = 0; k < c->n_sites && st == LCV_OK; k++) {
        act_range(c, c->act_of[k], &lo[k], &hi[k]);
        on[k] = true;
        for (int j = 0; j < p->n_patterns; j++)
            if (fnmatch(p->keep_float_patterns[j], rep->layers[k].name, 0) == 0) on[k] = false;
    }
    if (st == LCV_OK) share_pool_ranges(c, lo, hi);
    if (st == LCV_OK && sens) st = sensitivity(c, on, lo, hi, rep->layers);
    if (st == LCV_OK) keep_most_sensitive(c, on, rep->layers);
    if (st == LCV_OK && p->report) st = check_final(c, on, lo, hi, rep);
    lcv_graph *g = NULL;
    if (st == LCV_OK) st = fresh_graph(c, &g);
    if (st == LCV_OK) st = lcv_qdq_rewrite(g, c->sites, c->n_sites, on, lo, hi, p, c->e);
    if (st == LCV_OK) st = lcv_onnx_write_graph(g, 0, out, out_size, c->e);
    lcv_graph_free(g);
    for (int k = 0; k < c->n_sites && st == LCV_OK; k++) {
        rep->layers[k].quantized = on[k];
        rep->layers[k].lo = lo[k];
        rep->layers[k].hi = hi[k];
        rep->layers[k].bias_corrected =
            on[k] && p->bias_correction && lcv_qdq_correctable(c->g, &c->sites[k]);
        rep->n_bias_corrected += rep->layers[k].bias_corrected;
    }
    rep->samples = c->samples;
    rep->n_equalized = c->cle.pairs;
    rep->equalize_rounds = c->cle.rounds;
    rep->n_relu6_replaced = c->cle.relu6_replaced;
    rep->n_relu6_skipped = c->cle.relu6_skipped;
    free(lo);
    free(hi);
    free(on);
    return st;
}

lcv_status lcv_quantize_model(const void *data, size_t size, const lcv_quantize_params *params,
                              const lcv_calib_source *src, void **out, size_t *out_size,
                              lcv_quant_report **report, char *errbuf, size_t errcap) {
    lcv_err err;
    err.msg[0] = '\0';
    if (out) *out = NULL;
    if (out_size) *out_size = 0;
    if (report) *report = NULL;
    lcv_quantize_params p = params ? *params : lcv_quantize_default_params();
    lcv_status st = LCV_OK;
    if (!data || !src || !src->next || !src->rewind || !out || !out_size)
        st = lcv_fail(&err, LCV_ERR_INVALID_ARG, "lcv_quantize_model: NULL argument");
    if (st == LCV_OK) st = check_params(&p, &err);
    qctx c;
    memset(&c, 0, sizeof c);
    c.p = &p;
    c.src = src;
    c.e = &err;
    lcv_quant_report *rep = NULL;
    if (st == LCV_OK) st = setup(&c, data, size);
    if (st == LCV_OK) st = new_report(&c, &rep);
    if (st == LCV_OK) st = quantize(&c, out, out_size, rep);
    qctx_free(&c);
    if (st != LCV_OK) {
        if (out && *out) free(*out);
        if (out) *out = NULL;
        if (out_size) *out_size = 0;
        lcv_quant_report_free(rep);
        if (errbuf && errcap) snprintf(errbuf, errcap, "%s", err.msg);
        return st;
    }
    if (report)
        *report = rep;
    else
        lcv_quant_report_free(rep);
    return LCV_OK;
}
