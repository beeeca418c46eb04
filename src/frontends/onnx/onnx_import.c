/* onnx_import.c - builds an lcv_graph from a serialized ONNX ModelProto: opset imports, graph
 * inputs/outputs/value_info, initializers and nodes with their attributes. Tensors are read by
 * onnx_tensor.c. Nodes are left unresolved and unsorted: the runtime does both. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_priv.h"

/* Field numbers from onnx.proto. */
enum { M_IR_VERSION = 1, M_GRAPH = 7, M_OPSET_IMPORT = 8 };
enum { G_NODE = 1, G_NAME = 2, G_INITIALIZER = 5, G_SPARSE_INITIALIZER = 15 };
enum { N_INPUT = 1, N_OUTPUT = 2, N_NAME = 3, N_OP_TYPE = 4, N_ATTRIBUTE = 5, N_DOMAIN = 7 };
enum {
    A_NAME = 1, A_F = 2, A_I = 3, A_S = 4, A_T = 5, A_G = 6, A_FLOATS = 7, A_INTS = 8,
    A_STRINGS = 9, A_TENSORS = 10, A_GRAPHS = 11, A_TP = 14, A_TPS = 15, A_TYPE = 20,
    A_SPARSE_TENSOR = 22, A_SPARSE_TENSORS = 23
};

/* Counts beyond these are refused as absurd; they also bound the quadratic duplicate checks of
 * attributes (graph.c) and opset imports. */
#define MAX_NODE_IO (1 << 20)
#define MAX_NODE_ATTRS 1024
#define MAX_OPSET_IMPORTS 1024

static lcv_status read_opset(lcv_onnx_ctx *c, lcv_graph *g, const lcv_pb *msg) {
    char *domain = NULL;
    int64_t version = 0;
    bool has_version = false;
    lcv_pb r = *msg;
    lcv_status st = LCV_OK;
    while (st == LCV_OK && lcv_pb_more(&r)) {
        lcv_pb_field f;
        if ((st = lcv_pb_next(&r, &f, c->e)) != LCV_OK) break;
        if (f.number == 1) {
            free(domain);
            domain = NULL;
            st = lcv_onnx_copy_string(&r, &f, "domain", false, &domain, NULL, c->e);
        } else if (f.number == 2) {
            st = lcv_pb_expect(&f, LCV_PB_VARINT, "version", c->e);
            version = (int64_t)f.u;
            has_version = true;
        }
    }
    if (st == LCV_OK && (!has_version || version < 0 || version > INT_MAX))
        st = lcv_fail(c->e, LCV_ERR_PARSE, "opset version for domain '%.100s' is %s", domain ?
                      domain : "", has_version ? "out of range" : "missing");
    int64_t prev = st == LCV_OK ? lcv_graph_opset(g, domain ? domain : "") : -1;
    if (prev >= 0 && prev != version) /* a repeat of the same version is harmless */
        st = lcv_fail(c->e, LCV_ERR_PARSE, "domain '%.100s' is imported twice, as versions %lld "
                      "and %lld", domain ? domain : "", (long long)prev, (long long)version);
    else if (st == LCV_OK && prev < 0)
        st = lcv_graph_add_opset(g, domain ? domain : "", version, c->e);
    free(domain);
    return st;
}

/* ---- AttributeProto ---- */

typedef struct attr_scan {
    char *name;
    int64_t type;
    bool present[24]; /* by field number */
    lcv_pb_field f, i, s, t, g;
} attr_scan;

