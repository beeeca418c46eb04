/* biascorr.c - bias correction for quantized weights (Nagel et al. 2019, "Data-Free
 * Quantization Through Weight Equalization and Bias Correction", Sec. 4.2): replacing a
 * layer's weight W by its dequantized Wq shifts the expected output of channel o by
 * sum (Wq - W)[o, k] E[x_k]; subtracting that from the bias makes the error zero-mean. E[x] is
 * measured per input channel on the calibration data rather than derived from BatchNorm. */
#include <stdlib.h>
#include <string.h>

#include "../ops/op.h"
#include "compress.h"

lcv_status lcv_chan_mean_add(lcv_chan_mean *m, const lcv_tensor *t, lcv_err *e) {
    if (t->dtype != LCV_DTYPE_FLOAT32 || t->ndim < 2 || !t->data) return LCV_OK;
    int64_t n0 = t->dims[0], ch = t->dims[1], numel = lcv_tensor_count(t);
    if (n0 <= 0 || ch <= 0 || numel <= 0) return LCV_OK;
    if (!m->sum) {
        /* ch is a dimension of a tensor the runtime already allocated: bounded by memory. */
        if (!(m->sum = calloc((size_t)ch, sizeof *m->sum)))
            return lcv_fail(e, LCV_ERR_NOMEM, "out of memory for channel means");
        m->n = ch;
    } else if (m->n != ch) {
        return lcv_fail(e, LCV_ERR_SHAPE, "channel means: %lld channels, earlier batches had "
                        "%lld", (long long)ch, (long long)m->n);
    }
    int64_t inner = numel / (n0 * ch);
    const float *x = t->data;
    for (int64_t a = 0; a < n0; a++)
        for (int64_t c = 0; c < ch; c++) {
            const float *p = x + (a * ch + c) * inner;
            double s = 0;
            for (int64_t b = 0; b < inner; b++) s += p[b];
            m->sum[c] += s;
        }
    m->count += (double)(n0 * inner);
    return LCV_OK;
}

void lcv_chan_mean_finish(lcv_chan_mean *m) {
    for (int64_t c = 0; m->sum && m->count > 0 && c < m->n; c++) m->sum[c] /= m->count;
}

void lcv_chan_mean_free(lcv_chan_mean *m) {
    free(m->sum);
    memset(m, 0, sizeof *m);
}

static bool is_op(const lcv_node *n, const char *op) {
    return strcmp(n->op_type, op) == 0 && (!n->domain[0] || strcmp(n->domain, "ai.onnx") == 0);
}

bool lcv_qdq_correctable(const lcv_graph *g, const lcv_qsite *s) {
    const lcv_node *n = &g->nodes[s->node];
    if (!s->weights || !s->mean || s->n_mean <= 0) return false;
    const lcv_tensor *w = g->values[n->in[1]].init;
    if (!w || w->dtype != LCV_DTYPE_FLOAT32 || w->ndim < 2) return false;
    /* A bias the rewrite would not quantize (computed, or broadcast over rows) stays as is. */
    if (n->n_in > 2 && n->in[2] >= 0 && !s->bias) return false;
    if (is_op(n, "Conv")) {
        int64_t groups = lcv_attr_int(n, "group", 1);
        return w->ndim >= 3 && groups >= 1 && w->dims[0] % groups == 0 &&
               w->dims[1] * groups == s->n_mean;
    }
    if (is_op(n, "Gemm")) {
        if (w->ndim != 2 || lcv_attr_int(n, "transA", 0) != 0 ||
            lcv_attr_float(n, "alpha", 1.0f) != 1.0f || lcv_attr_float(n, "beta", 1.0f) != 1.0f)
            return false;
        return w->dims[lcv_attr_int(n, "transB", 0) ? 1 : 0] == s->n_mean;
    }
    return false;
}

lcv_status lcv_bias_corrected(const lcv_graph *g, const lcv_qsite *s, const lcv_tensor *q,
                              const lcv_tensor *scale, int axis, lcv_tensor **out, lcv_err *e) {
    *out = NULL;
    const lcv_node *n = &g->nodes[s->node];
    const lcv_tensor *w = g->values[n->in[1]].init;
    const lcv_tensor *b = n->n_in > 2 && n->in[2] >= 0 ? g->values[n->in[2]].init : NULL;
    int64_t chan = w->dims[s->w_axis], numel = lcv_tensor_count(w);
    bool conv = is_op(n, "Conv"), trans_b = !conv && lcv_attr_int(n, "transB", 0) != 0;
    /* Conv: W [M, C/groups, k...]; Gemm: W [K, N], or [N, K] with transB. */
    int64_t groups = conv ? lcv_attr_int(n, "group", 1) : 1, cg = w->dims[1];
    int64_t ksz = conv ? numel / (w->dims[0] * cg) : 1, per_group = w->dims[0] / groups;
    double *delta = calloc((size_t)chan, sizeof *delta);
    if (!delta || lcv_tensor_create(LCV_DTYPE_FLOAT32, 1, &chan, out) != LCV_OK) {
        free(delta);
        return lcv_fail(e, LCV_ERR_NOMEM, "out of memory correcting the bias of '%s'", n->name);
    }
    const float *wf = w->data, *sc = scale->data;
    const int8_t *qi = q->data;
    for (int64_t i = 0; i < numel; i++) {
        int64_t o, k;
        if (conv) {
            o = i / (cg * ksz);
            k = (o / per_group) * cg + (i / ksz) % cg;
        } else if (trans_b) {
            o = i / w->dims[1];
            k = i % w->dims[1];
        } else {
            o = i % w->dims[1];
            k = i / w->dims[1];
        }
        /* DequantizeLinear's own arithmetic: (q - 0) * scale in float. */
        float wq = (float)qi[i] * sc[axis >= 0 ? o : 0];
        delta[o] += ((double)wq - (double)wf[i]) * s->mean[k];
    }
    float *y = (*out)->data;
    for (int64_t o = 0; o < chan; o++)
        y[o] = (float)((b ? (double)((const float *)b->data)[o] : 0.0) - delta[o]);
    free(delta);
    return LCV_OK;
}
