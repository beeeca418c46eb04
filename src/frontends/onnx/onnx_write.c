/* onnx_write.c - serializes an lcv_graph as an ONNX ModelProto: IR version, opset imports,
 * producer "leancv", the nodes in graph order with their attributes, initializers as raw
 * little-endian data, and the declared types of inputs, outputs and typed intermediate values
 * (symbolic dims as dim_param). What the optimizer fused into a node (a residual Add and an
 * activation) is written back as the standard nodes it stands for. Field numbers are those of
 * onnx.proto. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.h"
#include "pbwrite.h"

enum { M_IR_VERSION = 1, M_PRODUCER_NAME = 2, M_PRODUCER_VERSION = 3, M_GRAPH = 7, M_OPSET = 8 };
enum { G_NODE = 1, G_NAME = 2, G_INITIALIZER = 5, G_INPUT = 11, G_OUTPUT = 12, G_VALUE_INFO = 13 };
enum { N_INPUT = 1, N_OUTPUT = 2, N_NAME = 3, N_OP_TYPE = 4, N_ATTRIBUTE = 5, N_DOMAIN = 7 };
enum { A_NAME = 1, A_F = 2, A_I = 3, A_S = 4, A_T = 5, A_FLOATS = 7, A_INTS = 8, A_STRINGS = 9,
       A_TYPE = 20 };
enum { T_DIMS = 1, T_DATA_TYPE = 2, T_NAME = 8, T_RAW_DATA = 9 };

/* protobuf messages are limited to 2 GiB; larger models need ONNX external data. */
#define MAX_MODEL_BYTES ((size_t)0x7fffffff)

typedef struct wctx {
    const lcv_graph *g;
    lcv_pbw w;
    lcv_err *e;
    int64_t opset; /* of the default domain, as written */
    int64_t ir;
    bool *used;    /* per value: read by a node or a graph output */
} wctx;

/* IR version that came with each default-domain opset (onnx/helper.py, VERSION_TABLE). */
static int64_t ir_for_opset(int64_t opset) {
    static const struct { int64_t opset, ir; } table[] = {
        {8, 3}, {9, 4}, {10, 5}, {11, 6}, {14, 7}, {18, 8}, {20, 9}};
    for (size_t k = 0; k < sizeof table / sizeof table[0]; k++)
        if (opset <= table[k].opset) return table[k].ir;
    return 10;
}

static lcv_status write_tensor(wctx *c, uint32_t field, const lcv_tensor *t, const char *name,
                               const char *where) {
    size_t esz = lcv_dtype_size(t->dtype);
    int64_t numel;
    size_t bytes;
    if (esz == 0 || t->dtype == LCV_DTYPE_STRING)
        return lcv_fail(c->e, LCV_ERR_UNSUPPORTED, "%s: tensors of dtype %s cannot be written",
                        where, lcv_dtype_name(t->dtype));
    if (!lcv_shape_numel(t->ndim, t->dims, &numel) || !lcv_mul_size((size_t)numel, esz, &bytes))
        return lcv_fail(c->e, LCV_ERR_UNSUPPORTED, "%s: tensor is too large", where);
    if (bytes && !t->data) /* analyze.c frees weights a plan keeps packed */
        return lcv_fail(c->e, LCV_ERR_INVALID_ARG, "%s: tensor data was released after planning "
                        "(load the model with reference_kernels to write it)", where);
    size_t mark = lcv_pbw_begin(&c->w, field);
    if (t->ndim > 0) lcv_pbw_packed_int64(&c->w, T_DIMS, t->dims, (size_t)t->ndim);
    lcv_pbw_varint(&c->w, T_DATA_TYPE, (uint64_t)t->dtype);
    if (name) lcv_pbw_string(&c->w, T_NAME, name);
    lcv_pbw_bytes(&c->w, T_RAW_DATA, t->data, bytes);
    lcv_pbw_end(&c->w, mark);
    return LCV_OK;
}

