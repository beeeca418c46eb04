/* test_loss.c - the training losses (src/train/loss.c) against PyTorch: values and gradients of
 * cross-entropy (plain, label smoothing, large logits), MSE, L1 (with exact ties) and Hinton
 * distillation within 1e-5, plus argument errors. */
#include <stdlib.h>
#include <string.h>

#include "train/loss.h"
#include "train_test_util.h"

#define TOL 1e-5

static void check_ce(const char *name, float smoothing) {
    char b[128];
    snprintf(b, sizeof b, "%s_x", name);
    lcv_tensor *x = fx_load(b);
    snprintf(b, sizeof b, "%s_y", name);
    lcv_tensor *y = fx_load(b);
    snprintf(b, sizeof b, "%s_grad", name);
    lcv_tensor *g = fx_load(b);
    snprintf(b, sizeof b, "%s_loss", name);
    double want = fx_scalar(b);
    if (!x || !y || !g) goto done;
    int64_t n = x->dims[0], k = x->dims[1];
    float *d = calloc((size_t)(n * k), sizeof(float));
    double loss = 0;
    lcv_err e;
    CHECK(lcv_loss_softmax_ce(x->data, y->data, n, k, smoothing, d, &loss, &e) == LCV_OK);
    CHECK_MSG(fabs(loss - want) <= TOL * (1 + fabs(want)), "%s loss %.9g vs %.9g", name, loss,
              want);
    CHECK_MSG(fx_compare(name, d, g, n * k, TOL, TOL) == 0, "%s gradient", name);
    double loss2 = 0;
    CHECK(lcv_loss_softmax_ce(x->data, y->data, n, k, smoothing, NULL, &loss2, &e) == LCV_OK);
    CHECK(loss2 == loss);
    free(d);
done:
    lcv_tensor_free(x);
    lcv_tensor_free(y);
    lcv_tensor_free(g);
}

static void check_pair(const char *name, bool l1) {
    char b[128];
    snprintf(b, sizeof b, "%s_a", name);
    lcv_tensor *a = fx_load(b);
    snprintf(b, sizeof b, "%s_b", name);
    lcv_tensor *bt = fx_load(b);
    snprintf(b, sizeof b, "%s_grad", name);
    lcv_tensor *g = fx_load(b);
    snprintf(b, sizeof b, "%s_loss", name);
    double want = fx_scalar(b);
    if (!a || !bt || !g) goto done;
    int64_t n = lcv_tensor_count(a);
    float *d = calloc((size_t)n, sizeof(float));
    double loss = 0;
    lcv_err e;
    lcv_status st = l1 ? lcv_loss_l1(a->data, bt->data, n, d, &loss, &e)
                       : lcv_loss_mse(a->data, bt->data, n, d, &loss, &e);
    CHECK(st == LCV_OK);
    CHECK_MSG(fabs(loss - want) <= TOL * (1 + fabs(want)), "%s loss %.9g vs %.9g", name, loss,
              want);
    CHECK_MSG(fx_compare(name, d, g, n, TOL, TOL) == 0, "%s gradient", name);
    free(d);
done:
    lcv_tensor_free(a);
    lcv_tensor_free(bt);
    lcv_tensor_free(g);
}

static void check_kd(const char *name, float alpha, float temp, float smoothing) {
    char b[128];
    snprintf(b, sizeof b, "%s_s", name);
    lcv_tensor *s = fx_load(b);
    snprintf(b, sizeof b, "%s_t", name);
    lcv_tensor *t = fx_load(b);
    snprintf(b, sizeof b, "%s_y", name);
    lcv_tensor *y = fx_load(b);
    snprintf(b, sizeof b, "%s_grad", name);
    lcv_tensor *g = fx_load(b);
    snprintf(b, sizeof b, "%s_loss", name);
    double want = fx_scalar(b);
    if (!s || !t || !y || !g) goto done;
    int64_t n = s->dims[0], k = s->dims[1];
    float *d = calloc((size_t)(n * k), sizeof(float));
    double loss = 0;
    lcv_err e;
    CHECK(lcv_loss_distill(s->data, t->data, alpha < 1 ? y->data : NULL, n, k, alpha, temp,
                           smoothing, d, &loss, &e) == LCV_OK);
    CHECK_MSG(fabs(loss - want) <= TOL * (1 + fabs(want)), "%s loss %.9g vs %.9g", name, loss,
              want);
    CHECK_MSG(fx_compare(name, d, g, n * k, TOL, TOL) == 0, "%s gradient", name);
    free(d);
done:
    lcv_tensor_free(s);
    lcv_tensor_free(t);
    lcv_tensor_free(y);
    lcv_tensor_free(g);
}

