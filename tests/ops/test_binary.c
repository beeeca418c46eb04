/* test_binary.c - broadcasting binary ops, comparisons/logic, variadic Max/Min/Sum/Mean and
 * Where: values (hand-computed or from the ONNX backend data), broadcasting at every rank up to
 * 8 against a naive reference, int64 exactness, and bad input giving an error, not a crash. */
#include "op_test_util.h"

#define F32 LCV_DTYPE_FLOAT32
#define I64 LCV_DTYPE_INT64

static lcv_tensor *mk(lcv_dtype d, int nd, const int64_t *dims, const double *v) {
    return optest_tensor(d, nd, dims, v);
}

/* A tensor whose dtype claims string (no data is ever read: infer must refuse it). */
static lcv_tensor *strt(int64_t n) {
    lcv_tensor *t = optest_tensor(LCV_DTYPE_UINT8, 1, &n, NULL);
    t->dtype = LCV_DTYPE_STRING;
    return t;
}

static lcv_tensor *vec(lcv_dtype d, int64_t n, const double *v) { return mk(d, 1, &n, v); }

/* Runs the node on ins, expects LCV_OK, output dtype od and values ref; frees ins and t. */
static void expect(optest *t, int n_in, lcv_tensor **ins, lcv_dtype od, int64_t n,
                   const double *ref, double tol, int line) {
    lcv_tensor *y = NULL;
    lcv_tensor_create(F32, 0, NULL, &y);
    lcv_status st = optest_run(t, n_in, (const lcv_tensor *const *)ins, 1, &y);
    CHECK_MSG(st == LCV_OK, "line %d: %s", line, t->err.msg);
    if (st == LCV_OK) {
        CHECK_MSG(y->dtype == od, "line %d: dtype %s", line, lcv_dtype_name(y->dtype));
        CHECK_MSG(optest_close(y, ref, n, tol, tol), "line %d", line);
    }
    lcv_tensor_free(y);
    for (int i = 0; i < n_in; i++) lcv_tensor_free(ins[i]);
    optest_free(t);
}

/* Expects failure with status want and a message naming the node. */
static void expect_err(optest *t, int n_in, lcv_tensor **ins, lcv_status want, int line) {
    lcv_tensor *y = NULL;
    lcv_tensor_create(F32, 0, NULL, &y);
    lcv_status st = optest_run(t, n_in, (const lcv_tensor *const *)ins, 1, &y);
    CHECK_MSG(st == want, "line %d: got %s (%s)", line, lcv_status_name(st), t->err.msg);
    CHECK_MSG(strstr(t->err.msg, "node 'n'") != NULL, "line %d: message '%s'", line, t->err.msg);
    lcv_tensor_free(y);
    for (int i = 0; i < n_in; i++) lcv_tensor_free(ins[i]);
    optest_free(t);
}

#define EXPECT(t, n_in, ins, od, n, ref, tol) expect(t, n_in, ins, od, n, ref, tol, __LINE__)
#define EXPECT_ERR(t, n_in, ins, want) expect_err(t, n_in, ins, want, __LINE__)

