/* autodiff_impl.h - the autodiff engine's state, shared by autodiff.c (creation: resolving,
 * classifying, analysing the graph) and autodiff_run.c (forward and backward). Not for use
 * outside those two files. */
#ifndef LCV_TRAIN_AUTODIFF_IMPL_H
#define LCV_TRAIN_AUTODIFF_IMPL_H

#include "../ops/plan.h"
#include "autodiff.h"

struct lcv_autodiff {
    lcv_graph *g;          /* owned; nodes resolved and in topological order */
    lcv_isa isa;
    /* per value */
    lcv_ad_kind *kind;
    bool *req;             /* float32 and depends on a parameter */
    bool *reach;           /* req and a seed depends on it: its gradient is computed */
    bool *is_seed;
    const lcv_tensor **cur;/* the value's data during a step (borrowed) */
    lcv_tensor *grads;     /* gradient storage, float32 */
    bool *has_grad;        /* grads[v] holds this step's gradient */
    /* per node */
    bool *folded;          /* computed once at creation (all inputs constant) */
    bool *active;          /* runs a backward */
    bool *uses_param;      /* reads a parameter: its plan is rebuilt when parameters change */
    /* A Relu that is the only reader of a node's output 0, folded into that node while
     * training (lcv_train_io.relu_after): relu_out[i] is the Relu's output value for the node
     * that absorbs it, else -1; absorbed[j] marks the Relu, which then neither runs nor
     * differentiates in training steps (its output shares the node's). */
    int *relu_out;
    bool *absorbed;
    int *slot_base;        /* first output slot; n_nodes + 1 entries */
    lcv_tensor *slots;     /* output storage per node output */
    lcv_train_io *io;
    lcv_tensor ***state;   /* per node: NULL or n_in writable buffer views (owned array) */
    lcv_plan *plans;
    bool *plan_made;       /* plans[i] is valid for plan_key[i] and plan_version[i] */
    uint64_t *plan_key;    /* hash of the input shapes the plan was made for */
    uint64_t *plan_version;
    uint64_t param_version;
    /* parameters and buffers, in value order */
    int *params, n_params;
    int *buffers, n_buffers;
    /* per-call pointer arrays and gradient temporaries, sized for the widest node */
    int width;
    const lcv_tensor **ins;
    lcv_tensor **outs;
    lcv_tensor *views;     /* shape-only views of non-constant inputs for planning */
    const lcv_tensor **dout;
    lcv_tensor **din;
    lcv_tensor *tmp;       /* contributions to values that already have a gradient */
    bool *direct;
    lcv_threadpool *pool;
    lcv_scratch scratch;
    bool trained;          /* the last forward was a training forward */
};

#endif
