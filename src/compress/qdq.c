/* qdq.c - the graph side of quantization: a float model prepared for it (constants folded,
 * BatchNorm folded into Conv, nothing else, so no leancv-internal fused epilogue reaches the
 * file), the nodes that get quantized, the calibration graph (intermediate values exposed as
 * outputs), the QDQ rewrite in ONNX Runtime's QDQ form, and half-precision initializers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../frontends/onnx/onnx.h"
#include "../passes/passes.h"
#include "../runtime/model.h"
#include "compress.h"

static const char *const QUANTIZED_OPS[] = {
    "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "QLinearConv",
    "QLinearMatMul", "ConvInteger", "MatMulInteger"};

static bool default_domain(const char *d) { return !d[0] || strcmp(d, "ai.onnx") == 0; }

static lcv_status refuse_quantized(const lcv_graph *g, lcv_err *e) {
    for (int i = 0; i < g->n_nodes; i++)
        for (size_t k = 0; k < sizeof QUANTIZED_OPS / sizeof QUANTIZED_OPS[0]; k++)
            if (strcmp(g->nodes[i].op_type, QUANTIZED_OPS[k]) == 0)
                return lcv_fail(e, LCV_ERR_INVALID_ARG, "node '%s' (%s): the model is already "
                                "quantized; quantize its float original", g->nodes[i].name,
                                g->nodes[i].op_type);
    return LCV_OK;
}

/* Initializers no node reads (weights replaced by folded or quantized ones) leave the file. */
static void drop_unused_constants(lcv_graph *g) {
    bool *used = calloc((size_t)g->n_values + 1, sizeof *used);
    if (!used) return; /* they are only written needlessly */
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++)
            if (g->nodes[i].in[k] >= 0) used[g->nodes[i].in[k]] = true;
    for (int v = 0; v < g->n_values; v++) {
        lcv_value *val = &g->values[v];
        if (used[v] || val->is_output || val->is_input || val->producer >= 0 || !val->init)
            continue;
        lcv_tensor_free(val->init);
        val->init = NULL;
        val->is_initializer = false;
    }
    free(used);
}

/* Computed values lose the batch-1 shapes analysis gave them (the file would declare them);
 * graph outputs get back the types the file declared. */
static lcv_status restore_types(lcv_graph *g, const lcv_graph *orig, lcv_err *e) {
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].producer >= 0 && !g->values[v].init) g->values[v].ndim = -1;
    for (int k = 0; k < g->n_outputs; k++) {
        lcv_value *v = &g->values[g->outputs[k]];
        int o = lcv_graph_find(orig, v->name);
        if (o < 0 || v->init) continue;
        const lcv_value *ov = &orig->values[o];
        v->dtype = ov->dtype;
        v->ndim = ov->ndim;
        for (int d = 0; d < ov->ndim; d++) {
            v->dims[d] = ov->dims[d];
            free(v->dim_params[d]);
            v->dim_params[d] = NULL;
            if (ov->dim_params[d] && !(v->dim_params[d] = strdup(ov->dim_params[d])))
                return lcv_fail(e, LCV_ERR_NOMEM, "out of memory");
        }
    }
    return LCV_OK;
}

