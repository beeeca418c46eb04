/* fuse_qdq.c - runs a QDQ-format quantized model (QuantizeLinear/DequantizeLinear around float
 * ops, as ONNX Runtime's quantize_static writes it) on integer ops: DQ -> Conv (+Relu) -> Q
 * becomes QLinearConv, DQ -> MatMul (+Relu) -> Q becomes QLinearMatMul (a Clip such as ReLU6
 * too, where the output range makes it a Relu or nothing), DQ(a), DQ(b) -> Add (+Relu) -> Q
 * becomes QLinearAdd, Q(DQ(x)) with the same parameters becomes x, and DQ -> MaxPool -> Q
 * becomes MaxPool on the integer tensor. Anything that does not match exactly stays as it is:
 * the reference Q/DQ ops are correct anyway. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "passes.h"

/* Constant tensor of value id with its data, or NULL. */
static const lcv_tensor *cdata(const lcv_graph *g, int id) {
    if (id < 0 || !g->values[id].init) return NULL;
    const lcv_tensor *t = g->values[id].init;
    return t->data || lcv_tensor_count(t) == 0 ? t : NULL;
}

static bool is_q8(lcv_dtype d) { return d == LCV_DTYPE_UINT8 || d == LCV_DTYPE_INT8; }

/* A usable scale: finite and positive, and far from the float range's ends so that
 * (q * s) / s gives q back exactly after rounding (what the identity rewrites rely on). */
static bool good_scale(float s) { return s >= 1e-30f && s <= 1e30f; }

static int32_t q8_at(const lcv_tensor *t, int64_t i) {
    return t->dtype == LCV_DTYPE_UINT8 ? ((const uint8_t *)t->data)[i]
                                       : ((const int8_t *)t->data)[i];
}

/* Per-tensor quantization parameters of a Q or DQ node: scale and zero point both constant
 * scalars, the zero point int8/uint8 and present. */
typedef struct qparm {
    float s;
    int32_t z;
    lcv_dtype dt; /* the integer side's dtype (the zero point's) */
    int s_id, z_id;
} qparm;

static bool per_tensor(const lcv_graph *g, const lcv_node *n, qparm *p) {
    if (n->n_in != 3 || n->in[1] < 0 || n->in[2] < 0 || n->n_out != 1 || n->out[0] < 0)
        return false;
    const lcv_tensor *z = cdata(g, n->in[2]);
    if (!lcv_pass_const_scalar(g, n->in[1], &p->s) || !good_scale(p->s)) return false;
    if (!z || lcv_tensor_count(z) != 1 || z->ndim > 1 || !is_q8(z->dtype)) return false;
    p->z = q8_at(z, 0);
    p->dt = z->dtype;
    p->s_id = n->in[1];
    p->z_id = n->in[2];
    return true;
}

/* The DequantizeLinear producing value v with per-tensor parameters whose integer input has
 * the zero point's dtype; -1 otherwise. */
static int dq_act(const lcv_graph *g, int v, qparm *p) {
    int d = v >= 0 ? g->values[v].producer : -1;
    if (d < 0) return -1;
    const lcv_node *n = &g->nodes[d];
    if (n->op != LCV_OP_DequantizeLinear || !per_tensor(g, n, p) || n->in[0] < 0 ||
        g->values[n->in[0]].dtype != p->dt)
        return -1;
    return d;
}

/* Constant weights behind a DequantizeLinear: integer data, scale of one entry or of `per`
 * entries along axis `axis` (of a rank-`rank` tensor), zero point of as many entries. */
typedef struct qweight {
    int w_id, s_id, z_id;
    const float *s;
    int64_t ns;
    const lcv_tensor *w, *z;
} qweight;

