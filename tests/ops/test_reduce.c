/* test_reduce.c - Reduce* (attribute and input axes, keepdims, noop, empty sets, integer and
 * half/double dtypes, fast and generic paths), ArgMax/ArgMin and CumSum, including bad input. */
#include "op_test_util.h"

static const int64_t D1[1] = {1}, D2x3[2] = {2, 3};
static const double V6[6] = {1, 2, 3, 4, 5, 6};

static lcv_tensor *new_out(void) {
    int64_t z = 0;
    lcv_tensor *t = NULL;
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 1, &z, &t);
    return t;
}

static lcv_tensor *ints1(int n, const double *v) {
    int64_t d = n;
    return optest_tensor(LCV_DTYPE_INT64, 1, &d, v);
}

/* Runs a one-output node; returns the status and leaves the output in *out (caller frees). */
static lcv_status run1(optest *t, int n_in, const lcv_tensor *const *in, lcv_tensor **out) {
    *out = new_out();
    return optest_run(t, n_in, in, 1, out);
}

static void check_shape(const lcv_tensor *y, int nd, const int64_t *dims) {
    CHECK_MSG(lcv_shape_equal(y->ndim, y->dims, nd, dims), "rank %d", y->ndim);
}

/* ReduceSum over axes given as an input (opset 13), as an attribute (opset 11), noop. */
static void test_sum_axes(void) {
    optest t;
    lcv_tensor *x = optest_tensor(LCV_DTYPE_FLOAT32, 2, D2x3, V6), *y;
    lcv_tensor *ax = ints1(1, (const double[]){1});
    optest_init(&t, "ReduceSum", 13, 2, 1);
    const lcv_tensor *in[2] = {x, ax};
    CHECK(run1(&t, 2, in, &y) == LCV_OK);
    check_shape(y, 2, (const int64_t[]){2, 1});
    CHECK(optest_close(y, (const double[]){6, 15}, 2, 1e-6, 0));
    lcv_tensor_free(y);
    optest_free(&t);

    /* no axes: everything, keepdims=0 gives a scalar */
    optest_init(&t, "ReduceSum", 13, 1, 1);
    optest_attr_int(&t, "keepdims", 0);
    CHECK(run1(&t, 1, in, &y) == LCV_OK);
    CHECK(y->ndim == 0 && optest_close(y, (const double[]){21}, 1, 1e-6, 0));
    lcv_tensor_free(y);
    optest_free(&t);

    /* empty axes input with noop_with_empty_axes: identity */
    lcv_tensor *none = ints1(0, NULL);
    optest_init(&t, "ReduceSum", 13, 2, 1);
    optest_attr_int(&t, "noop_with_empty_axes", 1);
    const lcv_tensor *in2[2] = {x, none};
    CHECK(run1(&t, 2, in2, &y) == LCV_OK);
    check_shape(y, 2, D2x3);
    CHECK(optest_close(y, V6, 6, 0, 0));
    lcv_tensor_free(y);
    optest_free(&t);

    optest_init(&t, "ReduceMean", 11, 1, 1);
    optest_attr_ints(&t, "axes", 1, (const int64_t[]){0});
    optest_attr_int(&t, "keepdims", 0);
    CHECK(run1(&t, 1, in, &y) == LCV_OK);
    check_shape(y, 1, (const int64_t[]){3});
    CHECK(optest_close(y, (const double[]){2.5, 3.5, 4.5}, 3, 1e-6, 0));
    lcv_tensor_free(y);
    optest_free(&t);

    /* opset 18: axes input for every Reduce*, negative axis */
    lcv_tensor *neg = ints1(1, (const double[]){-1});
    const lcv_tensor *in3[2] = {x, neg};
    optest_init(&t, "ReduceMax", 18, 2, 1);
    optest_attr_int(&t, "keepdims", 0);
    CHECK(run1(&t, 2, in3, &y) == LCV_OK);
    CHECK(optest_close(y, (const double[]){3, 6}, 2, 0, 0));
    lcv_tensor_free(y);
    optest_free(&t);
    lcv_tensor_free(x);
    lcv_tensor_free(ax);
    lcv_tensor_free(none);
    lcv_tensor_free(neg);
}

