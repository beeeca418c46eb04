/* gemv.h - y[1, N] = x[1, K] * B[K, N] (+ bias, + residual, activation) for batch-1 linear
 * layers, reading B in the packed panel layout of the GEMM (lcv_gemm_pack_b for the same ISA)
 * so a plan keeps one copy of the weights for both. The product is memory-bound: the kernels
 * stream several panels at once with independent accumulators so the loads, not the FMA
 * latency, set the pace. Per-ISA kernels (scalar, AVX2, AVX-512); threads split the panels. */
#ifndef LCV_GEMV_H
#define LCV_GEMV_H

#include <stdint.h>

#include "../../core/act.h"
#include "../../core/threadpool.h"
#include "leancv.h"

typedef struct lcv_gemv_args {
    lcv_isa isa;           /* the ISA B was packed for (lcv_gemm_pack_b) */
    int64_t k, n;          /* k >= 1, n >= 1 */
    const float *x;        /* k values */
    /* lcv_gemm_pack_b(isa, k, n, ...): element (k, j) at [(j / nr) * nr * K + k * nr + j % nr]
     * with nr from lcv_gemm_tile_dims(isa) - the layout this kernel relies on */
    const float *packed_b;
    const float *bias;     /* n values or NULL */
    const float *residual; /* n values or NULL */
    const lcv_fused *act;  /* only act/alpha/beta are used; NULL = none */
    float *y;              /* n values; must not alias the inputs */
} lcv_gemv_args;

/* Computes y[j] = act(sum_k x[k] B[k, j] + bias[j] + residual[j]); every sum runs over k in
 * increasing order, so the result does not depend on the thread count. */
void lcv_gemv_run(const lcv_gemv_args *a, lcv_threadpool *pool);

/* Panels [p0, p1) of nr columns each (the last may be partial: columns past n are not
 * stored); sums only (no epilogue). Per ISA; lcv_gemv_run picks them. */
typedef void (*lcv_gemv_panels_fn)(const lcv_gemv_args *a, int nr, int64_t p0, int64_t p1);
#if defined(__x86_64__)
void lcv_gemv_panels_avx2(const lcv_gemv_args *a, int nr, int64_t p0, int64_t p1);
void lcv_gemv_panels_avx512(const lcv_gemv_args *a, int nr, int64_t p0, int64_t p1);
#endif

#endif /* LCV_GEMV_H */
