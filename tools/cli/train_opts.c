/* train_opts.c - the training options and helpers shared by `leancv train` and `leancv
 * distill` (train_opts.h): parsing, loaders, creating trainers from files or architectures,
 * validation and the progress line, so both commands behave and read alike. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_util.h"
#include "leancv_build.h"
#include "leancv_detect.h"
#include "train_opts.h"

#define ERRCAP 512

void train_opts_init(train_opts *o) {
    memset(o, 0, sizeof *o);
    o->p = lcv_train_default_params();
    o->epochs = 1;
    o->batch = 64;
    o->std = 1.0f;
}

const char *train_opts_help(void) {
    return "  --data SPEC            training set\n"
           "  --val SPEC             validation set: accuracy after every epoch\n"
           "  --epochs N             default 1\n"
           "  --batch N              default 64 (a final partial batch is dropped)\n"
           "  --limit N              use only the first N training samples\n"
           "  --val-limit N          use only the first N validation samples\n"
           "  --opt sgd|adamw        default sgd\n"
           "  --lr X                 peak learning rate (default 0.05)\n"
           "  --momentum X           SGD momentum (default 0.9)\n"
           "  --nesterov             SGD with Nesterov momentum\n"
           "  --wd X                 weight decay (default 0; not on 1-D parameters)\n"
           "  --schedule const|step|cosine   learning-rate schedule (default const)\n"
           "  --warmup N             linear warm-up steps (default 0)\n"
           "  --step-size N --gamma X   step schedule: multiply by X every N steps\n"
           "                         (default: every epoch, by 0.1)\n"
           "  --min-lr X             cosine: final rate (default 0)\n"
           "  --label-smoothing X    default 0\n"
           "  --clip X               clip gradients to global norm X (default off)\n"
           "  --ema X                validate and export a moving average of the weights,\n"
           "                         decay X per step, e.g. 0.999 (default 0: off)\n"
           "  --pad-crop N           augment: random crop after zero-padding by N\n"
           "  --hflip                augment: random horizontal flips\n"
           "  --mean X / --std X     normalisation after scaling pixels to [0, 1] (0 / 1)\n"
           "  --seed N               shuffling, augmentation and dropout (default 0)\n"
           "  --threads N            worker threads (default 1)\n"
           "  --checkpoint FILE      save a checkpoint after every epoch\n"
           "  --resume CKPT          continue from a checkpoint (same model and options)\n"
           "  --init MODEL.onnx      start from MODEL's weights where name, type and shape\n"
           "                         agree (e.g. the same arch trained on smaller images)\n"
           "  --out FILE             write the trained model as ONNX\n";
}

static int parse_choice(const char *cmd, const char *opt, const char *v,
                        const char *const *names, int n, int *out) {
    for (int i = 0; i < n; i++)
        if (strcmp(v, names[i]) == 0) {
            *out = i;
            return 0;
        }
    return cli_fail(cmd, "%s '%s' is not one of the choices (see leancv %s --help)", opt, v, cmd);
}

/* Numeric options: name, target, range. */
static int parse_number(const char *cmd, const char *a, const char *v, train_opts *o,
                        bool *handled) {
    struct {
        const char *name;
        long *target;
        long lo, hi;
    } ints[] = {{"--epochs", &o->epochs, 1, 100000},   {"--batch", &o->batch, 1, 65536},
                {"--limit", &o->limit, 1, 1L << 40},   {"--val-limit", &o->val_limit, 1, 1L << 40},
                {"--pad-crop", &o->pad_crop, 1, 1024}, {"--step-size", &o->step_size, 1, 1L << 40}};
    struct {
        const char *name;
        float *target;
    } floats[] = {{"--lr", &o->p.lr},        {"--momentum", &o->p.momentum},
                  {"--wd", &o->p.weight_decay}, {"--gamma", &o->p.gamma},
                  {"--min-lr", &o->p.min_lr},   {"--label-smoothing", &o->p.label_smoothing},
                  {"--clip", &o->p.clip_norm},  {"--ema", &o->p.ema_decay},
                  {"--mean", &o->mean},
                  {"--std", &o->std}};
    *handled = true;
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (strcmp(a, ints[i].name) == 0) {
            if (!cli_parse_int(v, ints[i].lo, ints[i].hi, ints[i].target))
                return cli_fail(cmd, "%s '%s' is not an integer in %ld..%ld", a, v, ints[i].lo,
                                ints[i].hi);
            if (ints[i].target == &o->step_size) o->set_step_size = true;
            return 0;
        }
    for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++)
        if (strcmp(a, floats[i].name) == 0) {
            if (!cli_parse_float(v, floats[i].target))
                return cli_fail(cmd, "%s '%s' is not a number", a, v);
            if (floats[i].target == &o->std && o->std == 0.0f)
                return cli_fail(cmd, "--std must not be 0");
            return 0;
        }
    long n;
    if (strcmp(a, "--warmup") == 0 || strcmp(a, "--seed") == 0 || strcmp(a, "--threads") == 0) {
        long hi = strcmp(a, "--threads") == 0 ? 1024
                  : strcmp(a, "--seed") == 0  ? 0x7fffffffffffffffL
                                              : 1L << 40;
        long lo = strcmp(a, "--threads") == 0 ? 1 : 0;
        if (!cli_parse_int(v, lo, hi, &n))
            return cli_fail(cmd, "%s '%s' is not an integer in %ld..%ld", a, v, lo, hi);
        if (a[2] == 'w') o->p.warmup_steps = n;
        else if (a[2] == 's') o->p.seed = (uint64_t)n;
        else o->p.threads = (int)n;
        return 0;
    }
    *handled = false;
    return 0;
}

