/* test_pool.c - the backward of MaxPool (kernel, strides, pads, dilations, ceil_mode, the
 * Indices output), AveragePool (count_include_pad 0 and 1) and the global pools in 1-3
 * spatial dims against float64 finite differences (inputs are distinct values far apart, so no
 * maximum changes within the step), 1 vs 2 threads; ties routed to the first maximum in scan
 * order; bad inputs. */
#include "gradcheck.h"

static const gradcheck_opts OPTS = {1e-5, 1e-4, 0, 13, NULL, false};

/* x with distinct values at least 2 / numel apart, in random order, in [-1, 1]. */
static lcv_tensor *distinct_tensor(int ndim, const int64_t *dims, uint64_t *s) {
    lcv_tensor *t = optest_tensor(LCV_DTYPE_FLOAT32, ndim, dims, NULL);
    int64_t n = lcv_tensor_numel(t);
    float *p = t->data;
    for (int64_t i = 0; i < n; i++) p[i] = n > 1 ? -1.0f + 2.0f * (float)i / (float)(n - 1) : 0.5f;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = gradcheck_int(s, 0, i);
        float v = p[i];
        p[i] = p[j];
        p[j] = v;
    }
    return t;
}

/* True when the forward's every output is finite (no window entirely in padding). */
static bool forward_finite(optest *t, const lcv_tensor *x, int n_out) {
    lcv_tensor *outs[2] = {0};
    for (int k = 0; k < n_out; k++) lcv_tensor_create(LCV_DTYPE_FLOAT32, 0, NULL, &outs[k]);
    bool ok = lcv_op_invoke(t->node, 1, &x, n_out, outs, &t->err) == LCV_OK;
    for (int64_t i = 0; ok && i < lcv_tensor_numel(outs[0]); i++)
        ok = isfinite(((const float *)outs[0]->data)[i]);
    for (int k = 0; k < n_out; k++) lcv_tensor_free(outs[k]);
    return ok;
}

static void test_windowed(gradcheck_env *e, const char *op, uint64_t seed) {
    uint64_t s = seed;
    bool is_max = strcmp(op, "MaxPool") == 0;
    int done = 0;
    for (int trial = 0; done < 40 && trial < 400; trial++) {
        int nsp = done % 6 == 4 ? 3 : done % 6 == 1 ? 1 : 2;
        int64_t xd[5] = {gradcheck_int(&s, 1, 3), gradcheck_int(&s, 1, 7)};
        int64_t k[3], st[3], dl[3], pads[6];
        for (int d = 0; d < nsp; d++) {
            xd[2 + d] = gradcheck_int(&s, 1, nsp == 3 ? 5 : 9);
            k[d] = gradcheck_int(&s, 1, 3);
            st[d] = gradcheck_int(&s, 1, 3);
            dl[d] = gradcheck_int(&s, 1, 2);
            pads[d] = gradcheck_int(&s, 0, k[d] - 1);
            pads[nsp + d] = gradcheck_int(&s, 0, k[d] - 1);
        }
        int ceil_mode = done % 2, cip = (done / 2) % 2, n_out = is_max && done % 3 == 2 ? 2 : 1;
        optest t;
        optest_init(&t, op, 19, 1, n_out);
        optest_attr_ints(&t, "kernel_shape", nsp, k);
        optest_attr_ints(&t, "strides", nsp, st);
        optest_attr_ints(&t, "dilations", nsp, dl);
        if (done % 5 == 3) {
            optest_attr_str(&t, "auto_pad", done % 2 ? "SAME_LOWER" : "SAME_UPPER");
        } else {
            optest_attr_ints(&t, "pads", 2 * nsp, pads);
        }
        optest_attr_int(&t, "ceil_mode", ceil_mode);
        if (!is_max) optest_attr_int(&t, "count_include_pad", cip);
        lcv_tensor *x = distinct_tensor(nsp + 2, xd, &s);
        if (forward_finite(&t, x, n_out)) {
            char sx[64];
            CHECK_MSG(gradcheck_every_isa(&t, 1, (const lcv_tensor *const *)&x, n_out, &OPTS, e),
                      "%s x %s kernel %lld,%lld,%lld strides %lld,%lld,%lld dilations "
                      "%lld,%lld,%lld ceil_mode %d count_include_pad %d outputs %d", op,
                      lcv_shape_str(nsp + 2, xd, sx, sizeof sx), (long long)k[0],
                      (long long)(nsp > 1 ? k[1] : 0), (long long)(nsp > 2 ? k[2] : 0),
                      (long long)st[0], (long long)(nsp > 1 ? st[1] : 0),
                      (long long)(nsp > 2 ? st[2] : 0), (long long)dl[0],
                      (long long)(nsp > 1 ? dl[1] : 0), (long long)(nsp > 2 ? dl[2] : 0),
                      ceil_mode, cip, n_out);
            done++;
        }
        lcv_tensor_free(x);
        optest_free(&t);
    }
    CHECK_MSG(done == 40, "%s: only %d usable random cases", op, done);
}