static bool dq_weight(const lcv_graph *g, int v, int axis, int64_t per, qweight *q) {
    int d = v >= 0 ? g->values[v].producer : -1;
    if (d < 0) return false;
    const lcv_node *n = &g->nodes[d];
    if (n->op != LCV_OP_DequantizeLinear || n->n_in != 3 || n->in[2] < 0) return false;
    q->w = cdata(g, n->in[0]);
    q->z = cdata(g, n->in[2]);
    q->s = lcv_pass_const_f32(g, n->in[1], &q->ns);
    if (!q->w || !q->z || !q->s || !is_q8(q->w->dtype) || q->z->dtype != q->w->dtype) return false;
    if (lcv_tensor_count(q->z) != q->ns || q->z->ndim > 1 || g->values[n->in[1]].init->ndim > 1)
        return false;
    if (q->ns != 1) {
        int64_t ax = lcv_attr_int(n, "axis", 1), r = q->w->ndim;
        if (ax < 0) ax += r;
        if (n->opset < 13 || ax != axis || q->ns != per) return false;
    }
    for (int64_t k = 0; k < q->ns; k++)
        if (!good_scale(q->s[k])) return false;
    q->w_id = n->in[0];
    q->s_id = n->in[1];
    q->z_id = n->in[2];
    return true;
}

static bool all_zero(const lcv_tensor *z) {
    for (int64_t k = 0; k < lcv_tensor_count(z); k++)
        if (q8_at(z, k) != 0) return false;
    return true;
}

/* The float bias of a Conv with m output channels: a float32 constant or a DequantizeLinear
 * of an int32 constant with zero points 0. *b receives m floats (caller frees), NULL when the
 * bias is neither; only running out of memory is an error. */
static lcv_status conv_bias(const lcv_graph *g, const lcv_node *conv, int64_t m, float **b,
                            lcv_err *e) {
    int v = conv->in[2];
    int64_t n = 0, ns = 0;
    const float *f = lcv_pass_const_f32(g, v, &n), *s = NULL;
    const lcv_tensor *q = NULL;
    *b = NULL;
    if (!f || n != m) {
        int d = v >= 0 ? g->values[v].producer : -1;
        if (d < 0 || g->nodes[d].op != LCV_OP_DequantizeLinear) return LCV_OK;
        const lcv_node *dq = &g->nodes[d];
        const lcv_tensor *z = dq->n_in > 2 ? cdata(g, dq->in[2]) : NULL;
        q = cdata(g, dq->in[0]);
        s = lcv_pass_const_f32(g, dq->in[1], &ns);
        if (!q || q->dtype != LCV_DTYPE_INT32 || q->ndim != 1 || q->dims[0] != m || !s)
            return LCV_OK;
        int64_t ax = lcv_attr_int(dq, "axis", 1);
        if (ns != 1 && (ns != m || (ax != 0 && ax != -1))) return LCV_OK;
        if (dq->n_in > 2 && dq->in[2] >= 0) {
            if (!z || z->dtype != LCV_DTYPE_INT32) return LCV_OK;
            for (int64_t k = 0; k < lcv_tensor_count(z); k++)
                if (((const int32_t *)z->data)[k] != 0) return LCV_OK;
        }
    }
    *b = malloc(sizeof(float) * (size_t)(m ? m : 1));
    if (!*b) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory fusing node '%s'", conv->name);
    if (!q) {
        memcpy(*b, f, sizeof(float) * (size_t)m);
        return LCV_OK;
    }
    /* the value the DequantizeLinear would give, in float32 as the reference computes it */
    for (int64_t k = 0; k < m; k++)
        (*b)[k] = (float)((const int32_t *)q->data)[k] * s[ns == 1 ? 0 : k];
    return LCV_OK;
}

/* Quantizes bias b to int32 with scale sx * sw[k] (as ONNX Runtime's quantizer does: the
 * product in float32, round half to even); false when a value does not fit. */
static bool quantize_bias(const float *b, int64_t m, float sx, const qweight *w, int32_t *out) {
    for (int64_t k = 0; k < m; k++) {
        float bs = sx * w->s[w->ns == 1 ? 0 : k];
        double q = nearbyint((double)b[k] / (double)bs);
        if (!(fabs(q) <= 2147483647.0)) return false;
        out[k] = (int32_t)q;
    }
    return true;
}

/* Turns node n into op `type` keeping its attributes, with the given inputs. */
static lcv_status become(lcv_node *n, const char *type, int op, int opset, const int *ins,
                         int n_in, lcv_err *e) {
    size_t len = strlen(type) + 1;
    char *t = malloc(len);
    int *in = malloc(sizeof(int) * (size_t)n_in);
    if (!t || !in) {
        free(t);
        free(in);
        return lcv_fail(e, LCV_ERR_NOMEM, "out of memory rewriting node '%s'", n->name);
    }
    memcpy(t, type, len);
    memcpy(in, ins, sizeof(int) * (size_t)n_in);
    free(n->op_type);
    free(n->in);
    n->op_type = t;
    n->in = in;
    n->n_in = n_in;
    n->op = op;
    if (n->opset < opset) n->opset = opset;
    return LCV_OK;
}

