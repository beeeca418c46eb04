/* test_gemm.c - Gemm: a hand-checked case, a direct-formula oracle over every transA/transB
 * and C broadcast shape (float32 across cache-block edges, float64, float16, int32), and bad
 * inputs that must fail with a message naming the node. */
#include "op_test_util.h"

static uint64_t rng_state = 12345;
static int64_t rndi(int64_t lo, int64_t hi) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return lo + (int64_t)((rng_state >> 33) % (uint64_t)(hi - lo + 1));
}

static lcv_tensor *rand_tensor(lcv_dtype dt, int ndim, const int64_t *dims) {
    lcv_tensor *t = optest_tensor(dt, ndim, dims, NULL);
    for (int64_t i = 0; i < lcv_tensor_numel(t); i++)
        lcv_store_f64(dt, t->data, i, (double)rndi(-8, 8) / (lcv_dtype_is_int(dt) ? 1 : 8));
    return t;
}

static lcv_tensor *empty_out(void) {
    int64_t d = 1;
    return optest_tensor(LCV_DTYPE_FLOAT32, 1, &d, NULL);
}

static void hand_case(void) {
    const double a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 0, 1, 1, 1}, cv[1] = {10};
    const int64_t ad[2] = {2, 3}, bd[2] = {3, 2};
    lcv_tensor *ins[3] = {optest_tensor(LCV_DTYPE_FLOAT32, 2, ad, a),
                          optest_tensor(LCV_DTYPE_FLOAT32, 2, bd, b),
                          optest_tensor(LCV_DTYPE_FLOAT32, 0, NULL, cv)};
    lcv_tensor *y = empty_out();
    optest t;
    optest_init(&t, "Gemm", 13, 3, 1);
    optest_attr_float(&t, "alpha", 2.0f);
    optest_attr_float(&t, "beta", 0.5f);
    CHECK(optest_run(&t, 3, (const lcv_tensor *const *)ins, 1, &y) == LCV_OK);
    /* A*B = [[4,5],[10,11]] -> 2*AB + 5 */
    const double want[4] = {13, 15, 25, 27};
    CHECK(optest_close(y, want, 4, 0, 1e-6));
    optest_free(&t);
    for (int i = 0; i < 3; i++) lcv_tensor_free(ins[i]);
    lcv_tensor_free(y);
}

static void oracle_case(lcv_dtype dt, int64_t m, int64_t n, int64_t k, int ta, int tb, int cform,
                        float alpha, float beta, int index) {
    int64_t ad[2] = {ta ? k : m, ta ? m : k}, bd[2] = {tb ? n : k, tb ? k : n};
    /* cform: 0 none, 1 scalar, 2 [N], 3 [1,N], 4 [M,1], 5 [M,N] */
    int64_t cd[2];
    int cn = 0;
    switch (cform) {
    case 2: cd[0] = n; cn = 1; break;
    case 3: cd[0] = 1; cd[1] = n; cn = 2; break;
    case 4: cd[0] = m; cd[1] = 1; cn = 2; break;
    case 5: cd[0] = m; cd[1] = n; cn = 2; break;
    default: break;
    }
    lcv_tensor *ins[3] = {rand_tensor(dt, 2, ad), rand_tensor(dt, 2, bd),
                          cform ? rand_tensor(dt, cn, cd) : NULL};
    lcv_tensor *y = empty_out();
    optest t;
    optest_init(&t, "Gemm", 13, cform ? 3 : 2, 1);
    if (ta) optest_attr_int(&t, "transA", 1);
    if (tb) optest_attr_int(&t, "transB", 1);
    optest_attr_float(&t, "alpha", alpha);
    optest_attr_float(&t, "beta", beta);
    lcv_status st = optest_run(&t, cform ? 3 : 2, (const lcv_tensor *const *)ins, 1, &y);
    CHECK_MSG(st == LCV_OK, "case %d: %s", index, t.err.msg);
    double *ref = malloc(sizeof(double) * (size_t)(m * n));
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double acc = 0;
            for (int64_t p = 0; p < k; p++)
                acc += lcv_load_f64(dt, ins[0]->data, ta ? p * m + i : i * k + p) *
                       lcv_load_f64(dt, ins[1]->data, tb ? j * k + p : p * n + j);
            double cval = 0;
            if (cform == 1) cval = lcv_load_f64(dt, ins[2]->data, 0);
            else if (cform == 2 || cform == 3) cval = lcv_load_f64(dt, ins[2]->data, j);
            else if (cform == 4) cval = lcv_load_f64(dt, ins[2]->data, i);
            else if (cform == 5) cval = lcv_load_f64(dt, ins[2]->data, i * n + j);
            ref[i * n + j] = (double)alpha * acc + (double)beta * cval;
        }
    const int64_t yd[2] = {m, n};
    CHECK_MSG(st != LCV_OK || lcv_shape_equal(y->ndim, y->dims, 2, yd), "case %d shape", index);
    double tol = dt == LCV_DTYPE_FLOAT16 ? 1e-2 : 1e-5;
    if (st == LCV_OK)
        CHECK_MSG(optest_close(y, ref, m * n, tol, tol), "case %d (ta %d tb %d c %d)", index, ta,
                  tb, cform);
    free(ref);
    optest_free(&t);
    for (int i = 0; i < 3; i++) lcv_tensor_free(ins[i]);
    lcv_tensor_free(y);
}

