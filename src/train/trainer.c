/* trainer.c - the public training API (include/leancv_train.h): creating a trainer from an ONNX
 * classifier, segmenter or detector, optimisation steps (training forward, cross-entropy per
 * sample or per pixel, the detection loss, or distillation loss, backward, non-finite checks,
 * optimizer update) and evaluation. Checkpoints are in checkpoint.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../frontends/onnx/onnx.h"
#include "distill.h"
#include "ema.h"
#include "loss.h"

lcv_train_params lcv_train_default_params(void) {
    lcv_train_params p;
    memset(&p, 0, sizeof p);
    p.optimizer = LCV_OPTIMIZER_SGD;
    p.lr = 0.05f;
    p.momentum = 0.9f;
    p.beta1 = 0.9f;
    p.beta2 = 0.999f;
    p.eps = 1e-8f;
    p.schedule = LCV_SCHEDULE_CONSTANT;
    p.gamma = 0.1f;
    p.kd_alpha = 0.5f;
    p.kd_temperature = 4.0f;
    p.threads = 1;
    p.max_isa = LCV_ISA_AUTO;
    return p;
}

static uint64_t mix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

uint64_t lcv_trainer_rng_init(uint64_t seed) { return mix64(seed ^ 0x6c65616e6376ULL); }

void lcv_trainer_free(lcv_trainer *t) {
    if (!t) return;
    lcv_optim_free(t->opt);
    lcv_autodiff_free(t->ad);
    lcv_distill_free(t->kd);
    lcv_ema_free(t->ema);
    if (t->buffer_backup)
        for (int i = 0; i < t->n_buffers; i++) free(t->buffer_backup[i]);
    free(t->buffer_backup);
    free(t->params);
    free(t->grads);
    free(t->labels);
    free(t->boxes);
    free(t);
}

const char *lcv_trainer_errmsg(const lcv_trainer *t) { return t ? t->err.msg : "no trainer"; }

static lcv_status check_params(const lcv_train_params *p, lcv_err *e) {
    lcv_status st = lcv_optim_check(p, e);
    if (st != LCV_OK) return st;
    if (!(p->label_smoothing >= 0.0f && p->label_smoothing < 1.0f))
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "label smoothing %g is outside [0, 1)",
                        (double)p->label_smoothing);
    if (!(p->kd_alpha >= 0.0f && p->kd_alpha <= 1.0f) || !(p->kd_temperature > 0.0f))
        return lcv_fail(e, LCV_ERR_INVALID_ARG,
                        "distillation alpha %g must be in [0, 1] and temperature %g positive",
                        (double)p->kd_alpha, (double)p->kd_temperature);
    if (!(p->ema_decay >= 0.0f && p->ema_decay < 1.0f))
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "weight-average decay %g is outside [0, 1)",
                        (double)p->ema_decay);
    if (p->threads < 1 || p->threads > 1024)
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "threads %d is outside 1..1024", p->threads);
    return LCV_OK;
}

/* Everything after import: the engine, the parameter lists and the optimizer. */
static lcv_status setup(lcv_trainer *t, lcv_graph *g) {
    lcv_err *e = &t->err;
    if (g->n_inputs < 1 || g->n_outputs < 1) {
        lcv_graph_free(g);
        return lcv_fail(e, LCV_ERR_UNSUPPORTED,
                        "a classifier needs an image input and a logits output (the model has %d "
                        "inputs and %d outputs)", g->n_inputs, g->n_outputs);
    }
    const char *logits = g->values[g->outputs[0]].name;
    lcv_autodiff_params ap = {t->p.max_isa, t->p.threads, &logits, 1};
    if (t->kd) {
        lcv_status st = lcv_distill_seeds(t->kd, g, logits, &ap.seed_names, &ap.n_seeds, e);
        if (st != LCV_OK) {
            lcv_graph_free(g);
            return st;
        }
    }
    lcv_status st = lcv_autodiff_create(g, &ap, &t->ad, e); /* takes g */
    if (st != LCV_OK) return st;
    g = lcv_autodiff_graph(t->ad);
    t->logits_value = g->outputs[0];
    t->n_params = lcv_autodiff_param_count(t->ad);
    t->n_buffers = lcv_autodiff_buffer_count(t->ad);
    if (t->n_params == 0)
        return lcv_fail(e, LCV_ERR_UNSUPPORTED, "the model has no trainable parameters (see "
                        "leancv_train.h for which initializers are trained)");
    t->params = calloc((size_t)t->n_params + (size_t)t->n_buffers, sizeof *t->params);
    t->grads = calloc((size_t)t->n_params, sizeof *t->grads);
    t->buffers = t->params ? t->params + t->n_params : NULL;
    t->buffer_backup = calloc((size_t)t->n_buffers + 1, sizeof *t->buffer_backup);
    if (!t->params || !t->grads || !t->buffers || !t->buffer_backup)
        return lcv_fail(e, LCV_ERR_NOMEM, "out of memory creating the trainer");
    for (int i = 0; i < t->n_params; i++) {
        t->params[i] = lcv_autodiff_param(t->ad, i);
        t->grads[i] = lcv_autodiff_param_grad(t->ad, i);
    }
    for (int i = 0; i < t->n_buffers; i++) {
        t->buffers[i] = lcv_autodiff_buffer(t->ad, i);
        t->buffer_backup[i] = malloc(lcv_tensor_nbytes(t->buffers[i]) + 1);
        if (!t->buffer_backup[i]) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory");
    }
    st = lcv_optim_create(&t->p, t->n_params, (const lcv_tensor *const *)t->params, &t->opt, e);
    if (st != LCV_OK) return st;
    if (t->p.ema_decay > 0.0f) {
        st = lcv_ema_create(t->n_params + t->n_buffers, t->params, &t->ema, e);
        if (st != LCV_OK) return st;
    }
    t->rng = lcv_trainer_rng_init(t->p.seed);
    return LCV_OK;
}

