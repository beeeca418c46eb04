/* cmd_quantize.c - `leancv quantize`: post-training static quantization of an fp32 ONNX model
 * to QDQ ONNX from a calibration data set (any leancv_data spec), or half-precision weights
 * (--dtype fp16|bf16). Glues leancv_data's loader to the library's calibration callbacks,
 * prints the progress line and the per-layer table; writes nothing unless it succeeds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_util.h"
#include "leancv_compress.h"
#include "leancv_data.h"

#define MAX_PATTERNS 64

static void help(void) {
    printf("usage: leancv quantize MODEL -o OUT --calib SPEC [options]\n"
           "       leancv quantize MODEL -o OUT --dtype fp16|bf16\n\n"
           "Post-training static quantization to QDQ ONNX (QuantizeLinear/DequantizeLinear\n"
           "around the inputs of every Conv, Gemm and MatMul with a constant weight; BatchNorm\n"
           "folded into Conv first), which leancv and ONNX Runtime both run. SPEC is a data\n"
           "set as `leancv train --data` takes it: idx:IMAGES,LABELS, npy:X.npy,Y.npy or\n"
           "folder:DIR (labels are not used). With --dtype fp16|bf16 the weights are stored\n"
           "in half precision instead (a Cast back to float follows each).\n\n"
           "  -o, --out FILE            the model to write: QDQ ONNX, or leancv's own format\n"
           "                            when FILE ends in .lcvm (fused integer graph)\n"
           "  --calib SPEC              calibration data set\n"
           "  --limit N                 calibration images (default 500)\n"
           "  --batch B                 images per calibration run (default 50)\n"
           "  --method M                minmax (default), percentile, entropy (KL, as TensorRT)\n"
           "                            or mse\n"
           "  --percentile P            for --method percentile (default 99.99)\n"
           "  --bins N                  histogram bins (default 2048)\n"
           "  --per-tensor              one weight scale per tensor (default: per channel)\n"
           "  --act uint8|int8          activations uint8 asymmetric (default) or int8 symmetric\n"
           "  --bias-correction         subtract each quantized Conv/Gemm's expected output error\n"
           "                            (Wq - W) E[x], E[x] measured on the calibration data\n"
           "  --equalize                cross-layer equalization first: balance the weight ranges\n"
           "                            of Conv -> [Relu] -> Conv pairs (the float model's output\n"
           "                            is unchanged; ReLU6 links are skipped)\n"
           "  --equalize-relu6          --equalize, also across ReLU6 (Clip 0..6) links, which\n"
           "                            become Relu (this changes the float model)\n"
           "  --keep-float N            keep the N most sensitive layers in float\n"
           "  --keep-float-pattern G    keep layers whose node name matches glob G (repeatable)\n"
           "  --report FILE             per-layer sensitivity report: SQNR of each layer's\n"
           "                            output vs fp32, and the end-to-end SQNR and top-1\n"
           "                            agreement when that layer alone is quantized ('-': print)\n"
           "  --dtype int8|fp16|bf16    int8 (default, needs --calib) or half-precision weights\n"
           "  --scale S                 pixel scale (default 1/255)\n"
           "  --mean M / --std S        normalisation after scaling (default 0 / 1)\n"
           "  --threads N               worker threads (default 1)\n");
}

typedef struct q_opts {
    const char *model, *out, *calib, *report, *method, *act, *dtype;
    long limit, batch, bins, keep, threads;
    float scale, mean, std, percentile;
    bool per_tensor, bias_correction, equalize, equalize_relu6;
    const char *patterns[MAX_PATTERNS];
    int n_patterns;
} q_opts;

static int parse_value(const char *cmd, const char *a, const char *v, q_opts *o) {
    long *num = strcmp(a, "--limit") == 0        ? &o->limit
                : strcmp(a, "--batch") == 0      ? &o->batch
                : strcmp(a, "--bins") == 0       ? &o->bins
                : strcmp(a, "--keep-float") == 0 ? &o->keep
                : strcmp(a, "--threads") == 0    ? &o->threads
                                                 : NULL;
    float *fl = strcmp(a, "--scale") == 0        ? &o->scale
                : strcmp(a, "--mean") == 0       ? &o->mean
                : strcmp(a, "--std") == 0        ? &o->std
                : strcmp(a, "--percentile") == 0 ? &o->percentile
                                                 : NULL;
    if (num) {
        long lo = num == &o->keep ? 0 : 1, hi = num == &o->bins ? 1 << 20 : 1L << 30;
        if (!cli_parse_int(v, lo, hi, num))
            return cli_fail(cmd, "%s '%s' is not an integer in %ld..%ld", a, v, lo, hi);
        return 0;
    }
    if (fl) {
        if (!cli_parse_float(v, fl) || (fl == &o->std && *fl == 0.0f))
            return cli_fail(cmd, "%s '%s' is not a usable number", a, v);
        return 0;
    }
    if (strcmp(a, "--keep-float-pattern") == 0) {
        if (o->n_patterns == MAX_PATTERNS)
            return cli_fail(cmd, "more than %d --keep-float-pattern options", MAX_PATTERNS);
        o->patterns[o->n_patterns++] = v;
        return 0;
    }
    const char **s = strcmp(a, "-o") == 0 || strcmp(a, "--out") == 0 ? &o->out
                     : strcmp(a, "--calib") == 0                      ? &o->calib
                     : strcmp(a, "--report") == 0                     ? &o->report
                     : strcmp(a, "--method") == 0                     ? &o->method
                     : strcmp(a, "--act") == 0                        ? &o->act
                     : strcmp(a, "--dtype") == 0                      ? &o->dtype
                                                                      : NULL;
    if (!s) return -1;
    *s = v;
    return 0;
}

static bool takes_value(const char *a) {
    static const char *const with[] = {
        "-o", "--out", "--calib", "--report", "--method", "--act", "--dtype", "--limit",
        "--batch", "--bins", "--keep-float", "--threads", "--scale", "--mean", "--std",
        "--percentile", "--keep-float-pattern"};
    for (size_t k = 0; k < sizeof with / sizeof with[0]; k++)
        if (strcmp(a, with[k]) == 0) return true;
    return false;
}

static int parse_args(int argc, char **argv, q_opts *o, bool *done) {
    const char *cmd = "quantize";
    memset(o, 0, sizeof *o);
    o->limit = 500;
    o->batch = 50;
    o->bins = 2048;
    o->threads = 1;
    o->scale = 1.0f / 255.0f;
    o->std = 1.0f;
    o->percentile = 99.99f;
    o->method = "minmax";
    o->act = "uint8";
    o->dtype = "int8";
    *done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            help();
            *done = true;
            return 0;
        }
        if (strcmp(a, "--per-tensor") == 0) {
            o->per_tensor = true;
        } else if (strcmp(a, "--bias-correction") == 0) {
            o->bias_correction = true;
        } else if (strcmp(a, "--equalize") == 0) {
            o->equalize = true;
        } else if (strcmp(a, "--equalize-relu6") == 0) {
            o->equalize = o->equalize_relu6 = true;
        } else if (takes_value(a)) {
            if (!(v = cli_value(cmd, argc, argv, &i))) return 1;
            if (parse_value(cmd, a, v, o) != 0) return 1;
        } else if (a[0] == '-' && a[1] != '\0') {
            return cli_fail(cmd, "unknown option '%s' (see leancv quantize --help)", a);
        } else if (o->model) {
            return cli_fail(cmd, "unexpected argument '%s'", a);
        } else {
            o->model = a;
        }
    }
    if (!o->model) return cli_fail(cmd, "no model given (see leancv quantize --help)");
    if (!o->out) return cli_fail(cmd, "no output file given (-o OUT)");
    if (strcmp(o->dtype, "int8") != 0 && strcmp(o->dtype, "fp16") != 0 &&
        strcmp(o->dtype, "bf16") != 0)
        return cli_fail(cmd, "--dtype '%s' is not int8, fp16 or bf16", o->dtype);
    if (strcmp(o->dtype, "int8") != 0 && (o->bias_correction || o->equalize))
        return cli_fail(cmd, "--bias-correction and --equalize apply to --dtype int8 only");
    if (strcmp(o->dtype, "int8") == 0 && !o->calib)
        return cli_fail(cmd, "no calibration data given (--calib SPEC)");
    if (strcmp(o->act, "uint8") != 0 && strcmp(o->act, "int8") != 0)
        return cli_fail(cmd, "--act '%s' is not uint8 or int8", o->act);
    return 0;
}

/* ---- calibration data through the library's callbacks ---- */

