/* shape_test_util.h - compact helpers for the shape/layout op tests (test_shape.c,
 * test_layout.c): literal shapes and values, a one-output run, exact output checks and
 * expected-failure checks that also demand a message naming the node. */
#ifndef LCV_SHAPE_TEST_UTIL_H
#define LCV_SHAPE_TEST_UTIL_H

#include "op_test_util.h"

#define DIMS(...) ((const int64_t[]){__VA_ARGS__})
#define VALS(...) ((const double[]){__VA_ARGS__})
#define NVALS(...) ((int64_t)(sizeof((const double[]){__VA_ARGS__}) / sizeof(double)))

static inline lcv_tensor *ten(lcv_dtype d, int nd, const int64_t *dims, const double *v) {
    return optest_tensor(d, nd, dims, v);
}

/* An int64 tensor of n values (exact, unlike the double path). */
static inline lcv_tensor *ints(int n, const int64_t *v) {
    int64_t d = n;
    lcv_tensor *t = NULL;
    lcv_tensor_create(LCV_DTYPE_INT64, 1, &d, &t);
    if (n) memcpy(t->data, v, sizeof(int64_t) * (size_t)n);
    return t;
}

/* Runs the node with n_in inputs (NULL entries are omitted inputs) and one output. */
static inline lcv_status run1(optest *t, int n_in, lcv_tensor *const *ins, lcv_tensor **out) {
    int64_t z = 0;
    *out = NULL;
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 1, &z, out);
    return optest_run(t, n_in, (const lcv_tensor *const *)ins, 1, out);
}

/* True when t has the given dtype and shape (prints what differs). */
static inline int same_shape(const lcv_tensor *t, lcv_dtype d, int nd, const int64_t *dims) {
    if (t->dtype == d && lcv_shape_equal(t->ndim, t->dims, nd, dims)) return 1;
    char a[128], b[128];
    fprintf(stderr, "  got %s %s, expected %s %s\n", lcv_dtype_name(t->dtype),
            lcv_shape_str(t->ndim, t->dims, a, sizeof a), lcv_dtype_name(d),
            lcv_shape_str(nd, dims, b, sizeof b));
    return 0;
}

/* True when t's elements read as int64 equal ref. */
static inline int same_ints(const lcv_tensor *t, int64_t n, const int64_t *ref) {
    if (lcv_tensor_numel(t) != n) {
        fprintf(stderr, "  numel %lld != %lld\n", (long long)lcv_tensor_numel(t), (long long)n);
        return 0;
    }
    for (int64_t i = 0; i < n; i++)
        if (lcv_load_i64(t->dtype, t->data, i) != ref[i]) {
            fprintf(stderr, "  element %lld: got %lld expected %lld\n", (long long)i,
                    (long long)lcv_load_i64(t->dtype, t->data, i), (long long)ref[i]);
            return 0;
        }
    return 1;
}

/* Shape and values of a one-output run, compared exactly. */
#define CHECK_OUT(st, out, dt, nd, dims, ...)                                                     \
    do {                                                                                          \
        CHECK_MSG((st) == LCV_OK, "status %s: %s", lcv_status_name(st), T.err.msg);              \
        if ((st) == LCV_OK) {                                                                     \
            CHECK(same_shape(out, dt, nd, dims));                                                 \
            CHECK(optest_close(out, VALS(__VA_ARGS__), NVALS(__VA_ARGS__), 0, 0));                \
        }                                                                                         \
    } while (0)

/* The run must fail with a message that names the node. */
#define CHECK_FAILS(st)                                                                           \
    do {                                                                                          \
        T.err.msg[0] = '\0';                                                                   \
        lcv_status st_once_ = (st); /* evaluated once: st is often the run itself */              \
        if (getenv("LCV_TEST_VERBOSE")) fprintf(stderr, "  expected failure: %s\n", T.err.msg); \
        CHECK_MSG(st_once_ != LCV_OK && st_once_ != LCV_DEFERRED, "expected failure, got %s",     \
                  lcv_status_name(st_once_));                                                     \
        CHECK_MSG(strstr(T.err.msg, "node 'n'") != NULL, "message: '%s'", T.err.msg);            \
    } while (0)

static inline void free_all(int n, lcv_tensor **ts) {
    for (int i = 0; i < n; i++) lcv_tensor_free(ts[i]);
}

/* Calls the node's infer directly (used for LCV_DEFERRED checks with data-less inputs). */
static inline lcv_status infer_only(optest *t, int n_in, const lcv_tensor *const *ins,
                                    lcv_tensor *out) {
    lcv_opctx c = {t->node, n_in, ins, 1, &out, &t->err, NULL, NULL, NULL};
    return lcv_op_table[t->node->op].infer(&c);
}

#endif