lcv_status lcv_qdq_prepare(const void *data, size_t size, lcv_graph **out, lcv_err *e) {
    *out = NULL;
    lcv_graph *orig = NULL;
    lcv_status st = lcv_onnx_import(data, size, NULL, 0, &orig, e);
    if (st == LCV_OK) st = refuse_quantized(orig, e);
    if (st != LCV_OK) {
        lcv_graph_free(orig);
        return st;
    }
    lcv_model_params p = lcv_model_default_params();
    p.optimize = 0;
    p.reference_kernels = 1;
    lcv_model *m = NULL;
    st = lcv_model_load_buffer(data, size, &p, &m);
    if (st != LCV_OK) {
        lcv_fail(e, st, "%s", m ? lcv_model_errmsg(m) : "out of memory loading the model");
        lcv_model_free(m);
        lcv_graph_free(orig);
        return st;
    }
    /* The model is ours alone: take its graph, already resolved, ordered and folded. */
    lcv_graph *g = m->g;
    lcv_graph_remove_nodes(g, m->folded);
    m->g = NULL;
    lcv_model_free(m);
    bool changed = true;
    for (int round = 0; round < 8 && changed && st == LCV_OK; round++) {
        changed = false;
        st = lcv_pass_fuse_conv_bn(g, &changed, e);
    }
    if (st == LCV_OK) st = lcv_graph_toposort(g, e);
    if (st == LCV_OK) st = restore_types(g, orig, e);
    lcv_graph_free(orig);
    if (st != LCV_OK) {
        lcv_graph_free(g);
        return st;
    }
    drop_unused_constants(g);
    *out = g;
    return LCV_OK;
}

static const lcv_tensor *const_f32(const lcv_graph *g, int id) {
    if (id < 0 || id >= g->n_values) return NULL;
    const lcv_tensor *t = g->values[id].init;
    return t && t->dtype == LCV_DTYPE_FLOAT32 && t->data ? t : NULL;
}

static int64_t attr_int(const lcv_node *n, const char *name, int64_t dflt) {
    for (int k = 0; k < n->n_attrs; k++)
        if (strcmp(n->attrs[k].name, name) == 0 && n->attrs[k].type == LCV_ATTR_INT)
            return n->attrs[k].i;
    return dflt;
}

static float attr_float(const lcv_node *n, const char *name, float dflt) {
    for (int k = 0; k < n->n_attrs; k++)
        if (strcmp(n->attrs[k].name, name) == 0 && n->attrs[k].type == LCV_ATTR_FLOAT)
            return n->attrs[k].f;
    return dflt;
}

/* Whether node n is quantizable, filling s. */
static bool site_of(const lcv_graph *g, int i, lcv_qsite *s) {
    const lcv_node *n = &g->nodes[i];
    if (!default_domain(n->domain) || n->n_in < 2 || n->in[0] < 0) return false;
    const lcv_value *x = &g->values[n->in[0]];
    const lcv_tensor *w = const_f32(g, n->in[1]);
    if (x->init || x->dtype != LCV_DTYPE_FLOAT32 || !w) return false;
    int64_t chan;
    s->node = i;
    s->x = n->in[0];
    s->in_index = 0;
    s->weights = true;
    s->bias = false;
    if (strcmp(n->op_type, "Conv") == 0) {
        if (w->ndim < 3) return false;
        s->w_axis = 0;
    } else if (strcmp(n->op_type, "Gemm") == 0) {
        if (w->ndim != 2) return false;
        s->w_axis = attr_int(n, "transB", 0) ? 0 : 1;
    } else if (strcmp(n->op_type, "MatMul") == 0) {
        if (w->ndim < 2) return false;
        s->w_axis = w->ndim - 1;
    } else {
        return false;
    }
    chan = w->dims[s->w_axis];
    const lcv_tensor *b = n->n_in > 2 ? const_f32(g, n->in[2]) : NULL;
    bool plain = strcmp(n->op_type, "Conv") == 0 ||
                 (attr_float(n, "alpha", 1.0f) == 1.0f && attr_float(n, "beta", 1.0f) == 1.0f);
    s->bias = b && plain && b->ndim == 1 && b->dims[0] == chan;
    return true;
}

/* Readers of value v. */
static int readers(const lcv_graph *g, int v) {
    int r = g->values[v].is_output ? 1 : 0;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++) r += g->nodes[i].in[k] == v;
    return r;
}

/* Whether value v is a quantizable node's output, or a Relu or Clip of one that is that
 * output's only use. (Other readers of v share its QuantizeLinear when they are quantized
 * too, like the next block's first Conv beside a residual Add.) */