/* What a matched Conv/MatMul -> [Relu/Clip] -> Q chain rewrites: the float node, the
 * activation node (or -1), the Q, and whether a Relu must remain as the integer node's fused
 * activation. */
typedef struct chain {
    int op, act, q;
    bool relu_needed;
    qparm y;
} chain;

/* The bounds of a Relu or of a Clip with constant bounds; false for anything else. */
static bool clamp_of_node(const lcv_graph *g, const lcv_node *n, float *lo, float *hi) {
    *lo = -INFINITY;
    *hi = INFINITY;
    if (n->op == LCV_OP_Relu && n->n_in == 1) {
        *lo = 0.0f;
        return true;
    }
    if (n->op != LCV_OP_Clip || n->n_in < 1) return false;
    if (n->opset < 11) {
        if (n->n_in > 1) return false;
        *lo = lcv_attr_float(n, "min", -INFINITY);
        *hi = lcv_attr_float(n, "max", INFINITY);
    } else {
        if (n->n_in > 1 && n->in[1] >= 0 && !lcv_pass_const_scalar(g, n->in[1], lo)) return false;
        if (n->n_in > 2 && n->in[2] >= 0 && !lcv_pass_const_scalar(g, n->in[2], hi)) return false;
    }
    return *lo <= *hi; /* the reference lets max win when min > max: not a clamp then */
}

/* The bounds of what fuse_activation may have fused into the Conv/MatMul already. */
static bool clamp_of_fused(const lcv_fused *f, float *lo, float *hi) {
    *lo = -INFINITY;
    *hi = INFINITY;
    if (f->act == LCV_ACT_RELU) *lo = 0.0f;
    else if (f->act == LCV_ACT_CLIP) *lo = f->alpha, *hi = f->beta;
    else if (f->act != LCV_ACT_NONE) return false;
    return *lo <= *hi;
}

/* t quantized as the reference QuantizeLinear would (float32 division, half to even,
 * saturated). */
static int32_t quant_of(float t, const qparm *y, int32_t qmin, int32_t qmax) {
    float v = t / y->s;
    if (v != v) return 0;
    double r = (double)nearbyintf(v) + y->z;
    return r <= qmin ? qmin : r >= qmax ? qmax : (int32_t)r;
}

/* The clamp of chain c (bounds lo..hi) as the Q's integer range sees it: false when it
 * clips inside the range other than as a Relu; else c->relu_needed says whether a Relu must
 * remain (Q(clamp(v)) == clamp(Q(v)), Q being monotone). */
static bool clamp_as_relu(chain *c, float lo, float hi) {
    int32_t qmin = c->y.dt == LCV_DTYPE_UINT8 ? 0 : -128, qmax = qmin + 255;
    if (!(lo <= hi) || quant_of(hi, &c->y, qmin, qmax) != qmax) return false;
    if (quant_of(lo, &c->y, qmin, qmax) == qmin) c->relu_needed = false;
    else if (lo == 0.0f) c->relu_needed = true;
    else return false;
    return true;
}

/* From QuantizeLinear node qi (per tensor): the node producing its input alone, through at
 * most one Relu/Clip node (c->act, its bounds in *lo, *hi) that is read only by the Q; -1
 * when there is none. */
static int chain_start(const lcv_graph *g, const lcv_pass_uses *u, int qi, chain *c, float *lo,
                       float *hi) {
    const lcv_node *q = &g->nodes[qi];
    *lo = -INFINITY;
    *hi = INFINITY;
    if (!per_tensor(g, q, &c->y) || q->in[0] < 0 || lcv_pass_sole_consumer(g, u, q->in[0]) != qi)
        return -1;
    c->q = qi;
    c->act = -1;
    int p = g->values[q->in[0]].producer;
    if (p >= 0 && clamp_of_node(g, &g->nodes[p], lo, hi)) {
        c->act = p;
        int v = g->nodes[p].in[0];
        if (v < 0 || lcv_pass_sole_consumer(g, u, v) != p || g->nodes[p].n_out != 1) return -1;
        p = g->values[v].producer;
    }
    return p;
}

