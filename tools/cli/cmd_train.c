/* cmd_train.c - `leancv train`: trains an ONNX classifier on a labelled data set
 * (include/leancv_data.h loaders, include/leancv_train.h trainer) for some epochs, printing a
 * progress line on stderr and per-epoch results on stdout, validating and checkpointing every
 * epoch, resuming from a checkpoint exactly, and writing the trained model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_util.h"
#include "leancv_data.h"
#include "leancv_train.h"

#define CMD "train"
#define ERRCAP 512

static void help(void) {
    printf("usage: leancv train MODEL.onnx --data SPEC [options]\n\n"
           "Trains the classifier MODEL.onnx (first input: images [N, C, H, W]; first output:\n"
           "logits [N, classes]) with softmax cross-entropy, starting from its initializers.\n"
           "SPEC is idx:IMAGES,LABELS (gzip'd or plain), npy:X.npy,Y.npy or folder:DIR.\n\n"
           "  --data SPEC            training set\n"
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
           "  --pad-crop N           augment: random crop after zero-padding by N\n"
           "  --hflip                augment: random horizontal flips\n"
           "  --mean X / --std X     normalisation after scaling pixels to [0, 1] (0 / 1)\n"
           "  --seed N               shuffling, augmentation and dropout (default 0)\n"
           "  --threads N            worker threads (default 1)\n"
           "  --checkpoint FILE      save a checkpoint after every epoch\n"
           "  --resume CKPT          continue from a checkpoint (same model and options)\n"
           "  --out FILE             write the trained model as ONNX\n"
           "Same data, options, seed and thread count give bit-identical weights, also across\n"
           "--checkpoint / --resume.\n");
}

typedef struct train_opts {
    const char *model, *data, *val, *out, *checkpoint, *resume;
    long epochs, batch, limit, val_limit, pad_crop, step_size;
    bool hflip, set_step_size;
    float mean, std;
    lcv_train_params p;
} train_opts;

static int parse_choice(const char *opt, const char *v, const char *const *names, int n, int *out) {
    for (int i = 0; i < n; i++)
        if (strcmp(v, names[i]) == 0) {
            *out = i;
            return 0;
        }
    return cli_fail(CMD, "%s '%s' is not one of the choices (see leancv train --help)", opt, v);
}

/* Numeric options: name, target, range. */
static int parse_number(const char *a, const char *v, train_opts *o, bool *handled) {
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
                  {"--clip", &o->p.clip_norm},  {"--mean", &o->mean},
                  {"--std", &o->std}};
    *handled = true;
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (strcmp(a, ints[i].name) == 0) {
            if (!cli_parse_int(v, ints[i].lo, ints[i].hi, ints[i].target))
                return cli_fail(CMD, "%s '%s' is not an integer in %ld..%ld", a, v, ints[i].lo,
                                ints[i].hi);
            if (ints[i].target == &o->step_size) o->set_step_size = true;
            return 0;
        }
    for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++)
        if (strcmp(a, floats[i].name) == 0) {
            if (!cli_parse_float(v, floats[i].target))
                return cli_fail(CMD, "%s '%s' is not a number", a, v);
            if (floats[i].target == &o->std && o->std == 0.0f)
                return cli_fail(CMD, "--std must not be 0");
            return 0;
        }
    long n;
    if (strcmp(a, "--warmup") == 0 || strcmp(a, "--seed") == 0 || strcmp(a, "--threads") == 0) {
        long hi = strcmp(a, "--threads") == 0 ? 1024
                  : strcmp(a, "--seed") == 0  ? 0x7fffffffffffffffL
                                              : 1L << 40;
        long lo = strcmp(a, "--threads") == 0 ? 1 : 0;
        if (!cli_parse_int(v, lo, hi, &n))
            return cli_fail(CMD, "%s '%s' is not an integer in %ld..%ld", a, v, lo, hi);
        if (a[2] == 'w') o->p.warmup_steps = n;
        else if (a[2] == 's') o->p.seed = (uint64_t)n;
        else o->p.threads = (int)n;
        return 0;
    }
    *handled = false;
    return 0;
}

