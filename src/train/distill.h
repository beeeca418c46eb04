/* distill.h - distillation inside the trainer (internal to src/train): the copied spec, the
 * values the backward is seeded at, the step loss of lcv_trainer_step_kd, and the FitNets
 * adapters (parameters of their own with an optimizer, saved by checkpoint.c). */
#ifndef LCV_TRAIN_DISTILL_H
#define LCV_TRAIN_DISTILL_H

#include "trainer_impl.h"

typedef struct lcv_kd lcv_kd;

/* Validates spec (borrowed) and copies it into *out (NULL spec: *out = NULL). */
lcv_status lcv_distill_create(const lcv_distill_spec *spec, lcv_kd **out, lcv_err *e);
void lcv_distill_free(lcv_kd *kd);
lcv_distill_mode lcv_distill_mode_of(const lcv_kd *kd);

/* The loss values (by name) the backward is seeded at: logits first, then the spec's student
 * values. *names: owned by kd. Fails naming a student value that is not in graph g. */
lcv_status lcv_distill_seeds(lcv_kd *kd, const lcv_graph *g, const char *logits,
                             const char *const **names, int *n, lcv_err *e);

/* lcv_trainer_step_kd's loss (an lcv_step_loss; ctx: the lcv_distill_inputs). */
lcv_status lcv_distill_loss(lcv_trainer *t, const void *ctx, const lcv_tensor *logits,
                            bool labelled, double *loss);

/* Adapters: tensors (weight [ct, cs] and bias [ct] per pair, in pair order; 0 until the
 * first step or a checkpoint creates them), their names and gradients. */
int lcv_distill_tensor_count(const lcv_kd *kd);
lcv_tensor *lcv_distill_tensor(lcv_kd *kd, int i);
const char *lcv_distill_tensor_name(const lcv_kd *kd, int i);
/* The number of adapter tensors a FITNETS spec has (2 per pair), 0 for other modes. */
int lcv_distill_tensor_slots(const lcv_kd *kd);
/* Creates the adapters with the shapes a checkpoint holds (weights [ct[i], cs[i]]) when they
 * do not exist yet; fails when existing ones differ. */
lcv_status lcv_distill_ensure_adapters(lcv_trainer *t, const int64_t *ct, const int64_t *cs,
                                       lcv_err *e);
lcv_optim *lcv_distill_optim(lcv_kd *kd);
/* Before the model's update: fails (naming the adapter) on a non-finite adapter gradient.
 * After it: updates the adapters. */
lcv_status lcv_distill_check_grads(lcv_trainer *t);
lcv_status lcv_distill_update(lcv_trainer *t);

#endif
