/* test_optim.c - optimizers and schedules (src/train/optim.c) against PyTorch: 12 steps of SGD
 * (momentum, Nesterov, plain), AdamW, with constant/step/cosine schedules and warm-up, weight
 * decay with and without the 1-D exclusion and gradient clipping; parameters within 1e-6
 * relative, learning rates within 1e-7 relative (the peak rate is a float). Also: thread counts
 * give identical results, and bad hyper-parameters are refused with a message naming them. */
#include <stdlib.h>
#include <string.h>

#include "train/optim.h"
#include "train_test_util.h"

#define STEPS 12
#define NPARAM 3

/* Must match CONFIGS in make_fixtures.py. */
typedef struct cfg {
    const char *name;
    lcv_optimizer opt;
    float lr, momentum;
    int nesterov;
    float beta1, beta2, eps, wd;
    int decay_1d;
    lcv_lr_schedule sched;
    int64_t total, warmup, step_size;
    float gamma, min_lr, clip;
} cfg;

static const cfg CONFIGS[] = {
    {"sgd_clip", LCV_OPTIMIZER_SGD, 0.1f, 0.9f, 0, 0.9f, 0.999f, 1e-8f, 0.01f, 0,
     LCV_SCHEDULE_CONSTANT, 0, 3, 0, 0.1f, 0, 1.0f},
    {"sgd_nesterov", LCV_OPTIMIZER_SGD, 0.05f, 0.8f, 1, 0.9f, 0.999f, 1e-8f, 0.001f, 1,
     LCV_SCHEDULE_STEP, 0, 0, 4, 0.5f, 0, 0},
    {"adamw_cos", LCV_OPTIMIZER_ADAMW, 0.01f, 0, 0, 0.9f, 0.99f, 1e-8f, 0.05f, 0,
     LCV_SCHEDULE_COSINE, 12, 2, 0, 0.1f, 0.001f, 0},
    {"sgd_plain", LCV_OPTIMIZER_SGD, 0.2f, 0, 0, 0.9f, 0.999f, 1e-8f, 0, 0, LCV_SCHEDULE_COSINE,
     8, 0, 0, 0.1f, 0, 0.5f},
    {"adamw_clip", LCV_OPTIMIZER_ADAMW, 0.003f, 0, 0, 0.9f, 0.999f, 1e-8f, 0.01f, 1,
     LCV_SCHEDULE_CONSTANT, 0, 0, 0, 0.1f, 0, 2.0f},
};

static lcv_train_params to_params(const cfg *c) {
    lcv_train_params p = lcv_train_default_params();
    p.optimizer = c->opt;
    p.lr = c->lr;
    p.momentum = c->momentum;
    p.nesterov = c->nesterov;
    p.beta1 = c->beta1;
    p.beta2 = c->beta2;
    p.eps = c->eps;
    p.weight_decay = c->wd;
    p.decay_1d = c->decay_1d;
    p.schedule = c->sched;
    p.total_steps = c->total;
    p.warmup_steps = c->warmup;
    p.step_size = c->step_size;
    p.gamma = c->gamma;
    p.min_lr = c->min_lr;
    p.clip_norm = c->clip;
    return p;
}

/* Runs the config's 12 steps from the fixture's initial parameters; params[] receive them. */
static int run_config(const cfg *c, int threads, lcv_tensor **params, lcv_tensor *const *grads,
                      double *lrs) {
    char name[64];
    lcv_tensor *g[NPARAM];
    for (int i = 0; i < NPARAM; i++) {
        snprintf(name, sizeof name, "opt_init%d", i);
        params[i] = fx_load(name);
        if (!params[i]) return 1;
        lcv_tensor_create(LCV_DTYPE_FLOAT32, params[i]->ndim, params[i]->dims, &g[i]);
    }
    lcv_train_params p = to_params(c);
    lcv_optim *o = NULL;
    lcv_err e;
    lcv_threadpool *pool = NULL;
    if (threads > 1) lcv_threadpool_create(threads, &pool, &e);
    lcv_status st = lcv_optim_create(&p, NPARAM, (const lcv_tensor *const *)params, &o, &e);
    CHECK_MSG(st == LCV_OK, "%s: %s", c->name, e.msg);
    for (int s = 0; st == LCV_OK && s < STEPS; s++) {
        for (int i = 0; i < NPARAM; i++) {
            int64_t n = lcv_tensor_count(g[i]);
            memcpy(g[i]->data, (float *)grads[i]->data + s * n, sizeof(float) * (size_t)n);
        }
        if (lrs) lrs[s] = lcv_optim_lr(&p, s);
        double norm = lcv_optim_grad_norm(NPARAM, (const lcv_tensor *const *)g);
        st = lcv_optim_step(o, params, g, norm, pool, &e);
        CHECK_MSG(st == LCV_OK, "%s step %d: %s", c->name, s, e.msg);
    }
    CHECK(lcv_optim_steps(o) == STEPS);
    lcv_optim_free(o);
    lcv_threadpool_free(pool);
    for (int i = 0; i < NPARAM; i++) lcv_tensor_free(g[i]);
    return st == LCV_OK ? 0 : 1;
}