static int parse_args(int argc, char **argv, train_opts *o, bool *done) {
    memset(o, 0, sizeof *o);
    o->p = lcv_train_default_params();
    o->epochs = 1;
    o->batch = 64;
    o->std = 1.0f;
    *done = false;
    static const char *const opts_names[] = {"sgd", "adamw"};
    static const char *const sched_names[] = {"const", "step", "cosine"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            help();
            *done = true;
            return 0;
        }
        if (strcmp(a, "--nesterov") == 0) {
            o->p.nesterov = 1;
            continue;
        }
        if (strcmp(a, "--hflip") == 0) {
            o->hflip = true;
            continue;
        }
        if (a[0] == '-' && a[1] != '\0') {
            if (!(v = cli_value(CMD, argc, argv, &i))) return 1;
            bool handled;
            int rc = parse_number(a, v, o, &handled);
            if (rc || handled) {
                if (rc) return rc;
                continue;
            }
            const char **s = strcmp(a, "--data") == 0         ? &o->data
                             : strcmp(a, "--val") == 0        ? &o->val
                             : strcmp(a, "--out") == 0        ? &o->out
                             : strcmp(a, "--checkpoint") == 0 ? &o->checkpoint
                             : strcmp(a, "--resume") == 0     ? &o->resume
                                                              : NULL;
            int choice = 0;
            if (s) {
                *s = v;
            } else if (strcmp(a, "--opt") == 0) {
                if (parse_choice(a, v, opts_names, 2, &choice)) return 1;
                o->p.optimizer = (lcv_optimizer)choice;
            } else if (strcmp(a, "--schedule") == 0) {
                if (parse_choice(a, v, sched_names, 3, &choice)) return 1;
                o->p.schedule = (lcv_lr_schedule)choice;
            } else {
                return cli_fail(CMD, "unknown option '%s' (see leancv train --help)", a);
            }
        } else if (o->model) {
            return cli_fail(CMD, "unexpected argument '%s'", a);
        } else {
            o->model = a;
        }
    }
    if (!o->model) return cli_fail(CMD, "no model given (see leancv train --help)");
    if (!o->data) return cli_fail(CMD, "no training data given (--data SPEC)");
    return 0;
}

static int open_loader(const char *spec, long limit, const train_opts *o, bool train,
                       lcv_dataset **ds, lcv_loader **ld) {
    char err[ERRCAP];
    lcv_dataset_params dp = lcv_dataset_default_params();
    dp.limit = limit;
    if (lcv_dataset_open(spec, &dp, ds, err, sizeof err) != LCV_OK)
        return cli_fail(CMD, "%s", err);
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
    if (lcv_loader_create(*ds, &lp, ld, err, sizeof err) != LCV_OK) return cli_fail(CMD, "%s", err);
    if (train && lcv_loader_batches(*ld) < 1)
        return cli_fail(CMD, "the training set has %lld samples, fewer than one batch of %ld",
                        (long long)lcv_dataset_count(*ds), o->batch);
    return 0;
}

static void fmt_time(double s, char *buf, size_t cap) {
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, cap, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else snprintf(buf, cap, "%ldm%02lds", t / 60, t % 60);
}

