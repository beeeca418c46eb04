/* passes.h - the graph optimizer: rewrites a resolved, topologically ordered, shape-inferred
 * graph into an equivalent faster one. Each pass lives in its own file (fuse_*, eliminate_*,
 * cse) and keeps the graph valid: resolved ops, no dangling value ids, graph inputs/outputs
 * keep their names and values. Node order may change; the pipeline re-sorts after a change. */
#ifndef LCV_PASSES_H
#define LCV_PASSES_H

#include "../ops/op.h"

/* Runs every pass in order until the graph stops changing (with a round cap). */
lcv_status lcv_passes_optimize(lcv_graph *g, lcv_err *e);

/* The passes. Each sets *changed when it rewrote something (and leaves it alone otherwise). */
lcv_status lcv_pass_eliminate_identity(lcv_graph *g, bool *changed, lcv_err *e);
lcv_status lcv_pass_eliminate_dead(lcv_graph *g, bool *changed, lcv_err *e);
lcv_status lcv_pass_fuse_conv_bn(lcv_graph *g, bool *changed, lcv_err *e);
lcv_status lcv_pass_fuse_residual(lcv_graph *g, bool *changed, lcv_err *e);
lcv_status lcv_pass_fuse_activation(lcv_graph *g, bool *changed, lcv_err *e);
lcv_status lcv_pass_cse(lcv_graph *g, bool *changed, lcv_err *e);
lcv_status lcv_pass_fuse_layernorm(lcv_graph *g, bool *changed, lcv_err *e);
lcv_status lcv_pass_fuse_hardswish(lcv_graph *g, bool *changed, lcv_err *e);
lcv_status lcv_pass_fuse_gelu(lcv_graph *g, bool *changed, lcv_err *e);
lcv_status lcv_pass_fuse_qdq(lcv_graph *g, bool *changed, lcv_err *e);

/* ---- helpers shared by the passes (pass_util.c) ---- */

/* How each value is read: count[v] input slots read v (a node reading it twice counts twice);
 * last[v] is the last node reading it (-1 if none). Passes keep it current as they rewrite. */
typedef struct lcv_pass_uses {
    int *count; /* owned, n_values entries */
    int *last;  /* owned, n_values entries */
} lcv_pass_uses;

lcv_status lcv_pass_uses_build(const lcv_graph *g, lcv_pass_uses *u, lcv_err *e);
void lcv_pass_uses_free(lcv_pass_uses *u);

/* One sweep of a pass that removes nodes: the use counts plus the nodes marked for removal. */
typedef struct lcv_pass_edit {
    lcv_pass_uses uses;
    bool *remove; /* owned, n_nodes entries */
    int removed;
} lcv_pass_edit;

lcv_status lcv_pass_edit_begin(const lcv_graph *g, lcv_pass_edit *ed, lcv_err *e);
/* Marks node i for removal at the end of the sweep. */
void lcv_pass_edit_remove(lcv_pass_edit *ed, int i);
/* Removes the marked nodes, sets *changed when there were any, and frees ed. */
void lcv_pass_edit_end(lcv_graph *g, lcv_pass_edit *ed, bool *changed);

/* The node that is the only reader of v (reading it once), when v is not a graph output;
 * else -1. The values a fusion may swallow. */
int lcv_pass_sole_consumer(const lcv_graph *g, const lcv_pass_uses *u, int v);

/* Makes node keep produce output 0 of node gone (which is about to be removed) in place of
 * its own output 0; keep's old output value is left without a producer. */
void lcv_pass_take_output(lcv_graph *g, int keep, int gone);

/* Rewires every node input reading value from to read value to instead. */
void lcv_pass_replace_uses(lcv_graph *g, int from, int to);

/* Appends value id as a new last input of node (the array grows by one). */
lcv_status lcv_pass_append_input(lcv_node *n, int id, lcv_err *e);

/* Adds a new constant value (init set; not a graph.initializer, like a folded value) named
 * "<base><suffix>", made unique with a counter; takes ownership of t even on failure. *id
 * receives its id. Invalidates value pointers. */
lcv_status lcv_pass_add_constant(lcv_graph *g, const char *base, const char *suffix,
                                 lcv_tensor *t, int *id, lcv_err *e);

/* Constant float32 data of value id when it is an initializer/folded constant of that dtype,
 * else NULL; *count receives its element count. */
const float *lcv_pass_const_f32(const lcv_graph *g, int id, int64_t *count);

/* ---- matching decomposed ops (pattern.c) ---- */

/* A constant float32 value with exactly one element (any rank): *out receives it. */
bool lcv_pass_const_scalar(const lcv_graph *g, int id, float *out);
/* True when id is such a constant within rel_tol * |want| of want. */
bool lcv_pass_scalar_near(const lcv_graph *g, int id, float want, float rel_tol);
/* The node that alone reads v (once) when its op is `op` and it has one output, else -1: the
 * next link of a chain a fusion may swallow. */
int lcv_pass_next(const lcv_graph *g, const lcv_pass_uses *u, int v, int op);
/* For a two-input node reading v: its other input (v itself for op(v, v)); else -1. */
int lcv_pass_other_operand(const lcv_node *n, int v);
/* Turns n into op `op` (op_type copied) with no attributes, its opset raised to at least
 * `opset` (the version defining the op as the passes use it). Inputs and outputs stay. */
lcv_status lcv_pass_retype(lcv_node *n, const char *op_type, int op, int opset, lcv_err *e);

#endif
