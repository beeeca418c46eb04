/* test_norm.c - BatchNormalization (inference, training mode, per-position spatial=0),
 * InstanceNormalization, LayerNormalization (outputs, broadcasting, float16), and LRN,
 * LpNormalization and MeanVarianceNormalization (run through their kernels directly, since
 * their shape rule is the shared unary one), with bad input for each. */
#include "op_test_util.h"

static lcv_tensor *new_out(void) {
    int64_t z = 0;
    lcv_tensor *t = NULL;
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 1, &z, &t);
    return t;
}

static lcv_tensor *vec(lcv_dtype dt, int64_t n, const double *v) {
    return optest_tensor(dt, 1, &n, v);
}

static void free_all(lcv_tensor **ts, int n) {
    for (int i = 0; i < n; i++) lcv_tensor_free(ts[i]);
}

static void test_batchnorm(void) {
    const int64_t dx[4] = {1, 2, 1, 2};
    lcv_tensor *x = optest_tensor(LCV_DTYPE_FLOAT32, 4, dx, (const double[]){1, 2, 3, 4});
    lcv_tensor *sc = vec(LCV_DTYPE_FLOAT32, 2, (const double[]){1, 2});
    lcv_tensor *b = vec(LCV_DTYPE_FLOAT32, 2, (const double[]){0, 1});
    lcv_tensor *m = vec(LCV_DTYPE_FLOAT32, 2, (const double[]){1.5, 3.5});
    lcv_tensor *v = vec(LCV_DTYPE_FLOAT32, 2, (const double[]){0.25, 0.25});
    optest t;
    optest_init(&t, "BatchNormalization", 15, 5, 1);
    optest_attr_float(&t, "epsilon", 0.0f);
    lcv_tensor *y = new_out();
    CHECK(optest_run(&t, 5, (const lcv_tensor *const[]){x, sc, b, m, v}, 1, &y) == LCV_OK);
    CHECK(optest_close(y, (const double[]){-1, 1, -1, 3}, 4, 1e-6, 0));
    lcv_tensor_free(y);
    optest_free(&t);

    /* the same in float64 and with float16 X (generic path) */
    const lcv_dtype dts[2] = {LCV_DTYPE_FLOAT64, LCV_DTYPE_FLOAT16};
    for (int j = 0; j < 2; j++) {
        lcv_tensor *xd = optest_tensor(dts[j], 4, dx, (const double[]){1, 2, 3, 4});
        optest_init(&t, "BatchNormalization", 9, 5, 1);
        optest_attr_float(&t, "epsilon", 0.0f);
        y = new_out();
        CHECK(optest_run(&t, 5, (const lcv_tensor *const[]){xd, sc, b, m, v}, 1, &y) == LCV_OK);
        CHECK(y->dtype == dts[j] && optest_close(y, (const double[]){-1, 1, -1, 3}, 4, 1e-3, 0));
        lcv_tensor_free(y);
        lcv_tensor_free(xd);
        optest_free(&t);
    }

    /* training mode: batch statistics per channel and running averages with momentum */
    const int64_t dt3[3] = {2, 1, 2};
    lcv_tensor *xt = optest_tensor(LCV_DTYPE_FLOAT32, 3, dt3, (const double[]){1, 2, 3, 4});
    lcv_tensor *one = vec(LCV_DTYPE_FLOAT32, 1, (const double[]){1});
    lcv_tensor *zero = vec(LCV_DTYPE_FLOAT32, 1, (const double[]){0});
    optest_init(&t, "BatchNormalization", 15, 5, 3);
    optest_attr_int(&t, "training_mode", 1);
    optest_attr_float(&t, "epsilon", 0.0f);
    optest_attr_float(&t, "momentum", 0.5f);
    lcv_tensor *ys[3] = {new_out(), new_out(), new_out()};
    CHECK(optest_run(&t, 5, (const lcv_tensor *const[]){xt, one, zero, zero, one}, 3, ys) ==
          LCV_OK);
    const double s = 1.0 / sqrt(1.25); /* batch mean 2.5, biased variance 1.25 */
    CHECK(optest_close(ys[0], (const double[]){-1.5 * s, -0.5 * s, 0.5 * s, 1.5 * s}, 4, 1e-6, 0));
    CHECK(ys[1]->ndim == 1 && optest_close(ys[1], (const double[]){1.25}, 1, 1e-6, 0));
    CHECK(optest_close(ys[2], (const double[]){1.125}, 1, 1e-6, 0));
    free_all(ys, 3);
    optest_free(&t);

    /* opset 7, spatial=0: parameters per (channel, position) */
    lcv_tensor *pm = optest_tensor(LCV_DTYPE_FLOAT32, 3, dx + 1, (const double[]){1, 2, 3, 4});
    lcv_tensor *pv = optest_tensor(LCV_DTYPE_FLOAT32, 3, dx + 1, (const double[]){1, 1, 4, 4});
    lcv_tensor *p1 = optest_tensor(LCV_DTYPE_FLOAT32, 3, dx + 1, (const double[]){1, 1, 1, 1});
    lcv_tensor *p0 = optest_tensor(LCV_DTYPE_FLOAT32, 3, dx + 1, (const double[]){0, 0, 0, 0});
    lcv_tensor *xs = optest_tensor(LCV_DTYPE_FLOAT32, 4, dx, (const double[]){2, 2, 5, 8});
    optest_init(&t, "BatchNormalization", 7, 5, 1);
    optest_attr_int(&t, "spatial", 0);
    optest_attr_float(&t, "epsilon", 0.0f);
    y = new_out();
    CHECK(optest_run(&t, 5, (const lcv_tensor *const[]){xs, p1, p0, pm, pv}, 1, &y) == LCV_OK);
    CHECK(optest_close(y, (const double[]){1, 0, 1, 2}, 4, 1e-6, 0));
    lcv_tensor_free(y);
    optest_free(&t);

    /* bad: parameter of the wrong size, rank-1 X, integer X */
    lcv_tensor *x1 = vec(LCV_DTYPE_FLOAT32, 2, (const double[]){1, 2});
    lcv_tensor *xi = optest_tensor(LCV_DTYPE_INT32, 4, dx, NULL);
    optest_init(&t, "BatchNormalization", 15, 5, 1);
    y = new_out();
    CHECK(optest_run(&t, 5, (const lcv_tensor *const[]){x, sc, b, m, one}, 1, &y) == LCV_ERR_SHAPE);
    CHECK(strstr(t.err.msg, "input_var") != NULL);
    CHECK(optest_run(&t, 5, (const lcv_tensor *const[]){x, pm, b, m, v}, 1, &y) == LCV_ERR_SHAPE);
    CHECK(optest_run(&t, 5, (const lcv_tensor *const[]){x1, sc, b, m, v}, 1, &y) == LCV_ERR_SHAPE);
    CHECK(optest_run(&t, 5, (const lcv_tensor *const[]){xi, sc, b, m, v}, 1, &y) ==
          LCV_ERR_UNSUPPORTED);
    lcv_tensor_free(y);
    optest_free(&t);
    lcv_tensor *ts[] = {x, sc, b, m, v, xt, one, zero, pm, pv, p1, p0, xs, x1, xi};
    free_all(ts, (int)(sizeof ts / sizeof ts[0]));
}

