/* vplan.h - what the plans built on the vectorised elementwise kernels (src/kernels/f32-vact)
 * share: the plan data (the kernel table of the planned ISA), the reference fallback, the
 * fused residual/activation epilogue on a finished block, and the block size and threading
 * grain of elementwise loops. Used by unary_plan.c, binary_plan.c, softmax_plan.c,
 * norm_plan.c and reduce_plan.c. */
#ifndef LCV_VPLAN_H
#define LCV_VPLAN_H

#include "../kernels/f32-vact/vact.h"
#include "plan.h"

/* Elementwise loops run in blocks of this many values (16 KiB of float32: the output block
 * is still in cache when the epilogue revisits it) ... */
#define LCV_VPLAN_BLOCK 4096
/* ... and a thread takes at least this many values (smaller tensors stay on one thread,
 * where waking a worker would cost more than it saves). */
#define LCV_VPLAN_MIN_WORK 65536

typedef struct lcv_vplan {
    const lcv_vact_kernels *k; /* static table, not owned */
} lcv_vplan;

/* Sets out to exec with an lcv_vplan for pc->isa as its data. */
lcv_status lcv_vplan_make(const lcv_plan_ctx *pc, lcv_exec_fn exec, lcv_plan *out);

/* The op's reference exec followed by node->fused: the path for cases a plan does not
 * cover. */
lcv_status lcv_vplan_reference(lcv_opctx *c);

/* True when the tensor is float32 (and not NULL). */
static inline bool lcv_vplan_f32(const lcv_tensor *t) {
    return t && t->dtype == LCV_DTYPE_FLOAT32;
}

/* The fused epilogue of node n on y[0, count): y += res (when res is not NULL), then the
 * activation. res points at the residual element matching y[0]. */
void lcv_vplan_epilogue(const lcv_vact_kernels *k, const lcv_node *n, const float *res, float *y,
                        int64_t count);

/* Threading grain, in items of `per_item` values each, for lcv_threadpool_parallel_for. */
int64_t lcv_vplan_grain(int64_t per_item);

#endif
