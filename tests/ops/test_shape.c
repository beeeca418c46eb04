/* test_shape.c - hand-computed cases for the shape ops (Reshape, Flatten, Squeeze, Unsqueeze,
 * Shape, Size, Constant, ConstantOfShape, Range, EyeLike): opset variants, any-dtype copies,
 * deferral when data is unknown, and bad inputs that must fail with a message. */
#include "shape_test_util.h"

static const double V24[24] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23};

static void test_reshape(void) {
    optest T;
    lcv_tensor *o, *x = ten(LCV_DTYPE_INT16, 3, DIMS(2, 3, 4), V24);
    lcv_tensor *s = ints(3, DIMS(4, 0, -1));
    optest_init(&T, "Reshape", 13, 2, 1);
    lcv_status st = run1(&T, 2, (lcv_tensor *[]){x, s}, &o);
    CHECK_MSG(st == LCV_OK, "%s", T.err.msg);
    CHECK(same_shape(o, LCV_DTYPE_INT16, 3, DIMS(4, 3, 2)));
    CHECK(optest_close(o, V24, 24, 0, 0));
    lcv_tensor_free(o);
    optest_free(&T);
    lcv_tensor_free(s);

    /* bad shapes: two -1, mismatch, < -1, 0 past the input rank, float shape */
    static const int64_t bad[][4] = {{-1, -1, 2, 1}, {5, 5, 1, 1}, {2, -2, 6, 1}, {2, 3, 4, 0}};
    for (int i = 0; i < 4; i++) {
        optest_init(&T, "Reshape", 13, 2, 1);
        s = ints(4, bad[i]);
        CHECK_FAILS(run1(&T, 2, (lcv_tensor *[]){x, s}, &o));
        lcv_tensor_free(o);
        lcv_tensor_free(s);
        optest_free(&T);
    }
    optest_init(&T, "Reshape", 13, 2, 1);
    s = ten(LCV_DTYPE_FLOAT32, 1, DIMS(2), VALS(6, 4));
    CHECK_FAILS(run1(&T, 2, (lcv_tensor *[]){x, s}, &o));
    lcv_tensor_free(o);
    lcv_tensor_free(s);
    optest_free(&T);

    /* allowzero=1 keeps a literal 0; mixing it with -1 is an error */
    lcv_tensor *e = ten(LCV_DTYPE_FLOAT32, 2, DIMS(0, 3), NULL);
    optest_init(&T, "Reshape", 14, 2, 1);
    optest_attr_int(&T, "allowzero", 1);
    s = ints(3, DIMS(3, 0, 5));
    st = run1(&T, 2, (lcv_tensor *[]){e, s}, &o);
    CHECK(st == LCV_OK && same_shape(o, LCV_DTYPE_FLOAT32, 3, DIMS(3, 0, 5)));
    lcv_tensor_free(o);
    lcv_tensor_free(s);
    s = ints(2, DIMS(0, -1));
    CHECK_FAILS(run1(&T, 2, (lcv_tensor *[]){e, s}, &o));
    lcv_tensor_free(o);
    lcv_tensor_free(s);
    optest_free(&T);
    lcv_tensor_free(e);

    /* opset 1..4 take the shape attribute */
    optest_init(&T, "Reshape", 4, 1, 1);
    optest_attr_ints(&T, "shape", 2, DIMS(-1, 8));
    st = run1(&T, 1, (lcv_tensor *[]){x}, &o);
    CHECK(st == LCV_OK && same_shape(o, LCV_DTYPE_INT16, 2, DIMS(3, 8)));
    lcv_tensor_free(o);
    optest_free(&T);

    /* a shape input without data defers */
    lcv_tensor ls;
    lcv_tensor_init(&ls);
    ls.dtype = LCV_DTYPE_INT64;
    ls.ndim = 1;
    ls.dims[0] = 2;
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 0, NULL, &o);
    optest_init(&T, "Reshape", 13, 2, 1);
    CHECK(infer_only(&T, 2, (const lcv_tensor *[]){x, &ls}, o) == LCV_DEFERRED);
    optest_free(&T);
    lcv_tensor_free(o);
    lcv_tensor_free(x);
}