typedef struct calib_data {
    lcv_loader *ld;
    int64_t total;     /* images per pass */
    double t0;
    bool tty;
    double last_print;
} calib_data;

static lcv_status calib_next(void *user, const lcv_tensor **batch, char *errbuf, size_t cap) {
    calib_data *d = user;
    const lcv_tensor *labels;
    return lcv_loader_next(d->ld, batch, &labels, errbuf, cap);
}

static lcv_status calib_rewind(void *user, char *errbuf, size_t cap) {
    calib_data *d = user;
    lcv_status st = lcv_loader_start_epoch(d->ld, 0);
    if (st != LCV_OK) snprintf(errbuf, cap, "cannot restart the calibration loader");
    return st;
}

static void fmt_time(double s, char *buf, size_t cap) {
    long t = (long)(s + 0.5);
    snprintf(buf, cap, "%ldm%02lds", t / 60, t % 60);
}

static void calib_progress(void *user, int pass, int n_passes, const char *what,
                           int64_t samples) {
    calib_data *d = user;
    double now = cli_now(), el = now - d->t0;
    bool last = pass == n_passes && samples >= d->total;
    if (!last && now - d->last_print < (d->tty ? 0.2 : 5.0)) return;
    d->last_print = now;
    double done = (double)(pass - 1) * (double)d->total + (double)samples;
    double all = (double)n_passes * (double)d->total;
    char eta[32];
    fmt_time(done > 0 ? el / done * (all - done) : 0.0, eta, sizeof eta);
    fprintf(stderr, "%scalibration pass %d/%d (%s): %lld/%lld images, ETA %s%s",
            d->tty ? "\r" : "", pass, n_passes, what, (long long)samples, (long long)d->total,
            eta, d->tty && !last ? "   " : "\n");
    fflush(stderr);
}