static void test_arith(void) {
    optest t;
    const double a[] = {1, -2, 3.5, 0}, b[] = {2, 4, -0.5, 3};
    optest_init(&t, "Add", 14, 2, 1);
    EXPECT(&t, 2, ((lcv_tensor *[]){vec(F32, 4, a), vec(F32, 4, b)}), F32, 4,
           ((double[]){3, 2, 3, 3}), 1e-6);
    optest_init(&t, "Sub", 14, 2, 1);
    EXPECT(&t, 2, ((lcv_tensor *[]){vec(LCV_DTYPE_FLOAT64, 4, a), vec(LCV_DTYPE_FLOAT64, 4, b)}),
           LCV_DTYPE_FLOAT64, 4, ((double[]){-1, -6, 4, -3}), 0);
    optest_init(&t, "Mul", 14, 2, 1);
    EXPECT(&t, 2, ((lcv_tensor *[]){vec(LCV_DTYPE_FLOAT16, 4, a), vec(LCV_DTYPE_FLOAT16, 4, b)}),
           LCV_DTYPE_FLOAT16, 4, ((double[]){2, -8, -1.75, 0}), 0);
    optest_init(&t, "Div", 14, 2, 1);
    EXPECT(&t, 2, ((lcv_tensor *[]){vec(F32, 4, a), vec(F32, 4, b)}), F32, 4,
           ((double[]){0.5, -0.5, -7, 0}), 1e-6);
    /* test_add_uint8 / test_div_uint8 style: unsigned wrap and truncating division */
    optest_init(&t, "Add", 14, 2, 1);
    EXPECT(&t, 2,
           ((lcv_tensor *[]){vec(LCV_DTYPE_UINT8, 3, (double[]){250, 1, 7}),
                             vec(LCV_DTYPE_UINT8, 3, (double[]){10, 2, 8})}),
           LCV_DTYPE_UINT8, 3, ((double[]){4, 3, 15}), 0);
    optest_init(&t, "Div", 14, 2, 1);
    EXPECT(&t, 2,
           ((lcv_tensor *[]){vec(LCV_DTYPE_INT32, 4, (double[]){7, -7, 7, -7}),
                             vec(LCV_DTYPE_INT32, 4, (double[]){2, 2, -2, -2})}),
           LCV_DTYPE_INT32, 4, ((double[]){3, -3, -3, 3}), 0);
    optest_init(&t, "Sub", 14, 2, 1);
    EXPECT(&t, 2,
           ((lcv_tensor *[]){vec(LCV_DTYPE_INT8, 2, (double[]){-128, 100}),
                             vec(LCV_DTYPE_INT8, 2, (double[]){1, -100})}),
           LCV_DTYPE_INT8, 2, ((double[]){127, -56}), 0);
}

/* int64 values above 2^53 must not pass through double. */
static void test_int64_exact(void) {
    int64_t one = 1;
    const int64_t big = ((int64_t)1 << 62) + 1;
    const char *ops[] = {"Add", "Sub", "Mul", "Div", "Mod", "Max", "Min"};
    const int64_t expect_v[] = {big + 3, big - 3, (int64_t)((uint64_t)big * 3u), big / 3, big % 3,
                                big, 3};
    for (int k = 0; k < 7; k++) {
        optest t;
        bool variadic = k >= 5;
        optest_init(&t, ops[k], 13, 2, 1);
        lcv_tensor *a = mk(I64, 1, &one, NULL), *b = mk(I64, 1, &one, NULL), *y = NULL;
        ((int64_t *)a->data)[0] = big;
        ((int64_t *)b->data)[0] = 3;
        lcv_tensor_create(F32, 0, NULL, &y);
        const lcv_tensor *ins[] = {a, b};
        CHECK(optest_run(&t, 2, ins, 1, &y) == LCV_OK);
        CHECK_MSG(((int64_t *)y->data)[0] == expect_v[k], "%s%s: %lld", ops[k],
                  variadic ? " (variadic)" : "", (long long)((int64_t *)y->data)[0]);
        lcv_tensor_free(a);
        lcv_tensor_free(b);
        lcv_tensor_free(y);
        optest_free(&t);
    }
    /* comparisons on neighbours above 2^53 and uint64 above 2^63 */
    optest t;
    optest_init(&t, "Less", 13, 2, 1);
    lcv_tensor *a = mk(I64, 1, &one, NULL), *b = mk(I64, 1, &one, NULL), *y = NULL;
    ((int64_t *)a->data)[0] = big;
    ((int64_t *)b->data)[0] = big + 1;
    lcv_tensor_create(F32, 0, NULL, &y);
    const lcv_tensor *ins[] = {a, b};
    CHECK(optest_run(&t, 2, ins, 1, &y) == LCV_OK && y->dtype == LCV_DTYPE_BOOL &&
          ((uint8_t *)y->data)[0] == 1);
    lcv_tensor_free(a);
    lcv_tensor_free(b);
    optest_free(&t);
    optest_init(&t, "Max", 13, 2, 1);
    a = mk(LCV_DTYPE_UINT64, 1, &one, NULL);
    b = mk(LCV_DTYPE_UINT64, 1, &one, NULL);
    ((uint64_t *)a->data)[0] = UINT64_MAX - 1;
    ((uint64_t *)b->data)[0] = 5;
    const lcv_tensor *ins2[] = {a, b};
    CHECK(optest_run(&t, 2, ins2, 1, &y) == LCV_OK && ((uint64_t *)y->data)[0] == UINT64_MAX - 1);
    lcv_tensor_free(a);
    lcv_tensor_free(b);
    lcv_tensor_free(y);
    optest_free(&t);
}

