/* ga_check.h - what the backward tests of the GEMM-shaped ops and pooling (test_conv.c,
 * test_gemm.c, test_pool.c) share: one case checked against finite differences at every ISA
 * level this CPU runs (the backward's GEMMs dispatch on LCV_ISA), and the backward run with a
 * 2-thread pool and session scratch compared bit for bit with the serial run. Finite
 * differences run at the best level; every lower level must then agree with it closely
 * (levels differ only in rounding), which keeps the float64 reference runs to one per case. */
#ifndef GA_CHECK_H
#define GA_CHECK_H

#include <stdlib.h>

#include "core/cpu.h"
#include "core/threadpool.h"
#include "gradcheck.h"

typedef struct ga_env {
    lcv_isa best;
    lcv_threadpool *pool; /* 2 threads */
    lcv_scratch scratch;
} ga_env;

static inline void ga_env_init(ga_env *e) {
    lcv_cpu_info info;
    lcv_cpu_detect(&info);
    e->best = lcv_cpu_best_isa(&info);
    lcv_err err;
    e->pool = NULL;
    lcv_threadpool_create(2, &e->pool, &err);
    e->scratch.data = NULL;
    e->scratch.size = 0;
}

static inline void ga_env_free(ga_env *e) {
    lcv_threadpool_free(e->pool);
    free(e->scratch.data);
    unsetenv("LCV_ISA");
}

/* Runs the forward, then the backward with output gradients drawn from seed 99, into din
 * (tensors allocated here for the float inputs; caller frees), with the given pool and
 * scratch (both may be NULL). 1 on success. */
static inline int ga_backward(optest *t, int n_in, const lcv_tensor *const *in, int n_out,
                              lcv_threadpool *pool, lcv_scratch *scratch, lcv_tensor **din) {
    lcv_tensor *outs[8] = {0}, *r[8] = {0};
    uint64_t s = 99;
    int ok = 1;
    for (int i = 0; i < n_in; i++)
        din[i] = in[i] && in[i]->dtype == LCV_DTYPE_FLOAT32
                     ? optest_tensor(LCV_DTYPE_FLOAT32, in[i]->ndim, in[i]->dims, NULL)
                     : NULL;
    for (int k = 0; k < n_out; k++) lcv_tensor_create(LCV_DTYPE_FLOAT32, 0, NULL, &outs[k]);
    if (lcv_op_invoke(t->node, n_in, in, n_out, outs, &t->err) != LCV_OK) {
        fprintf(stderr, "  forward failed: %s\n", t->err.msg);
        ok = 0;
    }
    for (int k = 0; ok && k < n_out; k++)
        if (outs[k]->dtype == LCV_DTYPE_FLOAT32)
            r[k] = gradcheck_tensor(outs[k]->ndim, outs[k]->dims, -1, 1, &s);
    lcv_grad_fn grad = lcv_grad_lookup(t->node->op);
    lcv_gradctx g = {t->node, n_in, in, n_out, (const lcv_tensor *const *)outs,
                     (const lcv_tensor *const *)r, din, NULL, &t->err, pool, scratch};
    if (ok && (!grad || grad(&g) != LCV_OK)) {
        fprintf(stderr, "  backward failed: %s\n", t->err.msg);
        ok = 0;
    }
    for (int k = 0; k < n_out; k++) {
        lcv_tensor_free(outs[k]);
        lcv_tensor_free(r[k]);
    }
    return ok;
}

/* 1 when every gradient in b equals a's within tol * (1 + max |a|) (tol 0: bit for bit) and
 * all are finite; prints the first difference. */
static inline int ga_same(int n_in, lcv_tensor *const *a, lcv_tensor *const *b, double tol,
                          const char *what) {
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

static inline void ga_free_all(int n, lcv_tensor **t) {
    for (int i = 0; i < n; i++) lcv_tensor_free(t[i]);
}

/* Finite differences at the best ISA; the backward at every lower ISA close to it; and at
 * the best ISA with 2 threads and session scratch identical to the serial run. */
static inline int ga_check(optest *t, int n_in, const lcv_tensor *const *in, int n_out,
                           const gradcheck_opts *o, ga_env *e) {
    int ok = 1;
    setenv("LCV_ISA", lcv_isa_name(e->best), 1);
    int bad = gradcheck_node(t, n_in, in, n_out, o);
    if (bad != 0) {
        fprintf(stderr, "  (isa %s: %d mismatches)\n", lcv_isa_name(e->best), bad);
        ok = 0;
    }
    lcv_tensor *ref[8] = {0}, *other[8] = {0};
    if (!ga_backward(t, n_in, in, n_out, NULL, NULL, ref)) ok = 0;
    for (lcv_isa isa = LCV_ISA_SCALAR; ok && isa != e->best; isa = lcv_isa_next(isa, e->best)) {
        setenv("LCV_ISA", lcv_isa_name(isa), 1);
        if (!ga_backward(t, n_in, in, n_out, NULL, NULL, other) ||
            !ga_same(n_in, ref, other, 1e-5, lcv_isa_name(isa)))
            ok = 0;
        ga_free_all(n_in, other);
    }
    setenv("LCV_ISA", lcv_isa_name(e->best), 1);
    if (ok && (!ga_backward(t, n_in, in, n_out, e->pool, &e->scratch, other) ||
               !ga_same(n_in, ref, other, 0.0, "2 threads vs serial")))
        ok = 0;
    ga_free_all(n_in, other);
    ga_free_all(n_in, ref);
    unsetenv("LCV_ISA");
    return ok;
}

/* Small uniform integers for random shapes. */
static inline int64_t ga_rand_int(uint64_t *s, int64_t lo, int64_t hi) {
    double u = gradcheck_rand(s) * 0.5 + 0.5;
    int64_t v = lo + (int64_t)(u * (double)(hi - lo + 1));
    return v > hi ? hi : v;
}

#endif