static bool from_weighted(const lcv_graph *g, int v, const bool *weighted) {
    int p = v >= 0 ? g->values[v].producer : -1;
    if (p < 0 || g->values[v].dtype != LCV_DTYPE_FLOAT32) return false;
    if (weighted[p]) return true;
    if (readers(g, v) != 1) return false;
    const lcv_node *a = &g->nodes[p];
    if (!default_domain(a->domain) || a->n_in < 1 ||
        (strcmp(a->op_type, "Relu") != 0 && strcmp(a->op_type, "Clip") != 0))
        return false;
    int u = a->in[0], q = u >= 0 ? g->values[u].producer : -1;
    return q >= 0 && weighted[q] && readers(g, u) == 1;
}

/* Input k of an Add or MaxPool node i as a site when it comes from a quantizable node (a
 * residual branch's last Conv, a stem Conv before its pooling): with a QuantizeLinear
 * after it, that node runs on integers (ONNX Runtime quantizes these inputs likewise). */
static bool add_site(const lcv_graph *g, int i, int k, const bool *weighted, lcv_qsite *s) {
    const lcv_node *n = &g->nodes[i];
    bool add = strcmp(n->op_type, "Add") == 0 && n->n_in == 2;
    bool pool = strcmp(n->op_type, "MaxPool") == 0 && k == 0;
    if (!default_domain(n->domain) || (!add && !pool) || k >= n->n_in) return false;
    int v = n->in[k];
    if (!from_weighted(g, v, weighted)) return false;
    memset(s, 0, sizeof *s);
    s->node = i;
    s->x = v;
    s->in_index = k;
    return true;
}

lcv_status lcv_qdq_sites(const lcv_graph *g, lcv_qsite **sites, int *n, lcv_err *e) {
    *n = 0;
    *sites = calloc((size_t)g->n_nodes * 2 + 1, sizeof **sites);
    bool *weighted = calloc((size_t)g->n_nodes + 1, sizeof *weighted);
    if (!*sites || !weighted) {
        free(weighted);
        return lcv_fail(e, LCV_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < g->n_nodes; i++)
        if (site_of(g, i, &(*sites)[*n])) {
            weighted[i] = true;
            (*n)++;
        }
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < 2; k++)
            if (add_site(g, i, k, weighted, &(*sites)[*n])) (*n)++;
    free(weighted);
    return LCV_OK;
}

lcv_status lcv_qdq_write_with_outputs(lcv_graph *g, const int *extra, int n_extra,
                                      void **data, size_t *size, lcv_err *e) {
    int n0 = g->n_outputs;
    lcv_status st = LCV_OK;
    for (int k = 0; k < n_extra && st == LCV_OK; k++)
        if (!g->values[extra[k]].is_output) st = lcv_graph_add_output(g, extra[k], e);
    if (st == LCV_OK) st = lcv_onnx_write_graph(g, 0, data, size, e);
    for (int k = n0; k < g->n_outputs; k++) g->values[g->outputs[k]].is_output = false;
    g->n_outputs = n0;
    return st;
}

/* ---- the rewrite ---- */

/* A value name "<base><suffix>" not in g yet. */
static void fresh(const lcv_graph *g, const char *base, const char *suffix, char *buf,
                  size_t cap) {
    snprintf(buf, cap, "%.200s%s", base, suffix);
    for (int k = 1; lcv_graph_find(g, buf) >= 0; k++)
        snprintf(buf, cap, "%.200s%s_%d", base, suffix, k);
}

/* Adds node op(in0, in1, in2) -> a fresh "<base><suffix>", with attribute axis when >= 0.
 * *out receives the output's id. */
