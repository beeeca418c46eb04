/* sums.h - float32 sums in double precision for normalisation statistics and their gradients
 * (BatchNorm, LayerNorm, InstanceNorm backward and training forward): 8 interleaved partial
 * sums combined in a fixed order, so every ISA level gives the same bits (the vector kernels
 * keep the scalar lanes, they only compute them side by side). */
#ifndef LCV_KERNELS_F32_SUMS_H
#define LCV_KERNELS_F32_SUMS_H

#include <stdint.h>

#include "core/cpu.h"

typedef struct lcv_f32_sums {
    /* sum p[i] */
    double (*sum)(const float *p, int64_t n);
    /* sum (p[i] - m)^2 */
    double (*sumsq)(const float *p, int64_t n, double m);
    /* *sg += sum g[i]; *sgx += sum g[i] * (x[i] - m) */
    void (*sum_gx)(const float *g, const float *x, int64_t n, double m, double *sg, double *sgx);
    /* sum_gx with g[i] taken as 0 where lcv_relu_passes(x[i], a, b) is false: the gradient of
     * BatchNorm's input when a Relu follows it (y = max(x a + b, 0)), without a separate pass
     * that masks g */
    void (*sum_gx_relu)(const float *g, const float *x, int64_t n, double m, float a, float b,
                        double *sg, double *sgx);
} lcv_f32_sums;

/* x a + b with the product rounded before the sum (two statements: no fused multiply-add),
 * so that a forward and a backward that both use it agree on every element. */
static inline float lcv_affine_f32(float x, float a, float b) {
    float y = x * a;
    return y + b;
}

/* Whether a Relu after the affine map x a + b passes its gradient. */
static inline int lcv_relu_passes(float x, float a, float b) {
    return lcv_affine_f32(x, a, b) > 0.0f;
}

/* The kernels for isa (a level this CPU runs; others get the scalar ones). Static storage. */
const lcv_f32_sums *lcv_f32_sums_for(lcv_isa isa);

#endif
