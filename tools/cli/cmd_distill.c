/* cmd_distill.c - `leancv distill`: trains a student classifier with knowledge distillation
 * (include/leancv_train.h lcv_distill_spec): the teacher runs in an lcv_session on every batch
 * and its logits or features feed the student's losses; deep mutual learning trains two
 * students together; self-distillation needs no teacher. Options and output follow `leancv
 * train` (shared through train_opts.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "train_opts.h"

#define CMD "distill"
#define ERRCAP 512
#define MAX_TERMS 16

static void help(void) {
    printf("usage: leancv distill --student S.onnx|ARCH --data SPEC [--teacher T.onnx]\n"
           "                      [--mode MODE] [distillation options] [training options]\n\n"
           "Trains the student with a distillation loss (docs/DISTILLATION.md). The teacher\n"
           "runs on every batch; its first output is its logits, and the values named by\n"
           "--hint must be outputs of the teacher model. MODE (default hinton):\n"
           "  ce        cross-entropy only (a baseline; no teacher)\n"
           "  hinton    soft targets: alpha T^2 KL(teacher/T || student/T) + (1-alpha) CE\n"
           "  fitnets   hints: student value -> trainable 1x1 conv -> MSE to the teacher value\n"
           "  at        attention transfer between feature maps of equal spatial size\n"
           "  rkd       relational KD (distance 25, angle 50) on the embedding pair --hint\n"
           "  dml       deep mutual learning of the student and --peer (no teacher)\n"
           "  self      the student's output 0 teaches its other outputs (exits); no teacher\n\n"
           "  --teacher FILE         the teacher model (hinton, fitnets, at, rkd)\n"
           "  --student MODEL        ONNX file or architecture (see leancv train --help)\n"
           "  --hint S_VALUE:T_VALUE feature pair (fitnets, at: repeatable; rkd: one)\n"
           "  --exit NAME            self: a shallower exit (default: every output but 0)\n"
           "  --peer MODEL           dml: the second student (default: the student's\n"
           "                         architecture with seed + 1)\n"
           "  --peer-out FILE        dml: write the trained peer as ONNX\n"
           "  --T X                  temperature (hinton 4, self 3, dml 1)\n"
           "  --alpha X              KD weight; cross-entropy gets 1 - alpha (hinton 0.5,\n"
           "                         self 0.3)\n"
           "  --beta X               attention transfer beta (1000)\n"
           "  --hint-weight X        fitnets MSE weight (1)\n"
           "  --rkd-distance X --rkd-angle X   rkd weights (25, 50)\n"
           "  --ce-weight X          cross-entropy weight for ce/fitnets/at/rkd/dml (1)\n"
           "training options (as leancv train):\n%s"
           "dml saves checkpoints FILE and FILE.peer and resumes from both.\n",
           train_opts_help());
}

typedef struct distill_opts {
    train_opts t; /* t.model: the student */
    const char *teacher, *peer, *peer_out;
    lcv_distill_spec spec;
    lcv_distill_pair pairs[MAX_TERMS];
    const char *exits[MAX_TERMS];
    float alpha;
    bool set_alpha, set_t, set_ce;
} distill_opts;

static int parse_mode(const char *v, lcv_distill_mode *m) {
    for (int i = 0; lcv_distill_mode_name((lcv_distill_mode)i); i++)
        if (strcmp(v, lcv_distill_mode_name((lcv_distill_mode)i)) == 0) {
            *m = (lcv_distill_mode)i;
            return 0;
        }
    return cli_fail(CMD, "--mode '%s' is not one of ce, hinton, fitnets, at, rkd, dml, self", v);
}

