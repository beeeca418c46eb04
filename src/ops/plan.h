/* plan.h - fast-kernel plans. An op may have a plan function (listed in plans.def) that the
 * runtime calls once at model load for each of its nodes: it inspects the node's attributes,
 * constant inputs (weights, with data) and inferred shapes, and may return a fast exec
 * function plus prepared data (e.g. weights packed for a GEMM microkernel for the chosen ISA).
 * The plan data is immutable afterwards and shared by all sessions. At run time the fast exec
 * gets the data in lcv_opctx.plan; it must handle any input shape the node can see (a dynamic
 * batch), falling back to the op's reference exec for shapes it was not planned for, and must
 * apply node->fused (activation, residual) itself - the reference path gets it applied by the
 * runtime. */
#ifndef LCV_PLAN_H
#define LCV_PLAN_H

#include "../core/cpu.h"
#include "op.h"

typedef struct lcv_plan {
    lcv_exec_fn exec;           /* fast exec; NULL = use the reference exec */
    void *data;                 /* owned by the plan */
    void (*free_data)(void *);  /* frees data; NULL = free() */
    /* Bit k set: the fast exec never reads the data of input k (a constant it copied into
     * `data`, e.g. packed weights) for any input the node can be given, so the runtime frees
     * that constant's data at load when no other node reads it (the tensor keeps its dtype
     * and shape, data becomes NULL). An exec that sets it must fail cleanly, not fall back to
     * the reference kernel, when it finds that data NULL. */
    uint32_t drops_inputs;
} lcv_plan;

typedef struct lcv_plan_ctx {
    const lcv_node *node;
    int n_in;                     /* the op's inputs (as in lcv_opctx) */
    const lcv_tensor *const *in;  /* constants carry data; other inputs are shape-only */
    int n_out;
    const lcv_tensor *const *out; /* inferred shapes (dynamic dims taken as 1) */
    lcv_isa isa;                  /* the ISA to plan for (never AUTO) */
    lcv_err *err;
} lcv_plan_ctx;

/* Fills *out (zeroed by the caller); leaving out->exec NULL means "no fast path" and is not
 * an error. Errors are only for real failures (out of memory). */
typedef lcv_status (*lcv_plan_fn)(const lcv_plan_ctx *pc, lcv_plan *out);

/* Plan functions generated from plans.def. */
#define LCV_PLAN(op, suffix) lcv_status lcv_plan_##suffix(const lcv_plan_ctx *pc, lcv_plan *out);
#include "plans.def"
#undef LCV_PLAN

/* The plan function of op id, or NULL. */
lcv_plan_fn lcv_plan_lookup(int op);

/* Frees a plan's data and clears it. */
void lcv_plan_clear(lcv_plan *p);

#endif