static lcv_status scan_attr(lcv_onnx_ctx *c, const lcv_pb *msg, attr_scan *a) {
    lcv_pb r = *msg;
    while (lcv_pb_more(&r)) {
        lcv_pb_field f;
        lcv_status st = lcv_pb_next(&r, &f, c->e);
        if (st != LCV_OK) return st;
        if (f.number < 24) a->present[f.number] = true;
        switch (f.number) {
        case A_NAME:
            free(a->name);
            a->name = NULL;
            if ((st = lcv_onnx_copy_string(&r, &f, "name", false, &a->name, NULL, c->e)) !=
                LCV_OK)
                return st;
            break;
        case A_TYPE:
            if ((st = lcv_pb_expect(&f, LCV_PB_VARINT, "type", c->e)) != LCV_OK) return st;
            a->type = (int64_t)f.u;
            break;
        case A_F:
            if ((st = lcv_pb_expect(&f, LCV_PB_I32, "f", c->e)) != LCV_OK) return st;
            a->f = f;
            break;
        case A_I:
            if ((st = lcv_pb_expect(&f, LCV_PB_VARINT, "i", c->e)) != LCV_OK) return st;
            a->i = f;
            break;
        case A_S:
            if ((st = lcv_pb_expect(&f, LCV_PB_LEN, "s", c->e)) != LCV_OK) return st;
            a->s = f;
            break;
        case A_T:
            if ((st = lcv_pb_expect(&f, LCV_PB_LEN, "t", c->e)) != LCV_OK) return st;
            a->t = f;
            break;
        case A_G:
            if ((st = lcv_pb_expect(&f, LCV_PB_LEN, "g", c->e)) != LCV_OK) return st;
            a->g = f;
            break;
        default: break;
        }
    }
    return LCV_OK;
}

/* Old files may omit `type`: the field that carries the value tells it. */
static int64_t deduce_attr_type(const attr_scan *a) {
    static const struct { int field; lcv_attr_type type; } order[] = {
        {A_F, LCV_ATTR_FLOAT},          {A_I, LCV_ATTR_INT},
        {A_S, LCV_ATTR_STRING},         {A_T, LCV_ATTR_TENSOR},
        {A_G, LCV_ATTR_GRAPH},          {A_FLOATS, LCV_ATTR_FLOATS},
        {A_INTS, LCV_ATTR_INTS},        {A_STRINGS, LCV_ATTR_STRINGS},
        {A_TENSORS, LCV_ATTR_TENSORS},  {A_GRAPHS, LCV_ATTR_GRAPHS},
        {A_SPARSE_TENSOR, LCV_ATTR_SPARSE_TENSOR}, {A_SPARSE_TENSORS, LCV_ATTR_SPARSE_TENSORS},
        {A_TP, LCV_ATTR_TYPE_PROTO},    {A_TPS, LCV_ATTR_TYPE_PROTOS}};
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++)
        if (a->present[order[k].field]) return order[k].type;
    return 0;
}

static lcv_status read_graph(lcv_onnx_ctx *c, lcv_graph *g, const lcv_pb *msg);

/* A GRAPH attribute: the subgraph shares the model's opset imports and records the values it
 * reads from enclosing graphs (lcv_graph_collect_outer). */
static lcv_status read_subgraph(lcv_onnx_ctx *c, const lcv_pb *msg, const attr_scan *s,
                                lcv_attr *a) {
    lcv_err *e = c->e;
    if (!s->present[A_G]) return lcv_fail(e, LCV_ERR_PARSE, "GRAPH attribute has no graph");
    if (c->depth >= LCV_MAX_SUBGRAPH_DEPTH)
        return lcv_fail(e, LCV_ERR_UNSUPPORTED, "subgraphs nest deeper than %d levels",
                        LCV_MAX_SUBGRAPH_DEPTH);
    lcv_pb sub;
    lcv_status st = lcv_pb_sub(msg, &s->g, &sub, e);
    if (st != LCV_OK) return st;
    lcv_graph *parent = c->graph;
    a->g = lcv_graph_new();
    if (!a->g) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory for a subgraph");
    a->g->ir_version = parent->ir_version;
    for (int k = 0; k < parent->n_opsets && st == LCV_OK; k++)
        st = lcv_graph_add_opset(a->g, parent->opsets[k].domain, parent->opsets[k].version, e);
    if (st != LCV_OK) return st;
    lcv_onnx_path_push(c, ".g");
    c->graph = a->g;
    c->depth++;
    st = read_graph(c, a->g, &sub);
    c->depth--;
    c->graph = parent;
    return st == LCV_OK ? lcv_graph_collect_outer(a->g, e) : st;
}

