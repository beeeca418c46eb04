/* test_layout.c - cases for the layout ops (Transpose, Concat, Split, Slice, Expand, Tile, Pad,
 * DepthToSpace, SpaceToDepth, Trilu, ReverseSequence): hand-computed small cases, larger
 * randomised shapes against naive index-math references, and bad inputs that must fail. */
#include "shape_test_util.h"

static const double V24[24] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23};

/* Naive transpose of a float tensor by per-element index math. */
static void ref_transpose(const lcv_tensor *x, const int *perm, double *out) {
    int64_t st[LCV_MAX_DIMS], od[LCV_MAX_DIMS], n = lcv_tensor_numel(x);
    lcv_shape_strides(x->ndim, x->dims, st);
    for (int k = 0; k < x->ndim; k++) od[k] = x->dims[perm[k]];
    for (int64_t i = 0; i < n; i++) {
        int64_t rem = i, src = 0;
        for (int k = x->ndim - 1; k >= 0; k--) {
            src += (rem % od[k]) * st[perm[k]];
            rem /= od[k];
        }
        out[i] = lcv_load_f64(x->dtype, x->data, src);
    }
}

static void test_transpose(void) {
    optest T;
    lcv_tensor *o, *x = ten(LCV_DTYPE_INT8, 3, DIMS(2, 3, 4), V24);
    optest_init(&T, "Transpose", 13, 1, 1);
    lcv_status st = run1(&T, 1, (lcv_tensor *[]){x}, &o);
    CHECK_OUT(st, o, LCV_DTYPE_INT8, 3, DIMS(4, 3, 2), 0, 12, 4, 16, 8, 20, 1, 13, 5, 17, 9, 21,
              2, 14, 6, 18, 10, 22, 3, 15, 7, 19, 11, 23);
    lcv_tensor_free(o);
    optest_free(&T);
    static const int64_t bad[][3] = {{0, 1, 1}, {0, 1, 3}, {0, 1, -1}};
    for (int i = 0; i < 4; i++) {
        optest_init(&T, "Transpose", 13, 1, 1);
        optest_attr_ints(&T, "perm", i < 3 ? 3 : 2, i < 3 ? bad[i] : DIMS(1, 0));
        CHECK_FAILS(run1(&T, 1, (lcv_tensor *[]){x}, &o));
        lcv_tensor_free(o);
        optest_free(&T);
    }
    lcv_tensor_free(x);

    /* Larger shapes exercise the tiled path and axis merging, for several element sizes. */
    static const int64_t shapes[][4] = {{1, 37, 50, 3}, {2, 64, 33, 5}, {3, 1, 70, 41}};
    static const int perms[][4] = {{0, 3, 1, 2}, {0, 2, 3, 1}, {3, 2, 1, 0}, {1, 0, 2, 3}};
    static const lcv_dtype types[] = {LCV_DTYPE_FLOAT32, LCV_DTYPE_UINT8, LCV_DTYPE_FLOAT64,
                                      LCV_DTYPE_INT16};
    for (int s = 0; s < 3; s++)
        for (int p = 0; p < 4; p++) {
            int64_t n;
            lcv_shape_numel(4, shapes[s], &n);
            double *vals = malloc(sizeof(double) * (size_t)n);
            double *ref = malloc(sizeof(double) * (size_t)n);
            for (int64_t i = 0; i < n; i++) vals[i] = (double)((i * 7919) % 251);
            x = ten(types[p], 4, shapes[s], vals);
            ref_transpose(x, perms[p], ref);
            optest_init(&T, "Transpose", 13, 1, 1);
            optest_attr_ints(&T, "perm", 4, (const int64_t[]){perms[p][0], perms[p][1],
                                                               perms[p][2], perms[p][3]});
            st = run1(&T, 1, (lcv_tensor *[]){x}, &o);
            CHECK_MSG(st == LCV_OK && optest_close(o, ref, n, 0, 0), "shape %d perm %d", s, p);
            lcv_tensor_free(o);
            optest_free(&T);
            lcv_tensor_free(x);
            free(vals);
            free(ref);
        }
}

