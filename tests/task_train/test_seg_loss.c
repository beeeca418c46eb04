/* test_seg_loss.c - the per-pixel softmax cross-entropy of segmentation training
 * (lcv_loss_softmax_ce_map in src/train/loss.c): values and gradients against PyTorch's
 * F.cross_entropy on 4-D logits (fixtures from seg_fixtures.py, within 1e-5), the gradient
 * against central finite differences, agreement with the per-sample loss when H = W = 1, pixel
 * accuracy (first maximum wins ties), the same results on any number of threads, and argument
 * errors. */
#include <stdlib.h>
#include <string.h>

#include "train/loss.h"
#include "train/train_test_util.h"

#define TOL 1e-5

static void check_fixture(const char *name, float smoothing) {
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
    int64_t n = x->dims[0], k = x->dims[1], hw = x->dims[2] * x->dims[3];
    float *d = calloc((size_t)(n * k * hw), sizeof(float));
    double loss = 0, loss2 = -1;
    lcv_err e;
    CHECK(lcv_loss_softmax_ce_map(x->data, y->data, n, k, hw, smoothing, d, &loss, NULL, &e) ==
          LCV_OK);
    CHECK_MSG(fabs(loss - want) <= TOL * (1 + fabs(want)), "%s loss %.9g vs PyTorch %.9g", name,
              loss, want);
    CHECK_MSG(fx_compare(name, d, g, n * k * hw, TOL * 1e-2, TOL) == 0, "%s gradient", name);
    CHECK(lcv_loss_softmax_ce_map(x->data, y->data, n, k, hw, smoothing, NULL, &loss2, NULL,
                                  &e) == LCV_OK);
    CHECK(loss2 == loss);
    free(d);
done:
    lcv_tensor_free(x);
    lcv_tensor_free(y);
    lcv_tensor_free(g);
}

static uint64_t rng = 0x5eed5eedULL;
static double urand(void) {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(rng >> 11) * (1.0 / 9007199254740992.0);
}

/* Central differences of the loss (computed in double) against the analytic gradient, on a
 * shape whose 300 pixels per image cross a chunk boundary. */
static void check_finite_differences(float smoothing) {
    enum { N = 2, K = 4, H = 12, W = 25, HW = H * W, TOTAL = N * K * HW };
    float *x = malloc(sizeof(float) * TOTAL), *d = malloc(sizeof(float) * TOTAL);
    int64_t *y = malloc(sizeof(int64_t) * N * HW);
    for (int i = 0; i < TOTAL; i++) x[i] = (float)(urand() * 4.0 - 2.0);
    for (int i = 0; i < N * HW; i++) y[i] = (int64_t)(urand() * K) % K;
    double loss;
    lcv_err e;
    CHECK(lcv_loss_softmax_ce_map(x, y, N, K, HW, smoothing, d, &loss, NULL, &e) == LCV_OK);
    int bad = 0;
    for (int i = 0; i < TOTAL; i += 7) { /* a spread of elements, every class and pixel phase */
        float keep = x[i];
        float hi = keep + 1e-2f, lo = keep - 1e-2f;
        double lp, lm;
        x[i] = hi;
        lcv_loss_softmax_ce_map(x, y, N, K, HW, smoothing, NULL, &lp, NULL, &e);
        x[i] = lo;
        lcv_loss_softmax_ce_map(x, y, N, K, HW, smoothing, NULL, &lm, NULL, &e);
        x[i] = keep;
        double num = (lp - lm) / ((double)hi - (double)lo); /* the step actually taken */
        if (!(fabs(num - d[i]) <= 1e-8 + 1e-3 * fabs(num))) {
            if (bad++ < 5)
                fprintf(stderr, "element %d: analytic %.9g, numeric %.9g\n", i, (double)d[i], num);
        }
    }
    CHECK_MSG(bad == 0, "%d gradient elements differ from finite differences (smoothing %g)", bad,
              (double)smoothing);
    free(x);
    free(d);
    free(y);
}

/* With one pixel per image the per-pixel loss is the per-sample loss on [n, k] logits. */
static void check_matches_rows(void) {
    enum { N = 5, K = 7 };
    float x[N * K], d1[N * K], d2[N * K];
    int64_t y[N];
    for (int i = 0; i < N * K; i++) x[i] = (float)(urand() * 6.0 - 3.0);
    for (int i = 0; i < N; i++) y[i] = i % K;
    double l1, l2;
    lcv_err e;
    CHECK(lcv_loss_softmax_ce(x, y, N, K, 0.2f, d1, &l1, &e) == LCV_OK);
    CHECK(lcv_loss_softmax_ce_map(x, y, N, K, 1, 0.2f, d2, &l2, NULL, &e) == LCV_OK);
    CHECK_NEAR(l1, l2, 1e-6); /* the map takes its exponentials in float, vectorised */
    double worst = 0;
    for (int i = 0; i < N * K; i++) worst = fmax(worst, fabs((double)d1[i] - (double)d2[i]));
    CHECK_MSG(worst <= 1e-7, "gradients differ by %g", worst);
}

