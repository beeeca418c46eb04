/* op_test_util.h - small helpers for op unit tests: build a one-node graph with attributes,
 * make tensors from literals, run the node through lcv_op_invoke and compare results. */
#ifndef LCV_OP_TEST_UTIL_H
#define LCV_OP_TEST_UTIL_H

#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ops/op.h"

/* A graph holding exactly one node named "n" of op_type with n_in inputs and n_out outputs. */
typedef struct optest {
    lcv_graph *g;
    lcv_node *node;
    lcv_err err;
} optest;

static inline void optest_init(optest *t, const char *op_type, int opset, int n_in, int n_out) {
    static const char *in_names[] = {"i0", "i1", "i2", "i3", "i4", "i5", "i6", "i7", "i8"};
    static const char *out_names[] = {"o0", "o1", "o2", "o3", "o4", "o5", "o6", "o7"};
    memset(t, 0, sizeof *t);
    t->g = lcv_graph_new();
    lcv_graph_add_node(t->g, "n", op_type, "", n_in, in_names, n_out, out_names, &t->node,
                       &t->err);
    t->node->op = lcv_op_lookup(op_type, "");
    t->node->opset = opset;
}

static inline void optest_free(optest *t) { lcv_graph_free(t->g); }

static inline void optest_attr_int(optest *t, const char *name, int64_t v) {
    lcv_attr *a;
    lcv_node_add_attr(t->node, name, &a, &t->err);
    a->type = LCV_ATTR_INT;
    a->i = v;
}

static inline void optest_attr_float(optest *t, const char *name, float v) {
    lcv_attr *a;
    lcv_node_add_attr(t->node, name, &a, &t->err);
    a->type = LCV_ATTR_FLOAT;
    a->f = v;
}

static inline void optest_attr_str(optest *t, const char *name, const char *v) {
    lcv_attr *a;
    lcv_node_add_attr(t->node, name, &a, &t->err);
    a->type = LCV_ATTR_STRING;
    a->s_len = strlen(v);
    a->s = malloc(a->s_len + 1);
    memcpy(a->s, v, a->s_len + 1);
}

static inline void optest_attr_ints(optest *t, const char *name, int n, const int64_t *v) {
    lcv_attr *a;
    lcv_node_add_attr(t->node, name, &a, &t->err);
    a->type = LCV_ATTR_INTS;
    a->n = n;
    a->ints = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    memcpy(a->ints, v, sizeof(int64_t) * (size_t)n);
}

static inline void optest_attr_floats(optest *t, const char *name, int n, const float *v) {
    lcv_attr *a;
    lcv_node_add_attr(t->node, name, &a, &t->err);
    a->type = LCV_ATTR_FLOATS;
    a->n = n;
    a->floats = malloc(sizeof(float) * (size_t)(n ? n : 1));
    memcpy(a->floats, v, sizeof(float) * (size_t)n);
}

/* A tensor of dtype with the given shape, filled from doubles (converted to dtype). */
static inline lcv_tensor *optest_tensor(lcv_dtype dtype, int ndim, const int64_t *dims,
                                        const double *vals) {
    lcv_tensor *t = NULL;
    lcv_tensor_create(dtype, ndim, dims, &t);
    int64_t n = lcv_tensor_numel(t);
    if (vals)
        for (int64_t i = 0; i < n; i++) lcv_store_f64(dtype, t->data, i, vals[i]);
    return t;
}

/* Runs the node. outs[i] must be tensors from lcv_tensor_create (any shape; they are resized). */
static inline lcv_status optest_run(optest *t, int n_in, const lcv_tensor *const *ins, int n_out,
                                    lcv_tensor **outs) {
    lcv_status st = lcv_op_check_arity(t->node, &t->err);
    if (st != LCV_OK) return st;
    return lcv_op_invoke(t->node, n_in, ins, n_out, outs, &t->err);
}

/* True when every element of t is within atol + rtol*|ref| of ref. Prints the first mismatch. */
static inline int optest_close(const lcv_tensor *t, const double *ref, int64_t n, double atol,
                               double rtol) {
    if (lcv_tensor_numel(t) != n) {
        fprintf(stderr, "  numel %lld != expected %lld\n", (long long)lcv_tensor_numel(t),
                (long long)n);
        return 0;
    }
    for (int64_t i = 0; i < n; i++) {
        double v = lcv_load_f64(t->dtype, t->data, i);
        if (!(fabs(v - ref[i]) <= atol + rtol * fabs(ref[i])) && !(v != v && ref[i] != ref[i])) {
            fprintf(stderr, "  element %lld: got %.9g expected %.9g\n", (long long)i, v, ref[i]);
            return 0;
        }
    }
    return 1;
}

#endif
