/* distill.c - knowledge distillation in the trainer: validating and copying the spec, the
 * values seeded for the backward, the step loss of lcv_trainer_step_kd for every mode (the
 * arithmetic is in loss.c and distill_loss.c), the FitNets adapters with their own optimizer,
 * and deep mutual learning's alternating step. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "distill.h"
#include "loss.h"

#define KD_MAX_TERMS 64 /* pairs or exits: far more than any real setup */

struct lcv_kd {
    lcv_distill_spec s;     /* names point into owned copies below */
    lcv_distill_pair *pairs;
    char **exits;
    char *emb_student, *emb_teacher;
    const char **seed_names; /* logits, then the student values */
    int n_seed_names;
    int *values;             /* per seed name: its value id, resolved at the first step */
    bool resolved;
    lcv_tensor **seeded;     /* this step's seed tensors, parallel to values */
    int n_adapt;             /* adapter tensors made (0 or 2 * n_pairs) */
    lcv_tensor **adapt, **adapt_grad;
    char **adapt_name;
    lcv_optim *opt;
    lcv_tensor *peer;        /* DML: a copy of the peer's logits */
};

static const char *const MODE_NAMES[] = {"ce", "hinton", "fitnets", "at", "rkd", "dml", "self"};

const char *lcv_distill_mode_name(lcv_distill_mode mode) {
    return (int)mode >= 0 && (int)mode < 7 ? MODE_NAMES[mode] : NULL;
}

lcv_distill_spec lcv_distill_default_spec(lcv_distill_mode mode) {
    lcv_distill_spec s;
    memset(&s, 0, sizeof s);
    s.mode = mode;
    s.ce_weight = 1.0f;
    s.kd_weight = 0.0f;
    s.temperature = 1.0f;
    s.hint_weight = 1.0f;
    s.at_beta = 1000.0f;
    s.rkd_distance = 25.0f;
    s.rkd_angle = 50.0f;
    if (mode == LCV_DISTILL_HINTON) {
        s.ce_weight = s.kd_weight = 0.5f;
        s.temperature = 4.0f;
    } else if (mode == LCV_DISTILL_DML) {
        s.kd_weight = 1.0f;
    } else if (mode == LCV_DISTILL_SELF) {
        s.ce_weight = 0.7f;
        s.kd_weight = 0.3f;
        s.temperature = 3.0f;
    }
    return s;
}

void lcv_distill_free(lcv_kd *kd) {
    if (!kd) return;
    for (int i = 0; i < kd->s.n_pairs && kd->pairs; i++) {
        free((char *)kd->pairs[i].student);
        free((char *)kd->pairs[i].teacher);
    }
    for (int i = 0; i < kd->s.n_exits && kd->exits; i++) free(kd->exits[i]);
    for (int i = 0; i < kd->n_adapt; i++) {
        lcv_tensor_free(kd->adapt[i]);
        lcv_tensor_free(kd->adapt_grad[i]);
        free(kd->adapt_name[i]);
    }
    free(kd->pairs);
    free(kd->exits);
    free(kd->emb_student);
    free(kd->emb_teacher);
    free(kd->seed_names);
    free(kd->values);
    free(kd->seeded);
    free(kd->adapt);
    free(kd->adapt_grad);
    free(kd->adapt_name);
    lcv_optim_free(kd->opt);
    lcv_tensor_free(kd->peer);
    free(kd);
}

lcv_distill_mode lcv_distill_mode_of(const lcv_kd *kd) { return kd->s.mode; }

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *c = malloc(n);
    if (c) memcpy(c, s, n);
    return c;
}

static bool good_weight(float w) { return w >= 0.0f && isfinite(w); }

