/* cmd_eval.c - `leancv eval`: accuracy of a classifier on a labelled data set (any leancv_data
 * spec: IDX, npy, image folders), in batches, with a confusion matrix and per-class accuracy,
 * classes named from a --labels file or the folder names. The data set and its batches come
 * from leancv_data (lcv_loader in order, the next batch prepared on a background thread). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "leancv_data.h"

#define MAX_BATCH 4096
#define MAX_MATRIX_CLASSES 1000
#define MAX_PRINTED_MATRIX 40 /* wider matrices are not readable on a terminal */
#define MAX_LABEL_BYTES (1 << 20)

static void help(void) {
    printf("usage: leancv eval MODEL --data SPEC [options]\n\n"
           "Classifies every image of a labelled data set and prints the accuracy, a confusion\n"
           "matrix (rows: true class, columns: predicted) and the accuracy of each class.\n"
           "SPEC is idx:IMAGES,LABELS (MNIST, Fashion-MNIST; .gz or plain), npy:X.npy,Y.npy or\n"
           "folder:DIR. The model's first input gets pixel * scale, minus mean, divided by std;\n"
           "the argmax of its first output is the prediction.\n\n"
           "  --data SPEC               the data set\n"
           "  --labels FILE             class names, one a line (default: folder names or ids)\n"
           "  --limit N                 only the first N images\n"
           "  --batch B                 images per run (default 100; a fixed batch dim wins)\n"
           "  --threads N               worker threads (default 1)\n"
           "  --scale S                 default 1/255\n"
           "  --mean M / --std S        default 0 / 1\n");
}

typedef struct eval_opts {
    const char *model, *data, *labels;
    long limit, batch, threads;
    float scale, mean, std;
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
        if (num || fl || strcmp(a, "--data") == 0 || strcmp(a, "--labels") == 0) {
            if (!(v = cli_value(cmd, argc, argv, &i))) return 1;
            if (num) {
                long hi = num == &o->batch ? MAX_BATCH : num == &o->threads ? 1024 : 1L << 40;
                if (!cli_parse_int(v, 1, hi, num))
                    return cli_fail(cmd, "%s '%s' is not an integer in 1..%ld", a, v, hi);
            } else if (fl) {
                if (!cli_parse_float(v, fl) || (fl == &o->std && *fl == 0.0f))
                    return cli_fail(cmd, "%s '%s' is not a usable number", a, v);
            } else if (a[2] == 'l') {
                o->labels = v;
            } else {
                bool pair = (strncmp(v, "idx:", 4) == 0 || strncmp(v, "npy:", 4) == 0) &&
                            strchr(v, ',');
                if (!pair && strncmp(v, "folder:", 7) != 0)
                    return cli_fail(cmd, "--data '%s' is not idx:IMAGES,LABELS, npy:X.npy,Y.npy "
                                    "or folder:DIR", v);
                o->data = v;
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
    if (!o->data) return cli_fail(cmd, "no data set given (--data SPEC)");
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
        if (dims[k] > 0 && per > ((int64_t)1 << 40) / dims[k])
            return cli_fail("eval", "model input '%s' is too large per image",
                            lcv_model_input_name(m, 0));
        per *= dims[k];
    }
    if (per != img[0] * img[1] * img[2])
        return cli_fail("eval", "model input '%s' holds %lld values per image, the data set's "
                        "images are %lld x %lld x %lld", lcv_model_input_name(m, 0),
                        (long long)per, (long long)img[0], (long long)img[1], (long long)img[2]);
    if (dims[0] > 0) *batch = (long)dims[0];
    return 0;
}

/* Class names: one per line of a --labels file (trailing blanks and CR dropped), else the data
 * set's folder names; NULL entries print as the class id. */
typedef struct class_names {
    char *buf;          /* the file's text, owned */
    const char **names; /* classes entries, owned array */
} class_names;

static int read_labels(const char *path, int classes, class_names *cn) {
    const char *cmd = "eval";
    FILE *f = fopen(path, "rb");
    if (!f) return cli_fail(cmd, "cannot open labels file '%s'", path);
    cn->buf = malloc(MAX_LABEL_BYTES + 1);
    size_t len = cn->buf ? fread(cn->buf, 1, MAX_LABEL_BYTES + 1, f) : 0;
    bool err = ferror(f) != 0;
    fclose(f);
    if (!cn->buf) return cli_fail(cmd, "out of memory");
    if (err) return cli_fail(cmd, "cannot read labels file '%s'", path);
    if (len > MAX_LABEL_BYTES)
        return cli_fail(cmd, "labels file '%s' is larger than %d bytes", path, MAX_LABEL_BYTES);
    cn->buf[len] = '\0';
    if (memchr(cn->buf, '\0', len))
        return cli_fail(cmd, "labels file '%s' is not text (it holds a NUL byte)", path);
    while (len > 0 && strchr("\r\n \t", cn->buf[len - 1])) cn->buf[--len] = '\0';
    int n = 0;
    for (char *p = cn->buf; *p && n <= classes;) {
        char *nl = strchr(p, '\n'), *next = nl ? nl + 1 : p + strlen(p);
        char *end = nl ? nl : next;
        while (end > p && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t')) end--;
        *end = '\0';
        if (n < classes) cn->names[n] = p;
        n++;
        p = next;
    }
    if (n != classes)
        return cli_fail(cmd, "labels file '%s' has %s%d lines, the model predicts %d classes",
                        path, n > classes ? "more than " : "", n > classes ? classes : n,
                        classes);
    return 0;
}

static void print_name(const class_names *cn, int k) {
    if (cn->names[k]) printf("  %s", cn->names[k]);
}

static void print_results(const int64_t *cm, int classes, const class_names *cn) {
    if (classes <= MAX_PRINTED_MATRIX) {
        printf("\nconfusion matrix (rows: true class, columns: predicted):\n      ");
        for (int p = 0; p < classes; p++) printf("%6d", p);
        printf("\n");
        for (int t = 0; t < classes; t++) {
            printf("%6d", t);
            for (int p = 0; p < classes; p++)
                printf("%6lld", (long long)cm[(size_t)t * classes + p]);
            print_name(cn, t);
            printf("\n");
        }
    } else {
        printf("\nconfusion matrix: not printed for %d classes (at most %d)\n", classes,
               MAX_PRINTED_MATRIX);
    }
    printf("\nper-class accuracy:\n");
    for (int t = 0; t < classes; t++) {
        int64_t total = 0, ok = cm[(size_t)t * classes + t];
        for (int p = 0; p < classes; p++) total += cm[(size_t)t * classes + p];
        if (total == 0) {
            printf("%6d       -  (no samples)", t);
        } else {
            printf("%6d %6.2f%% (%lld / %lld)", t, 100.0 * (double)ok / (double)total,
                   (long long)ok, (long long)total);
        }
        print_name(cn, t);
        printf("\n");
    }
}

/* Tallies one batch of outputs y [b, classes] against the labels of its first `real` rows;
 * fails on a label the model cannot predict (the first at sample index first + r). */
static int tally(const float *y, const int64_t *labels, long real, int classes, int64_t *cm,
                 uint64_t *correct, uint64_t first) {
    for (long r = 0; r < real; r++) {
        if (labels[r] < 0 || labels[r] >= classes)
            return cli_fail("eval", "sample %llu has label %lld, outside the model's %d classes",
                            (unsigned long long)(first + (uint64_t)r), (long long)labels[r],
                            classes);
        int arg = 0;
        for (int k = 1; k < classes; k++)
            if (y[r * classes + k] > y[r * classes + arg]) arg = k;
        *correct += arg == labels[r];
        cm[(size_t)labels[r] * classes + arg]++;
    }
    return 0;
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
    class_names cn = {NULL, NULL};
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
            cn.names = calloc((size_t)classes, sizeof *cn.names);
            if (!cm || !cn.names) {
                rc = cli_fail(cmd, "out of memory");
                break;
            }
            if (o->labels) rc = read_labels(o->labels, classes, &cn);
            for (int k = 0; k < classes && !o->labels; k++)
                cn.names[k] = lcv_dataset_class_name(ds, k);
            if (rc) break;
        }
        rc = tally(lcv_tensor_cdata(out), lcv_tensor_cdata(blab), real, classes, cm, &correct,
                   done);
        done += (uint64_t)real;
    }
    double secs = cli_now() - t0;
    if (!rc && done > 0) {
        printf("model: %s\ndata: %s (%llu images, %lld x %lld x %lld)\n", o->model, o->data,
               (unsigned long long)done, (long long)img[0], (long long)img[1],
               (long long)img[2]);
        printf("accuracy: %.2f%% (%llu / %llu)\n", 100.0 * (double)correct / (double)done,
               (unsigned long long)correct, (unsigned long long)done);
        printf("time: %.3f s (%.0f images/s, batch %ld, %ld thread%s)\n", secs,
               (double)done / (secs > 0 ? secs : 1e-9), batch, o->threads,
               o->threads == 1 ? "" : "s");
        print_results(cm, classes, &cn);
    } else if (!rc) {
        rc = cli_fail(cmd, "the data set is empty");
    }
    free(cm);
    free(cn.buf);
    free(cn.names);
    lcv_loader_free(ld);
    lcv_session_free(s);
    return rc;
}