static lcv_trainer *trainer_alloc(const lcv_train_params *params, lcv_status *st) {
    lcv_trainer *t = calloc(1, sizeof *t);
    if (!t) {
        *st = LCV_ERR_NOMEM;
        return NULL;
    }
    t->p = params ? *params : lcv_train_default_params();
    *st = check_params(&t->p, &t->err);
    if (*st == LCV_OK) *st = lcv_distill_create(t->p.distill, &t->kd, &t->err);
    t->p.distill = NULL; /* borrowed during creation only: kd holds the copy */
    return t;
}

lcv_status lcv_trainer_create_buffer(const void *data, size_t size,
                                     const lcv_train_params *params, lcv_trainer **out) {
    if (!out) return LCV_ERR_INVALID_ARG;
    lcv_status st;
    lcv_trainer *t = *out = trainer_alloc(params, &st);
    if (!t || st != LCV_OK) return st;
    uint64_t max = t->p.max_bytes ? t->p.max_bytes : LCV_TRAIN_DEFAULT_MAX_BYTES;
    if (!data && size) return lcv_fail(&t->err, LCV_ERR_INVALID_ARG, "data is NULL");
    if (size > max)
        return lcv_fail(&t->err, LCV_ERR_PARSE, "model buffer of %zu bytes exceeds the limit %llu",
                        size, (unsigned long long)max);
    lcv_graph *g = NULL;
    st = lcv_onnx_import(data, size, NULL, max, &g, &t->err);
    if (st == LCV_OK) st = setup(t, g);
    t->ready = st == LCV_OK;
    return st;
}

lcv_status lcv_trainer_create_file(const char *path, const lcv_train_params *params,
                                   lcv_trainer **out) {
    if (!out) return LCV_ERR_INVALID_ARG;
    lcv_status st;
    lcv_trainer *t = *out = trainer_alloc(params, &st);
    if (!t || st != LCV_OK) return st;
    if (!path) return lcv_fail(&t->err, LCV_ERR_INVALID_ARG, "path is NULL");
    uint64_t max = t->p.max_bytes ? t->p.max_bytes : LCV_TRAIN_DEFAULT_MAX_BYTES;
    void *data = NULL;
    size_t size = 0;
    st = lcv_read_file(path, max, &data, &size, &t->err);
    if (st != LCV_OK) return st;
    /* external data resolves next to the model file */
    const char *slash = strrchr(path, '/');
    size_t len = slash ? (size_t)(slash - path) : 1;
    char *dir = malloc(len + 1);
    if (!dir) {
        free(data);
        return lcv_fail(&t->err, LCV_ERR_NOMEM, "out of memory");
    }
    memcpy(dir, slash ? path : ".", len);
    dir[len] = '\0';
    lcv_graph *g = NULL;
    st = lcv_onnx_import(data, size, len ? dir : "/", max, &g, &t->err);
    free(data);
    free(dir);
    if (st == LCV_OK) st = setup(t, g);
    if (st != LCV_OK) lcv_err_prefix(&t->err, "%s", path);
    t->ready = st == LCV_OK;
    return st;
}