static void test_global(gradcheck_env *e) {
    uint64_t s = 31;
    const char *ops[2] = {"GlobalAveragePool", "GlobalMaxPool"};
    for (int trial = 0; trial < 12; trial++) {
        int nsp = 1 + trial % 3;
        int64_t xd[5] = {gradcheck_int(&s, 1, 3), gradcheck_int(&s, 1, 7)};
        for (int d = 0; d < nsp; d++) xd[2 + d] = gradcheck_int(&s, 1, nsp == 3 ? 5 : 9);
        optest t;
        optest_init(&t, ops[trial % 2], 13, 1, 1);
        lcv_tensor *x = distinct_tensor(nsp + 2, xd, &s);
        char sx[64];
        CHECK_MSG(gradcheck_every_isa(&t, 1, (const lcv_tensor *const *)&x, 1, &OPTS, e), "%s x %s",
                  ops[trial % 2], lcv_shape_str(nsp + 2, xd, sx, sizeof sx));
        lcv_tensor_free(x);
        optest_free(&t);
    }
}

/* All-equal inputs: each window's gradient goes to its first tap inside the input. */
static void test_ties(void) {
    optest t;
    optest_init(&t, "MaxPool", 12, 1, 1);
    const int64_t k[2] = {2, 2}, pads[4] = {1, 0, 0, 0};
    optest_attr_ints(&t, "kernel_shape", 2, k);
    optest_attr_ints(&t, "pads", 4, pads);
    const int64_t xd[4] = {1, 1, 2, 3}, yd[4] = {1, 1, 2, 2};
    const double ones[6] = {1, 1, 1, 1, 1, 1}, dyv[4] = {1, 2, 3, 4};
    lcv_tensor *x = optest_tensor(LCV_DTYPE_FLOAT32, 4, xd, ones);
    lcv_tensor *y = optest_tensor(LCV_DTYPE_FLOAT32, 4, yd, ones);
    lcv_tensor *dy = optest_tensor(LCV_DTYPE_FLOAT32, 4, yd, dyv);
    lcv_tensor *dx = optest_tensor(LCV_DTYPE_FLOAT32, 4, xd, NULL);
    const lcv_tensor *in[1] = {x}, *outs[1] = {y}, *douts[1] = {dy};
    lcv_tensor *din[1] = {dx};
    lcv_gradctx g = {t.node, 1, in, 1, outs, douts, din, NULL, &t.err, NULL, NULL};
    CHECK(lcv_grad_maxpool(&g) == LCV_OK);
    /* Window (0, j) starts in the pad row, so its first valid tap is x[0][j]; window (1, j)
     * starts at x[0][j] as well: row 0 gets both, row 1 nothing. */
    const double want[6] = {1 + 3, 2 + 4, 0, 0, 0, 0};
    CHECK(optest_close(dx, want, 6, 0, 0));
    lcv_tensor_free(x);
    lcv_tensor_free(y);
    lcv_tensor_free(dy);
    lcv_tensor_free(dx);
    optest_free(&t);

    optest_init(&t, "GlobalMaxPool", 13, 1, 1);
    const int64_t gd[3] = {1, 2, 3}, gy[3] = {1, 2, 1};
    const double gx[6] = {5, 1, 5, 2, 7, 7}, gdy[2] = {10, 20};
    x = optest_tensor(LCV_DTYPE_FLOAT32, 3, gd, gx);
    y = optest_tensor(LCV_DTYPE_FLOAT32, 3, gy, gdy);
    dy = optest_tensor(LCV_DTYPE_FLOAT32, 3, gy, gdy);
    dx = optest_tensor(LCV_DTYPE_FLOAT32, 3, gd, NULL);
    in[0] = x;
    outs[0] = y;
    douts[0] = dy;
    din[0] = dx;
    g.node = t.node;
    CHECK(lcv_grad_global_maxpool(&g) == LCV_OK);
    const double gwant[6] = {10, 0, 0, 0, 20, 0};
    CHECK(optest_close(dx, gwant, 6, 0, 0));
    lcv_tensor_free(x);
    lcv_tensor_free(y);
    lcv_tensor_free(dy);
    lcv_tensor_free(dx);
    optest_free(&t);
}