static void test_mod_pow_bits(void) {
    optest t;
    /* test_mod_mixed_sign_int8: Python-style sign of the divisor */
    const double x[] = {-4, 7, 5, 4, -7, 8}, d[] = {2, -3, 8, -2, 3, 5};
    optest_init(&t, "Mod", 13, 2, 1);
    EXPECT(&t, 2, ((lcv_tensor *[]){vec(LCV_DTYPE_INT8, 6, x), vec(LCV_DTYPE_INT8, 6, d)}),
           LCV_DTYPE_INT8, 6, ((double[]){0, -2, 5, 0, 2, 3}), 0);
    /* test_mod_int64_fmod: sign of the dividend */
    optest_init(&t, "Mod", 13, 2, 1);
    optest_attr_int(&t, "fmod", 1);
    EXPECT(&t, 2, ((lcv_tensor *[]){vec(I64, 6, x), vec(I64, 6, d)}), I64, 6,
           ((double[]){0, 1, 5, 0, -1, 3}), 0);
    /* test_mod_mixed_sign_float32 */
    optest_init(&t, "Mod", 13, 2, 1);
    optest_attr_int(&t, "fmod", 1);
    EXPECT(&t, 2,
           ((lcv_tensor *[]){vec(F32, 3, (double[]){-4.3, 7.2, 5}),
                             vec(F32, 3, (double[]){2.1, -3.4, 8})}),
           F32, 3, ((double[]){-0.10000038, 0.39999962, 5}), 1e-6);
    /* Pow: base dtype decides (test_pow_types_int32_float32, float32_int64) */
    optest_init(&t, "Pow", 15, 2, 1);
    EXPECT(&t, 2,
           ((lcv_tensor *[]){vec(LCV_DTYPE_INT32, 3, (double[]){1, 2, 3}),
                             vec(F32, 3, (double[]){4, 5, 6})}),
           LCV_DTYPE_INT32, 3, ((double[]){1, 32, 729}), 0);
    optest_init(&t, "Pow", 15, 2, 1);
    EXPECT(&t, 2,
           ((lcv_tensor *[]){vec(F32, 3, (double[]){1, 2, 3}), vec(I64, 3, (double[]){4, 5, 6})}),
           F32, 3, ((double[]){1, 32, 729}), 0);
    optest_init(&t, "Pow", 15, 2, 1);
    EXPECT(&t, 2,
           ((lcv_tensor *[]){vec(I64, 4, (double[]){3, -2, 2, 5}),
                             vec(I64, 4, (double[]){39, 3, -1, 0})}),
           I64, 4, ((double[]){4052555153018976267.0, -8, 0, 1}), 0);
    optest_init(&t, "Pow", 13, 2, 1);
    int64_t one = 1;
    EXPECT(&t, 2,
           ((lcv_tensor *[]){vec(F32, 3, (double[]){1, 2, 3}), mk(F32, 0, &one, (double[]){2})}),
           F32, 3, ((double[]){1, 4, 9}), 0);
    /* BitShift (test_bitshift_right_uint8 / left) */
    optest_init(&t, "BitShift", 11, 2, 1);
    optest_attr_str(&t, "direction", "RIGHT");
    EXPECT(&t, 2,
           ((lcv_tensor *[]){vec(LCV_DTYPE_UINT8, 3, (double[]){16, 4, 1}),
                             vec(LCV_DTYPE_UINT8, 3, (double[]){1, 2, 3})}),
           LCV_DTYPE_UINT8, 3, ((double[]){8, 1, 0}), 0);
    optest_init(&t, "BitShift", 11, 2, 1);
    optest_attr_str(&t, "direction", "LEFT");
    EXPECT(&t, 2,
           ((lcv_tensor *[]){vec(LCV_DTYPE_UINT16, 3, (double[]){16, 4, 1}),
                             vec(LCV_DTYPE_UINT16, 3, (double[]){1, 14, 70})}),
           LCV_DTYPE_UINT16, 3, ((double[]){32, 0, 0}), 0);
    optest_init(&t, "BitwiseXor", 18, 2, 1);
    EXPECT(&t, 2,
           ((lcv_tensor *[]){vec(LCV_DTYPE_INT32, 2, (double[]){12, -1}),
                             vec(LCV_DTYPE_INT32, 2, (double[]){10, 5})}),
           LCV_DTYPE_INT32, 2, ((double[]){6, -6}), 0);
    /* PRelu with a per-channel slope (test_prelu_broadcast style) */
    optest_init(&t, "PRelu", 16, 2, 1);
    EXPECT(&t, 2,
           ((lcv_tensor *[]){mk(F32, 2, (int64_t[]){2, 2}, (double[]){-1, 2, -3, 4}),
                             vec(F32, 2, (double[]){0.5, 0.25})}),
           F32, 4, ((double[]){-0.5, 2, -1.5, 4}), 1e-7);
    /* opset 6: a [C] slope is per channel (axis 1), not numpy-broadcast on the last axis */
    optest_init(&t, "PRelu", 6, 2, 1);
    EXPECT(&t, 2,
           ((lcv_tensor *[]){mk(F32, 3, (int64_t[]){1, 2, 3}, (double[]){-1, -2, 3, -1, -2, 3}),
                             vec(F32, 2, (double[]){0.5, 0.25})}),
           F32, 6, ((double[]){-0.5, -1, 3, -0.25, -0.5, 3}), 1e-7);
}