static lcv_status check_spec(const lcv_distill_spec *s, lcv_err *e) {
    const char *m = lcv_distill_mode_name(s->mode);
    if (!m) return lcv_fail(e, LCV_ERR_INVALID_ARG, "unknown distillation mode %d", (int)s->mode);
    if (!good_weight(s->ce_weight) || !good_weight(s->kd_weight) || !good_weight(s->hint_weight) ||
        !good_weight(s->at_beta) || !good_weight(s->rkd_distance) || !good_weight(s->rkd_angle))
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "distillation (%s): every weight must be finite "
                        "and >= 0", m);
    if (!(s->temperature > 0.0f) || !isfinite(s->temperature))
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "distillation (%s): temperature %g must be "
                        "positive", m, (double)s->temperature);
    bool feat = s->mode == LCV_DISTILL_FITNETS || s->mode == LCV_DISTILL_AT;
    if (feat && (s->n_pairs < 1 || s->n_pairs > KD_MAX_TERMS || !s->pairs))
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "distillation (%s): %d feature pairs given; "
                        "1..%d needed", m, s->n_pairs, KD_MAX_TERMS);
    for (int i = 0; feat && i < s->n_pairs; i++)
        if (!s->pairs[i].student || !s->pairs[i].student[0])
            return lcv_fail(e, LCV_ERR_INVALID_ARG, "distillation (%s): pair %d has no student "
                            "value name", m, i + 1);
    if (s->mode == LCV_DISTILL_RKD && (!s->embedding.student || !s->embedding.student[0]))
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "distillation (rkd): no student embedding value "
                        "named");
    if (s->mode == LCV_DISTILL_SELF) {
        if (s->n_exits < 1 || s->n_exits > KD_MAX_TERMS || !s->exits)
            return lcv_fail(e, LCV_ERR_INVALID_ARG, "distillation (self): %d exits given; 1..%d "
                            "shallower exits needed", s->n_exits, KD_MAX_TERMS);
        for (int i = 0; i < s->n_exits; i++)
            if (!s->exits[i] || !s->exits[i][0])
                return lcv_fail(e, LCV_ERR_INVALID_ARG, "distillation (self): exit %d has no "
                                "name", i + 1);
    }
    return LCV_OK;
}

lcv_status lcv_distill_create(const lcv_distill_spec *spec, lcv_kd **out, lcv_err *e) {
    *out = NULL;
    if (!spec) return LCV_OK;
    lcv_status st = check_spec(spec, e);
    if (st != LCV_OK) return st;
    lcv_kd *kd = calloc(1, sizeof *kd);
    if (!kd) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory");
    kd->s = *spec;
    bool feat = spec->mode == LCV_DISTILL_FITNETS || spec->mode == LCV_DISTILL_AT;
    bool self = spec->mode == LCV_DISTILL_SELF, rkd = spec->mode == LCV_DISTILL_RKD;
    kd->s.n_pairs = feat ? spec->n_pairs : 0;
    kd->s.n_exits = self ? spec->n_exits : 0;
    kd->s.pairs = NULL;
    kd->s.exits = NULL;
    kd->s.embedding.student = kd->s.embedding.teacher = NULL;
    bool ok = true;
    if (feat && (kd->pairs = calloc((size_t)spec->n_pairs, sizeof *kd->pairs)) != NULL) {
        for (int i = 0; i < spec->n_pairs; i++) {
            const char *tn = spec->pairs[i].teacher ? spec->pairs[i].teacher : "(teacher value)";
            kd->pairs[i].student = dup_str(spec->pairs[i].student);
            kd->pairs[i].teacher = dup_str(tn);
            ok = ok && kd->pairs[i].student && kd->pairs[i].teacher;
        }
        kd->s.pairs = kd->pairs;
    }
    ok = ok && (!feat || kd->pairs);
    if (self && (kd->exits = calloc((size_t)spec->n_exits, sizeof *kd->exits)) != NULL) {
        for (int i = 0; i < spec->n_exits; i++) ok = ok && (kd->exits[i] = dup_str(spec->exits[i]));
        kd->s.exits = (const char *const *)kd->exits;
    }
    ok = ok && (!self || kd->exits);
    if (rkd) {
        kd->emb_student = dup_str(spec->embedding.student);
        kd->emb_teacher = dup_str(spec->embedding.teacher ? spec->embedding.teacher
                                                          : "(teacher embedding)");
        ok = ok && kd->emb_student && kd->emb_teacher;
        kd->s.embedding.student = kd->emb_student;
        kd->s.embedding.teacher = kd->emb_teacher;
    }
    int n = 1 + kd->s.n_pairs + kd->s.n_exits + (rkd ? 1 : 0);
    kd->seed_names = calloc((size_t)n, sizeof *kd->seed_names);
    kd->values = calloc((size_t)n, sizeof *kd->values);
    kd->seeded = calloc((size_t)n, sizeof *kd->seeded);
    kd->n_seed_names = n;
    if (!ok || !kd->seed_names || !kd->values || !kd->seeded) {
        lcv_distill_free(kd);
        return lcv_fail(e, LCV_ERR_NOMEM, "out of memory copying the distillation spec");
    }
    *out = kd;
    return LCV_OK;
}

