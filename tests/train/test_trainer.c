/* test_trainer.c - the public training API (include/leancv_train.h) on small CNNs exported by
 * PyTorch (make_fixtures.py): 4 SGD steps match PyTorch's losses and parameters, and inference
 * afterwards its logits (running statistics); same seed and threads give bit-identical weights;
 * a checkpoint resumed continues exactly; checkpoints of another model, damaged files and
 * failed saves are refused or harmless; a non-finite loss stops the step without changing
 * anything; argument errors carry messages; the exported ONNX model runs like the trainer; the
 * moving average of the weights (ema_decay) matches a step-by-step reference and survives a
 * checkpoint. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "leancv_train.h"
#include "train_test_util.h"

#define MODEL LCV_TRAIN_FIXTURES "/tiny_cnn.onnx"
#define MODEL_W6 LCV_TRAIN_FIXTURES "/tiny_cnn_w6.onnx"

#ifndef LCV_TRAIN_WORK
#define LCV_TRAIN_WORK "/tmp"
#endif

/* Batch s of the fixture's e2e_x / e2e_y as tensors (views copied). */
static void batch(const lcv_tensor *xs, const lcv_tensor *ys, int s, lcv_tensor **x,
                  lcv_tensor **y) {
    int64_t n = xs->dims[1], xd[4] = {n, 1, 8, 8}, yd[1] = {n};
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 4, xd, x);
    lcv_tensor_create(LCV_DTYPE_INT64, 1, yd, y);
    memcpy((*x)->data, (const float *)xs->data + s * n * 64, sizeof(float) * (size_t)(n * 64));
    memcpy((*y)->data, (const int64_t *)ys->data + s * n, sizeof(int64_t) * (size_t)n);
}

static lcv_trainer *make(const char *model, const lcv_train_params *p) {
    lcv_trainer *t = NULL;
    lcv_status st = lcv_trainer_create_file(model, p, &t);
    CHECK_MSG(st == LCV_OK, "create: %s", lcv_trainer_errmsg(t));
    if (st != LCV_OK) {
        lcv_trainer_free(t);
        return NULL;
    }
    return t;
}

static lcv_train_params e2e_params(void) {
    lcv_train_params p = lcv_train_default_params();
    p.lr = 0.1f;
    p.momentum = 0.9f;
    p.weight_decay = 1e-3f;
    p.label_smoothing = 0.05f;
    return p;
}

/* Runs steps [from, to) of the fixture batches. */
static int run_steps(lcv_trainer *t, const lcv_tensor *xs, const lcv_tensor *ys, int from, int to,
                     float *losses) {
    for (int s = from; s < to; s++) {
        lcv_tensor *x, *y;
        batch(xs, ys, s, &x, &y);
        float loss = 0;
        int64_t correct = -1;
        lcv_status st = lcv_trainer_step(t, x, y, &loss, &correct);
        CHECK_MSG(st == LCV_OK, "step %d: %s", s, lcv_trainer_errmsg(t));
        CHECK(correct >= 0 && correct <= x->dims[0]);
        if (losses) losses[s] = loss;
        lcv_tensor_free(x);
        lcv_tensor_free(y);
        if (st != LCV_OK) return 1;
    }
    return 0;
}

/* Copies every parameter (concatenated) for bitwise comparisons. */
static float *snapshot(const lcv_trainer *t, size_t *bytes) {
    *bytes = sizeof(float) * (size_t)lcv_trainer_param_count(t);
    float *all = malloc(*bytes + 1), *p = all;
    for (int i = 0; i < lcv_trainer_param_tensors(t); i++) {
        const lcv_tensor *v;
        lcv_trainer_param(t, i, NULL, &v);
        memcpy(p, lcv_tensor_cdata(v), lcv_tensor_nbytes(v));
        p += lcv_tensor_numel(v);
    }
    return all;
}

