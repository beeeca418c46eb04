/* gb_check.h - helpers shared by the backward tests of the elementwise, normalisation and shape
 * ops (test_eltwise.c, test_norm.c, test_shape.c): random tensors kept away from kinks, a
 * finite-difference check that reports the case, and direct forward/backward runs (with a
 * training state, a thread pool and chosen output gradients) for checks gradcheck.h cannot
 * express. */
#ifndef GB_CHECK_H
#define GB_CHECK_H

#include "core/threadpool.h"
#include "gradcheck.h"

/* Uniform integer in [lo, hi]. */
static inline int64_t gb_int(uint64_t *s, int64_t lo, int64_t hi) {
    double u = gradcheck_rand(s) * 0.5 + 0.5;
    int64_t v = lo + (int64_t)(u * (double)(hi - lo + 1));
    return v > hi ? hi : v;
}

/* Random float32 tensor in [lo, hi] whose values stay at least `margin` away from each of the
 * nk kinks (finite differences across a kink are meaningless). */
static inline lcv_tensor *gb_tensor(int nd, const int64_t *dims, double lo, double hi,
                                    const double *kinks, int nk, double margin, uint64_t *s) {
    lcv_tensor *t = gradcheck_tensor(nd, dims, lo, hi, s);
    float *p = t->data;
    for (int64_t i = 0; i < lcv_tensor_count(t); i++) {
        for (int tries = 0; tries < 100; tries++) {
            bool near = false;
            for (int k = 0; k < nk; k++) near |= fabs((double)p[i] - kinks[k]) < margin;
            if (!near) break;
            p[i] = (float)(lo + (hi - lo) * 0.5 * (gradcheck_rand(s) + 1.0));
        }
    }
    return t;
}

/* An int64 tensor from values. */
static inline lcv_tensor *gb_ints(int nd, const int64_t *dims, const int64_t *v) {
    lcv_tensor *t = optest_tensor(LCV_DTYPE_INT64, nd, dims, NULL);
    memcpy(t->data, v, sizeof(int64_t) * (size_t)lcv_tensor_count(t));
    return t;
}

/* A 1-D int64 tensor of n values. */
static inline lcv_tensor *gb_vec(int64_t n, const int64_t *v) { return gb_ints(1, &n, v); }

/* A float32 tensor of shape (nd, dims) filled with v. */
static inline lcv_tensor *gb_fill(int nd, const int64_t *dims, float v) {
    lcv_tensor *t = optest_tensor(LCV_DTYPE_FLOAT32, nd, dims, NULL);
    for (int64_t i = 0; i < lcv_tensor_count(t); i++) ((float *)t->data)[i] = v;
    return t;
}

/* Finite-difference check of the node at `in`; wants NULL = every float input. */
static inline void gb_grad(optest *t, int n_in, lcv_tensor *const *in, int n_out,
                           const bool *wants, double atol, double rtol, const char *what) {
    gradcheck_opts o = {atol, rtol, 0, 11, wants, false};
    int bad = gradcheck_node(t, n_in, (const lcv_tensor *const *)in, n_out, &o);
    CHECK_MSG(bad == 0, "%s (%s): %d mismatches%s", what, t->node->op_type, bad,
              bad < 0 ? " (run failed)" : "");
}

static inline void gb_free_all(lcv_tensor **ts, int n) {
    for (int i = 0; i < n; i++) {
        lcv_tensor_free(ts[i]);
        ts[i] = NULL;
    }
}

/* A training state with empty saved tensors. */
static inline void gb_io_init(lcv_train_io *io, uint64_t seed) {
    memset(io, 0, sizeof *io);
    for (int k = 0; k < LCV_GRAD_MAX_SAVED; k++) lcv_tensor_init(&io->saved[k]);
    io->seed = seed;
}

static inline void gb_io_free(lcv_train_io *io) {
    for (int k = 0; k < LCV_GRAD_MAX_SAVED; k++) lcv_tensor_release(&io->saved[k]);
}

/* Infers and runs the node forward: its training forward when io is given and it has one,
 * else its exec. out[k] are created here (caller frees). */
static inline lcv_status gb_forward(optest *t, int n_in, lcv_tensor *const *in, int n_out,
                                    lcv_tensor **out, lcv_train_io *io, lcv_threadpool *pool) {
    for (int k = 0; k < n_out; k++) lcv_tensor_create(LCV_DTYPE_FLOAT32, 0, NULL, &out[k]);
    lcv_opctx c = {t->node, n_in, (const lcv_tensor *const *)in, n_out, out, &t->err, NULL,
                   pool, NULL};
    lcv_status st = lcv_op_table[t->node->op].infer(&c);
    for (int k = 0; st == LCV_OK && k < n_out; k++)
        st = lcv_tensor_reshape_alloc(out[k], out[k]->dtype, out[k]->ndim, out[k]->dims, &t->err);
    if (st != LCV_OK) return st;
    lcv_train_fwd_fn tf = io ? lcv_train_fwd_lookup(t->node->op) : NULL;
    return tf ? tf(&c, io) : lcv_op_table[t->node->op].exec(&c);
}

/* Runs the backward with the given output gradients (entries may be NULL); din[i] is created
 * (float32, shaped like in[i]) where want[i] (NULL: every float32 input). Caller frees din. */
static inline lcv_status gb_backward(optest *t, int n_in, lcv_tensor *const *in, int n_out,
                                     lcv_tensor *const *out, lcv_tensor *const *dout,
                                     lcv_tensor **din, const bool *want, lcv_train_io *io,
                                     lcv_threadpool *pool, lcv_scratch *scratch) {
    for (int i = 0; i < n_in; i++) {
        bool w = in[i] && in[i]->dtype == LCV_DTYPE_FLOAT32 && (!want || want[i]);
        din[i] = w ? optest_tensor(LCV_DTYPE_FLOAT32, in[i]->ndim, in[i]->dims, NULL) : NULL;
    }
    lcv_gradctx g = {t->node, n_in, (const lcv_tensor *const *)in, n_out,
                     (const lcv_tensor *const *)out, (const lcv_tensor *const *)dout, din, io,
                     &t->err, pool, scratch};
    lcv_grad_fn f = lcv_grad_lookup(t->node->op);
    return f ? f(&g) : LCV_ERR_UNSUPPORTED;
}

/* Bitwise equality of two float32 tensors' data. */
static inline bool gb_same(const lcv_tensor *a, const lcv_tensor *b) {
    if (!a || !b) return a == b;
    return lcv_tensor_count(a) == lcv_tensor_count(b) &&
           memcmp(a->data, b->data, sizeof(float) * (size_t)lcv_tensor_count(a)) == 0;
}

#endif
