/* cmd_bench.c - `leancv bench`: latency of a model on random or given inputs (median, min,
 * mean over timed runs after warm-up) and a per-op profile from the session's node timers,
 * summed per op type and listed per node, sorted by time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"

static void help(void) {
    printf("usage: leancv bench MODEL [options]\n\n"
           "Times MODEL on random inputs (dynamic dims = 1) or on the given ones, then prints a\n"
           "per-op profile (op, name, time per run, share), slowest first.\n\n"
           "  --threads N              worker threads (default 1)\n"
           "  --runs N                 timed runs (default 20)\n"
           "  --warmup N               untimed runs first (default 3)\n"
           "  --top N                  nodes listed in the profile (default 20, 0 = all)\n"
           "  --json                   machine-readable output\n"
           "  --reference              run every op with its reference kernel (no fast plans)\n"
           "  --isa LEVEL              highest instruction set the fast kernels may use:\n"
           "                           scalar, avx2, avx512 (x86-64) or neon (AArch64)\n"
           "  -i, --input [NAME=]FILE  use this input instead of random data\n\n%s",
           cli_image_help);
}

typedef struct node_time {
    const char *op, *name;
    double seconds; /* per run */
    lcv_node_info info;
} node_time;

/* "[1,64,56,56]" of the node's first output, "?" when unknown. */
static const char *shape_text(const lcv_node_info *ni, char *buf, size_t cap) {
    if (ni->out_ndim < 0) return "?";
    size_t used = (size_t)snprintf(buf, cap, "[");
    for (int k = 0; k < ni->out_ndim && used < cap; k++)
        used += (size_t)snprintf(buf + used, cap - used, k ? ",%lld" : "%lld",
                                 (long long)ni->out_dims[k]);
    if (used < cap) snprintf(buf + used, cap - used, "]");
    return buf;
}

/* GFLOP/s of a node (2 flops per MAC); 0 when MACs are unknown or the node is free. */
static double node_gflops(const node_time *t) {
    return t->info.macs > 0 && t->seconds > 0 ? 2e-9 * (double)t->info.macs / t->seconds : 0.0;
}

static int cmp_time_desc(const void *a, const void *b) {
    double x = ((const node_time *)a)->seconds, y = ((const node_time *)b)->seconds;
    return (x < y) - (x > y);
}

/* Per-node seconds per run; *total gets their sum. */
static node_time *collect_profile(const lcv_model *m, const lcv_session *s, int64_t n,
                                  double *total) {
    node_time *v = calloc(n > 0 ? (size_t)n : 1, sizeof *v);
    *total = 0;
    if (!v) return NULL;
    for (int64_t i = 0; i < n; i++) {
        lcv_node_info ni;
        double sec = 0;
        int64_t calls = 0;
        if (lcv_model_node_info(m, i, &ni) != LCV_OK) continue;
        v[i].info = ni;
        v[i].op = ni.op_type;
        v[i].name = ni.name && *ni.name ? ni.name : "-";
        if (lcv_session_profile(s, i, &sec, &calls) == LCV_OK && calls > 0)
            v[i].seconds = sec / (double)calls;
        *total += v[i].seconds;
    }
    qsort(v, (size_t)n, sizeof *v, cmp_time_desc);
    return v;
}

