/* fuse_gelu.c - recognises GELU written out with Erf, as exporters emit it before opset 20
 * (torchvision's vit_b_16: x * (1 + Erf(x / sqrt 2)) * 0.5), and folds it into the node that
 * produces x as the fused activation LCV_ACT_GELU: a Conv, Gemm or MatMul epilogue, or the
 * bias Add that follows a MatMul in transformers (the vector elementwise plan applies it).
 * Accepted forms: Div by sqrt 2 or Mul by 1/sqrt 2; the products x, 0.5 and (1 + erf) in any
 * order and operand order. Only when every intermediate feeds the next node alone and x is
 * read by nothing but the pattern. */
#include "passes.h"

#define SQRT2 1.41421356f
#define RSQRT2 0.70710678f
/* constants as exporters round them to float, with room for a last-digit difference */
#define GELU_TOL 1e-6f

/* The node that produces x and can take a fused activation, or -1. */
static int gelu_host(const lcv_graph *g, int x) {
    int p = g->values[x].producer;
    if (p < 0) return -1;
    const lcv_node *n = &g->nodes[p];
    if (n->n_out != 1 || n->out[0] != x || n->fused.act != LCV_ACT_NONE) return -1;
    switch (n->op) {
    case LCV_OP_Conv:
    case LCV_OP_Gemm:
    case LCV_OP_MatMul: return p;
    case LCV_OP_Add: return n->n_in == 2 && n->fused.residual < 0 ? p : -1;
    default: return -1;
    }
}

/* The pattern's nodes, in any order; the last one produces the GELU's output. */
typedef struct gelu_match {
    int x, nodes[6], n_nodes;
} gelu_match;

static bool is_mul_by(const lcv_graph *g, const lcv_node *n, int v, int *other) {
    if (n->op != LCV_OP_Mul) return false;
    *other = lcv_pass_other_operand(n, v);
    return *other >= 0;
}

/* Matches the pattern around Erf node `erf`. */
static bool match_gelu(const lcv_graph *g, const lcv_pass_uses *u, int erf, gelu_match *mt) {
    const lcv_node *en = &g->nodes[erf];
    if (en->n_in != 1 || en->n_out != 1 || en->in[0] < 0 || en->out[0] < 0) return false;
    if (lcv_pass_sole_consumer(g, u, en->in[0]) != erf) return false;
    int sc = g->values[en->in[0]].producer; /* x / sqrt 2 */
    if (sc < 0) return false;
    const lcv_node *sn = &g->nodes[sc];
    if (sn->n_in != 2 || sn->n_out != 1) return false;
    int x = -1;
    if (sn->op == LCV_OP_Div && lcv_pass_scalar_near(g, sn->in[1], SQRT2, GELU_TOL)) {
        x = sn->in[0];
    } else if (sn->op == LCV_OP_Mul) {
        for (int k = 0; k < 2 && x < 0; k++)
            if (lcv_pass_scalar_near(g, sn->in[k], RSQRT2, GELU_TOL)) x = sn->in[1 - k];
    }
    if (x < 0 || g->values[x].init) return false;
    int add = lcv_pass_next(g, u, en->out[0], LCV_OP_Add); /* 1 + erf */
    if (add < 0) return false;
    int one = lcv_pass_other_operand(&g->nodes[add], en->out[0]);
    if (!lcv_pass_scalar_near(g, one, 1.0f, 0.0f)) return false;
    int m1 = lcv_pass_next(g, u, g->nodes[add].out[0], LCV_OP_Mul), o1;
    if (m1 < 0 || !is_mul_by(g, &g->nodes[m1], g->nodes[add].out[0], &o1)) return false;
    mt->x = x;
    mt->n_nodes = 0;
    mt->nodes[mt->n_nodes++] = sc;
    mt->nodes[mt->n_nodes++] = erf;
    mt->nodes[mt->n_nodes++] = add;
    int o2;
    if (o1 == x || lcv_pass_scalar_near(g, o1, 0.5f, 0.0f)) {
        /* (1 + erf) * x, then * 0.5; or (1 + erf) * 0.5, then * x */
        int m2 = lcv_pass_next(g, u, g->nodes[m1].out[0], LCV_OP_Mul);
        if (m2 < 0 || !is_mul_by(g, &g->nodes[m2], g->nodes[m1].out[0], &o2)) return false;
        if (o1 == x ? !lcv_pass_scalar_near(g, o2, 0.5f, 0.0f) : o2 != x) return false;
        mt->nodes[mt->n_nodes++] = m1;
        mt->nodes[mt->n_nodes++] = m2;
    } else {
        /* (x * 0.5) * (1 + erf) */
        int h = g->values[o1].producer;
        if (h < 0 || lcv_pass_sole_consumer(g, u, o1) != m1) return false;
        if (!is_mul_by(g, &g->nodes[h], x, &o2) || !lcv_pass_scalar_near(g, o2, 0.5f, 0.0f))
            return false;
        mt->nodes[mt->n_nodes++] = h;
        mt->nodes[mt->n_nodes++] = m1;
    }
    /* x feeds the scaling and one product and nothing else (it disappears into the host) */
    return !g->values[x].is_output && u->count[x] == 2;
}

lcv_status lcv_pass_fuse_gelu(lcv_graph *g, bool *changed, lcv_err *e) {
    lcv_pass_edit ed;
    lcv_status st = lcv_pass_edit_begin(g, &ed, e);
    if (st != LCV_OK) return st;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].op != LCV_OP_Erf || ed.remove[i]) continue;
        gelu_match mt;
        if (!match_gelu(g, &ed.uses, i, &mt)) continue;
        int host = gelu_host(g, mt.x), last = mt.nodes[mt.n_nodes - 1];
        bool all_f32 = g->values[mt.x].dtype == LCV_DTYPE_FLOAT32;
        for (int k = 0; k < mt.n_nodes; k++)
            all_f32 = all_f32 && !ed.remove[mt.nodes[k]] &&
                      g->values[g->nodes[mt.nodes[k]].out[0]].dtype == LCV_DTYPE_FLOAT32;
        if (host < 0 || !all_f32) continue;
        lcv_fused *f = &g->nodes[host].fused;
        f->act = LCV_ACT_GELU;
        f->alpha = f->beta = 0.0f;
        lcv_pass_take_output(g, host, last);
        for (int k = 0; k < mt.n_nodes; k++) lcv_pass_edit_remove(&ed, mt.nodes[k]);
        ed.uses.count[mt.x] = 0;
    }
    lcv_pass_edit_end(g, &ed, changed);
    return LCV_OK;
}