/* ValueInfoProto: name, and TypeProto.tensor_type with what is known of dtype and shape. */
static void write_value_info(wctx *c, uint32_t field, const lcv_value *v) {
    lcv_pbw *w = &c->w;
    size_t vi = lcv_pbw_begin(w, field);
    lcv_pbw_string(w, 1, v->name);
    size_t type = lcv_pbw_begin(w, 2);
    size_t tensor = lcv_pbw_begin(w, 1);
    if (v->dtype != LCV_DTYPE_UNDEFINED) lcv_pbw_varint(w, 1, (uint64_t)v->dtype);
    if (v->ndim >= 0) {
        size_t shape = lcv_pbw_begin(w, 2);
        for (int i = 0; i < v->ndim; i++) {
            size_t dim = lcv_pbw_begin(w, 1);
            if (v->dims[i] >= 0)
                lcv_pbw_varint(w, 1, (uint64_t)v->dims[i]);
            else if (v->dim_params[i])
                lcv_pbw_string(w, 2, v->dim_params[i]);
            lcv_pbw_end(w, dim);
        }
        lcv_pbw_end(w, shape);
    }
    lcv_pbw_end(w, tensor);
    lcv_pbw_end(w, type);
    lcv_pbw_end(w, vi);
}

static lcv_status write_attr(wctx *c, const lcv_node *n, const lcv_attr *a) {
    lcv_pbw *w = &c->w;
    const char *kind = NULL;
    switch (a->type) {
    case LCV_ATTR_GRAPH:
    case LCV_ATTR_GRAPHS: kind = "graph"; break;
    case LCV_ATTR_TENSORS: kind = "tensor list"; break;
    case LCV_ATTR_SPARSE_TENSOR:
    case LCV_ATTR_SPARSE_TENSORS: kind = "sparse tensor"; break;
    case LCV_ATTR_TYPE_PROTO:
    case LCV_ATTR_TYPE_PROTOS: kind = "type"; break;
    case LCV_ATTR_UNDEFINED: kind = "untyped"; break;
    default: break;
    }
    if (kind)
        return lcv_fail(c->e, LCV_ERR_UNSUPPORTED, "node '%s' (%s): attribute '%s' is a %s "
                        "attribute, whose value leancv does not keep, so it cannot be written",
                        n->name, n->op_type, a->name, kind);
    size_t mark = lcv_pbw_begin(w, N_ATTRIBUTE);
    lcv_pbw_string(w, A_NAME, a->name);
    switch (a->type) {
    case LCV_ATTR_FLOAT: lcv_pbw_float(w, A_F, a->f); break;
    case LCV_ATTR_INT: lcv_pbw_varint(w, A_I, (uint64_t)a->i); break;
    case LCV_ATTR_STRING: lcv_pbw_bytes(w, A_S, a->s ? a->s : "", a->s ? a->s_len : 0); break;
    case LCV_ATTR_TENSOR: {
        if (!a->t)
            return lcv_fail(c->e, LCV_ERR_INVALID_ARG, "node '%s' (%s): tensor attribute '%s' "
                            "has no tensor", n->name, n->op_type, a->name);
        char where[200];
        snprintf(where, sizeof where, "node '%.80s' attribute '%.80s'", n->name, a->name);
        lcv_status st = write_tensor(c, A_T, a->t, NULL, where);
        if (st != LCV_OK) return st;
        break;
    }
    case LCV_ATTR_FLOATS:
        if (a->n > 0) lcv_pbw_packed_float(w, A_FLOATS, a->floats, (size_t)a->n);
        break;
    case LCV_ATTR_INTS:
        if (a->n > 0) lcv_pbw_packed_int64(w, A_INTS, a->ints, (size_t)a->n);
        break;
    case LCV_ATTR_STRINGS:
        for (int64_t k = 0; k < a->n; k++) lcv_pbw_string(w, A_STRINGS, a->strings[k]);
        break;
    default: break;
    }
    lcv_pbw_varint(w, A_TYPE, (uint64_t)a->type);
    lcv_pbw_end(w, mark);
    return LCV_OK;
}

