/* test_gather.c - indexing ops: Gather, GatherElements, GatherND, ScatterElements/Scatter,
 * ScatterND, OneHot, Compress, NonZero and TopK on hand-computed cases (several taken from the
 * ONNX operator docs' examples), plus bad indices, shapes and dtypes. */
#include "op_case.h"

#define F32 LCV_DTYPE_FLOAT32
#define I64 LCV_DTYPE_INT64

static void test_gather(void) {
    opcase k;
    static const int64_t d32[] = {3, 2}, i22[] = {2, 2}, o[] = {2, 2, 2};
    static const double x[] = {1, 2, 3, 4, 5, 6};
    case_begin(&k, "Gather", 13, 2, 1);
    case_in(&k, 0, F32, 2, d32, x);
    case_in(&k, 1, I64, 2, i22, (const double[]){0, 1, 1, 2});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(case_shape(&k, 0, 3, o));
    CHECK(optest_close(k.out[0], (const double[]){1, 2, 3, 4, 3, 4, 5, 6}, 8, 0, 0));
    /* axis 1 with a negative index, int32 indices */
    optest_attr_int(&k.t, "axis", 1);
    case_in(&k, 1, LCV_DTYPE_INT32, 1, (const int64_t[]){2}, (const double[]){-1, 0});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(optest_close(k.out[0], (const double[]){2, 1, 4, 3, 6, 5}, 6, 0, 0));
    case_in(&k, 1, I64, 1, (const int64_t[]){2}, (const double[]){0, -3});
    CHECK(case_fails(&k, "value -3 is out of range"));
    case_in(&k, 1, F32, 1, (const int64_t[]){1}, (const double[]){0});
    CHECK(case_fails(&k, "int32 or int64"));
    case_end(&k);

    case_begin(&k, "Gather", 13, 2, 1);
    optest_attr_int(&k.t, "axis", 2);
    case_in(&k, 0, F32, 2, d32, x);
    case_in(&k, 1, I64, 0, NULL, (const double[]){0});
    CHECK(case_fails(&k, "axis 2 is out of range"));
    case_end(&k);
}

static void test_gather_elements(void) {
    opcase k;
    static const int64_t d22[] = {2, 2};
    case_begin(&k, "GatherElements", 13, 2, 1);
    optest_attr_int(&k.t, "axis", 1);
    case_in(&k, 0, F32, 2, d22, (const double[]){1, 2, 3, 4});
    case_in(&k, 1, I64, 2, d22, (const double[]){0, 0, 1, 0});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(optest_close(k.out[0], (const double[]){1, 1, 4, 3}, 4, 0, 0));
    case_in(&k, 1, I64, 2, d22, (const double[]){0, 0, 2, 0});
    CHECK(case_fails(&k, "value 2 is out of range"));
    case_in(&k, 1, I64, 1, (const int64_t[]){2}, (const double[]){0, 0});
    CHECK(case_fails(&k, "rank"));
    case_in(&k, 1, I64, 2, (const int64_t[]){3, 1}, (const double[]){0, 0, 0});
    CHECK(case_fails(&k, "larger than data"));
    case_end(&k);
}

static void test_gather_nd(void) {
    opcase k;
    case_begin(&k, "GatherND", 12, 2, 1);
    optest_attr_int(&k.t, "batch_dims", 1);
    case_in(&k, 0, LCV_DTYPE_INT32, 3, (const int64_t[]){2, 2, 2},
            (const double[]){0, 1, 2, 3, 4, 5, 6, 7});
    case_in(&k, 1, I64, 2, (const int64_t[]){2, 1}, (const double[]){1, 0});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(case_shape(&k, 0, 2, (const int64_t[]){2, 2}));
    CHECK(optest_close(k.out[0], (const double[]){2, 3, 4, 5}, 4, 0, 0));
    case_in(&k, 1, I64, 2, (const int64_t[]){2, 1}, (const double[]){1, 7});
    CHECK(case_fails(&k, "value 7 is out of range"));
    case_in(&k, 1, I64, 2, (const int64_t[]){2, 3}, NULL);
    CHECK(case_fails(&k, "last dim 3"));
    case_end(&k);

    /* batch_dims 0, full-coordinate tuples */
    case_begin(&k, "GatherND", 11, 2, 1);
    case_in(&k, 0, F32, 2, (const int64_t[]){2, 2}, (const double[]){0, 1, 2, 3});
    case_in(&k, 1, I64, 2, (const int64_t[]){2, 2}, (const double[]){0, 0, 1, 1});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(optest_close(k.out[0], (const double[]){0, 3}, 2, 0, 0));
    case_end(&k);
}