static lcv_status add_node(lcv_graph *g, const char *op, int in0, int in1, int in2,
                           const char *base, const char *suffix, int64_t axis, int *out,
                           lcv_err *e) {
    char name[260], oname[260];
    fresh(g, base, suffix, oname, sizeof oname);
    snprintf(name, sizeof name, "%.230s_%s", oname, op);
    char *ins[3] = {g->values[in0].name, in1 >= 0 ? g->values[in1].name : NULL,
                    in2 >= 0 ? g->values[in2].name : NULL};
    const char *cins[3] = {ins[0], ins[1], ins[2]};
    const char *outs[1] = {oname};
    lcv_node *n = NULL;
    lcv_status st = lcv_graph_add_node(g, name, op, "", in2 >= 0 ? 3 : 2, cins, 1, outs, &n, e);
    if (st == LCV_OK && axis >= 0) {
        lcv_attr *a;
        st = lcv_node_add_attr(n, "axis", &a, e);
        if (st == LCV_OK) {
            a->type = LCV_ATTR_INT;
            a->i = axis;
        }
    }
    if (st == LCV_OK) {
        n->opset = (int)lcv_graph_opset(g, "");
        *out = lcv_graph_find(g, oname);
    }
    return st;
}

static lcv_status add_const(lcv_graph *g, const char *base, const char *suffix, lcv_tensor *t,
                            int *id, lcv_err *e) {
    if (!t) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory quantizing '%s'", base);
    return lcv_pass_add_constant(g, base, suffix, t, id, e);
}

static lcv_tensor *scalar(lcv_dtype dtype, double v) {
    lcv_tensor *t = NULL;
    if (lcv_tensor_create(dtype, 0, NULL, &t) != LCV_OK) return NULL;
    lcv_store_f64(dtype, t->data, 0, v);
    return t;
}

static lcv_tensor *zeros_like(lcv_dtype dtype, const lcv_tensor *shape) {
    lcv_tensor *t = NULL;
    return lcv_tensor_create(dtype, shape->ndim, shape->dims, &t) == LCV_OK ? t : NULL;
}

/* Q -> DQ on activation x; *dq receives the dequantized value. */
static lcv_status qdq_activation(lcv_graph *g, int x, float scale, int32_t zp, bool sym,
                                 int *dq, lcv_err *e) {
    char base[220];
    snprintf(base, sizeof base, "%.200s", g->values[x].name);
    lcv_dtype zt = sym ? LCV_DTYPE_INT8 : LCV_DTYPE_UINT8;
    int sid, zid, q;
    lcv_status st = add_const(g, base, "_scale", scalar(LCV_DTYPE_FLOAT32, scale), &sid, e);
    if (st == LCV_OK) st = add_const(g, base, "_zero_point", scalar(zt, zp), &zid, e);
    if (st == LCV_OK) st = add_node(g, "QuantizeLinear", x, sid, zid, base, "_quantized", -1, &q, e);
    if (st == LCV_OK)
        st = add_node(g, "DequantizeLinear", q, sid, zid, base, "_dequantized", -1, dq, e);
    return st;
}

/* Replaces the float bias of site s (adding one where there is none) by its corrected value
 * for the quantized weight q, sc. */
static lcv_status correct_bias(lcv_graph *g, const lcv_qsite *s, const lcv_tensor *q,
                               const lcv_tensor *sc, int axis, const char *base, lcv_err *e) {
    lcv_tensor *nb = NULL;
    int bid;
    lcv_status st = lcv_bias_corrected(g, s, q, sc, axis, &nb, e);
    if (st == LCV_OK) st = add_const(g, base, "_bias_corrected", nb, &bid, e);
    if (st != LCV_OK) return st;
    lcv_node *n = &g->nodes[s->node];
    if (n->n_in > 2) {
        n->in[2] = bid;
        return LCV_OK;
    }
    return lcv_pass_append_input(n, bid, e);
}

/* Weight (and bias) of site s as int8 (int32) through DequantizeLinear; with bias correction,
 * the bias is corrected for this very int8 weight first. */
