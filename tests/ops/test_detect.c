/* test_detect.c - NonMaxSuppression (boxes of the ONNX backend cases: IoU and score
 * suppression, center-point format, limits, ties, deferral) and RoiAlign (hand-computed
 * bilinear samples in avg/max mode, both coordinate modes), plus bad shapes and values. */
#include "op_case.h"

#define F32 LCV_DTYPE_FLOAT32
#define I64 LCV_DTYPE_INT64

static const double corner_boxes[] = {0, 0, 1, 1,   0, 0.1, 1, 1.1,   0, -0.1, 1, 0.9,
                                      0, 10, 1, 11, 0, 10.1, 1, 11.1, 0, 100, 1, 101};
static const double center_boxes[] = {0.5, 0.5, 1, 1,   0.6, 0.5, 1, 1,   0.4, 0.5, 1, 1,
                                      10.5, 0.5, 1, 1, 10.6, 0.5, 1, 1, 100.5, 0.5, 1, 1};
static const double scores[] = {0.9, 0.75, 0.6, 0.95, 0.5, 0.3};

static void nms_case(opcase *k, const double *boxes, double max_out, double score_thr) {
    case_begin(k, "NonMaxSuppression", 11, 5, 1);
    case_in(k, 0, F32, 3, (const int64_t[]){1, 6, 4}, boxes);
    case_in(k, 1, F32, 3, (const int64_t[]){1, 1, 6}, scores);
    case_in(k, 2, I64, 1, (const int64_t[]){1}, (const double[]){max_out});
    case_in(k, 3, F32, 1, (const int64_t[]){1}, (const double[]){0.5});
    case_in(k, 4, F32, 1, (const int64_t[]){1}, (const double[]){score_thr});
}

static void test_nms(void) {
    opcase k;
    nms_case(&k, corner_boxes, 3, 0);
    CHECK(case_run(&k) == LCV_OK);
    CHECK(case_shape(&k, 0, 2, (const int64_t[]){3, 3}));
    CHECK(optest_close(k.out[0], (const double[]){0, 0, 3, 0, 0, 0, 0, 0, 5}, 9, 0, 0));
    case_end(&k);

    nms_case(&k, center_boxes, 3, 0);
    optest_attr_int(&k.t, "center_point_box", 1);
    CHECK(case_run(&k) == LCV_OK);
    CHECK(optest_close(k.out[0], (const double[]){0, 0, 3, 0, 0, 0, 0, 0, 5}, 9, 0, 0));
    case_end(&k);

    /* score threshold and output limit */
    nms_case(&k, corner_boxes, 3, 0.4);
    CHECK(case_run(&k) == LCV_OK);
    CHECK(optest_close(k.out[0], (const double[]){0, 0, 3, 0, 0, 0}, 6, 0, 0));
    case_in(&k, 2, I64, 1, (const int64_t[]){1}, (const double[]){1});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(case_shape(&k, 0, 2, (const int64_t[]){1, 3}));
    case_in(&k, 3, F32, 1, (const int64_t[]){1}, (const double[]){1.5});
    CHECK(case_fails(&k, "iou_threshold 1.5"));
    case_end(&k);

    /* no max_output_boxes_per_class: nothing is selected */
    case_begin(&k, "NonMaxSuppression", 11, 2, 1);
    case_in(&k, 0, F32, 3, (const int64_t[]){1, 6, 4}, corner_boxes);
    case_in(&k, 1, F32, 3, (const int64_t[]){1, 1, 6}, scores);
    CHECK(case_run(&k) == LCV_OK);
    CHECK(case_shape(&k, 0, 2, (const int64_t[]){0, 3}));
    case_in(&k, 1, F32, 3, (const int64_t[]){1, 1, 5}, NULL);
    CHECK(case_fails(&k, "[B, N, 4]"));
    case_end(&k);

    /* equal scores: lower index first; two classes, two batches keep their order */
    case_begin(&k, "NonMaxSuppression", 11, 3, 1);
    case_in(&k, 0, F32, 3, (const int64_t[]){2, 2, 4},
            (const double[]){0, 0, 1, 1, 5, 5, 6, 6, 0, 0, 1, 1, 0, 0, 1, 1});
    case_in(&k, 1, F32, 3, (const int64_t[]){2, 2, 2}, (const double[]){0.5, 0.5, 0.1, 0.2, 0.3, 0.3, 0, 0});
    case_in(&k, 2, I64, 0, NULL, (const double[]){5});
    CHECK(case_run(&k) == LCV_OK);
    /* batch 1's boxes coincide (IoU 1 > 0): only the first survives per class */
    CHECK(optest_close(k.out[0], (const double[]){0, 0, 0, 0, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 0,
                                                  1, 1, 0}, 18, 0, 0));
    lcv_tensor b = {0};
    b.dtype = F32;
    b.ndim = 3;
    b.dims[0] = 2, b.dims[1] = 2, b.dims[2] = 4;
    const lcv_tensor *ins[3] = {&b, k.in[1], k.in[2]};
    CHECK(case_infer(&k, ins) == LCV_DEFERRED);
    case_end(&k);
}

