/* test_softmax.c - Softmax, LogSoftmax and Hardmax: opset 13 single-axis and pre-13 2-D
 * coercion semantics, the float32 row fast path and the strided generic path, float16/float64,
 * numerically large inputs, ties, and bad input. */
#include "op_test_util.h"

static lcv_tensor *new_out(void) {
    int64_t z = 0;
    lcv_tensor *t = NULL;
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 1, &z, &t);
    return t;
}

/* Runs op (opset, optional axis attribute) on x and compares with want. */
static void expect(const char *op, int opset, bool has_axis, int64_t axis, lcv_dtype dt, int nd,
                   const int64_t *dims, const double *x_vals, const double *want, double tol) {
    optest t;
    optest_init(&t, op, opset, 1, 1);
    if (has_axis) optest_attr_int(&t, "axis", axis);
    lcv_tensor *x = optest_tensor(dt, nd, dims, x_vals), *y = new_out();
    lcv_status st = optest_run(&t, 1, (const lcv_tensor *const[]){x}, 1, &y);
    CHECK_MSG(st == LCV_OK, "%s: %s", op, t.err.msg);
    if (st == LCV_OK) {
        CHECK(y->dtype == dt && lcv_shape_equal(y->ndim, y->dims, nd, dims));
        CHECK_MSG(optest_close(y, want, lcv_tensor_count(x), tol, tol), "%s opset %d %s", op,
                  opset, lcv_dtype_name(dt));
    }
    lcv_tensor_free(x);
    lcv_tensor_free(y);
    optest_free(&t);
}

static void expect_fail(const char *op, int opset, bool has_axis, int64_t axis, lcv_dtype dt,
                        int nd, const int64_t *dims, lcv_status want) {
    optest t;
    optest_init(&t, op, opset, 1, 1);
    if (has_axis) optest_attr_int(&t, "axis", axis);
    lcv_tensor *x = optest_tensor(dt, nd, dims, NULL), *y = new_out();
    lcv_status st = optest_run(&t, 1, (const lcv_tensor *const[]){x}, 1, &y);
    CHECK_MSG(st == want, "%s: got %d (%s)", op, (int)st, t.err.msg);
    CHECK(strstr(t.err.msg, op) != NULL);
    lcv_tensor_free(x);
    lcv_tensor_free(y);
    optest_free(&t);
}

int main(void) {
    const int64_t d3[1] = {3}, d2x3[2] = {2, 3}, d222[3] = {2, 2, 2};
    const double x3[3] = {1, 2, 3};
    const double sm3[3] = {0.09003057317038046, 0.24472847105479767, 0.6652409557748219};
    const double lsm3[3] = {-2.40760596444438, -1.40760596444438, -0.40760596444438};
    static const lcv_dtype dts[3] = {LCV_DTYPE_FLOAT32, LCV_DTYPE_FLOAT64, LCV_DTYPE_FLOAT16};
    for (int j = 0; j < 3; j++) {
        double tol = j == 2 ? 2e-3 : 1e-6;
        expect("Softmax", 13, false, 0, dts[j], 1, d3, x3, sm3, tol);
        expect("LogSoftmax", 13, false, 0, dts[j], 1, d3, x3, lsm3, tol);
        expect("Hardmax", 13, false, 0, dts[j], 1, d3, x3, (const double[]){0, 0, 1}, 0);
    }

    /* axis 0 of a [2,3] matrix: strided (generic) path; each column is softmax of (v, v + 3) */
    const double x6[6] = {1, 2, 3, 4, 5, 6};
    const double lo = 0.04742587317756678, hi = 0.9525741268224334;
    expect("Softmax", 13, true, 0, LCV_DTYPE_FLOAT32, 2, d2x3, x6,
           (const double[]){lo, lo, lo, hi, hi, hi}, 1e-6);
    expect("LogSoftmax", 13, true, -2, LCV_DTYPE_FLOAT32, 2, d2x3, x6,
           (const double[]){log(lo), log(lo), log(lo), log(hi), log(hi), log(hi)}, 1e-6);

    /* opset 11: [2,2,2] at axis 1 is viewed as [2,4]; opset 13 axis 1 works on pairs */
    const double x8[8] = {0, 0, 0, 0, 1, 1, 1, 1};
    expect("Softmax", 11, false, 0, LCV_DTYPE_FLOAT32, 3, d222, x8,
           (const double[]){.25, .25, .25, .25, .25, .25, .25, .25}, 1e-6);
    expect("Softmax", 13, true, 1, LCV_DTYPE_FLOAT32, 3, d222, x8,
           (const double[]){.5, .5, .5, .5, .5, .5, .5, .5}, 1e-6);
    /* Hardmax picks the first maximum, over the flattened block before opset 13 */
    const double h8[8] = {1, 3, 3, 2, 5, 4, 5, 0};
    expect("Hardmax", 11, false, 0, LCV_DTYPE_FLOAT32, 3, d222, h8,
           (const double[]){0, 1, 0, 0, 1, 0, 0, 0}, 0);
    expect("Hardmax", 13, true, 1, LCV_DTYPE_FLOAT32, 3, d222, h8,
           (const double[]){0, 1, 1, 0, 1, 1, 0, 0}, 0);
    /* opset 11 allows axis == rank: each element is its own row */
    expect("Softmax", 11, true, 1, LCV_DTYPE_FLOAT32, 1, d3, x3, (const double[]){1, 1, 1}, 0);

    /* large values stay finite and exact relative to the maximum */
    const double big[3] = {10000, 10001, 10002};
    expect("LogSoftmax", 13, false, 0, LCV_DTYPE_FLOAT32, 1, d3, big, lsm3, 1e-5);
    expect("Softmax", 13, false, 0, LCV_DTYPE_FLOAT64, 1, d3, big, sm3, 1e-12);

    /* empty tensors are fine */
    const int64_t d0[2] = {0, 3};
    expect("Softmax", 13, false, 0, LCV_DTYPE_FLOAT32, 2, d0, NULL, NULL, 0);

    expect_fail("Softmax", 13, false, 0, LCV_DTYPE_INT32, 1, d3, LCV_ERR_UNSUPPORTED);
    expect_fail("Softmax", 13, true, 2, LCV_DTYPE_FLOAT32, 2, d2x3, LCV_ERR_SHAPE);
    expect_fail("LogSoftmax", 13, true, -3, LCV_DTYPE_FLOAT32, 2, d2x3, LCV_ERR_SHAPE);
    expect_fail("Hardmax", 11, true, 3, LCV_DTYPE_FLOAT32, 2, d2x3, LCV_ERR_SHAPE);
    expect_fail("Softmax", 13, false, 0, LCV_DTYPE_FLOAT32, 0, NULL, LCV_ERR_SHAPE);
    return lcv_test_finish("ops_softmax");
}
