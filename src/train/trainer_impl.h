/* trainer_impl.h - the layout of lcv_trainer, shared by trainer.c (steps, evaluation) and
 * checkpoint.c (saving and restoring its state) and distill.c (distillation losses). */
#ifndef LCV_TRAIN_TRAINER_IMPL_H
#define LCV_TRAIN_TRAINER_IMPL_H

#include "autodiff.h"
#include "optim.h"

struct lcv_trainer {
    lcv_err err;
    bool ready;             /* false for an error-only handle */
    lcv_train_params p;
    lcv_autodiff *ad;       /* owns the graph and so the parameters and buffers */
    lcv_optim *opt;
    int n_params;
    /* borrowed from the graph's initializers: the parameters, then the buffers (one array, so
     * the weight average tracks params[0 .. n_params + n_buffers)) */
    lcv_tensor **params;
    lcv_tensor **grads;     /* borrowed from ad */
    int n_buffers;
    lcv_tensor **buffers;   /* params + n_params */
    float **buffer_backup;  /* buffers before the current step, restored when it fails */
    int logits_value;       /* graph output 0 */
    int64_t epoch;
    uint64_t rng;           /* advanced once per successful step */
    int64_t *labels;        /* the batch's labels as int64 ([N] or label maps [N, H, W]) */
    int64_t labels_cap;
    int64_t label_h, label_w; /* the batch's label map size, 0 x 0 for one label per image */
    float *boxes;           /* detection: the batch's boxes [N, box_rows, 5] */
    int64_t boxes_cap;
    int64_t box_rows;       /* boxes per image (0: the labels are classes or maps) */
    int64_t image_h, image_w; /* the batch's image size (a detector's stride comes from it) */
    struct lcv_kd *kd;      /* distillation (distill.c), NULL without params.distill */
    /* params.ema_decay > 0: the average of params[0 .. n_params + n_buffers); NULL otherwise */
    struct lcv_ema *ema;
};

/* Model files larger than this are refused unless lcv_train_params.max_bytes says more. */
#define LCV_TRAIN_DEFAULT_MAX_BYTES ((uint64_t)2 << 30)

/* The random state a trainer starts from for a seed. */
uint64_t lcv_trainer_rng_init(uint64_t seed);

/* A step's loss: called after the training forward with the logits (float32 [n, classes],
 * graph output 0); seeds the backward (lcv_autodiff_seed, once per value) and sets *loss.
 * t->labels holds the labels when labelled. */
typedef lcv_status (*lcv_step_loss)(lcv_trainer *t, const void *ctx, const lcv_tensor *logits,
                                    bool labelled, double *loss);
/* One step (trainer.c): forward, fn, backward, checks, updates (model and adapters). labels
 * may be NULL unless need_labels. */
lcv_status lcv_trainer_run_step(lcv_trainer *t, const lcv_tensor *images,
                                const lcv_tensor *labels, bool need_labels, lcv_step_loss fn,
                                const void *ctx, float *loss, int64_t *correct);

/* Exchanges the trained weights with their average (when params.ema_decay > 0; a second call
 * undoes the first): evaluation and export run between two calls. */
void lcv_trainer_swap_ema(lcv_trainer *t);

#endif