static lcv_status qdq_weights(lcv_graph *g, const lcv_qsite *s, float sx,
                              const lcv_quantize_params *p, lcv_err *e) {
    int wv = g->nodes[s->node].in[1];
    char base[220];
    snprintf(base, sizeof base, "%.200s", g->values[wv].name);
    lcv_tensor *q = NULL, *sc = NULL, *qb = NULL;
    int axis = p->per_tensor_weights ? -1 : s->w_axis;
    lcv_status st = lcv_quant_weight_int8(g->values[wv].init, axis, &q, &sc, e);
    bool has_bias = s->bias;
    if (st == LCV_OK && p->bias_correction && lcv_qdq_correctable(g, s)) {
        st = correct_bias(g, s, q, sc, axis, base, e);
        has_bias = true;
    }
    if (st == LCV_OK && has_bias)
        st = lcv_quant_bias_int32(g->values[g->nodes[s->node].in[2]].init, sx, sc, &qb, e);
    lcv_tensor *bscale = NULL;
    if (st == LCV_OK && has_bias) { /* the bias scale is s_x * s_w, per channel like s_w */
        if (!(bscale = zeros_like(LCV_DTYPE_FLOAT32, sc)))
            st = lcv_fail(e, LCV_ERR_NOMEM, "out of memory quantizing '%s'", base);
        for (int64_t c = 0; bscale && c < lcv_tensor_count(sc); c++)
            ((float *)bscale->data)[c] = sx * ((const float *)sc->data)[c];
    }
    lcv_tensor *wz = st == LCV_OK ? zeros_like(LCV_DTYPE_INT8, sc) : NULL;
    lcv_tensor *bz = st == LCV_OK && has_bias ? zeros_like(LCV_DTYPE_INT32, sc) : NULL;
    if (st != LCV_OK) {
        lcv_tensor_free(q);
        lcv_tensor_free(sc);
        lcv_tensor_free(qb);
        lcv_tensor_free(bscale);
        return st;
    }
    int qid, sid, zid, dq;
    st = add_const(g, base, "_quantized", q, &qid, e);
    if (st == LCV_OK) st = add_const(g, base, "_scale", sc, &sid, e);
    else lcv_tensor_free(sc);
    if (st == LCV_OK) st = add_const(g, base, "_zero_point", wz, &zid, e);
    else lcv_tensor_free(wz);
    if (st == LCV_OK)
        st = add_node(g, "DequantizeLinear", qid, sid, zid, base, "_dequantized", axis, &dq, e);
    if (st == LCV_OK) g->nodes[s->node].in[1] = dq;
    if (!has_bias || st != LCV_OK) {
        lcv_tensor_free(qb);
        lcv_tensor_free(bscale);
        lcv_tensor_free(bz);
        return st;
    }
    int bv = g->nodes[s->node].in[2];
    snprintf(base, sizeof base, "%.200s", g->values[bv].name);
    st = add_const(g, base, "_quantized", qb, &qid, e);
    if (st == LCV_OK) st = add_const(g, base, "_scale", bscale, &sid, e);
    else lcv_tensor_free(bscale);
    if (st == LCV_OK) st = add_const(g, base, "_zero_point", bz, &zid, e);
    else lcv_tensor_free(bz);
    if (st == LCV_OK)
        st = add_node(g, "DequantizeLinear", qid, sid, zid, base, "_dequantized",
                      axis >= 0 ? 0 : -1, &dq, e);
    if (st == LCV_OK) g->nodes[s->node].in[2] = dq;
    return st;
}

lcv_status lcv_qdq_check_opset(const lcv_graph *g, const lcv_quantize_params *p, lcv_err *e) {
    int64_t opset = lcv_graph_opset(g, "");
    if (opset < 10)
        return lcv_fail(e, LCV_ERR_UNSUPPORTED, "the model imports opset %lld; "
                        "QuantizeLinear needs opset >= 10", (long long)opset);
    if (opset < 13 && !p->per_tensor_weights)
        return lcv_fail(e, LCV_ERR_UNSUPPORTED, "the model imports opset %lld; per-channel "
                        "weight scales need opset >= 13 (quantize weights per tensor)",
                        (long long)opset);
    return LCV_OK;
}