/* Distillation options; -1 when a is none of them. */
static int parse_own(int argc, char **argv, int *i, distill_opts *o, float *fl,
                     lcv_distill_mode *mode) {
    const char *a = argv[*i], *v;
    static const char *const fnames[] = {"--T", "--alpha", "--beta", "--hint-weight",
                                         "--rkd-distance", "--rkd-angle", "--ce-weight"};
    int f = -1;
    for (int k = 0; k < 7; k++)
        if (strcmp(a, fnames[k]) == 0) f = k;
    bool str = strcmp(a, "--teacher") == 0 || strcmp(a, "--student") == 0 ||
               strcmp(a, "--peer") == 0 || strcmp(a, "--peer-out") == 0 ||
               strcmp(a, "--mode") == 0 || strcmp(a, "--hint") == 0 || strcmp(a, "--exit") == 0;
    if (f < 0 && !str) return -1;
    if (!(v = cli_value(CMD, argc, argv, i))) return 1;
    if (f >= 0) {
        if (!cli_parse_float(v, &fl[f])) return cli_fail(CMD, "%s '%s' is not a number", a, v);
        if (f == 0) o->set_t = true;
        if (f == 1) o->set_alpha = true;
        if (f == 6) o->set_ce = true;
        return 0;
    }
    if (strcmp(a, "--teacher") == 0) o->teacher = v;
    else if (strcmp(a, "--student") == 0) o->t.model = v;
    else if (strcmp(a, "--peer") == 0) o->peer = v;
    else if (strcmp(a, "--peer-out") == 0) o->peer_out = v;
    else if (strcmp(a, "--mode") == 0) return parse_mode(v, mode);
    else if (strcmp(a, "--exit") == 0) {
        if (o->spec.n_exits >= MAX_TERMS) return cli_fail(CMD, "more than %d --exit", MAX_TERMS);
        o->exits[o->spec.n_exits++] = v;
    } else {
        char *colon = strchr(argv[*i], ':');
        if (!colon || colon == v || !colon[1])
            return cli_fail(CMD, "--hint '%s' is not S_VALUE:T_VALUE", v);
        if (o->spec.n_pairs >= MAX_TERMS) return cli_fail(CMD, "more than %d --hint", MAX_TERMS);
        *colon = '\0'; /* argv strings are writable: split in place */
        o->pairs[o->spec.n_pairs].student = v;
        o->pairs[o->spec.n_pairs++].teacher = colon + 1;
    }
    return 0;
}

static int parse_args(int argc, char **argv, distill_opts *o, bool *done) {
    memset(o, 0, sizeof *o);
    train_opts_init(&o->t);
    *done = false;
    lcv_distill_mode mode = LCV_DISTILL_HINTON;
    float fl[7] = {0, 0, NAN, NAN, NAN, NAN, 0}; /* NAN: not given */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            help();
            *done = true;
            return 0;
        }
        if (a[0] != '-' || a[1] == '\0') return cli_fail(CMD, "unexpected argument '%s'", a);
        int rc = parse_own(argc, argv, &i, o, fl, &mode);
        if (rc < 0) rc = train_opts_parse(CMD, argc, argv, &i, &o->t);
        if (rc < 0) return cli_fail(CMD, "unknown option '%s' (see leancv distill --help)", a);
        if (rc) return rc;
    }
    int n_pairs = o->spec.n_pairs, n_exits = o->spec.n_exits;
    o->spec = lcv_distill_default_spec(mode);
    o->spec.n_pairs = n_pairs;
    o->spec.pairs = o->pairs;
    o->spec.n_exits = n_exits;
    o->spec.exits = o->exits;
    if (o->set_t) o->spec.temperature = fl[0];
    if (o->set_alpha) {
        if (!(fl[1] >= 0.0f && fl[1] <= 1.0f))
            return cli_fail(CMD, "--alpha %g is outside [0, 1]", (double)fl[1]);
        o->spec.kd_weight = fl[1];
        o->spec.ce_weight = 1.0f - fl[1];
    }
    if (!isnan(fl[2])) o->spec.at_beta = fl[2];
    if (!isnan(fl[3])) o->spec.hint_weight = fl[3];
    if (!isnan(fl[4])) o->spec.rkd_distance = fl[4];
    if (!isnan(fl[5])) o->spec.rkd_angle = fl[5];
    if (o->set_ce) o->spec.ce_weight = fl[6];
    if (mode == LCV_DISTILL_RKD) {
        if (n_pairs != 1)
            return cli_fail(CMD, "rkd needs exactly one --hint S_EMBEDDING:T_EMBEDDING");
        o->spec.embedding = o->pairs[0];
    }
    if ((mode == LCV_DISTILL_FITNETS || mode == LCV_DISTILL_AT) && n_pairs < 1)
        return cli_fail(CMD, "%s needs at least one --hint S_VALUE:T_VALUE",
                        lcv_distill_mode_name(mode));
    if (!o->t.model) return cli_fail(CMD, "no student given (--student MODEL)");
    if (!o->t.data) return cli_fail(CMD, "no training data given (--data SPEC)");
    bool wants_teacher = mode == LCV_DISTILL_HINTON || mode == LCV_DISTILL_FITNETS ||
                         mode == LCV_DISTILL_AT || mode == LCV_DISTILL_RKD;
    if (wants_teacher && !o->teacher)
        return cli_fail(CMD, "%s needs a teacher (--teacher T.onnx)", lcv_distill_mode_name(mode));
    if (!wants_teacher && o->teacher)
        return cli_fail(CMD, "%s takes no --teacher", lcv_distill_mode_name(mode));
    return 0;
}