static void test_instancenorm(void) {
    const int64_t dx[3] = {1, 2, 3};
    lcv_tensor *x = optest_tensor(LCV_DTYPE_FLOAT32, 3, dx, (const double[]){1, 2, 3, 2, 2, 2});
    lcv_tensor *sc = vec(LCV_DTYPE_FLOAT32, 2, (const double[]){2, 1});
    lcv_tensor *b = vec(LCV_DTYPE_FLOAT32, 2, (const double[]){1, 5});
    optest t;
    optest_init(&t, "InstanceNormalization", 6, 3, 1);
    lcv_tensor *y = new_out();
    CHECK(optest_run(&t, 3, (const lcv_tensor *const[]){x, sc, b}, 1, &y) == LCV_OK);
    /* channel 0 has variance 2/3; channel 1 is constant and collapses to its bias */
    const double k = 2.0 / sqrt(2.0 / 3.0);
    CHECK(optest_close(y, (const double[]){1 - k, 1, 1 + k, 5, 5, 5}, 6, 1e-4, 0));
    CHECK(optest_run(&t, 3, (const lcv_tensor *const[]){x, b, x}, 1, &y) == LCV_ERR_SHAPE);
    lcv_tensor_free(y);
    optest_free(&t);
    lcv_tensor *ts[] = {x, sc, b};
    free_all(ts, 3);
}

