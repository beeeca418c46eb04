/* gradcheck.h - checks an op's backward (src/ops/grad.h) against central finite differences.
 * The scalar checked is L = sum_k sum_i r_k[i] * out_k[i] with fixed random weights r_k, so the
 * backward gets dout_k = r_k. The finite differences evaluate the forward in float64 when the
 * op's kernels take float64 inputs (then eps is small and the reference is tight), otherwise in
 * float32 with a larger eps. Ops with a training forward are run with it (same seed each time,
 * so random masks repeat). Integer inputs pass through unchanged and get no gradient.
 * Also here: random inputs kept away from kinks, direct forward/backward runs for checks the
 * finite differences cannot express, and gradcheck_every_isa, which checks one case at every
 * ISA level this CPU runs and with a 2-thread pool against the serial run. */
#ifndef LCV_GRADCHECK_H
#define LCV_GRADCHECK_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "core/threadpool.h"
#include "ops/grad.h"
#include "op_test_util.h"

typedef struct gradcheck_opts {
    double atol, rtol;  /* |analytic - numeric| <= atol + rtol * |numeric| */
    int max_checks;     /* elements checked per input (spread evenly); 0 = 64 */
    uint64_t seed;      /* for the output weights r and the training forward */
    const bool *wants;  /* wants[i]: check input i; NULL = every float input */
    bool verbose;       /* print every compared element */
} gradcheck_opts;

static inline double gradcheck_rand(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0;
}

/* Random float32 tensor with values in [lo, hi]. */
static inline lcv_tensor *gradcheck_tensor(int ndim, const int64_t *dims, double lo, double hi,
                                           uint64_t *s) {
    lcv_tensor *t = optest_tensor(LCV_DTYPE_FLOAT32, ndim, dims, NULL);
    int64_t n = lcv_tensor_numel(t);
    for (int64_t i = 0; i < n; i++)
        ((float *)t->data)[i] = (float)(lo + (hi - lo) * 0.5 * (gradcheck_rand(s) + 1.0));
    return t;
}

/* Uniform integer in [lo, hi] (random shapes). */
static inline int64_t gradcheck_int(uint64_t *s, int64_t lo, int64_t hi) {
    double u = gradcheck_rand(s) * 0.5 + 0.5;
    int64_t v = lo + (int64_t)(u * (double)(hi - lo + 1));
    return v > hi ? hi : v;
}

/* Random float32 tensor in [lo, hi] whose values stay at least `margin` away from each of the
 * nk kinks (finite differences across a kink are meaningless). */