/* Accuracy of the current model on a validation loader. */
static int validate(lcv_trainer *t, lcv_loader *ld, double *acc) {
    char err[ERRCAP];
    int64_t seen = 0, correct = 0;
    if (lcv_loader_start_epoch(ld, 0) != LCV_OK) return cli_fail(CMD, "validation loader failed");
    for (;;) {
        const lcv_tensor *x, *y;
        if (lcv_loader_next(ld, &x, &y, err, sizeof err) != LCV_OK) return cli_fail(CMD, "%s", err);
        if (!x) break;
        const lcv_tensor *lg;
        if (lcv_trainer_evaluate(t, x, &lg) != LCV_OK)
            return cli_fail(CMD, "validation: %s", lcv_trainer_errmsg(t));
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
    *acc = seen ? 100.0 * (double)correct / (double)seen : 0.0;
    return 0;
}

typedef struct run_state {
    double t0, last_print;
    int64_t steps_done, steps_total; /* in this run */
    bool tty;
} run_state;

static void progress(run_state *rs, const train_opts *o, int64_t epoch, int64_t b, int64_t nb,
                     double loss, double acc, bool final) {
    double now = cli_now(), el = now - rs->t0;
    if (!final && now - rs->last_print < (rs->tty ? 0.25 : 2.0)) return;
    rs->last_print = now;
    double rate = el > 0 ? (double)(rs->steps_done * o->batch) / el : 0.0;
    double eta = rs->steps_done > 0 ? el / (double)rs->steps_done *
                                          (double)(rs->steps_total - rs->steps_done)
                                    : 0.0;
    char eta_s[32];
    fmt_time(eta, eta_s, sizeof eta_s);
    fprintf(stderr, "%sepoch %lld/%ld step %lld/%lld loss %.4f acc %.2f%% %.0f img/s ETA %s%s",
            rs->tty ? "\r" : "", (long long)epoch + 1, o->epochs, (long long)b, (long long)nb,
            loss, acc, rate, eta_s, rs->tty && !final ? "   " : "\n");
    fflush(stderr);
}

static int train_loop(const train_opts *o, lcv_trainer *t, lcv_loader *tr, lcv_loader *va) {
    char err[ERRCAP];
    int64_t nb = lcv_loader_batches(tr), first = lcv_trainer_epoch(t);
    run_state rs = {cli_now(), 0.0, 0, ((int64_t)o->epochs - first) * nb, isatty(2) == 1};
    if (first >= o->epochs)
        printf("the checkpoint has %lld epochs already; nothing to train\n", (long long)first);
    for (int64_t e = first; e < o->epochs; e++) {
        if (lcv_loader_start_epoch(tr, e) != LCV_OK) return cli_fail(CMD, "loader failed");
        double loss_sum = 0.0, t_epoch = cli_now();
        int64_t correct = 0, seen = 0, b = 0;
        for (;;) {
            const lcv_tensor *x, *y;
            if (lcv_loader_next(tr, &x, &y, err, sizeof err) != LCV_OK)
                return cli_fail(CMD, "%s", err);
            if (!x) break;
            float loss;
            int64_t ok;
            if (lcv_trainer_step(t, x, y, &loss, &ok) != LCV_OK) {
                if (!rs.tty || rs.steps_done == 0) fputc('\n', stderr);
                return cli_fail(CMD, "epoch %lld: %s%s", (long long)e + 1, lcv_trainer_errmsg(t),
                                o->checkpoint ? " (the last checkpoint is kept)" : "");
            }
            int64_t n = lcv_tensor_dim(x, 0);
            loss_sum += (double)loss * (double)n;
            correct += ok;
            seen += n;
            b++;
            rs.steps_done++;
            progress(&rs, o, e, b, nb, loss_sum / (double)seen,
                     100.0 * (double)correct / (double)seen, b == nb);
        }
        double val = -1.0;
        if (va && validate(t, va, &val)) return 1;
        lcv_trainer_set_epoch(t, e + 1);
        printf("epoch %lld/%ld: loss %.4f train accuracy %.2f%%", (long long)e + 1, o->epochs,
               seen ? loss_sum / (double)seen : 0.0,
               seen ? 100.0 * (double)correct / (double)seen : 0.0);
        if (val >= 0) printf(" val accuracy %.2f%%", val);
        printf(" (%.1f s)\n", cli_now() - t_epoch);
        fflush(stdout);
        if (o->checkpoint && lcv_trainer_save(t, o->checkpoint) != LCV_OK)
            return cli_fail(CMD, "%s", lcv_trainer_errmsg(t));
    }
    double el = cli_now() - rs.t0;
    printf("trained %lld steps in %.1f s (%.0f images/s)\n", (long long)rs.steps_done, el,
           el > 0 ? (double)(rs.steps_done * o->batch) / el : 0.0);
    return 0;
}

int cmd_train(int argc, char **argv) {
    train_opts o;
    bool done;
    int rc = parse_args(argc, argv, &o, &done);
    if (rc || done) return rc;
    lcv_dataset *ds = NULL, *vds = NULL;
    lcv_loader *tr = NULL, *va = NULL;
    lcv_trainer *t = NULL;
    rc = open_loader(o.data, o.limit, &o, true, &ds, &tr);
    if (!rc && o.val) rc = open_loader(o.val, o.val_limit, &o, false, &vds, &va);
    if (!rc) {
        int64_t nb = lcv_loader_batches(tr);
        o.p.total_steps = (int64_t)o.epochs * nb;
        if (!o.set_step_size) o.step_size = (long)nb;
        o.p.step_size = o.step_size;
        if (lcv_trainer_create_file(o.model, &o.p, &t) != LCV_OK)
            rc = cli_fail(CMD, "%s", t ? lcv_trainer_errmsg(t) : "out of memory");
    }
    if (!rc && o.resume && lcv_trainer_load(t, o.resume) != LCV_OK)
        rc = cli_fail(CMD, "%s", lcv_trainer_errmsg(t));
    if (!rc) {
        printf("model: %s (%lld parameters in %d tensors)\ndata: %s (%lld samples, %lld batches "
               "of %ld)\n", o.model, (long long)lcv_trainer_param_count(t),
               lcv_trainer_param_tensors(t), o.data, (long long)lcv_dataset_count(ds),
               (long long)lcv_loader_batches(tr), o.batch);
        if (o.resume)
            printf("resumed from %s at epoch %lld, step %lld\n", o.resume,
                   (long long)lcv_trainer_epoch(t), (long long)lcv_trainer_step_count(t));
        rc = train_loop(&o, t, tr, va);
    }
    if (!rc && o.out) {
        if (lcv_trainer_export_onnx(t, o.out) != LCV_OK)
            rc = cli_fail(CMD, "%s", lcv_trainer_errmsg(t));
        else
            printf("wrote %s\n", o.out);
    }
    lcv_trainer_free(t);
    lcv_loader_free(tr);
    lcv_loader_free(va);
    lcv_dataset_free(ds);
    lcv_dataset_free(vds);
    return rc;
}