static void print_report(bool json, const char *path, long threads, long runs,
                         const double *lat, const node_time *prof, int64_t n, double total,
                         long top) {
    double mean = 0;
    for (long r = 0; r < runs; r++) mean += lat[r];
    mean /= (double)runs;
    double med = runs % 2 ? lat[runs / 2] : 0.5 * (lat[runs / 2 - 1] + lat[runs / 2]);
    int64_t shown = top > 0 && top < n ? top : n;
    if (json) {
        printf("{\"model\":");
        cli_json_string(path);
        printf(",\"threads\":%ld,\"runs\":%ld,\"median_ms\":%.6f,\"min_ms\":%.6f,\"mean_ms\":%.6f,"
               "\"profile\":[",
               threads, runs, med * 1e3, lat[0] * 1e3, mean * 1e3);
        for (int64_t i = 0; i < n; i++) {
            printf("%s{\"op\":", i ? "," : "");
            cli_json_string(prof[i].op);
            printf(",\"name\":");
            cli_json_string(prof[i].name);
            char shape[160];
            printf(",\"fused\":");
            cli_json_string(prof[i].info.fused ? prof[i].info.fused : "");
            printf(",\"shape\":");
            cli_json_string(shape_text(&prof[i].info, shape, sizeof shape));
            printf(",\"macs\":%lld,\"ms\":%.6f,\"gflops\":%.3f,\"share\":%.6f}",
                   (long long)prof[i].info.macs, prof[i].seconds * 1e3, node_gflops(&prof[i]),
                   total > 0 ? prof[i].seconds / total : 0.0);
        }
        printf("]}\n");
        return;
    }
    printf("model: %s\nthreads: %ld   runs: %ld\n", path, threads, runs);
    printf("latency: median %.3f ms   min %.3f ms   mean %.3f ms\n\n", med * 1e3, lat[0] * 1e3,
           mean * 1e3);
    /* Per op type first: the short answer to "where does the time go". */
    printf("per op type:\n  %-20s %6s %12s %7s\n", "op", "nodes", "ms/run", "share");
    for (int64_t i = 0; i < n; i++) {
        bool seen = false;
        for (int64_t j = 0; j < i && !seen; j++) seen = strcmp(prof[j].op, prof[i].op) == 0;
        if (seen) continue;
        double sum = 0;
        int count = 0;
        for (int64_t j = i; j < n; j++)
            if (strcmp(prof[j].op, prof[i].op) == 0) {
                sum += prof[j].seconds;
                count++;
            }
        printf("  %-20s %6d %12.4f %6.1f%%\n", prof[i].op, count, sum * 1e3,
               total > 0 ? 100 * sum / total : 0.0);
    }
    printf("\nper node (slowest %lld of %lld; fused activations after '+'):\n"
           "  %-22s %-28s %-18s %10s %10s %8s %7s\n",
           (long long)shown, (long long)n, "op", "name", "output", "MMACs", "ms/run", "GFLOP/s",
           "share");
    for (int64_t i = 0; i < shown; i++) {
        char op[64], shape[160];
        const lcv_node_info *ni = &prof[i].info;
        snprintf(op, sizeof op, "%s%s%s%s", prof[i].op, ni->has_residual ? "+Add" : "",
                 ni->fused && *ni->fused ? "+" : "", ni->fused ? ni->fused : "");
        printf("  %-22s %-28.28s %-18s %10.2f %10.4f %8.1f %6.1f%%\n", op, prof[i].name,
               shape_text(ni, shape, sizeof shape), ni->macs > 0 ? 1e-6 * (double)ni->macs : 0.0,
               prof[i].seconds * 1e3, node_gflops(&prof[i]),
               total > 0 ? 100 * prof[i].seconds / total : 0.0);
    }
    printf("  %-22s %-28s %-18s %10s %10.4f\n", "total", "(sum of nodes)", "", "", total * 1e3);
}

/* Loads the model with the kernel choices of --reference / --isa. */
static lcv_model *load_model(const char *cmd, const char *path, bool reference, lcv_isa isa) {
    lcv_model_params mp = lcv_model_default_params();
    mp.reference_kernels = reference;
    mp.max_isa = isa;
    lcv_model *m = NULL;
    if (lcv_model_load_file(path, &mp, &m) != LCV_OK) {
        cli_fail(cmd, "%s", m ? lcv_model_errmsg(m) : "out of memory loading the model");
        lcv_model_free(m);
        return NULL;
    }
    return m;
}

