/* cmd_run.c - `leancv run`: feeds .npy or image files to a model, runs it once, writes every
 * output as DIR/<name>.npy and optionally prints the top-k classes with probabilities. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_util.h"

#define MAX_LABEL_BYTES (16u << 20)
#define MAX_TOPK 1000

static void help(void) {
    printf("usage: leancv run MODEL --input [NAME=]FILE ... [options]\n\n"
           "Runs MODEL once. FILE is a .npy array or a PNG/JPEG image; inputs without NAME= fill\n"
           "the model's inputs in order.\n\n"
           "  -i, --input [NAME=]FILE  an input (repeat for several)\n"
           "  --output-dir DIR         write each output as DIR/<output name>.npy\n"
           "  --threads N              worker threads (default 1)\n"
           "  --topk K                 print the K most likely classes of the first output\n"
           "                           (softmax applied unless it already sums to 1)\n"
           "  --labels FILE            class names, one per line, for --topk\n\n%s",
           cli_image_help);
}

/* Labels file: one name per line; returns an array of n pointers into *text. */
static int read_labels(const char *path, char **text, char ***lines, int *n) {
    *text = NULL;
    *lines = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return cli_fail("run", "cannot open labels '%s': %s", path, strerror(errno));
    char *buf = malloc(MAX_LABEL_BYTES + 1);
    size_t len = buf ? fread(buf, 1, MAX_LABEL_BYTES + 1, f) : 0;
    fclose(f);
    if (!buf) return cli_fail("run", "out of memory reading labels");
    if (len > MAX_LABEL_BYTES) {
        free(buf);
        return cli_fail("run", "labels file '%s' is larger than %u bytes", path, MAX_LABEL_BYTES);
    }
    buf[len] = '\0';
    int count = 0;
    for (size_t i = 0; i < len; i++) count += buf[i] == '\n';
    char **v = malloc(((size_t)count + 1) * sizeof *v);
    if (!v) {
        free(buf);
        return cli_fail("run", "out of memory reading labels");
    }
    int k = 0;
    for (char *p = buf; *p && k <= count;) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        size_t l = strlen(p);
        if (l && p[l - 1] == '\r') p[l - 1] = '\0';
        v[k++] = p;
        if (!nl) break;
        p = nl + 1;
    }
    *text = buf;
    *lines = v;
    *n = k;
    return 0;
}

typedef struct scored {
    double p;
    int idx;
} scored;

static int cmp_scored_desc(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->p != y->p) return (x->p < y->p) - (x->p > y->p);
    return (x->idx > y->idx) - (x->idx < y->idx);
}

static int print_topk(const lcv_tensor *t, const char *name, int k, char **labels,
                      int n_labels) {
    int nd = lcv_tensor_ndim(t);
    if (lcv_tensor_dtype(t) != LCV_DTYPE_FLOAT32 || nd < 1 || lcv_tensor_numel(t) == 0)
        return cli_fail("run", "--topk needs a non-empty float32 output; '%s' is %s with rank %d",
                        name, lcv_dtype_name(lcv_tensor_dtype(t)), nd);
    int64_t classes = lcv_tensor_dim(t, nd - 1), rows = lcv_tensor_numel(t) / classes;
    if (k > classes) k = (int)classes;
    if (classes > INT32_MAX) return cli_fail("run", "output '%s' has too many classes", name);
    scored *prob = malloc((size_t)classes * sizeof *prob);
    if (!prob) return cli_fail("run", "out of memory");
    const float *data = lcv_tensor_cdata(t);
    for (int64_t r = 0; r < rows; r++) {
        const float *x = data + r * classes;
        double sum = 0, mx = -INFINITY;
        bool is_prob = true;
        for (int64_t c = 0; c < classes; c++) {
            sum += x[c];
            if (x[c] > mx) mx = x[c];
            if (!(x[c] >= 0 && x[c] <= 1)) is_prob = false;
        }
        is_prob = is_prob && fabs(sum - 1) < 1e-3;
        double z = 0;
        for (int64_t c = 0; c < classes; c++) {
            prob[c].p = is_prob ? x[c] : exp(x[c] - mx);
            prob[c].idx = (int)c;
            z += prob[c].p;
        }
        for (int64_t c = 0; c < classes; c++) prob[c].p = z > 0 ? prob[c].p / z : 0;
        qsort(prob, (size_t)classes, sizeof *prob, cmp_scored_desc);
        if (rows > 1)
            printf("top-%d of '%s', row %lld:\n", k, name, (long long)r);
        else
            printf("top-%d of '%s':\n", k, name);
        for (int j = 0; j < k; j++)
            printf("  %d. %-24s %7.3f%%  (class %d)\n", j + 1,
                   prob[j].idx < n_labels ? labels[prob[j].idx] : "-", 100 * prob[j].p,
                   prob[j].idx);
    }
    free(prob);
    return 0;
}