lcv_status lcv_qdq_rewrite(lcv_graph *g, const lcv_qsite *sites, int n, const bool *on,
                           const float *lo, const float *hi, const lcv_quantize_params *p,
                           lcv_err *e) {
    lcv_status st = lcv_qdq_check_opset(g, p, e);
    if (st != LCV_OK) return st;
    int nv = g->n_values;
    int *dq_of = malloc(sizeof(int) * (size_t)(nv + 1));
    if (!dq_of) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory");
    for (int v = 0; v < nv; v++) dq_of[v] = -1;
    bool sym = p->int8_activations != 0;
    for (int k = 0; k < n && st == LCV_OK; k++) {
        if (!on[k]) continue;
        const lcv_qsite *s = &sites[k];
        float scale;
        int32_t zp;
        lcv_act_qparams(lo[k], hi[k], sym, &scale, &zp);
        /* One Q/DQ pair per activation, shared by every quantized reader. */
        if (dq_of[s->x] < 0) st = qdq_activation(g, s->x, scale, zp, sym, &dq_of[s->x], e);
        if (st != LCV_OK) break;
        g->nodes[s->node].in[s->in_index] = dq_of[s->x];
        if (s->weights) st = qdq_weights(g, s, scale, p, e);
        if (st != LCV_OK) lcv_err_prefix(e, "node '%s' (%s)", g->nodes[s->node].name,
                                         g->nodes[s->node].op_type);
    }
    free(dq_of);
    if (st == LCV_OK) st = lcv_graph_toposort(g, e);
    if (st == LCV_OK) drop_unused_constants(g);
    return st;
}

lcv_status lcv_qdq_half(lcv_graph *g, lcv_dtype dtype, lcv_err *e) {
    if (dtype == LCV_DTYPE_BFLOAT16 && lcv_graph_opset(g, "") < 13)
        return lcv_fail(e, LCV_ERR_UNSUPPORTED, "bfloat16 weights need opset >= 13 (Cast from "
                        "bfloat16); the model imports opset %lld", (long long)lcv_graph_opset(g, ""));
    const char *tag = dtype == LCV_DTYPE_FLOAT16 ? "_fp16" : "_bf16";
    int nv = g->n_values;
    lcv_status st = LCV_OK;
    for (int v = 0; v < nv && st == LCV_OK; v++) {
        lcv_value *val = &g->values[v];
        if (!val->init || val->producer >= 0 || val->is_input || val->is_output ||
            val->init->dtype != LCV_DTYPE_FLOAT32)
            continue;
        lcv_tensor *h = NULL;
        st = lcv_tensor_to_half(val->init, dtype, &h, e);
        if (st != LCV_OK) break;
        lcv_tensor_free(val->init);
        val->init = NULL;
        val->is_initializer = false;
        char base[220];
        snprintf(base, sizeof base, "%.200s", g->values[v].name);
        int hid;
        st = lcv_pass_add_constant(g, base, tag, h, &hid, e);
        if (st != LCV_OK) break;
        const char *in[1] = {g->values[hid].name}, *out[1] = {g->values[v].name};
        char name[240];
        snprintf(name, sizeof name, "%s_Cast", base);
        lcv_node *n = NULL;
        st = lcv_graph_add_node(g, name, "Cast", "", 1, in, 1, out, &n, e);
        lcv_attr *a;
        if (st == LCV_OK) st = lcv_node_add_attr(n, "to", &a, e);
        if (st == LCV_OK) {
            a->type = LCV_ATTR_INT;
            a->i = LCV_DTYPE_FLOAT32;
            n->opset = (int)lcv_graph_opset(g, "");
        }
    }
    return st == LCV_OK ? lcv_graph_toposort(g, e) : st;
}
