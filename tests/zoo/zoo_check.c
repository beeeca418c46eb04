/* zoo_check.c - runs every model of the model zoo (scripts/export_zoo.py output: <m>.onnx,
 * <m>.input.npy, <m>.output.npy) through leancv and compares with PyTorch's output by the
 * relative error max|out - ref| / max|ref|, which stays meaningful for logits of any scale.
 * Usage: zoo_check DIR [--tol T] [MODEL...]   (default: every *.onnx in DIR, T = 1e-4) */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "leancv.h"

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Model names (file stems of *.onnx in dir), sorted. *out: caller frees names and array. */
static int list_models(const char *dir, char ***out) {
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d) return -1;
    char **names = NULL;
    int n = 0, cap = 0;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        size_t len = strlen(ent->d_name);
        if (len <= 5 || strcmp(ent->d_name + len - 5, ".onnx") != 0) continue;
        if (n == cap) {
            int ncap = cap ? cap * 2 : 16;
            char **nn = realloc(names, sizeof *names * (size_t)ncap);
            if (!nn) break;
            names = nn;
            cap = ncap;
        }
        names[n] = malloc(len - 4);
        if (!names[n]) break;
        memcpy(names[n], ent->d_name, len - 5);
        names[n][len - 5] = '\0';
        n++;
    }
    closedir(d);
    if (n) qsort(names, (size_t)n, sizeof *names, cmp_str);
    *out = names;
    return n;
}

/* Checks one model; returns 1 when within tol. Prints one line either way. */
static int check_model(const char *dir, const char *name, double tol) {
    char path[4096], err[512] = "";
    lcv_model *m = NULL;
    lcv_session *s = NULL;
    lcv_tensor *x = NULL, *ref = NULL;
    int ok = 0;
    double t0 = now_seconds();

    snprintf(path, sizeof path, "%s/%s.onnx", dir, name);
    lcv_status st = lcv_model_load_file(path, NULL, &m);
    if (st != LCV_OK) {
        printf("zoo: %-20s FAIL load: %s: %s\n", name, lcv_status_name(st),
               m ? lcv_model_errmsg(m) : "");
        goto done;
    }
    snprintf(path, sizeof path, "%s/%s.input.npy", dir, name);
    if (lcv_npy_read_file(path, &x, err, sizeof err) != LCV_OK) {
        printf("zoo: %-20s FAIL %s: %s\n", name, path, err);
        goto done;
    }
    snprintf(path, sizeof path, "%s/%s.output.npy", dir, name);
    if (lcv_npy_read_file(path, &ref, err, sizeof err) != LCV_OK) {
        printf("zoo: %-20s FAIL %s: %s\n", name, path, err);
        goto done;
    }
    if (lcv_model_input_count(m) != 1 || lcv_model_output_count(m) < 1) {
        printf("zoo: %-20s FAIL expected 1 input and an output, model has %d and %d\n", name,
               lcv_model_input_count(m), lcv_model_output_count(m));
        goto done;
    }
    st = lcv_session_create(m, NULL, &s);
    if (st != LCV_OK) {
        printf("zoo: %-20s FAIL session: %s\n", name, lcv_status_name(st));
        goto done;
    }
    const char *in_name = lcv_model_input_name(m, 0);
    const lcv_tensor *feed = x;
    double t1 = now_seconds();
    st = lcv_session_run(s, 1, &in_name, &feed);
    double t_run = now_seconds() - t1;
    if (st != LCV_OK) {
        printf("zoo: %-20s FAIL run: %s: %s\n", name, lcv_status_name(st), lcv_session_errmsg(s));
        goto done;
    }
    const lcv_tensor *y = lcv_session_output(s, 0);
    int64_t n = lcv_tensor_numel(ref);
    if (!y || lcv_tensor_dtype(y) != LCV_DTYPE_FLOAT32 || lcv_tensor_numel(y) != n ||
        lcv_tensor_ndim(y) != lcv_tensor_ndim(ref)) {
        printf("zoo: %-20s FAIL output type/shape differs from the reference\n", name);
        goto done;
    }
    for (int i = 0; i < lcv_tensor_ndim(ref); i++)
        if (lcv_tensor_dim(y, i) != lcv_tensor_dim(ref, i)) {
            printf("zoo: %-20s FAIL output dim %d is %lld, expected %lld\n", name, i,
                   (long long)lcv_tensor_dim(y, i), (long long)lcv_tensor_dim(ref, i));
            goto done;
        }
    const float *a = lcv_tensor_cdata(y);
    const float *b = lcv_tensor_cdata(ref);
    double max_diff = 0.0, max_ref = 0.0;
    int finite = 1;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!isfinite(a[i])) finite = 0;
        if (d > max_diff) max_diff = d;
        if (fabs((double)b[i]) > max_ref) max_ref = fabs((double)b[i]);
    }
    /* An all-zero reference would pass any engine that outputs zeros: treat it as a bad zoo. */
    if (!(max_ref > 0)) {
        printf("zoo: %-20s FAIL the reference output is all zeros; re-export the zoo\n", name);
        goto done;
    }
    double ratio = max_diff / max_ref;
    ok = finite && ratio <= tol;
    printf("zoo: %-20s %s ratio %.3g (max|diff| %.3g, max|ref| %.3g), run %.2f s, total %.2f s\n",
           name, ok ? "PASS" : "FAIL", finite ? ratio : INFINITY, max_diff, max_ref, t_run,
           now_seconds() - t0);
done:
    fflush(stdout);
    lcv_session_free(s);
    lcv_model_free(m);
    lcv_tensor_free(x);
    lcv_tensor_free(ref);
    return ok;
}

int main(int argc, char **argv) {
    const char *dir = NULL;
    double tol = 1e-4;
    char **names = NULL;
    int n = 0, named = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tol") == 0 && i + 1 < argc) {
            tol = atof(argv[++i]);
        } else if (!dir) {
            dir = argv[i];
        } else {
            char **nn = realloc(names, sizeof *names * (size_t)(n + 1));
            if (!nn) return 1;
            names = nn;
            names[n++] = argv[i];
            named = 1;
        }
    }
    if (!dir) {
        fprintf(stderr, "usage: zoo_check DIR [--tol T] [MODEL...]\n");
        return 2;
    }
    if (!named) {
        n = list_models(dir, &names);
        if (n <= 0) {
            fprintf(stderr, "zoo: no *.onnx models in %s\n", dir);
            free(names);
            return 1;
        }
    }
    int passed = 0;
    for (int i = 0; i < n; i++) passed += check_model(dir, names[i], tol);
    printf("zoo: %d of %d models within %.1g\n", passed, n, tol);
    if (!named)
        for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    return passed == n ? 0 : 1;
}
