/* test_det_loss.c - the FCOS detection loss (lcv_loss_fcos in src/train/loss_det.c): value,
 * positive count and gradient against an independent PyTorch reference (torchvision's focal
 * and GIoU losses, the assignment as plain loops; seg_fixtures.py) on overlapping and unused
 * boxes, a box too small for any location and an image without boxes; the terms' split; and
 * argument errors that name the box or location. */
#include <stdlib.h>
#include <string.h>

#include "train/loss.h"
#include "train/train_test_util.h"

#define TOL 1e-5

static void check_fixture(const char *name) {
    char b[128];
    snprintf(b, sizeof b, "%s_out", name);
    lcv_tensor *out = fx_load(b);
    snprintf(b, sizeof b, "%s_boxes", name);
    lcv_tensor *boxes = fx_load(b);
    snprintf(b, sizeof b, "%s_grad", name);
    lcv_tensor *g = fx_load(b);
    snprintf(b, sizeof b, "%s_loss", name);
    lcv_tensor *want = fx_load(b);
    if (!out || !boxes || !g || !want) goto done;
    const double *w = want->data; /* loss, positives, stride */
    int64_t n = out->dims[0], classes = out->dims[1] - 5, h = out->dims[2], wd = out->dims[3];
    int64_t total = lcv_tensor_count(out);
    float *d = calloc((size_t)total, sizeof(float));
    double loss = 0, loss2 = -1;
    lcv_fcos_terms terms;
    lcv_fcos_params fp = lcv_fcos_default_params();
    lcv_err e;
    CHECK(lcv_loss_fcos(out->data, boxes->data, n, classes, h, wd, boxes->dims[1], (int)w[2], &fp,
                        d, &terms, &loss, &e) == LCV_OK);
    CHECK_MSG(fabs(loss - w[0]) <= TOL * (1 + fabs(w[0])), "%s loss %.9g vs PyTorch %.9g", name,
              loss, w[0]);
    CHECK_MSG(terms.positives == (int64_t)w[1], "%s: %lld positives, reference %g", name,
              (long long)terms.positives, w[1]);
    CHECK_NEAR(terms.cls + terms.box + terms.ctr, loss, 1e-12);
    CHECK_MSG(fx_compare(name, d, g, total, 1e-7, TOL) == 0, "%s gradient", name);
    CHECK(lcv_loss_fcos(out->data, boxes->data, n, classes, h, wd, boxes->dims[1], (int)w[2], &fp,
                        NULL, NULL, &loss2, &e) == LCV_OK);
    CHECK(loss2 == loss);
    free(d);
done:
    lcv_tensor_free(out);
    lcv_tensor_free(boxes);
    lcv_tensor_free(g);
    lcv_tensor_free(want);
}

static void check_errors(void) {
    enum { C = 2, CH = C + 5, HW = 4 };
    float out[CH * HW], d[CH * HW];
    for (int i = 0; i < CH * HW; i++) out[i] = 4.0f; /* distances 4: a box around each location */
    float boxes[2 * 5] = {0, 0, 16, 16, 1, -1, -1, -1, -1, -1};
    lcv_fcos_params fp = lcv_fcos_default_params();
    double loss;
    lcv_err e;
    CHECK(lcv_loss_fcos(out, boxes, 1, C, 2, 2, 2, 8, &fp, d, NULL, &loss, &e) == LCV_OK);
    boxes[4] = 2; /* class 2 of a 2-class head */
    CHECK(lcv_loss_fcos(out, boxes, 1, C, 2, 2, 2, 8, &fp, d, NULL, &loss, &e) ==
          LCV_ERR_INVALID_ARG);
    CHECK_MSG(strstr(e.msg, "box 0 of image 0") && strstr(e.msg, "2 classes"), "%s", e.msg);
    boxes[4] = 0;
    boxes[2] = 0; /* x2 == x1 */
    CHECK(lcv_loss_fcos(out, boxes, 1, C, 2, 2, 2, 8, &fp, d, NULL, &loss, &e) ==
          LCV_ERR_INVALID_ARG);
    CHECK_MSG(strstr(e.msg, "x1 < x2"), "%s", e.msg);
    boxes[2] = 16;
    out[C * HW] = -1.0f; /* location 0's left distance: l + r = 3 still > 0 */
    out[(C + 2) * HW] = -5.0f; /* right: the box has no width */
    CHECK(lcv_loss_fcos(out, boxes, 1, C, 2, 2, 2, 8, &fp, d, NULL, &loss, &e) ==
          LCV_ERR_INVALID_ARG);
    CHECK_MSG(strstr(e.msg, "location (0, 0)") && strstr(e.msg, "positive distances"), "%s",
              e.msg);
    CHECK(lcv_loss_fcos(out, boxes, 1, C, 2, 2, 2, 0, &fp, d, NULL, &loss, &e) == LCV_ERR_SHAPE);
}

int main(void) {
    check_fixture("fcos_small");
    check_fixture("fcos_many");
    check_errors();
    return lcv_test_finish("test_det_loss");
}
