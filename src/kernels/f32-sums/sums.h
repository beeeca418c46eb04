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
} lcv_f32_sums;

/* The kernels for isa (a level this CPU runs; others get the scalar ones). Static storage. */
const lcv_f32_sums *lcv_f32_sums_for(lcv_isa isa);

#endif
