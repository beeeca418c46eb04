/* train_opts.h - the options and pieces `leancv train` and `leancv distill` share: the common
 * training options (optimizer, schedule, data, augmentation, checkpoints), opening loaders,
 * creating a trainer from an ONNX file or a named architecture, validation accuracy and the
 * progress line. */
#ifndef LCV_CLI_TRAIN_OPTS_H
#define LCV_CLI_TRAIN_OPTS_H

#include <stdbool.h>

#include "leancv_data.h"
#include "leancv_train.h"

typedef struct train_opts {
    const char *model, *data, *val, *out, *checkpoint, *resume, *init;
    long epochs, batch, limit, val_limit, pad_crop, step_size;
    bool hflip, set_step_size;
    float mean, std;
    lcv_train_params p;
} train_opts;

/* The defaults: 1 epoch, batch 64, std 1, lcv_train_default_params(). */
void train_opts_init(train_opts *o);
/* The help text of the common options (each line starts with two spaces). */
const char *train_opts_help(void);
/* Parses the common option argv[*i] (advancing *i past its value). Returns 0 when handled,
 * 1 after printing an error, -1 when argv[*i] is not a common option. cmd names the command
 * in messages. */
int train_opts_parse(const char *cmd, int argc, char **argv, int *i, train_opts *o);
/* After parsing, with the training loader: total steps and the step schedule's default. */
void train_opts_finish(train_opts *o, int64_t batches_per_epoch);

/* Opens a data set and its loader (shuffled, augmented and dropping the last partial batch
 * when train). Returns 0 or 1 after printing an error. */
int train_open_loader(const char *cmd, const char *spec, long limit, const train_opts *o,
                      bool train, lcv_dataset **ds, lcv_loader **ld);
/* A trainer for model: an ONNX file, or an architecture ("arch:NAME", or a NAME that is not an
 * existing file) built for ds's sample shape and class count with seed; then started from the
 * weights of the ONNX file init where names and shapes agree (--init; NULL: none). Returns 0
 * or 1. */
int train_create(const char *cmd, const char *model, const lcv_train_params *p, uint64_t seed,
                 const char *init, const lcv_dataset *ds, lcv_trainer **t);
/* The next batch of a validation epoch of ld (started by the caller) and t's output on it:
 * 1 with *x, *y and *out set, 0 at the end of the epoch, -1 after printing an error. */
int train_val_next(const char *cmd, lcv_trainer *t, lcv_loader *ld, const lcv_tensor **x,
                   const lcv_tensor **y, const lcv_tensor **out);
/* Accuracy (percent) of t's model on a validation loader. Returns 0 or 1. */
int train_validate(const char *cmd, lcv_trainer *t, lcv_loader *ld, double *acc);
/* The same, also for segmenters (per-pixel logits [N, K, H, W], K <= 256, label maps): *acc is
 * then the pixel accuracy and *miou (optional) the mean IoU over the classes present in the
 * prediction or the truth (lcv_miou), in [0, 1]; -1 for classifiers. Returns 0 or 1. */
int train_validate_miou(const char *cmd, lcv_trainer *t, lcv_loader *ld, double *acc,
                        double *miou);

/* Validation of a detector (train_detval.c): boxes [N, K, 5] against the single head output
 * [N, classes + 5, h, w] of fcos-tiny, decoded as leancv detect --head fcos --conf 0.05 --iou
 * 0.5 --topk 100 would; *map50 / *map receive mAP@0.5 and mAP@[.5:.95]. Returns 0 or 1. */
int train_validate_det(const char *cmd, lcv_trainer *t, lcv_loader *ld, double *map50,
                       double *map);

/* Progress of a run: a line on stderr, rewritten in place on a terminal. */
typedef struct train_progress {
    double t0, last_print;
    int64_t steps_done, steps_total; /* in this run */
    bool tty;
} train_progress;
void train_progress_start(train_progress *pr, int64_t steps_total);
/* acc < 0: a run without accuracy (a detector) */
void train_progress_print(train_progress *pr, const train_opts *o, int64_t epoch, int64_t b,
                          int64_t nb, double loss, double acc, bool final);
void train_fmt_time(double s, char *buf, size_t cap);

#endif
