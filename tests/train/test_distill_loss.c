/* test_distill_loss.c - the distillation losses (src/train/loss.c lcv_loss_kd and
 * distill_loss.c) against PyTorch (distill_fixtures.py): values and gradients of weighted KD,
 * FitNets hints through a 1x1 adapter, attention transfer and RKD within 1e-5; gradients are
 * added to what the buffer holds; argument errors. */
#include <stdlib.h>
#include <string.h>

#include "train/loss.h"
#include "train_test_util.h"

#define TOL 1e-5

static lcv_tensor *load2(const char *name, const char *suffix) {
    char b[128];
    snprintf(b, sizeof b, "%s_%s", name, suffix);
    return fx_load(b);
}

static double want_loss(const char *name, int64_t i) {
    lcv_tensor *t = load2(name, "loss");
    double v = t && i < lcv_tensor_count(t) ? lcv_load_f64(t->dtype, t->data, i) : NAN;
    lcv_tensor_free(t);
    return v;
}

/* A gradient buffer pre-filled with 0.25 (the losses add to it) and the check that undoes it. */
static float *prefilled(int64_t n) {
    float *d = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) d[i] = 0.25f;
    return d;
}

static int compare_added(const char *what, float *d, const lcv_tensor *want, int64_t n) {
    for (int64_t i = 0; i < n; i++) d[i] -= 0.25f;
    return fx_compare(what, d, want, n, TOL, TOL);
}

#define CHECK_LOSS(name, got, want)                                                               \
    CHECK_MSG(fabs((got) - (want)) <= TOL * (1 + fabs(want)), "%s loss %.9g vs %.9g", name,      \
              (double)(got), (double)(want))

static void check_kdw(const char *name, double w_kd, double w_ce, float temp, float smoothing) {
    lcv_tensor *s = load2(name, "s"), *t = load2(name, "t"), *y = load2(name, "y"),
               *g = load2(name, "grad");
    double want = want_loss(name, 0), loss = 0;
    if (s && t && y && g) {
        int64_t n = s->dims[0], k = s->dims[1];
        float *d = prefilled(n * k);
        lcv_err e;
        CHECK(lcv_loss_kd(s->data, t->data, y->data, n, k, w_kd, w_ce, temp, smoothing, d, &loss,
                          &e) == LCV_OK);
        CHECK_LOSS(name, loss, want);
        CHECK_MSG(compare_added(name, d, g, n * k) == 0, "%s gradient", name);
        free(d);
    }
    lcv_tensor_free(s);
    lcv_tensor_free(t);
    lcv_tensor_free(y);
    lcv_tensor_free(g);
}

static void check_hint(const char *name, double weight, bool bias) {
    lcv_tensor *xs = load2(name, "xs"), *ft = load2(name, "ft"), *w = load2(name, "w"),
               *b = load2(name, "b"), *dxs = load2(name, "dxs"), *dw = load2(name, "dw"),
               *db = load2(name, "db");
    double want = want_loss(name, 0), loss = 0;
    if (xs && ft && w && b && dxs && dw && db) {
        int64_t n = xs->dims[0], cs = xs->dims[1], ct = ft->dims[1],
                hw = xs->dims[2] * xs->dims[3];
        float *d = prefilled(n * cs * hw), *gw = malloc(sizeof(float) * (size_t)(ct * cs)),
              *gb = malloc(sizeof(float) * (size_t)ct);
        lcv_err e;
        CHECK(lcv_loss_hint(xs->data, n, cs, hw, w->data, bias ? b->data : NULL, ct, ft->data,
                            weight, d, gw, gb, &loss, &e) == LCV_OK);
        CHECK_LOSS(name, loss, want);
        CHECK_MSG(compare_added(name, d, dxs, n * cs * hw) == 0, "%s d student", name);
        CHECK_MSG(fx_compare(name, gw, dw, ct * cs, TOL, TOL) == 0, "%s d weight", name);
        if (bias) CHECK_MSG(fx_compare(name, gb, db, ct, TOL, TOL) == 0, "%s d bias", name);
        free(d);
        free(gw);
        free(gb);
    }
    lcv_tensor *all[] = {xs, ft, w, b, dxs, dw, db};
    for (int i = 0; i < 7; i++) lcv_tensor_free(all[i]);
}

static void check_at(const char *name, double beta) {
    lcv_tensor *fs = load2(name, "fs"), *ft = load2(name, "ft"), *g = load2(name, "grad");
    double want = want_loss(name, 0), loss = 0;
    if (fs && ft && g) {
        int64_t n = fs->dims[0], cs = fs->dims[1], ct = ft->dims[1],
                hw = fs->dims[2] * fs->dims[3];
        float *d = prefilled(n * cs * hw);
        lcv_err e;
        CHECK(lcv_loss_at(fs->data, cs, ft->data, ct, n, hw, beta, d, &loss, &e) == LCV_OK);
        CHECK_LOSS(name, loss, want);
        CHECK_MSG(compare_added(name, d, g, n * cs * hw) == 0, "%s gradient", name);
        free(d);
    }
    lcv_tensor_free(fs);
    lcv_tensor_free(ft);
    lcv_tensor_free(g);
}

