/* calib.c - calibration statistics and calibrators: a histogram of |x| per activation, and the
 * four ways of choosing a clip from it (min-max, percentile, entropy as TensorRT does, MSE),
 * as pure functions of the counts so tests can check them against numpy. Activation
 * quantization parameters from the chosen range. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compress.h"

lcv_status lcv_hist_init(lcv_hist *h, int n, lcv_err *e) {
    memset(h, 0, sizeof *h);
    h->count = calloc((size_t)(n > 0 ? n : 1), sizeof(double));
    if (!h->count) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory for a %d-bin histogram", n);
    h->n = n;
    h->lo = INFINITY;
    h->hi = -INFINITY;
    return LCV_OK;
}

void lcv_hist_free(lcv_hist *h) {
    if (!h) return;
    free(h->count);
    h->count = NULL;
}

void lcv_hist_range(lcv_hist *h, const float *x, int64_t n) {
    float lo = h->lo, hi = h->hi;
    for (int64_t i = 0; i < n; i++) {
        if (x[i] < lo) lo = x[i];
        if (x[i] > hi) hi = x[i];
    }
    h->lo = lo;
    h->hi = hi;
}

void lcv_hist_add(lcv_hist *h, const float *x, int64_t n) {
    if (!(h->amax > 0)) return; /* all zero (or nothing finite): nothing to clip */
    double inv = h->n / h->amax;
    for (int64_t i = 0; i < n; i++) {
        double a = fabs((double)x[i]);
        if (a != a || a == 0) continue;
        double b = a * inv;
        int k = b >= h->n ? h->n - 1 : (int)b;
        h->count[k] += 1.0;
    }
}

static double total(const double *c, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += c[i];
    return s;
}

double lcv_calib_percentile(const double *count, int n, double amax, double pct) {
    double tot = total(count, n), want = tot * pct / 100.0, run = 0;
    if (!(tot > 0)) return amax;
    for (int i = 0; i < n; i++) {
        run += count[i];
        if (run >= want) return (i + 1) * (amax / n);
    }
    return amax;
}

/* KL(p||q) of candidate i for the entropy calibrator (see compress.h); p, q: scratch [i]. */
static double kl_candidate(const double *count, int n, int i, int levels, double *p, double *q) {
    memcpy(p, count, sizeof(double) * (size_t)i);
    for (int k = i; k < n; k++) p[i - 1] += count[k];
    for (int j = 0; j < levels; j++) {
        int a = (int)((int64_t)j * i / levels), b = (int)((int64_t)(j + 1) * i / levels);
        double sum = 0;
        int nz = 0;
        for (int k = a; k < b; k++) {
            sum += count[k];
            nz += count[k] != 0;
        }
        for (int k = a; k < b; k++) q[k] = count[k] != 0 ? sum / nz : 0.0;
    }
    double sp = total(p, i), sq = total(q, i), kl = 0;
    if (!(sp > 0) || !(sq > 0)) return INFINITY;
    for (int k = 0; k < i; k++) {
        if (p[k] <= 0) continue;
        double pk = p[k] / sp, qk = q[k] / sq;
        kl += pk * log(pk / (qk > 1e-12 ? qk : 1e-12));
    }
    return kl;
}

double lcv_calib_entropy(const double *count, int n, double amax, int levels) {
    if (levels < 2 || levels > n || !(total(count, n) > 0)) return amax;
    double *p = malloc(sizeof(double) * (size_t)n * 2);
    if (!p) return amax; /* the widest clip: never worse than min-max */
    double best = INFINITY;
    int best_i = n;
    for (int i = levels; i <= n; i++) {
        double kl = kl_candidate(count, n, i, levels, p, p + n);
        if (kl < best) {
            best = kl;
            best_i = i;
        }
    }
    free(p);
    return best_i * (amax / n);
}

double lcv_calib_mse(const double *count, int n, double amax, int levels) {
    if (levels < 2 || !(total(count, n) > 0)) return amax;
    double w = amax / n, best = INFINITY;
    int best_i = n;
    for (int i = 1; i <= n; i++) {
        double t = i * w, d = t / (levels - 1), err = 0;
        for (int k = 0; k < n; k++) {
            if (count[k] == 0) continue;
            double c = (k + 0.5) * w;
            double r = c < t ? c - nearbyint(c / d) * d : c - t;
            err += count[k] * r * r;
        }
        if (err < best) {
            best = err;
            best_i = i;
        }
    }
    return best_i * w;
}

void lcv_act_qparams(float lo, float hi, bool int8_sym, float *scale, int32_t *zp) {
    if (lo > 0) lo = 0;
    if (hi < 0) hi = 0;
    if (int8_sym) {
        float a = fmaxf(-lo, hi);
        *scale = a > 0 ? a / 127.0f : 1.0f;
        *zp = 0;
        return;
    }
    float s = (hi - lo) / 255.0f;
    if (!(s > 0)) s = 1.0f;
    double z = nearbyint(-(double)lo / s);
    *scale = s;
    *zp = (int32_t)(z < 0 ? 0 : z > 255 ? 255 : z);
}