static void test_layernorm(void) {
    const int64_t dx[2] = {2, 3};
    lcv_tensor *x = optest_tensor(LCV_DTYPE_FLOAT32, 2, dx, (const double[]){1, 2, 3, 2, 4, 6});
    lcv_tensor *sc = vec(LCV_DTYPE_FLOAT32, 3, (const double[]){1, 2, 3});
    lcv_tensor *b = vec(LCV_DTYPE_FLOAT32, 3, (const double[]){0, 1, 0});
    optest t;
    optest_init(&t, "LayerNormalization", 17, 3, 3);
    optest_attr_float(&t, "epsilon", 0.0f);
    lcv_tensor *ys[3] = {new_out(), new_out(), new_out()};
    CHECK(optest_run(&t, 3, (const lcv_tensor *const[]){x, sc, b}, 3, ys) == LCV_OK);
    const double r = sqrt(1.5); /* (x - mean) / std is (-r, 0, r) for both rows */
    CHECK(optest_close(ys[0], (const double[]){-r, 1, 3 * r, -r, 1, 3 * r}, 6, 1e-5, 0));
    CHECK(ys[1]->dtype == LCV_DTYPE_FLOAT32 && ys[1]->ndim == 2 && ys[1]->dims[0] == 2 &&
          ys[1]->dims[1] == 1);
    CHECK(optest_close(ys[1], (const double[]){2, 4}, 2, 1e-6, 0));
    CHECK(optest_close(ys[2], (const double[]){sqrt(1.5), sqrt(1.5) / 2}, 2, 1e-6, 0));
    free_all(ys, 3);
    optest_free(&t);

    /* axis 0 over the whole tensor; a [1] scale broadcasts (generic index path); no bias */
    lcv_tensor *s1 = vec(LCV_DTYPE_FLOAT32, 1, (const double[]){2});
    lcv_tensor *x16 = optest_tensor(LCV_DTYPE_FLOAT16, 2, dx, (const double[]){1, 1, 1, 3, 3, 3});
    optest_init(&t, "LayerNormalization", 17, 2, 2);
    optest_attr_int(&t, "axis", 0);
    optest_attr_float(&t, "epsilon", 0.0f);
    lcv_tensor *y2[2] = {new_out(), new_out()};
    CHECK(optest_run(&t, 2, (const lcv_tensor *const[]){x16, s1}, 2, y2) == LCV_OK);
    CHECK(y2[0]->dtype == LCV_DTYPE_FLOAT16 && y2[1]->dtype == LCV_DTYPE_FLOAT32);
    CHECK(optest_close(y2[0], (const double[]){-2, -2, -2, 2, 2, 2}, 6, 1e-3, 0));
    CHECK(y2[1]->ndim == 2 && optest_close(y2[1], (const double[]){2}, 1, 1e-6, 0));
    free_all(y2, 2);

    /* bad: axis out of range, scale that does not broadcast, stash_type not a float */
    y2[0] = new_out();
    t.node->attrs[0].i = 2;
    CHECK(optest_run(&t, 2, (const lcv_tensor *const[]){x, sc}, 1, y2) == LCV_ERR_SHAPE);
    t.node->attrs[0].i = -1;
    lcv_tensor *s2 = vec(LCV_DTYPE_FLOAT32, 2, (const double[]){1, 1});
    CHECK(optest_run(&t, 2, (const lcv_tensor *const[]){x, s2}, 1, y2) == LCV_ERR_SHAPE);
    CHECK(strstr(t.err.msg, "Scale") != NULL);
    optest_attr_int(&t, "stash_type", 7);
    CHECK(optest_run(&t, 2, (const lcv_tensor *const[]){x, sc}, 1, y2) == LCV_ERR_INVALID_ARG);
    lcv_tensor_free(y2[0]);
    optest_free(&t);
    lcv_tensor *ts[] = {x, sc, b, s1, x16, s2};
    free_all(ts, 6);
}

