/* op.h - the contract every op implements: shape/type inference and a reference kernel.
 * The list of ops lives in ops.def (one line per op, the single source of truth); each op's
 * functions live in the src/ops/ file named there. Depends on core and ir. */
#ifndef LCV_OP_H
#define LCV_OP_H

#include <stdarg.h>

#include "../ir/graph.h"

/* Returned by an infer function that needs the *data* of an input that is not known yet
 * (e.g. Reshape's shape input at load time when it is computed). Not an error: the runtime
 * infers such nodes again at run time, when data is present. */
#define LCV_DEFERRED ((lcv_status)100)

/* What an op function sees. in[i] is NULL for an omitted optional input and for i >= n_in.
 * During infer, in[i]->data may be NULL (shape known, data not); during exec it never is.
 * infer sets out[i]->dtype, ->ndim and ->dims only; the runtime then allocates the buffers and
 * calls exec, which fills them. Kernels must not allocate output buffers themselves, except
 * that exec may call lcv_tensor_reshape_alloc for outputs whose size depends on data
 * (TopK with a data-dependent k, NonZero, NonMaxSuppression): infer then sets the final shape
 * when data is present and returns LCV_DEFERRED when it is not. */
typedef struct lcv_scratch lcv_scratch;
typedef struct lcv_threadpool lcv_threadpool;

typedef struct lcv_opctx {
    const lcv_node *node;
    int n_in; /* the op's inputs; a fused residual (node->fused) is in[n_in], not counted */
    const lcv_tensor *const *in;
    int n_out;
    lcv_tensor **out;
    lcv_err *err;
    /* Set by the runtime for fast kernels (all may be NULL, e.g. in op unit tests): */
    const void *plan;       /* the node's plan data (lcv_plan.data), owned by the model */
    lcv_threadpool *pool;   /* the session's threads; NULL = run serially */
    lcv_scratch *scratch;   /* the session's scratch memory, see lcv_op_scratch */
} lcv_opctx;

typedef lcv_status (*lcv_infer_fn)(lcv_opctx *c);
typedef lcv_status (*lcv_exec_fn)(lcv_opctx *c);

typedef struct lcv_op_def {
    const char *name;   /* ONNX op_type */
    const char *domain; /* "" for ai.onnx */
    int min_in, max_in; /* max -1: variadic */
    int min_out, max_out;
    lcv_infer_fn infer;
    lcv_exec_fn exec;
} lcv_op_def;

/* Op ids, in ops.def order. */
typedef enum lcv_op_id {
#define LCV_OP(name, domain, min_in, max_in, min_out, max_out, infer, exec) LCV_OP_##name,
#include "ops.def"
#undef LCV_OP
    LCV_OP_COUNT
} lcv_op_id;

/* Function declarations generated from ops.def (several ops may share one infer/exec). */
#define LCV_OP(name, domain, min_in, max_in, min_out, max_out, infer, exec)                      \
    lcv_status lcv_infer_##infer(lcv_opctx *c);                                                   \
    lcv_status lcv_exec_##exec(lcv_opctx *c);
#include "ops.def"
#undef LCV_OP

extern const lcv_op_def lcv_op_table[LCV_OP_COUNT];
/* Op id for (op_type, domain), or -1. domain "" and "ai.onnx" are the same. */
int lcv_op_lookup(const char *op_type, const char *domain);
/* Ops whose output size is found only by doing the op's whole work (NonMaxSuppression): at
 * run time the runtime skips their infer, which would repeat that work, and their exec sizes
 * the outputs with lcv_tensor_reshape_alloc. infer stays correct for every other caller. */
bool lcv_op_sized_by_exec(int op);

/* ---- helpers for op implementations (src/ops/op_util.c) ---- */

/* Attribute access. Absent attributes yield the default; a present attribute of the wrong type
 * is treated as absent by these getters (validation of attribute types is the op's job where it
 * matters). */
