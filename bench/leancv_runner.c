/* leancv_runner.c - the leancv side of bench/run_bench.py, written against the public API only:
 * loads one model (default params: all passes, best ISA), checks its output against PyTorch's,
 * then answers the driver's timing requests on stdin/stdout.
 *
 * Usage: leancv_runner MODEL.onnx INPUT.npy REF.npy THREADS WARMUP
 * Protocol: "ready {json}" once warm, then "run K" -> "ok t1 ... tK" (ms per run),
 * "rss" -> "rss KB", "out PATH" -> "out" (last output written as .npy, for quant_bench.py's
 * agreement check), "quit" -> exit. Any failure prints "error MESSAGE" and exits 1. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "leancv.h"

typedef struct runner {
    lcv_model *model;
    lcv_session *session;
    lcv_tensor *input, *ref;
    const char *input_name;
} runner;

static void runner_free(runner *r) {
    lcv_session_free(r->session);
    lcv_model_free(r->model);
    lcv_tensor_free(r->input);
    lcv_tensor_free(r->ref);
}

/* The message goes on one line: the driver reads replies line by line. */
static int fail(runner *r, const char *what, const char *msg) {
    printf("error %s: ", what);
    for (const char *p = msg; *p; p++) putchar(*p == '\n' || *p == '\r' ? ' ' : *p);
    putchar('\n');
    fflush(stdout);
    runner_free(r);
    return 1;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int parse_int(const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

static lcv_status run_once(runner *r) {
    const char *names[1] = {r->input_name};
    const lcv_tensor *inputs[1] = {r->input};
    return lcv_session_run(r->session, 1, names, inputs);
}

/* max |out - ref| over float32 outputs of equal element count; INFINITY when they differ in
 * size or type, NaN-aware (a NaN anywhere makes the result NaN). */
static double max_abs_diff(const lcv_tensor *out, const lcv_tensor *ref) {
    if (!out || lcv_tensor_dtype(out) != LCV_DTYPE_FLOAT32 ||
        lcv_tensor_numel(out) != lcv_tensor_numel(ref))
        return INFINITY;
    const float *a = lcv_tensor_cdata(out), *b = lcv_tensor_cdata(ref);
    double m = 0;
    for (int64_t i = 0; i < lcv_tensor_numel(ref); i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m)) m = d;
    }
    return m;
}

static double max_abs(const lcv_tensor *t) {
    const float *a = lcv_tensor_cdata(t);
    double m = 0;
    for (int64_t i = 0; i < lcv_tensor_numel(t); i++)
        if (fabs((double)a[i]) > m) m = fabs((double)a[i]);
    return m;
}

static long peak_rss_kb(void) {
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

/* Serves "run K" / "rss" / "quit" until quit or end of input. */
static int serve(runner *r) {
    char line[256];
    while (fgets(line, sizeof line, stdin)) {
        char cmd[16] = "", arg[200] = "";
        int n = sscanf(line, "%15s %199s", cmd, arg);
        if (n < 1) continue;
        if (strcmp(cmd, "quit") == 0) break;
        if (strcmp(cmd, "rss") == 0) {
            printf("rss %ld\n", peak_rss_kb());
        } else if (strcmp(cmd, "out") == 0) {
            char err[512] = "";
            if (n < 2) return fail(r, "protocol", "out PATH needs a path");
            if (lcv_npy_write_file(arg, lcv_session_output(r->session, 0), err, sizeof err) != LCV_OK)
                return fail(r, arg, err);
            puts("out");
        } else if (strcmp(cmd, "run") == 0) {
            long k;
            if (n < 2 || !parse_int(arg, 1, 100000, &k))
                return fail(r, "protocol", "run K needs K in [1, 100000]");
            fputs("ok", stdout);
            for (long i = 0; i < k; i++) {
                double t0 = now_ms();
                if (run_once(r) != LCV_OK) return fail(r, "run", lcv_session_errmsg(r->session));
                printf(" %.4f", now_ms() - t0);
            }
            putchar('\n');
        } else {
            return fail(r, "protocol", "unknown command (expected run K, rss, out PATH or quit)");
        }
        fflush(stdout);
    }
    runner_free(r);
    return 0;
}

int main(int argc, char **argv) {
    runner r = {0};
    char err[512] = "";
    long threads, warmup;
    if (argc != 6) return fail(&r, "usage", "leancv_runner MODEL.onnx INPUT.npy REF.npy THREADS WARMUP");
    if (!parse_int(argv[4], 1, 256, &threads)) return fail(&r, "usage", "THREADS must be in [1, 256]");
    if (!parse_int(argv[5], 0, 1000, &warmup)) return fail(&r, "usage", "WARMUP must be in [0, 1000]");

    if (lcv_npy_read_file(argv[2], &r.input, err, sizeof err) != LCV_OK) return fail(&r, argv[2], err);
    if (lcv_npy_read_file(argv[3], &r.ref, err, sizeof err) != LCV_OK) return fail(&r, argv[3], err);
    if (lcv_tensor_dtype(r.ref) != LCV_DTYPE_FLOAT32)
        return fail(&r, argv[3], "reference output must be float32");

    double t0 = now_ms();
    lcv_model_params mp = lcv_model_default_params();
    if (lcv_model_load_file(argv[1], &mp, &r.model) != LCV_OK)
        return fail(&r, argv[1], r.model ? lcv_model_errmsg(r.model) : "out of memory");
    if (lcv_model_input_count(r.model) != 1)
        return fail(&r, argv[1], "the benchmark feeds exactly one input");
    r.input_name = lcv_model_input_name(r.model, 0);
    lcv_session_params sp = lcv_session_default_params();
    sp.threads = (int)threads;
    lcv_status st = lcv_session_create(r.model, &sp, &r.session);
    if (st != LCV_OK) return fail(&r, "session", lcv_status_name(st));
    double load_ms = now_ms() - t0;

    for (long i = 0; i < (warmup > 0 ? warmup : 1); i++)
        if (run_once(&r) != LCV_OK) return fail(&r, "run", lcv_session_errmsg(r.session));
    double diff = max_abs_diff(lcv_session_output(r.session, 0), r.ref);
    /* JSON has no inf/nan literals: the driver reads null as "no match". */
    char diff_s[64] = "null";
    if (isfinite(diff)) snprintf(diff_s, sizeof diff_s, "%.9g", diff);
    printf("ready {\"engine\":\"leancv\",\"version\":\"%s\",\"isa\":\"%s\",\"load_ms\":%.3f,"
           "\"max_abs_diff\":%s,\"ref_max_abs\":%.9g,\"threads\":%ld}\n",
           lcv_version(), lcv_isa_name(lcv_model_isa(r.model)), load_ms, diff_s, max_abs(r.ref),
           threads);
    fflush(stdout);
    return serve(&r);
}
