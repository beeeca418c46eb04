/* test_resize.c - Resize and Upsample: nearest/linear/cubic values from the ONNX backend cases
 * and hand computation, tf_crop_and_resize extrapolation, opset-18 axes/aspect policy/antialias,
 * the float32 2-D fast path against the generic path, and bad scales/sizes/attributes. */
#include <stdlib.h>

#include "op_case.h"

#define F32 LCV_DTYPE_FLOAT32
#define F64 LCV_DTYPE_FLOAT64

static const int64_t d4[] = {4}, x2x2[] = {1, 1, 2, 2};
static const double v1234[] = {1, 2, 3, 4};

/* Resize opset 13 with scales (input 2) or sizes (input 3). */
static void resize_begin(opcase *k, int opset, const char *mode, const char *ct) {
    case_begin(k, "Resize", opset, 4, 1);
    optest_attr_str(&k->t, "mode", mode);
    if (ct) optest_attr_str(&k->t, "coordinate_transformation_mode", ct);
}

static void test_nearest_linear(void) {
    opcase k;
    resize_begin(&k, 13, "nearest", NULL);
    case_in(&k, 0, F32, 4, x2x2, v1234);
    case_in(&k, 2, F32, 1, d4, (const double[]){1, 1, 2, 3});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(case_shape(&k, 0, 4, (const int64_t[]){1, 1, 4, 6}));
    CHECK(optest_close(k.out[0], (const double[]){1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2,
                                                  3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4}, 24, 0, 0));
    case_end(&k);

    resize_begin(&k, 13, "linear", NULL);
    case_in(&k, 0, F32, 4, x2x2, v1234);
    case_in(&k, 2, F32, 1, d4, (const double[]){1, 1, 2, 2});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(optest_close(k.out[0], (const double[]){1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5,
                                                  2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4},
                       16, 1e-6, 0));
    case_end(&k);

    resize_begin(&k, 13, "linear", "align_corners");
    case_in(&k, 0, F32, 4, x2x2, v1234);
    case_in(&k, 3, LCV_DTYPE_INT64, 1, d4, (const double[]){1, 1, 3, 3});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(optest_close(k.out[0], (const double[]){1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4}, 9, 1e-6, 0));
    case_end(&k);

    /* uint8 nearest with round_prefer_ceil/asymmetric: x = o / 2 -> 0, 1(0.5 up), 1, 2(1.5 up)
     * clamped to 1 */
    resize_begin(&k, 13, "nearest", "asymmetric");
    optest_attr_str(&k.t, "nearest_mode", "round_prefer_ceil");
    case_in(&k, 0, LCV_DTYPE_UINT8, 1, (const int64_t[]){2}, (const double[]){10, 200});
    case_in(&k, 2, F32, 1, (const int64_t[]){1}, (const double[]){2});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(optest_close(k.out[0], (const double[]){10, 200, 200, 200}, 4, 0, 0));
    case_end(&k);
}

static void test_cubic_crop(void) {
    opcase k;
    /* Cubic reproduces a linear ramp away from the edges. */
    resize_begin(&k, 13, "cubic", "asymmetric");
    case_in(&k, 0, F32, 1, (const int64_t[]){8}, (const double[]){0, 1, 2, 3, 4, 5, 6, 7});
    case_in(&k, 2, F32, 1, (const int64_t[]){1}, (const double[]){2});
    CHECK(case_run(&k) == LCV_OK);
    CHECK_NEAR(((const float *)k.out[0]->data)[3], 1.5, 1e-6);
    CHECK_NEAR(((const float *)k.out[0]->data)[4], 2.0, 1e-6);
    CHECK_NEAR(((const float *)k.out[0]->data)[9], 4.5, 1e-6);
    case_end(&k);

    /* tf_crop_and_resize: the W crop runs to 2 (past the input) -> extrapolation. */
    resize_begin(&k, 13, "linear", "tf_crop_and_resize");
    optest_attr_float(&k.t, "extrapolation_value", 10.0f);
    case_in(&k, 0, F32, 4, x2x2, v1234);
    case_in(&k, 1, F32, 1, (const int64_t[]){8}, (const double[]){0, 0, 0, 0, 1, 1, 1, 2});
    case_in(&k, 3, LCV_DTYPE_INT64, 1, d4, (const double[]){1, 1, 2, 3});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(optest_close(k.out[0], (const double[]){1, 2, 10, 3, 4, 10}, 6, 1e-6, 0));
    case_in(&k, 1, F32, 1, (const int64_t[]){4}, NULL);
    CHECK(case_fails(&k, "roi must be 1-D with 8 entries"));
    case_end(&k);
}