static void test_compare_logic(void) {
    optest t;
    const double a[] = {1, 2, 3, NAN}, b[] = {2, 2, 2, NAN};
    const char *ops[] = {"Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual"};
    const double ref[5][4] = {
        {0, 1, 0, 0}, {1, 0, 0, 0}, {1, 1, 0, 0}, {0, 0, 1, 0}, {0, 1, 1, 0}};
    for (int k = 0; k < 5; k++) {
        optest_init(&t, ops[k], 16, 2, 1);
        EXPECT(&t, 2, ((lcv_tensor *[]){vec(F32, 4, a), vec(F32, 4, b)}), LCV_DTYPE_BOOL, 4,
               ref[k], 0);
        optest_init(&t, ops[k], 16, 2, 1);
        EXPECT(&t, 2, ((lcv_tensor *[]){vec(LCV_DTYPE_INT16, 3, a), vec(LCV_DTYPE_INT16, 3, b)}),
               LCV_DTYPE_BOOL, 3, ref[k], 0);
    }
    const double p[] = {0, 0, 1, 1}, q[] = {0, 1, 0, 1};
    const char *lops[] = {"And", "Or", "Xor"};
    const double lref[3][4] = {{0, 0, 0, 1}, {0, 1, 1, 1}, {0, 1, 1, 0}};
    for (int k = 0; k < 3; k++) {
        optest_init(&t, lops[k], 7, 2, 1);
        EXPECT(&t, 2,
               ((lcv_tensor *[]){vec(LCV_DTYPE_BOOL, 4, p), vec(LCV_DTYPE_BOOL, 4, q)}),
               LCV_DTYPE_BOOL, 4, lref[k], 0);
    }
    /* broadcast 3-d vs 1-d (test_and_bcast3v1d style) */
    optest_init(&t, "Or", 7, 2, 1);
    EXPECT(&t, 2,
           ((lcv_tensor *[]){mk(LCV_DTYPE_BOOL, 3, (int64_t[]){2, 1, 2}, p),
                             vec(LCV_DTYPE_BOOL, 2, (double[]){1, 0})}),
           LCV_DTYPE_BOOL, 4, ((double[]){1, 0, 1, 1}), 0);
}

/* Naive reference for broadcasting: each output element reads its inputs through
 * lcv_broadcast_index. Covers every rank 0..8 with random size-1 dims on either side. */
