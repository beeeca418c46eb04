/* conv_winograd.h - the Winograd F(4x4, 3x3) plan for dense 3x3 stride-1 float32 Convs
 * (src/kernels/f32-winograd), chosen by conv_plan.c when it applies and is the faster path. */
#ifndef LCV_CONV_WINOGRAD_H
#define LCV_CONV_WINOGRAD_H

#include "plan.h"

/* Plans the Conv of pc for the Winograd kernel when it applies (float32, constant [cout, cin,
 * 3, 3] weights, group 1, stride 1, dilation 1, any pads) and, with only_if_faster, when the
 * layer's shape is one where it beats the im2col GEMM path. On a plan *taken is true and *out
 * holds it; otherwise *out is untouched. Errors only for out of memory. */
lcv_status lcv_conv_winograd_plan(const lcv_plan_ctx *pc, bool only_if_faster, bool *taken,
                                  lcv_plan *out);

#endif