lcv_status lcv_distill_seeds(lcv_kd *kd, const lcv_graph *g, const char *logits,
                             const char *const **names, int *n, lcv_err *e) {
    int k = 0;
    kd->seed_names[k++] = logits;
    for (int i = 0; i < kd->s.n_pairs; i++) kd->seed_names[k++] = kd->pairs[i].student;
    if (kd->emb_student) kd->seed_names[k++] = kd->emb_student;
    for (int i = 0; i < kd->s.n_exits; i++) {
        if (strcmp(kd->exits[i], logits) == 0)
            return lcv_fail(e, LCV_ERR_INVALID_ARG, "distillation (self): exit '%s' is output 0, "
                            "the deepest exit (the teacher); name the shallower exits",
                            kd->exits[i]);
        kd->seed_names[k++] = kd->exits[i];
    }
    for (int i = 1; i < k; i++)
        if (lcv_graph_find(g, kd->seed_names[i]) < 0)
            return lcv_fail(e, LCV_ERR_INVALID_ARG, "distillation (%s): student value '%s' is not "
                            "in the model", lcv_distill_mode_name(kd->s.mode),
                            kd->seed_names[i]);
    *names = kd->seed_names;
    *n = k;
    return LCV_OK;
}

/* The seed tensor of value slot i for this step, zeroed once per step. */
static float *seed_of(lcv_trainer *t, int i) {
    lcv_kd *kd = t->kd;
    if (!kd->seeded[i]) kd->seeded[i] = lcv_autodiff_seed(t->ad, kd->values[i], &t->err);
    return kd->seeded[i] ? kd->seeded[i]->data : NULL;
}

/* The student's data for value slot i, checked to be float32 [n, ...] of rank >= min_rank. */
static const lcv_tensor *student_value(lcv_trainer *t, int i, int64_t n, int min_rank,
                                       const char *what) {
    const lcv_tensor *x = lcv_autodiff_value(t->ad, t->kd->values[i]);
    if (!x || x->dtype != LCV_DTYPE_FLOAT32 || x->ndim < min_rank || x->dims[0] != n) {
        char b[160];
        lcv_fail(&t->err, LCV_ERR_SHAPE, "%s: student value '%s' must be float32 [%lld, ...] "
                 "(rank >= %d), got %s %s", what, t->kd->seed_names[i], (long long)n, min_rank,
                 x ? lcv_dtype_name(x->dtype) : "nothing",
                 x ? lcv_shape_str(x->ndim, x->dims, b, sizeof b) : "");
        return NULL;
    }
    return x;
}

static lcv_status check_teacher(lcv_trainer *t, const lcv_tensor *x, const char *name,
                                int64_t n, int min_rank, const char *what) {
    if (!x || x->dtype != LCV_DTYPE_FLOAT32 || x->ndim < min_rank || x->dims[0] != n) {
        char b[160];
        return lcv_fail(&t->err, LCV_ERR_INVALID_ARG, "%s: teacher value '%s' must be float32 "
                        "[%lld, ...] (rank >= %d), got %s %s", what, name, (long long)n,
                        min_rank, x ? lcv_dtype_name(x->dtype) : "nothing",
                        x ? lcv_shape_str(x->ndim, x->dims, b, sizeof b) : "");
    }
    return LCV_OK;
}

static lcv_tensor *new_f32(int ndim, const int64_t *dims) {
    lcv_tensor *x = NULL;
    if (lcv_tensor_create(LCV_DTYPE_FLOAT32, ndim, dims, &x) != LCV_OK) return NULL;
    memset(x->data, 0, lcv_tensor_nbytes(x));
    return x;
}

