/* model.h - internal layout of lcv_model and lcv_session, shared by the runtime's files. */
#ifndef LCV_RUNTIME_MODEL_H
#define LCV_RUNTIME_MODEL_H

#include "../ops/plan.h"

struct lcv_model {
    lcv_graph *g;       /* owned; nodes in execution order, ops resolved */
    lcv_err err;        /* load error, if any */
    bool loaded;        /* false for an error-only handle */
    bool *folded;       /* per node: output computed at load (constant), skipped at run */
    bool *runtime_shape;/* per node: output shape needs run-time data (infer was deferred) */
    int *slot_base;     /* per node: index of its first output slot; n_nodes+1 entries */
    int n_slots;
    int *last_use;      /* per value: last node reading it; INT32_MAX for graph outputs */
    int64_t *node_macs; /* per node, -1 unknown */
    lcv_model_stats stats;
    int n_feeds;        /* graph inputs a caller must or may feed (= g->n_inputs) */
    lcv_isa isa;        /* the ISA the plans were made for */
    bool optimize;      /* run the graph passes at load */
    bool reference;     /* no plans: every node runs its reference kernel */
    lcv_plan *plans;    /* per node: fast exec and its prepared data (exec NULL: reference) */
    lcv_value *declared;/* per graph output: its declared type (shallow copies; names borrowed) */
};

/* Static analysis after import (src/runtime/analyze.c): resolves ops, orders the graph, infers
 * shapes with the declared input shapes (dynamic dims taken as 1), folds constant nodes,
 * computes liveness and per-node MACs. */
lcv_status lcv_model_analyze(lcv_model *m, lcv_err *e);

#endif
