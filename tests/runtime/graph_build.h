/* graph_build.h - small graphs built in memory for the runtime tests, turned into models with
 * lcv_model_from_graph (src/runtime/model.h), plus helpers to feed and compare tensors. */
#ifndef LCV_TEST_GRAPH_BUILD_H
#define LCV_TEST_GRAPH_BUILD_H

#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "runtime/model.h"

static lcv_err gb_err;

/* Adds a node of the default domain; ins/outs are space-separated value names ("-" =
 * omitted input). */
static inline lcv_node *gb_node(lcv_graph *g, const char *op, const char *ins, const char *outs,
                         int opset) {
    char ib[256], ob[256];
    const char *iv[8], *ov[8];
    int ni = 0, no = 0;
    snprintf(ib, sizeof ib, "%s", ins);
    snprintf(ob, sizeof ob, "%s", outs);
    for (char *t = strtok(ib, " "); t && ni < 8; t = strtok(NULL, " ")) iv[ni++] = strcmp(t, "-") ? t : "";
    for (char *t = strtok(ob, " "); t && no < 8; t = strtok(NULL, " ")) ov[no++] = t;
    char name[48];
    snprintf(name, sizeof name, "%s_%d", op, g->n_nodes);
    lcv_node *n = NULL;
    CHECK_MSG(lcv_graph_add_node(g, name, op, "", ni, iv, no, ov, &n, &gb_err) == LCV_OK, "%s",
              gb_err.msg);
    if (n) n->opset = opset;
    return n;
}

static inline void gb_attr_int(lcv_node *n, const char *name, int64_t v) {
    lcv_attr *a = NULL;
    CHECK(lcv_node_add_attr(n, name, &a, &gb_err) == LCV_OK);
    if (!a) return;
    a->type = LCV_ATTR_INT;
    a->i = v;
}

static inline void gb_attr_float(lcv_node *n, const char *name, float v) {
    lcv_attr *a = NULL;
    CHECK(lcv_node_add_attr(n, name, &a, &gb_err) == LCV_OK);
    if (!a) return;
    a->type = LCV_ATTR_FLOAT;
    a->f = v;
}

static inline void gb_attr_ints(lcv_node *n, const char *name, const int64_t *v, int count) {
    lcv_attr *a = NULL;
    CHECK(lcv_node_add_attr(n, name, &a, &gb_err) == LCV_OK);
    if (!a) return;
    a->type = LCV_ATTR_INTS;
    a->ints = malloc((size_t)count * sizeof *v);
    if (!a->ints) return;
    memcpy(a->ints, v, (size_t)count * sizeof *v);
    a->n = count;
}

static inline void gb_attr_str(lcv_node *n, const char *name, const char *v) {
    lcv_attr *a = NULL;
    CHECK(lcv_node_add_attr(n, name, &a, &gb_err) == LCV_OK);
    if (!a) return;
    a->type = LCV_ATTR_STRING;
    a->s_len = strlen(v);
    a->s = malloc(a->s_len + 1);
    if (a->s) memcpy(a->s, v, a->s_len + 1);
}

/* Declares value name with dtype and shape (-1 = dynamic); returns its id. */
static inline int gb_value(lcv_graph *g, const char *name, lcv_dtype dt, int ndim, const int64_t *dims) {
    int id = -1;
    CHECK(lcv_graph_intern(g, name, &id, &gb_err) == LCV_OK);
    if (id < 0) return id;
    g->values[id].dtype = dt;
    g->values[id].ndim = ndim;
    for (int k = 0; k < ndim; k++) g->values[id].dims[k] = dims[k];
    return id;
}

static inline void gb_input(lcv_graph *g, const char *name, lcv_dtype dt, int ndim,
                     const int64_t *dims) {
    int id = gb_value(g, name, dt, ndim, dims);
    CHECK(id >= 0 && lcv_graph_add_input(g, id, &gb_err) == LCV_OK);
}

static inline void gb_output(lcv_graph *g, const char *name) {
    int id = lcv_graph_find(g, name);
    CHECK(id >= 0 && lcv_graph_add_output(g, id, &gb_err) == LCV_OK);
}

/* A constant of dtype dt; vals (doubles, converted) fills it, cycling when shorter. */
static inline void gb_const(lcv_graph *g, const char *name, lcv_dtype dt, int ndim, const int64_t *dims,
                     const double *vals, int n_vals) {
    lcv_tensor *t = NULL;
    CHECK(lcv_tensor_create(dt, ndim, dims, &t) == LCV_OK);
    if (!t) return;
    for (int64_t i = 0; i < lcv_tensor_numel(t); i++)
        lcv_store_f64(dt, t->data, i, vals[i % n_vals]);
    int id = gb_value(g, name, dt, ndim, dims);
    CHECK(lcv_graph_set_initializer(g, id, t, &gb_err) == LCV_OK);
}

static inline lcv_model *gb_model(lcv_graph *g, int optimize, int reference) {
    lcv_model_params p = lcv_model_default_params();
    p.optimize = optimize;
    p.reference_kernels = reference;
    lcv_model *m = NULL;
    lcv_status st = lcv_model_from_graph(g, &p, &m);
    CHECK_MSG(st == LCV_OK, "%s", m ? lcv_model_errmsg(m) : "out of memory");
    if (st != LCV_OK) {
        lcv_model_free(m);
        return NULL;
    }
    return m;
}

/* A tensor of dtype dt with deterministic values in [-2, 2) (integers: 0..15). */
static inline lcv_tensor *gb_tensor(lcv_dtype dt, int ndim, const int64_t *dims, uint32_t seed) {
    lcv_tensor *t = NULL;
    CHECK(lcv_tensor_create(dt, ndim, dims, &t) == LCV_OK);
    if (!t) return NULL;
    for (int64_t i = 0; i < lcv_tensor_numel(t); i++) {
        seed = seed * 1664525u + 1013904223u;
        double v = lcv_dtype_is_float(dt) ? (double)((seed >> 8) & 0xffff) / 16384.0 - 2.0
                                          : (double)((seed >> 12) & 15);
        lcv_store_f64(dt, t->data, i, v);
    }
    return t;
}

/* Same dtype, shape and bytes (NaNs equal when their bits are). */
static inline bool gb_same(const lcv_tensor *a, const lcv_tensor *b) {
    if (!a || !b || a->dtype != b->dtype || !lcv_shape_equal(a->ndim, a->dims, b->ndim, b->dims))
        return false;
    size_t n = (size_t)lcv_tensor_count(a) * lcv_dtype_size(a->dtype);
    return n == 0 || memcmp(a->data, b->data, n) == 0;
}

/* The slot index of value `name`'s producer output. */
static inline int gb_slot(const lcv_model *m, const char *name) {
    int id = lcv_graph_find(m->g, name);
    if (id < 0 || m->g->values[id].producer < 0) return -1;
    int p = m->g->values[id].producer;
    for (int k = 0; k < m->g->nodes[p].n_out; k++)
        if (m->g->nodes[p].out[k] == id) return m->slot_base[p] + k;
    return -1;
}

#endif
