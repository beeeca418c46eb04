/* fuse_layernorm.c - recognises LayerNormalization over the last axis written out as
 * primitive nodes, as exporters emit it before opset 17 (torchvision's vit_b_16 and
 * convnext_tiny): m = ReduceMean(x), d = x - m, v = ReduceMean(Pow(d, 2)),
 * y = d / Sqrt(v + eps) [* gamma] [+ beta], and replaces it by one LayerNormalization node
 * (its fast plan normalises a row in three vector passes). Only the last axis with kept dims,
 * constant eps, exponent 2 and per-channel [C] gamma/beta; every intermediate must feed the
 * next node alone. */
#include <math.h>
#include <stdlib.h>

#include "passes.h"

/* True when ReduceMean node n averages over the last axis of its rank-`rank` input only and
 * keeps that axis (axes from the attribute before opset 18, from a constant input after). */
static bool mean_over_last(const lcv_graph *g, const lcv_node *n, int rank) {
    if (n->op != LCV_OP_ReduceMean || n->n_out != 1 || lcv_attr_int(n, "keepdims", 1) != 1)
        return false;
    int64_t axis;
    if (n->opset < 18) {
        const int64_t *axes = NULL;
        if (n->n_in != 1 || lcv_attr_ints(n, "axes", &axes) != 1) return false;
        axis = axes[0];
    } else {
        if (n->n_in != 2 || n->in[1] < 0) return false;
        const lcv_tensor *t = g->values[n->in[1]].init;
        if (!t || t->dtype != LCV_DTYPE_INT64 || lcv_tensor_count(t) != 1 || !t->data) return false;
        axis = ((const int64_t *)t->data)[0];
    }
    return axis == -1 || axis == rank - 1;
}

/* A constant per-channel parameter: float32 of shape [c]. */
static bool channel_param(const lcv_graph *g, int id, int64_t c) {
    int64_t count = 0;
    if (id < 0 || !lcv_pass_const_f32(g, id, &count)) return false;
    const lcv_value *v = &g->values[id];
    return v->ndim == 1 && v->dims[0] == c && count == c;
}

typedef struct ln_match {
    int x, gamma, beta; /* value ids; gamma/beta -1 when absent */
    float eps;
    int nodes[9], n_nodes; /* the last one produces y */
} ln_match;

/* Matches the pattern whose centring Sub is node `sub`. */
static bool match_ln(const lcv_graph *g, const lcv_pass_uses *u, int sub, ln_match *mt) {
    const lcv_node *s = &g->nodes[sub];
    if (s->n_in != 2 || s->n_out != 1 || s->out[0] < 0 || s->in[0] < 0 || s->in[1] < 0)
        return false;
    int x = s->in[0], m = s->in[1], d = s->out[0];
    const lcv_value *xv = &g->values[x];
    if (xv->dtype != LCV_DTYPE_FLOAT32 || xv->ndim < 1 || xv->dims[xv->ndim - 1] <= 0) return false;
    int rank = xv->ndim;
    int64_t c = xv->dims[rank - 1];
    int rm1 = g->values[m].producer;
    if (rm1 < 0 || lcv_pass_sole_consumer(g, u, m) != sub) return false;
    if (!mean_over_last(g, &g->nodes[rm1], rank) || g->nodes[rm1].in[0] != x) return false;
    /* d is read by the Pow and the Div only */
    if (g->values[d].is_output || u->count[d] != 2) return false;
    int pw = -1, dv = -1;
    for (int i = 0; i < g->n_nodes && (pw < 0 || dv < 0); i++) {
        const lcv_node *n = &g->nodes[i];
        if (n->n_in == 2 && n->in[0] == d && n->op == LCV_OP_Pow) pw = i;
        if (n->n_in == 2 && n->in[0] == d && n->op == LCV_OP_Div) dv = i;
    }
    if (pw < 0 || dv < 0 || g->nodes[pw].in[1] == d || g->nodes[dv].in[1] == d) return false;
    if (!lcv_pass_scalar_near(g, g->nodes[pw].in[1], 2.0f, 0.0f)) return false;
    int rm2 = lcv_pass_next(g, u, g->nodes[pw].out[0], LCV_OP_ReduceMean);
    if (rm2 < 0 || !mean_over_last(g, &g->nodes[rm2], rank)) return false;
    int ae = lcv_pass_next(g, u, g->nodes[rm2].out[0], LCV_OP_Add);
    if (ae < 0) return false;
    int eps = lcv_pass_other_operand(&g->nodes[ae], g->nodes[rm2].out[0]);
    if (!lcv_pass_const_scalar(g, eps, &mt->eps) || !(mt->eps >= 0.0f) || isinf(mt->eps))
        return false;
    int sq = lcv_pass_next(g, u, g->nodes[ae].out[0], LCV_OP_Sqrt);
    if (sq < 0 || lcv_pass_sole_consumer(g, u, g->nodes[sq].out[0]) != dv ||
        g->nodes[dv].in[1] != g->nodes[sq].out[0])
        return false;
    mt->x = x;
    mt->gamma = mt->beta = -1;
    mt->n_nodes = 0;
    int chain[] = {rm1, sub, pw, rm2, ae, sq, dv};
    for (size_t k = 0; k < sizeof chain / sizeof chain[0]; k++) mt->nodes[mt->n_nodes++] = chain[k];
    int y = g->nodes[dv].out[0];
    int mul = lcv_pass_next(g, u, y, LCV_OP_Mul);
    if (mul >= 0 && channel_param(g, lcv_pass_other_operand(&g->nodes[mul], y), c)) {
        mt->gamma = lcv_pass_other_operand(&g->nodes[mul], y);
        mt->nodes[mt->n_nodes++] = mul;
        y = g->nodes[mul].out[0];
        int add = lcv_pass_next(g, u, y, LCV_OP_Add);
        if (add >= 0 && channel_param(g, lcv_pass_other_operand(&g->nodes[add], y), c)) {
            mt->beta = lcv_pass_other_operand(&g->nodes[add], y);
            mt->nodes[mt->n_nodes++] = add;
        }
    }
    for (int k = 0; k < mt->n_nodes; k++) {
        int o = g->nodes[mt->nodes[k]].out[0];
        if (o < 0 || g->values[o].dtype != LCV_DTYPE_FLOAT32) return false;
    }
    return true;
}