static void test_scatter(void) {
    opcase k;
    static const int64_t d15[] = {1, 5}, d12[] = {1, 2};
    case_begin(&k, "ScatterElements", 16, 3, 1);
    optest_attr_int(&k.t, "axis", 1);
    optest_attr_str(&k.t, "reduction", "add");
    case_in(&k, 0, F32, 2, d15, (const double[]){1, 2, 3, 4, 5});
    case_in(&k, 1, I64, 2, d12, (const double[]){1, 1});
    case_in(&k, 2, F32, 2, d12, (const double[]){1.1, 2.1});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(optest_close(k.out[0], (const double[]){1, 5.2, 3, 4, 5}, 5, 1e-6, 0));
    case_in(&k, 1, I64, 2, d12, (const double[]){1, -6});
    CHECK(case_fails(&k, "value -6"));
    case_in(&k, 1, I64, 2, d12, (const double[]){1, 1});
    case_in(&k, 2, F32, 2, (const int64_t[]){1, 1}, NULL);
    CHECK(case_fails(&k, "updates shape"));
    case_end(&k);

    /* max needs opset 18 */
    for (int opset = 16; opset <= 18; opset += 2) {
        case_begin(&k, "ScatterElements", opset, 3, 1);
        optest_attr_int(&k.t, "axis", 1);
        optest_attr_str(&k.t, "reduction", "max");
        case_in(&k, 0, LCV_DTYPE_INT32, 2, (const int64_t[]){1, 3}, (const double[]){1, 5, 3});
        case_in(&k, 1, I64, 2, d12, (const double[]){0, 1});
        case_in(&k, 2, LCV_DTYPE_INT32, 2, d12, (const double[]){4, 2});
        if (opset == 16) {
            CHECK(case_fails(&k, "reduction 'max'"));
        } else {
            CHECK(case_run(&k) == LCV_OK);
            CHECK(optest_close(k.out[0], (const double[]){4, 5, 3}, 3, 0, 0));
        }
        case_end(&k);
    }

    /* deprecated Scatter: plain replacement */
    case_begin(&k, "Scatter", 9, 3, 1);
    case_in(&k, 0, F32, 2, (const int64_t[]){2, 2}, (const double[]){0, 0, 0, 0});
    case_in(&k, 1, I64, 2, d12, (const double[]){1, 0});
    case_in(&k, 2, F32, 2, d12, (const double[]){7, 8});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(optest_close(k.out[0], (const double[]){0, 8, 7, 0}, 4, 0, 0));
    case_end(&k);

    case_begin(&k, "ScatterND", 16, 3, 1);
    optest_attr_str(&k.t, "reduction", "mul");
    case_in(&k, 0, F32, 1, (const int64_t[]){4}, (const double[]){1, 2, 3, 4});
    case_in(&k, 1, I64, 2, (const int64_t[]){2, 1}, (const double[]){1, 3});
    case_in(&k, 2, F32, 1, (const int64_t[]){2}, (const double[]){10, 20});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(optest_close(k.out[0], (const double[]){1, 20, 3, 80}, 4, 0, 0));
    case_in(&k, 2, F32, 1, (const int64_t[]){3}, NULL);
    CHECK(case_fails(&k, "updates shape"));
    case_in(&k, 2, F32, 1, (const int64_t[]){2}, (const double[]){10, 20});
    case_in(&k, 1, I64, 2, (const int64_t[]){2, 1}, (const double[]){1, 4});
    CHECK(case_fails(&k, "value 4 is out of range"));
    case_end(&k);
}

static void test_onehot(void) {
    opcase k;
    case_begin(&k, "OneHot", 11, 3, 1);
    case_in(&k, 0, I64, 1, (const int64_t[]){3}, (const double[]){0, -1, 5});
    case_in(&k, 1, F32, 0, NULL, (const double[]){4});
    case_in(&k, 2, F32, 1, (const int64_t[]){2}, (const double[]){0, 1});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(case_shape(&k, 0, 2, (const int64_t[]){3, 4}));
    CHECK(optest_close(k.out[0], (const double[]){1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}, 12, 0, 0));
    /* depth unknown at load time: deferred */
    lcv_tensor dep = {0};
    dep.dtype = F32;
    const lcv_tensor *ins[3] = {k.in[0], &dep, k.in[2]};
    CHECK(case_infer(&k, ins) == LCV_DEFERRED);
    case_in(&k, 1, F32, 0, NULL, (const double[]){0});
    CHECK(case_fails(&k, "depth"));
    case_in(&k, 1, F32, 0, NULL, (const double[]){2});
    case_in(&k, 2, F32, 1, (const int64_t[]){3}, NULL);
    CHECK(case_fails(&k, "values must have shape [2]"));
    case_end(&k);

    /* axis 0 */
    case_begin(&k, "OneHot", 11, 3, 1);
    optest_attr_int(&k.t, "axis", 0);
    case_in(&k, 0, I64, 1, (const int64_t[]){2}, (const double[]){1, 0});
    case_in(&k, 1, I64, 0, NULL, (const double[]){2});
    case_in(&k, 2, I64, 1, (const int64_t[]){2}, (const double[]){5, 9});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(optest_close(k.out[0], (const double[]){5, 9, 9, 5}, 4, 0, 0));
    case_end(&k);
}