static const char *value_name(const lcv_graph *g, int id) {
    return id >= 0 ? g->values[id].name : "";
}

/* A NodeProto. n_in inputs of node are written (a fused residual is not the op's input); out0,
 * when not NULL, replaces the name of output 0. */
static lcv_status write_node(wctx *c, const lcv_node *n, int n_in, const char *out0) {
    lcv_pbw *w = &c->w;
    size_t mark = lcv_pbw_begin(w, G_NODE);
    for (int i = 0; i < n_in; i++) lcv_pbw_string(w, N_INPUT, value_name(c->g, n->in[i]));
    for (int i = 0; i < n->n_out; i++)
        lcv_pbw_string(w, N_OUTPUT, i == 0 && out0 ? out0 : value_name(c->g, n->out[i]));
    lcv_pbw_string(w, N_NAME, n->name);
    lcv_pbw_string(w, N_OP_TYPE, n->op_type);
    for (int k = 0; k < n->n_attrs; k++) {
        lcv_status st = write_attr(c, n, &n->attrs[k]);
        if (st != LCV_OK) return st;
    }
    if (n->domain && n->domain[0]) lcv_pbw_string(w, N_DOMAIN, n->domain);
    lcv_pbw_end(w, mark);
    return LCV_OK;
}

/* ---- fused epilogues as standard nodes ---- */

/* A value name derived from base that the graph does not use. buf holds at least cap bytes. */
static void fresh_name(const lcv_graph *g, const char *base, const char *tag, char *buf,
                       size_t cap) {
    snprintf(buf, cap, "%s/%s", base, tag);
    for (int k = 2; lcv_graph_find(g, buf) >= 0; k++) snprintf(buf, cap, "%s/%s%d", base, tag, k);
}

/* A node with up to two inputs, one output and an optional float attribute pair. */
static void simple_node(wctx *c, const char *name, const char *op, const char *in0,
                        const char *in1, const char *out, int n_f, const char *const *fnames,
                        const float *fvals) {
    lcv_pbw *w = &c->w;
    size_t mark = lcv_pbw_begin(w, G_NODE);
    lcv_pbw_string(w, N_INPUT, in0);
    if (in1) lcv_pbw_string(w, N_INPUT, in1);
    lcv_pbw_string(w, N_OUTPUT, out);
    lcv_pbw_string(w, N_NAME, name);
    lcv_pbw_string(w, N_OP_TYPE, op);
    for (int k = 0; k < n_f; k++) {
        size_t a = lcv_pbw_begin(w, N_ATTRIBUTE);
        lcv_pbw_string(w, A_NAME, fnames[k]);
        lcv_pbw_float(w, A_F, fvals[k]);
        lcv_pbw_varint(w, A_TYPE, LCV_ATTR_FLOAT);
        lcv_pbw_end(w, a);
    }
    lcv_pbw_end(w, mark);
}

/* A Constant node holding a float32 scalar. */
static lcv_status constant_node(wctx *c, const char *name, const char *out, float v) {
    lcv_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = LCV_DTYPE_FLOAT32;
    t.data = &v;
    lcv_pbw *w = &c->w;
    size_t mark = lcv_pbw_begin(w, G_NODE);
    lcv_pbw_string(w, N_OUTPUT, out);
    lcv_pbw_string(w, N_NAME, name);
    lcv_pbw_string(w, N_OP_TYPE, "Constant");
    size_t a = lcv_pbw_begin(w, N_ATTRIBUTE);
    lcv_pbw_string(w, A_NAME, "value");
    lcv_status st = write_tensor(c, A_T, &t, NULL, name);
    lcv_pbw_varint(w, A_TYPE, LCV_ATTR_TENSOR);
    lcv_pbw_end(w, a);
    lcv_pbw_end(w, mark);
    return st;
}

