/* test_distill_trainer.c - distillation through the trainer (lcv_trainer_step_kd,
 * lcv_trainer_step_mutual): for every mode the gradient a step applies to a weight matches
 * central differences of the loss the steps report (seeds at intermediate values, several
 * exits); FitNets adapters survive checkpoints exactly; shapes and names are checked with
 * messages naming the value. The model is built in C: conv -> relu -> pooled embedding ->
 * logits, plus a shallower exit from the conv features. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontends/onnx/onnx.h"
#include "leancv_train.h"
#include "train_graph.h"
#include "train_test_util.h"

#define N 5

/* The model as ONNX bytes; weight w1[idx] shifted by delta. */
static void *model_bytes(int idx, double delta, size_t *size) {
    lcv_graph *g = lcv_graph_new();
    uint64_t s = 42;
    int64_t xd[4] = {N, 2, 4, 4}, w1d[4] = {3, 2, 3, 3}, b1d[1] = {3}, w2d[2] = {5, 3},
            b2d[1] = {5}, w3d[2] = {5, 3};
    xd[0] = -1;
    tg_input(g, "x", LCV_DTYPE_FLOAT32, 4, xd);
    double w1[54];
    for (int i = 0; i < 54; i++) w1[i] = 0.4 * tg_rand(&s);
    w1[idx] += delta;
    tg_init(g, "w1", 4, w1d, 0, 0, w1, &s);
    tg_init(g, "b1", 1, b1d, -0.1, 0.1, NULL, &s);
    tg_init(g, "w2", 2, w2d, -0.8, 0.8, NULL, &s);
    tg_init(g, "b2", 1, b2d, -0.1, 0.1, NULL, &s);
    tg_init(g, "w3", 2, w3d, -0.8, 0.8, NULL, &s);
    lcv_node *c = tg_node(g, "conv", "Conv", "x,w1,b1", "feat");
    tg_ints(c, "pads", 4, 1, 1, 1, 1);
    tg_node(g, "relu", "Relu", "feat", "r");
    tg_node(g, "gap", "GlobalAveragePool", "r", "gp");
    tg_int(tg_node(g, "flat", "Flatten", "gp", "emb"), "axis", 1);
    tg_int(tg_node(g, "fc", "Gemm", "emb,w2,b2", "logits"), "transB", 1);
    tg_node(g, "gap2", "GlobalAveragePool", "feat", "gp2");
    tg_int(tg_node(g, "flat2", "Flatten", "gp2", "emb2"), "axis", 1);
    tg_int(tg_node(g, "fc2", "Gemm", "emb2,w3", "exit1"), "transB", 1);
    tg_output(g, "logits");
    tg_output(g, "exit1");
    void *data = NULL;
    lcv_err e;
    if (lcv_onnx_write_graph(g, 13, &data, size, &e) != LCV_OK)
        fprintf(stderr, "write: %s\n", e.msg);
    lcv_graph_free(g);
    return data;
}

static lcv_tensor *rand_tensor(int ndim, const int64_t *dims, uint64_t seed, double scale) {
    lcv_tensor *t = NULL;
    lcv_tensor_create(LCV_DTYPE_FLOAT32, ndim, dims, &t);
    for (int64_t i = 0; i < lcv_tensor_numel(t); i++)
        ((float *)t->data)[i] = (float)(scale * tg_rand(&seed));
    return t;
}

typedef struct batch {
    lcv_tensor *x, *y, *tlogits, *tfeat, *tfeat_bad, *temb;
} batch;

static batch make_batch(void) {
    batch b;
    int64_t xd[4] = {N, 2, 4, 4}, yd[1] = {N}, ld[2] = {N, 5}, fd[4] = {N, 4, 4, 4},
            bd[4] = {N, 4, 2, 8}, ed[2] = {N, 6};
    b.x = rand_tensor(4, xd, 1, 1.0);
    lcv_tensor_create(LCV_DTYPE_INT64, 1, yd, &b.y);
    for (int i = 0; i < N; i++) ((int64_t *)b.y->data)[i] = (i * 3) % 5;
    b.tlogits = rand_tensor(2, ld, 2, 2.0);
    b.tfeat = rand_tensor(4, fd, 3, 1.0);
    b.tfeat_bad = rand_tensor(4, bd, 4, 1.0);
    b.temb = rand_tensor(2, ed, 5, 1.0);
    return b;
}

static void free_batch(batch *b) {
    lcv_tensor_free(b->x);
    lcv_tensor_free(b->y);
    lcv_tensor_free(b->tlogits);
    lcv_tensor_free(b->tfeat);
    lcv_tensor_free(b->tfeat_bad);
    lcv_tensor_free(b->temb);
}