static void test_broadcast_ranks(void) {
    uint32_t seed = 12345;
    for (int iter = 0; iter < 300; iter++) {
        int nd = iter % 9;
        int64_t od[LCV_MAX_DIMS], ad[LCV_MAX_DIMS], bd[LCV_MAX_DIMS];
        seed = seed * 1103515245u + 12345u;
        int na = nd ? (int)(seed >> 8) % (nd + 1) : 0;
        seed = seed * 1103515245u + 12345u;
        int nb = nd;
        if (iter & 1) {
            nb = na;
            na = nd;
        }
        for (int i = 0; i < nd; i++) {
            seed = seed * 1103515245u + 12345u;
            od[i] = 1 + (seed >> 16) % (nd > 5 ? 2 : 3);
        }
        for (int i = 0; i < na; i++) {
            seed = seed * 1103515245u + 12345u;
            ad[i] = ((seed >> 12) & 3) == 0 ? 1 : od[nd - na + i];
        }
        for (int i = 0; i < nb; i++) {
            seed = seed * 1103515245u + 12345u;
            bd[i] = ((seed >> 12) & 3) == 0 ? 1 : od[nd - nb + i];
        }
        /* the actual output shape is the broadcast of a and b, not od */
        int64_t rd[LCV_MAX_DIMS];
        for (int i = 0; i < nd; i++) {
            int ia = i - (nd - na), ib = i - (nd - nb);
            int64_t da = ia >= 0 ? ad[ia] : 1, db = ib >= 0 ? bd[ib] : 1;
            rd[i] = da > db ? da : db;
        }
        lcv_tensor *a = mk(F32, na, ad, NULL), *b = mk(LCV_DTYPE_FLOAT32, nb, bd, NULL);
        lcv_tensor *ai = mk(I64, na, ad, NULL), *bi = mk(I64, nb, bd, NULL);
        for (int64_t i = 0; i < lcv_tensor_count(a); i++) {
            ((float *)a->data)[i] = (float)(i + 1);
            ((int64_t *)ai->data)[i] = i + 1;
        }
        for (int64_t i = 0; i < lcv_tensor_count(b); i++) {
            ((float *)b->data)[i] = (float)(1000 * (i + 1));
            ((int64_t *)bi->data)[i] = 1000 * (i + 1);
        }
        int64_t strides[LCV_MAX_DIMS], n;
        lcv_shape_strides(nd, rd, strides);
        lcv_shape_numel(nd, rd, &n);
        double *ref = malloc(sizeof(double) * (size_t)n);
        for (int64_t f = 0; f < n; f++) {
            int64_t ia = lcv_broadcast_index(f, nd, rd, strides, na, ad);
            int64_t ib = lcv_broadcast_index(f, nd, rd, strides, nb, bd);
            ref[f] = (double)(ia + 1) - 1000.0 * (double)(ib + 1);
        }
        optest t;
        optest_init(&t, "Sub", 14, 2, 1);
        EXPECT(&t, 2, ((lcv_tensor *[]){a, b}), F32, n, ref, 0);
        optest_init(&t, "Sub", 14, 2, 1);
        EXPECT(&t, 2, ((lcv_tensor *[]){ai, bi}), I64, n, ref, 0);
        free(ref);
    }
}

