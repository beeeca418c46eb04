/* loss.h - training losses on float32 buffers (internal to src/train): each computes the loss
 * value (in double) and, when the gradient buffer is non-NULL, its gradient with respect to the
 * prediction, ready to seed the backward. Reductions follow PyTorch's defaults (mean). */
#ifndef LCV_TRAIN_LOSS_H
#define LCV_TRAIN_LOSS_H

#include "../core/core.h"
#include "../core/threadpool.h"

/* Softmax cross-entropy of logits [n, k] against labels [n] (each in [0, k)), mean over the
 * batch, with label smoothing eps in [0, 1): the target is (1 - eps) one-hot + eps / k
 * (PyTorch's CrossEntropyLoss(label_smoothing=eps)). dlogits [n, k] or NULL. */
lcv_status lcv_loss_softmax_ce(const float *logits, const int64_t *labels, int64_t n, int64_t k,
                               float smoothing, float *dlogits, double *loss, lcv_err *e);

/* Per-pixel softmax cross-entropy (segmentation) of logits [n, k, hw] (NCHW with hw = H * W)
 * against label maps [n, hw] (each in [0, k)), mean over the n * hw pixels, with label smoothing
 * as above: PyTorch's F.cross_entropy on 4-D input. dlogits [n, k, hw] or NULL. The images are
 * shared out over pool (NULL: this thread); the results do not depend on its size. */
lcv_status lcv_loss_softmax_ce_map(const float *logits, const int64_t *labels, int64_t n,
                                   int64_t k, int64_t hw, float smoothing, float *dlogits,
                                   double *loss, lcv_threadpool *pool, lcv_err *e);

/* The detection loss of a one-level anchor-free head (loss_det.c, FCOS). */
typedef struct lcv_fcos_params {
    float alpha, gamma; /* focal loss: 0.25, 2 */
    float radius;       /* centre sampling: a location within radius * stride of a box's centre
                         * (on both axes) and inside it may take it; 1.5 */
} lcv_fcos_params;
lcv_fcos_params lcv_fcos_default_params(void);

/* The three terms of a detection loss and the number of positive locations. */
typedef struct lcv_fcos_terms {
    double cls, box, ctr;
    int64_t positives;
} lcv_fcos_terms;

/* FCOS loss of head outputs out [n, classes + 5, h, w] (channels: class logits, distances l, t,
 * r, b in pixels (positive), centre-ness logit) against boxes [n, k_max, 5] (x1, y1, x2, y2 in
 * pixels, class; rows with a negative class are unused). Location (gx, gy) sits at
 * (gx * stride + stride / 2, same for y) (lcv_decode_fcos's convention) and is positive for the
 * smallest box that contains it strictly and whose centre is within radius * stride on both
 * axes. Loss = sum of sigmoid focal losses over all locations and classes / P + sum over
 * positives of c * (1 - GIoU) / sum of c + sum over positives of BCE(centre-ness logit, c) / P,
 * where P = max(1, positives) and c = sqrt(min(l, r) / max(l, r) * min(t, b) / max(t, b)) is the
 * centre-ness target. dout (or NULL) receives the gradient; terms (or NULL) the parts. */
lcv_status lcv_loss_fcos(const float *out, const float *boxes, int64_t n, int64_t classes,
                         int64_t h, int64_t w, int64_t k_max, int stride,
                         const lcv_fcos_params *fp, float *dout, lcv_fcos_terms *terms,
                         double *loss, lcv_err *e);

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

/* Response distillation with separate weights: w_kd * T^2 * KL(softmax(teacher / T) ||
 * softmax(student / T)) (summed over classes, mean over the batch) + w_ce *
 * softmax_ce(student, labels, smoothing). Weights >= 0, T > 0; labels may be NULL only when
 * w_ce == 0. The gradient is ADDED to dstudent [n, k] (or NULL); *loss is set. Hinton KD is
 * w_kd = alpha, w_ce = 1 - alpha; deep mutual learning is w_kd = w_ce = 1, T = 1. */
lcv_status lcv_loss_kd(const float *student, const float *teacher, const int64_t *labels,
                       int64_t n, int64_t k, double w_kd, double w_ce, float temperature,
                       float smoothing, float *dstudent, double *loss, lcv_err *e);

/* The feature and relation losses below (distill_loss.c) ADD their gradients to the student
 * buffers (so several terms can share a value) and set *loss. */

/* FitNets hint (Romero et al. 2015) through a 1x1 convolution adapter: y = w xs + b at every
 * position of the student feature xs [n, cs, hw] (w [ct, cs], b [ct] or NULL), loss = weight *
 * mean((y - ft)^2) over the n * ct * hw elements of the teacher feature ft. dxs: added to;
 * dw, db: overwritten (each may be NULL). */
lcv_status lcv_loss_hint(const float *xs, int64_t n, int64_t cs, int64_t hw, const float *w,
                         const float *b, int64_t ct, const float *ft, double weight, float *dxs,
                         float *dw, float *db, double *loss, lcv_err *e);

/* Attention transfer (Zagoruyko and Komodakis 2017) between student features fs [n, cs, hw]
 * and teacher features ft [n, ct, hw]: q = normalise_L2(mean over channels of f^2) per sample
 * (F.normalize, eps 1e-12), loss = beta / 2 * mean((q_s - q_t)^2) over the n * hw entries, as
 * in the authors' code (the paper's beta is divided by the map size and batch to match). */
lcv_status lcv_loss_at(const float *fs, int64_t cs, const float *ft, int64_t ct, int64_t n,
                       int64_t hw, double beta, float *dfs, double *loss, lcv_err *e);

/* Relational KD (Park et al. 2019) on embeddings es [n, ds] and et [n, dt], n >= 2:
 * w_dist * distance loss + w_angle * angle loss, each the mean smooth-L1 (Huber, delta 1) over
 * all pairs / triplets of the student's relation against the teacher's, distances divided by
 * their mean over distinct pairs, angles the cosines between normalised differences (the
 * authors' code: pairwise distances clamped at 1e-12 before the root, diagonal zero).
 * dist_out / angle_out (optional) receive the two unweighted terms. */
lcv_status lcv_loss_rkd(const float *es, int64_t ds, const float *et, int64_t dt, int64_t n,
                        double w_dist, double w_angle, float *des, double *loss,
                        double *dist_out, double *angle_out, lcv_err *e);

/* Rows of logits [n, k] whose first maximum is at the label. */
int64_t lcv_loss_correct(const float *logits, const int64_t *labels, int64_t n, int64_t k);
/* Pixels of logits [n, k, hw] whose first maximum over the k classes is at the label map's
 * class ([n, hw]). */
int64_t lcv_loss_correct_map(const float *logits, const int64_t *labels, int64_t n, int64_t k,
                             int64_t hw);

#endif