static void roi_case(opcase *k, int opset, const char *mode, const char *ct, const double *roi) {
    case_begin(k, "RoiAlign", opset, 3, 1);
    optest_attr_str(&k->t, "mode", mode);
    if (ct) optest_attr_str(&k->t, "coordinate_transformation_mode", ct);
    optest_attr_int(&k->t, "sampling_ratio", 1);
    case_in(k, 0, F32, 4, (const int64_t[]){1, 1, 2, 2}, (const double[]){1, 2, 3, 4});
    case_in(k, 1, F32, 2, (const int64_t[]){1, 4}, roi);
    case_in(k, 2, I64, 1, (const int64_t[]){1}, (const double[]){0});
}

static void test_roialign(void) {
    opcase k;
    static const double roi[] = {0, 0, 2, 2};
    /* half_pixel: one sample at (0.5, 0.5), the mean of the four pixels */
    roi_case(&k, 16, "avg", "half_pixel", roi);
    CHECK(case_run(&k) == LCV_OK);
    CHECK(case_shape(&k, 0, 4, (const int64_t[]){1, 1, 1, 1}));
    CHECK(optest_close(k.out[0], (const double[]){2.5}, 1, 1e-6, 0));
    case_end(&k);

    /* opset 10 means output_half_pixel: the sample lands on (1, 1) */
    roi_case(&k, 10, "avg", NULL, roi);
    CHECK(case_run(&k) == LCV_OK);
    CHECK(optest_close(k.out[0], (const double[]){4}, 1, 1e-6, 0));
    case_end(&k);

    /* max mode: the largest weighted corner term 0.25 * 4 */
    roi_case(&k, 16, "max", "half_pixel", roi);
    CHECK(case_run(&k) == LCV_OK);
    CHECK(optest_close(k.out[0], (const double[]){1}, 1, 1e-6, 0));
    case_end(&k);

    /* a 2x2 output, default grid: ceil(bin) = 1 sample per bin at the pixel centres */
    case_begin(&k, "RoiAlign", 16, 3, 1);
    optest_attr_int(&k.t, "output_height", 2);
    optest_attr_int(&k.t, "output_width", 2);
    case_in(&k, 0, F32, 4, (const int64_t[]){1, 1, 2, 2}, (const double[]){1, 2, 3, 4});
    case_in(&k, 1, F32, 2, (const int64_t[]){1, 4}, roi);
    case_in(&k, 2, I64, 1, (const int64_t[]){1}, (const double[]){0});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(optest_close(k.out[0], (const double[]){1, 2, 3, 4}, 4, 1e-6, 0));
    case_in(&k, 2, I64, 1, (const int64_t[]){1}, (const double[]){1});
    CHECK(case_fails(&k, "batch_indices[0] = 1"));
    case_in(&k, 2, I64, 1, (const int64_t[]){1}, (const double[]){0});
    case_in(&k, 1, F32, 2, (const int64_t[]){1, 4}, (const double[]){0, 0, 1e30, 1e30});
    CHECK(case_fails(&k, "sampling grid"));
    case_in(&k, 1, F32, 2, (const int64_t[]){1, 4}, (const double[]){0, 0, NAN, 1});
    CHECK(case_fails(&k, "non-finite"));
    case_in(&k, 1, F32, 2, (const int64_t[]){1, 3}, NULL);
    CHECK(case_fails(&k, "rois [R, 4]"));
    case_end(&k);

    roi_case(&k, 16, "median", NULL, roi);
    CHECK(case_fails(&k, "mode 'median'"));
    case_end(&k);
}

int main(void) {
    test_nms();
    test_roialign();
    return lcv_test_finish("ops_detect");
}
