/* test_matmul.c - MatMul (numpy semantics: 1-D operands, broadcast batch dims, integers, cache
 * block edges) against a direct formula, Einsum equations (explicit, implicit, ellipsis,
 * diagonal), and bad inputs that must fail with a message naming the node. */
#include "op_test_util.h"

static uint64_t rng_state = 777;
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

static lcv_status run(optest *t, int n, lcv_tensor **ins, lcv_tensor *y) {
    return optest_run(t, n, (const lcv_tensor *const *)ins, 1, &y);
}

/* Checks MatMul(a[na], b[nb]) against the numpy definition, expecting shape want[nw]. */
static void mm_case(lcv_dtype dt, int na, const int64_t *ad, int nb, const int64_t *bd, int nw,
                    const int64_t *want) {
    lcv_tensor *ins[2] = {rand_tensor(dt, na, ad), rand_tensor(dt, nb, bd)};
    lcv_tensor *y = empty_out();
    optest t;
    optest_init(&t, "MatMul", 13, 2, 1);
    lcv_status st = run(&t, 2, ins, y);
    CHECK_MSG(st == LCV_OK, "%s", t.err.msg);
    CHECK(st != LCV_OK || lcv_shape_equal(y->ndim, y->dims, nw, want));
    if (st == LCV_OK) {
        /* Promote to rank nw+? : view both as [batch..., M, K] / [batch..., K, N]. */
        int64_t M = na == 1 ? 1 : ad[na - 2], K = ad[na - 1], N = nb == 1 ? 1 : bd[nb - 1];
        int nbat = nw - (na > 1) - (nb > 1);
        int64_t nbatch = 1, ydims[8];
        for (int i = 0; i < nbat; i++) nbatch *= want[i];
        for (int i = 0; i < nbat; i++) ydims[i] = want[i];
        double *ref = malloc(sizeof(double) * (size_t)(nbatch * M * N));
        for (int64_t bi = 0; bi < nbatch; bi++) {
            /* decode the batch index and map it to each operand (size-1 dims broadcast) */
            int64_t rem = bi, aoff = 0, boff = 0, astr = 1, bstr = 1;
            for (int d = nbat - 1; d >= 0; d--) {
                int64_t idx = rem % ydims[d];
                rem /= ydims[d];
                int ai = d - (nbat - (na - 2)), bj = d - (nbat - (nb - 2));
                if (na > 2 && ai >= 0) {
                    aoff += (ad[ai] == 1 ? 0 : idx) * astr;
                    astr *= ad[ai];
                }
                if (nb > 2 && bj >= 0) {
                    boff += (bd[bj] == 1 ? 0 : idx) * bstr;
                    bstr *= bd[bj];
                }
            }
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < N; j++) {
                    double acc = 0;
                    for (int64_t k = 0; k < K; k++)
                        acc += lcv_load_f64(dt, ins[0]->data, aoff * M * K + i * K + k) *
                               lcv_load_f64(dt, ins[1]->data, boff * K * N + k * N + j);
                    ref[(bi * M + i) * N + j] = acc;
                }
        }
        double tol = dt == LCV_DTYPE_FLOAT16 ? 1e-2 : 1e-5;
        CHECK(optest_close(y, ref, nbatch * M * N, tol, tol));
        free(ref);
    }
    optest_free(&t);
    lcv_tensor_free(ins[0]);
    lcv_tensor_free(ins[1]);
    lcv_tensor_free(y);
}