int cmd_eval(int argc, char **argv) {
    eval_opts o;
    bool done;
    int rc = parse_args(argc, argv, &o, &done);
    if (rc || done) return rc;
    char err[512] = "";
    lcv_dataset_params dp = lcv_dataset_default_params();
    dp.scale = o.scale;
    dp.limit = o.limit;
    lcv_model *m = cli_load_model("eval", o.model);
    if (!m) return 1;
    /* Image folders are decoded to the model's channels and size when it fixes them. */
    lcv_dtype dt;
    int64_t dims[LCV_MAX_DIMS];
    if (lcv_model_input_info(m, 0, &dt, dims, NULL) == 4 && (dims[1] == 1 || dims[1] == 3) &&
        dims[2] > 0 && dims[2] <= 65536 && dims[3] > 0 && dims[3] <= 65536) {
        dp.channels = (int)dims[1];
        dp.height = (int)dims[2];
        dp.width = (int)dims[3];
    }
    lcv_dataset *ds = NULL;
    int64_t maps[2] = {0, 0};
    if (lcv_dataset_open(o.data, &dp, &ds, err, sizeof err) != LCV_OK)
        rc = cli_fail("eval", "%s", err);
    if (!rc) lcv_dataset_label_shape(ds, maps);
    if (!rc && maps[0] > 0)
        rc = cli_fail("eval", "%s has label maps (segmentation); eval measures classifiers "
                      "(leancv train --val reports a segmenter's pixel accuracy and mIoU)", o.data);
    if (!rc) rc = evaluate(&o, m, ds);
    lcv_model_free(m);
    lcv_dataset_free(ds);
    return rc;
}