/* Boxes float32 [N, K, 5] in t->boxes (checked by the loss). */
static lcv_status read_boxes(lcv_trainer *t, const lcv_tensor *labels) {
    int64_t n = lcv_tensor_count(labels);
    if (n > t->boxes_cap) {
        float *b = realloc(t->boxes, sizeof(float) * (size_t)n);
        if (!b) return lcv_fail(&t->err, LCV_ERR_NOMEM, "out of memory for %lld box values",
                                (long long)n);
        t->boxes = b;
        t->boxes_cap = n;
    }
    memcpy(t->boxes, labels->data, sizeof(float) * (size_t)n);
    t->box_rows = labels->dims[1];
    return LCV_OK;
}

/* Labels as int64 [N] or label maps [N, H, W] in t->labels (checked against the logits after
 * the forward, check_label_maps), or boxes float32 [N, K, 5] in t->boxes. */
static lcv_status read_labels(lcv_trainer *t, const lcv_tensor *labels, int64_t rows) {
    if (labels && labels->dtype == LCV_DTYPE_FLOAT32 && labels->ndim == 3 &&
        labels->dims[0] == rows && labels->dims[2] == 5)
        return read_boxes(t, labels);
    if (!labels || (labels->ndim != 1 && labels->ndim != 3) || labels->dims[0] != rows ||
        (labels->dtype != LCV_DTYPE_INT64 && labels->dtype != LCV_DTYPE_INT32))
        return lcv_fail(&t->err, LCV_ERR_INVALID_ARG, "labels must be int64 or int32 [%lld] (one "
                        "per image) or label maps [%lld, H, W], or boxes float32 [%lld, K, 5]",
                        (long long)rows, (long long)rows, (long long)rows);
    int64_t n = lcv_tensor_count(labels);
    t->label_h = labels->ndim == 3 ? labels->dims[1] : 0;
    t->label_w = labels->ndim == 3 ? labels->dims[2] : 0;
    if (n > t->labels_cap) {
        int64_t *l = realloc(t->labels, sizeof(int64_t) * (size_t)n);
        if (!l)
            return lcv_fail(&t->err, LCV_ERR_NOMEM, "out of memory for %lld labels", (long long)n);
        t->labels = l;
        t->labels_cap = n;
    }
    for (int64_t i = 0; i < n; i++) t->labels[i] = lcv_load_i64(labels->dtype, labels->data, i);
    return LCV_OK;
}

static lcv_status check_images(lcv_trainer *t, const lcv_tensor *images) {
    if (!t || !t->ready) return LCV_ERR_INVALID_ARG;
    t->err.msg[0] = '\0';
    if (!images || images->ndim < 1 || images->dims[0] < 1)
        return lcv_fail(&t->err, LCV_ERR_INVALID_ARG, "images must be a tensor [N, ...], N >= 1");
    if (lcv_autodiff_graph(t->ad)->n_inputs != 1)
        return lcv_fail(&t->err, LCV_ERR_UNSUPPORTED, "the model has %d inputs; training feeds "
                        "one (the images)", lcv_autodiff_graph(t->ad)->n_inputs);
    return LCV_OK;
}

/* The logits of the last forward: float32 [N, classes] or per-pixel [N, classes, H, W]. */
static const lcv_tensor *get_logits(lcv_trainer *t, int64_t n) {
    const lcv_tensor *lg = lcv_autodiff_value(t->ad, t->logits_value);
    if (!lg || lg->dtype != LCV_DTYPE_FLOAT32 || (lg->ndim != 2 && lg->ndim != 4) ||
        lg->dims[0] != n || lg->dims[1] < 1 || lcv_tensor_count(lg) < 1) {
        char buf[160];
        lcv_fail(&t->err, LCV_ERR_SHAPE, "output '%s' must be float32 logits [%lld, classes] (or "
                 "[%lld, classes, H, W] per pixel), got %s %s",
                 lcv_autodiff_graph(t->ad)->values[t->logits_value].name, (long long)n,
                 (long long)n,
                 lg ? lcv_dtype_name(lg->dtype) : "nothing",
                 lg ? lcv_shape_str(lg->ndim, lg->dims, buf, sizeof buf) : "");
        return NULL;
    }
    return lg;
}

static void restore_buffers(lcv_trainer *t) {
    for (int i = 0; i < t->n_buffers; i++)
        memcpy(t->buffers[i]->data, t->buffer_backup[i], lcv_tensor_nbytes(t->buffers[i]));
}

