/* test_calib.c - the calibrators of src/compress/calib.c against the numpy reference
 * (calib_ref.py, run as the fixture step) on fixed histograms, the histogram itself, and the
 * activation quantization parameters. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compress/compress.h"
#include "harness.h"

static void check_reference(const char *path) {
    FILE *f = fopen(path, "r");
    CHECK_MSG(f != NULL, "cannot open %s (the fixture step writes it)", path);
    if (!f) return;
    char name[64], method[32];
    double param, amax, want;
    int n, cases = 0;
    while (fscanf(f, "%63s %31s %lf %d %lf %lf", name, method, &param, &n, &amax, &want) == 6) {
        double *c = malloc(sizeof(double) * (size_t)n);
        int got_all = 1;
        for (int i = 0; i < n && c; i++) got_all &= fscanf(f, "%lf", &c[i]) == 1;
        CHECK(c && got_all);
        if (!c || !got_all) {
            free(c);
            break;
        }
        double t = strcmp(method, "percentile") == 0 ? lcv_calib_percentile(c, n, amax, param)
                   : strcmp(method, "entropy") == 0  ? lcv_calib_entropy(c, n, amax, (int)param)
                                                     : lcv_calib_mse(c, n, amax, (int)param);
        CHECK_MSG(fabs(t - want) <= 1e-9 * amax, "%s %s %g: %.9g, numpy %.9g", name, method,
                  param, t, want);
        cases++;
        free(c);
    }
    fclose(f);
    CHECK_MSG(cases >= 40, "only %d reference cases read", cases);
}

static void check_hist(void) {
    lcv_hist h;
    lcv_err e;
    CHECK(lcv_hist_init(&h, 4, &e) == LCV_OK);
    const float x[] = {-3.0f, 0.5f, 1.0f, 2.0f, 3.9f, 4.0f, NAN, 9.0f, 0.0f, -0.0f};
    lcv_hist_range(&h, x, 10);
    CHECK(h.lo == -3.0f && h.hi == 9.0f);
    h.amax = 4.0;
    lcv_hist_add(&h, x, 10);
    /* bins of width 1: |x| 3, .5, 1, 2, 3.9, 4 (last bin), NaN skipped, 9 (last bin), zeros
     * skipped */
    CHECK(h.count[0] == 1 && h.count[1] == 1 && h.count[2] == 1 && h.count[3] == 4);
    lcv_hist_free(&h);
}

static void check_qparams(void) {
    float s;
    int32_t zp;
    lcv_act_qparams(0.0f, 6.0f, false, &s, &zp);
    CHECK(fabsf(s - 6.0f / 255.0f) < 1e-9f && zp == 0);
    lcv_act_qparams(-1.0f, 3.0f, false, &s, &zp);
    CHECK(fabsf(s - 4.0f / 255.0f) < 1e-9f && zp == 64); /* round(1 / (4/255)) = 64 */
    lcv_act_qparams(-2.0f, 1.0f, true, &s, &zp);
    CHECK(fabsf(s - 2.0f / 127.0f) < 1e-9f && zp == 0);
    lcv_act_qparams(2.0f, 5.0f, false, &s, &zp); /* widened to include 0 */
    CHECK(fabsf(s - 5.0f / 255.0f) < 1e-9f && zp == 0);
    lcv_act_qparams(0.0f, 0.0f, false, &s, &zp);
    CHECK(s == 1.0f && zp == 0);
}

int main(int argc, char **argv) {
    check_reference(argc > 1 ? argv[1] : LCV_CALIB_REF);
    check_hist();
    check_qparams();
    return lcv_test_finish("test_calib");
}
