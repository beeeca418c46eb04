/* leancv_train.h - training classifiers (and per-pixel classifiers: semantic segmentation;
 * one-level anchor-free detectors) defined as ONNX graphs: a trainer holds the model's
 * parameters, an optimizer and a learning-rate schedule; each step runs the training forward,
 * a loss, the backward (reverse-mode autodiff over the graph) and an update. Checkpoints save
 * and restore everything a run needs to continue exactly; the trained model is written back as
 * ONNX.
 *
 * Conventions follow leancv.h: fallible functions return an lcv_status and keep a message that
 * names what failed (node, op, parameter, step) on the trainer, read with lcv_trainer_errmsg()
 * and valid until the next call on it; destructors accept NULL; ownership is written on every
 * pointer. Thread safety: a trainer belongs to one thread at a time (it runs its own worker
 * threads inside calls, params.threads); different trainers are independent. There is no
 * global mutable state.
 *
 * What is trained: float32 initializers feeding the weights and biases of Conv, ConvTranspose,
 * Gemm and MatMul, the scale and bias of BatchNormalization, LayerNormalization and
 * InstanceNormalization, PRelu slopes and rank >= 1 tensors added or multiplied (Add, Mul).
 * BatchNormalization running statistics are buffers, updated by training steps with batch
 * statistics; everything else is constant. An Identity applied to an initializer (how
 * exporters deduplicate tensors with equal contents, e.g. a fresh BatchNorm's running variance
 * and weight) becomes a copy of its own, so the two train separately as in the original
 * model. Every op between a parameter and the loss needs a backward (src/ops/grads.def);
 * creating a trainer for a model with one that has none fails, naming the node.
 *
 * Determinism: the same model, params (seed included) and thread count, fed the same batches,
 * give bit-identical parameters. */
#ifndef LEANCV_TRAIN_H
#define LEANCV_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "leancv.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum lcv_optimizer {
    /* PyTorch's SGD: d = g + weight_decay * w; buf = momentum * buf + d;
     * w -= lr * (nesterov ? d + momentum * buf : buf). */
    LCV_OPTIMIZER_SGD = 0,
    /* AdamW (Loshchilov and Hutter; PyTorch's AdamW): w *= 1 - lr * weight_decay, then the
     * bias-corrected Adam update with beta1, beta2, eps. */
    LCV_OPTIMIZER_ADAMW = 1
} lcv_optimizer;

/* Learning rate at step s (0-based, steps taken before this one), for peak rate lr:
 * during warm-up (s < warmup_steps) lr * (s + 1) / warmup_steps; after it, with
 * t = s - warmup_steps: CONSTANT lr; STEP lr * gamma^floor(t / step_size); COSINE
 * min_lr + (lr - min_lr) * (1 + cos(pi * min(t, T) / T)) / 2 with T = total_steps -
 * warmup_steps (lr when T <= 0). */
typedef enum lcv_lr_schedule {
    LCV_SCHEDULE_CONSTANT = 0,
    LCV_SCHEDULE_STEP = 1,
    LCV_SCHEDULE_COSINE = 2
} lcv_lr_schedule;

