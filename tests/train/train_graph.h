/* train_graph.h - building small graphs in C for the autodiff tests: inputs, random or literal
 * initializers and nodes with attributes (opset 13), without going through ONNX files. */
#ifndef LCV_TRAIN_GRAPH_H
#define LCV_TRAIN_GRAPH_H

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ir/graph.h"

static inline double tg_rand(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0;
}

static inline void tg_input(lcv_graph *g, const char *name, lcv_dtype dt, int ndim,
                            const int64_t *dims) {
    int id;
    lcv_err e;
    lcv_graph_intern(g, name, &id, &e);
    lcv_value *v = &g->values[id];
    v->dtype = dt;
    v->ndim = ndim;
    for (int k = 0; k < ndim; k++) v->dims[k] = dims[k];
    lcv_graph_add_input(g, id, &e);
}

static inline void tg_output(lcv_graph *g, const char *name) {
    int id;
    lcv_err e;
    lcv_graph_intern(g, name, &id, &e);
    lcv_graph_add_output(g, id, &e);
}

/* A float32 initializer with values uniform in [lo, hi] (or the literal vals when non-NULL). */
static inline void tg_init(lcv_graph *g, const char *name, int ndim, const int64_t *dims,
                           double lo, double hi, const double *vals, uint64_t *s) {
    int id;
    lcv_err e;
    lcv_tensor *t = NULL;
    lcv_tensor_create(LCV_DTYPE_FLOAT32, ndim, dims, &t);
    for (int64_t i = 0; i < lcv_tensor_numel(t); i++)
        ((float *)t->data)[i] =
            (float)(vals ? vals[i] : lo + (hi - lo) * 0.5 * (tg_rand(s) + 1.0));
    lcv_graph_intern(g, name, &id, &e);
    lcv_graph_set_initializer(g, id, t, &e);
}

static inline void tg_init_i64(lcv_graph *g, const char *name, int n, const int64_t *vals) {
    int id;
    lcv_err e;
    lcv_tensor *t = NULL;
    int64_t d[1] = {n};
    lcv_tensor_create(LCV_DTYPE_INT64, 1, d, &t);
    memcpy(t->data, vals, sizeof(int64_t) * (size_t)n);
    lcv_graph_intern(g, name, &id, &e);
    lcv_graph_set_initializer(g, id, t, &e);
}

/* Adds a node; ins/outs are comma-separated names ("" for an omitted input). */
static inline lcv_node *tg_node(lcv_graph *g, const char *name, const char *op, const char *ins,
                                const char *outs) {
    char ib[512], ob[256];
    const char *in_names[16], *out_names[8];
    int ni = 0, no = 0;
    snprintf(ib, sizeof ib, "%s", ins);
    snprintf(ob, sizeof ob, "%s", outs);
    for (char *p = ib, *q; p && ni < 16; p = q) {
        q = strchr(p, ',');
        if (q) *q++ = '\0';
        in_names[ni++] = p;
    }
    for (char *p = ob, *q; p && no < 8; p = q) {
        q = strchr(p, ',');
        if (q) *q++ = '\0';
        out_names[no++] = p;
    }
    lcv_node *n = NULL;
    lcv_err e;
    if (lcv_graph_add_node(g, name, op, "", ni, in_names, no, out_names, &n, &e) != LCV_OK) {
        fprintf(stderr, "tg_node %s: %s\n", name, e.msg);
        return NULL;
    }
    n->opset = 13;
    return n;
}

static inline void tg_ints(lcv_node *n, const char *name, int cnt, ...) {
    lcv_attr *a;
    lcv_err e;
    va_list ap;
    lcv_node_add_attr(n, name, &a, &e);
    a->type = LCV_ATTR_INTS;
    a->n = cnt;
    a->ints = malloc(sizeof(int64_t) * (size_t)cnt);
    va_start(ap, cnt);
    for (int i = 0; i < cnt; i++) a->ints[i] = va_arg(ap, int);
    va_end(ap);
}

static inline void tg_int(lcv_node *n, const char *name, int64_t v) {
    lcv_attr *a;
    lcv_err e;
    lcv_node_add_attr(n, name, &a, &e);
    a->type = LCV_ATTR_INT;
    a->i = v;
}

static inline void tg_float(lcv_node *n, const char *name, float v) {
    lcv_attr *a;
    lcv_err e;
    lcv_node_add_attr(n, name, &a, &e);
    a->type = LCV_ATTR_FLOAT;
    a->f = v;
}

#endif
