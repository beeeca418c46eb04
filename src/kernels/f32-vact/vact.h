/* vact.h - vectorised float32 elementwise kernels: activations (the fused ones with the
 * semantics of core/act.c, plus Erf, Exp and the ONNX Relu/HardSwish variants), two-operand
 * arithmetic rows, sums, and Softmax/LayerNormalization rows. One table of kernels per ISA
 * (scalar, AVX2+FMA, AVX-512), picked once from an lcv_isa. Kernels are pure row functions: no
 * allocation, no threads, no shapes. Building blocks for other kernels: vmath_<isa>.h. */
#ifndef LCV_VACT_H
#define LCV_VACT_H

#include <stdbool.h>
#include <stdint.h>

#include "../../core/act.h"
#include "leancv.h"

/* Elementwise functions. The first values are lcv_act_kind's, computed as lcv_act_f32 does:
 * bit for bit for the piecewise-linear ones; SIGMOID, SILU and TANH within a few ulp, with the
 * same results for +-inf, NaN and huge |x| (no spurious overflow). */
typedef enum lcv_vfn {
    LCV_VFN_NONE = LCV_ACT_NONE, /* copy */
    LCV_VFN_RELU = LCV_ACT_RELU, /* x > 0 ? x : 0 (NaN gives 0) */
    LCV_VFN_CLIP = LCV_ACT_CLIP, /* x < alpha ? alpha : x > beta ? beta : x */
    LCV_VFN_LEAKYRELU = LCV_ACT_LEAKYRELU,
    LCV_VFN_SIGMOID = LCV_ACT_SIGMOID,
    LCV_VFN_HARDSIGMOID = LCV_ACT_HARDSIGMOID,
    LCV_VFN_HARDSWISH = LCV_ACT_HARDSWISH, /* x * clamp(x / 6 + 1/2, 0, 1) */
    LCV_VFN_SILU = LCV_ACT_SILU,
    LCV_VFN_TANH = LCV_ACT_TANH,
    LCV_VFN_GELU = LCV_ACT_GELU, /* within 4 ulp, or 2.5e-7 |x| where 1 + erf cancels */
    /* ONNX ops whose reference differs from the fused form in rounding or NaN handling: */
    LCV_VFN_RELU_KEEP_NAN, /* x < 0 ? 0 : x: NaN and -0 pass through (ONNX Relu) */
    LCV_VFN_HARDSWISH_AB,  /* x * clamp(alpha * x + beta, 0, 1) (ONNX HardSwish: 1/6, 1/2) */
    LCV_VFN_ERF,           /* within 2 ulp; odd; +-1 at +-inf */
    LCV_VFN_EXP,           /* within 2 ulp; +inf above ~88.72, gradual underflow to 0 */
    LCV_VFN_COUNT
} lcv_vfn;

/* Two-operand arithmetic, computed exactly as the IEEE operation (identical to scalar C). */
typedef enum lcv_vbin {
    LCV_VBIN_ADD,  /* a + b */
    LCV_VBIN_SUB,  /* a - b */
    LCV_VBIN_MUL,  /* a * b */
    LCV_VBIN_DIV,  /* a / b */
    LCV_VBIN_RSUB, /* b - a */
    LCV_VBIN_RDIV  /* b / a */
} lcv_vbin;

typedef struct lcv_vact_kernels {
    lcv_isa isa; /* the level these kernels run at */
    /* y[i] = fn(x[i]) for i < n; alpha and beta as named in lcv_vfn. x may equal y. */
    void (*unary)(lcv_vfn fn, float alpha, float beta, const float *x, float *y, int64_t n);
    /* y[i] = a[i] op b[i * b_step] for i < n; b_step is 0 (b is one value) or 1. a or b may
     * equal y. */
    void (*binary)(lcv_vbin op, const float *a, const float *b, int64_t b_step, float *y,
                   int64_t n);
    /* The sum of x[0, n): float partial sums over blocks of 1024, added in double. */
    double (*sum)(const float *x, int64_t n);
    /* Softmax (logsm: LogSoftmax) of one contiguous row of n >= 1 values, as the reference in
     * src/ops/softmax.c computes it (max subtracted, sum in double). x may equal y. */
    void (*softmax)(const float *x, float *y, int64_t n, bool logsm);
    /* One row of LayerNormalization over n >= 1 values: y = (x - mean) * rstd * scale + bias,
     * rstd = 1 / sqrt(var + eps) (population variance); bias may be NULL. x may equal y. */
    void (*layernorm)(const float *x, const float *scale, const float *bias, float eps, float *y,
                      int64_t n);
} lcv_vact_kernels;

/* The kernels for isa: AVX2 and AVX-512 on x86-64 builds, scalar for every other value
 * (LCV_ISA_AUTO included: callers pass the concrete ISA they planned for). The caller makes
 * sure the CPU runs the ISA (lcv_isa_choose). */
const lcv_vact_kernels *lcv_vact_kernels_for(lcv_isa isa);

/* y[i] = act(y[i]) for the activation in f (f->residual is ignored; f may be NULL = none):
 * the vector replacement of lcv_act_apply_f32 for fast epilogues. */
void lcv_vact_apply(lcv_isa isa, const lcv_fused *f, float *y, int64_t n);

/* Per-ISA tables (vact_<isa>.c); use lcv_vact_kernels_for. */
extern const lcv_vact_kernels lcv_vact_kernels_scalar;
#if defined(__x86_64__)
extern const lcv_vact_kernels lcv_vact_kernels_avx2;
extern const lcv_vact_kernels lcv_vact_kernels_avx512;
#endif

#endif
