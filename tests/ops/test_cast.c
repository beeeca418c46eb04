/* test_cast.c - Cast and CastLike: float16/bfloat16 bit patterns (ONNX backend data), single
 * rounding for float64->float16 and int64->float32, float->int truncation and saturation,
 * bool, integer wrap, and refusal of string/complex/unknown types with a clear error. */
#include "op_test_util.h"

#define F32 LCV_DTYPE_FLOAT32

/* Casts x to `to` and returns the output (caller frees), or NULL on failure (reported). */
static lcv_tensor *cast(lcv_tensor *x, int to, int line) {
    optest t;
    optest_init(&t, "Cast", 13, 1, 1);
    optest_attr_int(&t, "to", to);
    lcv_tensor *y = NULL;
    lcv_tensor_create(F32, 0, NULL, &y);
    const lcv_tensor *ins[] = {x};
    lcv_status st = optest_run(&t, 1, ins, 1, &y);
    CHECK_MSG(st == LCV_OK, "line %d: %s", line, t.err.msg);
    CHECK_MSG(st != LCV_OK || y->dtype == (lcv_dtype)to, "line %d: dtype %s", line,
              lcv_dtype_name(y->dtype));
    optest_free(&t);
    lcv_tensor_free(x);
    if (st != LCV_OK) {
        lcv_tensor_free(y);
        return NULL;
    }
    return y;
}
#define CAST(x, to) cast(x, to, __LINE__)

static lcv_tensor *raw(lcv_dtype d, int64_t n, const void *bytes) {
    lcv_tensor *t = optest_tensor(d, 1, &n, NULL);
    memcpy(t->data, bytes, (size_t)n * lcv_dtype_size(d));
    return t;
}

static void test_half_types(void) {
    /* float32 -> bfloat16 (test_cast_FLOAT_to_BFLOAT16: the ONNX data truncate) */
    const uint32_t fb[] = {0x3ef535b8u, 0x3effd6b2u, 0x7fc00000u, 0x7f800000u, 0xff800000u,
                           0x7f800001u};
    const uint16_t bb[] = {0x3ef5, 0x3eff, 0x7fc0, 0x7f80, 0xff80, 0x7fc0};
    lcv_tensor *y = CAST(raw(F32, 6, fb), LCV_DTYPE_BFLOAT16);
    if (y)
        for (int i = 0; i < 6; i++)
            CHECK_MSG(((uint16_t *)y->data)[i] == bb[i], "bf16 %d: %#x", i,
                      ((uint16_t *)y->data)[i]);
    lcv_tensor_free(y);
    /* bfloat16 -> float32 is exact */
    y = CAST(raw(LCV_DTYPE_BFLOAT16, 6, bb), F32);
    if (y)
        for (int i = 0; i < 5; i++)
            CHECK(((uint32_t *)y->data)[i] == ((uint32_t)bb[i] << 16));
    lcv_tensor_free(y);
    /* float32 -> float16 rounding, overflow and subnormals */
    const float f[] = {1.0f, 65504.0f, 65520.0f, -2.0f, 0.0009765625f * 0.5f, 5.9604645e-8f, NAN};
    const uint16_t h[] = {0x3c00, 0x7bff, 0x7c00, 0xc000, 0x1000, 0x0001, 0x7e00};
    y = CAST(raw(F32, 7, f), LCV_DTYPE_FLOAT16);
    if (y)
        for (int i = 0; i < 6; i++)
            CHECK_MSG(((uint16_t *)y->data)[i] == h[i], "f16 %d: %#x", i, ((uint16_t *)y->data)[i]);
    if (y)
        CHECK((((uint16_t *)y->data)[6] & 0x7c00) == 0x7c00 && (((uint16_t *)y->data)[6] & 0x3ff));
    lcv_tensor_free(y);
    /* float64 -> float16 rounds once: 1 + 2^-11 + 2^-40 is above the tie, so it rounds up,
     * where going through float32 would land on the tie and round to even (1.0) */
    const double d[] = {1.0 + 0x1p-11 + 0x1p-40, 65519.99, 0x1p-25 + 0x1p-40, 3 * 0x1p-25, 0x1p-26,
                        -0.0, 1e300, -INFINITY};
    const uint16_t dh[] = {0x3c01, 0x7bff, 0x0001, 0x0002, 0x0000, 0x8000, 0x7c00, 0xfc00};
    y = CAST(raw(LCV_DTYPE_FLOAT64, 8, d), LCV_DTYPE_FLOAT16);
    if (y)
        for (int i = 0; i < 8; i++)
            CHECK_MSG(((uint16_t *)y->data)[i] == dh[i], "f64->f16 %d: %#x", i,
                      ((uint16_t *)y->data)[i]);
    lcv_tensor_free(y);
    /* float16 -> float64 / float32 (test_cast_FLOAT16_to_DOUBLE) */
    const uint16_t hv[] = {0x38e6, 0x3c00, 0x0001, 0xfbff};
    const double hd[] = {0.6123046875, 1.0, 5.9604644775390625e-08, -65504};
    y = CAST(raw(LCV_DTYPE_FLOAT16, 4, hv), LCV_DTYPE_FLOAT64);
    if (y) CHECK(optest_close(y, hd, 4, 0, 0));
    lcv_tensor_free(y);
    y = CAST(raw(LCV_DTYPE_FLOAT16, 4, hv), F32);
    if (y) CHECK(optest_close(y, hd, 4, 0, 0));
    lcv_tensor_free(y);
}