static void test_flatten_squeeze(void) {
    optest T;
    lcv_tensor *o, *x = ten(LCV_DTYPE_UINT8, 4, DIMS(2, 1, 3, 1), V24);
    static const struct { int64_t axis; int64_t d0, d1; } fl[] = {
        {0, 1, 6}, {1, 2, 3}, {2, 2, 3}, {4, 6, 1}, {-1, 6, 1}, {-4, 1, 6}};
    for (int i = 0; i < 6; i++) {
        optest_init(&T, "Flatten", 13, 1, 1);
        optest_attr_int(&T, "axis", fl[i].axis);
        lcv_status st = run1(&T, 1, (lcv_tensor *[]){x}, &o);
        CHECK_OUT(st, o, LCV_DTYPE_UINT8, 2, DIMS(fl[i].d0, fl[i].d1), 0, 1, 2, 3, 4, 5);
        lcv_tensor_free(o);
        optest_free(&T);
    }
    optest_init(&T, "Flatten", 13, 1, 1);
    optest_attr_int(&T, "axis", 5);
    CHECK_FAILS(run1(&T, 1, (lcv_tensor *[]){x}, &o));
    lcv_tensor_free(o);
    optest_free(&T);

    /* Squeeze: all unit dims, attribute axes (opset 11), input axes (13, negative) */
    optest_init(&T, "Squeeze", 13, 1, 1);
    lcv_status st = run1(&T, 1, (lcv_tensor *[]){x}, &o);
    CHECK(st == LCV_OK && same_shape(o, LCV_DTYPE_UINT8, 2, DIMS(2, 3)));
    lcv_tensor_free(o);
    optest_free(&T);
    optest_init(&T, "Squeeze", 11, 1, 1);
    optest_attr_ints(&T, "axes", 1, DIMS(-1));
    st = run1(&T, 1, (lcv_tensor *[]){x}, &o);
    CHECK(st == LCV_OK && same_shape(o, LCV_DTYPE_UINT8, 3, DIMS(2, 1, 3)));
    lcv_tensor_free(o);
    optest_free(&T);
    static const int64_t sq_bad[][2] = {{0, 1}, {1, 1}, {1, 4}};
    lcv_tensor *a = ints(2, DIMS(3, -3));
    optest_init(&T, "Squeeze", 13, 2, 1);
    st = run1(&T, 2, (lcv_tensor *[]){x, a}, &o);
    CHECK_OUT(st, o, LCV_DTYPE_UINT8, 2, DIMS(2, 3), 0, 1, 2, 3, 4, 5);
    lcv_tensor_free(o);
    lcv_tensor_free(a);
    for (int i = 0; i < 3; i++) { /* not size 1, twice, out of range */
        a = ints(2, sq_bad[i]);
        CHECK_FAILS(run1(&T, 2, (lcv_tensor *[]){x, a}, &o));
        lcv_tensor_free(o);
        lcv_tensor_free(a);
    }
    optest_free(&T);

    /* Unsqueeze: unsorted and negative axes; duplicates, range and rank limit fail */
    lcv_tensor *y = ten(LCV_DTYPE_FLOAT64, 2, DIMS(2, 3), V24);
    optest_init(&T, "Unsqueeze", 13, 2, 1);
    a = ints(2, DIMS(-1, 0));
    st = run1(&T, 2, (lcv_tensor *[]){y, a}, &o);
    CHECK_OUT(st, o, LCV_DTYPE_FLOAT64, 4, DIMS(1, 2, 3, 1), 0, 1, 2, 3, 4, 5);
    lcv_tensor_free(o);
    lcv_tensor_free(a);
    static const int64_t un_bad[][7] = {{1, 1}, {4, 0}, {0, 1, 2, 3, 4, 5, 6}};
    static const int un_n[] = {2, 2, 7};
    for (int i = 0; i < 3; i++) {
        a = ints(un_n[i], un_bad[i]);
        CHECK_FAILS(run1(&T, 2, (lcv_tensor *[]){y, a}, &o));
        lcv_tensor_free(o);
        lcv_tensor_free(a);
    }
    optest_free(&T);
    optest_init(&T, "Unsqueeze", 11, 1, 1);
    optest_attr_ints(&T, "axes", 2, DIMS(1, 3));
    st = run1(&T, 1, (lcv_tensor *[]){y}, &o);
    CHECK(st == LCV_OK && same_shape(o, LCV_DTYPE_FLOAT64, 4, DIMS(2, 1, 3, 1)));
    lcv_tensor_free(o);
    optest_free(&T);
    optest_init(&T, "Unsqueeze", 11, 1, 1); /* axes required */
    CHECK_FAILS(run1(&T, 1, (lcv_tensor *[]){y}, &o));
    lcv_tensor_free(o);
    optest_free(&T);
    lcv_tensor_free(y);
    lcv_tensor_free(x);
}