static void bad(int na, const int64_t *ad, int nb, const int64_t *bd, lcv_dtype bdt, int nc,
                const int64_t *cd, const char *why) {
    lcv_tensor *ins[3] = {optest_tensor(LCV_DTYPE_FLOAT32, na, ad, NULL),
                          optest_tensor(bdt, nb, bd, NULL),
                          nc >= 0 ? optest_tensor(LCV_DTYPE_FLOAT32, nc, cd, NULL) : NULL};
    lcv_tensor *y = empty_out();
    optest t;
    optest_init(&t, "Gemm", 13, nc >= 0 ? 3 : 2, 1);
    lcv_status st = optest_run(&t, nc >= 0 ? 3 : 2, (const lcv_tensor *const *)ins, 1, &y);
    CHECK_MSG(st != LCV_OK && strstr(t.err.msg, "node 'n' (Gemm)"), "%s: %s", why, t.err.msg);
    optest_free(&t);
    for (int i = 0; i < 3; i++) lcv_tensor_free(ins[i]);
    lcv_tensor_free(y);
}

int main(void) {
    hand_case();
    int index = 0;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int cf = 0; cf < 6; cf++) {
                oracle_case(LCV_DTYPE_FLOAT32, rndi(1, 9), rndi(1, 9), rndi(1, 9), ta, tb, cf,
                            1.5f, -0.5f, index++);
                oracle_case(LCV_DTYPE_FLOAT64, rndi(1, 9), rndi(1, 9), rndi(1, 9), ta, tb, cf,
                            1.0f, 1.0f, index++);
                oracle_case(LCV_DTYPE_FLOAT16, rndi(1, 6), rndi(1, 6), rndi(1, 6), ta, tb, cf,
                            0.5f, 2.0f, index++);
                oracle_case(LCV_DTYPE_INT32, rndi(1, 6), rndi(1, 6), rndi(1, 6), ta, tb, cf,
                            1.0f, 1.0f, index++);
            }
    /* Across the 128 x 256 cache blocks. */
    oracle_case(LCV_DTYPE_FLOAT32, 5, 300, 263, 0, 0, 2, 1.0f, 1.0f, index++);
    oracle_case(LCV_DTYPE_FLOAT32, 3, 259, 130, 1, 0, 5, 1.0f, 1.0f, index++);
    oracle_case(LCV_DTYPE_FLOAT32, 4, 70, 300, 0, 1, 3, 1.0f, 1.0f, index++);

    const int64_t a23[2] = {2, 3}, b32[2] = {3, 2}, b42[2] = {4, 2}, a3[3] = {1, 2, 3};
    const int64_t c3[1] = {3}, c32[2] = {3, 2}, c123[3] = {1, 2, 2};
    bad(2, a23, 2, b42, LCV_DTYPE_FLOAT32, -1, NULL, "K mismatch");
    bad(3, a3, 2, b32, LCV_DTYPE_FLOAT32, -1, NULL, "rank 3 A");
    bad(2, a23, 2, b32, LCV_DTYPE_FLOAT64, -1, NULL, "dtype mismatch");
    bad(2, a23, 2, b32, LCV_DTYPE_FLOAT32, 1, c3, "C [3] vs N=2");
    bad(2, a23, 2, b32, LCV_DTYPE_FLOAT32, 2, c32, "C [3,2] vs [2,2]");
    bad(2, a23, 2, b32, LCV_DTYPE_FLOAT32, 3, c123, "C rank 3");
    return lcv_test_finish("ops_gemm");
}