/* The activation of node n applied to x, written to out. */
static lcv_status write_act(wctx *c, const lcv_node *n, const char *x, const char *out) {
    const lcv_fused *f = &n->fused;
    char nm[600], t1[600], t2[600];
    static const char *const ab[2] = {"alpha", "beta"};
    static const char *const minmax[2] = {"min", "max"};
    float v[2] = {f->alpha, f->beta};
    snprintf(nm, sizeof nm, "%s/fused", n->name);
    switch (f->act) {
    case LCV_ACT_RELU: simple_node(c, nm, "Relu", x, NULL, out, 0, NULL, NULL); break;
    case LCV_ACT_SIGMOID: simple_node(c, nm, "Sigmoid", x, NULL, out, 0, NULL, NULL); break;
    case LCV_ACT_TANH: simple_node(c, nm, "Tanh", x, NULL, out, 0, NULL, NULL); break;
    case LCV_ACT_LEAKYRELU: simple_node(c, nm, "LeakyRelu", x, NULL, out, 1, ab, v); break;
    case LCV_ACT_HARDSIGMOID: simple_node(c, nm, "HardSigmoid", x, NULL, out, 2, ab, v); break;
    case LCV_ACT_HARDSWISH:
        if (c->opset < 14)
            return lcv_fail(c->e, LCV_ERR_UNSUPPORTED, "node '%s': a fused HardSwish needs "
                            "opset 14 or later (writing opset %lld)", n->name,
                            (long long)c->opset);
        simple_node(c, nm, "HardSwish", x, NULL, out, 0, NULL, NULL);
        break;
    case LCV_ACT_SILU: /* x * sigmoid(x) */
        fresh_name(c->g, out, "sigmoid", t1, sizeof t1);
        simple_node(c, nm, "Sigmoid", x, NULL, t1, 0, NULL, NULL);
        snprintf(nm, sizeof nm, "%s/fused_mul", n->name);
        simple_node(c, nm, "Mul", x, t1, out, 0, NULL, NULL);
        break;
    case LCV_ACT_GELU: { /* x * (1 + Erf(x / sqrt 2)) * 0.5, the form exporters write */
        if (c->opset < 9)
            return lcv_fail(c->e, LCV_ERR_UNSUPPORTED, "node '%s': a fused GELU needs Erf, "
                            "opset 9 or later (writing opset %lld)", n->name, (long long)c->opset);
        static const char *const tag[7] = {"gelu_sqrt2", "gelu_div", "gelu_erf", "gelu_one",
                                           "gelu_add", "gelu_half", "gelu_mul"};
        static const float kval[3] = {1.41421356f, 1.0f, 0.5f};
        char t[7][600], cn[620];
        for (int k = 0; k < 7; k++) fresh_name(c->g, out, tag[k], t[k], sizeof t[k]);
        const int kslot[3] = {0, 3, 5};
        for (int k = 0; k < 3; k++) {
            snprintf(cn, sizeof cn, "%s/%s", n->name, tag[kslot[k]]);
            lcv_status st = constant_node(c, cn, t[kslot[k]], kval[k]);
            if (st != LCV_OK) return st;
        }
        snprintf(cn, sizeof cn, "%s/fused_div", n->name);
        simple_node(c, cn, "Div", x, t[0], t[1], 0, NULL, NULL);
        snprintf(cn, sizeof cn, "%s/fused_erf", n->name);
        simple_node(c, cn, "Erf", t[1], NULL, t[2], 0, NULL, NULL);
        snprintf(cn, sizeof cn, "%s/fused_add", n->name);
        simple_node(c, cn, "Add", t[2], t[3], t[4], 0, NULL, NULL);
        snprintf(cn, sizeof cn, "%s/fused_mul", n->name);
        simple_node(c, cn, "Mul", x, t[4], t[6], 0, NULL, NULL);
        simple_node(c, nm, "Mul", t[6], t[5], out, 0, NULL, NULL);
        break;
    }
    case LCV_ACT_CLIP: {
        if (c->opset < 11) { /* bounds were attributes before opset 11 */
            simple_node(c, nm, "Clip", x, NULL, out, 2, minmax, v);
            break;
        }
        fresh_name(c->g, out, "clip_min", t1, sizeof t1);
        fresh_name(c->g, out, "clip_max", t2, sizeof t2);
        char cn[620];
        snprintf(cn, sizeof cn, "%s/clip_min", n->name);
        lcv_status st = constant_node(c, cn, t1, f->alpha);
        snprintf(cn, sizeof cn, "%s/clip_max", n->name);
        if (st == LCV_OK) st = constant_node(c, cn, t2, f->beta);
        if (st != LCV_OK) return st;
        lcv_pbw *w = &c->w;
        size_t mark = lcv_pbw_begin(w, G_NODE);
        lcv_pbw_string(w, N_INPUT, x);
        lcv_pbw_string(w, N_INPUT, t1);
        lcv_pbw_string(w, N_INPUT, t2);
        lcv_pbw_string(w, N_OUTPUT, out);
        lcv_pbw_string(w, N_NAME, nm);
        lcv_pbw_string(w, N_OP_TYPE, "Clip");
        lcv_pbw_end(w, mark);
        break;
    }
    default:
        return lcv_fail(c->e, LCV_ERR_INTERNAL, "node '%s': unknown fused activation %d",
                        n->name, (int)f->act);
    }
    return LCV_OK;
}

