/* grad.h - the backward contract. An op that can be trained has a backward function, listed in
 * grads.def and implemented next to its forward (src/ops/<op file>_grad.c): given the forward's
 * inputs and outputs and the loss gradient of each output, it computes the loss gradient of
 * each input that needs one. Ops whose forward differs while training (BatchNormalization uses
 * batch statistics, Dropout draws a mask) also have a training forward, which may keep tensors
 * for the backward. The autodiff engine in src/train drives both; gradients are float32. */
#ifndef LCV_GRAD_H
#define LCV_GRAD_H

#include "op.h"

#define LCV_GRAD_MAX_SAVED 4

/* Per-node training state, owned by the engine and reused from step to step. */
typedef struct lcv_train_io {
    /* What the training forward keeps for the backward (e.g. batch mean and inverse std, a
     * dropout mask). Engine-initialised empty tensors; size them with lcv_tensor_reshape_alloc
     * so steady-state steps do not allocate. */
    lcv_tensor saved[LCV_GRAD_MAX_SAVED];
    /* state[i]: a writable view of input i when that input is a non-trainable buffer the
     * training forward updates in place (BatchNormalization's running mean and variance), else
     * NULL. The array itself may be NULL (no such inputs). */
    lcv_tensor *const *state;
    /* Seed of this node for this step: random ops derive their stream from it, so the same
     * seed gives the same mask (finite-difference checks and exact resume rely on it). */
    uint64_t seed;
    /* Set by the engine, only for ops lcv_train_fwd_fuses_relu accepts: a Relu that is the only
     * reader of output 0 is folded into this node. The training forward then writes max(y, 0)
     * there, and the backward's dout[0] is the gradient of that Relu's output. It saves the
     * Relu's passes over memory in both directions. */
    bool relu_after;
} lcv_train_io;

/* Runs the op in training mode: like its exec (same lcv_opctx contract, outputs already sized by
 * infer), but may use batch statistics, randomness and t->saved. */
typedef lcv_status (*lcv_train_fwd_fn)(lcv_opctx *c, lcv_train_io *t);

typedef struct lcv_gradctx {
    const lcv_node *node;
    int n_in;                       /* the op's inputs, as in lcv_opctx */
    const lcv_tensor *const *in;    /* forward inputs, with data */
    int n_out;
    const lcv_tensor *const *out;   /* forward outputs, with data */
    /* dout[i] = dL/d out[i], shaped like out[i]; NULL when no gradient reaches output i
     * (treat it as zero). */
    const lcv_tensor *const *dout;
    /* din[i]: NULL when input i needs no gradient (integer inputs, constants, shapes); else a
     * float32 tensor shaped and allocated like in[i] that the backward OVERWRITES (the engine
     * sums the contributions of several consumers). */
    lcv_tensor *const *din;
    lcv_train_io *train;            /* the node's state if the op has a training forward */
    lcv_err *err;
    lcv_threadpool *pool;           /* may be NULL: run serially */
    lcv_scratch *scratch;           /* may be NULL; see lcv_grad_scratch */
} lcv_gradctx;

typedef lcv_status (*lcv_grad_fn)(lcv_gradctx *c);

/* Declarations generated from grads.def. */
#define LCV_GRAD(op, suffix) lcv_status lcv_grad_##suffix(lcv_gradctx *c);
#define LCV_TRAIN_FWD(op, suffix) lcv_status lcv_train_fwd_##suffix(lcv_opctx *c, lcv_train_io *t);
#include "grads.def"
#undef LCV_GRAD
#undef LCV_TRAIN_FWD

/* The backward of op id, or NULL when the op has none. */
lcv_grad_fn lcv_grad_lookup(int op);
/* The training forward of op id, or NULL when the op trains with its plain exec. */
lcv_train_fwd_fn lcv_train_fwd_lookup(int op);
/* Whether op id's training forward and backward honour lcv_train_io.relu_after. */
bool lcv_train_fwd_fuses_relu(int op);

/* Formats an error naming the node and op, like lcv_op_fail. */
lcv_status lcv_grad_fail(lcv_gradctx *c, lcv_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Input i if present, else NULL; likewise the wanted gradient of input i. */
const lcv_tensor *lcv_grad_input(const lcv_gradctx *c, int i);
lcv_tensor *lcv_grad_din(const lcv_gradctx *c, int i);

/* Session-style grow-only scratch (see lcv_op_scratch). */
void *lcv_grad_scratch(lcv_gradctx *c, size_t bytes);

#endif
