/* test_loss.c - NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss: reductions none/sum/mean,
 * class weights, ignore_index (also negative), N-d inputs, the log_prob output and bad input. */
#include "op_test_util.h"

static lcv_tensor *new_out(void) {
    int64_t z = 0;
    lcv_tensor *t = NULL;
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 1, &z, &t);
    return t;
}

typedef struct loss_case {
    const char *op;
    const char *reduction; /* NULL: default ("mean") */
    bool weighted;
    bool has_ignore;
    int64_t ignore;
} loss_case;

/* Runs a loss node on (x, labels[, weights]); y[0] gets the loss, y[1] (SCE only, may be NULL
 * in want_lp) the log_prob. Returns the status. */
static lcv_status run_loss(const loss_case *lc, const lcv_tensor *x, const lcv_tensor *lab,
                           const lcv_tensor *w, int n_out, lcv_tensor **y, char *msg) {
    optest t;
    int n_in = lc->weighted ? 3 : 2;
    optest_init(&t, lc->op, 13, n_in, n_out);
    if (lc->reduction) optest_attr_str(&t, "reduction", lc->reduction);
    if (lc->has_ignore) optest_attr_int(&t, "ignore_index", lc->ignore);
    for (int i = 0; i < n_out; i++) y[i] = new_out();
    lcv_status st = optest_run(&t, n_in, (const lcv_tensor *const[]){x, lab, w}, n_out, y);
    if (msg) strcpy(msg, t.err.msg);
    optest_free(&t);
    return st;
}

static void expect(const loss_case *lc, const lcv_tensor *x, const lcv_tensor *lab,
                   const lcv_tensor *w, const double *want, int64_t n, const double *want_lp) {
    lcv_tensor *y[2];
    char msg[LCV_ERRMSG_CAP];
    int n_out = want_lp ? 2 : 1;
    lcv_status st = run_loss(lc, x, lab, w, n_out, y, msg);
    CHECK_MSG(st == LCV_OK, "%s", msg);
    if (st == LCV_OK) {
        CHECK(y[0]->dtype == x->dtype);
        CHECK(lc->reduction && strcmp(lc->reduction, "none") == 0 ? y[0]->ndim == lab->ndim
                                                                   : y[0]->ndim == 0);
        CHECK_MSG(optest_close(y[0], want, n, 1e-6, 1e-6), "%s %s", lc->op,
                  lc->reduction ? lc->reduction : "mean");
        if (want_lp)
            CHECK(lcv_shape_equal(y[1]->ndim, y[1]->dims, x->ndim, x->dims) &&
                  optest_close(y[1], want_lp, lcv_tensor_count(x), 1e-6, 1e-6));
    }
    for (int i = 0; i < n_out; i++) lcv_tensor_free(y[i]);
}

