/* ema.h - an exponential moving average of a fixed list of float32 tensors (internal to
 * src/train): the averaged weights of lcv_train_params.ema_decay (Polyak averaging). The
 * trainer keeps one over its parameters and running statistics, and swaps it in to evaluate
 * and export. */
#ifndef LCV_TRAIN_EMA_H
#define LCV_TRAIN_EMA_H

#include "../core/core.h"

typedef struct lcv_ema lcv_ema;

/* An average of n tensors (borrowed; only their sizes and current values are read here), which
 * starts as a copy of their values. *out: free with lcv_ema_free. */
lcv_status lcv_ema_create(int n, lcv_tensor *const *tensors, lcv_ema **out, lcv_err *e);
void lcv_ema_free(lcv_ema *a);

/* Restarts the average from the tensors' current values (the weights a model starts from). */
void lcv_ema_reset(lcv_ema *a, lcv_tensor *const *tensors);

/* Folds the tensors' values in after optimisation step `step` (1-based): avg = d * avg +
 * (1 - d) * value with d = min(decay, (1 + step) / (10 + step)), so that the first steps,
 * far from where training ends, leave little in the average (as TensorFlow's
 * ExponentialMovingAverage with num_updates). */
void lcv_ema_update(lcv_ema *a, lcv_tensor *const *tensors, float decay, int64_t step);

/* Exchanges the tensors' values with the average; a second call undoes the first. */
void lcv_ema_swap(lcv_ema *a, lcv_tensor *const *tensors);

/* The average of tensor i (as many floats as the tensor), for checkpoints. */
float *lcv_ema_data(lcv_ema *a, int i);

#endif