static void print_report(FILE *f, const lcv_quant_report *r, bool sens) {
    fprintf(f, "%-28s %-7s %-5s %10s %10s", "layer", "op", "quant", "lo", "hi");
    if (sens) fprintf(f, " %10s %11s %10s", "sqnr_dB", "alone_dB", "alone_top1");
    fprintf(f, "\n");
    for (int k = 0; k < r->n_layers; k++) {
        const lcv_quant_layer *l = &r->layers[k];
        fprintf(f, "%-28s %-7s %-5s %10.4g %10.4g", l->name, l->op_type,
                l->quantized ? "int8" : "float", l->lo, l->hi);
        if (sens)
            fprintf(f, " %10.2f %11.2f %9.2f%%", l->sqnr_db, l->alone_sqnr_db, l->alone_top1);
        fprintf(f, "\n");
    }
    if (sens)
        fprintf(f, "model output vs fp32 over %lld calibration images: SQNR %.2f dB, top-1 "
                   "agreement %.2f%%\n", (long long)r->samples, r->model_sqnr_db, r->model_top1);
}

static int open_calib(const char *cmd, const q_opts *o, lcv_dataset **ds, calib_data *d) {
    char err[512];
    lcv_dataset_params dp = lcv_dataset_default_params();
    dp.limit = o->limit;
    dp.scale = o->scale;
    /* Image folders load with the model's channel count (grayscale models read PNGs as
     * gray); sizes are left alone, so images of the wrong size are an error, not a resize. */
    lcv_model *m = NULL;
    if (strncmp(o->calib, "folder:", 7) == 0 && lcv_model_load_file(o->model, NULL, &m) == LCV_OK) {
        int64_t dims[LCV_MAX_DIMS];
        lcv_dtype dt;
        if (lcv_model_input_info(m, 0, &dt, dims, NULL) == 4 && (dims[1] == 1 || dims[1] == 3))
            dp.channels = (int)dims[1];
    }
    lcv_model_free(m);
    if (lcv_dataset_open(o->calib, &dp, ds, err, sizeof err) != LCV_OK)
        return cli_fail(cmd, "%s", err);
    if (lcv_dataset_count(*ds) < 1)
        return cli_fail(cmd, "calibration data set '%s' holds no images", o->calib);
    lcv_loader_params lp = lcv_loader_default_params();
    lp.batch = (int)o->batch;
    for (int c = 0; c < 3; c++) {
        lp.mean[c] = o->mean;
        lp.std[c] = o->std;
    }
    if (lcv_loader_create(*ds, &lp, &d->ld, err, sizeof err) != LCV_OK)
        return cli_fail(cmd, "%s", err);
    d->total = lcv_dataset_count(*ds);
    return 0;
}

static lcv_calib_method method_of(const char *s, bool *ok) {
    *ok = true;
    if (strcmp(s, "minmax") == 0) return LCV_CALIB_MINMAX;
    if (strcmp(s, "percentile") == 0) return LCV_CALIB_PERCENTILE;
    if (strcmp(s, "entropy") == 0) return LCV_CALIB_ENTROPY;
    if (strcmp(s, "mse") == 0) return LCV_CALIB_MSE;
    *ok = false;
    return LCV_CALIB_MINMAX;
}

