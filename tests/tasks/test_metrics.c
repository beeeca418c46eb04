/* test_metrics.c - mAP and mIoU (src/tasks/metrics.c) on cases computed by hand: precision
 * envelope and 101 recall points, IoU thresholds, greedy matching order, images and classes
 * kept apart, classes without ground truth, and argument errors. The random comparison with a
 * numpy implementation is check_metrics.py. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "leancv_detect.h"

static lcv_box B(float x1, float y1, float x2, float y2) {
    lcv_box b = {x1, y1, x2, y2};
    return b;
}

/* Runs lcv_map with a fresh workspace; returns the status. */
static lcv_status run_map(const lcv_box_set *d, const lcv_box_set *g, int classes, double *ap,
                          lcv_map_result *r, char *err) {
    size_t ws = lcv_map_workspace_size(d->count, g->count, classes);
    void *w = malloc(ws ? ws : 8);
    lcv_status st = lcv_map(d, g, classes, w, ws, ap, r, err, 256);
    free(w);
    return st;
}

static void test_map_envelope(void) {
    /* tp, fp, tp against two ground truths: precision 1, 1/2, 2/3 -> envelope 1, 2/3, 2/3;
     * recall 1/2 reached at the first detection (k = 0..50), 1 at the third (k = 51..100). */
    lcv_box gb[2] = {B(0, 0, 10, 10), B(20, 20, 30, 30)};
    int32_t gl[2] = {0, 0};
    int64_t gi[2] = {0, 0};
    lcv_box db[3] = {B(0, 0, 10, 10), B(50, 50, 60, 60), B(20, 20, 30, 30)};
    float ds[3] = {0.9f, 0.8f, 0.7f};
    int32_t dl[3] = {0, 0, 0};
    int64_t di[3] = {0, 0, 0};
    lcv_box_set d = {db, ds, dl, di, 3}, g = {gb, NULL, gl, gi, 2};
    double ap[LCV_MAP_THRESHOLDS];
    lcv_map_result r;
    char err[256] = "";
    CHECK_MSG(run_map(&d, &g, 1, ap, &r, err) == LCV_OK, "%s", err);
    double want = (51.0 + 50.0 * 2.0 / 3.0) / 101.0;
    CHECK_NEAR(r.map, want, 1e-12);
    CHECK_NEAR(r.map50, want, 1e-12);
    CHECK_NEAR(ap[9], want, 1e-12);
    CHECK(r.classes_present == 1);
    /* The same detections given in another order give the same result (sorted by score). */
    lcv_box db2[3] = {db[2], db[0], db[1]};
    float ds2[3] = {0.7f, 0.9f, 0.8f};
    lcv_box_set d2 = {db2, ds2, dl, di, 3};
    CHECK(run_map(&d2, &g, 1, NULL, &r, err) == LCV_OK && fabs(r.map - want) < 1e-12);
}

static void test_map_thresholds(void) {
    /* IoU 0.72: a true positive at 0.50 .. 0.70 (5 thresholds), a false one from 0.75 on. */
    lcv_box gb[1] = {B(0, 0, 10, 10)};
    int32_t gl[1] = {0};
    int64_t gi[1] = {0};
    lcv_box db[1] = {B(0, 0, 10, 7.2f)};
    float ds[1] = {0.5f};
    lcv_box_set d = {db, ds, gl, gi, 1}, g = {gb, NULL, gl, gi, 1};
    double ap[LCV_MAP_THRESHOLDS];
    lcv_map_result r;
    char err[256];
    CHECK(run_map(&d, &g, 1, ap, &r, err) == LCV_OK);
    CHECK_NEAR(r.map, 0.5, 1e-12);
    CHECK(r.map50 == 1.0 && r.map75 == 0.0 && ap[4] == 1.0 && ap[5] == 0.0);
}

