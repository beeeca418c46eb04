/* op_case.h - a one-node test case that owns its input and output tensors, for the op tests
 * that run many small cases (test_gather/resize/quant/detect.c): set inputs, run, compare,
 * free everything (so the sanitizer builds see no leaks). Builds on op_test_util.h. */
#ifndef LCV_OP_CASE_H
#define LCV_OP_CASE_H

#include "op_test_util.h"

typedef struct opcase {
    optest t;
    int nin, nout;
    lcv_tensor *in[9];
    lcv_tensor *out[4];
} opcase;

static inline void case_begin(opcase *k, const char *op, int opset, int nin, int nout) {
    memset(k, 0, sizeof *k);
    optest_init(&k->t, op, opset, nin, nout);
    k->nin = nin;
    k->nout = nout;
    for (int i = 0; i < nout; i++) lcv_tensor_create(LCV_DTYPE_FLOAT32, 0, NULL, &k->out[i]);
}

/* Sets input i (replacing a previous one); vals may be NULL for zeros. */
static inline void case_in(opcase *k, int i, lcv_dtype dt, int nd, const int64_t *dims,
                           const double *vals) {
    lcv_tensor_free(k->in[i]);
    k->in[i] = optest_tensor(dt, nd, dims, vals);
}

/* Runs the node; prints the error message when it fails. */
static inline lcv_status case_run(opcase *k) {
    lcv_status st = optest_run(&k->t, k->nin, (const lcv_tensor *const *)k->in, k->nout, k->out);
    if (st != LCV_OK) fprintf(stderr, "  (status %d: %s)\n", (int)st, k->t.err.msg);
    return st;
}

/* Runs the node expecting failure whose message contains `needle`. */
static inline int case_fails(opcase *k, const char *needle) {
    lcv_status st = optest_run(&k->t, k->nin, (const lcv_tensor *const *)k->in, k->nout, k->out);
    if (st == LCV_OK) {
        fprintf(stderr, "  expected an error containing '%s', got success\n", needle);
        return 0;
    }
    if (!strstr(k->t.err.msg, needle)) {
        fprintf(stderr, "  error '%s' lacks '%s'\n", k->t.err.msg, needle);
        return 0;
    }
    return 1;
}

/* Output i has rank nd and these dims. */
static inline int case_shape(const opcase *k, int i, int nd, const int64_t *dims) {
    const lcv_tensor *o = k->out[i];
    if (lcv_shape_equal(o->ndim, o->dims, nd, dims)) return 1;
    char a[128], b[128];
    fprintf(stderr, "  output %d shape %s, expected %s\n", i, lcv_shape_str(o->ndim, o->dims, a, 128),
            lcv_shape_str(nd, dims, b, 128));
    return 0;
}

/* Calls the node's infer directly; in[] may hold tensors without data (data NULL). */
static inline lcv_status case_infer(opcase *k, const lcv_tensor *const *in) {
    lcv_opctx ctx = {k->t.node, k->nin, in, k->nout, k->out, &k->t.err, NULL, NULL, NULL};
    return lcv_op_table[k->t.node->op].infer(&ctx);
}

static inline void case_end(opcase *k) {
    for (int i = 0; i < 9; i++) lcv_tensor_free(k->in[i]);
    for (int i = 0; i < 4; i++) lcv_tensor_free(k->out[i]);
    optest_free(&k->t);
}

#endif