/* Each kind over all of [1, 2, 3, 4], through the float32, float64 and float16 paths. */
static void test_kinds(void) {
    static const char *ops[] = {"ReduceSum", "ReduceMean", "ReduceMax",    "ReduceMin",
                                "ReduceProd", "ReduceL1",  "ReduceL2",     "ReduceLogSum",
                                "ReduceLogSumExp", "ReduceSumSquare"};
    static const double want[] = {10, 2.5, 4, 1, 24, 10, 5.477225575051661, 2.302585092994046,
                                  4.440189698561196, 30};
    static const lcv_dtype dts[] = {LCV_DTYPE_FLOAT32, LCV_DTYPE_FLOAT64, LCV_DTYPE_FLOAT16};
    int64_t d[2] = {2, 2};
    for (int k = 0; k < 10; k++)
        for (int j = 0; j < 3; j++) {
            optest t;
            lcv_tensor *x = optest_tensor(dts[j], 2, d, (const double[]){1, 2, 3, 4}), *y;
            optest_init(&t, ops[k], 13, 1, 1);
            CHECK(run1(&t, 1, (const lcv_tensor *const[]){x}, &y) == LCV_OK);
            CHECK(y->dtype == dts[j]);
            CHECK_MSG(optest_close(y, &want[k], 1, 1e-6, j == 2 ? 2e-3 : 1e-7), "%s %s", ops[k],
                      lcv_dtype_name(dts[j]));
            lcv_tensor_free(x);
            lcv_tensor_free(y);
            optest_free(&t);
        }
}

/* The float32 fast path (one reduced group with inner positions) and the generic multi-group
 * walk agree with hand sums over a [2,3,4] tensor of 0..23. */
static void test_layouts(void) {
    double v[24];
    for (int i = 0; i < 24; i++) v[i] = i;
    int64_t d[3] = {2, 3, 4};
    static const double mid[8] = {12, 15, 18, 21, 48, 51, 54, 57};   /* axes [1] */
    static const double outer_inner[3] = {60, 92, 124};                /* axes [0, 2] */
    for (int j = 0; j < 2; j++) {
        lcv_dtype dt = j ? LCV_DTYPE_FLOAT64 : LCV_DTYPE_FLOAT32;
        optest t;
        lcv_tensor *x = optest_tensor(dt, 3, d, v), *y;
        optest_init(&t, "ReduceSum", 11, 1, 1);
        optest_attr_ints(&t, "axes", 1, (const int64_t[]){1});
        CHECK(run1(&t, 1, (const lcv_tensor *const[]){x}, &y) == LCV_OK);
        check_shape(y, 3, (const int64_t[]){2, 1, 4});
        CHECK(optest_close(y, mid, 8, 1e-9, 0));
        lcv_tensor_free(y);
        optest_free(&t);
        optest_init(&t, "ReduceSum", 11, 1, 1);
        optest_attr_ints(&t, "axes", 2, (const int64_t[]){0, 2});
        optest_attr_int(&t, "keepdims", 0);
        CHECK(run1(&t, 1, (const lcv_tensor *const[]){x}, &y) == LCV_OK);
        CHECK(optest_close(y, outer_inner, 3, 1e-9, 0));
        lcv_tensor_free(y);
        optest_free(&t);
        optest_init(&t, "ReduceMin", 11, 1, 1);
        optest_attr_ints(&t, "axes", 1, (const int64_t[]){1});
        optest_attr_int(&t, "keepdims", 0);
        CHECK(run1(&t, 1, (const lcv_tensor *const[]){x}, &y) == LCV_OK);
        CHECK(optest_close(y, (const double[]){0, 1, 2, 3, 12, 13, 14, 15}, 8, 0, 0));
        lcv_tensor_free(y);
        optest_free(&t);
        lcv_tensor_free(x);
    }
}