/* Node n with its fused epilogue: op -> pre [-> Add residual -> sum] [-> act] -> output. */
static lcv_status write_fused(wctx *c, const lcv_node *n) {
    const lcv_fused *f = &n->fused;
    bool res = f->residual >= 0, act = f->act != LCV_ACT_NONE;
    if (n->n_out != 1 || n->out[0] < 0 || (res && f->residual != n->n_in - 1))
        return lcv_fail(c->e, LCV_ERR_INVALID_ARG, "node '%s' (%s): a fused epilogue needs one "
                        "output and the residual as the last input", n->name, n->op_type);
    const lcv_value *y = &c->g->values[n->out[0]];
    if (act && f->act == LCV_ACT_CLIP && y->dtype != LCV_DTYPE_FLOAT32)
        return lcv_fail(c->e, LCV_ERR_UNSUPPORTED, "node '%s': a fused Clip on %s output "
                        "cannot be written", n->name, lcv_dtype_name(y->dtype));
    char pre[600], sum[600], nm[600];
    fresh_name(c->g, y->name, "pre", pre, sizeof pre);
    lcv_status st = write_node(c, n, res ? n->n_in - 1 : n->n_in, pre);
    if (st != LCV_OK) return st;
    const char *cur = pre;
    if (res) {
        fresh_name(c->g, y->name, "sum", sum, sizeof sum);
        snprintf(nm, sizeof nm, "%s/fused_add", n->name);
        simple_node(c, nm, "Add", pre, value_name(c->g, n->in[f->residual]),
                    act ? sum : y->name, 0, NULL, NULL);
        cur = sum;
    }
    return act ? write_act(c, n, cur, y->name) : LCV_OK;
}

/* ---- graph and model ---- */

static lcv_status write_graph(wctx *c) {
    const lcv_graph *g = c->g;
    lcv_status st = LCV_OK;
    size_t mark = lcv_pbw_begin(&c->w, M_GRAPH);
    for (int i = 0; i < g->n_nodes && st == LCV_OK; i++) {
        const lcv_node *n = &g->nodes[i];
        if (n->fused.act != LCV_ACT_NONE || n->fused.residual >= 0)
            st = write_fused(c, n);
        else
            st = write_node(c, n, n->n_in, NULL);
    }
    lcv_pbw_string(&c->w, G_NAME, g->name && g->name[0] ? g->name : "leancv_graph");
    /* Initializers: constants from the file, and folded constants still read by the graph. */
    for (int id = 0; id < g->n_values && st == LCV_OK; id++) {
        const lcv_value *v = &g->values[id];
        if (!v->init || v->producer >= 0 || (!v->is_initializer && !c->used[id])) continue;
        char where[200];
        snprintf(where, sizeof where, "initializer '%.100s'", v->name);
        st = write_tensor(c, G_INITIALIZER, v->init, v->name, where);
        if (st == LCV_OK && c->ir < 4) /* IR 3: initializers are listed as inputs too */
            write_value_info(c, G_INPUT, v);
    }
    for (int k = 0; k < g->n_inputs; k++) write_value_info(c, G_INPUT, &g->values[g->inputs[k]]);
    for (int k = 0; k < g->n_outputs; k++)
        write_value_info(c, G_OUTPUT, &g->values[g->outputs[k]]);
    for (int id = 0; id < g->n_values; id++) {
        const lcv_value *v = &g->values[id];
        if (v->producer < 0 || v->is_output || v->init) continue;
        if (v->dtype != LCV_DTYPE_UNDEFINED || v->ndim >= 0)
            write_value_info(c, G_VALUE_INFO, v);
    }
    lcv_pbw_end(&c->w, mark);
    return st;
}

