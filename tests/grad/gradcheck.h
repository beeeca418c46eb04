/* gradcheck.h - checks an op's backward (src/ops/grad.h) against central finite differences.
 * The scalar checked is L = sum_k sum_i r_k[i] * out_k[i] with fixed random weights r_k, so the
 * backward gets dout_k = r_k. The finite differences evaluate the forward in float64 when the
 * op's kernels take float64 inputs (then eps is small and the reference is tight), otherwise in
 * float32 with a larger eps. Ops with a training forward are run with it (same seed each time,
 * so random masks repeat). Integer inputs pass through unchanged and get no gradient. */
#ifndef LCV_GRADCHECK_H
#define LCV_GRADCHECK_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

/* Infers, sizes and runs the node in training mode (its training forward if it has one). */
static inline lcv_status gradcheck_forward(optest *t, int n_in, const lcv_tensor *const *in,
                                           int n_out, lcv_tensor **out, lcv_train_io *io) {
    lcv_opctx c = {t->node, n_in, in, n_out, out, &t->err, NULL, NULL, NULL};
    lcv_status st = lcv_op_table[t->node->op].infer(&c);
    if (st != LCV_OK) return st == LCV_DEFERRED ? LCV_ERR_INTERNAL : st;
    for (int i = 0; i < n_out; i++) {
        st = lcv_tensor_reshape_alloc(out[i], out[i]->dtype, out[i]->ndim, out[i]->dims, &t->err);
        if (st != LCV_OK) return st;
    }
    lcv_train_fwd_fn tf = lcv_train_fwd_lookup(t->node->op);
    return tf ? tf(&c, io) : lcv_op_table[t->node->op].exec(&c);
}

/* L = sum_k r_k . out_k with the forward run on inputs converted to dtype. */
static inline lcv_status gradcheck_loss(optest *t, int n_in, const lcv_tensor *const *in,
                                        int n_out, lcv_tensor *const *r, uint64_t seed,
                                        double *loss) {
    lcv_tensor *outs[8] = {0};
    lcv_train_io io;
    memset(&io, 0, sizeof io);
    for (int k = 0; k < LCV_GRAD_MAX_SAVED; k++) lcv_tensor_init(&io.saved[k]);
    io.seed = seed;
    for (int k = 0; k < n_out; k++) lcv_tensor_create(LCV_DTYPE_FLOAT32, 0, NULL, &outs[k]);
    lcv_status st = gradcheck_forward(t, n_in, in, n_out, outs, &io);
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
    for (int k = 0; k < LCV_GRAD_MAX_SAVED; k++) lcv_tensor_release(&io.saved[k]);
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
    memset(&io, 0, sizeof io);
    for (int k = 0; k < LCV_GRAD_MAX_SAVED; k++) lcv_tensor_init(&io.saved[k]);
    io.seed = o->seed;
    int bad = 0;
    for (int k = 0; k < n_out; k++) lcv_tensor_create(LCV_DTYPE_FLOAT32, 0, NULL, &outs[k]);
    lcv_status st = gradcheck_forward(t, n_in, in, n_out, outs, &io);
    if (st != LCV_OK) {
        fprintf(stderr, "  forward failed: %s\n", t->err.msg);
        bad = -1;
        goto done;
    }
    for (int k = 0; k < n_out; k++)
        if (outs[k]->dtype == LCV_DTYPE_FLOAT32)
            r[k] = gradcheck_tensor(outs[k]->ndim, outs[k]->dims, -1, 1, &s);
    for (int i = 0; i < n_in; i++) {
        bool want = in[i] && in[i]->dtype == LCV_DTYPE_FLOAT32 && (!o->wants || o->wants[i]);
        if (want) din[i] = optest_tensor(LCV_DTYPE_FLOAT32, in[i]->ndim, in[i]->dims, NULL);
    }
    lcv_gradctx g = {t->node, n_in, in, n_out, (const lcv_tensor *const *)outs,
                     (const lcv_tensor *const *)r, din, &io, &t->err, NULL, NULL};
    st = grad(&g);
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
    for (int k = 0; k < LCV_GRAD_MAX_SAVED; k++) lcv_tensor_release(&io.saved[k]);
    return bad;
}

#endif