static lcv_status fill_attr(lcv_onnx_ctx *c, const lcv_pb *msg, const attr_scan *s,
                            lcv_attr *a) {
    lcv_err *e = c->e;
    lcv_status st = LCV_OK;
    switch (a->type) {
    case LCV_ATTR_FLOAT: {
        uint32_t bits = (uint32_t)s->f.u;
        memcpy(&a->f, &bits, 4);
        break;
    }
    case LCV_ATTR_INT: a->i = (int64_t)s->i.u; break;
    case LCV_ATTR_STRING:
        if (s->present[A_S])
            return lcv_onnx_copy_string(msg, &s->s, "s", true, &a->s, &a->s_len, e);
        a->s = calloc(1, 1);
        if (!a->s) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory");
        break;
    case LCV_ATTR_TENSOR: {
        if (!s->present[A_T]) return lcv_fail(e, LCV_ERR_PARSE, "TENSOR attribute has no tensor");
        lcv_pb sub;
        if ((st = lcv_pb_sub(msg, &s->t, &sub, e)) != LCV_OK) return st;
        lcv_onnx_path_push(c, ".t");
        return lcv_onnx_read_tensor(c, &sub, &a->t, NULL);
    }
    case LCV_ATTR_GRAPH: return read_subgraph(c, msg, s, a);
    case LCV_ATTR_FLOATS:
    case LCV_ATTR_INTS: {
        bool fl = a->type == LCV_ATTR_FLOATS;
        uint32_t field = fl ? A_FLOATS : A_INTS;
        lcv_pb_wire w = fl ? LCV_PB_I32 : LCV_PB_VARINT;
        const char *what = fl ? "floats" : "ints";
        int64_t n;
        if ((st = lcv_pb_rep_count(msg, field, w, what, &n, e)) != LCV_OK) return st;
        if (n == 0) break;
        /* n is bounded by the message's byte length, so this allocation is justified. */
        void *arr = malloc((size_t)n * (fl ? sizeof(float) : sizeof(int64_t)));
        if (!arr) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory for %lld %s", (long long)n,
                                  what);
        if (fl)
            a->floats = arr;
        else
            a->ints = arr;
        a->n = n;
        lcv_pb_rep it;
        lcv_pb_rep_init(&it, msg, field, w, what);
        for (int64_t k = 0; k < n; k++) {
            bool got = false;
            uint64_t v = 0;
            if ((st = lcv_pb_rep_next(&it, &got, &v, e)) != LCV_OK) return st;
            if (fl) {
                uint32_t bits = (uint32_t)v;
                memcpy(&a->floats[k], &bits, 4);
            } else {
                a->ints[k] = (int64_t)v;
            }
        }
        break;
    }
    case LCV_ATTR_STRINGS: {
        int64_t n = 0;
        lcv_pb r = *msg;
        while (lcv_pb_more(&r)) {
            lcv_pb_field f;
            if ((st = lcv_pb_next(&r, &f, e)) != LCV_OK) return st;
            if (f.number == A_STRINGS) n++;
        }
        if (n == 0) break;
        a->strings = calloc((size_t)n, sizeof(char *));
        if (!a->strings) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory");
        a->n = n;
        r = *msg;
        int64_t k = 0;
        while (lcv_pb_more(&r) && k < n) {
            lcv_pb_field f;
            if ((st = lcv_pb_next(&r, &f, e)) != LCV_OK) return st;
            if (f.number != A_STRINGS) continue;
            if ((st = lcv_onnx_copy_string(&r, &f, "strings", true, &a->strings[k++], NULL, e)) !=
                LCV_OK)
                return st;
        }
        break;
    }
    default: break; /* graph lists, sparse tensors, type protos, tensor lists: type only */
    }
    return st;
}

static lcv_status read_attr(lcv_onnx_ctx *c, lcv_node *node, const lcv_pb *msg) {
    attr_scan s;
    memset(&s, 0, sizeof s);
    lcv_status st = scan_attr(c, msg, &s);
    if (st == LCV_OK && (!s.name || !s.name[0]))
        st = lcv_fail(c->e, LCV_ERR_PARSE, "attribute has no name");
    if (st == LCV_OK) {
        lcv_onnx_path_push(c, " '%.80s'", s.name);
        if (s.type == 0) s.type = deduce_attr_type(&s);
        if (s.type == 0)
            st = lcv_fail(c->e, LCV_ERR_PARSE, "attribute has no type and no value");
        else if (s.type < 0 || s.type > LCV_ATTR_TYPE_PROTOS)
            st = lcv_fail(c->e, LCV_ERR_UNSUPPORTED, "attribute type %lld is not supported",
                          (long long)s.type);
    }
    lcv_attr *a = NULL;
    if (st == LCV_OK) st = lcv_node_add_attr(node, s.name, &a, c->e);
    if (st == LCV_OK) {
        a->type = (lcv_attr_type)s.type;
        st = fill_attr(c, msg, &s, a); /* a partial attribute is freed with the graph */
    }
    free(s.name);
    return st;
}