/* Runs an identity-shaped kernel directly on x; returns the status, y receives the output. */
static lcv_status run_direct(optest *t, lcv_exec_fn fn, const lcv_tensor *x, lcv_tensor **y) {
    *y = NULL;
    lcv_tensor_create(x->dtype, x->ndim, x->dims, y);
    lcv_opctx c = {t->node, 1, (const lcv_tensor *const[]){x}, 1, y, &t->err, NULL, NULL, NULL};
    return fn(&c);
}

static void test_local(void) {
    optest t;
    lcv_tensor *y;
    const int64_t d4[4] = {1, 3, 1, 1};
    lcv_tensor *x = optest_tensor(LCV_DTYPE_FLOAT32, 4, d4, (const double[]){1, 2, 3});
    optest_init(&t, "LRN", 13, 1, 1);
    optest_attr_int(&t, "size", 3);
    optest_attr_float(&t, "alpha", 3.0f);
    optest_attr_float(&t, "beta", 1.0f);
    CHECK(run_direct(&t, lcv_exec_lrn, x, &y) == LCV_OK);
    CHECK(optest_close(y, (const double[]){1.0 / 6, 2.0 / 15, 3.0 / 14}, 3, 1e-6, 0));
    lcv_tensor_free(y);
    t.node->attrs[0].i = 0;
    CHECK(run_direct(&t, lcv_exec_lrn, x, &y) == LCV_ERR_INVALID_ARG);
    lcv_tensor_free(y);
    optest_free(&t);

    const int64_t d2[2] = {2, 2};
    lcv_tensor *x2 = optest_tensor(LCV_DTYPE_FLOAT32, 2, d2, (const double[]){3, 4, 0, 0});
    optest_init(&t, "LpNormalization", 1, 1, 1);
    CHECK(run_direct(&t, lcv_exec_lpnorm, x2, &y) == LCV_OK);
    CHECK(optest_close(y, (const double[]){0.6, 0.8, 0, 0}, 4, 1e-6, 0));
    lcv_tensor_free(y);
    optest_attr_int(&t, "p", 1);
    optest_attr_int(&t, "axis", 0);
    CHECK(run_direct(&t, lcv_exec_lpnorm, x2, &y) == LCV_OK);
    CHECK(optest_close(y, (const double[]){1, 1, 0, 0}, 4, 1e-6, 0));
    lcv_tensor_free(y);
    t.node->attrs[0].i = 3;
    CHECK(run_direct(&t, lcv_exec_lpnorm, x2, &y) == LCV_ERR_INVALID_ARG);
    lcv_tensor_free(y);
    t.node->attrs[0].i = 2;
    t.node->attrs[1].i = -3;
    CHECK(run_direct(&t, lcv_exec_lpnorm, x2, &y) == LCV_ERR_SHAPE);
    lcv_tensor_free(y);
    optest_free(&t);

    /* MVN over the default axes [0, 2, 3]: per channel over N, H, W */
    const int64_t d5[4] = {2, 2, 1, 1};
    lcv_tensor *x5 = optest_tensor(LCV_DTYPE_FLOAT64, 4, d5, (const double[]){1, 10, 3, 30});
    optest_init(&t, "MeanVarianceNormalization", 13, 1, 1);
    CHECK(run_direct(&t, lcv_exec_mvn, x5, &y) == LCV_OK);
    CHECK(optest_close(y, (const double[]){-1, -1, 1, 1}, 4, 1e-6, 0));
    lcv_tensor_free(y);
    /* the default axes need rank 4 */
    CHECK(run_direct(&t, lcv_exec_mvn, x2, &y) == LCV_ERR_SHAPE);
    lcv_tensor_free(y);
    optest_attr_ints(&t, "axes", 1, (const int64_t[]){1});
    CHECK(run_direct(&t, lcv_exec_mvn, x2, &y) == LCV_OK);
    CHECK(optest_close(y, (const double[]){-1, 1, 0, 0}, 4, 1e-6, 0));
    lcv_tensor_free(y);
    optest_free(&t);
    lcv_tensor *ts[] = {x, x2, x5};
    free_all(ts, 3);
}

int main(void) {
    test_batchnorm();
    test_instancenorm();
    test_layernorm();
    test_local();
    return lcv_test_finish("ops_norm");
}