static void test_ints_bool(void) {
    int64_t n6 = 6;
    /* float -> int truncates toward zero; NaN -> 0; out of range saturates */
    lcv_tensor *y = CAST(optest_tensor(F32, 1, &n6, (double[]){2.7, -2.7, NAN, 1e20, -1e20, 0.5}),
                         LCV_DTYPE_INT32);
    if (y)
        CHECK(optest_close(y, (double[]){2, -2, 0, 2147483647.0, -2147483648.0, 0}, 6, 0, 0));
    lcv_tensor_free(y);
    y = CAST(optest_tensor(LCV_DTYPE_FLOAT64, 1, &n6, (double[]){300, -5, 255.9, 0, 1, 2}),
             LCV_DTYPE_UINT8);
    if (y) CHECK(optest_close(y, (double[]){255, 0, 255, 0, 1, 2}, 6, 0, 0));
    lcv_tensor_free(y);
    /* integer narrowing wraps; bool is "non-zero" */
    y = CAST(optest_tensor(LCV_DTYPE_INT64, 1, &n6, (double[]){300, -1, 128, 0, 7, -129}),
             LCV_DTYPE_INT8);
    if (y) CHECK(optest_close(y, (double[]){44, -1, -128, 0, 7, 127}, 6, 0, 0));
    lcv_tensor_free(y);
    y = CAST(optest_tensor(F32, 1, &n6, (double[]){0, -0.0, 0.1, NAN, -3, INFINITY}),
             LCV_DTYPE_BOOL);
    if (y) CHECK(optest_close(y, (double[]){0, 0, 1, 1, 1, 1}, 6, 0, 0));
    lcv_tensor_free(y);
    y = CAST(optest_tensor(LCV_DTYPE_BOOL, 1, &n6, (double[]){0, 1, 1, 0, 1, 0}),
             LCV_DTYPE_FLOAT16);
    if (y) CHECK(optest_close(y, (double[]){0, 1, 1, 0, 1, 0}, 6, 0, 0));
    lcv_tensor_free(y);
    /* uint8 image -> float32 */
    y = CAST(optest_tensor(LCV_DTYPE_UINT8, 1, &n6, (double[]){0, 1, 127, 128, 254, 255}), F32);
    if (y) CHECK(optest_close(y, (double[]){0, 1, 127, 128, 254, 255}, 6, 0, 0));
    lcv_tensor_free(y);
    /* 64-bit integers: exact between integer types, single rounding to float32 */
    const int64_t big[] = {((int64_t)1 << 60) + ((int64_t)1 << 36) + 1, INT64_MIN};
    y = CAST(raw(LCV_DTYPE_INT64, 2, big), F32);
    if (y) {
        CHECK(((float *)y->data)[0] == 0x1p60f + 0x1p37f);
        CHECK(((float *)y->data)[1] == -0x1p63f);
    }
    lcv_tensor_free(y);
    y = CAST(raw(LCV_DTYPE_INT64, 2, big), LCV_DTYPE_UINT64);
    if (y)
        CHECK(((uint64_t *)y->data)[0] == (uint64_t)big[0] &&
              ((uint64_t *)y->data)[1] == (1ull << 63));
    lcv_tensor_free(y);
    const uint64_t um[] = {UINT64_MAX};
    y = CAST(raw(LCV_DTYPE_UINT64, 1, um), LCV_DTYPE_FLOAT64);
    if (y) CHECK(((double *)y->data)[0] == 18446744073709551616.0);
    lcv_tensor_free(y);
    /* same dtype is a copy; empty tensors are fine */
    y = CAST(optest_tensor(F32, 1, &n6, (double[]){1, 2, 3, 4, 5, 6}), F32);
    if (y) CHECK(optest_close(y, (double[]){1, 2, 3, 4, 5, 6}, 6, 0, 0));
    lcv_tensor_free(y);
    int64_t z = 0;
    lcv_tensor_free(CAST(optest_tensor(F32, 1, &z, NULL), LCV_DTYPE_INT64));
}