static void check_pytorch(const lcv_tensor *xs, const lcv_tensor *ys) {
    lcv_train_params p = e2e_params();
    lcv_trainer *t = make(MODEL, &p);
    if (!t) return;
    CHECK(lcv_trainer_param_tensors(t) == 10); /* conv, bn scale/bias, fc: weights and biases */
    float losses[8];
    int steps = (int)xs->dims[0];
    if (run_steps(t, xs, ys, 0, steps, losses) == 0) {
        lcv_tensor *want = fx_load("e2e_loss");
        CHECK_MSG(fx_compare("loss", losses, want, steps, 1e-5, 1e-5) == 0, "losses vs PyTorch");
        lcv_tensor_free(want);
        for (int i = 0; i < lcv_trainer_param_tensors(t); i++) {
            const char *name;
            const lcv_tensor *v;
            char fx[160];
            lcv_trainer_param(t, i, &name, &v);
            snprintf(fx, sizeof fx, "e2e_p_%s", name);
            lcv_tensor *w = fx_load(fx);
            CHECK_MSG(fx_compare(name, lcv_tensor_cdata(v), w, lcv_tensor_numel(v), 1e-6, 1e-5) ==
                          0,
                      "parameter %s after %d steps vs PyTorch", name, steps);
            lcv_tensor_free(w);
        }
        lcv_tensor *xe = fx_load("e2e_eval_x"), *le = fx_load("e2e_eval_logits");
        const lcv_tensor *logits = NULL;
        if (xe && le) {
            CHECK_MSG(lcv_trainer_evaluate(t, xe, &logits) == LCV_OK, "%s", lcv_trainer_errmsg(t));
            if (logits)
                CHECK_MSG(fx_compare("eval logits", lcv_tensor_cdata(logits), le, 15, 2e-4, 1e-3) ==
                              0,
                          "inference after training vs PyTorch");
        }
        /* The exported model, run by the inference runtime, gives the trainer's logits. */
        const char *out = LCV_TRAIN_WORK "/trainer_test_export.onnx";
        CHECK_MSG(lcv_trainer_export_onnx(t, out) == LCV_OK, "%s", lcv_trainer_errmsg(t));
        lcv_model *m = NULL;
        lcv_session *s = NULL;
        CHECK_MSG(lcv_model_load_file(out, NULL, &m) == LCV_OK, "%s", lcv_model_errmsg(m));
        const char *name = "image";
        if (xe && logits && lcv_session_create(m, NULL, &s) == LCV_OK &&
            lcv_session_run(s, 1, &name, (const lcv_tensor *const *)&xe) == LCV_OK) {
            const lcv_tensor *y = lcv_session_output(s, 0);
            CHECK(fx_compare("exported", lcv_tensor_cdata(logits), y, 15, 1e-5, 1e-4) == 0);
        } else {
            CHECK_MSG(0, "running the exported model: %s", s ? lcv_session_errmsg(s) : "no session");
        }
        lcv_session_free(s);
        lcv_model_free(m);
        remove(out);
        lcv_tensor_free(xe);
        lcv_tensor_free(le);
    }
    CHECK(lcv_trainer_step_count(t) == steps);
    lcv_trainer_free(t);
}

static void check_determinism(const lcv_tensor *xs, const lcv_tensor *ys) {
    float *ref = NULL;
    size_t bytes = 0;
    for (int threads = 1; threads <= 2; threads++)
        for (int rep = 0; rep < 2; rep++) {
            lcv_train_params p = e2e_params();
            p.threads = threads;
            p.seed = 42;
            p.optimizer = LCV_OPTIMIZER_ADAMW;
            p.lr = 0.01f;
            p.weight_decay = 0.05f;
            p.schedule = LCV_SCHEDULE_COSINE;
            p.total_steps = 4;
            p.warmup_steps = 1;
            p.clip_norm = 1.0f;
            lcv_trainer *t = make(MODEL, &p);
            if (!t) return;
            run_steps(t, xs, ys, 0, (int)xs->dims[0], NULL);
            size_t b;
            float *snap = snapshot(t, &b);
            if (!ref) {
                ref = snap;
                bytes = b;
            } else {
                CHECK_MSG(b == bytes && memcmp(ref, snap, b) == 0,
                          "threads %d run %d: weights differ from the first run", threads, rep);
                free(snap);
            }
            lcv_trainer_free(t);
        }
    free(ref);
}

