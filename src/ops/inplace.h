/* inplace.h - which ops may write output 0 over one of their inputs (the runtime's memory
 * planner then lets the output take that input's buffer when the input dies at the node).
 * The list lives in inplace.c, next to the ops, so each entry can be checked against the
 * op's kernels in one place. Internal to src/ops and src/runtime. */
#ifndef LCV_OPS_INPLACE_H
#define LCV_OPS_INPLACE_H

#include "op.h"

/* Bit k set: input k of op may share output 0's buffer, because every kernel of the op
 * (reference and fast plan) computes output element i from input element i alone and reads
 * it before writing, or (view ops) copies nothing when the buffers are the same. Only valid
 * when input k and output 0 have the same byte size and input k is not read anywhere else
 * in the node. 0 for op ids outside the table. */
unsigned lcv_op_inplace_inputs(int op);

#endif