/* From QuantizeLinear node qi: the Conv/MatMul producing its input alone, through at most one
 * Relu/Clip node and what is fused into the Conv/MatMul already. Quantization is monotone,
 * so Q(clamp(v, lo, hi)) == clamp(Q(v), Q(lo), Q(hi)): the clamp vanishes where Q(lo) and
 * Q(hi) are the type's ends, and a lower bound of 0 is a Relu at the zero point. */
static bool find_chain(const lcv_graph *g, const lcv_pass_uses *u, int qi, chain *c) {
    float lo, hi, l2, h2;
    int p = chain_start(g, u, qi, c, &lo, &hi);
    if (p < 0) return false;
    const lcv_node *n = &g->nodes[p];
    if ((n->op != LCV_OP_Conv && n->op != LCV_OP_MatMul) || n->n_out != 1 ||
        n->fused.residual >= 0 || g->values[n->out[0]].dtype != LCV_DTYPE_FLOAT32 ||
        !clamp_of_fused(&n->fused, &l2, &h2))
        return false;
    lo = lo > l2 ? lo : l2;
    hi = hi < h2 ? hi : h2;
    c->op = p;
    return clamp_as_relu(c, lo, hi);
}

/* Moves the Q's output onto the rewritten node and marks the swallowed nodes. */
static void finish_chain(lcv_graph *g, lcv_pass_edit *ed, const chain *c) {
    lcv_node *n = &g->nodes[c->op];
    n->fused.act = c->relu_needed ? LCV_ACT_RELU : LCV_ACT_NONE;
    n->fused.alpha = n->fused.beta = 0.0f;
    lcv_pass_take_output(g, c->op, c->q);
    lcv_pass_edit_remove(ed, c->q);
    if (c->act >= 0) {
        int r = g->nodes[c->act].out[0];
        if (r >= 0) g->values[r].producer = -1;
        g->nodes[c->act].out[0] = -1;
        lcv_pass_edit_remove(ed, c->act);
    }
}

/* DQ(x) -> Conv <- DQ(w) [+ bias] -> [Relu] -> Q  =>  QLinearConv. */
static lcv_status fuse_conv(lcv_graph *g, lcv_pass_edit *ed, const chain *c, bool *done,
                            lcv_err *e) {
    const lcv_node *n = &g->nodes[c->op];
    qparm x;
    qweight w;
    if (n->n_in < 2 || n->n_in > 3 || n->in[1] < 0 || dq_act(g, n->in[0], &x) < 0) return LCV_OK;
    int wd = g->values[n->in[1]].producer;
    const lcv_tensor *wt = wd >= 0 ? cdata(g, g->nodes[wd].in[0]) : NULL;
    if (!wt || wt->ndim < 3) return LCV_OK;
    int64_t m = wt->dims[0];
    /* int8 weights with zero points 0: what the integer kernels are planned for */
    if (!dq_weight(g, n->in[1], 0, m, &w) || w.w->dtype != LCV_DTYPE_INT8 || !all_zero(w.z))
        return LCV_OK;
    int ins[9] = {g->nodes[g->values[n->in[0]].producer].in[0], x.s_id, x.z_id, w.w_id, w.s_id,
                  w.z_id, c->y.s_id, c->y.z_id, -1};
    int n_in = 8;
    if (n->n_in == 3 && n->in[2] >= 0) {
        float *b = NULL;
        lcv_status st = conv_bias(g, n, m, &b, e);
        if (st != LCV_OK || !b) return st;
        lcv_tensor *t = NULL;
        if (lcv_tensor_create(LCV_DTYPE_INT32, 1, &m, &t) != LCV_OK) {
            free(b);
            return lcv_fail(e, LCV_ERR_NOMEM, "out of memory fusing node '%s'", n->name);
        }
        bool fits = quantize_bias(b, m, x.s, &w, t->data);
        free(b);
        if (!fits) {
            lcv_tensor_free(t);
            return LCV_OK;
        }
        char *base = g->values[n->in[1]].name;
        st = lcv_pass_add_constant(g, base, "_qbias", t, &ins[8], e);
        if (st != LCV_OK) return st;
        n_in = 9;
    }
    lcv_status st = become(&g->nodes[c->op], "QLinearConv", LCV_OP_QLinearConv, 10, ins, n_in, e);
    if (st != LCV_OK) return st;
    ed->uses.count[ins[0]]++;
    finish_chain(g, ed, c);
    *done = true;
    return LCV_OK;
}