typedef struct lcv_train_params {
    lcv_optimizer optimizer; /* default SGD */
    float lr;                /* peak learning rate, > 0 (default 0.05) */
    float momentum;          /* SGD momentum in [0, 1) (default 0.9) */
    int nesterov;            /* SGD: non-zero for Nesterov momentum (needs momentum > 0) */
    float beta1, beta2, eps; /* AdamW (defaults 0.9, 0.999, 1e-8) */
    float weight_decay;      /* >= 0 (default 0) */
    /* Non-zero: decay 1-D parameters (biases, normalisation scales) too. Default 0: they are
     * excluded, as is usual. */
    int decay_1d;
    lcv_lr_schedule schedule; /* default CONSTANT */
    int64_t total_steps;      /* COSINE: the step at which the rate reaches min_lr */
    int64_t warmup_steps;     /* >= 0 (default 0) */
    int64_t step_size;        /* STEP: steps between decays (>= 1 for STEP) */
    float gamma;              /* STEP: decay factor (default 0.1) */
    float min_lr;             /* COSINE: final rate (default 0) */
    float label_smoothing;    /* cross-entropy label smoothing in [0, 1) (default 0) */
    /* Gradient clipping: when the global L2 norm of all parameter gradients exceeds clip_norm,
     * they are scaled by clip_norm / (norm + 1e-6) (PyTorch's clip_grad_norm_). 0 = off. */
    float clip_norm;
    /* Averaged weights (Polyak averaging): non-zero keeps, beside the trained parameters and
     * running statistics, an exponential moving average of them, updated after every step with
     * decay min(ema_decay, (1 + step) / (10 + step)). lcv_trainer_evaluate,
     * lcv_trainer_predict in inference mode and lcv_trainer_export_onnx then use the average;
     * steps still train the parameters themselves. In [0, 1) (default 0: off). */
    float ema_decay;
    /* Distillation (lcv_trainer_step_distill): loss = kd_alpha * T^2 * KL(softmax(teacher / T)
     * || softmax(student / T)) + (1 - kd_alpha) * cross-entropy, T = kd_temperature
     * (defaults 0.5 and 4). */
    float kd_alpha, kd_temperature;
    uint64_t seed;            /* dropout masks and other randomness (default 0) */
    int threads;              /* worker threads, >= 1 (default 1) */
    lcv_isa max_isa;          /* highest ISA the kernels may use (default AUTO) */
    uint64_t max_bytes;       /* largest model file or buffer accepted (0: 2 GiB) */
    /* Distillation losses for lcv_trainer_step_kd (see below); borrowed during creation only
     * (copied). NULL (default): lcv_trainer_step_kd is unavailable. */
    const struct lcv_distill_spec *distill;
} lcv_train_params;

LCV_API lcv_train_params lcv_train_default_params(void);

typedef struct lcv_trainer lcv_trainer;

/* Creates a trainer for the ONNX classifier at path: its first input takes the images
 * (float32 [N, ...], dim 0 the batch), its first output gives the logits [N, classes], or
 * per-pixel logits [N, classes, H, W] for segmentation; the initial parameters are the file's
 * initializers. params: borrowed, may be NULL (defaults).
 * *out always receives a handle (unless out is NULL or memory ran out): on failure it holds
 * only the message for lcv_trainer_errmsg(); free it with lcv_trainer_free in both cases.
 * Thread-safe. */
LCV_API lcv_status lcv_trainer_create_file(const char *path, const lcv_train_params *params,
                                           lcv_trainer **out);
/* Same, from a serialized ModelProto. data: borrowed, read during the call only. */
LCV_API lcv_status lcv_trainer_create_buffer(const void *data, size_t size,
                                             const lcv_train_params *params, lcv_trainer **out);
LCV_API void lcv_trainer_free(lcv_trainer *t);
/* Last error message ("" if none). Owned by the trainer. */
LCV_API const char *lcv_trainer_errmsg(const lcv_trainer *t);

/* One optimisation step on a batch: images (borrowed) as the model's first input, labels
 * (borrowed) int64 or int32 [N] in [0, classes). *loss (optional) receives the mean
 * cross-entropy of the batch before the update, *correct (optional) how many argmax
 * predictions matched the labels. A model with per-pixel logits [N, classes, H, W] takes label
 * maps [N, H, W] instead: the loss is the cross-entropy averaged over all N * H * W pixels
 * (PyTorch's F.cross_entropy on 4-D input) and *correct counts pixels. Boxes float32
 * [N, K, 5] (x1, y1, x2, y2 in pixels, class; rows with class -1 unused) train a one-level
 * detection head whose output is [N, classes + 5, H / s, W / s] (class logits, distances l, t,
 * r, b > 0 in pixels, centre-ness logit; s the stride) with the FCOS loss (sigmoid focal loss,
 * GIoU weighted by centre-ness, centre-ness BCE; docs/TRAINING.md); *correct is then 0.
 * Distillation needs [N, classes] logits. A non-finite loss or gradient fails, naming the step,
 * before anything is updated. */
LCV_API lcv_status lcv_trainer_step(lcv_trainer *t, const lcv_tensor *images,
                                    const lcv_tensor *labels, float *loss, int64_t *correct);
/* Like lcv_trainer_step with the distillation loss (params.kd_alpha, kd_temperature) against
 * teacher_logits (borrowed, float32 shaped like the model's logits). */
LCV_API lcv_status lcv_trainer_step_distill(lcv_trainer *t, const lcv_tensor *images,
                                            const lcv_tensor *labels,
                                            const lcv_tensor *teacher_logits, float *loss,
                                            int64_t *correct);
