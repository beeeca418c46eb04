/* optim.h - optimizers and learning-rate schedules over a fixed list of float32 parameter
 * tensors (internal to src/train): SGD with momentum / Nesterov and AdamW, the schedules and
 * weight-decay rule of lcv_train_params (include/leancv_train.h), and gradient clipping by
 * global norm. The state (step count, moment buffers) can be read and restored for
 * checkpoints. */
#ifndef LCV_TRAIN_OPTIM_H
#define LCV_TRAIN_OPTIM_H

#include "../core/core.h"
#include "../core/threadpool.h"
#include "leancv_train.h"

typedef struct lcv_optim lcv_optim;

/* Checks the hyper-parameters of p (lr > 0, momentum in [0, 1), ...; the message names the
 * field). */
lcv_status lcv_optim_check(const lcv_train_params *p, lcv_err *e);

/* Creates the optimizer for n parameter tensors (borrowed, only their shapes are read here).
 * p: borrowed, copied. *out: free with lcv_optim_free. */
lcv_status lcv_optim_create(const lcv_train_params *p, int n, const lcv_tensor *const *params,
                            lcv_optim **out, lcv_err *e);
void lcv_optim_free(lcv_optim *o);

/* The learning rate of step `step` (0-based). */
double lcv_optim_lr(const lcv_train_params *p, int64_t step);

/* Steps taken. */
int64_t lcv_optim_steps(const lcv_optim *o);

/* Global L2 norm of the gradients (in double). */
double lcv_optim_grad_norm(int n, const lcv_tensor *const *grads);

/* One update of every parameter; when p.clip_norm > 0 and grad_norm exceeds it, the gradients
 * are scaled by clip_norm / (grad_norm + 1e-6) as they are read (grads are not modified). grad_norm
 * is the norm before clipping (from lcv_optim_grad_norm). pool may be NULL. */
lcv_status lcv_optim_step(lcv_optim *o, lcv_tensor *const *params, lcv_tensor *const *grads,
                          double grad_norm, lcv_threadpool *pool, lcv_err *e);

/* Optimizer state for checkpoints: state tensors per parameter (SGD with momentum: 1, the
 * momentum buffer; SGD without momentum: 0; AdamW: 2, first and second moments), each with as
 * many floats as the parameter. */
int lcv_optim_state_count(const lcv_optim *o);
float *lcv_optim_state(lcv_optim *o, int param, int which);
int64_t lcv_optim_state_numel(const lcv_optim *o, int param);
void lcv_optim_set_steps(lcv_optim *o, int64_t steps);

#endif