/* The images are shared out over a pool; the loss and the gradient are the same bit for bit
 * whatever its size. */
static void check_pool_independent(void) {
    enum { N = 5, K = 11, HW = 300, TOTAL = N * K * HW };
    float *x = malloc(sizeof(float) * TOTAL), *d1 = malloc(sizeof(float) * TOTAL),
          *d2 = malloc(sizeof(float) * TOTAL);
    int64_t *y = malloc(sizeof(int64_t) * N * HW);
    for (int i = 0; i < TOTAL; i++) x[i] = (float)(urand() * 8.0 - 4.0);
    for (int i = 0; i < N * HW; i++) y[i] = (int64_t)(urand() * K) % K;
    lcv_threadpool *pool = NULL;
    lcv_err e;
    CHECK(lcv_threadpool_create(3, &pool, &e) == LCV_OK);
    double l1 = 0, l2 = 1;
    CHECK(lcv_loss_softmax_ce_map(x, y, N, K, HW, 0.1f, d1, &l1, NULL, &e) == LCV_OK);
    CHECK(lcv_loss_softmax_ce_map(x, y, N, K, HW, 0.1f, d2, &l2, pool, &e) == LCV_OK);
    CHECK(l1 == l2);
    CHECK(memcmp(d1, d2, sizeof(float) * TOTAL) == 0);
    lcv_threadpool_free(pool);
    free(x);
    free(d1);
    free(d2);
    free(y);
}

static void check_correct(void) {
    /* n 1, k 3, 2 x 2 pixels: class planes of 4 values */
    const float x[12] = {1, 0, 5, 2,   /* class 0 */
                         0, 3, 5, 2,   /* class 1: pixel 2 ties with class 0, pixel 3 too */
                         0, 0, 1, 9};  /* class 2 */
    const int64_t want[4] = {0, 1, 0, 2}, other[4] = {0, 1, 1, 2};
    CHECK(lcv_loss_correct_map(x, want, 1, 3, 4) == 4);
    CHECK(lcv_loss_correct_map(x, other, 1, 3, 4) == 3); /* a tie goes to the first class */
    CHECK(lcv_loss_correct_map(x, NULL, 1, 3, 4) == 0);
}

static void check_errors(void) {
    float x[8] = {0};
    int64_t y[4] = {0, 1, 2, 1};
    float d[8];
    double loss;
    lcv_err e;
    CHECK(lcv_loss_softmax_ce_map(x, y, 1, 2, 4, 0.0f, d, &loss, NULL, &e) == LCV_ERR_INVALID_ARG);
    CHECK_MSG(strstr(e.msg, "label 2 of image 0 at pixel 2") && strstr(e.msg, "[0, 2)"), "%s",
              e.msg);
    CHECK(lcv_loss_softmax_ce_map(x, NULL, 1, 2, 4, 0.0f, d, &loss, NULL, &e) ==
          LCV_ERR_INVALID_ARG);
    CHECK_MSG(strstr(e.msg, "no labels"), "%s", e.msg);
    CHECK(lcv_loss_softmax_ce_map(x, y, 1, 2, 0, 0.0f, d, &loss, NULL, &e) == LCV_ERR_SHAPE);
    CHECK_MSG(strstr(e.msg, "0 pixels"), "%s", e.msg);
    CHECK(lcv_loss_softmax_ce_map(x, y, 0, 2, 4, 0.0f, d, &loss, NULL, &e) == LCV_ERR_SHAPE);
    y[2] = 0;
    CHECK(lcv_loss_softmax_ce_map(x, y, 1, 2, 4, 1.0f, d, &loss, NULL, &e) == LCV_ERR_INVALID_ARG);
    CHECK_MSG(strstr(e.msg, "smoothing"), "%s", e.msg);
    CHECK(lcv_loss_softmax_ce_map(x, y, 1, 2, 4, 0.0f, d, &loss, NULL, &e) == LCV_OK);
    CHECK_NEAR(loss, log(2.0), 1e-12); /* equal logits: log(classes) */
}

int main(void) {
    check_fixture("segce_small", 0.0f);
    check_fixture("segce_chunks", 0.0f);
    check_fixture("segce_smooth", 0.1f);
    check_fixture("segce_large", 0.0f);
    check_fixture("segce_one", 0.05f);
    check_finite_differences(0.0f);
    check_finite_differences(0.1f);
    check_matches_rows();
    check_pool_independent();
    check_correct();
    check_errors();
    return lcv_test_finish("test_seg_loss");
}