static void test_concat_split(void) {
    optest T;
    lcv_tensor *o;
    lcv_tensor *a = ten(LCV_DTYPE_FLOAT16, 3, DIMS(2, 1, 2), VALS(0, 1, 2, 3));
    lcv_tensor *b = ten(LCV_DTYPE_FLOAT16, 3, DIMS(2, 2, 2), VALS(10, 11, 12, 13, 14, 15, 16, 17));
    lcv_tensor *e = ten(LCV_DTYPE_FLOAT16, 3, DIMS(2, 0, 2), NULL);
    optest_init(&T, "Concat", 13, 3, 1);
    optest_attr_int(&T, "axis", -2);
    lcv_status st = run1(&T, 3, (lcv_tensor *[]){a, e, b}, &o);
    CHECK_OUT(st, o, LCV_DTYPE_FLOAT16, 3, DIMS(2, 3, 2), 0, 1, 10, 11, 12, 13, 2, 3, 14, 15,
              16, 17);
    lcv_tensor_free(o);
    optest_free(&T);
    optest_init(&T, "Concat", 13, 2, 1); /* shapes differ off the axis */
    optest_attr_int(&T, "axis", 0);
    CHECK_FAILS(run1(&T, 2, (lcv_tensor *[]){a, b}, &o));
    lcv_tensor_free(o);
    optest_free(&T);
    optest_init(&T, "Concat", 13, 2, 1); /* axis required */
    CHECK_FAILS(run1(&T, 2, (lcv_tensor *[]){a, b}, &o));
    lcv_tensor_free(o);
    optest_free(&T);
    lcv_tensor *f = ten(LCV_DTYPE_FLOAT32, 3, DIMS(2, 2, 2), NULL);
    optest_init(&T, "Concat", 13, 2, 1); /* dtypes differ */
    optest_attr_int(&T, "axis", 1);
    CHECK_FAILS(run1(&T, 2, (lcv_tensor *[]){a, f}, &o));
    lcv_tensor_free(o);
    optest_free(&T);
    lcv_tensor_free(f);

    /* Split of b [2,2,2] along axis 2 with every source of piece sizes */
    lcv_tensor *outs[3];
    int64_t z = 0;
    for (int i = 0; i < 3; i++) lcv_tensor_create(LCV_DTYPE_FLOAT32, 1, &z, &outs[i]);
    optest_init(&T, "Split", 11, 1, 2);
    optest_attr_int(&T, "axis", -1);
    optest_attr_ints(&T, "split", 2, DIMS(0, 2));
    st = optest_run(&T, 1, (const lcv_tensor *[]){b}, 2, outs);
    CHECK(st == LCV_OK && same_shape(outs[0], LCV_DTYPE_FLOAT16, 3, DIMS(2, 2, 0)));
    CHECK(st == LCV_OK && optest_close(outs[1], VALS(10, 11, 12, 13, 14, 15, 16, 17), 8, 0, 0));
    optest_free(&T);
    optest_init(&T, "Split", 13, 1, 2); /* equal split, axis 1 */
    optest_attr_int(&T, "axis", 1);
    st = optest_run(&T, 1, (const lcv_tensor *[]){b}, 2, outs);
    CHECK(st == LCV_OK && optest_close(outs[0], VALS(10, 11, 14, 15), 4, 0, 0));
    CHECK(st == LCV_OK && optest_close(outs[1], VALS(12, 13, 16, 17), 4, 0, 0));
    optest_free(&T);
    lcv_tensor *x7 = ten(LCV_DTYPE_INT32, 1, DIMS(7), V24);
    optest_init(&T, "Split", 18, 1, 3); /* num_outputs with a short last chunk */
    optest_attr_int(&T, "num_outputs", 3);
    st = optest_run(&T, 1, (const lcv_tensor *[]){x7}, 3, outs);
    CHECK(st == LCV_OK && optest_close(outs[0], VALS(0, 1, 2), 3, 0, 0));
    CHECK(st == LCV_OK && optest_close(outs[1], VALS(3, 4, 5), 3, 0, 0));
    CHECK(st == LCV_OK && optest_close(outs[2], VALS(6), 1, 0, 0));
    optest_free(&T);
    optest_init(&T, "Split", 13, 2, 2); /* split input */
    lcv_tensor *sp = ints(2, DIMS(5, 2));
    st = optest_run(&T, 2, (const lcv_tensor *[]){x7, sp}, 2, outs);
    CHECK(st == LCV_OK && optest_close(outs[1], VALS(5, 6), 2, 0, 0));
    lcv_tensor_free(sp);
    static const int64_t bad[][2] = {{5, 1}, {8, -1}, {3, 3}};
    for (int i = 0; i < 3; i++) { /* wrong sum, negative, wrong sum */
        sp = ints(2, bad[i]);
        CHECK_FAILS(optest_run(&T, 2, (const lcv_tensor *[]){x7, sp}, 2, outs));
        lcv_tensor_free(sp);
    }
    sp = ints(3, DIMS(3, 3, 1)); /* three sizes for two outputs */
    CHECK_FAILS(optest_run(&T, 2, (const lcv_tensor *[]){x7, sp}, 2, outs));
    lcv_tensor_free(sp);
    optest_free(&T);
    optest_init(&T, "Split", 13, 1, 3); /* 7 does not split evenly in 3 */
    CHECK_FAILS(optest_run(&T, 1, (const lcv_tensor *[]){x7}, 3, outs));
    optest_free(&T);
    free_all(3, outs);
    lcv_tensor_free(x7);
    lcv_tensor_free(a);
    lcv_tensor_free(b);
    lcv_tensor_free(e);
}