/* The teacher: a session and, per needed value, its output index (0 = logits). */
typedef struct teacher {
    lcv_model *m;
    lcv_session *s;
    const char *input;
    int out[MAX_TERMS];
} teacher;

static int teacher_open(const distill_opts *o, teacher *tc) {
    if (!(tc->m = cli_load_model(CMD, o->teacher))) return 1;
    lcv_session_params sp = lcv_session_default_params();
    sp.threads = o->t.p.threads;
    if (lcv_session_create(tc->m, &sp, &tc->s) != LCV_OK)
        return cli_fail(CMD, "cannot create a session for the teacher %s", o->teacher);
    tc->input = lcv_model_input_name(tc->m, 0);
    for (int i = 0; i < o->spec.n_pairs; i++) {
        tc->out[i] = -1;
        for (int k = 0; k < lcv_model_output_count(tc->m); k++)
            if (strcmp(lcv_model_output_name(tc->m, k), o->pairs[i].teacher) == 0) tc->out[i] = k;
        if (tc->out[i] < 0)
            return cli_fail(CMD, "teacher value '%s' is not an output of %s (export the "
                            "teacher with its hint values as extra outputs)",
                            o->pairs[i].teacher, o->teacher);
    }
    return 0;
}

static void teacher_close(teacher *tc) {
    lcv_session_free(tc->s);
    lcv_model_free(tc->m);
}

/* self: every student output but the first is an exit, unless --exit named them. */
static int default_exits(distill_opts *o, lcv_model **keep) {
    if (o->spec.mode != LCV_DISTILL_SELF || o->spec.n_exits > 0) return 0;
    lcv_model *m = cli_load_model(CMD, o->t.model);
    if (!m) return 1;
    *keep = m; /* the names stay valid while the model lives */
    for (int k = 1; k < lcv_model_output_count(m) && o->spec.n_exits < MAX_TERMS; k++)
        o->exits[o->spec.n_exits++] = lcv_model_output_name(m, k);
    if (o->spec.n_exits == 0)
        return cli_fail(CMD, "self needs a student with several exits (outputs after the first) "
                        "or --exit NAME");
    return 0;
}

typedef struct run {
    const distill_opts *o;
    lcv_trainer *s, *peer;
    teacher tc;
    lcv_loader *tr, *va;
} run;