static void check_config(const cfg *c, lcv_tensor *const *grads) {
    lcv_tensor *params[NPARAM] = {0}, *params2[NPARAM] = {0};
    double lrs[STEPS];
    char name[96];
    if (run_config(c, 1, params, grads, lrs) == 0) {
        for (int i = 0; i < NPARAM; i++) {
            snprintf(name, sizeof name, "opt_%s_p%d", c->name, i);
            lcv_tensor *want = fx_load(name);
            CHECK_MSG(fx_compare(name, params[i]->data, want, lcv_tensor_count(params[i]), 1e-7,
                                 1e-6) == 0, "%s parameter %d after %d steps", c->name, i, STEPS);
            lcv_tensor_free(want);
        }
        snprintf(name, sizeof name, "opt_%s_lr", c->name);
        lcv_tensor *want_lr = fx_load(name);
        for (int s = 0; want_lr && s < STEPS; s++)
            CHECK_MSG(fabs(lrs[s] - ((double *)want_lr->data)[s]) <=
                          1e-7 * ((double *)want_lr->data)[s],
                      "%s lr at step %d: %.12g vs %.12g", c->name, s, lrs[s],
                      ((double *)want_lr->data)[s]);
        lcv_tensor_free(want_lr);
    }
    /* Two threads: bit-identical. */
    if (run_config(c, 2, params2, grads, NULL) == 0 && params[0])
        for (int i = 0; i < NPARAM; i++)
            CHECK_MSG(memcmp(params[i]->data, params2[i]->data, lcv_tensor_nbytes(params[i])) == 0,
                      "%s: 2 threads differ", c->name);
    for (int i = 0; i < NPARAM; i++) {
        lcv_tensor_free(params[i]);
        lcv_tensor_free(params2[i]);
    }
}

static void check_bad(void) {
    lcv_err e;
    lcv_train_params p = lcv_train_default_params();
    CHECK(lcv_optim_check(&p, &e) == LCV_OK);
    p.lr = 0;
    CHECK(lcv_optim_check(&p, &e) == LCV_ERR_INVALID_ARG);
    CHECK(strstr(e.msg, "learning rate") != NULL);
    p = lcv_train_default_params();
    p.momentum = 1.0f;
    CHECK(lcv_optim_check(&p, &e) == LCV_ERR_INVALID_ARG);
    CHECK(strstr(e.msg, "momentum") != NULL);
    p = lcv_train_default_params();
    p.schedule = LCV_SCHEDULE_STEP;
    p.step_size = 0;
    CHECK(lcv_optim_check(&p, &e) == LCV_ERR_INVALID_ARG);
    p = lcv_train_default_params();
    p.weight_decay = -1;
    CHECK(lcv_optim_check(&p, &e) == LCV_ERR_INVALID_ARG);
    p = lcv_train_default_params();
    p.momentum = 0;
    p.nesterov = 1;
    CHECK(lcv_optim_check(&p, &e) == LCV_ERR_INVALID_ARG);
    p = lcv_train_default_params();
    p.warmup_steps = -2;
    CHECK(lcv_optim_check(&p, &e) == LCV_ERR_INVALID_ARG);
    p = lcv_train_default_params();
    p.optimizer = (lcv_optimizer)7;
    CHECK(lcv_optim_check(&p, &e) == LCV_ERR_INVALID_ARG);
    /* A non-finite gradient norm is refused before anything changes. */
    p = lcv_train_default_params();
    int64_t d[1] = {3};
    lcv_tensor *w = NULL, *g = NULL;
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 1, d, &w);
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 1, d, &g);
    ((float *)w->data)[0] = 1.0f;
    ((float *)g->data)[1] = NAN;
    lcv_optim *o = NULL;
    CHECK(lcv_optim_create(&p, 1, (const lcv_tensor *const *)&w, &o, &e) == LCV_OK);
    double norm = lcv_optim_grad_norm(1, (const lcv_tensor *const *)&g);
    CHECK(lcv_optim_step(o, &w, &g, norm, NULL, &e) == LCV_ERR_INVALID_ARG);
    CHECK(((float *)w->data)[0] == 1.0f && lcv_optim_steps(o) == 0);
    lcv_optim_free(o);
    lcv_tensor_free(w);
    lcv_tensor_free(g);
}

int main(void) {
    lcv_tensor *grads[NPARAM];
    char name[64];
    bool ok = true;
    for (int i = 0; i < NPARAM; i++) {
        snprintf(name, sizeof name, "opt_grads%d", i);
        grads[i] = fx_load(name);
        ok = ok && grads[i];
    }
    for (size_t c = 0; ok && c < sizeof CONFIGS / sizeof CONFIGS[0]; c++)
        check_config(&CONFIGS[c], grads);
    for (int i = 0; i < NPARAM; i++) lcv_tensor_free(grads[i]);
    check_bad();
    return lcv_test_finish("train_optim");
}