int train_opts_parse(const char *cmd, int argc, char **argv, int *i, train_opts *o) {
    static const char *const opts_names[] = {"sgd", "adamw"};
    static const char *const sched_names[] = {"const", "step", "cosine"};
    const char *a = argv[*i], *v;
    if (strcmp(a, "--nesterov") == 0) {
        o->p.nesterov = 1;
        return 0;
    }
    if (strcmp(a, "--hflip") == 0) {
        o->hflip = true;
        return 0;
    }
    const char **s = strcmp(a, "--data") == 0         ? &o->data
                     : strcmp(a, "--val") == 0        ? &o->val
                     : strcmp(a, "--out") == 0        ? &o->out
                     : strcmp(a, "--checkpoint") == 0 ? &o->checkpoint
                     : strcmp(a, "--resume") == 0     ? &o->resume
                     : strcmp(a, "--init") == 0       ? &o->init
                                                      : NULL;
    bool known = s || strcmp(a, "--opt") == 0 || strcmp(a, "--schedule") == 0;
    if (!known) {
        /* numeric options: find out without consuming a value first */
        bool handled;
        train_opts probe = *o;
        parse_number(cmd, a, "1", &probe, &handled);
        if (!handled) return -1;
    }
    if (!(v = cli_value(cmd, argc, argv, i))) return 1;
    int choice = 0;
    if (s) {
        *s = v;
    } else if (strcmp(a, "--opt") == 0) {
        if (parse_choice(cmd, a, v, opts_names, 2, &choice)) return 1;
        o->p.optimizer = (lcv_optimizer)choice;
    } else if (strcmp(a, "--schedule") == 0) {
        if (parse_choice(cmd, a, v, sched_names, 3, &choice)) return 1;
        o->p.schedule = (lcv_lr_schedule)choice;
    } else {
        bool handled;
        return parse_number(cmd, a, v, o, &handled);
    }
    return 0;
}

void train_opts_finish(train_opts *o, int64_t nb) {
    o->p.total_steps = (int64_t)o->epochs * nb;
    if (!o->set_step_size) o->step_size = (long)nb;
    o->p.step_size = o->step_size;
}

int train_open_loader(const char *cmd, const char *spec, long limit, const train_opts *o,
                      bool train, lcv_dataset **ds, lcv_loader **ld) {
    char err[ERRCAP];
    lcv_dataset_params dp = lcv_dataset_default_params();
    dp.limit = limit;
    if (lcv_dataset_open(spec, &dp, ds, err, sizeof err) != LCV_OK)
        return cli_fail(cmd, "%s", err);
    lcv_loader_params lp = lcv_loader_default_params();
    lp.batch = (int)o->batch;
    lp.shuffle = train;
    lp.drop_last = train;
    lp.seed = o->p.seed;
    if (train) {
        lp.pad_crop = (int)o->pad_crop;
        lp.hflip = o->hflip;
    }
    for (int c = 0; c < 3; c++) {
        lp.mean[c] = o->mean;
        lp.std[c] = o->std;
    }
    if (lcv_loader_create(*ds, &lp, ld, err, sizeof err) != LCV_OK) return cli_fail(cmd, "%s", err);
    if (train && lcv_loader_batches(*ld) < 1)
        return cli_fail(cmd, "the training set has %lld samples, fewer than one batch of %ld",
                        (long long)lcv_dataset_count(*ds), o->batch);
    return 0;
}