lcv_status lcv_distill_ensure_adapters(lcv_trainer *t, const int64_t *ct, const int64_t *cs,
                                       lcv_err *e) {
    lcv_kd *kd = t->kd;
    int np = kd->s.n_pairs;
    if (kd->n_adapt) {
        for (int i = 0; i < np; i++)
            if (kd->adapt[2 * i]->dims[0] != ct[i] || kd->adapt[2 * i]->dims[1] != cs[i])
                return lcv_fail(e, LCV_ERR_SHAPE, "fitnets pair %d ('%s' -> '%s'): the adapter "
                                "maps %lld to %lld channels but the values have %lld and %lld",
                                i + 1, kd->pairs[i].student, kd->pairs[i].teacher,
                                (long long)kd->adapt[2 * i]->dims[1],
                                (long long)kd->adapt[2 * i]->dims[0], (long long)cs[i],
                                (long long)ct[i]);
        return LCV_OK;
    }
    for (int i = 0; i < np; i++)
        if (ct[i] < 1 || cs[i] < 1 || ct[i] > (1 << 20) || cs[i] > (1 << 20))
            return lcv_fail(e, LCV_ERR_SHAPE, "fitnets pair %d: adapter of %lld x %lld channels "
                            "is out of range", i + 1, (long long)ct[i], (long long)cs[i]);
    kd->adapt = calloc((size_t)(2 * np), sizeof *kd->adapt);
    kd->adapt_grad = calloc((size_t)(2 * np), sizeof *kd->adapt_grad);
    kd->adapt_name = calloc((size_t)(2 * np), sizeof *kd->adapt_name);
    bool ok = kd->adapt && kd->adapt_grad && kd->adapt_name;
    /* PyTorch's Conv2d initialisation: weight and bias uniform in +-1/sqrt(fan_in), drawn
     * from the trainer's seed so a fresh run and a resumed one agree */
    uint64_t r = lcv_trainer_rng_init(t->p.seed ^ 0x6b64616461707400ULL);
    for (int i = 0; ok && i < np; i++) {
        int64_t wd[2] = {ct[i], cs[i]};
        double bound = 1.0 / sqrt((double)cs[i]);
        for (int j = 0; j < 2 && ok; j++) {
            int k = 2 * i + j;
            kd->adapt[k] = new_f32(j ? 1 : 2, wd);
            kd->adapt_grad[k] = new_f32(j ? 1 : 2, wd);
            size_t len = strlen(kd->pairs[i].student) + strlen(kd->pairs[i].teacher) + 48;
            kd->adapt_name[k] = malloc(len);
            ok = kd->adapt[k] && kd->adapt_grad[k] && kd->adapt_name[k];
            if (!ok) break;
            kd->n_adapt = k + 1;
            snprintf(kd->adapt_name[k], len, "distill.fitnets%d.%s:%s->%s", i + 1,
                     j ? "bias" : "weight", kd->pairs[i].student, kd->pairs[i].teacher);
            float *d = kd->adapt[k]->data;
            for (int64_t q = 0; q < lcv_tensor_count(kd->adapt[k]); q++) {
                r = r * 6364136223846793005ULL + 1442695040888963407ULL;
                double u = (double)(r >> 11) * (1.0 / 9007199254740992.0);
                d[q] = (float)((2.0 * u - 1.0) * bound);
            }
        }
    }
    lcv_status st = ok ? lcv_optim_create(&t->p, kd->n_adapt,
                                          (const lcv_tensor *const *)kd->adapt, &kd->opt, e)
                       : lcv_fail(e, LCV_ERR_NOMEM, "out of memory for the fitnets adapters");
    if (st == LCV_OK) {
        lcv_optim_set_steps(kd->opt, lcv_optim_steps(t->opt));
        return LCV_OK;
    }
    for (int i = 0; i < kd->n_adapt; i++) {
        lcv_tensor_free(kd->adapt[i]);
        lcv_tensor_free(kd->adapt_grad[i]);
        free(kd->adapt_name[i]);
    }
    kd->n_adapt = 0;
    return st;
}