/* The first parameter whose gradient holds a NaN or infinity. */
static const char *nonfinite_grad(lcv_trainer *t) {
    lcv_graph *g = lcv_autodiff_graph(t->ad);
    for (int i = 0; i < t->n_params; i++) {
        const float *d = t->grads[i]->data;
        for (int64_t j = 0; j < lcv_tensor_count(t->grads[i]); j++)
            if (!isfinite(d[j])) return g->values[lcv_autodiff_param_value(t->ad, i)].name;
    }
    return "?";
}

/* Whether the labels read by read_labels suit logits lg: one per row for [N, classes], a map
 * of the logits' H x W for [N, classes, H, W]. */
static lcv_status check_label_maps(lcv_trainer *t, const lcv_tensor *lg) {
    bool map = lg->ndim == 4;
    if (!map && t->label_h == 0) return LCV_OK;
    if (map && t->label_h == lg->dims[2] && t->label_w == lg->dims[3]) return LCV_OK;
    if (!map)
        return lcv_fail(&t->err, LCV_ERR_INVALID_ARG, "the labels are maps of %lld x %lld but the "
                        "model's logits are [%lld, %lld] (one per image)", (long long)t->label_h,
                        (long long)t->label_w, (long long)lg->dims[0], (long long)lg->dims[1]);
    return lcv_fail(&t->err, LCV_ERR_INVALID_ARG, "per-pixel logits [%lld, %lld, %lld, %lld] need "
                    "label maps [%lld, %lld, %lld], got %s", (long long)lg->dims[0],
                    (long long)lg->dims[1], (long long)lg->dims[2], (long long)lg->dims[3],
                    (long long)lg->dims[0], (long long)lg->dims[2], (long long)lg->dims[3],
                    t->label_h ? "maps of another size" : "one label per image");
}

/* The detection loss of a step with boxes: the head's output [N, classes + 5, h, w] at a stride
 * that divides the image size evenly. */
static lcv_status det_loss(lcv_trainer *t, const lcv_tensor *out, double *loss) {
    char buf[160];
    int64_t h = out->ndim == 4 ? out->dims[2] : 0, w = out->ndim == 4 ? out->dims[3] : 0;
    if (out->ndim != 4 || out->dims[1] < 6 || t->image_h % h || t->image_w % w ||
        t->image_h / h != t->image_w / w || t->image_h / h > 1024)
        return lcv_fail(&t->err, LCV_ERR_INVALID_ARG, "boxes need a detection head's output [N, "
                        "classes + 5, H / s, W / s] (class logits, distances l, t, r, b, "
                        "centre-ness) for images of %lld x %lld; the model gives %s",
                        (long long)t->image_h, (long long)t->image_w,
                        lcv_shape_str(out->ndim, out->dims, buf, sizeof buf));
    lcv_tensor *seed = lcv_autodiff_seed(t->ad, t->logits_value, &t->err);
    if (!seed) return LCV_ERR_INTERNAL;
    lcv_fcos_params fp = lcv_fcos_default_params();
    return lcv_loss_fcos(out->data, t->boxes, out->dims[0], out->dims[1] - 5, h, w, t->box_rows,
                         (int)(t->image_h / h), &fp, seed->data, NULL, loss, &t->err);
}

/* The loss of lcv_trainer_step: cross-entropy per sample, or per pixel for [N, K, H, W], or the
 * detection loss when the labels are boxes. */
static lcv_status ce_loss(lcv_trainer *t, const void *ctx, const lcv_tensor *lg, bool labelled,
                          double *loss) {
    (void)ctx;
    (void)labelled;
    if (t->box_rows) return det_loss(t, lg, loss);
    lcv_status st = check_label_maps(t, lg);
    if (st != LCV_OK) return st;
    lcv_tensor *seed = lcv_autodiff_seed(t->ad, t->logits_value, &t->err);
    if (!seed) return LCV_ERR_INTERNAL;
    if (lg->ndim == 4)
        return lcv_loss_softmax_ce_map(lg->data, t->labels, lg->dims[0], lg->dims[1],
                                       lg->dims[2] * lg->dims[3], t->p.label_smoothing,
                                       seed->data, loss, lcv_autodiff_pool(t->ad), &t->err);
    return lcv_loss_softmax_ce(lg->data, t->labels, lg->dims[0], lg->dims[1],
                               t->p.label_smoothing, seed->data, loss, &t->err);
}