static lcv_trainer *make_trainer(const lcv_distill_spec *spec, int idx, double delta, float lr) {
    size_t size = 0;
    void *data = model_bytes(idx, delta, &size);
    lcv_train_params p = lcv_train_default_params();
    p.lr = lr;
    p.momentum = 0.0f;
    p.seed = 11;
    p.distill = spec;
    lcv_trainer *t = NULL;
    lcv_status st = lcv_trainer_create_buffer(data, size, &p, &t);
    CHECK_MSG(st == LCV_OK, "create: %s", lcv_trainer_errmsg(t));
    free(data);
    if (st != LCV_OK) {
        lcv_trainer_free(t);
        return NULL;
    }
    return t;
}

/* The value of w1 (parameter tensor named "w1") at index idx. */
static float w1_at(const lcv_trainer *t, int idx) {
    for (int i = 0; i < lcv_trainer_param_tensors(t); i++) {
        const char *name;
        const lcv_tensor *v;
        lcv_trainer_param(t, i, &name, &v);
        if (strcmp(name, "w1") == 0) return ((const float *)v->data)[idx];
    }
    return NAN;
}

/* One SGD step (lr 1, no momentum) gives -gradient; central differences of the reported loss
 * over w1[idx] must agree. */
static void check_mode_grad(const char *what, const lcv_distill_spec *spec, const batch *b,
                            const lcv_distill_inputs *in) {
    const int idxs[3] = {0, 17, 40};
    for (int q = 0; q < 3; q++) {
        int idx = idxs[q];
        const double h = 1e-3;
        lcv_trainer *t0 = make_trainer(spec, idx, 0.0, 1.0f);
        lcv_trainer *tp = make_trainer(spec, idx, h, 1.0f);
        lcv_trainer *tm = make_trainer(spec, idx, -h, 1.0f);
        if (!t0 || !tp || !tm) goto done;
        float l0, lp, lm;
        float before = w1_at(t0, idx);
        lcv_status s0 = lcv_trainer_step_kd(t0, b->x, b->y, in, &l0, NULL);
        CHECK_MSG(s0 == LCV_OK, "%s step: %s", what, lcv_trainer_errmsg(t0));
        CHECK(lcv_trainer_step_kd(tp, b->x, b->y, in, &lp, NULL) == LCV_OK);
        CHECK(lcv_trainer_step_kd(tm, b->x, b->y, in, &lm, NULL) == LCV_OK);
        if (s0 != LCV_OK) goto done;
        double g = (double)before - (double)w1_at(t0, idx), fd = ((double)lp - lm) / (2 * h);
        CHECK_MSG(fabs(g - fd) <= 2e-3 * (1.0 + fabs(fd)), "%s: d loss / d w1[%d] = %.7g, "
                  "finite differences %.7g (loss %g)", what, idx, g, fd, (double)l0);
        CHECK_MSG(isfinite(l0) && l0 > 0, "%s loss %g", what, (double)l0);
    done:
        lcv_trainer_free(t0);
        lcv_trainer_free(tp);
        lcv_trainer_free(tm);
    }
}

static void check_gradients(const batch *b) {
    lcv_distill_spec s = lcv_distill_default_spec(LCV_DISTILL_CE);
    check_mode_grad("ce", &s, b, NULL);
    lcv_distill_inputs in = {b->tlogits, NULL, NULL};
    s = lcv_distill_default_spec(LCV_DISTILL_HINTON);
    check_mode_grad("hinton", &s, b, &in);
    s = lcv_distill_default_spec(LCV_DISTILL_DML);
    check_mode_grad("dml", &s, b, &in);
    lcv_distill_pair pairs[2] = {{"feat", "t.feat"}, {"r", "t.feat"}};
    const lcv_tensor *feats[2] = {b->tfeat, b->tfeat};
    lcv_distill_inputs fin = {NULL, feats, NULL};
    s = lcv_distill_default_spec(LCV_DISTILL_AT);
    s.n_pairs = 2;
    s.pairs = pairs;
    s.at_beta = 50.0f;
    check_mode_grad("at", &s, b, &fin);
    s = lcv_distill_default_spec(LCV_DISTILL_FITNETS);
    s.n_pairs = 2;
    s.pairs = pairs;
    s.hint_weight = 0.5f;
    check_mode_grad("fitnets", &s, b, &fin);
    lcv_distill_inputs rin = {NULL, NULL, b->temb};
    s = lcv_distill_default_spec(LCV_DISTILL_RKD);
    s.embedding.student = "emb";
    s.embedding.teacher = "t.emb";
    s.rkd_distance = 2.0f;
    s.rkd_angle = 4.0f;
    check_mode_grad("rkd", &s, b, &rin);
    const char *exits[1] = {"exit1"};
    s = lcv_distill_default_spec(LCV_DISTILL_SELF);
    s.n_exits = 1;
    s.exits = exits;
    check_mode_grad("self", &s, b, NULL);
}