/* Per pair: the student's and teacher's channels and positions, with matching spatial sizes. */
static lcv_status pair_shapes(lcv_trainer *t, const lcv_distill_inputs *in, int64_t n,
                              const lcv_tensor **fs, int64_t *cs, int64_t *ct, int64_t *hw) {
    lcv_kd *kd = t->kd;
    const char *what = lcv_distill_mode_name(kd->s.mode);
    if (!in || !in->features)
        return lcv_fail(&t->err, LCV_ERR_INVALID_ARG, "%s: no teacher features given (%d "
                        "needed)", what, kd->s.n_pairs);
    for (int i = 0; i < kd->s.n_pairs; i++) {
        const lcv_tensor *x = student_value(t, 1 + i, n, 2, what);
        if (!x) return LCV_ERR_SHAPE;
        const lcv_tensor *y = in->features[i];
        lcv_status st = check_teacher(t, y, kd->pairs[i].teacher, n, 2, what);
        if (st != LCV_OK) return st;
        if (!lcv_shape_equal(x->ndim - 2, x->dims + 2, y->ndim - 2, y->dims + 2)) {
            char a[160], b[160];
            return lcv_fail(&t->err, LCV_ERR_SHAPE, "%s pair %d: the spatial sizes differ: "
                            "student value '%s' is %s, teacher value '%s' is %s", what, i + 1,
                            kd->pairs[i].student, lcv_shape_str(x->ndim, x->dims, a, sizeof a),
                            kd->pairs[i].teacher, lcv_shape_str(y->ndim, y->dims, b, sizeof b));
        }
        fs[i] = x;
        cs[i] = x->dims[1];
        ct[i] = y->dims[1];
        hw[i] = lcv_tensor_count(x) / (n * cs[i]);
    }
    return LCV_OK;
}

static lcv_status feature_terms(lcv_trainer *t, const lcv_distill_inputs *in, int64_t n,
                                double *total) {
    lcv_kd *kd = t->kd;
    int np = kd->s.n_pairs;
    const lcv_tensor *fs[KD_MAX_TERMS];
    int64_t cs[KD_MAX_TERMS], ct[KD_MAX_TERMS], hw[KD_MAX_TERMS];
    lcv_status st = pair_shapes(t, in, n, fs, cs, ct, hw);
    bool fit = kd->s.mode == LCV_DISTILL_FITNETS;
    if (st == LCV_OK && fit) st = lcv_distill_ensure_adapters(t, ct, cs, &t->err);
    for (int i = 0; i < np && st == LCV_OK; i++) {
        float *d = seed_of(t, 1 + i);
        if (!d) return LCV_ERR_INTERNAL;
        double part = 0.0;
        const float *ft = in->features[i]->data;
        if (fit)
            st = lcv_loss_hint(fs[i]->data, n, cs[i], hw[i], kd->adapt[2 * i]->data,
                               kd->adapt[2 * i + 1]->data, ct[i], ft, kd->s.hint_weight, d,
                               kd->adapt_grad[2 * i]->data, kd->adapt_grad[2 * i + 1]->data,
                               &part, &t->err);
        else
            st = lcv_loss_at(fs[i]->data, cs[i], ft, ct[i], n, hw[i], kd->s.at_beta, d, &part,
                             &t->err);
        if (st != LCV_OK)
            lcv_err_prefix(&t->err, "pair %d ('%s' -> '%s')", i + 1, kd->pairs[i].student,
                           kd->pairs[i].teacher);
        *total += part;
    }
    return st;
}

static lcv_status rkd_term(lcv_trainer *t, const lcv_distill_inputs *in, int64_t n,
                           double *total) {
    lcv_kd *kd = t->kd;
    int slot = 1;
    const lcv_tensor *es = student_value(t, slot, n, 1, "rkd");
    if (!es) return LCV_ERR_SHAPE;
    const lcv_tensor *et = in ? in->embedding : NULL;
    lcv_status st = check_teacher(t, et, kd->emb_teacher, n, 1, "rkd");
    if (st != LCV_OK) return st;
    float *d = seed_of(t, slot);
    if (!d) return LCV_ERR_INTERNAL;
    double part = 0.0;
    st = lcv_loss_rkd(es->data, lcv_tensor_count(es) / n, et->data, lcv_tensor_count(et) / n, n,
                      kd->s.rkd_distance, kd->s.rkd_angle, d, &part, NULL, NULL, &t->err);
    *total += part;
    return st;
}

