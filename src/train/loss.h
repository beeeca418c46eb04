/* loss.h - training losses on float32 buffers (internal to src/train): each computes the loss
 * value (in double) and, when the gradient buffer is non-NULL, its gradient with respect to the
 * prediction, ready to seed the backward. Reductions follow PyTorch's defaults (mean). */
#ifndef LCV_TRAIN_LOSS_H
#define LCV_TRAIN_LOSS_H

#include "../core/core.h"

/* Softmax cross-entropy of logits [n, k] against labels [n] (each in [0, k)), mean over the
 * batch, with label smoothing eps in [0, 1): the target is (1 - eps) one-hot + eps / k
 * (PyTorch's CrossEntropyLoss(label_smoothing=eps)). dlogits [n, k] or NULL. */
lcv_status lcv_loss_softmax_ce(const float *logits, const int64_t *labels, int64_t n, int64_t k,
                               float smoothing, float *dlogits, double *loss, lcv_err *e);

/* Mean squared error over n elements: mean((a - b)^2); da = 2 (a - b) / n or NULL. */
lcv_status lcv_loss_mse(const float *a, const float *b, int64_t n, float *da, double *loss,
                        lcv_err *e);

/* Mean absolute error over n elements: mean(|a - b|); da = sign(a - b) / n (0 where a == b). */
lcv_status lcv_loss_l1(const float *a, const float *b, int64_t n, float *da, double *loss,
                       lcv_err *e);

/* Hinton knowledge distillation of student logits [n, k] towards teacher logits [n, k]:
 * alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T)) (summed over classes, mean
 * over the batch) + (1 - alpha) * softmax_ce(student, labels, smoothing). alpha in [0, 1],
 * T > 0; labels may be NULL only when alpha == 1. dstudent [n, k] or NULL. */
lcv_status lcv_loss_distill(const float *student, const float *teacher, const int64_t *labels,
                            int64_t n, int64_t k, float alpha, float temperature,
                            float smoothing, float *dstudent, double *loss, lcv_err *e);

/* Rows of logits [n, k] whose first maximum is at the label. */
int64_t lcv_loss_correct(const float *logits, const int64_t *labels, int64_t n, int64_t k);

#endif
