/* equalize.c - cross-layer equalization of a float graph before quantization (Nagel et al.
 * 2019, "Data-Free Quantization Through Weight Equalization and Bias Correction", Sec. 4.1):
 * for layer pairs L1 -> [Relu | nothing] -> L2, scaling L1's output channel i by 1/s_i and
 * L2's input channel i by s_i leaves the function unchanged (Relu is positively homogeneous),
 * and s_i = sqrt(r1_i / r2_i) makes both channels' weight ranges equal, so per-tensor scales
 * waste fewer levels on channels of small range. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../passes/passes.h"
#include "compress.h"

/* The weights (or bias entries) of one channel of a layer: channel i holds the elements
 * base(i) + a * sa + b for a < na, b < nb, base(i) = (i / cg) * gstride + (i % cg) * cstride
 * (cg: channels per group, which only a grouped Conv's input side has fewer of than all). */
typedef struct chview {
    float *w; /* borrowed: the graph's constant */
    int64_t cg, gstride, cstride, na, sa, nb;
} chview;

static float ch_max(const chview *v, int64_t i) {
    const float *p = v->w + (i / v->cg) * v->gstride + (i % v->cg) * v->cstride;
    float m = 0;
    for (int64_t a = 0; a < v->na; a++)
        for (int64_t b = 0; b < v->nb; b++) m = fmaxf(m, fabsf(p[a * v->sa + b]));
    return m;
}

static void ch_scale(const chview *v, int64_t i, float f) {
    float *p = v->w + (i / v->cg) * v->gstride + (i % v->cg) * v->cstride;
    for (int64_t a = 0; a < v->na; a++)
        for (int64_t b = 0; b < v->nb; b++) p[a * v->sa + b] *= f;
}

typedef struct cle_pair {
    chview out1, bias1, in2; /* bias1.w NULL: L1 has no bias */
    int64_t chan;
    int link; /* the Clip(0, 6) node between them (to become Relu), or -1 */
} cle_pair;

static bool is_op(const lcv_node *n, const char *op) {
    return strcmp(n->op_type, op) == 0 && (!n->domain[0] || strcmp(n->domain, "ai.onnx") == 0);
}

/* Constant float32 input k of node n that no other node reads (scaling it in place must not
 * change another layer), or NULL. */
static lcv_tensor *own_const(const lcv_graph *g, const lcv_pass_uses *u, const lcv_node *n,
                             int k) {
    int v = k < n->n_in ? n->in[k] : -1;
    if (v < 0 || u->count[v] != 1 || g->values[v].is_output) return NULL;
    lcv_tensor *t = g->values[v].init;
    return t && t->dtype == LCV_DTYPE_FLOAT32 && t->data ? t : NULL;
}

/* The output channels of L1 (Conv or Gemm) and its bias; false when it does not qualify. */
static bool first_layer(const lcv_graph *g, const lcv_pass_uses *u, const lcv_node *n,
                        cle_pair *p) {
    lcv_tensor *w = own_const(g, u, n, 1), *b = own_const(g, u, n, 2);
    bool has_b = n->n_in > 2 && n->in[2] >= 0;
    if (!w || (has_b && !b) || n->n_out != 1) return false;
    memset(&p->bias1, 0, sizeof p->bias1);
    if (is_op(n, "Conv") && w->ndim >= 3) {
        p->chan = w->dims[0];
        p->out1 = (chview){w->data, p->chan, 0, lcv_tensor_count(w) / p->chan, 1, 0, 0};
        p->out1.nb = p->out1.cstride;
        if (b && (b->ndim != 1 || b->dims[0] != p->chan)) return false;
        if (b) p->bias1 = (chview){b->data, p->chan, 0, 1, 1, 0, 1};
        return true;
    }
    if (!is_op(n, "Gemm") || w->ndim != 2) return false;
    bool tb = lcv_attr_int(n, "transB", 0) != 0;
    int64_t k = w->dims[tb ? 1 : 0];
    p->chan = w->dims[tb ? 0 : 1];
    /* W [N, K]: row i; W [K, N]: column i. */
    p->out1 = tb ? (chview){w->data, p->chan, 0, k, 1, 0, k}
                 : (chview){w->data, p->chan, 0, 1, k, p->chan, 1};
    if (b) { /* C broadcast over rows: its last dim must be the channels */
        if (b->ndim < 1 || b->dims[b->ndim - 1] != p->chan) return false;
        p->bias1 = (chview){b->data, p->chan, 0, 1, lcv_tensor_count(b) / p->chan, p->chan, 1};
    }
    return true;
}

/* The input channels of L2 reading L1's channels (same op as L1); false when it does not
 * qualify. */
static bool second_layer(const lcv_graph *g, const lcv_pass_uses *u, const lcv_node *n,
                         bool conv1, cle_pair *p) {
    lcv_tensor *w = own_const(g, u, n, 1);
    if (!w) return false;
    if (conv1 && is_op(n, "Conv") && w->ndim >= 3) {
        int64_t groups = lcv_attr_int(n, "group", 1), cg = w->dims[1];
        if (groups < 1 || w->dims[0] % groups != 0 || cg * groups != p->chan) return false;
        int64_t ksz = lcv_tensor_count(w) / (w->dims[0] * cg), mg = w->dims[0] / groups;
        /* Input channel i is index i % cg of the filters of output channels of group i / cg. */
        p->in2 = (chview){w->data, cg, mg * cg * ksz, ksz, mg, cg * ksz, ksz};
        return true;
    }
    if (conv1 || !is_op(n, "Gemm") || w->ndim != 2 || lcv_attr_int(n, "transA", 0) != 0)
        return false;
    bool tb = lcv_attr_int(n, "transB", 0) != 0;
    int64_t nout = w->dims[tb ? 0 : 1];
    if (w->dims[tb ? 1 : 0] != p->chan) return false;
    /* W [K, N]: row i; W [N, K]: column i. */
    p->in2 = tb ? (chview){w->data, p->chan, 0, 1, nout, p->chan, 1}
                : (chview){w->data, p->chan, 0, nout, 1, 0, nout};
    return true;
}

