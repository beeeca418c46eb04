/* control.h - how the control-flow ops (If, Loop in control.c) run their subgraphs. The ops
 * layer cannot call the runtime, so the runtime hands each If/Loop node, as its plan data
 * (lcv_opctx.plan), the subgraphs made executable at load plus the functions that run them
 * (src/runtime/subgraph.c). Without that plan (an op invoked outside a model) the ops defer
 * inference and refuse to execute. */
#ifndef LCV_CONTROL_H
#define LCV_CONTROL_H

#include "op.h"

typedef struct lcv_subgraph lcv_subgraph;         /* runtime-defined: one analysed subgraph */
typedef struct lcv_subgraph_run lcv_subgraph_run; /* runtime-defined: a session on one */

typedef struct lcv_control_api {
    /* A run context (session) on sub. *out: release with close. */
    lcv_status (*open)(const lcv_subgraph *sub, lcv_subgraph_run **out, lcv_err *e);
    /* Runs the subgraph once: formal[i] feeds its i-th declared input (n_formal of them,
     * borrowed for the call), the enclosing values it reads are taken from node_in (the
     * node's inputs, implicit ones included, borrowed). On failure e names what failed. */
    lcv_status (*run)(lcv_subgraph_run *r, const lcv_tensor *const *formal,
                      const lcv_tensor *const *node_in, lcv_err *e);
    /* Output i of the last successful run; borrowed, valid until the next run or close. */
    const lcv_tensor *(*output)(const lcv_subgraph_run *r, int i);
    void (*close)(lcv_subgraph_run *r);
} lcv_control_api;

/* Plan data of an If (subs: then_branch, else_branch) or Loop (subs: body) node; owned by the
 * model, immutable after load and shared by every session. */
typedef struct lcv_control_plan {
    const lcv_control_api *api; /* static */
    int n_subs;
    const lcv_subgraph *subs[2]; /* owned by the plan (freed by the runtime's free_data) */
    int n_formal[2];             /* declared inputs of each subgraph (the runtime appends the
                                  * enclosing values it feeds to the subgraph's input list) */
    /* per subgraph: the declared type of each output, as the file had it before analysis
     * (shallow values, borrowed from the runtime's sub-model) */
    const lcv_value *declared_out[2];
} lcv_control_plan;

/* Loops stop with an error after this many iterations: a trip count above it (without a
 * condition that could end the loop sooner) is refused before the first iteration. */
#define LCV_LOOP_MAX_ITERS ((int64_t)1 << 24)

#endif /* LCV_CONTROL_H */