/* 0: done; 1: the student's step failed (its errmsg says why); 2: the teacher failed. */
static int step(run *r, const lcv_tensor *x, const lcv_tensor *y, float *loss, int64_t *ok) {
    if (r->peer) {
        float l[2];
        int64_t c[2];
        if (lcv_trainer_step_mutual(r->s, r->peer, x, y, l, c) != LCV_OK) return 1;
        *loss = l[0];
        *ok = c[0];
        return 0;
    }
    lcv_distill_inputs in = {NULL, NULL, NULL};
    const lcv_tensor *feats[MAX_TERMS];
    if (r->tc.s) {
        if (lcv_session_run(r->tc.s, 1, &r->tc.input, &x) != LCV_OK) return 2;
        in.teacher_logits = lcv_session_output(r->tc.s, 0);
        for (int i = 0; i < r->o->spec.n_pairs; i++)
            feats[i] = lcv_session_output(r->tc.s, r->tc.out[i]);
        in.features = feats;
        in.embedding = feats[0];
    }
    return lcv_trainer_step_kd(r->s, x, y, &in, loss, ok) != LCV_OK;
}

static int save_all(run *r, const char *path) {
    if (lcv_trainer_save(r->s, path) != LCV_OK) return cli_fail(CMD, "%s", lcv_trainer_errmsg(r->s));
    if (!r->peer) return 0;
    char pp[4096];
    snprintf(pp, sizeof pp, "%s.peer", path);
    if (lcv_trainer_save(r->peer, pp) != LCV_OK)
        return cli_fail(CMD, "peer: %s", lcv_trainer_errmsg(r->peer));
    return 0;
}

static int loop(run *r) {
    const distill_opts *o = r->o;
    char err[ERRCAP];
    int64_t nb = lcv_loader_batches(r->tr), first = lcv_trainer_epoch(r->s);
    train_progress pr;
    train_progress_start(&pr, ((int64_t)o->t.epochs - first) * nb);
    for (int64_t e = first; e < o->t.epochs; e++) {
        if (lcv_loader_start_epoch(r->tr, e) != LCV_OK) return cli_fail(CMD, "loader failed");
        double loss_sum = 0.0, t_epoch = cli_now();
        int64_t correct = 0, seen = 0, b = 0;
        for (;;) {
            const lcv_tensor *x, *y;
            if (lcv_loader_next(r->tr, &x, &y, err, sizeof err) != LCV_OK)
                return cli_fail(CMD, "%s", err);
            if (!x) break;
            float loss = 0.0f;
            int64_t ok = 0;
            int src = step(r, x, y, &loss, &ok);
            if (src) {
                if (pr.tty && pr.steps_done > 0) fputc('\n', stderr);
                return cli_fail(CMD, "epoch %lld: %s%s", (long long)e + 1,
                                src == 2 ? "teacher: " : "",
                                src == 2 ? lcv_session_errmsg(r->tc.s) : lcv_trainer_errmsg(r->s));
            }
            int64_t n = lcv_tensor_dim(x, 0);
            loss_sum += (double)loss * (double)n;
            correct += ok;
            seen += n;
            b++;
            pr.steps_done++;
            train_progress_print(&pr, &o->t, e, b, nb, loss_sum / (double)seen,
                                 100.0 * (double)correct / (double)seen, b == nb);
        }
        double val = -1.0, pval = -1.0;
        if (r->va && train_validate(CMD, r->s, r->va, &val)) return 1;
        if (r->va && r->peer && train_validate(CMD, r->peer, r->va, &pval)) return 1;
        lcv_trainer_set_epoch(r->s, e + 1);
        if (r->peer) lcv_trainer_set_epoch(r->peer, e + 1);
        printf("epoch %lld/%ld: loss %.4f train accuracy %.2f%%", (long long)e + 1, o->t.epochs,
               seen ? loss_sum / (double)seen : 0.0,
               seen ? 100.0 * (double)correct / (double)seen : 0.0);
        if (val >= 0) printf(" val accuracy %.2f%%", val);
        if (pval >= 0) printf(" peer val accuracy %.2f%%", pval);
        printf(" (%.1f s)\n", cli_now() - t_epoch);
        fflush(stdout);
        if (o->t.checkpoint && save_all(r, o->t.checkpoint)) return 1;
    }
    double el = cli_now() - pr.t0;
    printf("distilled %lld steps in %.1f s (%.0f images/s)\n", (long long)pr.steps_done, el,
           el > 0 ? (double)(pr.steps_done * o->t.batch) / el : 0.0);
    return 0;
}

