/* test_gemm.c - the backward of Gemm (transA/transB, alpha, beta, every broadcast form of C)
 * and MatMul (1-D operands, broadcast batch dims on either side) against float64 finite
 * differences at every ISA level, 1 vs 2 threads bit-identical, and bad inputs rejected with
 * a message. */
#include "gradcheck.h"

static const gradcheck_opts OPTS = {2e-4, 1e-3, 0, 7, NULL, false};

/* One Gemm case; c_ndim -1 = no C, else C of shape c_dims[c_ndim]. */
static void gemm_case(gradcheck_env *e, int64_t m, int64_t n, int64_t k, int ta, int tb, float alpha,
                      float beta, int c_ndim, const int64_t *c_dims, int max_checks,
                      uint64_t *s) {
    optest t;
    optest_init(&t, "Gemm", 13, c_ndim >= 0 ? 3 : 2, 1);
    optest_attr_int(&t, "transA", ta);
    optest_attr_int(&t, "transB", tb);
    optest_attr_float(&t, "alpha", alpha);
    optest_attr_float(&t, "beta", beta);
    int64_t ad[2] = {ta ? k : m, ta ? m : k}, bd[2] = {tb ? n : k, tb ? k : n};
    lcv_tensor *in[3] = {gradcheck_tensor(2, ad, -1, 1, s), gradcheck_tensor(2, bd, -1, 1, s),
                         c_ndim >= 0 ? gradcheck_tensor(c_ndim, c_dims, -1, 1, s) : NULL};
    gradcheck_opts o = OPTS;
    o.max_checks = max_checks;
    int ok = gradcheck_every_isa(&t, c_ndim >= 0 ? 3 : 2, (const lcv_tensor *const *)in, 1, &o, e);
    CHECK_MSG(ok, "Gemm M=%lld N=%lld K=%lld transA=%d transB=%d alpha=%g beta=%g C rank %d",
              (long long)m, (long long)n, (long long)k, ta, tb, (double)alpha, (double)beta,
              c_ndim);
    for (int i = 0; i < 3; i++) lcv_tensor_free(in[i]);
    optest_free(&t);
}

static void test_gemm(gradcheck_env *e) {
    uint64_t s = 1;
    for (int trial = 0; trial < 28; trial++) {
        int64_t m = gradcheck_int(&s, 1, 9), n = gradcheck_int(&s, 1, 9), k = gradcheck_int(&s, 1, 9);
        int ta = trial & 1, tb = (trial >> 1) & 1;
        /* C: none, scalar, [1], [N], [M, 1], [1, N], [M, N] (trial / 4 picks) */
        int form = trial / 4 - 1;
        int64_t cd[2] = {1, 1};
        int cn = -1;
        switch (form) {
        case -1: cn = -1; break;
        case 0: cn = 0; break;
        case 1: cn = 1; break;
        case 2: cn = 1; cd[0] = n; break;
        case 3: cn = 2; cd[0] = m; break;
        case 4: cn = 2; cd[1] = n; break;
        default: cn = 2; cd[0] = m; cd[1] = n; break;
        }
        float alpha = trial % 3 == 0 ? 1.0f : -0.75f, beta = trial % 5 == 0 ? 1.0f : 1.5f;
        gemm_case(e, m, n, k, ta, tb, alpha, beta, cn, cd, 0, &s);
    }
    /* Inner sizes of the backward's products past the GEMM's K block (256): dA sums over N,
     * dB over M. */
    const int64_t cn1[1] = {260}, cm1[2] = {260, 1};
    for (int tr = 0; tr < 4; tr++) {
        gemm_case(e, 5, 260, 7, tr & 1, tr >> 1, 0.5f, -2.0f, 1, cn1, 0, &s);
        gemm_case(e, 260, 5, 7, tr & 1, tr >> 1, 1.0f, 1.0f, 2, cm1, 0, &s);
    }
    /* K = 0: dA and dB are empty, dC still flows. */
    const int64_t c0[2] = {3, 4};
    gemm_case(e, 3, 4, 0, 0, 0, 1.0f, 2.0f, 2, c0, 0, &s);
}

static void matmul_case(gradcheck_env *e, int na, const int64_t *ad, int nb, const int64_t *bd,
                        int max_checks, uint64_t *s) {
    optest t;
    optest_init(&t, "MatMul", 13, 2, 1);
    lcv_tensor *in[2] = {gradcheck_tensor(na, ad, -1, 1, s), gradcheck_tensor(nb, bd, -1, 1, s)};
    gradcheck_opts o = OPTS;
    o.max_checks = max_checks;
    char sa[64], sb[64];
    CHECK_MSG(gradcheck_every_isa(&t, 2, (const lcv_tensor *const *)in, 1, &o, e), "MatMul %s x %s",
              lcv_shape_str(na, ad, sa, sizeof sa), lcv_shape_str(nb, bd, sb, sizeof sb));
    lcv_tensor_free(in[0]);
    lcv_tensor_free(in[1]);
    optest_free(&t);
}