static int write_outputs(lcv_session *s, const lcv_model *m, const char *dir) {
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return cli_fail("run", "cannot create output directory '%s': %s", dir, strerror(errno));
    for (int i = 0; i < lcv_model_output_count(m); i++) {
        char safe[256], path[4096], err[512];
        cli_safe_name(lcv_model_output_name(m, i), safe, sizeof safe);
        snprintf(path, sizeof path, "%s/%s.npy", dir, safe);
        if (lcv_npy_write_file(path, lcv_session_output(s, i), err, sizeof err) != LCV_OK)
            return cli_fail("run", "%s", err);
        printf("wrote %s\n", path);
    }
    return 0;
}

int cmd_run(int argc, char **argv) {
    const char *cmd = "run", *model_path = NULL, *out_dir = NULL, *labels_path = NULL;
    char *specs[CLI_MAX_INPUTS];
    int n_specs = 0;
    long threads = 1, topk = 0;
    cli_image_opts img;
    cli_image_opts_init(&img);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            help();
            return 0;
        }
        int r = cli_image_opt(cmd, argc, argv, &i, &img);
        if (r < 0) return 1;
        if (r > 0) continue;
        if (strcmp(a, "--input") == 0 || strcmp(a, "-i") == 0) {
            if (!(v = cli_value(cmd, argc, argv, &i))) return 1;
            if (n_specs == CLI_MAX_INPUTS) return cli_fail(cmd, "too many --input options");
            specs[n_specs++] = (char *)v;
        } else if (strcmp(a, "--output-dir") == 0) {
            if (!(out_dir = cli_value(cmd, argc, argv, &i))) return 1;
        } else if (strcmp(a, "--labels") == 0) {
            if (!(labels_path = cli_value(cmd, argc, argv, &i))) return 1;
        } else if (strcmp(a, "--threads") == 0) {
            if (!(v = cli_value(cmd, argc, argv, &i))) return 1;
            if (!cli_parse_int(v, 1, 1024, &threads))
                return cli_fail(cmd, "--threads '%s' is not an integer in 1..1024", v);
        } else if (strcmp(a, "--topk") == 0) {
            if (!(v = cli_value(cmd, argc, argv, &i))) return 1;
            if (!cli_parse_int(v, 1, MAX_TOPK, &topk))
                return cli_fail(cmd, "--topk '%s' is not an integer in 1..%d", v, MAX_TOPK);
        } else if (a[0] == '-' && a[1] != '\0') {
            return cli_fail(cmd, "unknown option '%s' (see leancv run --help)", a);
        } else if (model_path) {
            return cli_fail(cmd, "unexpected argument '%s' (inputs go after --input)", a);
        } else {
            model_path = a;
        }
    }
    if (!model_path) return cli_fail(cmd, "no model given (see leancv run --help)");
    if (labels_path && !topk) return cli_fail(cmd, "--labels needs --topk");

    char *label_text = NULL, **labels = NULL;
    int n_labels = 0, rc;
    if (labels_path && (rc = read_labels(labels_path, &label_text, &labels, &n_labels))) return rc;
    lcv_model *m = cli_load_model(cmd, model_path);
    lcv_session *s = NULL;
    cli_inputs in = {0};
    rc = m ? 0 : 1;
    if (!rc) rc = cli_inputs_load(cmd, m, n_specs, specs, &img, &in);
    if (!rc && in.count < lcv_model_input_count(m)) {
        for (int i = 0; i < lcv_model_input_count(m) && !rc; i++) {
            bool given = false;
            for (int j = 0; j < in.count; j++)
                given = given || strcmp(in.names[j], lcv_model_input_name(m, i)) == 0;
            if (!given)
                rc = cli_fail(cmd, "model input '%s' is not given (use --input %s=FILE)",
                              lcv_model_input_name(m, i), lcv_model_input_name(m, i));
        }
    }
    if (!rc) {
        lcv_session_params sp = lcv_session_default_params();
        sp.threads = (int)threads;
        if (lcv_session_create(m, &sp, &s) != LCV_OK) rc = cli_fail(cmd, "cannot create a session");
    }
    double t0 = cli_now();
    if (!rc) rc = cli_run_session(cmd, s, &in);
    double ms = (cli_now() - t0) * 1e3;
    if (!rc) {
        for (int i = 0; i < lcv_model_output_count(m); i++) {
            const lcv_tensor *t = lcv_session_output(s, i);
            int64_t d[LCV_MAX_DIMS];
            for (int k = 0; k < lcv_tensor_ndim(t); k++) d[k] = lcv_tensor_dim(t, k);
            char shape[256];
            cli_shape_text(lcv_tensor_ndim(t), d, NULL, shape, sizeof shape);
            printf("output '%s': %s %s\n", lcv_model_output_name(m, i),
                   lcv_dtype_name(lcv_tensor_dtype(t)), shape);
        }
        if (out_dir) rc = write_outputs(s, m, out_dir);
    }
    if (!rc && topk)
        rc = print_topk(lcv_session_output(s, 0), lcv_model_output_name(m, 0), (int)topk, labels,
                        n_labels);
    if (!rc) printf("latency: %.3f ms (%ld thread%s)\n", ms, threads, threads == 1 ? "" : "s");
    cli_inputs_free(&in);
    lcv_session_free(s);
    lcv_model_free(m);
    free(labels);
    free(label_text);
    return rc;
}