/* create fails (or step_kd fails) with a message containing want. */
static void expect_create_fail(const lcv_distill_spec *s, const char *want) {
    size_t size = 0;
    void *data = model_bytes(0, 0.0, &size);
    lcv_train_params p = lcv_train_default_params();
    p.distill = s;
    lcv_trainer *t = NULL;
    CHECK(lcv_trainer_create_buffer(data, size, &p, &t) != LCV_OK);
    CHECK_MSG(t && strstr(lcv_trainer_errmsg(t), want), "'%s' lacks '%s'",
              t ? lcv_trainer_errmsg(t) : "", want);
    lcv_trainer_free(t);
    free(data);
}

static void expect_step_fail(lcv_trainer *t, const batch *b, const lcv_distill_inputs *in,
                             const char *want) {
    if (!t) return;
    CHECK(lcv_trainer_step_kd(t, b->x, b->y, in, NULL, NULL) != LCV_OK);
    CHECK_MSG(strstr(lcv_trainer_errmsg(t), want), "'%s' lacks '%s'", lcv_trainer_errmsg(t),
              want);
}

static void check_errors(const batch *b) {
    lcv_distill_pair bad = {"nope", "t.x"}, good = {"r", "t.feat"};
    lcv_distill_spec s = lcv_distill_default_spec(LCV_DISTILL_AT);
    s.n_pairs = 1;
    s.pairs = &bad;
    expect_create_fail(&s, "student value 'nope' is not in the model");
    s.n_pairs = 0;
    expect_create_fail(&s, "feature pairs");
    s = lcv_distill_default_spec(LCV_DISTILL_HINTON);
    s.temperature = 0.0f;
    expect_create_fail(&s, "temperature");
    s = lcv_distill_default_spec(LCV_DISTILL_SELF);
    const char *deep[1] = {"logits"};
    s.n_exits = 1;
    s.exits = deep;
    expect_create_fail(&s, "is output 0");
    s = lcv_distill_default_spec((lcv_distill_mode)9);
    expect_create_fail(&s, "unknown distillation mode");

    /* attention maps of different spatial sizes */
    s = lcv_distill_default_spec(LCV_DISTILL_AT);
    s.n_pairs = 1;
    s.pairs = &good;
    lcv_trainer *t = make_trainer(&s, 0, 0.0, 0.01f);
    const lcv_tensor *feats[1] = {b->tfeat_bad};
    lcv_distill_inputs in = {NULL, feats, NULL};
    expect_step_fail(t, b, &in, "spatial sizes differ: student value 'r' is [5,3,4,4], "
                     "teacher value 't.feat' is [5,4,2,8]");
    expect_step_fail(t, b, NULL, "no teacher features");
    lcv_trainer_free(t);
    /* Hinton without / with misshapen teacher logits */
    s = lcv_distill_default_spec(LCV_DISTILL_HINTON);
    t = make_trainer(&s, 0, 0.0, 0.01f);
    lcv_distill_inputs lin = {b->tfeat, NULL, NULL};
    expect_step_fail(t, b, &lin, "logits must be float32 [5, 5]");
    expect_step_fail(t, b, NULL, "got nothing");
    lcv_trainer_free(t);
    /* RKD: the teacher embedding's batch */
    s = lcv_distill_default_spec(LCV_DISTILL_RKD);
    s.embedding.student = "emb";
    s.embedding.teacher = "t.emb";
    t = make_trainer(&s, 0, 0.0, 0.01f);
    lcv_distill_inputs rin = {NULL, NULL, b->tlogits};
    int64_t d3[2] = {3, 6};
    lcv_tensor *small = rand_tensor(2, d3, 9, 1.0);
    rin.embedding = small;
    expect_step_fail(t, b, &rin, "teacher value 't.emb' must be float32 [5, ...]");
    lcv_tensor_free(small);
    lcv_trainer_free(t);
    /* no spec */
    t = make_trainer(NULL, 0, 0.0, 0.01f);
    expect_step_fail(t, b, NULL, "without a distillation spec");
    lcv_trainer_free(t);
}

/* FitNets with AdamW: 2 steps, save, a fresh trainer loads and takes the 3rd step; its
 * checkpoint equals that of 3 uninterrupted steps (adapters and their moments included). */