static bool is_default_domain(const char *d) { return !d || !d[0] || strcmp(d, "ai.onnx") == 0; }

lcv_status lcv_onnx_write_graph(const lcv_graph *g, int opset, void **data, size_t *size,
                                lcv_err *e) {
    if (!g || !data || !size)
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "lcv_onnx_write_graph: NULL argument");
    *data = NULL;
    *size = 0;
    int64_t have = lcv_graph_opset(g, "");
    wctx c;
    memset(&c, 0, sizeof c);
    c.g = g;
    c.e = e;
    c.opset = opset > 0 ? opset : have; /* <= 0: no default-domain import is written */
    bool default_nodes = false;
    for (int i = 0; i < g->n_nodes; i++) default_nodes |= is_default_domain(g->nodes[i].domain);
    if (c.opset <= 0 && (default_nodes || g->n_opsets == 0 || g->ir_version <= 0))
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "lcv_onnx_write_graph: the graph imports no "
                        "default-domain opset; pass the opset to write");
    if (c.opset <= 0 || (g->ir_version > 0 && c.opset == have))
        c.ir = g->ir_version;
    else
        c.ir = ir_for_opset(c.opset);
    if (g->ir_version > c.ir) c.ir = g->ir_version;
    c.used = calloc((size_t)g->n_values + 1, sizeof *c.used);
    if (!c.used) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory");
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++)
            if (g->nodes[i].in[k] >= 0) c.used[g->nodes[i].in[k]] = true;
    for (int k = 0; k < g->n_outputs; k++) c.used[g->outputs[k]] = true;
    lcv_pbw_init(&c.w, MAX_MODEL_BYTES);
    lcv_pbw_varint(&c.w, M_IR_VERSION, (uint64_t)c.ir);
    lcv_pbw_string(&c.w, M_PRODUCER_NAME, "leancv");
    lcv_pbw_string(&c.w, M_PRODUCER_VERSION, lcv_version());
    lcv_status st = write_graph(&c);
    bool wrote_default = false;
    for (int k = 0; k < g->n_opsets && st == LCV_OK; k++) {
        bool def = is_default_domain(g->opsets[k].domain);
        if (def && wrote_default) continue;
        size_t mark = lcv_pbw_begin(&c.w, M_OPSET);
        if (g->opsets[k].domain[0]) lcv_pbw_string(&c.w, 1, g->opsets[k].domain);
        lcv_pbw_varint(&c.w, 2, (uint64_t)(def ? c.opset : g->opsets[k].version));
        lcv_pbw_end(&c.w, mark);
        wrote_default |= def;
    }
    if (st == LCV_OK && !wrote_default && c.opset > 0) {
        size_t mark = lcv_pbw_begin(&c.w, M_OPSET);
        lcv_pbw_varint(&c.w, 2, (uint64_t)c.opset);
        lcv_pbw_end(&c.w, mark);
    }
    free(c.used);
    if (st == LCV_OK) st = lcv_pbw_status(&c.w, e);
    if (st != LCV_OK) {
        lcv_pbw_free(&c.w);
        return st;
    }
    *data = c.w.buf;
    *size = c.w.len;
    return LCV_OK;
}
