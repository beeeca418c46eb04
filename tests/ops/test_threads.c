/* test_threads.c - ops that split their work over the session's thread pool give bit-identical
 * results with no pool, 2 threads and 3 threads (uneven chunk edges), on inputs large enough
 * to be split, including chunks that start and end inside broadcast rows. */
#include <stdint.h>

#include "core/threadpool.h"
#include "op_test_util.h"

/* Like lcv_op_invoke, but with a thread pool in the op context. */
static lcv_status run_with_pool(optest *t, lcv_threadpool *pool, int n_in,
                                const lcv_tensor *const *ins, int n_out, lcv_tensor **outs) {
    lcv_status st = lcv_op_check_arity(t->node, &t->err);
    if (st != LCV_OK) return st;
    const lcv_op_def *d = &lcv_op_table[t->node->op];
    lcv_opctx c = {.node = t->node, .n_in = n_in, .in = ins, .n_out = n_out, .out = outs,
                   .err = &t->err, .pool = pool};
    if ((st = d->infer(&c)) != LCV_OK) return st;
    for (int i = 0; i < n_out; i++) {
        st = lcv_tensor_reshape_alloc(outs[i], outs[i]->dtype, outs[i]->ndim, outs[i]->dims,
                                      &t->err);
        if (st != LCV_OK) return st;
    }
    return d->exec(&c);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* Uniform in [-4, 4), deterministic. */
static double rnd(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return ((double)(rng_state >> 11) / 9007199254740992.0) * 8.0 - 4.0;
}

static lcv_tensor *random_f32(int ndim, const int64_t *dims) {
    lcv_tensor *t = optest_tensor(LCV_DTYPE_FLOAT32, ndim, dims, NULL);
    float *p = t->data;
    for (int64_t i = 0; i < lcv_tensor_numel(t); i++) p[i] = (float)rnd();
    return t;
}

static int same_bits(const lcv_tensor *a, const lcv_tensor *b) {
    if (a->dtype != b->dtype || a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->dims[i] != b->dims[i]) return 0;
    size_t bytes = (size_t)lcv_tensor_numel(a) * lcv_dtype_size(a->dtype);
    return bytes == 0 || memcmp(a->data, b->data, bytes) == 0;
}

enum { MAX_OUT = 2 };

/* Runs the node serially and on each pool; every output must match the serial bits. */
static void check_node(optest *t, lcv_threadpool *const *pools, int n_pools, int n_in,
                       const lcv_tensor *const *ins, int n_out) {
    lcv_tensor *ref[MAX_OUT] = {0}, *got[MAX_OUT] = {0};
    for (int i = 0; i < n_out; i++) lcv_tensor_create(LCV_DTYPE_FLOAT32, 0, NULL, &ref[i]);
    lcv_status st = run_with_pool(t, NULL, n_in, ins, n_out, ref);
    CHECK_MSG(st == LCV_OK, "%s serial: %s", t->node->op_type, t->err.msg);
    for (int k = 0; k < n_pools && st == LCV_OK; k++) {
        for (int i = 0; i < n_out; i++) lcv_tensor_create(LCV_DTYPE_FLOAT32, 0, NULL, &got[i]);
        lcv_status s2 = run_with_pool(t, pools[k], n_in, ins, n_out, got);
        CHECK_MSG(s2 == LCV_OK, "%s on %d threads: %s", t->node->op_type,
                  lcv_threadpool_size(pools[k]), t->err.msg);
        for (int i = 0; i < n_out && s2 == LCV_OK; i++)
            CHECK_MSG(same_bits(ref[i], got[i]), "%s output %d differs on %d threads",
                      t->node->op_type, i, lcv_threadpool_size(pools[k]));
        for (int i = 0; i < n_out; i++) lcv_tensor_free(got[i]);
    }
    for (int i = 0; i < n_out; i++) lcv_tensor_free(ref[i]);
}

static void check_unary(lcv_threadpool *const *pools, int np, const char *op, int opset) {
    static const int64_t dims[] = {2, 16, 61, 67};
    lcv_tensor *x = random_f32(4, dims);
    optest t;
    optest_init(&t, op, opset, 1, 1);
    if (strcmp(op, "LeakyRelu") == 0) optest_attr_float(&t, "alpha", 0.13f);
    if (strcmp(op, "Clip") == 0) {
        optest_attr_float(&t, "min", -1.5f);
        optest_attr_float(&t, "max", 2.25f);
    }
    const lcv_tensor *ins[] = {x};
    check_node(&t, pools, np, 1, ins, 1);
    optest_free(&t);
    lcv_tensor_free(x);
}

static void check_binary(lcv_threadpool *const *pools, int np, const char *op, int na,
                         const int64_t *da, int nb, const int64_t *db) {
    lcv_tensor *a = random_f32(na, da), *b = random_f32(nb, db);
    if (strcmp(op, "Pow") == 0) { /* keep powf away from NaN for negative bases */
        float *p = a->data;
        for (int64_t i = 0; i < lcv_tensor_numel(a); i++) p[i] = p[i] < 0 ? -p[i] : p[i];
    }
    optest t;
    optest_init(&t, op, 14, 2, 1);
    const lcv_tensor *ins[] = {a, b};
    check_node(&t, pools, np, 2, ins, 1);
    optest_free(&t);
    lcv_tensor_free(a);
    lcv_tensor_free(b);
}

static void check_variadic(lcv_threadpool *const *pools, int np, const char *op) {
    static const int64_t d0[] = {3, 50, 401}, d1[] = {50, 1}, d2[] = {401};
    lcv_tensor *a = random_f32(3, d0), *b = random_f32(2, d1), *c = random_f32(1, d2);
    optest t;
    optest_init(&t, op, 13, 3, 1);
    const lcv_tensor *ins[] = {a, b, c};
    check_node(&t, pools, np, 3, ins, 1);
    optest_free(&t);
    lcv_tensor_free(a);
    lcv_tensor_free(b);
    lcv_tensor_free(c);
}

static void check_pools(lcv_threadpool *const *pools, int np) {
    static const int64_t dims[] = {2, 24, 33, 35};
    static const int64_t k3[] = {3, 3}, s2[] = {2, 2}, p1[] = {1, 1, 1, 1}, k2[] = {2, 2};
    lcv_tensor *x = random_f32(4, dims);
    const lcv_tensor *ins[] = {x};
    optest t;
    optest_init(&t, "MaxPool", 12, 1, 2); /* with the Indices output */
    optest_attr_ints(&t, "kernel_shape", 2, k3);
    optest_attr_ints(&t, "strides", 2, s2);
    optest_attr_ints(&t, "pads", 4, p1);
    check_node(&t, pools, np, 1, ins, 2);
    optest_free(&t);
    optest_init(&t, "AveragePool", 11, 1, 1);
    optest_attr_ints(&t, "kernel_shape", 2, k3);
    optest_attr_ints(&t, "pads", 4, p1);
    optest_attr_int(&t, "count_include_pad", 1);
    check_node(&t, pools, np, 1, ins, 1);
    optest_free(&t);
    optest_init(&t, "LpPool", 11, 1, 1);
    optest_attr_ints(&t, "kernel_shape", 2, k2);
    optest_attr_ints(&t, "strides", 2, k2);
    check_node(&t, pools, np, 1, ins, 1);
    optest_free(&t);
    /* Enough planes for every pool to get a chunk. */
    static const int64_t gdims[] = {2, 64, 33, 35};
    lcv_tensor *gx = random_f32(4, gdims);
    const lcv_tensor *gins[] = {gx};
    static const char *globals[] = {"GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"};
    for (int i = 0; i < 3; i++) {
        optest_init(&t, globals[i], 2, 1, 1);
        check_node(&t, pools, np, 1, gins, 1);
        optest_free(&t);
    }
    lcv_tensor_free(gx);
    lcv_tensor_free(x);
}

static void check_rows(lcv_threadpool *const *pools, int np) {
    static const int64_t d2[] = {67, 1000}, d4[] = {2, 13, 67, 71};
    lcv_tensor *x2 = random_f32(2, d2), *x4 = random_f32(4, d4);
    static const char *sm[] = {"Softmax", "LogSoftmax", "Hardmax"};
    optest t;
    for (int i = 0; i < 3; i++) {
        const lcv_tensor *ins[] = {x2};
        optest_init(&t, sm[i], 13, 1, 1);
        check_node(&t, pools, np, 1, ins, 1);
        optest_free(&t);
    }
    /* LayerNorm over the last axis, with Mean and InvStdDev outputs. */
    static const int64_t dn[] = {1000};
    lcv_tensor *scale = random_f32(1, dn), *bias = random_f32(1, dn);
    {
        const lcv_tensor *ins[] = {x2, scale, bias};
        optest_init(&t, "LayerNormalization", 17, 3, 1);
        check_node(&t, pools, np, 3, ins, 1);
        optest_free(&t);
    }
    static const int64_t dc[] = {13};
    lcv_tensor *cs = random_f32(1, dc), *cb = random_f32(1, dc);
    {
        const lcv_tensor *ins[] = {x4, cs, cb};
        optest_init(&t, "InstanceNormalization", 6, 3, 1);
        check_node(&t, pools, np, 3, ins, 1);
        optest_free(&t);
    }
    {
        /* LayerNorm from axis 2 with a scale that varies across rows: the generic path. */
        static const int64_t dx[] = {4, 30, 40, 50}, ds[] = {30, 1, 50};
        lcv_tensor *x = random_f32(4, dx), *s3 = random_f32(3, ds);
        const lcv_tensor *ins[] = {x, s3};
        optest_init(&t, "LayerNormalization", 17, 2, 1);
        optest_attr_int(&t, "axis", 2);
        check_node(&t, pools, np, 2, ins, 1);
        optest_free(&t);
        lcv_tensor_free(x);
        lcv_tensor_free(s3);
    }
    lcv_tensor_free(x2);
    lcv_tensor_free(x4);
    lcv_tensor_free(scale);
    lcv_tensor_free(bias);
    lcv_tensor_free(cs);
    lcv_tensor_free(cb);
}

int main(void) {
    lcv_threadpool *pools[2] = {NULL, NULL};
    lcv_err e = {{0}};
    CHECK(lcv_threadpool_create(2, &pools[0], &e) == LCV_OK);
    CHECK(lcv_threadpool_create(3, &pools[1], &e) == LCV_OK);
    const int np = 2;

    static const char *unary[][2] = {{"Relu", "14"},     {"Sigmoid", "13"},   {"Tanh", "13"},
                                     {"Exp", "13"},      {"HardSwish", "14"}, {"LeakyRelu", "16"},
                                     {"Clip", "6"},      {"Neg", "13"},       {"Sqrt", "13"}};
    for (size_t i = 0; i < sizeof unary / sizeof unary[0]; i++)
        check_unary(pools, np, unary[i][0], atoi(unary[i][1]));

    /* Same shape (one merged row), a broadcast over rows of odd length, a per-channel
     * operand, a scalar, and a broadcast on the left operand. */
    static const int64_t big[] = {2, 16, 37, 41}, row[] = {41}, chan[] = {16, 1, 1};
    static const int64_t scal[] = {1}, colv[] = {2, 1, 37, 1};
    static const char *bins[] = {"Add", "Sub", "Mul", "Div", "Pow"};
    for (int i = 0; i < 5; i++) {
        check_binary(pools, np, bins[i], 4, big, 4, big);
        check_binary(pools, np, bins[i], 4, big, 1, row);
        check_binary(pools, np, bins[i], 4, big, 3, chan);
        check_binary(pools, np, bins[i], 4, big, 1, scal);
        check_binary(pools, np, bins[i], 4, colv, 4, big);
    }
    {
        lcv_tensor *x = random_f32(4, big), *slope = random_f32(3, chan);
        optest t;
        optest_init(&t, "PRelu", 16, 2, 1);
        const lcv_tensor *ins[] = {x, slope};
        check_node(&t, pools, np, 2, ins, 1);
        optest_free(&t);
        lcv_tensor_free(x);
        lcv_tensor_free(slope);
    }
    static const char *variadic[] = {"Sum", "Mean", "Max", "Min"};
    for (int i = 0; i < 4; i++) check_variadic(pools, np, variadic[i]);

    check_pools(pools, np);
    check_rows(pools, np);

    lcv_threadpool_free(pools[0]);
    lcv_threadpool_free(pools[1]);
    return lcv_test_finish("ops_threads");
}