static lcv_status self_terms(lcv_trainer *t, const lcv_tensor *lg, const int64_t *labels,
                             double *total) {
    lcv_kd *kd = t->kd;
    int64_t n = lg->dims[0], k = lg->dims[1];
    for (int i = 0; i < kd->s.n_exits; i++) {
        int slot = 1 + i;
        const lcv_tensor *x = lcv_autodiff_value(t->ad, kd->values[slot]);
        if (!x || x->dtype != LCV_DTYPE_FLOAT32 || !lcv_shape_equal(x->ndim, x->dims, 2, lg->dims)) {
            char b[160];
            return lcv_fail(&t->err, LCV_ERR_SHAPE, "self: exit '%s' must be float32 logits "
                            "[%lld, %lld] like output 0, got %s %s", kd->exits[i], (long long)n,
                            (long long)k, x ? lcv_dtype_name(x->dtype) : "nothing",
                            x ? lcv_shape_str(x->ndim, x->dims, b, sizeof b) : "");
        }
        float *d = seed_of(t, slot);
        if (!d) return LCV_ERR_INTERNAL;
        double part = 0.0;
        /* the deepest exit's logits are the (detached) teacher */
        lcv_status st = lcv_loss_kd(x->data, lg->data, labels, n, k, kd->s.kd_weight,
                                    kd->s.ce_weight, kd->s.temperature, t->p.label_smoothing, d,
                                    &part, &t->err);
        if (st != LCV_OK) return st;
        *total += part;
    }
    return LCV_OK;
}

lcv_status lcv_distill_loss(lcv_trainer *t, const void *ctx, const lcv_tensor *lg,
                            bool labelled, double *loss) {
    lcv_kd *kd = t->kd;
    const lcv_distill_inputs *in = ctx;
    if (!kd->resolved) {
        const lcv_graph *g = lcv_autodiff_graph(t->ad);
        for (int i = 0; i < kd->n_seed_names; i++)
            kd->values[i] = i ? lcv_graph_find(g, kd->seed_names[i]) : t->logits_value;
        kd->resolved = true;
    }
    for (int i = 0; i < kd->n_seed_names; i++) kd->seeded[i] = NULL;
    int64_t n = lg->dims[0], k = lg->dims[1];
    const int64_t *labels = labelled ? t->labels : NULL;
    float *dlg = seed_of(t, 0);
    if (!dlg) return LCV_ERR_INTERNAL;
    const lcv_tensor *teacher = lg;
    double kd_w = 0.0, total = 0.0;
    if (kd->s.mode == LCV_DISTILL_HINTON || kd->s.mode == LCV_DISTILL_DML) {
        teacher = in ? in->teacher_logits : NULL;
        if (!teacher || teacher->dtype != LCV_DTYPE_FLOAT32 ||
            !lcv_shape_equal(teacher->ndim, teacher->dims, lg->ndim, lg->dims)) {
            char b[160];
            return lcv_fail(&t->err, LCV_ERR_INVALID_ARG, "%s: the teacher's logits must be "
                            "float32 [%lld, %lld] like the student's, got %s %s",
                            lcv_distill_mode_name(kd->s.mode), (long long)n, (long long)k,
                            teacher ? lcv_dtype_name(teacher->dtype) : "nothing",
                            teacher ? lcv_shape_str(teacher->ndim, teacher->dims, b, sizeof b)
                                    : "");
        }
        kd_w = kd->s.kd_weight;
    }
    lcv_status st = LCV_OK;
    if (kd_w > 0.0 || kd->s.ce_weight > 0.0)
        st = lcv_loss_kd(lg->data, teacher->data, labels, n, k, kd_w, kd->s.ce_weight,
                         kd->s.temperature, t->p.label_smoothing, dlg, &total, &t->err);
    if (st != LCV_OK) return st;
    switch (kd->s.mode) {
    case LCV_DISTILL_FITNETS:
    case LCV_DISTILL_AT: st = feature_terms(t, in, n, &total); break;
    case LCV_DISTILL_RKD: st = rkd_term(t, in, n, &total); break;
    case LCV_DISTILL_SELF: st = self_terms(t, lg, labels, &total); break;
    default: break;
    }
    *loss = total;
    return st;
}

int lcv_distill_tensor_count(const lcv_kd *kd) { return kd ? kd->n_adapt : 0; }
lcv_tensor *lcv_distill_tensor(lcv_kd *kd, int i) { return kd->adapt[i]; }
const char *lcv_distill_tensor_name(const lcv_kd *kd, int i) { return kd->adapt_name[i]; }
int lcv_distill_tensor_slots(const lcv_kd *kd) {
    return kd && kd->s.mode == LCV_DISTILL_FITNETS ? 2 * kd->s.n_pairs : 0;
}
lcv_optim *lcv_distill_optim(lcv_kd *kd) { return kd ? kd->opt : NULL; }