static void test_matmul(gradcheck_env *e) {
    uint64_t s = 2;
    typedef struct mm { int na; int64_t a[5]; int nb; int64_t b[5]; } mm;
    const mm cases[] = {
        {1, {7}, 1, {7}},                          /* dot product */
        {1, {5}, 2, {5, 3}},                       /* row vector */
        {2, {4, 6}, 1, {6}},                       /* column vector */
        {2, {5, 7}, 2, {7, 3}},
        {3, {3, 5, 7}, 2, {7, 4}},                 /* batch folds into M */
        {2, {5, 7}, 3, {3, 7, 4}},                 /* A broadcast over B's batch */
        {4, {2, 1, 3, 5}, 3, {3, 5, 2}},           /* both broadcast */
        {3, {1, 4, 3}, 3, {5, 3, 6}},              /* size-1 batch dim */
        {1, {6}, 3, {2, 6, 5}},                    /* 1-D A, batched B */
        {3, {2, 3, 6}, 1, {6}},                    /* batched A, 1-D B */
        {5, {2, 1, 3, 4, 5}, 4, {3, 1, 5, 3}},     /* rank 5 x rank 4 */
        {3, {3, 0, 4}, 2, {4, 2}},                 /* M = 0 */
        {3, {3, 4, 0}, 3, {3, 0, 2}},              /* K = 0 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        matmul_case(e, cases[i].na, cases[i].a, cases[i].nb, cases[i].b, 0, &s);
    for (int trial = 0; trial < 10; trial++) {
        int64_t m = gradcheck_int(&s, 1, 9), k = gradcheck_int(&s, 1, 9), n = gradcheck_int(&s, 1, 9);
        int64_t b0 = gradcheck_int(&s, 1, 3), b1 = gradcheck_int(&s, 1, 3);
        int64_t ad[4] = {b0, trial & 1 ? b1 : 1, m, k}, bd[3] = {trial & 2 ? 1 : b1, k, n};
        matmul_case(e, 4, ad, 3, bd, 0, &s);
    }
    /* Inner sizes past the GEMM's K block (256): batched dB, folded dB, and dA of an A
     * broadcast over B's batch (accumulated in chunks). */
    const int64_t la[3] = {2, 270, 3}, lb[3] = {2, 3, 5}, lb2[2] = {3, 5};
    const int64_t ba[2] = {4, 3}, bb[3] = {3, 3, 260};
    matmul_case(e, 3, la, 3, lb, 0, &s);
    matmul_case(e, 3, la, 2, lb2, 0, &s);
    matmul_case(e, 2, ba, 3, bb, 0, &s);
}

/* Bad inputs: each must fail with a message naming the node. */
static void test_bad(void) {
    uint64_t s = 3;
    optest t;
    optest_init(&t, "MatMul", 13, 2, 1);
    const int64_t ad[2] = {3, 4}, bd[2] = {4, 5}, yd[2] = {3, 5}, wrong[2] = {5, 3};
    lcv_tensor *a = gradcheck_tensor(2, ad, -1, 1, &s), *b = gradcheck_tensor(2, bd, -1, 1, &s);
    lcv_tensor *dy = gradcheck_tensor(2, wrong, -1, 1, &s), *y = gradcheck_tensor(2, yd, 0, 0, &s);
    lcv_tensor *da = optest_tensor(LCV_DTYPE_FLOAT32, 2, ad, NULL);
    const lcv_tensor *in[2] = {a, b}, *outs[1] = {y}, *douts[1] = {dy};
    lcv_tensor *din[2] = {da, NULL};
    lcv_gradctx g = {t.node, 2, in, 1, outs, douts, din, NULL, &t.err, NULL, NULL};
    CHECK(lcv_grad_matmul(&g) == LCV_ERR_SHAPE && strstr(t.err.msg, "node 'n'"));
    douts[0] = y;
    din[0] = dy; /* gradient shaped unlike A */
    CHECK(lcv_grad_matmul(&g) == LCV_ERR_SHAPE && strstr(t.err.msg, "gradient of input 0"));
    din[0] = da;
    lcv_tensor *a64 = optest_tensor(LCV_DTYPE_FLOAT64, 2, ad, NULL);
    lcv_tensor *b64 = optest_tensor(LCV_DTYPE_FLOAT64, 2, bd, NULL);
    in[0] = a64;
    in[1] = b64;
    CHECK(lcv_grad_matmul(&g) == LCV_ERR_UNSUPPORTED && strstr(t.err.msg, "float32"));
    in[0] = a;
    in[1] = a; /* inner dims differ: the forward's infer refuses */
    CHECK(lcv_grad_matmul(&g) == LCV_ERR_SHAPE);
    in[1] = b;
    t.node->fused.act = LCV_ACT_RELU;
    CHECK(lcv_grad_matmul(&g) == LCV_ERR_UNSUPPORTED && strstr(t.err.msg, "fused"));
    t.node->fused.act = LCV_ACT_NONE;
    CHECK(lcv_grad_matmul(&g) == LCV_OK);
    lcv_tensor_free(a64);
    lcv_tensor_free(b64);
    optest_free(&t);

    optest_init(&t, "Gemm", 13, 3, 1);
    const int64_t cbad[2] = {2, 5};
    lcv_tensor *cc = gradcheck_tensor(2, cbad, -1, 1, &s);
    const lcv_tensor *gin[3] = {a, b, cc};
    lcv_gradctx gg = {t.node, 3, gin, 1, outs, douts, din, NULL, &t.err, NULL, NULL};
    CHECK(lcv_grad_gemm(&gg) == LCV_ERR_SHAPE && strstr(t.err.msg, "broadcast"));
    lcv_tensor_free(cc);
    optest_free(&t);
    lcv_tensor_free(a);
    lcv_tensor_free(b);
    lcv_tensor_free(dy);
    lcv_tensor_free(y);
    lcv_tensor_free(da);
}

int main(void) {
    gradcheck_env e;
    gradcheck_env_init(&e);
    test_gemm(&e);
    test_matmul(&e);
    test_bad();
    gradcheck_env_free(&e);
    return lcv_test_finish("grad_gemm");
}