static void test_opset18(void) {
    opcase k;
    static const int64_t x24[] = {1, 1, 2, 4};
    double x[8];
    for (int i = 0; i < 8; i++) x[i] = i;
    /* axes + keep_aspect_ratio_policy */
    static const char *pol[] = {"not_larger", "not_smaller"};
    static const int64_t want[2][4] = {{1, 1, 2, 4}, {1, 1, 4, 8}};
    for (int p = 0; p < 2; p++) {
        resize_begin(&k, 18, "nearest", NULL);
        optest_attr_ints(&k.t, "axes", 2, (const int64_t[]){2, 3});
        optest_attr_str(&k.t, "keep_aspect_ratio_policy", pol[p]);
        case_in(&k, 0, F32, 4, x24, x);
        case_in(&k, 3, LCV_DTYPE_INT64, 1, (const int64_t[]){2}, (const double[]){4, 4});
        CHECK(case_run(&k) == LCV_OK);
        CHECK(case_shape(&k, 0, 4, want[p]));
        case_end(&k);
    }
    /* antialiased linear 2x downsampling: a 4-tap triangle filter, normalised */
    resize_begin(&k, 18, "linear", NULL);
    optest_attr_int(&k.t, "antialias", 1);
    case_in(&k, 0, F32, 1, d4, (const double[]){0, 1, 2, 3});
    case_in(&k, 2, F32, 1, (const int64_t[]){1}, (const double[]){0.5});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(optest_close(k.out[0], (const double[]){0.625, 2.375}, 2, 1e-6, 0));
    case_end(&k);

    resize_begin(&k, 18, "nearest", NULL);
    optest_attr_ints(&k.t, "axes", 2, (const int64_t[]){3, -1});
    case_in(&k, 0, F32, 4, x24, x);
    case_in(&k, 2, F32, 1, (const int64_t[]){2}, (const double[]){1, 1});
    CHECK(case_fails(&k, "repeats"));
    case_end(&k);
}

/* The float32 2-D path must agree with the generic (float64) path. */
static void test_fast_path(void) {
    static const char *modes[] = {"nearest", "linear", "cubic"};
    static const int64_t xd[] = {2, 3, 7, 9}, sizes[][4] = {{2, 3, 13, 5}, {2, 3, 4, 20}};
    double *x = malloc(sizeof(double) * 2 * 3 * 7 * 9);
    for (int i = 0; i < 2 * 3 * 7 * 9; i++) x[i] = (double)((i * 37) % 101) / 7.0 - 5.0;
    for (int m = 0; m < 3; m++) {
        for (int s = 0; s < 2; s++) {
            opcase a, b;
            resize_begin(&a, 13, modes[m], "pytorch_half_pixel");
            resize_begin(&b, 13, modes[m], "pytorch_half_pixel");
            case_in(&a, 0, F32, 4, xd, x);
            case_in(&b, 0, F64, 4, xd, x);
            double sz[4];
            for (int i = 0; i < 4; i++) sz[i] = (double)sizes[s][i];
            case_in(&a, 3, LCV_DTYPE_INT64, 1, d4, sz);
            case_in(&b, 3, LCV_DTYPE_INT64, 1, d4, sz);
            CHECK(case_run(&a) == LCV_OK);
            CHECK(case_run(&b) == LCV_OK);
            int64_t n = lcv_tensor_numel(b.out[0]);
            double *ref = malloc(sizeof(double) * (size_t)n);
            for (int64_t i = 0; i < n; i++) ref[i] = ((const double *)b.out[0]->data)[i];
            CHECK_MSG(optest_close(a.out[0], ref, n, 1e-4, 1e-5), "mode %s sizes %d", modes[m], s);
            free(ref);
            case_end(&a);
            case_end(&b);
        }
    }
    free(x);
}