static void check_checkpoint(const batch *b) {
    lcv_distill_pair pair = {"r", "t.feat"};
    lcv_distill_spec s = lcv_distill_default_spec(LCV_DISTILL_FITNETS);
    s.n_pairs = 1;
    s.pairs = &pair;
    const lcv_tensor *feats[1] = {b->tfeat};
    lcv_distill_inputs in = {NULL, feats, NULL};
    char p2[512], p3[512], pr[512];
    snprintf(p2, sizeof p2, "%s/distill_s2.ckpt", LCV_TRAIN_WORK);
    snprintf(p3, sizeof p3, "%s/distill_s3.ckpt", LCV_TRAIN_WORK);
    snprintf(pr, sizeof pr, "%s/distill_r3.ckpt", LCV_TRAIN_WORK);
    size_t size = 0;
    void *data = model_bytes(0, 0.0, &size);
    lcv_train_params p = lcv_train_default_params();
    p.optimizer = LCV_OPTIMIZER_ADAMW;
    p.lr = 0.01f;
    p.distill = &s;
    lcv_trainer *a = NULL, *r = NULL, *plain = NULL;
    CHECK(lcv_trainer_create_buffer(data, size, &p, &a) == LCV_OK);
    CHECK(lcv_trainer_create_buffer(data, size, &p, &r) == LCV_OK);
    for (int i = 0; i < 3; i++) {
        CHECK_MSG(lcv_trainer_step_kd(a, b->x, b->y, &in, NULL, NULL) == LCV_OK, "%s",
                  lcv_trainer_errmsg(a));
        if (i == 1) CHECK(lcv_trainer_save(a, p2) == LCV_OK);
    }
    CHECK(lcv_trainer_save(a, p3) == LCV_OK);
    CHECK_MSG(lcv_trainer_load(r, p2) == LCV_OK, "load: %s", lcv_trainer_errmsg(r));
    CHECK(lcv_trainer_step_count(r) == 2);
    CHECK(lcv_trainer_step_kd(r, b->x, b->y, &in, NULL, NULL) == LCV_OK);
    CHECK(lcv_trainer_save(r, pr) == LCV_OK);
    CHECK_MSG(fx_same_files(p3, pr), "resumed fitnets training differs from uninterrupted");
    /* a trainer without the adapters refuses the checkpoint, naming why */
    p.distill = NULL;
    CHECK(lcv_trainer_create_buffer(data, size, &p, &plain) == LCV_OK);
    CHECK(lcv_trainer_load(plain, p3) != LCV_OK);
    CHECK_MSG(strstr(lcv_trainer_errmsg(plain), "adapter"), "%s", lcv_trainer_errmsg(plain));
    /* the exported student has no adapter */
    char po[512];
    snprintf(po, sizeof po, "%s/distill_student.onnx", LCV_TRAIN_WORK);
    CHECK(lcv_trainer_export_onnx(a, po) == LCV_OK);
    unsigned char *onnx = NULL;
    size_t on = 0;
    CHECK(fx_read_file(po, &onnx, &on) == 0);
    bool found = false;
    for (size_t i = 0; onnx && i + 7 < on && !found; i++) found = memcmp(onnx + i, "distill", 7) == 0;
    CHECK(!found);
    free(onnx);
    lcv_trainer_free(a);
    lcv_trainer_free(r);
    lcv_trainer_free(plain);
    free(data);
}

/* Mutual learning: both students learn; predict(training) changes nothing. */
static void check_mutual(const batch *b) {
    lcv_distill_spec s = lcv_distill_default_spec(LCV_DISTILL_DML);
    lcv_trainer *a = make_trainer(&s, 0, 0.0, 0.1f), *c = make_trainer(&s, 3, 0.3, 0.1f);
    if (!a || !c) goto done;
    const lcv_tensor *l1, *l2;
    float first[5], again[5];
    CHECK(lcv_trainer_predict(a, b->x, 1, &l1) == LCV_OK);
    memcpy(first, l1->data, sizeof first);
    CHECK(lcv_trainer_predict(a, b->x, 1, &l2) == LCV_OK);
    memcpy(again, l2->data, sizeof again);
    CHECK(memcmp(first, again, sizeof first) == 0);
    CHECK(lcv_trainer_step_count(a) == 0);
    float loss[2], l0[2] = {0, 0};
    int64_t hits[2];
    for (int i = 0; i < 20; i++) {
        CHECK_MSG(lcv_trainer_step_mutual(a, c, b->x, b->y, loss, hits) == LCV_OK, "%s",
                  lcv_trainer_errmsg(a));
        if (i == 0) memcpy(l0, loss, sizeof l0);
    }
    CHECK_MSG(loss[0] < l0[0] && loss[1] < l0[1], "losses %g %g -> %g %g", (double)l0[0],
              (double)l0[1], (double)loss[0], (double)loss[1]);
    CHECK(lcv_trainer_step_count(a) == 20 && lcv_trainer_step_count(c) == 20);
    CHECK(lcv_trainer_step_mutual(a, a, b->x, b->y, loss, hits) != LCV_OK);
done:
    lcv_trainer_free(a);
    lcv_trainer_free(c);
}

int main(void) {
    batch b = make_batch();
    check_gradients(&b);
    check_errors(&b);
    check_checkpoint(&b);
    check_mutual(&b);
    free_batch(&b);
    return lcv_test_finish("train_distill_trainer");
}