static void test_bad(void) {
    uint64_t s = 41;
    optest t;
    optest_init(&t, "AveragePool", 19, 1, 1);
    const int64_t k[2] = {3, 3}, xd[4] = {1, 2, 4, 4}, yd[4] = {1, 2, 2, 2}, bad[4] = {1, 2, 3, 2};
    optest_attr_ints(&t, "kernel_shape", 2, k);
    lcv_tensor *x = gradcheck_tensor(4, xd, -1, 1, &s), *y = gradcheck_tensor(4, yd, -1, 1, &s);
    lcv_tensor *dyb = gradcheck_tensor(4, bad, -1, 1, &s);
    lcv_tensor *dx = optest_tensor(LCV_DTYPE_FLOAT32, 4, xd, NULL);
    lcv_tensor *x16 = optest_tensor(LCV_DTYPE_FLOAT16, 4, xd, NULL);
    const lcv_tensor *in[1] = {x}, *outs[1] = {y}, *douts[1] = {dyb};
    lcv_tensor *din[1] = {dx};
    lcv_gradctx g = {t.node, 1, in, 1, outs, douts, din, NULL, &t.err, NULL, NULL};
    CHECK(lcv_grad_averagepool(&g) == LCV_ERR_SHAPE && strstr(t.err.msg, "gradient of output"));
    douts[0] = y;
    CHECK(lcv_grad_averagepool(&g) == LCV_OK);
    in[0] = x16;
    CHECK(lcv_grad_averagepool(&g) == LCV_ERR_UNSUPPORTED && strstr(t.err.msg, "float32"));
    in[0] = x;
    optest_attr_int(&t, "ceil_mode", 2);
    CHECK(lcv_grad_averagepool(&g) == LCV_ERR_INVALID_ARG && strstr(t.err.msg, "ceil_mode"));
    optest_free(&t);
    optest_init(&t, "MaxPool", 12, 1, 1); /* kernel_shape missing */
    g.node = t.node;
    CHECK(lcv_grad_maxpool(&g) == LCV_ERR_INVALID_ARG && strstr(t.err.msg, "kernel_shape"));
    optest_free(&t);
    lcv_tensor *all[5] = {x, y, dyb, dx, x16};
    for (int i = 0; i < 5; i++) lcv_tensor_free(all[i]);
}

int main(void) {
    gradcheck_env e;
    gradcheck_env_init(&e);
    test_windowed(&e, "MaxPool", 51);
    test_windowed(&e, "AveragePool", 52);
    test_global(&e);
    test_ties();
    test_bad();
    gradcheck_env_free(&e);
    return lcv_test_finish("grad_pool");
}