static lcv_status run_slice(optest *T, lcv_tensor *x, int n, const int64_t *s, const int64_t *e,
                            const int64_t *ax, const int64_t *sp, lcv_tensor **o) {
    lcv_tensor *in[5] = {x, ints(n, s), ints(n, e), ax ? ints(n, ax) : NULL,
                         sp ? ints(n, sp) : NULL};
    lcv_status st = run1(T, 5, in, o);
    free_all(4, in + 1);
    return st;
}

static void test_slice(void) {
    optest T;
    lcv_tensor *o, *x = ten(LCV_DTYPE_FLOAT32, 2, DIMS(4, 6), V24);
    optest_init(&T, "Slice", 13, 5, 1);
    lcv_status st = run_slice(&T, x, 2, DIMS(1, 0), DIMS(3, 10), NULL, NULL, &o);
    CHECK_OUT(st, o, LCV_DTYPE_FLOAT32, 2, DIMS(2, 6), 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
              17);
    lcv_tensor_free(o);
    /* negative steps with sentinels: rows reversed, every second column from the end */
    st = run_slice(&T, x, 2, DIMS(-1, INT64_MAX), DIMS(INT64_MIN, -7), DIMS(0, -1), DIMS(-1, -2),
                   &o);
    CHECK_OUT(st, o, LCV_DTYPE_FLOAT32, 2, DIMS(4, 3), 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    lcv_tensor_free(o);
    st = run_slice(&T, x, 1, DIMS(1), DIMS(100), DIMS(1), DIMS(INT64_MAX), &o);
    CHECK_OUT(st, o, LCV_DTYPE_FLOAT32, 2, DIMS(4, 1), 1, 7, 13, 19);
    lcv_tensor_free(o);
    st = run_slice(&T, x, 1, DIMS(0), DIMS(6), DIMS(1), DIMS(INT64_MIN), &o); /* empty */
    CHECK(st == LCV_OK && same_shape(o, LCV_DTYPE_FLOAT32, 2, DIMS(4, 0)));
    lcv_tensor_free(o);
    st = run_slice(&T, x, 1, DIMS(5), DIMS(2), DIMS(0), NULL, &o); /* start past end: empty */
    CHECK(st == LCV_OK && same_shape(o, LCV_DTYPE_FLOAT32, 2, DIMS(0, 6)));
    lcv_tensor_free(o);
    CHECK_FAILS(run_slice(&T, x, 1, DIMS(0), DIMS(2), DIMS(0), DIMS(0), &o)); /* step 0 */
    lcv_tensor_free(o);
    CHECK_FAILS(run_slice(&T, x, 2, DIMS(0, 0), DIMS(2, 2), DIMS(1, -1), NULL, &o)); /* dup */
    lcv_tensor_free(o);
    CHECK_FAILS(run_slice(&T, x, 1, DIMS(0), DIMS(2), DIMS(2), NULL, &o)); /* axis range */
    lcv_tensor_free(o);
    lcv_tensor *in[3] = {x, ints(2, DIMS(0, 0)), ints(1, DIMS(1))}; /* length mismatch */
    CHECK_FAILS(run1(&T, 3, in, &o));
    lcv_tensor_free(o);
    free_all(2, in + 1);
    optest_free(&T);

    optest_init(&T, "Slice", 9, 1, 1); /* attribute form */
    optest_attr_ints(&T, "starts", 1, DIMS(-2));
    optest_attr_ints(&T, "ends", 1, DIMS(INT64_MAX));
    optest_attr_ints(&T, "axes", 1, DIMS(1));
    st = run1(&T, 1, (lcv_tensor *[]){x}, &o);
    CHECK_OUT(st, o, LCV_DTYPE_FLOAT32, 2, DIMS(4, 2), 4, 5, 10, 11, 16, 17, 22, 23);
    lcv_tensor_free(o);
    optest_free(&T);

    /* starts without data defers */
    lcv_tensor ls;
    lcv_tensor_init(&ls);
    ls.dtype = LCV_DTYPE_INT64;
    ls.ndim = 1;
    ls.dims[0] = 1;
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 0, NULL, &o);
    optest_init(&T, "Slice", 13, 3, 1);
    CHECK(infer_only(&T, 3, (const lcv_tensor *[]){x, &ls, &ls}, o) == LCV_DEFERRED);
    optest_free(&T);
    lcv_tensor_free(o);
    lcv_tensor_free(x);
}