static bool file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static void check_checkpoints(const lcv_tensor *xs, const lcv_tensor *ys) {
    const char *ck = LCV_TRAIN_WORK "/trainer_test.ckpt";
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s.tmp", ck);
    remove(ck);
    rmdir(tmp);
    lcv_train_params p = e2e_params();
    p.seed = 5;
    lcv_trainer *a = make(MODEL, &p), *b = make(MODEL, &p);
    if (!a || !b) goto done;
    run_steps(a, xs, ys, 0, 2, NULL);
    lcv_trainer_set_epoch(a, 3);
    CHECK_MSG(lcv_trainer_save(a, ck) == LCV_OK, "%s", lcv_trainer_errmsg(a));
    CHECK(!file_exists(tmp));
    run_steps(a, xs, ys, 2, 4, NULL);
    CHECK_MSG(lcv_trainer_load(b, ck) == LCV_OK, "%s", lcv_trainer_errmsg(b));
    CHECK(lcv_trainer_step_count(b) == 2 && lcv_trainer_epoch(b) == 3);
    run_steps(b, xs, ys, 2, 4, NULL);
    size_t ba, bb;
    float *sa = snapshot(a, &ba), *sb = snapshot(b, &bb);
    CHECK_MSG(ba == bb && memcmp(sa, sb, ba) == 0, "resumed run differs from the continuous one");
    free(sa);
    free(sb);
    /* Inference of both (running statistics came back too). */
    lcv_tensor *xe = fx_load("e2e_eval_x");
    const lcv_tensor *la = NULL, *lb = NULL;
    float ca[15];
    if (xe && lcv_trainer_evaluate(a, xe, &la) == LCV_OK)
        memcpy(ca, lcv_tensor_cdata(la), sizeof ca);
    CHECK(xe && lcv_trainer_evaluate(b, xe, &lb) == LCV_OK && la &&
          memcmp(ca, lcv_tensor_cdata(lb), sizeof ca) == 0);
    lcv_tensor_free(xe);

    /* A failed save (the temporary path is a directory) leaves the checkpoint loadable. */
    CHECK(mkdir(tmp, 0700) == 0);
    CHECK(lcv_trainer_save(a, ck) == LCV_ERR_IO);
    CHECK(strstr(lcv_trainer_errmsg(a), ".tmp") != NULL);
    rmdir(tmp);
    CHECK(lcv_trainer_load(b, ck) == LCV_OK && lcv_trainer_step_count(b) == 2);

    /* Another model: the first differing parameter is named; nothing changes. */
    lcv_trainer *w6 = make(MODEL_W6, &p);
    if (w6) {
        size_t b0, b1;
        float *s0 = snapshot(w6, &b0);
        CHECK(lcv_trainer_load(w6, ck) == LCV_ERR_INVALID_ARG);
        CHECK_MSG(strstr(lcv_trainer_errmsg(w6), "conv1.weight") &&
                  strstr(lcv_trainer_errmsg(w6), "[4,1,3,3]"), "%s", lcv_trainer_errmsg(w6));
        float *s1 = snapshot(w6, &b1);
        CHECK(b0 == b1 && memcmp(s0, s1, b0) == 0 && lcv_trainer_step_count(w6) == 0);
        free(s0);
        free(s1);
        lcv_trainer_free(w6);
    }
    /* Another optimizer. */
    lcv_train_params pa = p;
    pa.optimizer = LCV_OPTIMIZER_ADAMW;
    lcv_trainer *ad = make(MODEL, &pa);
    CHECK(ad && lcv_trainer_load(ad, ck) == LCV_ERR_INVALID_ARG);
    CHECK(ad && strstr(lcv_trainer_errmsg(ad), "AdamW") != NULL);
    lcv_trainer_free(ad);
    /* Damaged and truncated files; not a checkpoint at all. */
    FILE *f = fopen(ck, "r+b");
    if (f) {
        fseek(f, 200, SEEK_SET);
        int c = fgetc(f);
        fseek(f, 200, SEEK_SET);
        fputc(c ^ 0x40, f);
        fclose(f);
    }
    CHECK(lcv_trainer_load(b, ck) == LCV_ERR_PARSE);
    CHECK(strstr(lcv_trainer_errmsg(b), "checksum") != NULL);
    CHECK(lcv_trainer_load(b, MODEL) == LCV_ERR_PARSE);
    CHECK(strstr(lcv_trainer_errmsg(b), "not a leancv checkpoint") != NULL);
    CHECK(lcv_trainer_load(b, LCV_TRAIN_WORK "/no_such.ckpt") == LCV_ERR_IO);
    CHECK(lcv_trainer_step_count(b) == 2); /* as the last good load left it */
done:
    remove(ck);
    lcv_trainer_free(a);
    lcv_trainer_free(b);
}

