/* conv_fast.h - what every fast Conv path (conv_plan.c's im2col GEMM and depthwise paths,
 * conv_winograd.c, conv_direct.c) checks before running its plan, and the fallback when the
 * actual tensors no longer match what was planned. Implemented in conv_plan.c. */
#ifndef LCV_CONV_FAST_H
#define LCV_CONV_FAST_H

#include <stdbool.h>

#include "op.h"

/* The reference Conv plus the fused epilogue. Fails with a clear message when the weights were
 * released at load because the plan keeps only its own packed or transformed copy. */
lcv_status lcv_conv_fallback(lcv_opctx *c);

/* Input 0 is float32 with data, the weight float32 [cout, cin_g, kh, kw] and the bias (if any)
 * float32 [cout]. */
bool lcv_conv_operands_match(const lcv_opctx *c, int64_t cout, int64_t cin_g, int64_t kh,
                             int64_t kw);

/* The output is float32 shaped ydims and so is the fused residual, if any. */
bool lcv_conv_output_matches(const lcv_opctx *c, const int64_t ydims[4]);

#endif
