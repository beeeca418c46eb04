/* sums_internal.h - what the scalar and vector sums share: the fixed combination of the 8
 * lanes and the scalar tails, so only the 8-wide main loops differ between ISA levels. */
#ifndef LCV_KERNELS_F32_SUMS_INTERNAL_H
#define LCV_KERNELS_F32_SUMS_INTERNAL_H

#include "sums.h"

static inline double lcv_sums_combine8(const double *a) {
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

static inline double lcv_sumsq_tail(const float *p, int64_t n, double m) {
    double t = 0;
    for (int64_t i = 0; i < n; i++) t += (p[i] - m) * (p[i] - m);
    return t;
}

/* Adds the lanes a (sum g) and b (sum g (x - m)) and the tail's terms to *sg and *sgx. */
static inline void lcv_sum_gx_finish(const double *a, const double *b, const float *g,
                                     const float *x, int64_t n, double m, double *sg,
                                     double *sgx) {
    double ta = 0, tb = 0;
    for (int64_t i = 0; i < n; i++) {
        ta += g[i];
        tb += g[i] * (x[i] - m);
    }
    *sg += lcv_sums_combine8(a) + ta;
    *sgx += lcv_sums_combine8(b) + tb;
}

/* lcv_sum_gx_finish for sum_gx_relu: the tail's g masked the same way. */
static inline void lcv_sum_gx_relu_finish(const double *a, const double *b, const float *g,
                                          const float *x, int64_t n, double m, float fa,
                                          float fb, double *sg, double *sgx) {
    double ta = 0, tb = 0;
    for (int64_t i = 0; i < n; i++) {
        double gi = lcv_relu_passes(x[i], fa, fb) ? g[i] : 0.0;
        ta += gi;
        tb += gi * (x[i] - m);
    }
    *sg += lcv_sums_combine8(a) + ta;
    *sgx += lcv_sums_combine8(b) + tb;
}

#if defined(__x86_64__)
extern const lcv_f32_sums lcv_f32_sums_avx2;
#endif

#endif
