/* train_test_util.h - helpers for the training tests: reading the PyTorch fixtures
 * (make_fixtures.py writes them to LCV_TRAIN_FIXTURES at test time) and comparing arrays. */
#ifndef LCV_TRAIN_TEST_UTIL_H
#define LCV_TRAIN_TEST_UTIL_H

#include <math.h>
#include <stdio.h>

#include "core/core.h"
#include "harness.h"

#ifndef LCV_TRAIN_FIXTURES
#define LCV_TRAIN_FIXTURES "build/tests/train/fixtures"
#endif

/* Reads fixture NAME.npy; NULL (and a failed check) when missing. Caller frees. */
static inline lcv_tensor *fx_load(const char *name) {
    char path[1024], err[256];
    snprintf(path, sizeof path, "%s/%s.npy", LCV_TRAIN_FIXTURES, name);
    lcv_tensor *t = NULL;
    lcv_status st = lcv_npy_read_file(path, &t, err, sizeof err);
    CHECK_MSG(st == LCV_OK, "fixture %s: %s", path, err);
    return st == LCV_OK ? t : NULL;
}

static inline double fx_scalar(const char *name) {
    lcv_tensor *t = fx_load(name);
    double v = t ? lcv_load_f64(t->dtype, t->data, 0) : NAN;
    lcv_tensor_free(t);
    return v;
}

/* Counts elements of got (float32, n of them) that differ from want (any float tensor) by
 * more than atol + rtol * |want|, printing the first few. */
static inline int fx_compare(const char *what, const float *got, const lcv_tensor *want,
                             int64_t n, double atol, double rtol) {
    if (!want || lcv_tensor_count(want) != n) {
        fprintf(stderr, "%s: fixture has %lld elements, expected %lld\n", what,
                want ? (long long)lcv_tensor_count(want) : -1LL, (long long)n);
        return 1;
    }
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        double w = lcv_load_f64(want->dtype, want->data, i), g = got[i];
        if (!(fabs(g - w) <= atol + rtol * fabs(w))) {
            if (bad < 5)
                fprintf(stderr, "%s[%lld]: got %.9g, PyTorch %.9g\n", what, (long long)i, g, w);
            bad++;
        }
    }
    return bad;
}

#endif
