/* train_test_util.h - helpers for the training tests: reading the PyTorch fixtures
 * (make_fixtures.py writes them to LCV_TRAIN_FIXTURES at test time) and comparing arrays. */
#ifndef LCV_TRAIN_TEST_UTIL_H
#define LCV_TRAIN_TEST_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Reads the whole file at path into *data (caller frees); 0 on success. */
static inline int fx_read_file(const char *path, unsigned char **data, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    *data = malloc(*n + 1);
    size_t got = *data ? fread(*data, 1, *n, f) : 0;
    fclose(f);
    return got == *n ? 0 : -1;
}

/* Whether files a and b hold the same bytes (false when either cannot be read). */
static inline bool fx_same_files(const char *a, const char *b) {
    unsigned char *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    bool same = fx_read_file(a, &x, &nx) == 0 && fx_read_file(b, &y, &ny) == 0 && nx == ny &&
                memcmp(x, y, nx) == 0;
    free(x);
    free(y);
    return same;
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