static void test_nll(void) {
    const int64_t dx[2] = {2, 3}, dl[1] = {2}, dw[1] = {3};
    lcv_tensor *x = optest_tensor(LCV_DTYPE_FLOAT32, 2, dx,
                                  (const double[]){-1, -2, -3, -0.5, -1.5, -2.5});
    lcv_tensor *lab = optest_tensor(LCV_DTYPE_INT64, 1, dl, (const double[]){0, 2});
    lcv_tensor *w = optest_tensor(LCV_DTYPE_FLOAT32, 1, dw, (const double[]){1, 2, 3});
    const char *nll = "NegativeLogLikelihoodLoss";
    expect(&(loss_case){nll, "none", false, false, 0}, x, lab, NULL, (const double[]){1, 2.5}, 2,
           NULL);
    expect(&(loss_case){nll, "sum", false, false, 0}, x, lab, NULL, (const double[]){3.5}, 1, NULL);
    expect(&(loss_case){nll, NULL, false, false, 0}, x, lab, NULL, (const double[]){1.75}, 1, NULL);
    expect(&(loss_case){nll, "none", true, false, 0}, x, lab, w, (const double[]){1, 7.5}, 2, NULL);
    expect(&(loss_case){nll, "sum", true, false, 0}, x, lab, w, (const double[]){8.5}, 1, NULL);
    /* mean divides by the summed weights of the picked classes: 8.5 / (1 + 3) */
    expect(&(loss_case){nll, "mean", true, false, 0}, x, lab, w, (const double[]){2.125}, 1, NULL);
    /* ignoring class 2 drops the second sample from the sum and from the divisor */
    expect(&(loss_case){nll, "mean", true, true, 2}, x, lab, w, (const double[]){1}, 1, NULL);
    expect(&(loss_case){nll, "none", false, true, 2}, x, lab, NULL, (const double[]){1, 0}, 2,
           NULL);

    /* a negative ignore_index matches negative labels, which are otherwise out of range */
    lcv_tensor *lneg = optest_tensor(LCV_DTYPE_INT32, 1, dl, (const double[]){-1, 1});
    expect(&(loss_case){nll, "mean", false, true, -1}, x, lneg, NULL, (const double[]){1.5}, 1,
           NULL);
    lcv_tensor *y[1];
    char msg[LCV_ERRMSG_CAP];
    CHECK(run_loss(&(loss_case){nll, "mean", false, false, 0}, x, lneg, NULL, 1, y, msg) ==
          LCV_ERR_INVALID_ARG);
    CHECK(strstr(msg, "label -1") != NULL);
    lcv_tensor_free(y[0]);
    lcv_tensor *lbig = optest_tensor(LCV_DTYPE_INT64, 1, dl, (const double[]){0, 3});
    CHECK(run_loss(&(loss_case){nll, "none", false, false, 0}, x, lbig, NULL, 1, y, msg) ==
          LCV_ERR_INVALID_ARG);
    lcv_tensor_free(y[0]);

    /* bad shapes, dtypes and attributes */
    lcv_tensor *lf = optest_tensor(LCV_DTYPE_FLOAT32, 1, dl, (const double[]){0, 1});
    lcv_tensor *l3 = optest_tensor(LCV_DTYPE_INT64, 1, dw, (const double[]){0, 1, 2});
    lcv_tensor *w2 = optest_tensor(LCV_DTYPE_FLOAT32, 1, dl, (const double[]){1, 1});
    lcv_tensor *x1 = optest_tensor(LCV_DTYPE_FLOAT32, 1, dw, (const double[]){1, 1, 1});
    CHECK(run_loss(&(loss_case){nll, NULL, false, false, 0}, x, lf, NULL, 1, y, NULL) ==
          LCV_ERR_SHAPE);
    lcv_tensor_free(y[0]);
    CHECK(run_loss(&(loss_case){nll, NULL, false, false, 0}, x, l3, NULL, 1, y, NULL) ==
          LCV_ERR_SHAPE);
    lcv_tensor_free(y[0]);
    CHECK(run_loss(&(loss_case){nll, NULL, true, false, 0}, x, lab, w2, 1, y, NULL) ==
          LCV_ERR_SHAPE);
    lcv_tensor_free(y[0]);
    CHECK(run_loss(&(loss_case){nll, NULL, false, false, 0}, x1, lab, NULL, 1, y, NULL) ==
          LCV_ERR_SHAPE);
    lcv_tensor_free(y[0]);
    CHECK(run_loss(&(loss_case){nll, "avg", false, false, 0}, x, lab, NULL, 1, y, msg) ==
          LCV_ERR_INVALID_ARG);
    CHECK(strstr(msg, "'avg'") != NULL);
    lcv_tensor_free(y[0]);
    lcv_tensor *lab_i = optest_tensor(LCV_DTYPE_INT64, 1, dl, (const double[]){0, 0});
    CHECK(run_loss(&(loss_case){nll, NULL, false, false, 0}, lab_i, lab, NULL, 1, y, NULL) ==
          LCV_ERR_UNSUPPORTED);
    lcv_tensor_free(y[0]);
    lcv_tensor *f64w = optest_tensor(LCV_DTYPE_FLOAT64, 1, dw, (const double[]){1, 1, 1});
    CHECK(run_loss(&(loss_case){nll, NULL, true, false, 0}, x, lab, f64w, 1, y, NULL) ==
          LCV_ERR_SHAPE);
    lcv_tensor_free(y[0]);

    lcv_tensor *ts[] = {x, lab, w, lneg, lbig, lf, l3, w2, x1, lab_i, f64w};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) lcv_tensor_free(ts[i]);
}

