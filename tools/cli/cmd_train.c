/* cmd_train.c - `leancv train`: trains an ONNX classifier (or segmenter) on a labelled data set
 * (include/leancv_data.h loaders, include/leancv_train.h trainer) for some epochs, printing a
 * progress line on stderr and per-epoch results on stdout, validating and checkpointing every
 * epoch, resuming from a checkpoint exactly, and writing the trained model. The options and
 * helpers it shares with `leancv distill` are in train_opts.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "train_opts.h"

#define CMD "train"
#define ERRCAP 512

static void help(void) {
    printf("usage: leancv train MODEL.onnx|ARCH --data SPEC [options]\n\n"
           "Trains the classifier MODEL.onnx (first input: images [N, C, H, W]; first output:\n"
           "logits [N, classes]) with softmax cross-entropy, starting from its initializers.\n"
           "A segmenter (logits [N, classes, H, W]) trains on label maps with the per-pixel\n"
           "cross-entropy; accuracy is then pixel accuracy and validation adds the mIoU.\n"
           "A detector (one output [N, classes + 5, H / s, W / s], as arch:fcos-tiny) trains\n"
           "on boxes with the FCOS loss (focal, GIoU, centre-ness); validation gives mAP.\n"
           "ARCH (\"arch:NAME\", or a bare NAME that is not an existing file) builds a named\n"
           "architecture for the training set's image shape and class count, initialised from\n"
           "--seed: resnet8, resnet-D-W, mobilenetv2-tiny, mobilenetv3-tiny,\n"
           "shufflenetv2-tiny, ghostnet-tiny, segnet-tiny, fcos-tiny (see leancv build\n"
           "--help).\n"
           "SPEC is idx:IMAGES,LABELS (gzip'd or plain), npy:X.npy,Y.npy or folder:DIR\n"
           "(npy: Y [N] labels, [N, H, W] label maps for a segmenter, or float32 boxes\n"
           "[N, K, 5] (x1, y1, x2, y2, class; class -1: none) for a detector).\n\n"
           "%s"
           "Same data, options, seed and thread count give bit-identical weights, also across\n"
           "--checkpoint / --resume.\n",
           train_opts_help());
}

static int parse_args(int argc, char **argv, train_opts *o, bool *done) {
    train_opts_init(o);
    *done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            help();
            *done = true;
            return 0;
        }
        if (a[0] == '-' && a[1] != '\0') {
            int rc = train_opts_parse(CMD, argc, argv, &i, o);
            if (rc < 0) return cli_fail(CMD, "unknown option '%s' (see leancv train --help)", a);
            if (rc) return rc;
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

static int train_loop(const train_opts *o, lcv_trainer *t, lcv_loader *tr, lcv_loader *va,
                      bool detector) {
    char err[ERRCAP];
    int64_t nb = lcv_loader_batches(tr), first = lcv_trainer_epoch(t);
    train_progress rs;
    train_progress_start(&rs, ((int64_t)o->epochs - first) * nb);
    if (first >= o->epochs)
        printf("the checkpoint has %lld epochs already; nothing to train\n", (long long)first);
    for (int64_t e = first; e < o->epochs; e++) {
        if (lcv_loader_start_epoch(tr, e) != LCV_OK) return cli_fail(CMD, "loader failed");
        double loss_sum = 0.0, t_epoch = cli_now();
        int64_t correct = 0, seen = 0, graded = 0, b = 0;
        for (;;) {
            const lcv_tensor *x, *y;
            if (lcv_loader_next(tr, &x, &y, err, sizeof err) != LCV_OK)
                return cli_fail(CMD, "%s", err);
            if (!x) break;
            float loss;
            int64_t ok;
            if (lcv_trainer_step(t, x, y, &loss, &ok) != LCV_OK) {
                if (rs.tty && rs.steps_done > 0) fputc('\n', stderr);
                return cli_fail(CMD, "epoch %lld: %s%s", (long long)e + 1, lcv_trainer_errmsg(t),
                                o->checkpoint ? " (the last checkpoint is kept)" : "");
            }
            int64_t n = lcv_tensor_dim(x, 0);
            loss_sum += (double)loss * (double)n;
            correct += ok;
            seen += n;
            /* labels: one per image or per pixel; boxes grade nothing */
            if (lcv_tensor_dtype(y) != LCV_DTYPE_FLOAT32) graded += lcv_tensor_numel(y);
            b++;
            rs.steps_done++;
            train_progress_print(&rs, o, e, b, nb, loss_sum / (double)seen,
                                 graded ? 100.0 * (double)correct / (double)graded : -1.0,
                                 b == nb);
        }
        double val = -1.0, miou = -1.0, map50 = -1.0, map = -1.0;
        if (va && detector && train_validate_det(CMD, t, va, &map50, &map)) return 1;
        if (va && !detector && train_validate_miou(CMD, t, va, &val, &miou)) return 1;
        lcv_trainer_set_epoch(t, e + 1);
        printf("epoch %lld/%ld: loss %.4f", (long long)e + 1, o->epochs,
               seen ? loss_sum / (double)seen : 0.0);
        if (graded) printf(" train accuracy %.2f%%", 100.0 * (double)correct / (double)graded);
        if (val >= 0) printf(" val accuracy %.2f%%", val);
        if (miou >= 0) printf(" val mIoU %.4f", miou);
        if (map50 >= 0) printf(" val mAP@0.5 %.4f mAP@[.5:.95] %.4f", map50, map);
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
    rc = train_open_loader(CMD, o.data, o.limit, &o, true, &ds, &tr);
    if (!rc && o.val) rc = train_open_loader(CMD, o.val, o.val_limit, &o, false, &vds, &va);
    if (!rc) {
        train_opts_finish(&o, lcv_loader_batches(tr));
        rc = train_create(CMD, o.model, &o.p, o.p.seed, o.init, ds, &t);
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
        rc = train_loop(&o, t, tr, va, vds && lcv_dataset_box_rows(vds) > 0);
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