/* ---- NodeProto ---- */

typedef struct node_scan {
    char *name, *op_type, *domain;
    char **in, **out; /* owned arrays of owned strings */
    int n_in, n_out;
} node_scan;

static void node_scan_clear(node_scan *s) {
    for (int i = 0; i < s->n_in; i++) free(s->in[i]);
    for (int i = 0; i < s->n_out; i++) free(s->out[i]);
    free(s->in);
    free(s->out);
    free(s->name);
    free(s->op_type);
    free(s->domain);
}

static lcv_status scan_node(lcv_onnx_ctx *c, const lcv_pb *msg, node_scan *s) {
    int64_t n_in = 0, n_out = 0;
    lcv_pb r = *msg;
    while (lcv_pb_more(&r)) {
        lcv_pb_field f;
        lcv_status st = lcv_pb_next(&r, &f, c->e);
        if (st != LCV_OK) return st;
        n_in += f.number == N_INPUT;
        n_out += f.number == N_OUTPUT;
    }
    if (n_in > MAX_NODE_IO || n_out > MAX_NODE_IO)
        return lcv_fail(c->e, LCV_ERR_UNSUPPORTED, "node has too many inputs or outputs");
    s->in = calloc((size_t)n_in + 1, sizeof(char *));
    s->out = calloc((size_t)n_out + 1, sizeof(char *));
    if (!s->in || !s->out) return lcv_fail(c->e, LCV_ERR_NOMEM, "out of memory");
    r = *msg;
    while (lcv_pb_more(&r)) {
        lcv_pb_field f;
        lcv_status st = lcv_pb_next(&r, &f, c->e);
        if (st != LCV_OK) return st;
        char **dst = NULL;
        const char *what = "";
        switch (f.number) {
        case N_INPUT: dst = &s->in[s->n_in++], what = "input"; break;
        case N_OUTPUT: dst = &s->out[s->n_out++], what = "output"; break;
        case N_NAME: dst = &s->name, what = "name"; break;
        case N_OP_TYPE: dst = &s->op_type, what = "op_type"; break;
        case N_DOMAIN: dst = &s->domain, what = "domain"; break;
        default: continue;
        }
        free(*dst);
        *dst = NULL;
        if ((st = lcv_onnx_copy_string(&r, &f, what, false, dst, NULL, c->e)) != LCV_OK)
            return st;
    }
    return LCV_OK;
}