/* Reducing an empty set gives the identity of the operation. */
static void test_empty_set(void) {
    static const char *ops[] = {"ReduceSum", "ReduceProd", "ReduceMin", "ReduceMax",
                                "ReduceLogSumExp", "ReduceL2"};
    static const double want[] = {0, 1, INFINITY, -INFINITY, -INFINITY, 0};
    int64_t d[2] = {2, 0};
    for (int k = 0; k < 6; k++) {
        optest t;
        lcv_tensor *x = optest_tensor(LCV_DTYPE_FLOAT32, 2, d, NULL), *y;
        lcv_tensor *ax = ints1(1, (const double[]){1});
        optest_init(&t, ops[k], 18, 2, 1);
        CHECK(run1(&t, 2, (const lcv_tensor *const[]){x, ax}, &y) == LCV_OK);
        check_shape(y, 2, (const int64_t[]){2, 1});
        /* compared exactly: optest_close's |a - b| is NaN for matching infinities */
        const float *yv = y->data;
        CHECK_MSG(yv[0] == want[k] && yv[1] == want[k], "%s: %g", ops[k], yv[0]);
        lcv_tensor_free(x);
        lcv_tensor_free(ax);
        lcv_tensor_free(y);
        optest_free(&t);
    }
    /* integer max of nothing is the dtype's minimum */
    optest t;
    lcv_tensor *x = optest_tensor(LCV_DTYPE_INT32, 2, d, NULL), *y;
    optest_init(&t, "ReduceMax", 13, 1, 1);
    optest_attr_ints(&t, "axes", 1, (const int64_t[]){1});
    CHECK(run1(&t, 1, (const lcv_tensor *const[]){x}, &y) == LCV_OK);
    CHECK(y->dtype == LCV_DTYPE_INT32 && ((int32_t *)y->data)[0] == INT32_MIN);
    lcv_tensor_free(x);
    lcv_tensor_free(y);
    optest_free(&t);
}

/* Integer reductions are exact in int64 (a double accumulator would lose the +1). */
static void test_integers(void) {
    optest t;
    int64_t d[1] = {2};
    lcv_tensor *x = NULL, *y;
    lcv_tensor_create(LCV_DTYPE_INT64, 1, d, &x);
    ((int64_t *)x->data)[0] = ((int64_t)1 << 53) + 1;
    ((int64_t *)x->data)[1] = 1;
    optest_init(&t, "ReduceSum", 13, 1, 1);
    CHECK(run1(&t, 1, (const lcv_tensor *const[]){x}, &y) == LCV_OK);
    CHECK(y->dtype == LCV_DTYPE_INT64 && ((int64_t *)y->data)[0] == ((int64_t)1 << 53) + 2);
    lcv_tensor_free(y);
    optest_free(&t);
    lcv_tensor_free(x);

    x = optest_tensor(LCV_DTYPE_INT32, 2, D2x3, (const double[]){2, -3, 4, 1, 7, -1});
    static const char *ops[] = {"ReduceProd", "ReduceMin", "ReduceMax", "ReduceMean"};
    static const double want[4][2] = {{-24, -7}, {-3, -1}, {4, 7}, {1, 2}};
    for (int k = 0; k < 4; k++) {
        optest_init(&t, ops[k], 13, 1, 1);
        optest_attr_ints(&t, "axes", 1, (const int64_t[]){1});
        optest_attr_int(&t, "keepdims", 0);
        CHECK(run1(&t, 1, (const lcv_tensor *const[]){x}, &y) == LCV_OK);
        CHECK_MSG(optest_close(y, want[k], 2, 0, 0), "%s", ops[k]);
        lcv_tensor_free(y);
        optest_free(&t);
    }
    lcv_tensor_free(x);
}

