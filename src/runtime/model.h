/* model.h - internal layout of lcv_model, and the runtime's internal entry points shared by
 * its files (and by tests that build models from graphs in memory). */
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
    bool export_only;   /* lcv_model_convert: stop after the passes (weights still in g) */
    bool preoptimized;  /* the file (.lcvm) holds a graph the passes already ran on */
    bool reference;     /* no plans: every node runs its reference kernel */
    lcv_plan *plans;    /* per node: fast exec and its prepared data (exec NULL: reference) */
    lcv_value *declared;/* per graph output: its declared type (shallow copies; names borrowed) */
    bool borrowed_g;    /* g belongs to a node attribute of the enclosing model (a subgraph) */
    int depth;          /* subgraph nesting: 0 for a loaded model */
};

/* Outputs of at most this many elements computed only from constants and shapes (Shape ->
 * Gather -> Concat feeding a Reshape) are evaluated while shapes are inferred, at load
 * (analyze.c) and when a session re-plans (session.c). */
#define LCV_SHAPE_DATA_MAX_ELEMS 64

/* Static analysis after import (src/runtime/analyze.c): resolves ops, orders the graph, infers
 * shapes with the declared input shapes (dynamic dims taken as 1), folds constant nodes,
 * computes liveness and per-node MACs. */
lcv_status lcv_model_analyze(lcv_model *m, lcv_err *e);

/* A model from a graph built in memory (tests): takes ownership of g, even on failure, and
 * analyses it like a loaded file. *out as for lcv_model_load_buffer. */
lcv_status lcv_model_from_graph(lcv_graph *g, const lcv_model_params *params, lcv_model **out);

/* The activation memory a session plans for the declared input shapes (dynamic dims taken as
 * 1), by the session's own shape pass and planner (session.c): arena size and the tensors'
 * sizes summed, both -1 when the declared inputs leave shapes unknown. Fails only when memory
 * runs out. */
lcv_status lcv_model_plan_memory(const lcv_model *m, int64_t *arena_bytes, int64_t *total_bytes,
                                 lcv_err *e);

/* The memory plan of a session's last successful shapes (tests, tools): arena size, the arena
 * tensors' sizes summed, and per slot the slot whose place it took in place (-1 none; owned
 * by the session). Zeros / NULL before the first run. */
void lcv_session_memory(const lcv_session *s, size_t *arena_bytes, size_t *total_bytes,
                        const int **alias_of);

/* Makes every If/Loop node of an analysed model executable (src/runtime/subgraph.c): each
 * subgraph becomes a model of its own, analysed like the enclosing one (same optimize,
 * reference and ISA choices), fed its declared inputs and the enclosing values it reads
 * (constants among those are copied in), and is handed to the node as its plan data
 * (src/ops/control.h). */
lcv_status lcv_subgraphs_prepare(lcv_model *m, lcv_err *e);

/* A model over subgraph g of parent's graph (g stays owned by the attribute; the model may
 * rewrite it while analysing). *out: free with lcv_model_free; NULL on failure, e set. */
lcv_status lcv_model_from_subgraph(lcv_graph *g, const lcv_model *parent, lcv_model **out,
                                   lcv_err *e);

#endif