/* ---- Knowledge distillation (docs/DISTILLATION.md) -----------------------------------------
 * A trainer created with params.distill trains its model (the student) with the losses the
 * spec names; lcv_trainer_step_kd takes the batch and what the teacher produced on it (the
 * caller runs the teacher, e.g. with an lcv_session). Every loss is a mean over the batch. */
typedef enum lcv_distill_mode {
    LCV_DISTILL_CE = 0,  /* no teacher: ce_weight * cross-entropy (the baseline) */
    /* Response (Hinton et al. 2015): kd_weight * T^2 * KL(softmax(teacher / T) ||
     * softmax(student / T)) + ce_weight * cross-entropy on the logits (output 0). */
    LCV_DISTILL_HINTON = 1,
    /* Feature (FitNets, Romero et al. 2015): per pair, the student value [N, Cs, spatial...]
     * goes through a trainable 1x1 convolution adapter to Ct channels and hint_weight * MSE to
     * the teacher value [N, Ct, spatial...]; plus ce_weight * cross-entropy. The adapters are
     * trainer parameters (same optimizer and schedule, clipped on their own norm), saved in
     * checkpoints and not exported with the student. */
    LCV_DISTILL_FITNETS = 2,
    /* Feature (attention transfer, Zagoruyko and Komodakis 2017): per pair, at_beta / 2 *
     * mean((q_s - q_t)^2) with q = normalise_L2(mean over channels of F^2) per sample; the
     * spatial sizes must match; plus ce_weight * cross-entropy. */
    LCV_DISTILL_AT = 3,
    /* Relation (RKD, Park et al. 2019): rkd_distance * distance loss + rkd_angle * angle loss
     * (smooth L1 on normalised pairwise distances and on triplet angles) between the student's
     * and the teacher's embedding values [N, ...]; plus ce_weight * cross-entropy. */
    LCV_DISTILL_RKD = 4,
    /* Online (deep mutual learning, Zhang et al. 2018): like HINTON with the peer student's
     * logits (detached) as the teacher's; defaults ce 1, kd 1, T 1. See
     * lcv_trainer_step_mutual. */
    LCV_DISTILL_DML = 5,
    /* Self (Zhang et al. 2019, "Be your own teacher"): the model has several exits (logits
     * values [N, classes]); output 0, the deepest, teaches every exit in `exits` with
     * kd_weight * T^2 * KL(deepest (detached) || exit); every exit, the deepest included, gets
     * ce_weight * cross-entropy. No teacher input. */
    LCV_DISTILL_SELF = 6
} lcv_distill_mode;

/* A student value and the teacher value it is compared with (names, borrowed). The teacher's
 * name is for messages: the caller passes its data in lcv_distill_inputs. */
typedef struct lcv_distill_pair {
    const char *student;
    const char *teacher;
} lcv_distill_pair;

typedef struct lcv_distill_spec {
    lcv_distill_mode mode;
    float ce_weight, kd_weight; /* >= 0 */
    float temperature;          /* > 0 */
    int n_pairs;                /* FITNETS, AT: >= 1 feature pairs */
    const lcv_distill_pair *pairs;
    float hint_weight;          /* FITNETS (default 1) */
    float at_beta;              /* AT (default 1000, the authors') */
    lcv_distill_pair embedding; /* RKD */
    float rkd_distance, rkd_angle; /* RKD weights (defaults 25 and 50, the authors') */
    int n_exits;                /* SELF: >= 1 shallower exits */
    const char *const *exits;
} lcv_distill_spec;

/* The defaults for a mode: HINTON ce 0.5, kd 0.5, T 4; DML ce 1, kd 1, T 1; SELF ce 0.7,
 * kd 0.3, T 3; the others ce 1. Names and counts are left empty. */
LCV_API lcv_distill_spec lcv_distill_default_spec(lcv_distill_mode mode);
/* "ce", "hinton", "fitnets", "at", "rkd", "dml", "self" (NULL for other values). */
LCV_API const char *lcv_distill_mode_name(lcv_distill_mode mode);

/* What the teacher produced on the batch (all borrowed, float32, batch dim N first). */
typedef struct lcv_distill_inputs {
    const lcv_tensor *teacher_logits;  /* HINTON, DML: shaped like the student's logits */
    const lcv_tensor *const *features; /* FITNETS, AT: n_pairs teacher values, pair order */
    const lcv_tensor *embedding;       /* RKD: the teacher's embedding [N, ...] */
} lcv_distill_inputs;