static void test_expand_tile(void) {
    optest T;
    lcv_tensor *o, *x = ten(LCV_DTYPE_UINT16, 2, DIMS(3, 1), VALS(1, 2, 3));
    lcv_tensor *s = ints(3, DIMS(2, 1, 2));
    optest_init(&T, "Expand", 13, 2, 1);
    lcv_status st = run1(&T, 2, (lcv_tensor *[]){x, s}, &o);
    CHECK_OUT(st, o, LCV_DTYPE_UINT16, 3, DIMS(2, 3, 2), 1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3);
    lcv_tensor_free(o);
    lcv_tensor_free(s);
    s = ints(1, DIMS(1)); /* smaller target keeps the input shape */
    st = run1(&T, 2, (lcv_tensor *[]){x, s}, &o);
    CHECK_OUT(st, o, LCV_DTYPE_UINT16, 2, DIMS(3, 1), 1, 2, 3);
    lcv_tensor_free(o);
    lcv_tensor_free(s);
    static const int64_t bad[][2] = {{2, 2}, {-1, 1}};
    for (int i = 0; i < 2; i++) {
        s = ints(2, bad[i]);
        CHECK_FAILS(run1(&T, 2, (lcv_tensor *[]){x, s}, &o));
        lcv_tensor_free(o);
        lcv_tensor_free(s);
    }
    optest_free(&T);

    lcv_tensor *y = ten(LCV_DTYPE_FLOAT64, 2, DIMS(2, 2), VALS(1, 2, 3, 4));
    optest_init(&T, "Tile", 13, 2, 1);
    s = ints(2, DIMS(2, 3));
    st = run1(&T, 2, (lcv_tensor *[]){y, s}, &o);
    CHECK_OUT(st, o, LCV_DTYPE_FLOAT64, 2, DIMS(4, 6), 1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4, 1, 2,
              1, 2, 1, 2, 3, 4, 3, 4, 3, 4);
    lcv_tensor_free(o);
    lcv_tensor_free(s);
    s = ints(2, DIMS(0, 1));
    st = run1(&T, 2, (lcv_tensor *[]){y, s}, &o);
    CHECK(st == LCV_OK && same_shape(o, LCV_DTYPE_FLOAT64, 2, DIMS(0, 2)));
    lcv_tensor_free(o);
    lcv_tensor_free(s);
    static const int64_t tbad[][2] = {{1, -1}, {INT64_MAX, 1}, {((int64_t)1 << 40), 1 << 30}};
    for (int i = 0; i < 3; i++) {
        s = ints(2, tbad[i]);
        CHECK_FAILS(run1(&T, 2, (lcv_tensor *[]){y, s}, &o));
        lcv_tensor_free(o);
        lcv_tensor_free(s);
    }
    s = ints(1, DIMS(2)); /* wrong length */
    CHECK_FAILS(run1(&T, 2, (lcv_tensor *[]){y, s}, &o));
    lcv_tensor_free(o);
    lcv_tensor_free(s);
    optest_free(&T);
    lcv_tensor_free(y);
    lcv_tensor_free(x);
}