static void test_sce(void) {
    const char *sce = "SoftmaxCrossEntropyLoss";
    const int64_t dx[2] = {2, 3}, dl[1] = {2};
    lcv_tensor *x = optest_tensor(LCV_DTYPE_FLOAT32, 2, dx, (const double[]){1, 2, 3, 1, 1, 1});
    lcv_tensor *lab = optest_tensor(LCV_DTYPE_INT64, 1, dl, (const double[]){2, 0});
    const double a = 0.40760596444438, b = 1.09861228866811; /* -log_softmax of the labels */
    const double lp[6] = {-2.40760596444438, -1.40760596444438, -a, -b, -b, -b};
    expect(&(loss_case){sce, NULL, false, false, 0}, x, lab, NULL, (const double[]){(a + b) / 2},
           1, lp);
    expect(&(loss_case){sce, "none", false, false, 0}, x, lab, NULL, (const double[]){a, b}, 2, lp);
    expect(&(loss_case){sce, "sum", false, false, 0}, x, lab, NULL, (const double[]){a + b}, 1,
           NULL);
    lcv_tensor *w = optest_tensor(LCV_DTYPE_FLOAT32, 1, (const int64_t[]){3},
                                  (const double[]){4, 1, 2});
    expect(&(loss_case){sce, "mean", true, false, 0}, x, lab, w,
           (const double[]){(2 * a + 4 * b) / 6}, 1, lp);
    expect(&(loss_case){sce, "mean", true, true, 0}, x, lab, w, (const double[]){a}, 1, NULL);

    /* N-d: N=1, C=2, D=2; class scores (0, 1) at d0 and (0, 2) at d1, labels (1, 0) */
    lcv_tensor *x3 = optest_tensor(LCV_DTYPE_FLOAT64, 3, (const int64_t[]){1, 2, 2},
                                   (const double[]){0, 0, 1, 2});
    lcv_tensor *l3 = optest_tensor(LCV_DTYPE_INT32, 2, (const int64_t[]){1, 2},
                                   (const double[]){1, 0});
    const double c0 = 0.31326168751822286, c1 = 2.1269280110429727;
    expect(&(loss_case){sce, "none", false, false, 0}, x3, l3, NULL, (const double[]){c0, c1}, 2,
           (const double[]){-1.31326168751822286, -c1, -c0, -0.12692801104297263});
    expect(&(loss_case){"NegativeLogLikelihoodLoss", "sum", false, false, 0}, x3, l3, NULL,
           (const double[]){-1}, 1, NULL);

    /* label shape must follow (N, D1..Dk) */
    lcv_tensor *y[2];
    lcv_tensor *lbad = optest_tensor(LCV_DTYPE_INT32, 2, (const int64_t[]){1, 3}, NULL);
    CHECK(run_loss(&(loss_case){sce, NULL, false, false, 0}, x3, lbad, NULL, 2, y, NULL) ==
          LCV_ERR_SHAPE);
    lcv_tensor_free(y[0]);
    lcv_tensor_free(y[1]);
    lcv_tensor *ts[] = {x, lab, w, x3, l3, lbad};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) lcv_tensor_free(ts[i]);
}

int main(void) {
    test_nll();
    test_sce();
    return lcv_test_finish("ops_loss");
}