static int quantize_int8(const char *cmd, const q_opts *o, const void *model, size_t size,
                         void **out, size_t *out_size) {
    bool ok;
    lcv_quantize_params p = lcv_quantize_default_params();
    p.method = method_of(o->method, &ok);
    if (!ok)
        return cli_fail(cmd, "--method '%s' is not minmax, percentile, entropy or mse",
                        o->method);
    p.percentile = o->percentile;
    p.bins = (int)o->bins;
    p.per_tensor_weights = o->per_tensor;
    p.int8_activations = strcmp(o->act, "int8") == 0;
    p.keep_float = (int)o->keep;
    p.keep_float_patterns = o->patterns;
    p.n_patterns = o->n_patterns;
    p.report = o->report != NULL;
    p.threads = (int)o->threads;
    p.bias_correction = o->bias_correction;
    p.equalize = o->equalize;
    p.equalize_relu6 = o->equalize_relu6;
    lcv_dataset *ds = NULL;
    calib_data d;
    memset(&d, 0, sizeof d);
    int rc = open_calib(cmd, o, &ds, &d);
    lcv_quant_report *rep = NULL;
    if (rc == 0) {
        lcv_calib_source src = {&d, calib_next, calib_rewind, calib_progress};
        char err[512];
        d.t0 = cli_now();
        d.tty = isatty(2) == 1;
        if (lcv_quantize_model(model, size, &p, &src, out, out_size, &rep, err, sizeof err) !=
            LCV_OK)
            rc = cli_fail(cmd, "%s: %s", o->model, err);
    }
    if (rc == 0 && o->report && strcmp(o->report, "-") != 0) {
        FILE *f = fopen(o->report, "w");
        if (!f) {
            rc = cli_fail(cmd, "cannot create report '%s'", o->report);
        } else {
            print_report(f, rep, true);
            if (fclose(f) != 0) rc = cli_fail(cmd, "cannot write report '%s'", o->report);
        }
    }
    if (rc == 0) print_report(stdout, rep, o->report != NULL);
    if (rc == 0 && o->equalize)
        printf("equalized %d layer pairs in %d rounds; ReLU6 links: %d replaced by Relu, %d "
               "skipped\n", rep->n_equalized, rep->equalize_rounds, rep->n_relu6_replaced,
               rep->n_relu6_skipped);
    if (rc == 0 && o->bias_correction)
        printf("bias correction: %d layers\n", rep->n_bias_corrected);
    lcv_quant_report_free(rep);
    lcv_loader_free(d.ld);
    lcv_dataset_free(ds);
    return rc;
}

int cmd_quantize(int argc, char **argv) {
    const char *cmd = "quantize";
    q_opts o;
    bool done;
    int rc = parse_args(argc, argv, &o, &done);
    if (rc != 0 || done) return rc;
    void *model = NULL, *out = NULL;
    size_t size = 0, out_size = 0;
    rc = cli_read_file(cmd, o.model, &model, &size);
    if (rc == 0 && strcmp(o.dtype, "int8") == 0) {
        rc = quantize_int8(cmd, &o, model, size, &out, &out_size);
    } else if (rc == 0) {
        char err[512];
        lcv_dtype dt = strcmp(o.dtype, "fp16") == 0 ? LCV_DTYPE_FLOAT16 : LCV_DTYPE_BFLOAT16;
        if (lcv_convert_half(model, size, dt, &out, &out_size, err, sizeof err) != LCV_OK)
            rc = cli_fail(cmd, "%s: %s", o.model, err);
    }
    /* OUT.lcvm: the quantized ONNX converted at once, its QDQ pairs fused into the integer
     * kernels' graph (as `leancv convert` would write it). */
    void *lcvm = NULL;
    size_t lcvm_size = 0, n = strlen(o.out);
    if (rc == 0 && n > 5 && strcmp(o.out + n - 5, ".lcvm") == 0) {
        char err[512];
        if (lcv_model_convert(out, out_size, NULL, &lcvm, &lcvm_size, err, sizeof err) != LCV_OK)
            rc = cli_fail(cmd, "%s: writing leancv's format: %s", o.out, err);
    }
    const void *bytes = lcvm ? lcvm : out;
    size_t n_bytes = lcvm ? lcvm_size : out_size;
    if (rc == 0) rc = cli_write_file(cmd, o.out, bytes, n_bytes);
    if (rc == 0)
        printf("wrote %s (%zu bytes, %.3fx the input's %zu)\n", o.out, n_bytes,
               size ? (double)n_bytes / (double)size : 0.0, size);
    lcv_buffer_free(lcvm);
    lcv_compress_free_buffer(out);
    free(model);
    return rc;
}
