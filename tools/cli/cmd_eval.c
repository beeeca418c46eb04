/* cmd_eval.c - `leancv eval`: accuracy of a classifier on an MNIST-style IDX data set (images
 * idx3-ubyte, labels idx1-ubyte, gzip'd or plain), in batches, with a confusion matrix. The
 * data set and its batches come from leancv_data (lcv_dataset, lcv_loader in order, the next
 * batch prepared on a background thread while the model runs). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "leancv_data.h"

#define MAX_BATCH 4096
#define MAX_MATRIX_CLASSES 1000

static void help(void) {
    printf("usage: leancv eval MODEL --data idx:IMAGES,LABELS [options]\n\n"
           "Classifies every image of an IDX data set (MNIST, Fashion-MNIST; .gz or plain) and\n"
           "prints the accuracy and a confusion matrix (rows: true class, columns: predicted).\n"
           "The model's first input gets pixel * scale, minus mean, divided by std; the argmax of\n"
           "its first output is the prediction.\n\n"
           "  --data idx:IMAGES,LABELS  the data set\n"
           "  --limit N                 only the first N images\n"
           "  --batch B                 images per run (default 100; a fixed batch dim wins)\n"
           "  --threads N               worker threads (default 1)\n"
           "  --scale S                 default 1/255\n"
           "  --mean M / --std S        default 0 / 1\n");
}

typedef struct eval_opts {
    const char *model, *images, *labels;
    long limit, batch, threads;
    float scale, mean, std;
    char data[4096]; /* the --data value; images and labels point into it */
} eval_opts;

static int parse_args(int argc, char **argv, eval_opts *o, bool *done) {
    const char *cmd = "eval";
    memset(o, 0, sizeof *o);
    o->batch = 100;
    o->threads = 1;
    o->scale = 1.0f / 255.0f;
    o->std = 1.0f;
    *done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            help();
            *done = true;
            return 0;
        }
        long *num = strcmp(a, "--limit") == 0     ? &o->limit
                    : strcmp(a, "--batch") == 0   ? &o->batch
                    : strcmp(a, "--threads") == 0 ? &o->threads
                                                  : NULL;
        float *fl = strcmp(a, "--scale") == 0  ? &o->scale
                    : strcmp(a, "--mean") == 0 ? &o->mean
                    : strcmp(a, "--std") == 0  ? &o->std
                                               : NULL;
        if (num || fl || strcmp(a, "--data") == 0) {
            if (!(v = cli_value(cmd, argc, argv, &i))) return 1;
            if (num) {
                long hi = num == &o->batch ? MAX_BATCH : num == &o->threads ? 1024 : 1L << 40;
                if (!cli_parse_int(v, 1, hi, num))
                    return cli_fail(cmd, "%s '%s' is not an integer in 1..%ld", a, v, hi);
            } else if (fl) {
                if (!cli_parse_float(v, fl) || (fl == &o->std && *fl == 0.0f))
                    return cli_fail(cmd, "%s '%s' is not a usable number", a, v);
            } else {
                const char *comma = strchr(v, ',');
                if (strncmp(v, "idx:", 4) != 0 || !comma || strlen(v) >= sizeof o->data)
                    return cli_fail(cmd, "--data '%s' is not idx:IMAGES,LABELS", v);
                strcpy(o->data, v + 4);
                char *c = strchr(o->data, ',');
                *c = '\0';
                o->images = o->data;
                o->labels = c + 1;
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            return cli_fail(cmd, "unknown option '%s' (see leancv eval --help)", a);
        } else if (o->model) {
            return cli_fail(cmd, "unexpected argument '%s'", a);
        } else {
            o->model = a;
        }
    }
    if (!o->model) return cli_fail(cmd, "no model given (see leancv eval --help)");
    if (!o->images) return cli_fail(cmd, "no data set given (--data idx:IMAGES,LABELS)");
    return 0;
}

/* The batch tensor's shape from the model's first input: dim 0 is the batch, the rest must be
 * static and hold exactly one image. */