/* params.ema_decay: the parameters train exactly as without it; the exported model holds the
 * average computed here step by step (the decay capped by (1 + step) / (10 + step)), and
 * evaluates like it; a checkpoint carries the average (resuming exports the same file), and a
 * checkpoint without one is refused. */
static void check_ema(const lcv_tensor *xs, const lcv_tensor *ys) {
    const char *out = LCV_TRAIN_WORK "/trainer_ema.onnx";
    const char *out2 = LCV_TRAIN_WORK "/trainer_ema2.onnx";
    const char *ck = LCV_TRAIN_WORK "/trainer_ema.ckpt";
    const char *plain_ck = LCV_TRAIN_WORK "/trainer_noema.ckpt";
    const float decay = 0.6f;
    lcv_train_params p = e2e_params(), bad = p;
    lcv_trainer *x = NULL;
    bad.ema_decay = 1.0f;
    CHECK(lcv_trainer_create_file(MODEL, &bad, &x) == LCV_ERR_INVALID_ARG &&
          strstr(lcv_trainer_errmsg(x), "average") != NULL);
    lcv_trainer_free(x);
    lcv_trainer *plain = make(MODEL, &p);
    p.ema_decay = decay;
    lcv_trainer *a = make(MODEL, &p), *b = make(MODEL, &p), *c = NULL;
    size_t bytes = 0;
    float *avg = a ? snapshot(a, &bytes) : NULL;
    int64_t n = (int64_t)(bytes / sizeof(float));
    int steps = (int)xs->dims[0];
    if (!plain || !a || !b || !avg) goto done;
    for (int s = 0; s < steps; s++) {
        run_steps(a, xs, ys, s, s + 1, NULL);
        run_steps(plain, xs, ys, s, s + 1, NULL);
        size_t nb;
        float *w = snapshot(a, &nb);
        double warm = (2.0 + s) / (11.0 + s);
        float d = (float)(warm < decay ? warm : decay);
        for (int64_t i = 0; i < n; i++) avg[i] = d * avg[i] + (1.0f - d) * w[i];
        free(w);
    }
    size_t b0, b1, b2;
    float *wa = snapshot(a, &b0), *wp = snapshot(plain, &b1);
    CHECK_MSG(b0 == b1 && memcmp(wa, wp, b0) == 0, "the average changed the training");
    free(wp);
    CHECK_MSG(lcv_trainer_export_onnx(a, out) == LCV_OK, "%s", lcv_trainer_errmsg(a));
    c = make(out, NULL);
    float *wc = c ? snapshot(c, &b2) : NULL, worst = 0.0f, moved = 0.0f;
    for (int64_t i = 0; wc && b2 == b0 && i < n; i++) {
        float dd = fabsf(wc[i] - avg[i]), dm = fabsf(wc[i] - wa[i]);
        worst = dd > worst ? dd : worst;
        moved = dm > moved ? dm : moved;
    }
    free(wa);
    free(wc);
    if (!c) goto done;
    CHECK_MSG(worst < 1e-6f && moved > 1e-3f, "exported average: max |diff| %g from the "
              "reference, %g from the trained weights", (double)worst, (double)moved);
    lcv_tensor *xe = fx_load("e2e_eval_x");
    const lcv_tensor *la = NULL, *lc = NULL;
    float ca[15];
    if (xe && lcv_trainer_evaluate(a, xe, &la) == LCV_OK)
        memcpy(ca, lcv_tensor_cdata(la), sizeof ca);
    CHECK(xe && la && lcv_trainer_evaluate(c, xe, &lc) == LCV_OK &&
          memcmp(ca, lcv_tensor_cdata(lc), sizeof ca) == 0);
    lcv_tensor_free(xe);
    /* Weights taken from another model (--init) restart the average: exported at once, they
     * come back as they were. */
    lcv_trainer *d = make(MODEL, &p);
    CHECK(d && lcv_trainer_init_from_file(d, out, NULL) == LCV_OK &&
          lcv_trainer_export_onnx(d, out2) == LCV_OK && fx_same_files(out, out2));
    lcv_trainer_free(d);
    /* Resuming from a checkpoint with the average. */
    run_steps(b, xs, ys, 0, 2, NULL);
    CHECK_MSG(lcv_trainer_save(b, ck) == LCV_OK, "%s", lcv_trainer_errmsg(b));
    lcv_trainer_free(b);
    b = make(MODEL, &p);
    CHECK_MSG(b && lcv_trainer_load(b, ck) == LCV_OK, "%s", lcv_trainer_errmsg(b));
    if (b) run_steps(b, xs, ys, 2, steps, NULL);
    CHECK(b && lcv_trainer_export_onnx(b, out2) == LCV_OK);
    CHECK_MSG(fx_same_files(out, out2), "resumed run's average differs");
    /* A checkpoint without the average, and the average into a trainer without one. */
    CHECK(lcv_trainer_save(plain, plain_ck) == LCV_OK);
    CHECK(b && lcv_trainer_load(b, plain_ck) == LCV_ERR_INVALID_ARG &&
          strstr(lcv_trainer_errmsg(b), "averaged weights") != NULL);
    CHECK(lcv_trainer_load(plain, ck) == LCV_ERR_INVALID_ARG &&
          strstr(lcv_trainer_errmsg(plain), "averaged weights") != NULL);
done:
    remove(out);
    remove(out2);
    remove(ck);
    remove(plain_ck);
    free(avg);
    lcv_trainer_free(plain);
    lcv_trainer_free(a);
    lcv_trainer_free(b);
    lcv_trainer_free(c);
}