/* One optimisation step with the spec's losses (params.distill at creation). in may be NULL
 * for CE and SELF. Shapes and names are checked with messages naming the value; *loss
 * (optional) receives the total loss, *correct the argmax hits of output 0. */
LCV_API lcv_status lcv_trainer_step_kd(lcv_trainer *t, const lcv_tensor *images,
                                       const lcv_tensor *labels, const lcv_distill_inputs *in,
                                       float *loss, int64_t *correct);
/* Deep mutual learning on one batch, as in the paper: a's step against b's current logits,
 * then b's step against a's logits recomputed after a's update. Both trainers need a DML
 * spec; losses and hits are per student (each optional). */
LCV_API lcv_status lcv_trainer_step_mutual(lcv_trainer *a, lcv_trainer *b,
                                           const lcv_tensor *images, const lcv_tensor *labels,
                                           float loss[2], int64_t correct[2]);
/* The model's logits on images with the current parameters. training != 0: the training
 * forward (batch statistics, dropout with the next step's masks) without changing anything
 * (running statistics and random state are kept); 0: like lcv_trainer_evaluate. *logits:
 * owned by the trainer, valid until its next call. */
LCV_API lcv_status lcv_trainer_predict(lcv_trainer *t, const lcv_tensor *images, int training,
                                       const lcv_tensor **logits);

/* Runs the model in inference mode (BatchNormalization with running statistics, no dropout)
 * on images (borrowed). *logits: owned by the trainer, valid until its next call. */
LCV_API lcv_status lcv_trainer_evaluate(lcv_trainer *t, const lcv_tensor *images,
                                        const lcv_tensor **logits);

/* Optimisation steps taken so far (restored by lcv_trainer_load). */
LCV_API int64_t lcv_trainer_step_count(const lcv_trainer *t);
/* A caller-kept epoch counter saved in checkpoints (e.g. completed epochs). */
LCV_API int64_t lcv_trainer_epoch(const lcv_trainer *t);
LCV_API void lcv_trainer_set_epoch(lcv_trainer *t, int64_t epoch);
/* The learning rate the next step will use. */
LCV_API float lcv_trainer_lr(const lcv_trainer *t);

/* Trainable parameter tensors: their number, and tensor i's name (owned by the trainer) and
 * current value (owned by the trainer, read-only, valid until the next step or load). */
LCV_API int lcv_trainer_param_tensors(const lcv_trainer *t);
LCV_API lcv_status lcv_trainer_param(const lcv_trainer *t, int i, const char **name,
                                     const lcv_tensor **value);
/* Total trainable elements. */
LCV_API int64_t lcv_trainer_param_count(const lcv_trainer *t);

/* Saves a checkpoint: parameters, buffers, optimizer state (distillation adapters included),
 * step, epoch and random state,
 * with a fingerprint of the parameter names and shapes. Written to "<path>.tmp" and renamed
 * over path, so an interrupted save leaves the previous checkpoint intact. */
LCV_API lcv_status lcv_trainer_save(lcv_trainer *t, const char *path);
/* Restores a checkpoint saved by a trainer of the same model and optimizer: continuing then
 * gives exactly what the saving run would have. A checkpoint of another model fails, naming
 * the first parameter whose name or shape differs; nothing is changed on failure. */
LCV_API lcv_status lcv_trainer_load(lcv_trainer *t, const char *path);
/* Starts from the weights of the ONNX model at path (transfer learning, e.g. the same
 * convolutional architecture trained first on smaller images): each parameter and buffer
 * takes the initializer of the same name, type and shape there; the rest keep their own
 * values. *taken (may be NULL) receives how many were taken. Fails, changing nothing, when
 * the file cannot be read or none matches. Call before the first step; the optimizer state is
 * not touched. */
LCV_API lcv_status lcv_trainer_init_from_file(lcv_trainer *t, const char *path, int *taken);
/* Writes the trained model as ONNX (the original graph with the current parameters and
 * running statistics). */
LCV_API lcv_status lcv_trainer_export_onnx(lcv_trainer *t, const char *path);

#ifdef __cplusplus
}
#endif

#endif /* LEANCV_TRAIN_H */