static void test_variadic_where(void) {
    optest t;
    /* test_max_example / test_min_example / test_sum_example / test_mean_example */
    const double d0[] = {3, 2, 1}, d1[] = {1, 4, 4}, d2[] = {2, 5, 3};
    optest_init(&t, "Max", 13, 3, 1);
    EXPECT(&t, 3, ((lcv_tensor *[]){vec(F32, 3, d0), vec(F32, 3, d1), vec(F32, 3, d2)}), F32, 3,
           ((double[]){3, 5, 4}), 0);
    optest_init(&t, "Min", 13, 3, 1);
    EXPECT(&t, 3,
           ((lcv_tensor *[]){vec(LCV_DTYPE_UINT32, 3, d0), vec(LCV_DTYPE_UINT32, 3, d1),
                             vec(LCV_DTYPE_UINT32, 3, d2)}),
           LCV_DTYPE_UINT32, 3, ((double[]){1, 2, 1}), 0);
    optest_init(&t, "Sum", 13, 3, 1);
    EXPECT(&t, 3, ((lcv_tensor *[]){vec(F32, 3, d0), vec(F32, 3, d1), vec(F32, 3, d2)}), F32, 3,
           ((double[]){6, 11, 8}), 0);
    optest_init(&t, "Mean", 13, 3, 1);
    EXPECT(&t, 3,
           ((lcv_tensor *[]){vec(LCV_DTYPE_FLOAT64, 3, d0), vec(LCV_DTYPE_FLOAT64, 3, d1),
                             vec(LCV_DTYPE_FLOAT64, 3, d2)}),
           LCV_DTYPE_FLOAT64, 3, ((double[]){2, 11.0 / 3, 8.0 / 3}), 1e-12);
    optest_init(&t, "Max", 13, 1, 1);
    EXPECT(&t, 1, ((lcv_tensor *[]){vec(F32, 3, d0)}), F32, 3, d0, 0);
    /* broadcasting: [2,1] + [3] + scalar -> [2,3]; NaN propagates through Max */
    optest_init(&t, "Sum", 13, 3, 1);
    EXPECT(&t, 3,
           ((lcv_tensor *[]){mk(F32, 2, (int64_t[]){2, 1}, (double[]){10, 20}),
                             vec(F32, 3, (double[]){1, 2, 3}), mk(F32, 0, NULL, (double[]){100})}),
           F32, 6, ((double[]){111, 112, 113, 121, 122, 123}), 0);
    optest_init(&t, "Max", 13, 2, 1);
    EXPECT(&t, 2,
           ((lcv_tensor *[]){vec(F32, 2, (double[]){NAN, 1}), vec(F32, 2, (double[]){1, NAN})}),
           F32, 2, ((double[]){NAN, NAN}), 0);
    /* Where: three-way broadcast (cond [2,1], x [2], y scalar) in several dtypes */
    const lcv_dtype dts[] = {F32, I64, LCV_DTYPE_INT8, LCV_DTYPE_FLOAT16, LCV_DTYPE_BOOL};
    for (int k = 0; k < 5; k++) {
        optest_init(&t, "Where", 16, 3, 1);
        EXPECT(&t, 3,
               ((lcv_tensor *[]){mk(LCV_DTYPE_BOOL, 2, (int64_t[]){2, 1}, (double[]){1, 0}),
                                 vec(dts[k], 2, (double[]){1, 0}),
                                 mk(dts[k], 0, NULL, (double[]){1})}),
               dts[k], 4, ((double[]){1, 0, 1, 1}), 0);
    }
    /* test_where_long_example */
    optest_init(&t, "Where", 16, 3, 1);
    EXPECT(&t, 3,
           ((lcv_tensor *[]){mk(LCV_DTYPE_BOOL, 2, (int64_t[]){2, 2}, (double[]){1, 0, 1, 1}),
                             mk(I64, 2, (int64_t[]){2, 2}, (double[]){1, 2, 3, 4}),
                             mk(I64, 2, (int64_t[]){2, 2}, (double[]){9, 8, 7, 6})}),
           I64, 4, ((double[]){1, 8, 3, 4}), 0);
}