static int input_shape(const lcv_model *m, const int64_t *img, long *batch, int *nd,
                       int64_t *dims) {
    lcv_dtype dt;
    *nd = lcv_model_input_info(m, 0, &dt, dims, NULL);
    if (*nd < 2 || dt != LCV_DTYPE_FLOAT32)
        return cli_fail("eval", "model input '%s' must be float32 with a batch dim (got %s, "
                        "rank %d)", lcv_model_input_name(m, 0), lcv_dtype_name(dt), *nd);
    int64_t per = 1;
    for (int k = 1; k < *nd; k++) {
        if (dims[k] < 0)
            return cli_fail("eval", "model input '%s' has a dynamic dim %d besides the batch",
                            lcv_model_input_name(m, 0), k);
        per *= dims[k];
    }
    if (per != img[0] * img[1] * img[2])
        return cli_fail("eval", "model input '%s' holds %lld values per image, the data set has "
                        "%lld x %lld", lcv_model_input_name(m, 0), (long long)per,
                        (long long)img[1], (long long)img[2]);
    if (dims[0] > 0) *batch = (long)dims[0];
    return 0;
}

static void print_matrix(const int64_t *cm, int classes) {
    printf("\nconfusion matrix (rows: true class, columns: predicted):\n      ");
    for (int p = 0; p < classes; p++) printf("%6d", p);
    printf("\n");
    for (int t = 0; t < classes; t++) {
        printf("%6d", t);
        for (int p = 0; p < classes; p++) printf("%6lld", (long long)cm[(size_t)t * classes + p]);
        printf("\n");
    }
}

/* Tallies one batch of outputs y [b, classes] against the labels of its first `real` rows. */
static void tally(const float *y, const int64_t *labels, long real, int classes, int64_t *cm,
                  uint64_t *correct) {
    for (long r = 0; r < real; r++) {
        int arg = 0;
        for (int k = 1; k < classes; k++)
            if (y[r * classes + k] > y[r * classes + arg]) arg = k;
        *correct += arg == labels[r];
        if (labels[r] >= 0 && labels[r] < classes) cm[(size_t)labels[r] * classes + arg]++;
    }
}