/* The Hinton loss of lcv_trainer_step_distill (ctx: the teacher's logits). */
static lcv_status hinton_loss(lcv_trainer *t, const void *ctx, const lcv_tensor *lg,
                              bool labelled, double *loss) {
    const lcv_tensor *teacher = ctx;
    if (teacher->dtype != LCV_DTYPE_FLOAT32 ||
        !lcv_shape_equal(teacher->ndim, teacher->dims, lg->ndim, lg->dims))
        return lcv_fail(&t->err, LCV_ERR_INVALID_ARG,
                        "teacher logits must be float32 shaped like the model's [%lld, %lld]",
                        (long long)lg->dims[0], (long long)lg->dims[1]);
    lcv_tensor *seed = lcv_autodiff_seed(t->ad, t->logits_value, &t->err);
    if (!seed) return LCV_ERR_INTERNAL;
    return lcv_loss_distill(lg->data, teacher->data, labelled ? t->labels : NULL, lg->dims[0],
                            lg->dims[1], t->p.kd_alpha, t->p.kd_temperature,
                            t->p.label_smoothing, seed->data, loss, &t->err);
}

lcv_status lcv_trainer_run_step(lcv_trainer *t, const lcv_tensor *images,
                                const lcv_tensor *labels, bool need_labels, lcv_step_loss fn,
                                const void *ctx, float *loss_out, int64_t *correct) {
    lcv_status st = check_images(t, images);
    if (st != LCV_OK) return st;
    int64_t n = images->dims[0], step = lcv_optim_steps(t->opt);
    t->label_h = t->label_w = t->box_rows = 0;
    t->image_h = images->ndim == 4 ? images->dims[2] : 0;
    t->image_w = images->ndim == 4 ? images->dims[3] : 0;
    if (need_labels || labels) {
        st = read_labels(t, labels, n);
        if (st != LCV_OK) return st;
    }
    for (int i = 0; i < t->n_buffers; i++)
        memcpy(t->buffer_backup[i], t->buffers[i]->data, lcv_tensor_nbytes(t->buffers[i]));
    uint64_t rng = mix64(t->rng);
    st = lcv_autodiff_forward(t->ad, 1, &images, true, rng, &t->err);
    const lcv_tensor *lg = st == LCV_OK ? get_logits(t, n) : NULL;
    double loss = 0.0;
    if (st == LCV_OK && !lg) st = LCV_ERR_SHAPE;
    if (st == LCV_OK && (lg->ndim == 4 || t->label_h || t->box_rows) && fn != ce_loss)
        st = lcv_fail(&t->err, LCV_ERR_UNSUPPORTED, "distillation needs logits [N, classes] and "
                      "one label per image (the model's logits have rank %d, the labels are %s)",
                      lg->ndim, t->label_h ? "maps" : t->box_rows ? "boxes" : "one per image");
    if (st == LCV_OK) st = fn(t, ctx, lg, labels != NULL, &loss);
    if (st == LCV_OK && !isfinite(loss))
        st = lcv_fail(&t->err, LCV_ERR_INVALID_ARG, "the loss is not finite (%g)", loss);
    if (st == LCV_OK) st = lcv_autodiff_backward(t->ad, &t->err);
    double norm = 0.0;
    if (st == LCV_OK) {
        norm = lcv_optim_grad_norm(t->n_params, (const lcv_tensor *const *)t->grads);
        if (!isfinite(norm))
            st = lcv_fail(&t->err, LCV_ERR_INVALID_ARG,
                          "the gradient of parameter '%s' is not finite", nonfinite_grad(t));
    }
    if (st == LCV_OK && t->kd) st = lcv_distill_check_grads(t);
    if (st == LCV_OK)
        st = lcv_optim_step(t->opt, t->params, t->grads, norm, lcv_autodiff_pool(t->ad), &t->err);
    if (st == LCV_OK && t->kd) st = lcv_distill_update(t);
    if (st != LCV_OK) {
        restore_buffers(t);
        lcv_err_prefix(&t->err, "step %lld", (long long)step);
        return st;
    }
    lcv_autodiff_params_changed(t->ad);
    if (t->ema) lcv_ema_update(t->ema, t->params, t->p.ema_decay, lcv_optim_steps(t->opt));
    t->rng = rng;
    if (loss_out) *loss_out = (float)loss;
    if (correct && t->box_rows)
        *correct = 0; /* a detector has no per-label accuracy */
    else if (correct && lg->ndim == 4)
        *correct = labels ? lcv_loss_correct_map(lg->data, t->labels, n, lg->dims[1],
                                                 lg->dims[2] * lg->dims[3]) : 0;
    else if (correct)
        *correct = labels ? lcv_loss_correct(lg->data, t->labels, n, lg->dims[1]) : 0;
    return LCV_OK;
}