static void test_shape_size(void) {
    optest T;
    lcv_tensor *o, *x = ten(LCV_DTYPE_BOOL, 4, DIMS(2, 3, 4, 5), NULL);
    static const struct { int has_s, has_e; int64_t s, e, n, v[4]; } cases[] = {
        {0, 0, 0, 0, 4, {2, 3, 4, 5}}, {1, 0, -1, 0, 1, {5}},   {0, 1, 0, -1, 3, {2, 3, 4}},
        {1, 1, -10, 10, 4, {2, 3, 4, 5}}, {1, 1, 3, 1, 0, {0}}, {1, 0, 10, 0, 0, {0}}};
    for (int i = 0; i < 6; i++) {
        optest_init(&T, "Shape", 15, 1, 1);
        if (cases[i].has_s) optest_attr_int(&T, "start", cases[i].s);
        if (cases[i].has_e) optest_attr_int(&T, "end", cases[i].e);
        lcv_status st = run1(&T, 1, (lcv_tensor *[]){x}, &o);
        CHECK(st == LCV_OK && same_shape(o, LCV_DTYPE_INT64, 1, DIMS(cases[i].n)));
        CHECK(st == LCV_OK && same_ints(o, cases[i].n, cases[i].v));
        lcv_tensor_free(o);
        optest_free(&T);
    }
    optest_init(&T, "Size", 13, 1, 1);
    lcv_status st = run1(&T, 1, (lcv_tensor *[]){x}, &o);
    CHECK(st == LCV_OK && same_shape(o, LCV_DTYPE_INT64, 0, NULL) &&
          same_ints(o, 1, DIMS(120)));
    lcv_tensor_free(o);
    optest_free(&T);
    lcv_tensor_free(x);
}