static void test_reduce_errors(void) {
    optest t;
    lcv_tensor *x = optest_tensor(LCV_DTYPE_FLOAT32, 2, D2x3, V6), *y;
    optest_init(&t, "ReduceSum", 11, 1, 1);
    optest_attr_ints(&t, "axes", 2, (const int64_t[]){1, -1});
    CHECK(run1(&t, 1, (const lcv_tensor *const[]){x}, &y) == LCV_ERR_SHAPE);
    CHECK(strstr(t.err.msg, "twice") != NULL);
    lcv_tensor_free(y);
    optest_free(&t);

    optest_init(&t, "ReduceMean", 11, 1, 1);
    optest_attr_ints(&t, "axes", 1, (const int64_t[]){2});
    CHECK(run1(&t, 1, (const lcv_tensor *const[]){x}, &y) == LCV_ERR_SHAPE);
    CHECK(strstr(t.err.msg, "node 'n' (ReduceMean)") != NULL);
    lcv_tensor_free(y);
    optest_free(&t);

    /* axes input of the wrong dtype / rank / size */
    lcv_tensor *fax = optest_tensor(LCV_DTYPE_FLOAT32, 1, D1, (const double[]){1});
    lcv_tensor *ax2 = optest_tensor(LCV_DTYPE_INT64, 2, (const int64_t[]){1, 1}, (const double[]){1});
    lcv_tensor *big = ints1(9, (const double[]){0, 0, 0, 0, 0, 0, 0, 0, 0});
    const lcv_tensor *bad[3] = {fax, ax2, big};
    for (int i = 0; i < 3; i++) {
        optest_init(&t, "ReduceSum", 13, 2, 1);
        CHECK(run1(&t, 2, (const lcv_tensor *const[]){x, bad[i]}, &y) == LCV_ERR_SHAPE);
        lcv_tensor_free(y);
        optest_free(&t);
    }
    lcv_tensor_free(fax);
    lcv_tensor_free(ax2);
    lcv_tensor_free(big);

    /* axes attribute of the wrong type */
    optest_init(&t, "ReduceSum", 11, 1, 1);
    optest_attr_int(&t, "axes", 0);
    CHECK(run1(&t, 1, (const lcv_tensor *const[]){x}, &y) == LCV_ERR_INVALID_ARG);
    lcv_tensor_free(y);
    optest_free(&t);

    lcv_tensor *b = optest_tensor(LCV_DTYPE_BOOL, 2, D2x3, V6);
    optest_init(&t, "ReduceSum", 11, 1, 1);
    CHECK(run1(&t, 1, (const lcv_tensor *const[]){b}, &y) == LCV_ERR_UNSUPPORTED);
    lcv_tensor_free(y);
    optest_free(&t);
    lcv_tensor_free(b);
    lcv_tensor_free(x);
}

/* Axes data unknown at load time: inference is deferred, not failed. */
static void test_deferred(void) {
    optest t;
    optest_init(&t, "ReduceSum", 13, 2, 1);
    lcv_tensor x, ax, y;
    lcv_tensor_init(&x);
    lcv_tensor_init(&ax);
    lcv_tensor_init(&y);
    x.dtype = LCV_DTYPE_FLOAT32;
    x.ndim = 2;
    x.dims[0] = 2;
    x.dims[1] = 3;
    ax.dtype = LCV_DTYPE_INT64;
    ax.ndim = 1;
    ax.dims[0] = 1;
    const lcv_tensor *in[2] = {&x, &ax};
    lcv_tensor *out[1] = {&y};
    lcv_opctx c = {t.node, 2, in, 1, out, &t.err, NULL, NULL, NULL};
    CHECK(lcv_infer_reduce(&c) == LCV_DEFERRED);
    optest_free(&t);
}

static void test_argreduce(void) {
    optest t;
    lcv_tensor *x = optest_tensor(LCV_DTYPE_FLOAT32, 2, D2x3, (const double[]){2, 1, 2, 0, 5, 5});
    lcv_tensor *y;
    optest_init(&t, "ArgMax", 13, 1, 1);
    optest_attr_int(&t, "axis", 1);
    CHECK(run1(&t, 1, (const lcv_tensor *const[]){x}, &y) == LCV_OK);
    CHECK(y->dtype == LCV_DTYPE_INT64);
    check_shape(y, 2, (const int64_t[]){2, 1});
    CHECK(optest_close(y, (const double[]){0, 1}, 2, 0, 0));
    lcv_tensor_free(y);
    optest_attr_int(&t, "select_last_index", 1);
    CHECK(run1(&t, 1, (const lcv_tensor *const[]){x}, &y) == LCV_OK);
    CHECK(optest_close(y, (const double[]){2, 2}, 2, 0, 0));
    lcv_tensor_free(y);
    optest_free(&t);

    optest_init(&t, "ArgMin", 13, 1, 1);
    optest_attr_int(&t, "keepdims", 0);
    CHECK(run1(&t, 1, (const lcv_tensor *const[]){x}, &y) == LCV_OK);
    check_shape(y, 1, (const int64_t[]){3});
    CHECK(optest_close(y, (const double[]){1, 0, 0}, 3, 0, 0));
    lcv_tensor_free(y);
    optest_free(&t);
    lcv_tensor_free(x);

    x = optest_tensor(LCV_DTYPE_INT32, 1, (const int64_t[]){4}, (const double[]){3, -9, 7, 7});
    optest_init(&t, "ArgMax", 13, 1, 1);
    CHECK(run1(&t, 1, (const lcv_tensor *const[]){x}, &y) == LCV_OK);
    CHECK(optest_close(y, (const double[]){2}, 1, 0, 0));
    lcv_tensor_free(y);
    optest_attr_int(&t, "axis", 1);
    CHECK(run1(&t, 1, (const lcv_tensor *const[]){x}, &y) == LCV_ERR_SHAPE);
    lcv_tensor_free(y);
    optest_free(&t);
    lcv_tensor_free(x);

    x = optest_tensor(LCV_DTYPE_FLOAT32, 2, (const int64_t[]){2, 0}, NULL);
    optest_init(&t, "ArgMin", 13, 1, 1);
    optest_attr_int(&t, "axis", 1);
    CHECK(run1(&t, 1, (const lcv_tensor *const[]){x}, &y) == LCV_ERR_SHAPE);
    lcv_tensor_free(y);
    optest_free(&t);
    lcv_tensor_free(x);
}