/* DQ(a) -> MatMul <- DQ(b const) -> [Relu] -> Q  =>  QLinearMatMul (b per tensor, or per
 * column of a 2-D b; any zero points of b's dtype). */
static lcv_status fuse_matmul(lcv_graph *g, lcv_pass_edit *ed, const chain *c, bool *done,
                              lcv_err *e) {
    const lcv_node *n = &g->nodes[c->op];
    qparm a;
    qweight b;
    if (n->n_in != 2 || n->in[1] < 0 || dq_act(g, n->in[0], &a) < 0) return LCV_OK;
    int bd = g->values[n->in[1]].producer;
    const lcv_tensor *bt = bd >= 0 ? cdata(g, g->nodes[bd].in[0]) : NULL;
    int64_t cols = bt && bt->ndim == 2 ? bt->dims[1] : 0;
    if (!dq_weight(g, n->in[1], 1, cols, &b)) return LCV_OK;
    int ins[8] = {g->nodes[g->values[n->in[0]].producer].in[0], a.s_id, a.z_id, b.w_id, b.s_id,
                  b.z_id, c->y.s_id, c->y.z_id};
    lcv_status st = become(&g->nodes[c->op], "QLinearMatMul", LCV_OP_QLinearMatMul, 10, ins, 8, e);
    if (st != LCV_OK) return st;
    ed->uses.count[ins[0]]++;
    finish_chain(g, ed, c);
    *done = true;
    return LCV_OK;
}

static bool same_parm(const qparm *a, const qparm *b) {
    return a->s == b->s && a->z == b->z && a->dt == b->dt;
}

/* Q(DQ(x)) with equal parameters reads x instead (when the Q's output is not a graph
 * output); DQ -> MaxPool -> Q with equal parameters pools x itself (max commutes with the
 * increasing dequantization). */
static void fuse_passthrough(lcv_graph *g, lcv_pass_edit *ed, int qi, bool *done) {
    const lcv_node *q = &g->nodes[qi];
    qparm y, x;
    if (!per_tensor(g, q, &y) || q->in[0] < 0) return;
    int v = q->in[0], p = g->values[v].producer;
    if (p < 0) return;
    const lcv_node *pn = &g->nodes[p];
    if (pn->op == LCV_OP_DequantizeLinear) {
        if (dq_act(g, v, &x) < 0 || !same_parm(&x, &y) || g->values[q->out[0]].is_output) return;
        /* x gains the Q output's readers: keep the counts conservative for later matches */
        ed->uses.count[pn->in[0]] += ed->uses.count[q->out[0]];
        ed->uses.count[q->out[0]] = 0;
        lcv_pass_replace_uses(g, q->out[0], pn->in[0]);
        lcv_pass_edit_remove(ed, qi);
        *done = true;
        return;
    }
    if (pn->op != LCV_OP_MaxPool || pn->n_in != 1 || lcv_pass_sole_consumer(g, &ed->uses, v) != qi)
        return;
    for (int k = 1; k < pn->n_out; k++)
        if (pn->out[k] >= 0) return;
    int d = dq_act(g, pn->in[0], &x);
    if (d < 0 || !same_parm(&x, &y)) return;
    g->nodes[p].in[0] = g->nodes[d].in[0];
    ed->uses.count[g->nodes[d].in[0]]++;
    lcv_pass_take_output(g, p, qi);
    lcv_pass_edit_remove(ed, qi);
    *done = true;
}