static void test_map_matching(void) {
    /* The higher-scored detection (IoU 0.65) takes g0 first; the second, a perfect fit, is
     * then a false positive at every threshold where the first matched, and a true positive
     * where the first did not. */
    lcv_box gb[1] = {B(0, 0, 10, 10)};
    int32_t gl[1] = {0};
    int64_t gi[1] = {0};
    lcv_box db[2] = {B(0, 0, 10, 6.5f), B(0, 0, 10, 10)};
    float ds[2] = {0.9f, 0.6f};
    int32_t dl[2] = {0, 0};
    int64_t di[2] = {0, 0};
    lcv_box_set d = {db, ds, dl, di, 2}, g = {gb, NULL, gl, gi, 1};
    double ap[LCV_MAP_THRESHOLDS];
    lcv_map_result r;
    char err[256];
    CHECK(run_map(&d, &g, 1, ap, &r, err) == LCV_OK);
    /* 0.50..0.60 (IoU 0.65 >= t): first is tp -> AP 1. 0.65: 0.65f as IoU is 0.649999976 in
     * double, below 0.65 -> second is the tp at precision 1/2 -> AP 1/2. Above: 1/2 too. */
    CHECK(ap[0] == 1.0 && ap[1] == 1.0 && ap[2] == 1.0);
    for (int t = 3; t < LCV_MAP_THRESHOLDS; t++) CHECK_NEAR(ap[t], 0.5, 1e-12);
    /* Equal IoU with two ground truths: the later one is taken, so the next detection (only
     * overlapping the earlier one) still finds a match. */
    lcv_box gb2[2] = {B(0, 0, 10, 10), B(2, 0, 12, 10)};
    int32_t gl2[2] = {0, 0};
    int64_t gi2[2] = {0, 0};
    lcv_box db2[2] = {B(1, 0, 11, 10), B(0, 0, 10, 10)};
    lcv_box_set dd = {db2, ds, dl, di, 2}, gg = {gb2, NULL, gl2, gi2, 2};
    CHECK(run_map(&dd, &gg, 1, ap, &r, err) == LCV_OK);
    /* IoU of d0 with each is 9/11 = 0.818: tp up to 0.80; d1 fits g0 exactly: tp always. */
    /* Had d0 taken g0, d1 (IoU 0.667 with g1) would miss at 0.70 and 0.80. */
    CHECK(ap[0] == 1.0 && ap[4] == 1.0 && ap[6] == 1.0);
    /* 0.85: fp then tp of two: precision 1/2 up to recall 1/2 (k = 0..50), nothing beyond. */
    CHECK_NEAR(ap[7], 0.5 * 51.0 / 101.0, 1e-12);
}

static void test_map_sets(void) {
    /* Images and classes stay apart; a class without ground truth is left out (-1), one
     * without detections counts as 0. */
    lcv_box gb[3] = {B(0, 0, 10, 10), B(0, 0, 10, 10), B(5, 5, 9, 9)};
    int32_t gl[3] = {0, 0, 2};
    int64_t gi[3] = {7, 3, 7};
    lcv_box db[3] = {B(0, 0, 10, 10), B(0, 0, 10, 10), B(0, 0, 10, 10)};
    float ds[3] = {0.9f, 0.8f, 0.7f};
    int32_t dl[3] = {0, 1, 0};
    int64_t di[3] = {7, 3, 5}; /* the class-1 box and the one in image 5 match nothing */
    lcv_box_set d = {db, ds, dl, di, 3}, g = {gb, NULL, gl, gi, 3};
    double ap[3 * LCV_MAP_THRESHOLDS];
    lcv_map_result r;
    char err[256];
    CHECK(run_map(&d, &g, 3, ap, &r, err) == LCV_OK);
    CHECK(r.classes_present == 2);
    /* class 0: tp (img 7), fp (img 5), 2 ground truths: 51 points at 1, the rest 0. */
    CHECK_NEAR(ap[0], 51.0 / 101.0, 1e-12);
    CHECK(ap[1 * LCV_MAP_THRESHOLDS] == -1.0 && ap[2 * LCV_MAP_THRESHOLDS + 3] == 0.0);
    CHECK_NEAR(r.map, 51.0 / 101.0 / 2.0, 1e-12);
    /* Nothing at all: classes without ground truth only -> 0 present, mAP 0. */
    lcv_box_set empty = {NULL, NULL, NULL, NULL, 0};
    CHECK(run_map(&empty, &empty, 4, NULL, &r, err) == LCV_OK && r.classes_present == 0 &&
          r.map == 0.0);
    CHECK(run_map(&empty, &g, 3, ap, &r, err) == LCV_OK && r.map == 0.0 && ap[0] == 0.0);
}

