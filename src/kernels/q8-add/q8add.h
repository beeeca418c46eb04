/* q8add.h - the residual junction of a quantized network on 8-bit integers (QLinearAdd with
 * an optional fused Relu): y = Q(relu?(DQ(a) + DQ(b))), bit for bit as leancv's float chain
 * DequantizeLinear x2 -> Add -> [Relu] -> QuantizeLinear computes it (src/ops/quant.c): each
 * operand (float)(q - z) * s in float32, their float32 sum, the quotient by the output scale
 * in float32 (a division, not a reciprocal product), rounded half to even, saturated, NaN
 * stored as 0; a Relu then lifts results below the output zero point to it (the same as a
 * Relu before the quantization, which is monotone). One table per ISA (scalar, AVX2,
 * AVX-512). */
#ifndef LCV_Q8ADD_H
#define LCV_Q8ADD_H

#include <stdint.h>

#include "leancv.h"

/* Per-tensor parameters of one call. The zero points lie within the integer type's range. */
typedef struct lcv_q8add_params {
    float sa, sb, sy;     /* scales of a, b and y */
    int32_t za, zb, zy;   /* zero points */
    int relu;             /* nonzero: y = max(y, zy) */
} lcv_q8add_params;

typedef struct lcv_q8add_kernels {
    /* y[i] = the definition above on a[i], b[i], for i < n; y may alias a or b exactly */
    void (*add_u8)(const uint8_t *a, const uint8_t *b, uint8_t *y, int64_t n,
                   const lcv_q8add_params *p);
    void (*add_i8)(const int8_t *a, const int8_t *b, int8_t *y, int64_t n,
                   const lcv_q8add_params *p);
} lcv_q8add_kernels;

/* The table for isa (scalar where the ISA has no kernels of its own). Static, not owned. */
const lcv_q8add_kernels *lcv_q8add_kernels_for(lcv_isa isa);

extern const lcv_q8add_kernels lcv_q8add_kernels_scalar;
#if defined(__x86_64__)
extern const lcv_q8add_kernels lcv_q8add_kernels_avx2;
extern const lcv_q8add_kernels lcv_q8add_kernels_avx512;
#endif

/* nearbyintf(v) wherever the clamp to an 8-bit range can tell: for |v| < 2^22, v + 1.5 * 2^23
 * lands where floats are the integers, so the sum rounds v half to even (1.5 * 2^23 is even)
 * and the subtraction is exact; beyond, the result keeps v's side of +-2^22, far outside any
 * clamp range (the steps are monotone). Plain float32 arithmetic (x86-64 SSE, AArch64), not
 * the libm call that x86-64 without SSE4.1 makes of nearbyintf. NaN and +-Inf pass through. */
static inline float lcv_q8add_round(float v) {
    const float m = 12582912.0f;
    float s = v + m;
    return s - m;
}

/* One value, the definition every ISA's tail uses; lo..hi is the output type's range. Each
 * step is its own statement so that no compiler contracts the product and the sum into an
 * FMA (which the float chain, rounding twice, never does). */
static inline int32_t lcv_q8add1(int32_t a, int32_t b, const lcv_q8add_params *p, int32_t lo,
                                 int32_t hi) {
    float fa = (float)(a - p->za) * p->sa;
    float fb = (float)(b - p->zb) * p->sb;
    float t = fa + fb;
    float v = t / p->sy;
    int32_t q = 0;
    if (v == v) {
        float r = lcv_q8add_round(v);
        float rl = (float)(lo - p->zy), rh = (float)(hi - p->zy);
        r = r < rl ? rl : r > rh ? rh : r;
        q = (int32_t)r + p->zy;
    }
    return p->relu && q < p->zy ? p->zy : q;
}

#endif