static void test_cumsum(void) {
    static const double want[4][5] = {
        {1, 3, 6, 10, 15}, {0, 1, 3, 6, 10}, {15, 14, 12, 9, 5}, {14, 12, 9, 5, 0}};
    int64_t d5 = 5;
    for (int mode = 0; mode < 8; mode++) {
        optest t;
        lcv_dtype dt = mode < 4 ? LCV_DTYPE_FLOAT32 : LCV_DTYPE_INT64;
        lcv_tensor *x = optest_tensor(dt, 1, &d5, (const double[]){1, 2, 3, 4, 5}), *y;
        lcv_tensor *ax = optest_tensor(LCV_DTYPE_INT32, 0, NULL, (const double[]){0});
        optest_init(&t, "CumSum", 14, 2, 1);
        optest_attr_int(&t, "exclusive", mode & 1);
        optest_attr_int(&t, "reverse", (mode >> 1) & 1);
        CHECK(run1(&t, 2, (const lcv_tensor *const[]){x, ax}, &y) == LCV_OK);
        CHECK(y->dtype == dt);
        CHECK_MSG(optest_close(y, want[mode & 3], 5, 0, 0), "mode %d", mode);
        lcv_tensor_free(x);
        lcv_tensor_free(ax);
        lcv_tensor_free(y);
        optest_free(&t);
    }
    /* along axis -1 of a matrix, and bad axis inputs */
    optest t;
    lcv_tensor *x = optest_tensor(LCV_DTYPE_FLOAT64, 2, D2x3, V6), *y;
    lcv_tensor *ax = ints1(1, (const double[]){-1});
    optest_init(&t, "CumSum", 14, 2, 1);
    CHECK(run1(&t, 2, (const lcv_tensor *const[]){x, ax}, &y) == LCV_OK);
    CHECK(optest_close(y, (const double[]){1, 3, 6, 4, 9, 15}, 6, 0, 0));
    lcv_tensor_free(y);
    lcv_tensor *two = ints1(2, (const double[]){0, 1});
    lcv_tensor *far = ints1(1, (const double[]){2});
    lcv_tensor *fax = optest_tensor(LCV_DTYPE_FLOAT32, 0, NULL, (const double[]){0});
    const lcv_tensor *bad[3] = {two, far, fax};
    for (int i = 0; i < 3; i++) {
        CHECK(run1(&t, 2, (const lcv_tensor *const[]){x, bad[i]}, &y) == LCV_ERR_SHAPE);
        lcv_tensor_free(y);
    }
    optest_free(&t);
    lcv_tensor_free(two);
    lcv_tensor_free(far);
    lcv_tensor_free(fax);
    lcv_tensor_free(ax);
    lcv_tensor_free(x);
}

int main(void) {
    test_sum_axes();
    test_kinds();
    test_layouts();
    test_empty_set();
    test_integers();
    test_reduce_errors();
    test_deferred();
    test_argreduce();
    test_cumsum();
    return lcv_test_finish("ops_reduce");
}