static void test_upsample_and_errors(void) {
    opcase k;
    /* Upsample opset 7: scales attribute, floor nearest */
    case_begin(&k, "Upsample", 7, 1, 1);
    optest_attr_str(&k.t, "mode", "nearest");
    optest_attr_floats(&k.t, "scales", 4, (const float[]){1, 1, 2, 2});
    case_in(&k, 0, F32, 4, x2x2, v1234);
    CHECK(case_run(&k) == LCV_OK);
    CHECK(optest_close(k.out[0], (const double[]){1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4},
                       16, 0, 0));
    case_end(&k);

    /* Upsample opset 9: scales input, linear (asymmetric) */
    case_begin(&k, "Upsample", 9, 2, 1);
    optest_attr_str(&k.t, "mode", "linear");
    case_in(&k, 0, F32, 2, (const int64_t[]){1, 2}, (const double[]){0, 4});
    case_in(&k, 1, F32, 1, (const int64_t[]){2}, (const double[]){1, 2});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(optest_close(k.out[0], (const double[]){0, 2, 4, 4}, 4, 1e-6, 0));
    case_end(&k);

    resize_begin(&k, 13, "linear", NULL);
    case_in(&k, 0, F32, 4, x2x2, v1234);
    case_in(&k, 2, F32, 1, d4, (const double[]){1, 1, 2, 2});
    case_in(&k, 3, LCV_DTYPE_INT64, 1, d4, (const double[]){1, 1, 2, 2});
    CHECK(case_fails(&k, "exactly one of 'scales' and 'sizes'"));
    lcv_tensor_free(k.in[3]);
    k.in[3] = NULL;
    case_in(&k, 2, F32, 1, d4, (const double[]){1, 1, -2, 2});
    CHECK(case_fails(&k, "scales[2] = -2"));
    case_in(&k, 2, F32, 1, (const int64_t[]){3}, (const double[]){1, 1, 2});
    CHECK(case_fails(&k, "must be 1-D with 4 entries"));
    case_in(&k, 2, F32, 1, d4, (const double[]){1, 1, 1e30, 1});
    CHECK(case_fails(&k, "out of range"));
    lcv_tensor sc = {0};
    sc.dtype = F32;
    sc.ndim = 1;
    sc.dims[0] = 4;
    const lcv_tensor *ins[4] = {k.in[0], NULL, &sc, NULL};
    CHECK(case_infer(&k, ins) == LCV_DEFERRED);
    case_end(&k);

    resize_begin(&k, 13, "bicubic", NULL);
    case_in(&k, 0, F32, 4, x2x2, v1234);
    case_in(&k, 2, F32, 1, d4, (const double[]){1, 1, 2, 2});
    CHECK(case_fails(&k, "mode 'bicubic'"));
    case_end(&k);

    resize_begin(&k, 13, "nearest", "no_such_mode");
    case_in(&k, 0, F32, 4, x2x2, v1234);
    case_in(&k, 2, F32, 1, d4, (const double[]){1, 1, 2, 2});
    CHECK(case_fails(&k, "no_such_mode"));
    case_end(&k);
}

int main(void) {
    test_nearest_linear();
    test_cubic_crop();
    test_opset18();
    test_fast_path();
    test_upsample_and_errors();
    return lcv_test_finish("ops_resize");
}
