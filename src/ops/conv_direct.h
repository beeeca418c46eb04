/* conv_direct.h - the Conv plan that runs dense float32 convolutions with few input channels
 * (network stems) with the direct kernel of src/kernels/f32-conv-direct, chosen by
 * conv_plan.c before the Winograd and im2col GEMM paths. */
#ifndef LCV_CONV_DIRECT_H
#define LCV_CONV_DIRECT_H

#include "plan.h"

/* Inputs per group at most for the direct kernel: its work per output grows with Cin*kh*kw
 * while its register block stays 8 channels wide, so beyond a few input channels the GEMM
 * (deeper register reuse) wins. */
#define LCV_CONV_DIRECT_MAX_CIN 4

/* Plans the Conv of pc for the direct kernel when it applies (float32, constant [cout, cin,
 * kh, kw] weights with cin <= LCV_CONV_DIRECT_MAX_CIN, group 1, dilation 1) and, with
 * only_if_faster, when the planned ISA is one where it beats the im2col GEMM path. On a plan
 * *taken is true and *out holds it; otherwise *out is untouched. Errors only for out of
 * memory. */
lcv_status lcv_conv_direct_plan(const lcv_plan_ctx *pc, bool only_if_faster, bool *taken,
                                lcv_plan *out);

#endif