const lcv_attr *lcv_attr_find(const lcv_node *n, const char *name);
int64_t lcv_attr_int(const lcv_node *n, const char *name, int64_t def);
float lcv_attr_float(const lcv_node *n, const char *name, float def);
const char *lcv_attr_str(const lcv_node *n, const char *name, const char *def);
/* Returns the count of an INTS/FLOATS attribute and sets *vals, or -1 if absent. */
int64_t lcv_attr_ints(const lcv_node *n, const char *name, const int64_t **vals);
int64_t lcv_attr_floats(const lcv_node *n, const char *name, const float **vals);

/* Sets e (may be NULL) to "node 'NAME' (OP)<what>: <message>" and returns st: the one
 * format of node errors, shared by forward (what = "") and backward (" backward"). */
lcv_status lcv_node_vfail(lcv_err *e, const lcv_node *node, const char *what, lcv_status st,
                          const char *fmt, va_list ap);

/* Formats an error that names the node and op: "node 'x' (Conv): <message>". */
lcv_status lcv_op_fail(lcv_opctx *c, lcv_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Input i if present (non-NULL and i < n_in), else NULL. */
const lcv_tensor *lcv_op_input(const lcv_opctx *c, int i);

/* Sets output i's dtype and shape. */
void lcv_op_set_out(lcv_opctx *c, int i, lcv_dtype dtype, int ndim, const int64_t *dims);

/* Normalises axis (may be negative) against rank; fails with a message when out of range. */
lcv_status lcv_op_axis(lcv_opctx *c, int64_t axis, int rank, int *out);

/* Numpy-style multidirectional broadcast of two shapes. */
lcv_status lcv_op_broadcast(lcv_opctx *c, int na, const int64_t *a, int nb, const int64_t *b,
                            int *nout, int64_t *out);
/* Maps a flat index of the broadcast output shape to the flat index of an input of shape
 * (nin, in_dims) broadcast to it. out_strides are the output's row-major strides. */
int64_t lcv_broadcast_index(int64_t flat, int nout, const int64_t *out_dims,
                            const int64_t *out_strides, int nin, const int64_t *in_dims);

/* Reads an integer tensor (int32/int64/...) of at most cap elements into vals; returns count or
 * fails (wrong dtype, too many). Requires data. */
lcv_status lcv_op_read_ints(lcv_opctx *c, const lcv_tensor *t, const char *what, int64_t *vals,
                            int64_t cap, int64_t *count);

/* Number of the node's inputs the op itself sees (excludes a fused residual). */
static inline int lcv_node_op_inputs(const lcv_node *n) {
    return n->fused.residual >= 0 ? n->n_in - 1 : n->n_in;
}

/* Applies node->fused to output 0 after an op's reference kernel: adds the residual input,
 * then the activation. A no-op when nothing is fused. Any float dtype. */
lcv_status lcv_op_apply_fused(lcv_opctx *c);
/* The same on a float32 buffer (the activation only): y[i] = act(y[i]). */

/* For fast float32 epilogues: the fused residual of c's node (same shape as out[0]), or NULL
 * when none is fused; on a mismatch NULL with *st set to the error. */
const float *lcv_op_fused_residual_f32(lcv_opctx *c, lcv_status *st);

/* A session-owned scratch buffer of at least `bytes` bytes, 64-byte aligned, valid until the
 * next call on the same context's session; grows (allocates) only when a larger size is asked
 * for, so steady-state runs do not allocate. NULL when c->scratch is NULL or memory runs out
 * (the caller then fails with LCV_ERR_NOMEM or falls back to a path without scratch). */
void *lcv_op_scratch(lcv_opctx *c, size_t bytes);

struct lcv_scratch {
    void *data;
    size_t size;
};

/* Checks a resolved node's input/output counts against its op table entry. */
lcv_status lcv_op_check_arity(const lcv_node *node, lcv_err *e);
/* Runs one resolved node on concrete inputs (src/ops/op_invoke.c): infer, size the outputs,
 * exec. in/out as in lcv_opctx; out[i] are caller-owned tensors whose buffers are reused. */
lcv_status lcv_op_invoke(const lcv_node *node, int n_in, const lcv_tensor *const *in, int n_out,
                         lcv_tensor **out, lcv_err *e);

#endif /* LCV_OP_H */