static void test_pad(void) {
    optest T;
    lcv_tensor *o, *x = ten(LCV_DTYPE_INT32, 2, DIMS(2, 3), VALS(1, 2, 3, 4, 5, 6));
    lcv_tensor *p = ints(4, DIMS(1, -1, 0, 2));
    lcv_tensor *cv = ten(LCV_DTYPE_INT32, 0, NULL, VALS(9));
    optest_init(&T, "Pad", 13, 3, 1);
    lcv_status st = run1(&T, 3, (lcv_tensor *[]){x, p, cv}, &o);
    CHECK_OUT(st, o, LCV_DTYPE_INT32, 2, DIMS(3, 4), 9, 9, 9, 9, 2, 3, 9, 9, 5, 6, 9, 9);
    lcv_tensor_free(o);
    optest_free(&T);
    optest_init(&T, "Pad", 13, 2, 1);
    optest_attr_str(&T, "mode", "reflect");
    lcv_tensor *p2 = ints(4, DIMS(0, 4, 0, 1));
    st = run1(&T, 2, (lcv_tensor *[]){x, p2}, &o);
    CHECK_OUT(st, o, LCV_DTYPE_INT32, 2, DIMS(2, 8), 1, 2, 3, 2, 1, 2, 3, 2, 4, 5, 6, 5, 4, 5,
              6, 5);
    lcv_tensor_free(o);
    optest_free(&T);
    optest_init(&T, "Pad", 13, 2, 1);
    optest_attr_str(&T, "mode", "edge");
    lcv_tensor *p3 = ints(4, DIMS(1, 1, 0, 0));
    st = run1(&T, 2, (lcv_tensor *[]){x, p3}, &o);
    CHECK_OUT(st, o, LCV_DTYPE_INT32, 2, DIMS(3, 4), 1, 1, 2, 3, 1, 1, 2, 3, 4, 4, 5, 6);
    lcv_tensor_free(o);
    optest_free(&T);
    optest_init(&T, "Pad", 18, 4, 1); /* axes input, constant_value omitted */
    lcv_tensor *ax = ints(1, DIMS(-1)), *p4 = ints(2, DIMS(1, 0));
    st = run1(&T, 4, (lcv_tensor *[]){x, p4, NULL, ax}, &o);
    CHECK_OUT(st, o, LCV_DTYPE_INT32, 2, DIMS(2, 4), 0, 1, 2, 3, 0, 4, 5, 6);
    lcv_tensor_free(o);
    optest_free(&T);
    optest_init(&T, "Pad", 2, 1, 1); /* attribute form with a float value */
    optest_attr_ints(&T, "pads", 4, DIMS(0, 0, 1, 0));
    optest_attr_float(&T, "value", 1.5f);
    lcv_tensor *xf = ten(LCV_DTYPE_FLOAT32, 2, DIMS(1, 2), VALS(7, 8));
    st = run1(&T, 1, (lcv_tensor *[]){xf}, &o);
    CHECK_OUT(st, o, LCV_DTYPE_FLOAT32, 2, DIMS(2, 2), 7, 8, 1.5, 1.5);
    lcv_tensor_free(o);
    optest_free(&T);

    /* bad: length, crop below zero, huge pads, unknown mode, value dtype, reflect empty */
    optest_init(&T, "Pad", 13, 3, 1);
    lcv_tensor *bads[] = {ints(3, DIMS(0, 0, 0)), ints(4, DIMS(-3, 0, 0, 0)),
                          ints(4, DIMS(INT64_MAX, 0, 0, 0))};
    for (int i = 0; i < 3; i++) {
        CHECK_FAILS(run1(&T, 2, (lcv_tensor *[]){x, bads[i]}, &o));
        lcv_tensor_free(o);
    }
    free_all(3, bads);
    CHECK_FAILS(run1(&T, 3, (lcv_tensor *[]){x, p, xf}, &o));
    lcv_tensor_free(o);
    optest_attr_str(&T, "mode", "wrap");
    CHECK_FAILS(run1(&T, 2, (lcv_tensor *[]){x, p}, &o));
    lcv_tensor_free(o);
    optest_free(&T);
    optest_init(&T, "Pad", 13, 2, 1);
    optest_attr_str(&T, "mode", "reflect");
    lcv_tensor *empty = ten(LCV_DTYPE_INT32, 2, DIMS(2, 0), NULL);
    CHECK_FAILS(run1(&T, 2, (lcv_tensor *[]){empty, p}, &o));
    lcv_tensor_free(o);
    optest_free(&T);
    lcv_tensor *all[] = {x, p, cv, p2, p3, ax, p4, xf, empty};
    free_all(9, all);
}

