/* act.h - the activations that fast kernels apply in their epilogues and that the optimizer
 * fuses into nodes, with their one definition in plain C (act.c). Kept in core so kernels and
 * ops share it without kernels depending on the IR. */
#ifndef LCV_ACT_H
#define LCV_ACT_H

#include <stdint.h>

/* An activation fused into a node's output by the optimizer (src/passes). Applied after the
 * op and after adding the residual input, if any: y = act(op(x) + residual). The residual
 * index refers to the node's inputs (src/ir/graph.h). */
typedef enum lcv_act_kind {
    LCV_ACT_NONE = 0,
    LCV_ACT_RELU,
    LCV_ACT_CLIP,        /* min = alpha, max = beta (ReLU6: 0, 6) */
    LCV_ACT_LEAKYRELU,   /* slope alpha */
    LCV_ACT_SIGMOID,
    LCV_ACT_HARDSIGMOID, /* max(0, min(1, alpha * x + beta)) */
    LCV_ACT_HARDSWISH,
    LCV_ACT_SILU,        /* x * sigmoid(x) */
    LCV_ACT_TANH,
    LCV_ACT_GELU         /* x / 2 * (1 + erf(x / sqrt(2))), the exact (not tanh) form */
} lcv_act_kind;

typedef struct lcv_fused {
    lcv_act_kind act;
    float alpha, beta;
    /* Index into node->in of a tensor of the output's shape added before the activation, or
     * -1. When set it is always the last input (n_in - 1) and is not seen by the op itself. */
    int residual;
} lcv_fused;

/* y = act(x) for one value, and in place over n values: the oracle for every fast epilogue. */
float lcv_act_f32(const lcv_fused *f, float x);
void lcv_act_apply_f32(const lcv_fused *f, float *y, int64_t n);

#endif