static void test_map_errors(void) {
    lcv_box b[1] = {B(0, 0, 1, 1)};
    float s[1] = {NAN};
    int32_t l[1] = {3};
    int64_t im[1] = {0};
    lcv_box_set d = {b, s, l, im, 1}, g = {b, NULL, l, im, 1};
    lcv_map_result r;
    char err[256] = "";
    CHECK(run_map(&d, &g, 3, NULL, &r, err) != LCV_OK && strstr(err, "class 3"));
    l[0] = 0;
    CHECK(run_map(&d, &g, 3, NULL, &r, err) != LCV_OK && strstr(err, "NaN"));
    s[0] = 0.5f;
    CHECK(run_map(&d, &g, 0, NULL, &r, err) != LCV_OK && strstr(err, "classes"));
    lcv_box_set noscore = {b, NULL, l, im, 1};
    CHECK(run_map(&noscore, &g, 3, NULL, &r, err) != LCV_OK && strstr(err, "scores"));
    char ws[64];
    CHECK(lcv_map(&d, &g, 3, ws, 8, NULL, &r, err, sizeof err) != LCV_OK &&
          strstr(err, "workspace"));
    CHECK(lcv_map_workspace_size(-1, 0, 3) == 0 && lcv_map_workspace_size(1, 1, 0) == 0 &&
          lcv_map_workspace_size(INT64_MAX, 1, 3) == 0);
}

static void test_miou(void) {
    /* truth 0 0 1 1 2 ign, pred 0 1 1 1 0 2: matrix (0,0)=1 (0,1)=1 (1,1)=2 (2,0)=1.
     * IoU0 = 1 / (2 + 2 - 1), IoU1 = 2 / (2 + 3 - 2), IoU2 = 0 / 1; class 3 never seen. */
    uint8_t truth[6] = {0, 0, 1, 1, 2, 255}, pred[6] = {0, 1, 1, 1, 0, 2};
    int64_t m[16] = {0};
    char err[256] = "";
    CHECK_MSG(lcv_confusion_add(m, 4, pred, truth, 6, 255, err, sizeof err) == LCV_OK, "%s", err);
    CHECK(m[0] == 1 && m[1] == 1 && m[5] == 2 && m[8] == 1 && m[10] == 0);
    double iou[4];
    lcv_miou_result r;
    CHECK(lcv_miou(m, 4, iou, &r, err, sizeof err) == LCV_OK);
    CHECK_NEAR(iou[0], 1.0 / 3.0, 1e-15);
    CHECK_NEAR(iou[1], 2.0 / 3.0, 1e-15);
    CHECK(iou[2] == 0.0 && iou[3] == -1.0 && r.classes_counted == 3 && r.pixels == 5);
    CHECK_NEAR(r.miou, 1.0 / 3.0, 1e-15);
    CHECK_NEAR(r.pixel_accuracy, 0.6, 1e-15);
    /* A prediction outside the classes fails, naming the pixel, and leaves m unchanged. */
    int64_t before[16];
    memcpy(before, m, sizeof m);
    pred[3] = 9;
    CHECK(lcv_confusion_add(m, 4, pred, truth, 6, 255, err, sizeof err) != LCV_OK &&
          strstr(err, "pixel 3") && memcmp(before, m, sizeof m) == 0);
    /* An ignored pixel may hold anything; without an ignore label 255 is out of range. */
    pred[3] = 1;
    pred[5] = 200;
    CHECK(lcv_confusion_add(m, 4, pred, truth, 6, 255, err, sizeof err) == LCV_OK);
    CHECK(lcv_confusion_add(m, 4, pred, truth, 6, -1, err, sizeof err) != LCV_OK &&
          strstr(err, "pixel 5"));
    CHECK(lcv_confusion_add(m, 0, pred, truth, 6, -1, err, sizeof err) != LCV_OK);
    CHECK(lcv_confusion_add(m, 4, pred, truth, 6, 256, err, sizeof err) != LCV_OK);
}

int main(void) {
    test_map_envelope();
    test_map_thresholds();
    test_map_matching();
    test_map_sets();
    test_map_errors();
    test_miou();
    return lcv_test_finish("tasks_metrics");
}