static void check_failures(const lcv_tensor *xs, const lcv_tensor *ys) {
    lcv_train_params p = e2e_params();
    lcv_trainer *t = make(MODEL, &p);
    if (!t) return;
    run_steps(t, xs, ys, 0, 1, NULL);
    lcv_tensor *x, *y;
    batch(xs, ys, 1, &x, &y);
    size_t b0, b1;
    float *s0 = snapshot(t, &b0);
    /* A NaN pixel: the step fails naming it, nothing changes. */
    float keep = ((float *)lcv_tensor_data(x))[5];
    ((float *)lcv_tensor_data(x))[5] = NAN;
    CHECK(lcv_trainer_step(t, x, y, NULL, NULL) == LCV_ERR_INVALID_ARG);
    CHECK_MSG(strstr(lcv_trainer_errmsg(t), "step 1") && strstr(lcv_trainer_errmsg(t), "finite"),
              "%s", lcv_trainer_errmsg(t));
    float *s1 = snapshot(t, &b1);
    CHECK(memcmp(s0, s1, b0) == 0 && lcv_trainer_step_count(t) == 1);
    free(s1);
    ((float *)lcv_tensor_data(x))[5] = keep;
    /* A label out of range. */
    ((int64_t *)lcv_tensor_data(y))[2] = 5;
    CHECK(lcv_trainer_step(t, x, y, NULL, NULL) == LCV_ERR_INVALID_ARG);
    CHECK_MSG(strstr(lcv_trainer_errmsg(t), "label 5 of sample 2"), "%s", lcv_trainer_errmsg(t));
    ((int64_t *)lcv_tensor_data(y))[2] = 1;
    /* Labels of the wrong length or type, images of the wrong shape. */
    int64_t d3[1] = {3}, bad[4] = {6, 2, 8, 8};
    lcv_tensor *y3 = NULL, *xb = NULL, *yf = NULL;
    lcv_tensor_create(LCV_DTYPE_INT64, 1, d3, &y3);
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 1, d3 /* 3 floats */, &yf);
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 4, bad, &xb);
    CHECK(lcv_trainer_step(t, x, y3, NULL, NULL) == LCV_ERR_INVALID_ARG);
    CHECK(strstr(lcv_trainer_errmsg(t), "labels") != NULL);
    CHECK(lcv_trainer_step(t, x, yf, NULL, NULL) == LCV_ERR_INVALID_ARG);
    CHECK(lcv_trainer_step(t, xb, y, NULL, NULL) == LCV_ERR_SHAPE);
    CHECK(strstr(lcv_trainer_errmsg(t), "image") != NULL);
    CHECK(lcv_trainer_step(t, NULL, y, NULL, NULL) == LCV_ERR_INVALID_ARG);
    s1 = snapshot(t, &b1);
    CHECK(memcmp(s0, s1, b0) == 0 && lcv_trainer_step_count(t) == 1);
    free(s1);
    /* Distillation: teacher shape checked; a step runs and gives a finite loss. */
    int64_t td[2] = {6, 5}, tw[2] = {6, 4};
    lcv_tensor *teacher = NULL, *tbad = NULL;
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 2, td, &teacher);
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 2, tw, &tbad);
    for (int i = 0; i < 30; i++) ((float *)lcv_tensor_data(teacher))[i] = (float)(i % 7) * 0.3f;
    CHECK(lcv_trainer_step_distill(t, x, y, tbad, NULL, NULL) == LCV_ERR_INVALID_ARG);
    CHECK(lcv_trainer_step_distill(t, x, y, NULL, NULL, NULL) == LCV_ERR_INVALID_ARG);
    float loss = NAN;
    int64_t correct = -1;
    CHECK_MSG(lcv_trainer_step_distill(t, x, y, teacher, &loss, &correct) == LCV_OK, "%s",
              lcv_trainer_errmsg(t));
    CHECK(isfinite(loss) && loss > 0 && correct >= 0 && lcv_trainer_step_count(t) == 2);
    lcv_tensor_free(teacher);
    lcv_tensor_free(tbad);
    lcv_tensor_free(y3);
    lcv_tensor_free(yf);
    lcv_tensor_free(xb);
    lcv_tensor_free(x);
    lcv_tensor_free(y);
    free(s0);
    lcv_trainer_free(t);

    /* Creation errors: bad parameters, missing or malformed model. */
    lcv_train_params bp = lcv_train_default_params();
    bp.lr = -1;
    lcv_trainer *bt = NULL;
    CHECK(lcv_trainer_create_file(MODEL, &bp, &bt) == LCV_ERR_INVALID_ARG);
    CHECK(bt && strstr(lcv_trainer_errmsg(bt), "learning rate") != NULL);
    CHECK(lcv_trainer_step(bt, NULL, NULL, NULL, NULL) == LCV_ERR_INVALID_ARG);
    lcv_trainer_free(bt);
    CHECK(lcv_trainer_create_file(LCV_TRAIN_WORK "/missing.onnx", NULL, &bt) == LCV_ERR_IO);
    lcv_trainer_free(bt);
    CHECK(lcv_trainer_create_buffer("garbage!", 8, NULL, &bt) == LCV_ERR_PARSE);
    lcv_trainer_free(bt);
    CHECK(lcv_trainer_create_file(MODEL, NULL, NULL) == LCV_ERR_INVALID_ARG);
    lcv_trainer_free(NULL);
}

static void check_schedule(void) {
    lcv_train_params p = lcv_train_default_params();
    p.lr = 0.4f;
    p.warmup_steps = 4;
    lcv_trainer *t = make(MODEL, &p);
    if (!t) return;
    CHECK_NEAR(lcv_trainer_lr(t), 0.1, 1e-7);
    lcv_trainer_free(t);
}

int main(void) {
    lcv_tensor *xs = fx_load("e2e_x"), *ys = fx_load("e2e_y");
    if (xs && ys) {
        check_pytorch(xs, ys);
        check_determinism(xs, ys);
        check_checkpoints(xs, ys);
        check_failures(xs, ys);
        check_ema(xs, ys);
    }
    check_schedule();
    lcv_tensor_free(xs);
    lcv_tensor_free(ys);
    return lcv_test_finish("train_trainer");
}