static void test_depth_space(void) {
    optest T;
    lcv_tensor *o, *o2;
    /* [1,8,1,1] -> [1,2,2,2]: DCR takes channel c + C' * (bh*2+bw), CRD takes c*4 + bh*2+bw */
    lcv_tensor *x = ten(LCV_DTYPE_FLOAT32, 4, DIMS(1, 8, 1, 1), V24);
    optest_init(&T, "DepthToSpace", 13, 1, 1);
    optest_attr_int(&T, "blocksize", 2);
    lcv_status st = run1(&T, 1, (lcv_tensor *[]){x}, &o);
    CHECK_OUT(st, o, LCV_DTYPE_FLOAT32, 4, DIMS(1, 2, 2, 2), 0, 2, 4, 6, 1, 3, 5, 7);
    lcv_tensor_free(o);
    optest_attr_str(&T, "mode", "CRD");
    st = run1(&T, 1, (lcv_tensor *[]){x}, &o);
    CHECK_OUT(st, o, LCV_DTYPE_FLOAT32, 4, DIMS(1, 2, 2, 2), 0, 1, 2, 3, 4, 5, 6, 7);
    lcv_tensor_free(o);
    optest_free(&T);
    lcv_tensor_free(x);

    /* SpaceToDepth undoes DCR DepthToSpace on a larger tensor */
    double vals[2 * 12 * 4 * 6];
    for (int i = 0; i < 2 * 12 * 4 * 6; i++) vals[i] = i;
    x = ten(LCV_DTYPE_INT64, 4, DIMS(2, 12, 4, 6), vals);
    optest_init(&T, "DepthToSpace", 13, 1, 1);
    optest_attr_int(&T, "blocksize", 2);
    st = run1(&T, 1, (lcv_tensor *[]){x}, &o);
    CHECK(st == LCV_OK && same_shape(o, LCV_DTYPE_INT64, 4, DIMS(2, 3, 8, 12)));
    optest_free(&T);
    optest_init(&T, "SpaceToDepth", 13, 1, 1);
    optest_attr_int(&T, "blocksize", 2);
    st = run1(&T, 1, (lcv_tensor *[]){o}, &o2);
    CHECK(st == LCV_OK && optest_close(o2, vals, 2 * 12 * 4 * 6, 0, 0));
    lcv_tensor_free(o2);
    lcv_tensor_free(o);
    lcv_tensor *odd = ten(LCV_DTYPE_INT64, 4, DIMS(1, 1, 3, 4), NULL);
    CHECK_FAILS(run1(&T, 1, (lcv_tensor *[]){odd}, &o)); /* 3 is not a multiple of 2 */
    lcv_tensor_free(o);
    lcv_tensor_free(odd);
    optest_free(&T);

    static const int64_t bsz[] = {5, 0, -1, (int64_t)1 << 40};
    for (int i = 0; i < 4; i++) {
        optest_init(&T, "DepthToSpace", 13, 1, 1);
        optest_attr_int(&T, "blocksize", bsz[i]);
        CHECK_FAILS(run1(&T, 1, (lcv_tensor *[]){x}, &o));
        lcv_tensor_free(o);
        optest_free(&T);
    }
    optest_init(&T, "DepthToSpace", 13, 1, 1); /* blocksize missing */
    CHECK_FAILS(run1(&T, 1, (lcv_tensor *[]){x}, &o));
    lcv_tensor_free(o);
    optest_free(&T);
    lcv_tensor_free(x);
}

