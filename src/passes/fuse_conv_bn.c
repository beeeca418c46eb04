/* fuse_conv_bn.c - folds an inference BatchNormalization that follows a Conv into the conv's
 * weights and bias: y = s * (conv(x) + b - mean) + beta with s = scale / sqrt(var + eps)
 * becomes conv with W' = W * s (per output channel) and b' = (b - mean) * s + beta. New
 * initializers are made; the old ones may be shared with other nodes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "passes.h"

/* The BN's per-channel scale s and shift t (y = s * x + t), or false if the BN cannot be
 * folded into a conv with m output channels. */
static bool bn_affine(const lcv_graph *g, const lcv_node *bn, int64_t m, double *s, double *t) {
    if (bn->n_in != 5 || lcv_attr_int(bn, "training_mode", 0) != 0) return false;
    if (bn->opset < 9 && lcv_attr_int(bn, "spatial", 1) != 1) return false;
    for (int k = 1; k < bn->n_out; k++)
        if (bn->out[k] >= 0) return false;
    const float *p[4];
    for (int k = 0; k < 4; k++) {
        int64_t n = 0;
        p[k] = lcv_pass_const_f32(g, bn->in[k + 1], &n);
        if (!p[k] || n != m || g->values[bn->in[k + 1]].init->ndim != 1) return false;
    }
    double eps = lcv_attr_float(bn, "epsilon", 1e-5f);
    for (int64_t c = 0; c < m; c++) {
        double var = (double)p[3][c] + eps;
        if (!(var > 0.0)) return false; /* keep the reference's NaN/Inf behaviour */
        s[c] = p[0][c] / sqrt(var);
        t[c] = p[1][c] - p[2][c] * s[c];
    }
    return true;
}

static lcv_status make_tensor(int ndim, const int64_t *dims, lcv_tensor **t, lcv_err *e) {
    if (lcv_tensor_create(LCV_DTYPE_FLOAT32, ndim, dims, t) != LCV_OK)
        return lcv_fail(e, LCV_ERR_NOMEM, "out of memory folding a BatchNormalization");
    return LCV_OK;
}

/* Rewrites conv ci's weights and bias with the BN's affine (s, t). */
static lcv_status fold(lcv_graph *g, int ci, const double *s, const double *t, lcv_err *e) {
    const lcv_tensor *w = g->values[g->nodes[ci].in[1]].init;
    int64_t m = w->dims[0], per = lcv_tensor_count(w) / (m ? m : 1);
    lcv_tensor *nw = NULL, *nb = NULL;
    lcv_status st = make_tensor(w->ndim, w->dims, &nw, e);
    if (st == LCV_OK) st = make_tensor(1, &m, &nb, e);
    if (st != LCV_OK) {
        lcv_tensor_free(nw);
        return st;
    }
    const float *pw = w->data;
    float *qw = nw->data, *qb = nb->data;
    const lcv_node *c = &g->nodes[ci];
    int64_t nbias = 0;
    const float *pb = c->n_in > 2 ? lcv_pass_const_f32(g, c->in[2], &nbias) : NULL;
    for (int64_t o = 0; o < m; o++) {
        for (int64_t k = 0; k < per; k++) qw[o * per + k] = (float)(pw[o * per + k] * s[o]);
        qb[o] = (float)((pb ? pb[o] : 0.0) * s[o] + t[o]);
    }
    char *base = g->values[c->in[1]].name;
    int wid, bid;
    st = lcv_pass_add_constant(g, base, "_bnfold", nw, &wid, e);
    if (st != LCV_OK) {
        lcv_tensor_free(nb);
        return st;
    }
    st = lcv_pass_add_constant(g, base, "_bnfold_bias", nb, &bid, e);
    if (st != LCV_OK) return st;
    lcv_node *cn = &g->nodes[ci];
    cn->in[1] = wid;
    if (cn->n_in > 2) {
        cn->in[2] = bid;
        return LCV_OK;
    }
    return lcv_pass_append_input(cn, bid, e);
}

/* The conv feeding bn alone whose weights (and bias) are float32 constants, or -1. */
static int foldable_conv(const lcv_graph *g, const lcv_pass_uses *u, const lcv_node *bn) {
    int x = bn->in[0];
    if (x < 0 || lcv_pass_sole_consumer(g, u, x) < 0) return -1;
    int ci = g->values[x].producer;
    if (ci < 0) return -1;
    const lcv_node *c = &g->nodes[ci];
    if (c->op != LCV_OP_Conv || c->n_out != 1 || c->fused.act != LCV_ACT_NONE ||
        c->fused.residual >= 0 || c->n_in < 2)
        return -1;
    int64_t nw = 0, nb = 0;
    const float *w = lcv_pass_const_f32(g, c->in[1], &nw);
    if (!w || nw == 0 || g->values[c->in[1]].init->ndim < 3) return -1;
    int64_t m = g->values[c->in[1]].init->dims[0];
    if (c->n_in > 2 && c->in[2] >= 0 && (!lcv_pass_const_f32(g, c->in[2], &nb) || nb != m))
        return -1;
    return ci;
}

lcv_status lcv_pass_fuse_conv_bn(lcv_graph *g, bool *changed, lcv_err *e) {
    lcv_pass_edit ed;
    lcv_status st = lcv_pass_edit_begin(g, &ed, e);
    if (st != LCV_OK) return st;
    double *s = NULL, *t = NULL;
    for (int i = 0; st == LCV_OK && i < g->n_nodes; i++) {
        const lcv_node *bn = &g->nodes[i];
        if (bn->op != LCV_OP_BatchNormalization) continue;
        int ci = foldable_conv(g, &ed.uses, bn);
        if (ci < 0) continue;
        int64_t m = g->values[g->nodes[ci].in[1]].init->dims[0];
        free(s);
        free(t);
        s = malloc(sizeof(double) * (size_t)m);
        t = malloc(sizeof(double) * (size_t)m);
        if (!s || !t) {
            st = lcv_fail(e, LCV_ERR_NOMEM, "out of memory folding node '%s'", bn->name);
            break;
        }
        if (!bn_affine(g, bn, m, s, t)) continue;
        st = fold(g, ci, s, t, e);
        if (st != LCV_OK) break;
        lcv_pass_take_output(g, ci, i);
        lcv_pass_edit_remove(&ed, i);
    }
    lcv_pass_edit_end(g, &ed, changed);
    free(s);
    free(t);
    return st;
}