static void test_castlike(void) {
    optest t;
    optest_init(&t, "CastLike", 15, 2, 1);
    int64_t n3 = 3, one = 1;
    lcv_tensor *x = optest_tensor(F32, 1, &n3, (double[]){0.5488135, 1.5, -2});
    lcv_tensor *like = optest_tensor(LCV_DTYPE_FLOAT16, 1, &one, (double[]){0.549});
    lcv_tensor *y = NULL;
    lcv_tensor_create(F32, 0, NULL, &y);
    const lcv_tensor *ins[] = {x, like};
    CHECK_MSG(optest_run(&t, 2, ins, 1, &y) == LCV_OK, "%s", t.err.msg);
    CHECK(y->dtype == LCV_DTYPE_FLOAT16 && y->ndim == 1 && y->dims[0] == 3);
    CHECK(optest_close(y, (double[]){0.548828125, 1.5, -2}, 3, 0, 0));
    lcv_tensor_free(x);
    lcv_tensor_free(like);
    lcv_tensor_free(y);
    optest_free(&t);
}

/* Runs Cast (attribute 'to' unless to == -1) or CastLike (to unused) and expects failure. */
static void expect_err(const char *op, int64_t to, lcv_tensor *x, lcv_tensor *like,
                       lcv_status want, int line) {
    optest t;
    optest_init(&t, op, 15, like ? 2 : 1, 1);
    if (strcmp(op, "Cast") == 0 && to != -1) optest_attr_int(&t, "to", to);
    lcv_tensor *y = NULL;
    lcv_tensor_create(F32, 0, NULL, &y);
    const lcv_tensor *ins[] = {x, like};
    lcv_status st = optest_run(&t, like ? 2 : 1, ins, 1, &y);
    CHECK_MSG(st == want, "line %d: got %s (%s)", line, lcv_status_name(st), t.err.msg);
    CHECK_MSG(strstr(t.err.msg, "node 'n' (") != NULL, "line %d: '%s'", line, t.err.msg);
    lcv_tensor_free(x);
    lcv_tensor_free(like);
    lcv_tensor_free(y);
    optest_free(&t);
}
#define EXPECT_ERR(op, to, x, like, want) expect_err(op, to, x, like, want, __LINE__)

static lcv_tensor *f32v(void) {
    int64_t n = 2;
    return optest_tensor(F32, 1, &n, (double[]){1, 2});
}

static lcv_tensor *strv(void) {
    int64_t n = 2;
    lcv_tensor *t = optest_tensor(LCV_DTYPE_UINT8, 1, &n, NULL);
    t->dtype = LCV_DTYPE_STRING;
    return t;
}

static void test_errors(void) {
    EXPECT_ERR("Cast", LCV_DTYPE_STRING, f32v(), NULL, LCV_ERR_UNSUPPORTED);
    EXPECT_ERR("Cast", F32, strv(), NULL, LCV_ERR_UNSUPPORTED);
    EXPECT_ERR("Cast", 14, f32v(), NULL, LCV_ERR_UNSUPPORTED); /* complex64 */
    EXPECT_ERR("Cast", 17, f32v(), NULL, LCV_ERR_UNSUPPORTED); /* float8 */
    EXPECT_ERR("Cast", 999, f32v(), NULL, LCV_ERR_INVALID_ARG);
    EXPECT_ERR("Cast", 0, f32v(), NULL, LCV_ERR_INVALID_ARG);
    EXPECT_ERR("Cast", -5, f32v(), NULL, LCV_ERR_INVALID_ARG);
    EXPECT_ERR("Cast", -1, f32v(), NULL, LCV_ERR_INVALID_ARG); /* attribute missing */
    EXPECT_ERR("CastLike", 0, f32v(), strv(), LCV_ERR_UNSUPPORTED);
    EXPECT_ERR("CastLike", 0, strv(), f32v(), LCV_ERR_UNSUPPORTED);
    /* 'to' of the wrong attribute type */
    optest t;
    optest_init(&t, "Cast", 13, 1, 1);
    optest_attr_float(&t, "to", 1.0f);
    lcv_tensor *x = f32v(), *y = NULL;
    lcv_tensor_create(F32, 0, NULL, &y);
    const lcv_tensor *ins[] = {x};
    CHECK(optest_run(&t, 1, ins, 1, &y) == LCV_ERR_INVALID_ARG);
    lcv_tensor_free(x);
    lcv_tensor_free(y);
    optest_free(&t);
}

int main(void) {
    test_half_types();
    test_ints_bool();
    test_castlike();
    test_errors();
    return lcv_test_finish("ops_cast");
}