static lcv_status read_node(lcv_onnx_ctx *c, lcv_graph *g, const lcv_pb *msg, int index) {
    node_scan s;
    memset(&s, 0, sizeof s);
    lcv_status st = scan_node(c, msg, &s);
    if (st == LCV_OK && (!s.op_type || !s.op_type[0]))
        st = lcv_fail(c->e, LCV_ERR_PARSE, "node has no op_type");
    if (st == LCV_OK && (!s.name || !s.name[0])) {
        size_t cap = strlen(s.op_type) + 16;
        free(s.name);
        s.name = malloc(cap);
        if (!s.name)
            st = lcv_fail(c->e, LCV_ERR_NOMEM, "out of memory");
        else
            snprintf(s.name, cap, "%s_%d", s.op_type, index);
    }
    const char *name = s.name;
    const char *domain = s.domain ? s.domain : "";
    int64_t opset = -1;
    if (st == LCV_OK) {
        lcv_onnx_path_push(c, " (%.60s '%.80s')", s.op_type, name);
        opset = lcv_graph_opset(g, domain);
        if (opset < 0)
            st = lcv_fail(c->e, LCV_ERR_PARSE, "node '%.100s' (%.60s) uses domain '%.100s', "
                          "which the model does not import", name, s.op_type, domain);
    }
    lcv_node *node = NULL;
    if (st == LCV_OK)
        st = lcv_graph_add_node(g, name, s.op_type, domain, s.n_in, (const char *const *)s.in,
                                s.n_out, (const char *const *)s.out, &node, c->e);
    if (st == LCV_OK) {
        node->op = -1;
        node->opset = (int)opset;
        lcv_pb r = *msg;
        int k = 0;
        while (st == LCV_OK && lcv_pb_more(&r)) {
            lcv_pb_field f;
            if ((st = lcv_pb_next(&r, &f, c->e)) != LCV_OK) break;
            if (f.number != N_ATTRIBUTE) continue;
            if (k == MAX_NODE_ATTRS) {
                st = lcv_fail(c->e, LCV_ERR_UNSUPPORTED, "node '%.100s' has more than %d "
                              "attributes", name, MAX_NODE_ATTRS);
                break;
            }
            size_t mark = lcv_onnx_path_push(c, ".attribute[%d]", k++);
            lcv_pb sub;
            st = lcv_pb_sub(&r, &f, &sub, c->e);
            if (st == LCV_OK) st = read_attr(c, node, &sub);
            if (st == LCV_OK) lcv_onnx_path_pop(c, mark);
        }
        if (st == LCV_OK) st = lcv_node_link_subgraphs(g, (int)(node - g->nodes), c->e);
    }
    node_scan_clear(&s);
    return st;
}

/* ---- GraphProto / ModelProto ---- */

static lcv_status read_initializer(lcv_onnx_ctx *c, lcv_graph *g, const lcv_pb *msg) {
    lcv_tensor *t = NULL;
    char *name = NULL;
    lcv_status st = lcv_onnx_read_tensor(c, msg, &t, &name);
    int id = -1;
    if (st == LCV_OK && (!name || !name[0]))
        st = lcv_fail(c->e, LCV_ERR_PARSE, "initializer has no name");
    if (st == LCV_OK) st = lcv_graph_intern(g, name, &id, c->e);
    if (st == LCV_OK) {
        st = lcv_graph_set_initializer(g, id, t, c->e); /* takes t even on failure */
        t = NULL;
    }
    lcv_tensor_free(t);
    free(name);
    return st;
}

static lcv_status read_graph(lcv_onnx_ctx *c, lcv_graph *g, const lcv_pb *msg) {
    lcv_pb r = *msg;
    int n_init = 0;
    while (lcv_pb_more(&r)) { /* initializers first so inputs can tell them apart */
        lcv_pb_field f;
        lcv_status st = lcv_pb_next(&r, &f, c->e);
        if (st != LCV_OK) return st;
        if (f.number == G_SPARSE_INITIALIZER)
            return lcv_fail(c->e, LCV_ERR_UNSUPPORTED, "sparse_initializer at byte %zu: sparse "
                            "initializers are not supported", f.tag_off);
        if (f.number == G_NAME) {
            free(g->name);
            g->name = NULL;
            if ((st = lcv_onnx_copy_string(&r, &f, "name", false, &g->name, NULL, c->e)) !=
                LCV_OK)
                return st;
        }
        if (f.number != G_INITIALIZER) continue;
        size_t mark = lcv_onnx_path_push(c, ".initializer[%d]", n_init++);
        lcv_pb sub;
        if ((st = lcv_pb_sub(&r, &f, &sub, c->e)) != LCV_OK) return st;
        if ((st = read_initializer(c, g, &sub)) != LCV_OK) return st;
        lcv_onnx_path_pop(c, mark);
    }
    r = *msg;
    int n_nodes = 0;
    while (lcv_pb_more(&r)) {
        lcv_pb_field f;
        lcv_status st = lcv_pb_next(&r, &f, c->e);
        if (st != LCV_OK) return st;
        if (f.number != G_NODE) continue;
        size_t mark = lcv_onnx_path_push(c, ".node[%d]", n_nodes);
        lcv_pb sub;
        if ((st = lcv_pb_sub(&r, &f, &sub, c->e)) != LCV_OK) return st;
        if ((st = read_node(c, g, &sub, n_nodes)) != LCV_OK) return st;
        n_nodes++;
        lcv_onnx_path_pop(c, mark);
    }
    lcv_status st = lcv_onnx_read_graph_values(c, g, msg, LCV_ONNX_GRAPH_INPUT);
    if (st == LCV_OK) st = lcv_onnx_read_graph_values(c, g, msg, LCV_ONNX_GRAPH_OUTPUT);
    if (st == LCV_OK) st = lcv_onnx_read_graph_values(c, g, msg, LCV_ONNX_GRAPH_VALUE_INFO);
    return st;
}