static void test_errors(void) {
    optest t;
    int64_t d3 = 3, d4 = 4;
    optest_init(&t, "Add", 14, 2, 1);
    EXPECT_ERR(&t, 2, ((lcv_tensor *[]){mk(F32, 1, &d3, NULL), mk(F32, 1, &d4, NULL)}),
               LCV_ERR_SHAPE);
    optest_init(&t, "Add", 14, 2, 1);
    EXPECT_ERR(&t, 2, ((lcv_tensor *[]){mk(F32, 1, &d3, NULL), mk(I64, 1, &d3, NULL)}),
               LCV_ERR_SHAPE);
    optest_init(&t, "Mul", 14, 2, 1);
    EXPECT_ERR(
        &t, 2,
        ((lcv_tensor *[]){mk(LCV_DTYPE_BOOL, 1, &d3, NULL), mk(LCV_DTYPE_BOOL, 1, &d3, NULL)}),
        LCV_ERR_SHAPE);
    optest_init(&t, "Div", 14, 2, 1);
    EXPECT_ERR(&t, 2,
               ((lcv_tensor *[]){vec(LCV_DTYPE_INT32, 2, (double[]){1, 2}),
                                 vec(LCV_DTYPE_INT32, 2, (double[]){1, 0})}),
               LCV_ERR_INVALID_ARG);
    optest_init(&t, "Mod", 13, 2, 1);
    EXPECT_ERR(&t, 2, ((lcv_tensor *[]){vec(I64, 1, (double[]){1}), vec(I64, 1, (double[]){0})}),
               LCV_ERR_INVALID_ARG);
    optest_init(&t, "Mod", 13, 2, 1); /* float needs fmod=1 */
    EXPECT_ERR(&t, 2, ((lcv_tensor *[]){mk(F32, 1, &d3, NULL), mk(F32, 1, &d3, NULL)}),
               LCV_ERR_INVALID_ARG);
    optest_init(&t, "BitShift", 11, 2, 1); /* direction missing */
    EXPECT_ERR(
        &t, 2,
        ((lcv_tensor *[]){mk(LCV_DTYPE_UINT8, 1, &d3, NULL), mk(LCV_DTYPE_UINT8, 1, &d3, NULL)}),
        LCV_ERR_INVALID_ARG);
    optest_init(&t, "BitShift", 11, 2, 1);
    optest_attr_str(&t, "direction", "UP");
    EXPECT_ERR(
        &t, 2,
        ((lcv_tensor *[]){mk(LCV_DTYPE_UINT8, 1, &d3, NULL), mk(LCV_DTYPE_UINT8, 1, &d3, NULL)}),
        LCV_ERR_INVALID_ARG);
    optest_init(&t, "BitShift", 11, 2, 1);
    optest_attr_str(&t, "direction", "LEFT");
    EXPECT_ERR(&t, 2, ((lcv_tensor *[]){mk(I64, 1, &d3, NULL), mk(I64, 1, &d3, NULL)}),
               LCV_ERR_SHAPE);
    optest_init(&t, "And", 7, 2, 1);
    EXPECT_ERR(&t, 2, ((lcv_tensor *[]){mk(F32, 1, &d3, NULL), mk(F32, 1, &d3, NULL)}),
               LCV_ERR_SHAPE);
    optest_init(&t, "Less", 13, 2, 1);
    EXPECT_ERR(&t, 2,
               ((lcv_tensor *[]){strt(3), strt(3)}),
               LCV_ERR_UNSUPPORTED);
    optest_init(&t, "PRelu", 16, 2, 1); /* slope may not grow X */
    EXPECT_ERR(&t, 2,
               ((lcv_tensor *[]){mk(F32, 1, (int64_t[]){1}, NULL),
                                 mk(F32, 2, (int64_t[]){2, 3}, NULL)}),
               LCV_ERR_SHAPE);
    optest_init(&t, "Pow", 11, 2, 1); /* mixed dtypes only from opset 12 */
    EXPECT_ERR(&t, 2, ((lcv_tensor *[]){mk(F32, 1, &d3, NULL), mk(I64, 1, &d3, NULL)}),
               LCV_ERR_SHAPE);
    optest_init(&t, "Sum", 13, 2, 1);
    EXPECT_ERR(&t, 2, ((lcv_tensor *[]){mk(F32, 1, &d3, NULL), mk(F32, 1, &d4, NULL)}),
               LCV_ERR_SHAPE);
    optest_init(&t, "Max", 13, 2, 1);
    EXPECT_ERR(&t, 2,
               ((lcv_tensor *[]){mk(F32, 1, &d3, NULL), mk(LCV_DTYPE_FLOAT64, 1, &d3, NULL)}),
               LCV_ERR_SHAPE);
    optest_init(&t, "Where", 16, 3, 1);
    EXPECT_ERR(
        &t, 3,
        ((lcv_tensor *[]){mk(F32, 1, &d3, NULL), mk(F32, 1, &d3, NULL), mk(F32, 1, &d3, NULL)}),
        LCV_ERR_SHAPE);
    optest_init(&t, "Where", 16, 3, 1);
    EXPECT_ERR(&t, 3,
               ((lcv_tensor *[]){mk(LCV_DTYPE_BOOL, 1, &d3, NULL), mk(F32, 1, &d3, NULL),
                                 mk(F32, 1, &d4, NULL)}),
               LCV_ERR_SHAPE);
    /* empty tensors are fine */
    int64_t z = 0;
    optest_init(&t, "Add", 14, 2, 1);
    EXPECT(&t, 2, ((lcv_tensor *[]){mk(F32, 1, &z, NULL), mk(F32, 0, NULL, (double[]){1})}), F32, 0,
           NULL, 0);
}

int main(void) {
    test_arith();
    test_int64_exact();
    test_mod_pow_bits();
    test_compare_logic();
    test_broadcast_ranks();
    test_variadic_where();
    test_errors();
    return lcv_test_finish("ops_binary");
}