static void test_constant(void) {
    optest T;
    lcv_tensor *o;
    optest_init(&T, "Constant", 13, 0, 1);
    optest_attr_floats(&T, "value_floats", 3, (const float[]){1.5f, -2, 3});
    lcv_status st = run1(&T, 0, NULL, &o);
    CHECK_OUT(st, o, LCV_DTYPE_FLOAT32, 1, DIMS(3), 1.5, -2, 3);
    lcv_tensor_free(o);
    optest_free(&T);

    optest_init(&T, "Constant", 13, 0, 1);
    optest_attr_int(&T, "value_int", -7);
    st = run1(&T, 0, NULL, &o);
    CHECK_OUT(st, o, LCV_DTYPE_INT64, 0, NULL, -7);
    lcv_tensor_free(o);
    optest_free(&T);

    optest_init(&T, "Constant", 13, 0, 1);
    lcv_attr *a;
    lcv_node_add_attr(T.node, "value", &a, &T.err);
    a->type = LCV_ATTR_TENSOR;
    a->t = ten(LCV_DTYPE_INT8, 2, DIMS(2, 2), VALS(1, -2, 3, -4));
    st = run1(&T, 0, NULL, &o);
    CHECK_OUT(st, o, LCV_DTYPE_INT8, 2, DIMS(2, 2), 1, -2, 3, -4);
    lcv_tensor_free(o);
    optest_attr_float(&T, "value_float", 1); /* now two value attributes */
    CHECK_FAILS(run1(&T, 0, NULL, &o));
    lcv_tensor_free(o);
    optest_free(&T);

    static const char *const refused[] = {"value_string", "sparse_value", NULL};
    for (int i = 0; i < 3; i++) {
        optest_init(&T, "Constant", 13, 0, 1);
        if (refused[i] && i == 0) optest_attr_str(&T, refused[i], "hello");
        if (refused[i] && i == 1) {
            lcv_node_add_attr(T.node, refused[i], &a, &T.err);
            a->type = LCV_ATTR_SPARSE_TENSOR;
        }
        CHECK_FAILS(st = run1(&T, 0, NULL, &o));
        if (i < 2) CHECK(st == LCV_ERR_UNSUPPORTED);
        lcv_tensor_free(o);
        optest_free(&T);
    }

    /* ConstantOfShape: default float 0, a typed value, an empty shape, negative dims */
    lcv_tensor *s = ints(2, DIMS(2, 3));
    optest_init(&T, "ConstantOfShape", 9, 1, 1);
    st = run1(&T, 1, (lcv_tensor *[]){s}, &o);
    CHECK_OUT(st, o, LCV_DTYPE_FLOAT32, 2, DIMS(2, 3), 0, 0, 0, 0, 0, 0);
    lcv_tensor_free(o);
    lcv_node_add_attr(T.node, "value", &a, &T.err);
    a->type = LCV_ATTR_TENSOR;
    a->t = ten(LCV_DTYPE_INT32, 1, DIMS(1), VALS(7));
    st = run1(&T, 1, (lcv_tensor *[]){s}, &o);
    CHECK_OUT(st, o, LCV_DTYPE_INT32, 2, DIMS(2, 3), 7, 7, 7, 7, 7, 7);
    lcv_tensor_free(o);
    lcv_tensor_free(s);
    s = ints(0, NULL);
    st = run1(&T, 1, (lcv_tensor *[]){s}, &o);
    CHECK_OUT(st, o, LCV_DTYPE_INT32, 0, NULL, 7);
    lcv_tensor_free(o);
    lcv_tensor_free(s);
    s = ints(2, DIMS(2, -1));
    CHECK_FAILS(run1(&T, 1, (lcv_tensor *[]){s}, &o));
    lcv_tensor_free(o);
    lcv_tensor_free(s);
    optest_free(&T);
}

static lcv_status run_range(optest *T, lcv_dtype d, double s, double l, double dl,
                            lcv_tensor **o) {
    lcv_tensor *in[3] = {ten(d, 0, NULL, &s), ten(d, 0, NULL, &l), ten(d, 0, NULL, &dl)};
    lcv_status st = run1(T, 3, in, o);
    free_all(3, in);
    return st;
}

