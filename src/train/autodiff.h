/* autodiff.h - reverse-mode automatic differentiation over an imported graph (internal to
 * src/train). The engine owns the graph: it resolves and orders it, sorts initializers into
 * parameters, buffers and constants, runs the training (or inference) forward keeping every
 * value the backwards need, and runs the ops' backwards (src/ops/grad.h) in reverse order,
 * summing the gradients of values with several consumers. */
#ifndef LCV_TRAIN_AUTODIFF_H
#define LCV_TRAIN_AUTODIFF_H

#include "../ops/grad.h"

/* How the engine treats a value.
 *
 * Initializers are classified by the slots they feed (the graph as exported, before any
 * rewriting):
 *  - PARAM (trainable): a float32 initializer feeding the weight or bias of Conv,
 *    ConvTranspose or Gemm (inputs 1 and 2), either input of MatMul, the scale or bias of
 *    BatchNormalization, LayerNormalization or InstanceNormalization (inputs 1 and 2), the
 *    slope of PRelu (input 1), or either input of Add or Mul when it has rank >= 1 (layer
 *    scales, position embeddings);
 *  - BUFFER: a float32 initializer feeding BatchNormalization's running mean or variance
 *    (inputs 3 and 4): not trained, updated in place by the training forward;
 *  - CONST: every other initializer (integer shape tensors, scalars, Constant-like data).
 * A value feeding several kinds of slot takes the first kind in the order above. Outputs of
 * Constant nodes are never parameters. */
typedef enum lcv_ad_kind {
    LCV_AD_ACTIVATION = 0, /* computed by a node each step */
    LCV_AD_INPUT,          /* a graph input fed by the caller */
    LCV_AD_PARAM,
    LCV_AD_BUFFER,
    LCV_AD_CONST,          /* constant initializer or output of a node folded at creation */
    LCV_AD_UNUSED          /* not read by any node */
} lcv_ad_kind;

typedef struct lcv_autodiff lcv_autodiff;

typedef struct lcv_autodiff_params {
    lcv_isa isa;    /* kernels' ISA (LCV_ISA_AUTO: chosen with lcv_isa_choose) */
    int threads;    /* worker threads (< 1: 1) */
    /* Values (by name, borrowed, copied) that may receive a loss gradient with
     * lcv_autodiff_seed; NULL/0: the graph's float32 outputs. Intermediate values are allowed
     * (feature distillation). */
    const char *const *seed_names;
    int n_seeds;
} lcv_autodiff_params;

/* Takes ownership of g (freed on failure too). Fails, naming the node, when an op is unknown,
 * the graph is malformed, or a node on a path from a parameter to a seed has no backward. */
lcv_status lcv_autodiff_create(lcv_graph *g, const lcv_autodiff_params *p, lcv_autodiff **out,
                               lcv_err *e);
void lcv_autodiff_free(lcv_autodiff *ad);

/* The graph, its initializers holding the current parameters and buffers. */
lcv_graph *lcv_autodiff_graph(lcv_autodiff *ad);
lcv_ad_kind lcv_autodiff_kind(const lcv_autodiff *ad, int value);

/* Trainable parameters and buffers in graph value order: value ids, tensors (the graph's
 * initializers, writable; call lcv_autodiff_params_changed after writing) and gradients. */
int lcv_autodiff_param_count(const lcv_autodiff *ad);
int lcv_autodiff_param_value(const lcv_autodiff *ad, int i);
lcv_tensor *lcv_autodiff_param(lcv_autodiff *ad, int i);
lcv_tensor *lcv_autodiff_param_grad(lcv_autodiff *ad, int i);
int lcv_autodiff_buffer_count(const lcv_autodiff *ad);
int lcv_autodiff_buffer_value(const lcv_autodiff *ad, int i);
lcv_tensor *lcv_autodiff_buffer(lcv_autodiff *ad, int i);

/* Marks the parameters as changed: fast-kernel plans made from them are rebuilt. */
void lcv_autodiff_params_changed(lcv_autodiff *ad);

/* The thread pool the engine runs kernels on (NULL for one thread); the trainer's own loops
 * may use it between forward and backward. */
lcv_threadpool *lcv_autodiff_pool(lcv_autodiff *ad);

/* Runs the forward. inputs[i] (borrowed, read during the call) feeds the i-th graph input
 * (graph order); dtypes and fixed dims are checked. training: ops with a training forward use
 * it (batch statistics, dropout with per-node seeds derived from seed) and buffers are updated;
 * otherwise the inference kernels run and nothing is updated. */
lcv_status lcv_autodiff_forward(lcv_autodiff *ad, int n_inputs, const lcv_tensor *const *inputs,
                                bool training, uint64_t seed, lcv_err *e);
/* The value's tensor after a forward (owned by the engine, valid until the next forward), or
 * NULL when the value has no data. */
const lcv_tensor *lcv_autodiff_value(const lcv_autodiff *ad, int value);

/* The loss gradient of seed value `value` for the current step, zero-filled and shaped like
 * the value; the caller writes into it before lcv_autodiff_backward. Valid after a training
 * forward; NULL (with e set) when value is not a seed or has no float32 data. */
lcv_tensor *lcv_autodiff_seed(lcv_autodiff *ad, int value, lcv_err *e);
/* Back-propagates the seeded gradients; afterwards every parameter gradient is set (zero for
 * parameters the seeds do not depend on). */
lcv_status lcv_autodiff_backward(lcv_autodiff *ad, lcv_err *e);

#endif