static void check_rkd(const char *name, double wd, double wa) {
    lcv_tensor *es = load2(name, "es"), *et = load2(name, "et"), *g = load2(name, "grad");
    double want = want_loss(name, 0), loss = 0, dist = -1, angle = -1;
    if (es && et && g) {
        int64_t n = es->dims[0], ds = es->dims[1], dt = et->dims[1];
        float *d = prefilled(n * ds);
        lcv_err e;
        CHECK(lcv_loss_rkd(es->data, ds, et->data, dt, n, wd, wa, d, &loss, &dist, &angle, &e) ==
              LCV_OK);
        CHECK_LOSS(name, loss, want);
        CHECK_LOSS(name, dist, want_loss(name, 1));
        CHECK_LOSS(name, angle, want_loss(name, 2));
        CHECK_MSG(compare_added(name, d, g, n * ds) == 0, "%s gradient", name);
        free(d);
    }
    lcv_tensor_free(es);
    lcv_tensor_free(et);
    lcv_tensor_free(g);
}

static void check_errors(void) {
    float x[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, d[12], w[4] = {1, 0, 0, 1};
    int64_t lab[2] = {0, 2};
    double loss;
    lcv_err e;
    CHECK(lcv_loss_kd(x, x, NULL, 2, 3, 1.0, 0.5, 2.0f, 0, d, &loss, &e) == LCV_ERR_INVALID_ARG);
    CHECK(lcv_loss_kd(x, x, NULL, 2, 3, 1.0, 0.0, 2.0f, 0, d, &loss, &e) == LCV_OK);
    CHECK(lcv_loss_kd(x, x, lab, 2, 3, -1.0, 1.0, 2.0f, 0, d, &loss, &e) == LCV_ERR_INVALID_ARG);
    CHECK(lcv_loss_kd(x, x, lab, 2, 3, 1.0, 1.0, 0.0f, 0, d, &loss, &e) == LCV_ERR_INVALID_ARG);
    CHECK(lcv_loss_hint(x, 0, 2, 3, w, NULL, 2, x, 1.0, d, NULL, NULL, &loss, &e) ==
          LCV_ERR_SHAPE);
    CHECK(lcv_loss_hint(x, 2, 2, 3, w, NULL, 2, x, NAN, d, NULL, NULL, &loss, &e) ==
          LCV_ERR_INVALID_ARG);
    CHECK(lcv_loss_at(x, 2, x, 2, 2, 0, 1.0, d, &loss, &e) == LCV_ERR_SHAPE);
    CHECK(lcv_loss_at(x, 2, x, 2, 2, 3, -1.0, d, &loss, &e) == LCV_ERR_INVALID_ARG);
    CHECK(lcv_loss_rkd(x, 3, x, 3, 1, 25, 50, d, &loss, NULL, NULL, &e) == LCV_ERR_SHAPE);
    CHECK_MSG(strstr(e.msg, "at least 2") != NULL, "%s", e.msg);
    /* a student equal to its teacher: every term and gradient vanishes */
    memset(d, 0, sizeof d);
    CHECK(lcv_loss_rkd(x, 3, x, 3, 4, 25, 50, d, &loss, NULL, NULL, &e) == LCV_OK);
    CHECK_NEAR(loss, 0.0, 1e-12);
    CHECK(lcv_loss_at(x, 2, x, 2, 2, 3, 10.0, d, &loss, &e) == LCV_OK);
    CHECK_NEAR(loss, 0.0, 1e-12);
    for (int i = 0; i < 12; i++) CHECK_NEAR(d[i], 0.0, 1e-9);
    /* identical embeddings (no positive distance): a zero term, not a NaN */
    float same[6] = {1, 2, 1, 2, 1, 2};
    CHECK(lcv_loss_rkd(same, 2, x, 2, 3, 1, 1, d, &loss, NULL, NULL, &e) == LCV_OK);
    CHECK(isfinite(loss));
}

int main(void) {
    check_kdw("kdw_dml", 1.0, 1.0, 1.0f, 0.0f);
    check_kdw("kdw_self", 0.3, 0.7, 3.0f, 0.1f);
    check_hint("hint_a", 1.0, true);
    check_hint("hint_b", 0.5, false);
    check_at("at_a", 1000.0);
    check_at("at_b", 2.5);
    check_rkd("rkd_a", 25.0, 50.0);
    check_rkd("rkd_b", 1.0, 0.0);
    check_rkd("rkd_c", 0.0, 2.0);
    check_errors();
    return lcv_test_finish("train_distill_loss");
}
