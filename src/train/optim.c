/* optim.c - SGD (momentum, Nesterov) and AdamW updates, learning-rate schedules with linear
 * warm-up, weight decay with the 1-D exclusion, and clipping by global gradient norm. The
 * element updates follow PyTorch's float32 formulation (torch/optim/sgd.py and adamw.py,
 * single-tensor path) operation by operation, so several steps agree to float rounding. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optim.h"

#define OPTIM_PI 3.14159265358979323846

struct lcv_optim {
    lcv_train_params p;
    int n;
    int n_state;      /* state buffers per parameter */
    int64_t *numel;
    bool *decay;      /* weight decay applies to parameter i */
    float **state;    /* n * n_state buffers, zero-initialised */
    int64_t steps;
};

lcv_status lcv_optim_check(const lcv_train_params *p, lcv_err *e) {
    if (!(p->lr > 0.0f) || !isfinite(p->lr))
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "learning rate %g must be positive", (double)p->lr);
    if (p->optimizer != LCV_OPTIMIZER_SGD && p->optimizer != LCV_OPTIMIZER_ADAMW)
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "unknown optimizer %d", (int)p->optimizer);
    if (!(p->momentum >= 0.0f && p->momentum < 1.0f))
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "momentum %g is outside [0, 1)",
                        (double)p->momentum);
    if (p->nesterov && p->optimizer == LCV_OPTIMIZER_SGD && p->momentum == 0.0f)
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "Nesterov momentum needs momentum > 0");
    if (!(p->beta1 >= 0.0f && p->beta1 < 1.0f) || !(p->beta2 >= 0.0f && p->beta2 < 1.0f) ||
        !(p->eps > 0.0f))
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "AdamW betas (%g, %g) must be in [0, 1) and eps "
                        "%g positive", (double)p->beta1, (double)p->beta2, (double)p->eps);
    if (!(p->weight_decay >= 0.0f) || !isfinite(p->weight_decay))
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "weight decay %g must be >= 0",
                        (double)p->weight_decay);
    if (p->schedule != LCV_SCHEDULE_CONSTANT && p->schedule != LCV_SCHEDULE_STEP &&
        p->schedule != LCV_SCHEDULE_COSINE)
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "unknown schedule %d", (int)p->schedule);
    if (p->warmup_steps < 0 || p->total_steps < 0)
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "warm-up %lld and total steps %lld must be >= 0",
                        (long long)p->warmup_steps, (long long)p->total_steps);
    if (p->schedule == LCV_SCHEDULE_STEP && (p->step_size < 1 || !(p->gamma > 0.0f)))
        return lcv_fail(e, LCV_ERR_INVALID_ARG,
                        "step schedule needs step size >= 1 (got %lld) and gamma > 0 (got %g)",
                        (long long)p->step_size, (double)p->gamma);
    if (!(p->min_lr >= 0.0f) || !(p->clip_norm >= 0.0f) || !isfinite(p->clip_norm))
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "minimum rate %g and clip norm %g must be >= 0",
                        (double)p->min_lr, (double)p->clip_norm);
    return LCV_OK;
}

void lcv_optim_free(lcv_optim *o) {
    if (!o) return;
    if (o->state)
        for (int i = 0; i < o->n * o->n_state; i++) free(o->state[i]);
    free(o->state);
    free(o->numel);
    free(o->decay);
    free(o);
}

lcv_status lcv_optim_create(const lcv_train_params *p, int n, const lcv_tensor *const *params,
                            lcv_optim **out, lcv_err *e) {
    *out = NULL;
    lcv_status st = lcv_optim_check(p, e);
    if (st != LCV_OK) return st;
    lcv_optim *o = calloc(1, sizeof *o);
    if (!o) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory creating the optimizer");
    o->p = *p;
    o->n = n;
    o->n_state = p->optimizer == LCV_OPTIMIZER_ADAMW ? 2 : p->momentum > 0.0f ? 1 : 0;
    o->numel = calloc((size_t)n + 1, sizeof *o->numel);
    o->decay = calloc((size_t)n + 1, sizeof *o->decay);
    o->state = calloc((size_t)n * (size_t)o->n_state + 1, sizeof *o->state);
    if (!o->numel || !o->decay || !o->state) {
        lcv_optim_free(o);
        return lcv_fail(e, LCV_ERR_NOMEM, "out of memory creating the optimizer");
    }
    for (int i = 0; i < n; i++) {
        o->numel[i] = lcv_tensor_count(params[i]);
        o->decay[i] = p->weight_decay > 0.0f && (p->decay_1d || params[i]->ndim != 1);
        for (int s = 0; s < o->n_state; s++) {
            float *b = calloc((size_t)o->numel[i] + 1, sizeof(float));
            if (!b) {
                lcv_optim_free(o);
                return lcv_fail(e, LCV_ERR_NOMEM, "out of memory for optimizer state");
            }
            o->state[i * o->n_state + s] = b;
        }
    }
    *out = o;
    return LCV_OK;
}

double lcv_optim_lr(const lcv_train_params *p, int64_t step) {
    double lr = p->lr;
    if (step < p->warmup_steps) return lr * (double)(step + 1) / (double)p->warmup_steps;
    int64_t t = step - p->warmup_steps;
    switch (p->schedule) {
    case LCV_SCHEDULE_STEP:
        return p->step_size >= 1 ? lr * pow((double)p->gamma, (double)(t / p->step_size)) : lr;
    case LCV_SCHEDULE_COSINE: {
        int64_t T = p->total_steps - p->warmup_steps;
        if (T <= 0) return lr;
        double f = (double)(t < T ? t : T) / (double)T;
        return (double)p->min_lr + (lr - (double)p->min_lr) * 0.5 * (1.0 + cos(OPTIM_PI * f));
    }
    default: return lr;
    }
}