int train_create(const char *cmd, const char *model, const lcv_train_params *p, uint64_t seed,
                 const char *init, const lcv_dataset *ds, lcv_trainer **t) {
    lcv_status st;
    if (strncmp(model, "arch:", 5) != 0 && access(model, F_OK) == 0) {
        st = lcv_trainer_create_file(model, p, t);
    } else {
        int64_t shape[3];
        lcv_dataset_shape(ds, shape);
        int classes = lcv_dataset_classes(ds);
        void *data;
        size_t size;
        char err[ERRCAP];
        if (lcv_build_arch(model, (int)shape[0], (int)shape[1], (int)shape[2], classes, seed,
                           &data, &size, err, sizeof err) != LCV_OK)
            return cli_fail(cmd, "%s%s", strncmp(model, "arch:", 5) == 0 ? "" :
                            "no such model file, and not an architecture: ", err);
        printf("built %s for %lldx%lldx%lld images and %d classes\n", model, (long long)shape[0],
               (long long)shape[1], (long long)shape[2], classes);
        st = lcv_trainer_create_buffer(data, size, p, t);
        lcv_build_free_buffer(data);
    }
    int taken = 0;
    if (st == LCV_OK && init) st = lcv_trainer_init_from_file(*t, init, &taken);
    if (st != LCV_OK) return cli_fail(cmd, "%s", *t ? lcv_trainer_errmsg(*t) : "out of memory");
    if (init)
        printf("initialised %d tensors (parameters and running statistics) from %s\n", taken,
               init);
    return 0;
}

/* One validation batch of per-pixel logits lg [n, k, h, w] against label maps y [n, h, w]:
 * argmax and truth into the confusion matrix (k x k). pred, truth: n * h * w bytes. */
static int seg_batch(const char *cmd, const lcv_tensor *lg, const lcv_tensor *y, int64_t *matrix,
                     uint8_t **buf, int64_t *cap) {
    int64_t n = lcv_tensor_dim(lg, 0), k = lcv_tensor_dim(lg, 1);
    int64_t hw = lcv_tensor_dim(lg, 2) * lcv_tensor_dim(lg, 3);
    if (lcv_tensor_ndim(y) != 3 || lcv_tensor_dim(y, 1) * lcv_tensor_dim(y, 2) != hw ||
        lcv_tensor_dim(y, 1) != lcv_tensor_dim(lg, 2))
        return cli_fail(cmd, "validation: per-pixel logits [%lld, %lld, %lld, %lld] need label "
                        "maps of %lld x %lld", (long long)n, (long long)k,
                        (long long)lcv_tensor_dim(lg, 2), (long long)lcv_tensor_dim(lg, 3),
                        (long long)lcv_tensor_dim(lg, 2), (long long)lcv_tensor_dim(lg, 3));
    if (2 * n * hw > *cap) {
        uint8_t *nb = realloc(*buf, (size_t)(2 * n * hw));
        if (!nb) return cli_fail(cmd, "validation: out of memory");
        *buf = nb;
        *cap = 2 * n * hw;
    }
    uint8_t *pred = *buf, *truth = *buf + n * hw;
    const float *p = lcv_tensor_cdata(lg);
    const int64_t *lab = lcv_tensor_cdata(y);
    for (int64_t i = 0; i < n; i++)
        for (int64_t q = 0; q < hw; q++) {
            const float *v = p + i * k * hw + q;
            int64_t arg = 0, l = lab[i * hw + q];
            for (int64_t j = 1; j < k; j++)
                if (v[j * hw] > v[arg * hw]) arg = j;
            if (l < 0 || l >= k)
                return cli_fail(cmd, "validation: label %lld at pixel %lld of an image is outside "
                                "the model's %lld classes", (long long)l, (long long)q,
                                (long long)k);
            pred[i * hw + q] = (uint8_t)arg;
            truth[i * hw + q] = (uint8_t)l;
        }
    char err[ERRCAP];
    if (lcv_confusion_add(matrix, (int)k, pred, truth, n * hw, -1, err, sizeof err) != LCV_OK)
        return cli_fail(cmd, "validation: %s", err);
    return 0;
}

int train_validate(const char *cmd, lcv_trainer *t, lcv_loader *ld, double *acc) {
    return train_validate_miou(cmd, t, ld, acc, NULL);
}