static lcv_status read_model(lcv_onnx_ctx *c, lcv_graph *g, const lcv_pb *msg) {
    lcv_pb r = *msg;
    lcv_pb_field graph_field;
    bool has_graph = false;
    int n_opsets = 0;
    while (lcv_pb_more(&r)) {
        lcv_pb_field f;
        lcv_status st = lcv_pb_next(&r, &f, c->e);
        if (st != LCV_OK) return st;
        if (f.number == M_IR_VERSION) {
            if ((st = lcv_pb_expect(&f, LCV_PB_VARINT, "ir_version", c->e)) != LCV_OK) return st;
            g->ir_version = (int64_t)f.u;
        } else if (f.number == M_GRAPH) {
            if (has_graph)
                return lcv_fail(c->e, LCV_ERR_PARSE, "model has a second graph at byte %zu",
                                f.tag_off);
            if ((st = lcv_pb_expect(&f, LCV_PB_LEN, "graph", c->e)) != LCV_OK) return st;
            graph_field = f;
            has_graph = true;
        } else if (f.number == M_OPSET_IMPORT) {
            if (n_opsets == MAX_OPSET_IMPORTS)
                return lcv_fail(c->e, LCV_ERR_UNSUPPORTED, "model has more than %d opset "
                                "imports", MAX_OPSET_IMPORTS);
            size_t mark = lcv_onnx_path_push(c, "opset_import[%d]", n_opsets++);
            lcv_pb sub;
            if ((st = lcv_pb_sub(&r, &f, &sub, c->e)) != LCV_OK) return st;
            if ((st = read_opset(c, g, &sub)) != LCV_OK) return st;
            lcv_onnx_path_pop(c, mark);
        }
    }
    if (!has_graph) return lcv_fail(c->e, LCV_ERR_PARSE, "model has no graph");
    /* Without a default-domain import only nodes of other domains can be valid; each node's
     * domain is checked when it is read. IR < 3 predates opset_import altogether. */
    if (lcv_graph_opset(g, "") < 0 && g->ir_version < 3)
        return lcv_fail(c->e, LCV_ERR_UNSUPPORTED, "model has IR version %lld and no opset "
                        "import; models older than IR version 3 are not supported",
                        (long long)g->ir_version);
    lcv_pb sub;
    lcv_status st = lcv_pb_sub(msg, &graph_field, &sub, c->e);
    if (st != LCV_OK) return st;
    lcv_onnx_path_push(c, "graph");
    return read_graph(c, g, &sub);
}

lcv_status lcv_onnx_import(const void *data, size_t size, const char *external_dir,
                           uint64_t max_bytes, lcv_graph **out, lcv_err *e) {
    if (!out) return lcv_fail(e, LCV_ERR_INVALID_ARG, "lcv_onnx_import: out is NULL");
    *out = NULL;
    if (!data || size == 0)
        return lcv_fail(e, LCV_ERR_PARSE, "the ONNX model is empty (0 bytes)");
    lcv_graph *g = lcv_graph_new();
    if (!g) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory creating the graph");
    lcv_onnx_ctx c;
    memset(&c, 0, sizeof c);
    c.external_dir = external_dir;
    c.max_bytes = max_bytes;
    c.e = e;
    c.graph = g;
    lcv_pb r;
    lcv_pb_init(&r, data, size);
    lcv_status st = read_model(&c, g, &r);
    if (st != LCV_OK) {
        if (c.plen) lcv_err_prefix(e, "%s", c.path);
        lcv_graph_free(g);
        return st;
    }
    *out = g;
    return LCV_OK;
}