int cmd_bench(int argc, char **argv) {
    const char *cmd = "bench", *model_path = NULL;
    char *specs[CLI_MAX_INPUTS];
    int n_specs = 0;
    long threads = 1, runs = 20, warmup = 3, top = 20;
    bool json = false, reference = false;
    lcv_isa isa = LCV_ISA_AUTO;
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
        long *num = strcmp(a, "--threads") == 0  ? &threads
                    : strcmp(a, "--runs") == 0   ? &runs
                    : strcmp(a, "--warmup") == 0 ? &warmup
                    : strcmp(a, "--top") == 0    ? &top
                                                 : NULL;
        if (num) {
            if (!(v = cli_value(cmd, argc, argv, &i))) return 1;
            long lo = num == &threads || num == &runs ? 1 : 0;
            long hi = num == &threads ? 1024 : 1000000;
            if (!cli_parse_int(v, lo, hi, num))
                return cli_fail(cmd, "%s '%s' is not an integer in %ld..%ld", a, v, lo, hi);
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--reference") == 0) {
            reference = true;
        } else if (strcmp(a, "--isa") == 0) {
            if (!(v = cli_value(cmd, argc, argv, &i))) return 1;
            if (strcmp(v, "scalar") == 0)
                isa = LCV_ISA_SCALAR;
            else if (strcmp(v, "avx2") == 0)
                isa = LCV_ISA_AVX2;
            else if (strcmp(v, "avx512") == 0)
                isa = LCV_ISA_AVX512;
            else if (strcmp(v, "neon") == 0)
                isa = LCV_ISA_NEON;
            else
                return cli_fail(cmd, "--isa '%s' is not scalar, avx2, avx512 or neon", v);
        } else if (strcmp(a, "--input") == 0 || strcmp(a, "-i") == 0) {
            if (!(v = cli_value(cmd, argc, argv, &i))) return 1;
            if (n_specs == CLI_MAX_INPUTS) return cli_fail(cmd, "too many --input options");
            specs[n_specs++] = (char *)v;
        } else if (a[0] == '-' && a[1] != '\0') {
            return cli_fail(cmd, "unknown option '%s' (see leancv bench --help)", a);
        } else if (model_path) {
            return cli_fail(cmd, "unexpected argument '%s'", a);
        } else {
            model_path = a;
        }
    }
    if (!model_path) return cli_fail(cmd, "no model given (see leancv bench --help)");
    lcv_model *m = load_model(cmd, model_path, reference, isa);
    if (!m) return 1;
    cli_inputs in = {0};
    lcv_session *s = NULL;
    double *lat = malloc((size_t)runs * sizeof *lat);
    int rc = lat ? cli_inputs_load(cmd, m, n_specs, specs, &img, &in) : cli_fail(cmd, "out of memory");
    if (!rc) rc = cli_inputs_fill_random(cmd, m, &in, 1);
    if (!rc) {
        lcv_session_params sp = lcv_session_default_params();
        sp.threads = (int)threads;
        sp.profile = 1;
        if (lcv_session_create(m, &sp, &s) != LCV_OK) rc = cli_fail(cmd, "cannot create a session");
    }
    for (long r = 0; !rc && r < warmup; r++) rc = cli_run_session(cmd, s, &in);
    for (long r = 0; !rc && r < runs; r++) {
        double t0 = cli_now();
        rc = cli_run_session(cmd, s, &in);
        lat[r] = cli_now() - t0;
    }
    if (!rc) {
        qsort(lat, (size_t)runs, sizeof *lat, cli_cmp_double);
        lcv_model_stats st;
        lcv_model_get_stats(m, &st);
        double total;
        node_time *prof = collect_profile(m, s, st.node_count, &total);
        if (!prof)
            rc = cli_fail(cmd, "out of memory");
        else
            print_report(json, model_path, threads, runs, lat, prof, st.node_count, total, top);
        free(prof);
    }
    free(lat);
    cli_inputs_free(&in);
    lcv_session_free(s);
    lcv_model_free(m);
    return rc;
}