static inline lcv_tensor *gradcheck_tensor_off_kinks(int nd, const int64_t *dims, double lo,
                                                     double hi, const double *kinks, int nk,
                                                     double margin, uint64_t *s) {
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
static inline lcv_tensor *gradcheck_ints(int nd, const int64_t *dims, const int64_t *v) {
    lcv_tensor *t = optest_tensor(LCV_DTYPE_INT64, nd, dims, NULL);
    memcpy(t->data, v, sizeof(int64_t) * (size_t)lcv_tensor_count(t));
    return t;
}

/* A 1-D int64 tensor of n values. */
static inline lcv_tensor *gradcheck_vec(int64_t n, const int64_t *v) {
    return gradcheck_ints(1, &n, v);
}

/* A float32 tensor of shape (nd, dims) filled with v. */
static inline lcv_tensor *gradcheck_fill(int nd, const int64_t *dims, float v) {
    lcv_tensor *t = optest_tensor(LCV_DTYPE_FLOAT32, nd, dims, NULL);
    for (int64_t i = 0; i < lcv_tensor_count(t); i++) ((float *)t->data)[i] = v;
    return t;
}

/* Frees n tensors and clears the pointers. */
static inline void gradcheck_free_all(lcv_tensor **ts, int n) {
    for (int i = 0; i < n; i++) {
        lcv_tensor_free(ts[i]);
        ts[i] = NULL;
    }
}

/* Bitwise equality of two float32 tensors' data. */
static inline bool gradcheck_same_bits(const lcv_tensor *a, const lcv_tensor *b) {
    if (!a || !b) return a == b;
    return lcv_tensor_count(a) == lcv_tensor_count(b) &&
           memcmp(a->data, b->data, sizeof(float) * (size_t)lcv_tensor_count(a)) == 0;
}

/* A training state with empty saved tensors. */
static inline void gradcheck_io_init(lcv_train_io *io, uint64_t seed) {
    memset(io, 0, sizeof *io);
    for (int k = 0; k < LCV_GRAD_MAX_SAVED; k++) lcv_tensor_init(&io->saved[k]);
    io->seed = seed;
}

static inline void gradcheck_io_free(lcv_train_io *io) {
    for (int k = 0; k < LCV_GRAD_MAX_SAVED; k++) lcv_tensor_release(&io->saved[k]);
}

/* Infers and runs the node forward: its training forward when io is given and it has one,
 * else its exec. out[k] are created here (caller frees). */
static inline lcv_status gradcheck_forward(optest *t, int n_in, lcv_tensor *const *in, int n_out,
                                           lcv_tensor **out, lcv_train_io *io,
                                           lcv_threadpool *pool) {
    for (int k = 0; k < n_out; k++) lcv_tensor_create(LCV_DTYPE_FLOAT32, 0, NULL, &out[k]);
    lcv_opctx c = {t->node, n_in, (const lcv_tensor *const *)in, n_out, out, &t->err, NULL, pool,
                   NULL};
    lcv_status st = lcv_op_table[t->node->op].infer(&c);
    if (st == LCV_DEFERRED) st = LCV_ERR_INTERNAL;
    for (int k = 0; st == LCV_OK && k < n_out; k++)
        st = lcv_tensor_reshape_alloc(out[k], out[k]->dtype, out[k]->ndim, out[k]->dims, &t->err);
    if (st != LCV_OK) return st;
    lcv_train_fwd_fn tf = io ? lcv_train_fwd_lookup(t->node->op) : NULL;
    return tf ? tf(&c, io) : lcv_op_table[t->node->op].exec(&c);
}

/* Runs the backward with the given output gradients (entries may be NULL); din[i] is created
 * (float32, shaped like in[i]) where want[i] (NULL: every float32 input). Caller frees din. */
static inline lcv_status gradcheck_backward(optest *t, int n_in, lcv_tensor *const *in, int n_out,
                                            lcv_tensor *const *out, lcv_tensor *const *dout,
                                            lcv_tensor **din, const bool *want,
                                            lcv_train_io *io, lcv_threadpool *pool,
                                            lcv_scratch *scratch) {
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

/* L = sum_k r_k . out_k with the forward run on inputs converted to dtype. */
static inline lcv_status gradcheck_loss(optest *t, int n_in, const lcv_tensor *const *in,
                                        int n_out, lcv_tensor *const *r, uint64_t seed,
                                        double *loss) {
    lcv_tensor *outs[8] = {0};
    lcv_train_io io;
    gradcheck_io_init(&io, seed);
    lcv_status st = gradcheck_forward(t, n_in, (lcv_tensor *const *)in, n_out, outs, &io, NULL);
    double sum = 0;
    for (int k = 0; st == LCV_OK && k < n_out; k++) {
        if (!r[k]) continue;
        int64_t n = lcv_tensor_numel(outs[k]);
        if (n != lcv_tensor_numel(r[k])) {
            st = LCV_ERR_SHAPE;
            break;
        }
        for (int64_t i = 0; i < n; i++)
            sum += lcv_load_f64(outs[k]->dtype, outs[k]->data, i) *
                   (double)((const float *)r[k]->data)[i];
    }
    for (int k = 0; k < n_out; k++) lcv_tensor_free(outs[k]);
    gradcheck_io_free(&io);
    *loss = sum;
    return st;
}

/* Copies of the float inputs in dtype (others shared by pointer). Caller frees via mask. */
static inline void gradcheck_convert(int n_in, const lcv_tensor *const *in, lcv_dtype dtype,
                                     lcv_tensor **copies, const lcv_tensor **view) {
    for (int i = 0; i < n_in; i++) {
        copies[i] = NULL;
        view[i] = in[i];
        if (!in[i] || in[i]->dtype != LCV_DTYPE_FLOAT32) continue;
        copies[i] = optest_tensor(dtype, in[i]->ndim, in[i]->dims, NULL);
        int64_t n = lcv_tensor_numel(in[i]);
        for (int64_t j = 0; j < n; j++)
            lcv_store_f64(dtype, copies[i]->data, j, (double)((const float *)in[i]->data)[j]);
        view[i] = copies[i];
    }
}

/* Runs the backward at `in` and compares each wanted input's gradient with central differences.
 * Returns the number of mismatches (each printed), or -1 when the forward or backward fails. */
static inline int gradcheck_node(optest *t, int n_in, const lcv_tensor *const *in, int n_out,
                                 const gradcheck_opts *o) {
    lcv_grad_fn grad = lcv_grad_lookup(t->node->op);
    if (!grad || n_in > 8 || n_out > 8) {
        fprintf(stderr, "  %s: no backward\n", t->node->op_type);
        return -1;
    }
    uint64_t s = o->seed * 2654435761ULL + 17;
    lcv_tensor *outs[8] = {0}, *r[8] = {0}, *din[8] = {0};
    lcv_train_io io;
    gradcheck_io_init(&io, o->seed);
    int bad = 0;
    lcv_status st = gradcheck_forward(t, n_in, (lcv_tensor *const *)in, n_out, outs, &io, NULL);
    if (st != LCV_OK) {
        fprintf(stderr, "  forward failed: %s\n", t->err.msg);
        bad = -1;
        goto done;
    }
    for (int k = 0; k < n_out; k++)
        if (outs[k]->dtype == LCV_DTYPE_FLOAT32)
            r[k] = gradcheck_tensor(outs[k]->ndim, outs[k]->dims, -1, 1, &s);
    st = gradcheck_backward(t, n_in, (lcv_tensor *const *)in, n_out, outs, r, din, o->wants,
                            &io, NULL, NULL);
    if (st != LCV_OK) {
        fprintf(stderr, "  backward failed: %s\n", t->err.msg);
        bad = -1;
        goto done;
    }
    /* The finite-difference forward: float64 if the op accepts it, else float32. */
    lcv_tensor *copies[8];
    const lcv_tensor *view[8];
    lcv_dtype dt = LCV_DTYPE_FLOAT64;
    double base;
    gradcheck_convert(n_in, in, dt, copies, view);
    if (gradcheck_loss(t, n_in, view, n_out, r, o->seed, &base) != LCV_OK) {
        for (int i = 0; i < n_in; i++) lcv_tensor_free(copies[i]);
        dt = LCV_DTYPE_FLOAT32;
        gradcheck_convert(n_in, in, dt, copies, view);
    }
    double eps = dt == LCV_DTYPE_FLOAT64 ? 1e-6 : 1e-2;
    int max_checks = o->max_checks > 0 ? o->max_checks : 64;
    for (int i = 0; i < n_in && bad >= 0; i++) {
        if (!din[i]) continue;
        int64_t n = lcv_tensor_numel(in[i]);
        int64_t step = n > max_checks ? n / max_checks : 1;
        int64_t first = step > 1 ? (int64_t)((gradcheck_rand(&s) * 0.5 + 0.5) * (double)(step - 1)) : 0;
        for (int64_t j = first; j < n; j += step) {
            double x0 = lcv_load_f64(dt, copies[i]->data, j), lp, lm;
            lcv_store_f64(dt, copies[i]->data, j, x0 + eps);
            st = gradcheck_loss(t, n_in, view, n_out, r, o->seed, &lp);
            lcv_store_f64(dt, copies[i]->data, j, x0 - eps);
            if (st == LCV_OK) st = gradcheck_loss(t, n_in, view, n_out, r, o->seed, &lm);
            lcv_store_f64(dt, copies[i]->data, j, x0);
            if (st != LCV_OK) {
                fprintf(stderr, "  forward failed: %s\n", t->err.msg);
                bad = -1;
                break;
            }
            double num = (lp - lm) / (2 * eps), ana = ((const float *)din[i]->data)[j];
            bool ok = fabs(ana - num) <= o->atol + o->rtol * fabs(num);
            if (!ok || o->verbose)
                fprintf(stderr, "  %s input %d element %lld: backward %.8g, finite difference "
                        "%.8g (%s)%s\n", t->node->op_type, i, (long long)j, ana, num,
                        dt == LCV_DTYPE_FLOAT64 ? "float64" : "float32", ok ? "" : "  MISMATCH");
            if (!ok) bad++;
        }
    }
    for (int i = 0; i < n_in; i++) lcv_tensor_free(copies[i]);
done:
    for (int k = 0; k < n_out; k++) {
        lcv_tensor_free(outs[k]);
        lcv_tensor_free(r[k]);
    }
    for (int i = 0; i < n_in; i++) lcv_tensor_free(din[i]);
    gradcheck_io_free(&io);
    return bad;
}

/* gradcheck_node as a test expectation; wants NULL = every float input. */
static inline void gradcheck_expect(optest *t, int n_in, lcv_tensor *const *in, int n_out,
                                    const bool *wants, double atol, double rtol,
                                    const char *what) {
    gradcheck_opts o = {atol, rtol, 0, 11, wants, false};
    int bad = gradcheck_node(t, n_in, (const lcv_tensor *const *)in, n_out, &o);
    CHECK_MSG(bad == 0, "%s (%s): %d mismatches%s", what, t->node->op_type, bad,
              bad < 0 ? " (run failed)" : "");
}

/* Every ISA level and 2 threads: finite differences run at the best level only; every lower
 * level must then agree with it closely (levels differ only in rounding; the backward's GEMMs
 * dispatch on LCV_ISA), and the best level with a 2-thread pool and session scratch must
 * equal the serial run bit for bit. This keeps the float64 reference runs to one per case. */
typedef struct gradcheck_env {
    lcv_isa best;
    lcv_threadpool *pool; /* 2 threads */
    lcv_scratch scratch;
} gradcheck_env;

static inline void gradcheck_env_init(gradcheck_env *e) {
    lcv_cpu_info info;
    lcv_cpu_detect(&info);
    e->best = lcv_cpu_best_isa(&info);
    lcv_err err;
    e->pool = NULL;
    lcv_threadpool_create(2, &e->pool, &err);
    e->scratch.data = NULL;
    e->scratch.size = 0;
}

static inline void gradcheck_env_free(gradcheck_env *e) {
    lcv_threadpool_free(e->pool);
    free(e->scratch.data);
    unsetenv("LCV_ISA");
}

/* The forward, then the backward with output gradients drawn from seed 99 into din (created
 * here for the float inputs; caller frees). 1 on success. */
static inline int gradcheck_random_backward(optest *t, int n_in, const lcv_tensor *const *in,
                                            int n_out, lcv_threadpool *pool,
                                            lcv_scratch *scratch, lcv_tensor **din) {
    lcv_tensor *outs[8] = {0}, *r[8] = {0};
    uint64_t s = 99;
    int ok = 1;
    for (int i = 0; i < n_in; i++) din[i] = NULL;
    if (gradcheck_forward(t, n_in, (lcv_tensor *const *)in, n_out, outs, NULL, NULL) != LCV_OK) {
        fprintf(stderr, "  forward failed: %s\n", t->err.msg);
        ok = 0;
    }
    for (int k = 0; ok && k < n_out; k++)
        if (outs[k]->dtype == LCV_DTYPE_FLOAT32)
            r[k] = gradcheck_tensor(outs[k]->ndim, outs[k]->dims, -1, 1, &s);
    if (ok && gradcheck_backward(t, n_in, (lcv_tensor *const *)in, n_out, outs, r, din, NULL,
                                 NULL, pool, scratch) != LCV_OK) {
        fprintf(stderr, "  backward failed: %s\n", t->err.msg);
        ok = 0;
    }
    gradcheck_free_all(outs, n_out);
    gradcheck_free_all(r, n_out);
    return ok;
}

/* 1 when every gradient in b equals a's within tol * (1 + max |a|) (tol 0: bit for bit) and
 * all are finite; prints the first difference. */
static inline int gradcheck_grads_close(int n_in, lcv_tensor *const *a, lcv_tensor *const *b,
                                        double tol, const char *what) {
    for (int i = 0; i < n_in; i++) {
        if (!a[i]) continue;
        int64_t n = lcv_tensor_numel(a[i]);
        const float *pa = a[i]->data, *pb = b[i]->data;
        double mx = 0.0;
        for (int64_t j = 0; j < n; j++) mx = fabs(pa[j]) > mx ? fabs(pa[j]) : mx;
        for (int64_t j = 0; j < n; j++) {
            bool same = tol == 0.0 ? memcmp(&pa[j], &pb[j], sizeof(float)) == 0
                                   : fabs((double)pa[j] - pb[j]) <= tol * (1.0 + mx);
            if (!same || !isfinite(pa[j]) || !isfinite(pb[j])) {
                fprintf(stderr, "  %s: input %d element %lld: %.9g vs %.9g\n", what, i,
                        (long long)j, pa[j], pb[j]);
                return 0;
            }
        }
    }
    return 1;
}

static inline int gradcheck_every_isa(optest *t, int n_in, const lcv_tensor *const *in,
                                      int n_out, const gradcheck_opts *o, gradcheck_env *e) {
    int ok = 1;
    setenv("LCV_ISA", lcv_isa_name(e->best), 1);
    int bad = gradcheck_node(t, n_in, in, n_out, o);
    if (bad != 0) {
        fprintf(stderr, "  (isa %s: %d mismatches)\n", lcv_isa_name(e->best), bad);
        ok = 0;
    }
    lcv_tensor *ref[8] = {0}, *other[8] = {0};
    if (!gradcheck_random_backward(t, n_in, in, n_out, NULL, NULL, ref)) ok = 0;
    for (lcv_isa isa = LCV_ISA_SCALAR; ok && isa != e->best; isa = lcv_isa_next(isa, e->best)) {
        setenv("LCV_ISA", lcv_isa_name(isa), 1);
        if (!gradcheck_random_backward(t, n_in, in, n_out, NULL, NULL, other) ||
            !gradcheck_grads_close(n_in, ref, other, 1e-5, lcv_isa_name(isa)))
            ok = 0;
        gradcheck_free_all(other, n_in);
    }
    setenv("LCV_ISA", lcv_isa_name(e->best), 1);
    if (ok && (!gradcheck_random_backward(t, n_in, in, n_out, e->pool, &e->scratch, other) ||
               !gradcheck_grads_close(n_in, ref, other, 0.0, "2 threads vs serial")))
        ok = 0;
    gradcheck_free_all(other, n_in);
    gradcheck_free_all(ref, n_in);
    unsetenv("LCV_ISA");
    return ok;
}

#endif
