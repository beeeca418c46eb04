/* sums.c - the scalar sums of sums.h (the reference every ISA level reproduces bit for bit)
 * and the per-ISA choice. */
#include "sums.h"
#include "sums_internal.h"

static double sum_scalar(const float *p, int64_t n) {
    double a[8] = {0}, t = 0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) a[k] += p[i + k];
    for (; i < n; i++) t += p[i];
    return lcv_sums_combine8(a) + t;
}

static double sumsq_scalar(const float *p, int64_t n, double m) {
    double a[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) {
            double d = p[i + k] - m;
            a[k] += d * d;
        }
    return lcv_sums_combine8(a) + lcv_sumsq_tail(p + i, n - i, m);
}

static void sum_gx_scalar(const float *g, const float *x, int64_t n, double m, double *sg,
                          double *sgx) {
    double a[8] = {0}, b[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) {
            a[k] += g[i + k];
            b[k] += g[i + k] * (x[i + k] - m);
        }
    lcv_sum_gx_finish(a, b, g + i, x + i, n - i, m, sg, sgx);
}

static void sum_gx_relu_scalar(const float *g, const float *x, int64_t n, double m, float fa,
                               float fb, double *sg, double *sgx) {
    double a[8] = {0}, b[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) {
            float gf = g[i + k]; /* read unconditionally, so that the loop vectorises */
            double gk = lcv_relu_passes(x[i + k], fa, fb) ? gf : 0.0f;
            a[k] += gk;
            b[k] += gk * (x[i + k] - m);
        }
    lcv_sum_gx_relu_finish(a, b, g + i, x + i, n - i, m, fa, fb, sg, sgx);
}

static const lcv_f32_sums SCALAR = {sum_scalar, sumsq_scalar, sum_gx_scalar,
                                    sum_gx_relu_scalar};

const lcv_f32_sums *lcv_f32_sums_for(lcv_isa isa) {
#if defined(__x86_64__)
    if (isa == LCV_ISA_AVX2 || isa == LCV_ISA_AVX512) return &lcv_f32_sums_avx2;
#else
    (void)isa;
#endif
    return &SCALAR;
}