/* Kind of link node n: 0 not one, 1 Relu (or Clip with min 0 and no max), 2 Clip(0, 6). */
static int link_kind(const lcv_graph *g, const lcv_node *n) {
    if (is_op(n, "Relu") && n->n_in == 1) return 1;
    if (!is_op(n, "Clip") || n->n_in < 1) return 0;
    float lo = -INFINITY, hi = INFINITY;
    if (n->opset < 11) {
        if (n->n_in > 1) return 0;
        lo = lcv_attr_float(n, "min", -INFINITY);
        hi = lcv_attr_float(n, "max", INFINITY);
    } else {
        if (n->n_in > 1 && n->in[1] >= 0 && !lcv_pass_const_scalar(g, n->in[1], &lo)) return 0;
        if (n->n_in > 2 && n->in[2] >= 0 && !lcv_pass_const_scalar(g, n->in[2], &hi)) return 0;
    }
    if (lo != 0.0f) return 0;
    return isinf(hi) && hi > 0 ? 1 : hi == 6.0f ? 2 : 0;
}

/* The pair starting at node i, if any; counts skipped ReLU6 links. */
static bool find_pair(const lcv_graph *g, const lcv_pass_uses *u, int i, bool relu6,
                      cle_pair *p, lcv_cle_stats *st) {
    const lcv_node *n1 = &g->nodes[i];
    if (!first_layer(g, u, n1, p)) return false;
    p->link = -1;
    int j = lcv_pass_sole_consumer(g, u, n1->out[0]);
    if (j < 0) return false;
    int kind = link_kind(g, &g->nodes[j]);
    if (kind) {
        if (g->nodes[j].n_out != 1) return false;
        int k = lcv_pass_sole_consumer(g, u, g->nodes[j].out[0]);
        if (k < 0 || g->nodes[k].in[0] != g->nodes[j].out[0] ||
            !second_layer(g, u, &g->nodes[k], is_op(n1, "Conv"), p))
            return false;
        if (kind == 2 && !relu6) {
            st->relu6_skipped++;
            return false;
        }
        if (kind == 2) p->link = j;
        return true;
    }
    return g->nodes[j].in[0] == n1->out[0] &&
           second_layer(g, u, &g->nodes[j], is_op(n1, "Conv"), p);
}

/* One round over every pair; *moved: some channel's scale differed from 1 by more than tol.
 * Scales are taken in double and applied in float, the weights' own precision. */
static void equalize_round(cle_pair *pairs, int n, double tol, bool *moved) {
    *moved = false;
    for (int k = 0; k < n; k++) {
        const cle_pair *p = &pairs[k];
        for (int64_t i = 0; i < p->chan; i++) {
            double r1 = ch_max(&p->out1, i), r2 = ch_max(&p->in2, i);
            if (!(r1 > 0) || !(r2 > 0) || !isfinite(r1) || !isfinite(r2)) continue;
            double s = sqrt(r1 / r2);
            if (fabs(s - 1.0) <= tol) continue;
            *moved = true;
            ch_scale(&p->out1, i, (float)(1.0 / s));
            if (p->bias1.w) ch_scale(&p->bias1, i, (float)(1.0 / s));
            ch_scale(&p->in2, i, (float)s);
        }
    }
}

lcv_status lcv_cle_equalize(lcv_graph *g, bool relu6, int max_rounds, lcv_cle_stats *stats,
                            lcv_err *e) {
    lcv_cle_stats st;
    memset(&st, 0, sizeof st);
    lcv_pass_uses u;
    lcv_status rc = lcv_pass_uses_build(g, &u, e);
    if (rc != LCV_OK) return rc;
    cle_pair *pairs = calloc((size_t)g->n_nodes + 1, sizeof *pairs);
    if (!pairs) rc = lcv_fail(e, LCV_ERR_NOMEM, "out of memory equalizing");
    int n = 0;
    for (int i = 0; rc == LCV_OK && i < g->n_nodes; i++)
        if (find_pair(g, &u, i, relu6, &pairs[n], &st)) n++;
    lcv_pass_uses_free(&u);
    for (int k = 0; rc == LCV_OK && k < n; k++) {
        if (pairs[k].link < 0) continue;
        /* ReLU6 is not homogeneous; as the paper does for MobileNetV2, it becomes Relu. */
        lcv_node *c = &g->nodes[pairs[k].link];
        rc = lcv_pass_retype(c, "Relu", LCV_OP_Relu, 6, e);
        if (rc != LCV_OK) break;
        c->n_in = 1;
        st.relu6_replaced++;
    }
    bool moved = true;
    for (int r = 0; rc == LCV_OK && moved && r < max_rounds; r++) {
        equalize_round(pairs, n, 1e-5, &moved);
        st.rounds++;
    }
    st.pairs = n;
    free(pairs);
    if (stats) *stats = st;
    return rc;
}