static void check_errors(void) {
    float x[6] = {1, 2, 3, 4, 5, 6}, d[6];
    int64_t bad[2] = {0, 3}, neg[2] = {-1, 0}, ok[2] = {2, 0};
    double loss;
    lcv_err e;
    e.msg[0] = '\0';
    CHECK(lcv_loss_softmax_ce(x, bad, 2, 3, 0, d, &loss, &e) == LCV_ERR_INVALID_ARG);
    CHECK_MSG(strstr(e.msg, "label 3 of sample 1") != NULL, "%s", e.msg);
    CHECK(lcv_loss_softmax_ce(x, neg, 2, 3, 0, d, &loss, &e) == LCV_ERR_INVALID_ARG);
    CHECK(lcv_loss_softmax_ce(x, ok, 2, 3, 1.0f, d, &loss, &e) == LCV_ERR_INVALID_ARG);
    CHECK(lcv_loss_softmax_ce(x, ok, 0, 3, 0, d, &loss, &e) == LCV_ERR_SHAPE);
    CHECK(lcv_loss_softmax_ce(x, NULL, 2, 3, 0, d, &loss, &e) == LCV_ERR_INVALID_ARG);
    CHECK(lcv_loss_distill(x, x, ok, 2, 3, 1.5f, 2, 0, d, &loss, &e) == LCV_ERR_INVALID_ARG);
    CHECK(lcv_loss_distill(x, x, ok, 2, 3, 0.5f, 0, 0, d, &loss, &e) == LCV_ERR_INVALID_ARG);
    CHECK(lcv_loss_distill(x, x, NULL, 2, 3, 0.5f, 2, 0, d, &loss, &e) == LCV_ERR_INVALID_ARG);
    CHECK(lcv_loss_mse(x, x, 0, d, &loss, &e) == LCV_ERR_SHAPE);
    CHECK(lcv_loss_l1(x, x, -1, d, &loss, &e) == LCV_ERR_SHAPE);
    /* identical student and teacher: the KL term and its gradient vanish */
    CHECK(lcv_loss_distill(x, x, NULL, 2, 3, 1.0f, 3, 0, d, &loss, &e) == LCV_OK);
    CHECK_NEAR(loss, 0.0, 1e-12);
    for (int i = 0; i < 6; i++) CHECK_NEAR(d[i], 0.0, 1e-9);
    /* argmax ties go to the first maximum */
    float tie[6] = {1, 3, 3, 0, 0, 0};
    int64_t lab[2] = {1, 0};
    CHECK(lcv_loss_correct(tie, lab, 2, 3) == 2);
    lab[0] = 2;
    CHECK(lcv_loss_correct(tie, lab, 2, 3) == 1);
}

int main(void) {
    check_ce("ce_plain", 0.0f);
    check_ce("ce_smooth", 0.1f);
    check_ce("ce_big", 0.2f);
    check_pair("mse", false);
    check_pair("l1", true);
    check_kd("kd_mix", 0.7f, 4.0f, 0.1f);
    check_kd("kd_pure", 1.0f, 2.0f, 0.0f);
    check_kd("kd_cold", 0.3f, 0.5f, 0.0f);
    check_errors();
    return lcv_test_finish("train_loss");
}