int train_val_next(const char *cmd, lcv_trainer *t, lcv_loader *ld, const lcv_tensor **x,
                   const lcv_tensor **y, const lcv_tensor **out) {
    char err[ERRCAP];
    if (lcv_loader_next(ld, x, y, err, sizeof err) != LCV_OK) return -cli_fail(cmd, "%s", err);
    if (!*x) return 0;
    if (lcv_trainer_evaluate(t, *x, out) != LCV_OK)
        return -cli_fail(cmd, "validation: %s", lcv_trainer_errmsg(t));
    return 1;
}

int train_validate_miou(const char *cmd, lcv_trainer *t, lcv_loader *ld, double *acc,
                        double *miou) {
    char err[ERRCAP];
    int64_t seen = 0, correct = 0, *matrix = NULL, cap = 0;
    uint8_t *buf = NULL;
    int classes = 0, rc = 0;
    if (miou) *miou = -1.0;
    if (lcv_loader_start_epoch(ld, 0) != LCV_OK) return cli_fail(cmd, "validation loader failed");
    for (;;) {
        const lcv_tensor *x, *y, *lg;
        int got = train_val_next(cmd, t, ld, &x, &y, &lg);
        if (got <= 0) {
            rc = got < 0;
            break;
        }
        if (lcv_tensor_ndim(lg) == 4) { /* segmentation: pixels into a confusion matrix */
            int64_t k = lcv_tensor_dim(lg, 1);
            if (!matrix) {
                classes = (int)k;
                matrix = k <= 256 ? calloc((size_t)(k * k), sizeof *matrix) : NULL;
                if (!matrix) {
                    rc = cli_fail(cmd, "validation: %lld classes (mIoU takes up to 256)",
                                  (long long)k);
                    break;
                }
            }
            if ((rc = seg_batch(cmd, lg, y, matrix, &buf, &cap))) break;
            continue;
        }
        int64_t n = lcv_tensor_dim(x, 0), k = lcv_tensor_dim(lg, 1);
        const float *p = lcv_tensor_cdata(lg);
        const int64_t *lab = lcv_tensor_cdata(y);
        for (int64_t i = 0; i < n; i++) {
            int64_t arg = 0;
            for (int64_t j = 1; j < k; j++)
                if (p[i * k + j] > p[i * k + arg]) arg = j;
            correct += arg == lab[i];
        }
        seen += n;
    }
    if (!rc && matrix) {
        lcv_miou_result r;
        if (lcv_miou(matrix, classes, NULL, &r, err, sizeof err) != LCV_OK) {
            rc = cli_fail(cmd, "validation: %s", err);
        } else {
            for (int c = 0; c < classes; c++) correct += matrix[c * classes + c];
            seen = r.pixels;
            if (miou) *miou = r.miou;
        }
    }
    free(matrix);
    free(buf);
    *acc = seen ? 100.0 * (double)correct / (double)seen : 0.0;
    return rc;
}

void train_fmt_time(double s, char *buf, size_t cap) {
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, cap, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else snprintf(buf, cap, "%ldm%02lds", t / 60, t % 60);
}

void train_progress_start(train_progress *pr, int64_t steps_total) {
    pr->t0 = cli_now();
    pr->last_print = 0.0;
    pr->steps_done = 0;
    pr->steps_total = steps_total;
    pr->tty = isatty(2) == 1;
}

void train_progress_print(train_progress *pr, const train_opts *o, int64_t epoch, int64_t b,
                          int64_t nb, double loss, double acc, bool final) {
    double now = cli_now(), el = now - pr->t0;
    if (!final && now - pr->last_print < (pr->tty ? 0.25 : 2.0)) return;
    pr->last_print = now;
    double rate = el > 0 ? (double)(pr->steps_done * o->batch) / el : 0.0;
    double eta = pr->steps_done > 0 ? el / (double)pr->steps_done *
                                          (double)(pr->steps_total - pr->steps_done)
                                    : 0.0;
    char eta_s[32];
    train_fmt_time(eta, eta_s, sizeof eta_s);
    char acc_s[32] = "";
    if (acc >= 0) snprintf(acc_s, sizeof acc_s, " acc %.2f%%", acc);
    fprintf(stderr, "%sepoch %lld/%ld step %lld/%lld loss %.4f%s %.0f img/s ETA %s%s",
            pr->tty ? "\r" : "", (long long)epoch + 1, o->epochs, (long long)b, (long long)nb,
            loss, acc_s, rate, eta_s, pr->tty && !final ? "   " : "\n");
    fflush(stderr);
}