static int evaluate(const eval_opts *o, lcv_model *m, const lcv_dataset *ds) {
    const char *cmd = "eval";
    long batch = o->batch;
    int nd;
    int64_t dims[LCV_MAX_DIMS], img[3];
    lcv_dataset_shape(ds, img);
    int rc = input_shape(m, img, &batch, &nd, dims);
    if (rc) return rc;
    size_t per = (size_t)(img[0] * img[1] * img[2]);
    /* Keep a batch's pixels under 256 MiB whatever the image size. */
    if ((uint64_t)batch * per > ((uint64_t)1 << 28)) {
        if (dims[0] > 0)
            return cli_fail("eval", "fixed batch %ld of %zu-pixel images is too large", batch, per);
        batch = (long)(((uint64_t)1 << 28) / per);
        if (batch < 1) batch = 1;
    }
    /* The loader normalises: (pixel * scale - mean) / std, in order, without augmentation. */
    lcv_loader_params lp = lcv_loader_default_params();
    lp.batch = (int)batch;
    for (int c = 0; c < 3; c++) {
        lp.mean[c] = o->mean;
        lp.std[c] = o->std;
    }
    char err[512] = "";
    lcv_loader *ld = NULL;
    lcv_session *s = NULL;
    lcv_session_params sp = lcv_session_default_params();
    sp.threads = (int)o->threads;
    int64_t *cm = NULL;
    int classes = 0;
    uint64_t done = 0, correct = 0;
    if (lcv_loader_create(ds, &lp, &ld, err, sizeof err) != LCV_OK ||
        lcv_loader_start_epoch(ld, 0) != LCV_OK)
        rc = cli_fail(cmd, "%s", err);
    if (!rc && lcv_session_create(m, &sp, &s) != LCV_OK)
        rc = cli_fail(cmd, "cannot create a session");
    bool fixed = dims[0] > 0;
    double t0 = cli_now();
    while (!rc) {
        const lcv_tensor *bimg = NULL, *blab = NULL;
        if (lcv_loader_next(ld, &bimg, &blab, err, sizeof err) != LCV_OK) {
            rc = cli_fail(cmd, "%s", err);
            break;
        }
        if (!bimg) break;
        long real = (long)lcv_tensor_dim(bimg, 0);
        long b = fixed ? batch : real; /* fixed batch: the tail is zero-padded */
        dims[0] = b;
        lcv_tensor *t = NULL;
        if (lcv_tensor_create(LCV_DTYPE_FLOAT32, nd, dims, &t) != LCV_OK) {
            rc = cli_fail(cmd, "cannot allocate a batch of %ld", b);
            break;
        }
        memcpy(lcv_tensor_data(t), lcv_tensor_cdata(bimg), (size_t)real * per * sizeof(float));
        const char *name = lcv_model_input_name(m, 0);
        const lcv_tensor *tin = t;
        if (lcv_session_run(s, 1, &name, &tin) != LCV_OK)
            rc = cli_fail(cmd, "%s", lcv_session_errmsg(s));
        lcv_tensor_free(t);
        if (rc) break;
        const lcv_tensor *out = lcv_session_output(s, 0);
        int ond = lcv_tensor_ndim(out);
        int64_t c = ond >= 1 ? lcv_tensor_dim(out, ond - 1) : 0;
        if (lcv_tensor_dtype(out) != LCV_DTYPE_FLOAT32 || c < 1 || c > MAX_MATRIX_CLASSES ||
            lcv_tensor_numel(out) != b * c) {
            rc = cli_fail(cmd, "output '%s' is not float32 [batch, classes] with up to %d classes",
                          lcv_model_output_name(m, 0), MAX_MATRIX_CLASSES);
            break;
        }
        if (!cm) {
            classes = (int)c;
            cm = calloc((size_t)classes * (size_t)classes, sizeof *cm);
            if (!cm) {
                rc = cli_fail(cmd, "out of memory");
                break;
            }
        }
        tally(lcv_tensor_cdata(out), lcv_tensor_cdata(blab), real, classes, cm, &correct);
        done += (uint64_t)real;
    }
    double secs = cli_now() - t0;
    if (!rc && done > 0) {
        printf("model: %s\ndata: %s (%llu images, %lld x %lld)\n", o->model, o->images,
               (unsigned long long)done, (long long)img[1], (long long)img[2]);
        printf("accuracy: %.2f%% (%llu / %llu)\n", 100.0 * (double)correct / (double)done,
               (unsigned long long)correct, (unsigned long long)done);
        printf("time: %.3f s (%.0f images/s, batch %ld, %ld thread%s)\n", secs,
               (double)done / (secs > 0 ? secs : 1e-9), batch, o->threads,
               o->threads == 1 ? "" : "s");
        print_matrix(cm, classes);
    } else if (!rc) {
        rc = cli_fail(cmd, "the data set is empty");
    }
    free(cm);
    lcv_loader_free(ld);
    lcv_session_free(s);
    return rc;
}

int cmd_eval(int argc, char **argv) {
    eval_opts o;
    bool done;
    int rc = parse_args(argc, argv, &o, &done);
    if (rc || done) return rc;
    /* --data was checked to be idx:IMAGES,LABELS; the data set reader validates the files. */
    char spec[sizeof o.data + 8], err[512] = "";
    snprintf(spec, sizeof spec, "idx:%s,%s", o.images, o.labels);
    lcv_dataset_params dp = lcv_dataset_default_params();
    dp.scale = o.scale;
    dp.limit = o.limit;
    lcv_dataset *ds = NULL;
    if (lcv_dataset_open(spec, &dp, &ds, err, sizeof err) != LCV_OK)
        return cli_fail("eval", "%s", err);
    lcv_model *m = cli_load_model("eval", o.model);
    rc = m ? evaluate(&o, m, ds) : 1;
    lcv_model_free(m);
    lcv_dataset_free(ds);
    return rc;
}
