/* qgraph.h - small ONNX graphs for the compression tests (test_biascorr.c, test_equalize.c):
 * a float input, constant weights, Conv/Gemm/Relu/Clip nodes with their attributes, written
 * to bytes and run through the public API. Header-only helpers of the tests, not the library. */
#ifndef LCV_TEST_QGRAPH_H
#define LCV_TEST_QGRAPH_H

#include <stdlib.h>
#include <string.h>

#include "frontends/onnx/onnx.h"
#include "harness.h"
#include "ir/graph.h"

typedef struct qg {
    lcv_graph *g;
    lcv_err e;
    bool ok;
    int n_tmp; /* for generated value names */
} qg;

static uint64_t qg_rng = 0x2545f4914f6cdd1dull;
/* Uniform in [0, 1). */
static inline double qg_uniform(void) {
    qg_rng ^= qg_rng << 13;
    qg_rng ^= qg_rng >> 7;
    qg_rng ^= qg_rng << 17;
    return (double)(qg_rng >> 11) / 9007199254740992.0;
}

/* A graph with one float32 input "x" of the given shape. */
static inline void qg_start(qg *q, int ndim, const int64_t *dims) {
    memset(q, 0, sizeof *q);
    q->g = lcv_graph_new();
    int x = -1;
    q->ok = q->g && lcv_graph_add_opset(q->g, "", 13, &q->e) == LCV_OK &&
            lcv_graph_intern(q->g, "x", &x, &q->e) == LCV_OK &&
            lcv_graph_add_input(q->g, x, &q->e) == LCV_OK;
    if (!q->ok) return;
    q->g->ir_version = 7;
    lcv_value *v = &q->g->values[x];
    v->dtype = LCV_DTYPE_FLOAT32;
    v->ndim = ndim;
    for (int d = 0; d < ndim; d++) v->dims[d] = dims[d];
}

/* A float32 constant named name (data copied; NULL: zeros). */
static inline void qg_const(qg *q, const char *name, int ndim, const int64_t *dims,
                            const float *data) {
    lcv_tensor *t = NULL;
    int id = -1;
    if (!q->ok) return;
    q->ok = lcv_tensor_create(LCV_DTYPE_FLOAT32, ndim, dims, &t) == LCV_OK;
    if (q->ok && data) memcpy(t->data, data, sizeof(float) * (size_t)lcv_tensor_count(t));
    q->ok = q->ok && lcv_graph_intern(q->g, name, &id, &q->e) == LCV_OK &&
            lcv_graph_set_initializer(q->g, id, t, &q->e) == LCV_OK;
}

/* Node op(in...) -> out; returns it (valid until the next node) or NULL. */
static inline lcv_node *qg_node(qg *q, const char *op, int n_in, const char *const *in,
                                const char *out) {
    lcv_node *n = NULL;
    char name[64];
    snprintf(name, sizeof name, "%s_%d", op, q->n_tmp++);
    const char *outs[1] = {out};
    if (q->ok)
        q->ok = lcv_graph_add_node(q->g, name, op, "", n_in, in, 1, outs, &n, &q->e) == LCV_OK;
    if (n) n->opset = 13;
    return q->ok ? n : NULL;
}

static inline void qg_attr_int(qg *q, lcv_node *n, const char *name, int64_t v) {
    lcv_attr *a;
    if (n && q->ok && (q->ok = lcv_node_add_attr(n, name, &a, &q->e) == LCV_OK)) {
        a->type = LCV_ATTR_INT;
        a->i = v;
    }
}

static inline void qg_attr_float(qg *q, lcv_node *n, const char *name, float v) {
    lcv_attr *a;
    if (n && q->ok && (q->ok = lcv_node_add_attr(n, name, &a, &q->e) == LCV_OK)) {
        a->type = LCV_ATTR_FLOAT;
        a->f = v;
    }
}

static inline void qg_attr_ints(qg *q, lcv_node *n, const char *name, int count, int64_t v) {
    lcv_attr *a;
    if (!n || !q->ok || !(q->ok = lcv_node_add_attr(n, name, &a, &q->e) == LCV_OK)) return;
    a->type = LCV_ATTR_INTS;
    a->n = count;
    a->ints = malloc(sizeof(int64_t) * (size_t)count);
    q->ok = a->ints != NULL;
    for (int k = 0; q->ok && k < count; k++) a->ints[k] = v;
}

/* Conv in -> out with weight wname (and bias bname, or NULL), square padding pad, groups. */
static inline void qg_conv(qg *q, const char *in, const char *wname, const char *bname,
                           int pad, int groups, const char *out) {
    const char *ins[3] = {in, wname, bname};
    lcv_node *n = qg_node(q, "Conv", bname ? 3 : 2, ins, out);
    qg_attr_ints(q, n, "pads", 4, pad);
    if (groups != 1) qg_attr_int(q, n, "group", groups);
}

/* Marks value name as a float32 graph output. */
static inline void qg_output(qg *q, const char *name) {
    int id = -1;
    if (q->ok)
        q->ok = lcv_graph_intern(q->g, name, &id, &q->e) == LCV_OK &&
                lcv_graph_add_output(q->g, id, &q->e) == LCV_OK;
    if (q->ok) q->g->values[id].dtype = LCV_DTYPE_FLOAT32;
}

/* Serializes and frees the graph; *data: caller frees. */
static inline bool qg_finish(qg *q, void **data, size_t *size) {
    *data = NULL;
    *size = 0;
    if (q->ok) q->ok = lcv_onnx_write_graph(q->g, 13, data, size, &q->e) == LCV_OK;
    CHECK_MSG(q->ok, "building a test graph: %s", q->e.msg);
    lcv_graph_free(q->g);
    q->g = NULL;
    return q->ok;
}

/* The first output of a model (bytes) on x: a malloc'd copy of *n floats, or NULL. */
static inline float *qg_run(const void *data, size_t size, const lcv_tensor *x, int64_t *n) {
    lcv_model *m = NULL;
    lcv_session *s = NULL;
    float *y = NULL;
    *n = 0;
    if (lcv_model_load_buffer(data, size, NULL, &m) != LCV_OK) {
        CHECK_MSG(false, "load: %s", m ? lcv_model_errmsg(m) : "out of memory");
    } else if (lcv_session_create(m, NULL, &s) == LCV_OK) {
        const char *name = lcv_model_input_name(m, 0);
        if (lcv_session_run(s, 1, &name, &x) == LCV_OK) {
            const lcv_tensor *t = lcv_session_output(s, 0);
            *n = lcv_tensor_numel(t);
            y = malloc(sizeof(float) * (size_t)*n + 1);
            if (y) memcpy(y, lcv_tensor_cdata(t), sizeof(float) * (size_t)*n);
        } else {
            CHECK_MSG(false, "run: %s", lcv_session_errmsg(s));
        }
    }
    lcv_session_free(s);
    lcv_model_free(m);
    return y;
}

/* max |a - b| / max |a| over n values (0 when both are all zero). */
static inline double qg_rel_diff(const float *a, const float *b, int64_t n) {
    double d = 0, m = 0;
    for (int64_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        m = fmax(m, fabs((double)a[i]));
    }
    return m > 0 ? d / m : d;
}

#endif