static void matmul_cases(void) {
    const int64_t a[2] = {3, 4}, b[2] = {4, 5}, w35[2] = {3, 5};
    mm_case(LCV_DTYPE_FLOAT32, 2, a, 2, b, 2, w35);
    mm_case(LCV_DTYPE_FLOAT64, 2, a, 2, b, 2, w35);
    mm_case(LCV_DTYPE_FLOAT16, 2, a, 2, b, 2, w35);
    mm_case(LCV_DTYPE_INT32, 2, a, 2, b, 2, w35);
    mm_case(LCV_DTYPE_INT64, 2, a, 2, b, 2, w35);
    const int64_t v4[1] = {4}, w5[1] = {5}, w3[1] = {3};
    mm_case(LCV_DTYPE_FLOAT32, 1, v4, 1, v4, 0, NULL);
    mm_case(LCV_DTYPE_FLOAT32, 1, v4, 2, b, 1, w5);
    mm_case(LCV_DTYPE_FLOAT32, 2, a, 1, v4, 1, w3);
    const int64_t a3[3] = {2, 3, 4}, w23[2] = {2, 3}, w235[3] = {2, 3, 5};
    mm_case(LCV_DTYPE_FLOAT32, 3, a3, 1, v4, 2, w23);
    mm_case(LCV_DTYPE_FLOAT32, 3, a3, 2, b, 3, w235);
    const int64_t a4[4] = {2, 1, 3, 4}, b3[3] = {5, 4, 2}, w4[4] = {2, 5, 3, 2};
    mm_case(LCV_DTYPE_FLOAT32, 4, a4, 3, b3, 4, w4);
    const int64_t b4[4] = {1, 6, 4, 2}, w6[4] = {2, 6, 3, 2};
    mm_case(LCV_DTYPE_INT64, 4, a4, 4, b4, 4, w6);
    /* Across the 128 x 256 cache blocks. */
    const int64_t big_a[2] = {7, 300}, big_b[2] = {300, 261}, big_w[2] = {7, 261};
    mm_case(LCV_DTYPE_FLOAT32, 2, big_a, 2, big_b, 2, big_w);
}

static void mm_bad(int na, const int64_t *ad, int nb, const int64_t *bd, lcv_dtype bdt,
                   const char *why) {
    lcv_tensor *ins[2] = {optest_tensor(LCV_DTYPE_FLOAT32, na, ad, NULL),
                          optest_tensor(bdt, nb, bd, NULL)};
    lcv_tensor *y = empty_out();
    optest t;
    optest_init(&t, "MatMul", 13, 2, 1);
    lcv_status st = run(&t, 2, ins, y);
    CHECK_MSG(st != LCV_OK && strstr(t.err.msg, "node 'n' (MatMul)"), "%s: %s", why, t.err.msg);
    optest_free(&t);
    lcv_tensor_free(ins[0]);
    lcv_tensor_free(ins[1]);
    lcv_tensor_free(y);
}

/* Einsum on literal inputs; want has nw dims wd and values wv. */
static void es_case(const char *eq, int n, lcv_tensor **ins, int nw, const int64_t *wd,
                    const double *wv) {
    lcv_tensor *y = empty_out();
    optest t;
    optest_init(&t, "Einsum", 12, n, 1);
    optest_attr_str(&t, "equation", eq);
    lcv_status st = run(&t, n, ins, y);
    CHECK_MSG(st == LCV_OK, "%s: %s", eq, t.err.msg);
    if (st == LCV_OK) {
        CHECK_MSG(lcv_shape_equal(y->ndim, y->dims, nw, wd), "%s: shape", eq);
        int64_t cnt = 1;
        for (int i = 0; i < nw; i++) cnt *= wd[i];
        CHECK_MSG(optest_close(y, wv, cnt, 1e-9, 1e-9), "%s: values", eq);
    }
    optest_free(&t);
    lcv_tensor_free(y);
}

static lcv_status es_status(const char *eq, int n, lcv_tensor **ins) {
    lcv_tensor *y = empty_out();
    optest t;
    optest_init(&t, "Einsum", 12, n, 1);
    optest_attr_str(&t, "equation", eq);
    lcv_status st = run(&t, n, ins, y);
    CHECK_MSG(st == LCV_OK || strstr(t.err.msg, "node 'n' (Einsum)"), "%s", t.err.msg);
    optest_free(&t);
    lcv_tensor_free(y);
    return st;
}