static void test_range(void) {
    optest T;
    lcv_tensor *o;
    optest_init(&T, "Range", 11, 3, 1);
    lcv_status st = run_range(&T, LCV_DTYPE_INT32, 10, 4, -3, &o);
    CHECK_OUT(st, o, LCV_DTYPE_INT32, 1, DIMS(2), 10, 7);
    lcv_tensor_free(o);
    st = run_range(&T, LCV_DTYPE_FLOAT32, 1, 2, 0.25, &o);
    CHECK_OUT(st, o, LCV_DTYPE_FLOAT32, 1, DIMS(4), 1, 1.25, 1.5, 1.75);
    lcv_tensor_free(o);
    st = run_range(&T, LCV_DTYPE_UINT8, 1, 1, 1, &o); /* empty */
    CHECK(st == LCV_OK && same_shape(o, LCV_DTYPE_UINT8, 1, DIMS(0)));
    lcv_tensor_free(o);
    st = run_range(&T, LCV_DTYPE_INT16, 0, 10, -1, &o); /* wrong direction: empty */
    CHECK(st == LCV_OK && same_shape(o, LCV_DTYPE_INT16, 1, DIMS(0)));
    lcv_tensor_free(o);

    /* int64 extremes: the distance 2^64-1 does not overflow */
    lcv_tensor *in[3] = {ints(1, DIMS(INT64_MIN)), ints(1, DIMS(INT64_MAX)),
                         ints(1, DIMS(INT64_MAX))};
    for (int i = 0; i < 3; i++) in[i]->ndim = 0;
    st = run1(&T, 3, in, &o);
    CHECK(st == LCV_OK && same_ints(o, 3, DIMS(INT64_MIN, -1, INT64_MAX - 1)));
    lcv_tensor_free(o);
    ((int64_t *)in[2]->data)[0] = 1; /* 2^64 elements */
    CHECK_FAILS(run1(&T, 3, in, &o));
    lcv_tensor_free(o);
    free_all(3, in);

    CHECK_FAILS(run_range(&T, LCV_DTYPE_FLOAT32, 0, 1e12, 1, &o)); /* beyond the count limit */
    lcv_tensor_free(o);
    CHECK_FAILS(run_range(&T, LCV_DTYPE_INT32, 0, 5, 0, &o));
    lcv_tensor_free(o);
    CHECK_FAILS(run_range(&T, LCV_DTYPE_FLOAT64, 0, INFINITY, 1, &o));
    lcv_tensor_free(o);
    CHECK_FAILS(run_range(&T, LCV_DTYPE_BOOL, 0, 1, 1, &o));
    lcv_tensor_free(o);
    lcv_tensor *mixed[3] = {ten(LCV_DTYPE_INT32, 0, NULL, VALS(0)),
                            ten(LCV_DTYPE_INT64, 0, NULL, VALS(4)),
                            ten(LCV_DTYPE_INT32, 0, NULL, VALS(1))};
    CHECK_FAILS(run1(&T, 3, mixed, &o));
    lcv_tensor_free(o);
    free_all(3, mixed);
    optest_free(&T);
}

static void test_eyelike(void) {
    optest T;
    lcv_tensor *o, *x = ten(LCV_DTYPE_FLOAT32, 2, DIMS(3, 4), NULL);
    optest_init(&T, "EyeLike", 9, 1, 1);
    optest_attr_int(&T, "k", 1);
    optest_attr_int(&T, "dtype", LCV_DTYPE_INT32);
    lcv_status st = run1(&T, 1, (lcv_tensor *[]){x}, &o);
    CHECK_OUT(st, o, LCV_DTYPE_INT32, 2, DIMS(3, 4), 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1);
    lcv_tensor_free(o);
    optest_free(&T);
    optest_init(&T, "EyeLike", 9, 1, 1);
    optest_attr_int(&T, "k", -2);
    st = run1(&T, 1, (lcv_tensor *[]){x}, &o);
    CHECK_OUT(st, o, LCV_DTYPE_FLOAT32, 2, DIMS(3, 4), 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0);
    lcv_tensor_free(o);
    optest_free(&T);
    optest_init(&T, "EyeLike", 9, 1, 1);
    optest_attr_int(&T, "k", INT64_MIN);
    optest_attr_int(&T, "dtype", LCV_DTYPE_FLOAT16);
    st = run1(&T, 1, (lcv_tensor *[]){x}, &o);
    CHECK_OUT(st, o, LCV_DTYPE_FLOAT16, 2, DIMS(3, 4), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    lcv_tensor_free(o);
    optest_free(&T);
    optest_init(&T, "EyeLike", 9, 1, 1);
    optest_attr_int(&T, "dtype", LCV_DTYPE_STRING);
    CHECK_FAILS(run1(&T, 1, (lcv_tensor *[]){x}, &o));
    lcv_tensor_free(o);
    optest_free(&T);
    lcv_tensor_free(x);
    x = ten(LCV_DTYPE_FLOAT32, 3, DIMS(1, 3, 4), NULL);
    optest_init(&T, "EyeLike", 9, 1, 1);
    CHECK_FAILS(run1(&T, 1, (lcv_tensor *[]){x}, &o));
    lcv_tensor_free(o);
    optest_free(&T);
    lcv_tensor_free(x);
}

int main(void) {
    test_reshape();
    test_flatten_squeeze();
    test_shape_size();
    test_constant();
    test_range();
    test_eyelike();
    return lcv_test_finish("ops_shape");
}