static int setup(run *r, distill_opts *o, lcv_dataset *ds) {
    lcv_train_params p = o->t.p;
    p.distill = &o->spec;
    if (train_create(CMD, o->t.model, &p, o->t.p.seed, o->t.init, ds, &r->s)) return 1;
    if (o->spec.mode == LCV_DISTILL_DML) {
        const char *pm = o->peer ? o->peer : o->t.model;
        if (!o->peer && strncmp(pm, "arch:", 5) != 0 && strstr(pm, ".onnx"))
            return cli_fail(CMD, "dml needs --peer MODEL (a copy of the student's file would "
                            "start identical and stay so)");
        if (train_create(CMD, pm, &p, o->t.p.seed + 1, NULL, ds, &r->peer)) return 1;
    }
    if (o->teacher && teacher_open(o, &r->tc)) return 1;
    if (o->t.resume) {
        if (lcv_trainer_load(r->s, o->t.resume) != LCV_OK)
            return cli_fail(CMD, "%s", lcv_trainer_errmsg(r->s));
        char pp[4096];
        snprintf(pp, sizeof pp, "%s.peer", o->t.resume);
        if (r->peer && lcv_trainer_load(r->peer, pp) != LCV_OK)
            return cli_fail(CMD, "peer: %s", lcv_trainer_errmsg(r->peer));
    }
    return 0;
}

int cmd_distill(int argc, char **argv) {
    distill_opts o;
    bool done;
    int rc = parse_args(argc, argv, &o, &done);
    if (rc || done) return rc;
    lcv_dataset *ds = NULL, *vds = NULL;
    lcv_model *student_model = NULL;
    run r;
    memset(&r, 0, sizeof r);
    r.o = &o;
    rc = default_exits(&o, &student_model);
    if (!rc) rc = train_open_loader(CMD, o.t.data, o.t.limit, &o.t, true, &ds, &r.tr);
    if (!rc && o.t.val)
        rc = train_open_loader(CMD, o.t.val, o.t.val_limit, &o.t, false, &vds, &r.va);
    if (!rc) {
        train_opts_finish(&o.t, lcv_loader_batches(r.tr));
        rc = setup(&r, &o, ds);
    }
    if (!rc) {
        printf("student: %s (%lld parameters)%s%s\nmode: %s\ndata: %s (%lld samples, %lld "
               "batches of %ld)\n", o.t.model, (long long)lcv_trainer_param_count(r.s),
               o.teacher ? "\nteacher: " : "", o.teacher ? o.teacher : "",
               lcv_distill_mode_name(o.spec.mode), o.t.data, (long long)lcv_dataset_count(ds),
               (long long)lcv_loader_batches(r.tr), o.t.batch);
        if (o.t.resume)
            printf("resumed from %s at epoch %lld, step %lld\n", o.t.resume,
                   (long long)lcv_trainer_epoch(r.s), (long long)lcv_trainer_step_count(r.s));
        rc = loop(&r);
    }
    if (!rc && o.t.out) {
        if (lcv_trainer_export_onnx(r.s, o.t.out) != LCV_OK)
            rc = cli_fail(CMD, "%s", lcv_trainer_errmsg(r.s));
        else
            printf("wrote %s\n", o.t.out);
    }
    if (!rc && o.peer_out && r.peer) {
        if (lcv_trainer_export_onnx(r.peer, o.peer_out) != LCV_OK)
            rc = cli_fail(CMD, "peer: %s", lcv_trainer_errmsg(r.peer));
        else
            printf("wrote %s\n", o.peer_out);
    }
    teacher_close(&r.tc);
    lcv_trainer_free(r.s);
    lcv_trainer_free(r.peer);
    lcv_model_free(student_model);
    lcv_loader_free(r.tr);
    lcv_loader_free(r.va);
    lcv_dataset_free(ds);
    lcv_dataset_free(vds);
    return rc;
}