lcv_status lcv_distill_check_grads(lcv_trainer *t) {
    lcv_kd *kd = t->kd;
    for (int i = 0; i < kd->n_adapt; i++) {
        const float *d = kd->adapt_grad[i]->data;
        for (int64_t j = 0; j < lcv_tensor_count(kd->adapt_grad[i]); j++)
            if (!isfinite(d[j]))
                return lcv_fail(&t->err, LCV_ERR_INVALID_ARG, "the gradient of adapter '%s' is "
                                "not finite", kd->adapt_name[i]);
    }
    return LCV_OK;
}

lcv_status lcv_distill_update(lcv_trainer *t) {
    lcv_kd *kd = t->kd;
    if (!kd->n_adapt) return LCV_OK;
    double norm = lcv_optim_grad_norm(kd->n_adapt, (const lcv_tensor *const *)kd->adapt_grad);
    return lcv_optim_step(kd->opt, kd->adapt, kd->adapt_grad, norm, NULL, &t->err);
}

lcv_status lcv_trainer_step_kd(lcv_trainer *t, const lcv_tensor *images,
                               const lcv_tensor *labels, const lcv_distill_inputs *in,
                               float *loss, int64_t *correct) {
    if (!t || !t->ready) return LCV_ERR_INVALID_ARG;
    if (!t->kd)
        return lcv_fail(&t->err, LCV_ERR_INVALID_ARG, "the trainer was created without a "
                        "distillation spec (lcv_train_params.distill)");
    bool need = t->kd->s.ce_weight > 0.0f;
    return lcv_trainer_run_step(t, images, labels, need, lcv_distill_loss, in, loss, correct);
}

/* Copies t's training-mode logits on images into the peer buffer of `into`. */
static lcv_status peer_logits(lcv_trainer *t, const lcv_tensor *images, lcv_kd *into) {
    const lcv_tensor *lg;
    lcv_status st = lcv_trainer_predict(t, images, 1, &lg);
    if (st != LCV_OK) return st;
    if (!into->peer || !lcv_shape_equal(into->peer->ndim, into->peer->dims, lg->ndim, lg->dims)) {
        lcv_tensor_free(into->peer);
        into->peer = new_f32(lg->ndim, lg->dims);
        if (!into->peer) return lcv_fail(&t->err, LCV_ERR_NOMEM, "out of memory");
    }
    memcpy(into->peer->data, lg->data, lcv_tensor_nbytes(lg));
    return LCV_OK;
}

lcv_status lcv_trainer_step_mutual(lcv_trainer *a, lcv_trainer *b, const lcv_tensor *images,
                                   const lcv_tensor *labels, float loss[2], int64_t correct[2]) {
    if (!a || !a->ready || !b || !b->ready) return LCV_ERR_INVALID_ARG;
    if (!a->kd || a->kd->s.mode != LCV_DISTILL_DML || !b->kd || b->kd->s.mode != LCV_DISTILL_DML)
        return lcv_fail(&a->err, LCV_ERR_INVALID_ARG, "deep mutual learning needs two trainers "
                        "created with a dml distillation spec");
    if (a == b) return lcv_fail(&a->err, LCV_ERR_INVALID_ARG, "mutual learning needs two trainers");
    float l[2] = {0, 0};
    int64_t c[2] = {0, 0};
    lcv_status st = peer_logits(b, images, a->kd);
    if (st != LCV_OK) {
        lcv_fail(&a->err, st, "peer: %s", lcv_trainer_errmsg(b));
        return st;
    }
    lcv_distill_inputs in = {a->kd->peer, NULL, NULL};
    st = lcv_trainer_step_kd(a, images, labels, &in, &l[0], &c[0]);
    if (st != LCV_OK) return st;
    /* b learns from a as updated by this step, as in the paper's algorithm */
    st = peer_logits(a, images, b->kd);
    in.teacher_logits = b->kd->peer;
    if (st == LCV_OK) st = lcv_trainer_step_kd(b, images, labels, &in, &l[1], &c[1]);
    if (st != LCV_OK) {
        if (a->err.msg[0] == '\0') lcv_fail(&a->err, st, "peer: %s", lcv_trainer_errmsg(b));
        return st;
    }
    if (loss) memcpy(loss, l, sizeof l);
    if (correct) memcpy(correct, c, sizeof c);
    return LCV_OK;
}