/* Makes node `at` (the pattern's last) the LayerNormalization of mt, reading Scale `scale`. */
static lcv_status become_layernorm(lcv_graph *g, int at, const ln_match *mt, int scale,
                                   lcv_err *e) {
    lcv_node *n = &g->nodes[at];
    lcv_status st = lcv_pass_retype(n, "LayerNormalization", LCV_OP_LayerNormalization, 17, e);
    if (st != LCV_OK) return st;
    n->n_in = 1;
    n->in[0] = mt->x;
    st = lcv_pass_append_input(n, scale, e);
    if (st == LCV_OK && mt->beta >= 0) st = lcv_pass_append_input(n, mt->beta, e);
    lcv_attr *a = NULL;
    if (st == LCV_OK) st = lcv_node_add_attr(n, "axis", &a, e);
    if (st == LCV_OK) {
        a->type = LCV_ATTR_INT;
        a->i = -1;
        st = lcv_node_add_attr(n, "epsilon", &a, e);
    }
    if (st == LCV_OK) {
        a->type = LCV_ATTR_FLOAT;
        a->f = mt->eps;
    }
    return st;
}

/* A constant of c ones for a pattern without gamma (LayerNormalization needs a Scale). */
static lcv_status ones(lcv_graph *g, const char *base, int64_t c, int *id, lcv_err *e) {
    lcv_tensor *t = NULL;
    lcv_status st = lcv_tensor_create(LCV_DTYPE_FLOAT32, 1, &c, &t);
    if (st != LCV_OK) return lcv_fail(e, st, "out of memory adding a LayerNormalization scale");
    float *p = lcv_tensor_data(t);
    for (int64_t k = 0; k < c; k++) p[k] = 1.0f;
    return lcv_pass_add_constant(g, base, "_ln_scale", t, id, e);
}

lcv_status lcv_pass_fuse_layernorm(lcv_graph *g, bool *changed, lcv_err *e) {
    lcv_pass_edit ed;
    lcv_status st = lcv_pass_edit_begin(g, &ed, e);
    if (st != LCV_OK) return st;
    /* a new constant (ones for a missing gamma) outgrows the use counts: the sweep stops there
     * and the pipeline's next round continues */
    bool grown = false;
    for (int i = 0; st == LCV_OK && !grown && i < g->n_nodes; i++) {
        if (g->nodes[i].op != LCV_OP_Sub || ed.remove[i]) continue;
        ln_match mt;
        if (!match_ln(g, &ed.uses, i, &mt)) continue;
        bool fresh = true;
        for (int k = 0; k < mt.n_nodes; k++) fresh = fresh && !ed.remove[mt.nodes[k]];
        if (!fresh) continue;
        int last = mt.nodes[mt.n_nodes - 1], scale = mt.gamma;
        if (scale < 0) {
            const lcv_value *xv = &g->values[mt.x];
            st = ones(g, g->nodes[last].name, xv->dims[xv->ndim - 1], &scale, e);
            if (st != LCV_OK) break;
            grown = true;
        }
        st = become_layernorm(g, last, &mt, scale, e);
        if (st != LCV_OK) break;
        for (int k = 0; k < mt.n_nodes - 1; k++) lcv_pass_edit_remove(&ed, mt.nodes[k]);
        ed.uses.count[mt.x] -= 1; /* read by the ReduceMean and the Sub, now once */
        if (ed.uses.count[mt.x] == 1) ed.uses.last[mt.x] = last;
    }
    lcv_pass_edit_end(g, &ed, changed);
    return st;
}