int64_t lcv_optim_steps(const lcv_optim *o) { return o->steps; }
void lcv_optim_set_steps(lcv_optim *o, int64_t steps) { o->steps = steps; }
int lcv_optim_state_count(const lcv_optim *o) { return o->n_state; }
float *lcv_optim_state(lcv_optim *o, int param, int which) {
    return o->state[param * o->n_state + which];
}
int64_t lcv_optim_state_numel(const lcv_optim *o, int param) { return o->numel[param]; }

double lcv_optim_grad_norm(int n, const lcv_tensor *const *grads) {
    double s = 0.0;
    for (int i = 0; i < n; i++) {
        const float *g = grads[i]->data;
        int64_t m = lcv_tensor_count(grads[i]);
        for (int64_t j = 0; j < m; j++) s += (double)g[j] * (double)g[j];
    }
    return sqrt(s);
}

/* One parameter's update, over elements [begin, end) (threads split the range; each element
 * is independent, so the result does not depend on the split). */
typedef struct update_task {
    const lcv_optim *o;
    float *w, *g, *s0, *s1;
    bool decay;
    float lr, clip;     /* clip: gradient scale (1 = none) */
    double bc1, bc2s;   /* AdamW bias corrections */
    double lr_d;
} update_task;

static void update_sgd(void *ctx, int64_t begin, int64_t end, int thread) {
    const update_task *t = ctx;
    const lcv_train_params *p = &t->o->p;
    float wd = t->decay ? p->weight_decay : 0.0f, mom = p->momentum;
    (void)thread;
    for (int64_t j = begin; j < end; j++) {
        float g = t->clip != 1.0f ? t->g[j] * t->clip : t->g[j];
        float d = wd != 0.0f ? g + wd * t->w[j] : g;
        if (t->s0) {
            float b = t->s0[j] * mom + d;
            t->s0[j] = b;
            d = p->nesterov ? d + mom * b : b;
        }
        t->w[j] = t->w[j] + -t->lr * d;
    }
}

static void update_adamw(void *ctx, int64_t begin, int64_t end, int thread) {
    const update_task *t = ctx;
    const lcv_train_params *p = &t->o->p;
    float shrink = t->decay ? (float)(1.0 - t->lr_d * (double)p->weight_decay) : 1.0f;
    float b1 = p->beta1, b2 = p->beta2;
    float a1 = (float)(1.0 - (double)p->beta1), a2 = (float)(1.0 - (double)p->beta2);
    float bc2s = (float)t->bc2s, eps = p->eps, step = (float)(-(t->lr_d / t->bc1));
    (void)thread;
    for (int64_t j = begin; j < end; j++) {
        float g = t->clip != 1.0f ? t->g[j] * t->clip : t->g[j];
        float w = t->decay ? t->w[j] * shrink : t->w[j];
        float m = t->s0[j] * b1 + g * a1;
        float v = t->s1[j] * b2 + (g * g) * a2;
        t->s0[j] = m;
        t->s1[j] = v;
        float denom = sqrtf(v) / bc2s + eps;
        t->w[j] = w + step * (m / denom);
    }
}

lcv_status lcv_optim_step(lcv_optim *o, lcv_tensor *const *params, lcv_tensor *const *grads,
                          double grad_norm, lcv_threadpool *pool, lcv_err *e) {
    if (!isfinite(grad_norm))
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "the gradient norm is not finite (%g)", grad_norm);
    double lr = lcv_optim_lr(&o->p, o->steps);
    float clip = 1.0f;
    if (o->p.clip_norm > 0.0f) {
        /* PyTorch computes the norm in float32 and the coefficient from it. */
        double coef = (double)o->p.clip_norm / ((double)(float)grad_norm + 1e-6);
        if (coef < 1.0) clip = (float)coef;
    }
    update_task t;
    memset(&t, 0, sizeof t);
    t.o = o;
    t.lr = (float)lr;
    t.lr_d = lr;
    t.clip = clip;
    double step = (double)(o->steps + 1);
    t.bc1 = 1.0 - pow((double)o->p.beta1, step);
    t.bc2s = sqrt(1.0 - pow((double)o->p.beta2, step));
    for (int i = 0; i < o->n; i++) {
        if (lcv_tensor_count(params[i]) != o->numel[i] || lcv_tensor_count(grads[i]) != o->numel[i])
            return lcv_fail(e, LCV_ERR_INTERNAL, "optimizer: parameter %d changed size", i);
        t.w = params[i]->data;
        t.g = grads[i]->data;
        t.s0 = o->n_state > 0 ? o->state[i * o->n_state] : NULL;
        t.s1 = o->n_state > 1 ? o->state[i * o->n_state + 1] : NULL;
        t.decay = o->decay[i];
        lcv_threadpool_parallel_for(pool, o->numel[i], 16384,
                                    o->p.optimizer == LCV_OPTIMIZER_ADAMW ? update_adamw
                                                                          : update_sgd,
                                    &t);
    }
    o->steps++;
    return LCV_OK;
}