static void einsum_cases(void) {
    const double m23[6] = {1, 2, 3, 4, 5, 6}, m32[6] = {1, 0, 0, 1, 1, 1};
    const double sq[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    const int64_t d23[2] = {2, 3}, d32[2] = {3, 2}, d33[2] = {3, 3}, d3[1] = {3};
    lcv_tensor *a = optest_tensor(LCV_DTYPE_FLOAT64, 2, d23, m23);
    lcv_tensor *b = optest_tensor(LCV_DTYPE_FLOAT64, 2, d32, m32);
    lcv_tensor *s = optest_tensor(LCV_DTYPE_FLOAT64, 2, d33, sq);
    lcv_tensor *v = optest_tensor(LCV_DTYPE_FLOAT64, 1, d3, m23);
    lcv_tensor *ab[2] = {a, b}, *aa[1] = {a}, *ss[1] = {s}, *vv[2] = {v, v}, *av[2] = {a, v};
    const double t_want[6] = {1, 4, 2, 5, 3, 6};
    es_case("ij->ji", 1, aa, 2, d32, t_want);
    es_case("ij", 1, aa, 2, d23, m23); /* implicit: already alphabetical */
    es_case("ji", 1, aa, 2, d32, t_want);
    const double rows[2] = {6, 15}, mm[4] = {4, 5, 10, 11};
    const int64_t d2[1] = {2}, d22[2] = {2, 2};
    es_case("ij->i", 1, aa, 1, d2, rows);
    es_case("ij, jk -> ik", 2, ab, 2, d22, mm);
    es_case("ij,jk", 2, ab, 2, d22, mm);
    const double tr[1] = {15}, diag[3] = {1, 5, 9}, ip[1] = {14}, mv[2] = {14, 32};
    es_case("ii", 1, ss, 0, NULL, tr);
    es_case("ii->i", 1, ss, 1, d3, diag);
    es_case("...ii->...i", 1, ss, 1, d3, diag);
    es_case("i,i", 2, vv, 0, NULL, ip);
    es_case("ij,j->i", 2, av, 1, d2, mv);
    const double outer[9] = {1, 2, 3, 2, 4, 6, 3, 6, 9};
    es_case("i,j->ij", 2, vv, 2, d33, outer);
    /* Ellipsis broadcasting: [2,3] x [3] over "...j,j->...". */
    es_case("...j,j->...", 2, av, 1, d2, mv);
    const double sumsq[1] = {91};
    lcv_tensor *a2[2] = {a, a};
    es_case("ij,ij->", 2, a2, 0, NULL, sumsq);
    /* Integer einsum. */
    lcv_tensor *ia = optest_tensor(LCV_DTYPE_INT32, 2, d23, m23);
    lcv_tensor *ib = optest_tensor(LCV_DTYPE_INT32, 2, d32, m32);
    lcv_tensor *iab[2] = {ia, ib};
    es_case("ij,jk->ik", 2, iab, 2, d22, mm);

    CHECK(es_status("ij,jk->ik", 2, vv) == LCV_ERR_SHAPE);    /* rank vs term */
    CHECK(es_status("ij,kl->ik", 1, aa) == LCV_ERR_SHAPE);    /* two terms, one input */
    CHECK(es_status("ij,ij->i", 2, ab) == LCV_ERR_SHAPE);     /* 2x3 vs 3x2 on same labels */
    CHECK(es_status("i1->i", 1, aa) == LCV_ERR_INVALID_ARG);  /* bad character */
    CHECK(es_status("ij->iz", 1, aa) == LCV_ERR_SHAPE);       /* output label not in input */
    CHECK(es_status("ij->ii", 1, aa) == LCV_ERR_SHAPE);       /* repeated output label */
    CHECK(es_status("i.j->ij", 1, aa) == LCV_ERR_INVALID_ARG); /* broken ellipsis */
    lcv_tensor *mixed[2] = {a, ib};
    CHECK(es_status("ij,jk", 2, mixed) == LCV_ERR_SHAPE);     /* dtype mismatch */
    lcv_tensor_free(a);
    lcv_tensor_free(b);
    lcv_tensor_free(s);
    lcv_tensor_free(v);
    lcv_tensor_free(ia);
    lcv_tensor_free(ib);
}

int main(void) {
    matmul_cases();
    const int64_t a[2] = {3, 4}, b[2] = {5, 6}, s0[1] = {0}, a3[3] = {2, 3, 4};
    const int64_t b3[3] = {3, 4, 5};
    mm_bad(2, a, 2, b, LCV_DTYPE_FLOAT32, "K mismatch");
    mm_bad(3, a3, 3, b3, LCV_DTYPE_FLOAT32, "batch 2 vs 3");
    mm_bad(0, s0, 2, a, LCV_DTYPE_FLOAT32, "rank 0");
    mm_bad(2, a, 2, a, LCV_DTYPE_INT32, "dtype mismatch");
    einsum_cases();
    return lcv_test_finish("ops_matmul");
}