lcv_status lcv_trainer_step(lcv_trainer *t, const lcv_tensor *images, const lcv_tensor *labels,
                            float *loss, int64_t *correct) {
    return lcv_trainer_run_step(t, images, labels, true, ce_loss, NULL, loss, correct);
}

lcv_status lcv_trainer_step_distill(lcv_trainer *t, const lcv_tensor *images,
                                    const lcv_tensor *labels, const lcv_tensor *teacher_logits,
                                    float *loss, int64_t *correct) {
    if (t && t->ready && !teacher_logits)
        return lcv_fail(&t->err, LCV_ERR_INVALID_ARG, "no teacher logits given");
    if (t && t->ready && !(t->p.kd_alpha < 1.0f) && !labels)
        return lcv_trainer_run_step(t, images, NULL, false, hinton_loss, teacher_logits, loss,
                                    correct);
    return lcv_trainer_run_step(t, images, labels, true, hinton_loss, teacher_logits, loss,
                                correct);
}

lcv_status lcv_trainer_evaluate(lcv_trainer *t, const lcv_tensor *images,
                                const lcv_tensor **logits) {
    lcv_status st = check_images(t, images);
    if (st != LCV_OK) return st;
    if (!logits) return lcv_fail(&t->err, LCV_ERR_INVALID_ARG, "logits is NULL");
    *logits = NULL;
    lcv_trainer_swap_ema(t);
    st = lcv_autodiff_forward(t->ad, 1, &images, false, 0, &t->err);
    lcv_trainer_swap_ema(t);
    if (st != LCV_OK) return st;
    *logits = get_logits(t, images->dims[0]);
    return *logits ? LCV_OK : LCV_ERR_SHAPE;
}

lcv_status lcv_trainer_predict(lcv_trainer *t, const lcv_tensor *images, int training,
                               const lcv_tensor **logits) {
    if (!training) return lcv_trainer_evaluate(t, images, logits);
    lcv_status st = check_images(t, images);
    if (st != LCV_OK) return st;
    if (!logits) return lcv_fail(&t->err, LCV_ERR_INVALID_ARG, "logits is NULL");
    *logits = NULL;
    for (int i = 0; i < t->n_buffers; i++)
        memcpy(t->buffer_backup[i], t->buffers[i]->data, lcv_tensor_nbytes(t->buffers[i]));
    /* the masks the next step will draw; running statistics are put back afterwards */
    st = lcv_autodiff_forward(t->ad, 1, &images, true, mix64(t->rng), &t->err);
    restore_buffers(t);
    if (st != LCV_OK) return st;
    *logits = get_logits(t, images->dims[0]);
    return *logits ? LCV_OK : LCV_ERR_SHAPE;
}

void lcv_trainer_swap_ema(lcv_trainer *t) {
    if (!t->ema) return;
    lcv_ema_swap(t->ema, t->params);
    lcv_autodiff_params_changed(t->ad);
}

int64_t lcv_trainer_step_count(const lcv_trainer *t) {
    return t && t->ready ? lcv_optim_steps(t->opt) : 0;
}
int64_t lcv_trainer_epoch(const lcv_trainer *t) { return t ? t->epoch : 0; }
void lcv_trainer_set_epoch(lcv_trainer *t, int64_t epoch) {
    if (t) t->epoch = epoch;
}
float lcv_trainer_lr(const lcv_trainer *t) {
    return t && t->ready ? (float)lcv_optim_lr(&t->p, lcv_optim_steps(t->opt)) : 0.0f;
}

int lcv_trainer_param_tensors(const lcv_trainer *t) { return t && t->ready ? t->n_params : 0; }

lcv_status lcv_trainer_param(const lcv_trainer *t, int i, const char **name,
                             const lcv_tensor **value) {
    if (!t || !t->ready || i < 0 || i >= t->n_params) return LCV_ERR_INVALID_ARG;
    if (name) {
        const lcv_graph *g = lcv_autodiff_graph(t->ad);
        *name = g->values[lcv_autodiff_param_value(t->ad, i)].name;
    }
    if (value) *value = t->params[i];
    return LCV_OK;
}

int64_t lcv_trainer_param_count(const lcv_trainer *t) {
    int64_t n = 0;
    for (int i = 0; t && t->ready && i < t->n_params; i++) n += lcv_tensor_count(t->params[i]);
    return n;
}