/* DQ(a), DQ(b) -> Add -> [Relu/Clip] -> Q  =>  QLinearAdd (com.microsoft's inputs, the Relu in
 * node->fused), when every intermediate has this one reader, the parameters are constant
 * scalars of one 8-bit type and a and b have one shape: broadcasts stay float. QLinearAdd
 * computes the chain's float32 steps exactly (src/ops/qadd.c), so nothing changes but time.
 * Its Relu acts on the integers, after quantizing; the same as before for every value but
 * NaN (the chain's Relu keeps it, Q stores 0), and good_scale's bounds leave the sum finite
 * and the quotient finite or +-Inf, never NaN. */
static lcv_status fuse_add(lcv_graph *g, lcv_pass_edit *ed, int qi, bool *done, lcv_err *e) {
    chain c;
    float lo, hi, l2, h2;
    int p = chain_start(g, &ed->uses, qi, &c, &lo, &hi);
    if (p < 0 || ed->remove[p]) return LCV_OK;
    const lcv_node *n = &g->nodes[p];
    if (n->op != LCV_OP_Add || n->n_in != 2 || n->n_out != 1 || n->fused.residual >= 0 ||
        g->values[n->out[0]].dtype != LCV_DTYPE_FLOAT32 || !clamp_of_fused(&n->fused, &l2, &h2))
        return LCV_OK;
    lo = lo > l2 ? lo : l2;
    hi = hi < h2 ? hi : h2;
    if (!clamp_as_relu(&c, lo, hi)) return LCV_OK;
    qparm x[2];
    int ins[8];
    for (int k = 0; k < 2; k++) {
        int v = n->in[k], d = v >= 0 ? dq_act(g, v, &x[k]) : -1;
        if (d < 0 || ed->remove[d] || x[k].dt != c.y.dt ||
            lcv_pass_sole_consumer(g, &ed->uses, v) != p)
            return LCV_OK;
        ins[3 * k] = g->nodes[d].in[0];
        ins[3 * k + 1] = x[k].s_id;
        ins[3 * k + 2] = x[k].z_id;
    }
    const lcv_value *va = &g->values[n->in[0]], *vb = &g->values[n->in[1]];
    if (va->ndim < 0 || !lcv_shape_equal(va->ndim, va->dims, vb->ndim, vb->dims)) return LCV_OK;
    ins[6] = c.y.s_id;
    ins[7] = c.y.z_id;
    c.op = p;
    /* the graph imports the domain of each of its nodes (an ONNX writer needs it) */
    lcv_status st = LCV_OK;
    if (lcv_graph_opset(g, "com.microsoft") < 0) st = lcv_graph_add_opset(g, "com.microsoft", 1, e);
    if (st != LCV_OK) return st;
    char *dom = malloc(sizeof "com.microsoft");
    if (!dom) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory fusing node '%s'", n->name);
    memcpy(dom, "com.microsoft", sizeof "com.microsoft");
    st = become(&g->nodes[p], "QLinearAdd", LCV_OP_QLinearAdd, 1, ins, 8, e);
    if (st != LCV_OK) {
        free(dom);
        return st;
    }
    /* the contrib domain's own opset (1), not the default domain's the Add had */
    lcv_node *m = &g->nodes[p];
    free(m->domain);
    m->domain = dom;
    m->opset = 1;
    ed->uses.count[ins[0]]++;
    ed->uses.count[ins[3]]++;
    finish_chain(g, ed, &c);
    *done = true;
    return LCV_OK;
}

lcv_status lcv_pass_fuse_qdq(lcv_graph *g, bool *changed, lcv_err *e) {
    lcv_pass_edit ed;
    lcv_status st = lcv_pass_edit_begin(g, &ed, e);
    if (st != LCV_OK) return st;
    for (int i = 0; st == LCV_OK && i < g->n_nodes; i++) {
        if (g->nodes[i].op != LCV_OP_QuantizeLinear || ed.remove[i]) continue;
        chain c;
        bool done = false;
        if (find_chain(g, &ed.uses, i, &c) && !ed.remove[c.op]) {
            if (g->nodes[c.op].op == LCV_OP_Conv) st = fuse_conv(g, &ed, &c, &done, e);
            else st = fuse_matmul(g, &ed, &c, &done, e);
        }
        if (st == LCV_OK && !done) st = fuse_add(g, &ed, i, &done, e);
        if (st == LCV_OK && !done) fuse_passthrough(g, &ed, i, &done);
    }
    lcv_pass_edit_end(g, &ed, changed);
    return st;
}