static void test_trilu_revseq(void) {
    optest T;
    lcv_tensor *o, *x = ten(LCV_DTYPE_BOOL, 3, DIMS(2, 2, 3), VALS(1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                                                   1, 1));
    optest_init(&T, "Trilu", 14, 1, 1);
    lcv_status st = run1(&T, 1, (lcv_tensor *[]){x}, &o);
    CHECK_OUT(st, o, LCV_DTYPE_BOOL, 3, DIMS(2, 2, 3), 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1);
    lcv_tensor_free(o);
    optest_attr_int(&T, "upper", 0);
    lcv_tensor *k = ints(1, DIMS(-1));
    st = run1(&T, 2, (lcv_tensor *[]){x, k}, &o);
    CHECK_OUT(st, o, LCV_DTYPE_BOOL, 3, DIMS(2, 2, 3), 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0);
    lcv_tensor_free(o);
    ((int64_t *)k->data)[0] = INT64_MAX;
    st = run1(&T, 2, (lcv_tensor *[]){x, k}, &o);
    CHECK_OUT(st, o, LCV_DTYPE_BOOL, 3, DIMS(2, 2, 3), 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1);
    lcv_tensor_free(o);
    lcv_tensor_free(k);
    k = ints(2, DIMS(1, 2));
    CHECK_FAILS(run1(&T, 2, (lcv_tensor *[]){x, k}, &o));
    lcv_tensor_free(o);
    lcv_tensor_free(k);
    optest_free(&T);
    lcv_tensor_free(x);

    /* ReverseSequence, time-major [T=3, B=2, 2] */
    x = ten(LCV_DTYPE_FLOAT32, 3, DIMS(3, 2, 2), V24);
    lcv_tensor *lens = ints(2, DIMS(3, 1));
    optest_init(&T, "ReverseSequence", 10, 2, 1);
    st = run1(&T, 2, (lcv_tensor *[]){x, lens}, &o);
    CHECK_OUT(st, o, LCV_DTYPE_FLOAT32, 3, DIMS(3, 2, 2), 8, 9, 2, 3, 4, 5, 6, 7, 0, 1, 10, 11);
    lcv_tensor_free(o);
    optest_free(&T);
    optest_init(&T, "ReverseSequence", 10, 2, 1); /* batch-major [B=3, T=2, 2] */
    optest_attr_int(&T, "batch_axis", 0);
    optest_attr_int(&T, "time_axis", 1);
    lcv_tensor *l3 = ints(3, DIMS(2, 0, 1));
    st = run1(&T, 2, (lcv_tensor *[]){x, l3}, &o);
    CHECK_OUT(st, o, LCV_DTYPE_FLOAT32, 3, DIMS(3, 2, 2), 2, 3, 0, 1, 4, 5, 6, 7, 8, 9, 10, 11);
    lcv_tensor_free(o);
    CHECK_FAILS(run1(&T, 2, (lcv_tensor *[]){x, lens}, &o)); /* wrong length */
    lcv_tensor_free(o);
    ((int64_t *)l3->data)[1] = 3; /* longer than time */
    CHECK_FAILS(run1(&T, 2, (lcv_tensor *[]){x, l3}, &o));
    lcv_tensor_free(o);
    optest_free(&T);
    optest_init(&T, "ReverseSequence", 10, 2, 1);
    optest_attr_int(&T, "batch_axis", 0);
    CHECK_FAILS(run1(&T, 2, (lcv_tensor *[]){x, lens}, &o)); /* both axes 0 */
    lcv_tensor_free(o);
    optest_free(&T);
    lcv_tensor_free(l3);
    lcv_tensor_free(lens);
    lcv_tensor_free(x);
}

int main(void) {
    test_transpose();
    test_concat_split();
    test_slice();
    test_expand_tile();
    test_pad();
    test_depth_space();
    test_trilu_revseq();
    return lcv_test_finish("ops_layout");
}