static void test_compress_nonzero(void) {
    opcase k;
    case_begin(&k, "Compress", 11, 2, 1);
    optest_attr_int(&k.t, "axis", 0);
    case_in(&k, 0, F32, 2, (const int64_t[]){3, 2}, (const double[]){1, 2, 3, 4, 5, 6});
    case_in(&k, 1, LCV_DTYPE_BOOL, 1, (const int64_t[]){3}, (const double[]){0, 1, 1});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(case_shape(&k, 0, 2, (const int64_t[]){2, 2}));
    CHECK(optest_close(k.out[0], (const double[]){3, 4, 5, 6}, 4, 0, 0));
    case_in(&k, 1, LCV_DTYPE_BOOL, 1, (const int64_t[]){4}, NULL);
    CHECK(case_fails(&k, "condition has 4 entries"));
    case_end(&k);

    case_begin(&k, "Compress", 11, 2, 1);
    case_in(&k, 0, F32, 2, (const int64_t[]){3, 2}, (const double[]){1, 2, 3, 4, 5, 6});
    case_in(&k, 1, LCV_DTYPE_BOOL, 1, (const int64_t[]){5}, (const double[]){0, 1, 0, 0, 1});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(optest_close(k.out[0], (const double[]){2, 5}, 2, 0, 0));
    case_in(&k, 1, F32, 1, (const int64_t[]){1}, NULL);
    CHECK(case_fails(&k, "bool"));
    case_end(&k);

    case_begin(&k, "NonZero", 13, 1, 1);
    case_in(&k, 0, F32, 2, (const int64_t[]){2, 2}, (const double[]){1, 0, 1, 1});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(case_shape(&k, 0, 2, (const int64_t[]){2, 3}));
    CHECK(optest_close(k.out[0], (const double[]){0, 1, 1, 0, 0, 1}, 6, 0, 0));
    lcv_tensor x = {0};
    x.dtype = F32;
    x.ndim = 1;
    x.dims[0] = 4;
    const lcv_tensor *ins[1] = {&x};
    CHECK(case_infer(&k, ins) == LCV_DEFERRED);
    case_end(&k);
}

static void test_topk(void) {
    opcase k;
    static const double x[] = {3, 1, 3, 5, 0};
    case_begin(&k, "TopK", 11, 2, 2);
    case_in(&k, 0, F32, 2, (const int64_t[]){1, 5}, x);
    case_in(&k, 1, I64, 1, (const int64_t[]){1}, (const double[]){3});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(case_shape(&k, 0, 2, (const int64_t[]){1, 3}));
    CHECK(optest_close(k.out[0], (const double[]){5, 3, 3}, 3, 0, 0));
    CHECK(optest_close(k.out[1], (const double[]){3, 0, 2}, 3, 0, 0)); /* ties: lower index */
    case_in(&k, 1, I64, 1, (const int64_t[]){1}, (const double[]){6});
    CHECK(case_fails(&k, "k = 6"));
    lcv_tensor kt = {0};
    kt.dtype = I64;
    kt.ndim = 1;
    kt.dims[0] = 1;
    const lcv_tensor *ins[2] = {k.in[0], &kt};
    CHECK(case_infer(&k, ins) == LCV_DEFERRED);
    case_end(&k);

    case_begin(&k, "TopK", 11, 2, 2);
    optest_attr_int(&k.t, "largest", 0);
    optest_attr_int(&k.t, "axis", 0);
    case_in(&k, 0, LCV_DTYPE_INT32, 2, (const int64_t[]){5, 1}, x);
    case_in(&k, 1, I64, 1, (const int64_t[]){1}, (const double[]){2});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(optest_close(k.out[0], (const double[]){0, 1}, 2, 0, 0));
    CHECK(optest_close(k.out[1], (const double[]){4, 1}, 2, 0, 0));
    case_end(&k);

    /* opset 1: k attribute; a wider slice exercises the heap */
    case_begin(&k, "TopK", 1, 1, 2);
    optest_attr_int(&k.t, "k", 4);
    double v[40];
    for (int i = 0; i < 40; i++) v[i] = (i * 17) % 40;
    case_in(&k, 0, F32, 1, (const int64_t[]){40}, v);
    CHECK(case_run(&k) == LCV_OK);
    CHECK(optest_close(k.out[0], (const double[]){39, 38, 37, 36}, 4, 0, 0));
    CHECK(optest_close(k.out[1], (const double[]){7, 14, 21, 28}, 4, 0, 0));
    case_end(&k);
}

int main(void) {
    test_gather();
    test_gather_elements();
    test_gather_nd();
    test_scatter();
    test_onehot();
    test_compress_nonzero();
    test_topk();
    return lcv_test_finish("ops_gather");
}
