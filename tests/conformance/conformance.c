/* conformance.c - runs leancv over the ONNX backend test data (model.onnx + test_data_set_*
 * of .pb tensors) and compares with the reference outputs the way the ONNX backend tests do
 * (numpy assert_allclose: rtol 1e-3, atol 1e-7; exact for integers and bools). Prints one line
 * per test and per-folder summaries, and checks the results against a list of tests that must
 * pass so regressions fail CTest while new passes are only announced. */
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "frontends/onnx/onnx.h"

#define DEFAULT_DIR "/usr/share/libonnx-testdata/data"
#define MAX_TENSORS 64              /* input_N / output_N files per data set */
#define MAX_PB_BYTES ((uint64_t)1 << 30)

typedef enum result { R_PASS, R_FAIL, R_UNSUPPORTED } result;

typedef struct options {
    const char *dir;
    const char *filter;
    const char *expect;
    const char *write_expect;
    double timeout;  /* seconds; a slower test is reported as FAIL */
    unsigned watchdog; /* seconds; the whole process is killed by SIGALRM past this per test */
    double rtol, atol;
} options;

typedef struct record {
    char *name; /* "folder/test", owned */
    result res;
} record;

typedef struct records {
    record *v;
    size_t n, cap;
} records;

static const char *const FOLDERS[] = {"node", "pytorch-converted", "pytorch-operator"};

/* snprintf that may truncate silently: messages and paths here are bounded on purpose. */
static void fmt_into(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fmt_into(char *buf, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int is_dir(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int is_file(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted names of the entries of dir that start with prefix (NULL: all but dot entries).
 * *out: caller frees each name and the array. Returns the count, -1 when dir is unreadable. */
static int list_dir(const char *dir, const char *prefix, char ***out) {
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d) return -1;
    char **names = NULL;
    int n = 0, cap = 0;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        if (ent->d_name[0] == '.') continue;
        if (prefix && strncmp(ent->d_name, prefix, strlen(prefix)) != 0) continue;
        if (n == cap) {
            int ncap = cap ? cap * 2 : 64;
            char **nn = realloc(names, sizeof *names * (size_t)ncap);
            if (!nn) break;
            names = nn;
            cap = ncap;
        }
        names[n] = strdup(ent->d_name);
        if (names[n]) n++;
    }
    closedir(d);
    if (n) qsort(names, (size_t)n, sizeof *names, cmp_str);
    *out = names;
    return n;
}

static void free_names(char **names, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

static void records_add(records *r, const char *name, result res) {
    if (r->n == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 256;
        record *nv = realloc(r->v, sizeof *nv * ncap);
        if (!nv) return; /* the summary counts stay right; only the expect check loses it */
        r->v = nv;
        r->cap = ncap;
    }
    r->v[r->n].name = strdup(name);
    if (!r->v[r->n].name) return;
    r->v[r->n].res = res;
    r->n++;
}

/* Reads and parses one .pb tensor file. *name (optional): caller frees. */
static lcv_status read_pb(const char *path, lcv_tensor **t, char **name, lcv_err *e) {
    void *data = NULL;
    size_t size = 0;
    lcv_status st = lcv_read_file(path, MAX_PB_BYTES, &data, &size, e);
    if (st != LCV_OK) return st;
    st = lcv_onnx_parse_tensor(data, size, t, name, e);
    free(data);
    if (st != LCV_OK) lcv_err_prefix(e, "%s", path);
    return st;
}

/* Counts consecutive files <set>/<stem>_0.pb, _1.pb, ... */
static int count_pb(const char *set_dir, const char *stem) {
    char path[4096];
    int n = 0;
    while (n < MAX_TENSORS) {
        fmt_into(path, sizeof path, "%s/%s_%d.pb", set_dir, stem, n);
        if (!is_file(path)) break;
        n++;
    }
    return n;
}

/* Index of the model input/output called name, or -1. */
static int find_io(const lcv_model *m, const char *name, int outputs) {
    if (!name) return -1;
    int n = outputs ? lcv_model_output_count(m) : lcv_model_input_count(m);
    for (int i = 0; i < n; i++) {
        const char *s = outputs ? lcv_model_output_name(m, i) : lcv_model_input_name(m, i);
        if (s && strcmp(s, name) == 0) return i;
    }
    return -1;
}

static int is_exact_dtype(lcv_dtype d) { return lcv_dtype_is_int(d) || d == LCV_DTYPE_BOOL; }

/* Compares got with ref; on mismatch writes why into msg and returns 0. */
static int compare(const char *oname, const lcv_tensor *got, const lcv_tensor *ref,
                   const options *o, char *msg, size_t cap) {
    char s1[128], s2[128];
    if (!got) {
        fmt_into(msg, cap, "output '%s' missing after the run", oname);
        return 0;
    }
    if (got->dtype != ref->dtype) {
        fmt_into(msg, cap, "output '%s': dtype %s, expected %s", oname, lcv_dtype_name(got->dtype),
                 lcv_dtype_name(ref->dtype));
        return 0;
    }
    if (!lcv_shape_equal(got->ndim, got->dims, ref->ndim, ref->dims)) {
        fmt_into(msg, cap, "output '%s': shape %s, expected %s", oname,
                 lcv_shape_str(got->ndim, got->dims, s1, sizeof s1),
                 lcv_shape_str(ref->ndim, ref->dims, s2, sizeof s2));
        return 0;
    }
    if (lcv_dtype_size(ref->dtype) == 0) {
        fmt_into(msg, cap, "output '%s': cannot compare dtype %s", oname,
                 lcv_dtype_name(ref->dtype));
        return 0;
    }
    int64_t n = lcv_tensor_count(ref);
    size_t esz = lcv_dtype_size(ref->dtype);
    for (int64_t i = 0; i < n; i++) {
        if (is_exact_dtype(ref->dtype)) {
            const unsigned char *a = (const unsigned char *)got->data + (size_t)i * esz;
            const unsigned char *b = (const unsigned char *)ref->data + (size_t)i * esz;
            if (ref->dtype == LCV_DTYPE_BOOL ? (!*a != !*b) : memcmp(a, b, esz) != 0) {
                fmt_into(msg, cap, "output '%s' [%lld]: got %lld, expected %lld", oname,
                         (long long)i, (long long)lcv_load_i64(got->dtype, got->data, i),
                         (long long)lcv_load_i64(ref->dtype, ref->data, i));
                return 0;
            }
            continue;
        }
        double g = lcv_load_f64(got->dtype, got->data, i);
        double r = lcv_load_f64(ref->dtype, ref->data, i);
        int ok;
        if (isnan(r) || isnan(g))
            ok = isnan(r) && isnan(g);
        else if (isinf(r) || isinf(g))
            ok = g == r;
        else
            ok = fabs(g - r) <= o->atol + o->rtol * fabs(r);
        if (!ok) {
            fmt_into(msg, cap, "output '%s' [%lld]: got %.9g, expected %.9g", oname,
                     (long long)i, g, r);
            return 0;
        }
    }
    return 1;
}

/* The test data stores bfloat16 tensors as uint16 bit patterns (numpy has no bfloat16); read
 * them as bfloat16 where the model declares or produces bfloat16. */
static void relabel_bf16(lcv_tensor *t, lcv_dtype model_dtype) {
    if (t && t->dtype == LCV_DTYPE_UINT16 && model_dtype == LCV_DTYPE_BFLOAT16)
        t->dtype = LCV_DTYPE_BFLOAT16;
}

/* Result of one data set: R_PASS, or R_FAIL / R_UNSUPPORTED with msg filled. */
static result run_set(lcv_model *m, lcv_session *s, const char *set_dir, const options *o,
                      char *msg, size_t cap) {
    lcv_tensor *ins[MAX_TENSORS] = {0};
    char *in_names[MAX_TENSORS] = {0};
    const char *bind[MAX_TENSORS];
    lcv_tensor *ref = NULL;
    char *ref_name = NULL;
    char path[4096];
    lcv_err e = {{0}};
    result res = R_PASS;
    int n_in = count_pb(set_dir, "input");
    int n_out = count_pb(set_dir, "output");
    int n_model_in = lcv_model_input_count(m);

    for (int i = 0; i < n_in; i++) {
        fmt_into(path, sizeof path, "%s/input_%d.pb", set_dir, i);
        lcv_status st = read_pb(path, &ins[i], &in_names[i], &e);
        if (st != LCV_OK) {
            res = st == LCV_ERR_UNSUPPORTED ? R_UNSUPPORTED : R_FAIL;
            fmt_into(msg, cap, "input_%d.pb: %s: %s", i, lcv_status_name(st), e.msg);
            goto done;
        }
    }
    /* Bind by name when every file names a distinct model input, else by position (what the
     * ONNX backend runner does). */
    int by_name = 1;
    for (int i = 0; i < n_in && by_name; i++) {
        int k = find_io(m, in_names[i], 0);
        if (k < 0) by_name = 0;
        for (int j = 0; j < i && by_name; j++)
            if (strcmp(in_names[j], in_names[i]) == 0) by_name = 0;
    }
    for (int i = 0; i < n_in; i++) {
        if (by_name) {
            bind[i] = in_names[i];
        } else if (i < n_model_in) {
            bind[i] = lcv_model_input_name(m, i);
        } else {
            res = R_FAIL;
            fmt_into(msg, cap, "data set has %d inputs, the model only %d", n_in, n_model_in);
            goto done;
        }
    }
    for (int i = 0; i < n_in; i++) {
        int k = find_io(m, bind[i], 0);
        lcv_dtype want = LCV_DTYPE_UNDEFINED;
        int64_t dims[LCV_MAX_DIMS];
        if (k >= 0) lcv_model_input_info(m, k, &want, dims, NULL);
        relabel_bf16(ins[i], want);
    }
    lcv_status st = lcv_session_run(s, n_in, bind, (const lcv_tensor *const *)ins);
    if (st != LCV_OK) {
        res = st == LCV_ERR_UNSUPPORTED ? R_UNSUPPORTED : R_FAIL;
        fmt_into(msg, cap, "run: %s: %s", lcv_status_name(st), lcv_session_errmsg(s));
        goto done;
    }
    if (n_out > lcv_model_output_count(m)) {
        res = R_FAIL;
        fmt_into(msg, cap, "data set has %d outputs, the model only %d", n_out,
                 lcv_model_output_count(m));
        goto done;
    }
    for (int j = 0; j < n_out && res == R_PASS; j++) {
        fmt_into(path, sizeof path, "%s/output_%d.pb", set_dir, j);
        st = read_pb(path, &ref, &ref_name, &e);
        if (st != LCV_OK) {
            res = st == LCV_ERR_UNSUPPORTED ? R_UNSUPPORTED : R_FAIL;
            fmt_into(msg, cap, "output_%d.pb: %s: %s", j, lcv_status_name(st), e.msg);
            goto done;
        }
        int k = find_io(m, ref_name, 1);
        if (k < 0) k = j;
        const char *oname = lcv_model_output_name(m, k);
        const lcv_tensor *got = lcv_session_output(s, k);
        if (got) relabel_bf16(ref, got->dtype);
        if (!compare(oname ? oname : "?", got, ref, o, msg, cap))
            res = R_FAIL;
        lcv_tensor_free(ref);
        free(ref_name);
        ref = NULL;
        ref_name = NULL;
    }
done:
    lcv_tensor_free(ref);
    free(ref_name);
    for (int i = 0; i < n_in; i++) {
        lcv_tensor_free(ins[i]);
        free(in_names[i]);
    }
    return res;
}

/* Runs every data set of one test directory. */
static result run_test(const char *test_dir, const options *o, char *msg, size_t cap) {
    char path[4096];
    fmt_into(path, sizeof path, "%s/model.onnx", test_dir);
    lcv_model *m = NULL;
    lcv_session *s = NULL;
    result res = R_PASS;
    lcv_status st = lcv_model_load_file(path, NULL, &m);
    if (st != LCV_OK) {
        res = st == LCV_ERR_UNSUPPORTED ? R_UNSUPPORTED : R_FAIL;
        fmt_into(msg, cap, "load: %s: %s", lcv_status_name(st), m ? lcv_model_errmsg(m) : "");
        goto done;
    }
    st = lcv_session_create(m, NULL, &s);
    if (st != LCV_OK) {
        res = R_FAIL;
        fmt_into(msg, cap, "session: %s", lcv_status_name(st));
        goto done;
    }
    char **sets = NULL;
    int n_sets = list_dir(test_dir, "test_data_set_", &sets);
    if (n_sets <= 0) {
        res = R_FAIL;
        fmt_into(msg, cap, "no test_data_set_* in %s", test_dir);
    }
    for (int i = 0; i < n_sets && res == R_PASS; i++) {
        char set_msg[1024] = "";
        fmt_into(path, sizeof path, "%s/%s", test_dir, sets[i]);
        res = run_set(m, s, path, o, set_msg, sizeof set_msg);
        if (res != R_PASS) fmt_into(msg, cap, "%s: %s", sets[i], set_msg);
    }
    free_names(sets, n_sets > 0 ? n_sets : 0);
done:
    lcv_session_free(s);
    lcv_model_free(m);
    return res;
}

static const char *result_name(result r) {
    return r == R_PASS ? "PASS" : r == R_FAIL ? "FAIL" : "UNSUPPORTED";
}

static void print_summary(const char *label, const int count[3]) {
    printf("%s: %d passed, %d failed, %d unsupported\n", label, count[R_PASS], count[R_FAIL],
           count[R_UNSUPPORTED]);
}

/* Runs the tests of root/folder matching the filter; adds to total[]. */
static void run_folder(const char *root, const char *folder, const options *o, records *recs,
                       int total[3]) {
    char dir[4096], test_dir[4096], name[1024];
    fmt_into(dir, sizeof dir, "%s/%s", root, folder);
    char **tests = NULL;
    int n = list_dir(dir, "test_", &tests);
    int count[3] = {0, 0, 0};
    for (int i = 0; i < n; i++) {
        fmt_into(name, sizeof name, "%s/%s", folder, tests[i]);
        if (o->filter && !strstr(name, o->filter)) continue;
        fmt_into(test_dir, sizeof test_dir, "%s/%s", dir, tests[i]);
        if (!is_dir(test_dir)) continue;
        /* The name goes out first so that a hang or crash shows which test caused it. */
        printf("%s: ", name);
        fflush(stdout);
        char msg[2048] = "";
        alarm(o->watchdog);
        double t0 = now_seconds();
        result r = run_test(test_dir, o, msg, sizeof msg);
        double dt = now_seconds() - t0;
        alarm(0);
        if (dt > o->timeout) {
            char slow[2304];
            fmt_into(slow, sizeof slow, "took %.1f s, over the %.0f s limit%s%s", dt, o->timeout,
                     r == R_PASS ? "" : "; ", r == R_PASS ? "" : msg);
            fmt_into(msg, sizeof msg, "%s", slow);
            r = R_FAIL;
        }
        if (r == R_PASS)
            printf("PASS\n");
        else
            printf("%s (%s)\n", result_name(r), msg);
        count[r]++;
        total[r]++;
        records_add(recs, name, r);
    }
    free_names(tests, n > 0 ? n : 0);
    char label[256];
    fmt_into(label, sizeof label, "conformance[%s]", folder);
    print_summary(label, count);
}

static const record *find_record(const records *r, const char *name) {
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->v[i].name, name) == 0) return &r->v[i];
    return NULL;
}

/* Checks the expected-pass list; returns the number of expected tests that did not pass. */
static int check_expect(const options *o, const records *recs, int *io_error) {
    void *data = NULL;
    size_t size = 0;
    lcv_err e = {{0}};
    if (lcv_read_file(o->expect, 1u << 24, &data, &size, &e) != LCV_OK) {
        fprintf(stderr, "conformance: cannot read --expect file: %s\n", e.msg);
        *io_error = 1;
        return 0;
    }
    char *text = malloc(size + 1);
    if (!text) {
        free(data);
        *io_error = 1;
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    free(data);

    int bad = 0;
    char **listed = NULL;
    size_t n_listed = 0, cap = 0;
    for (char *line = strtok(text, "\r\n"); line; line = strtok(NULL, "\r\n")) {
        while (*line == ' ' || *line == '\t') line++;
        size_t len = strlen(line);
        while (len && (line[len - 1] == ' ' || line[len - 1] == '\t')) line[--len] = '\0';
        if (!len || line[0] == '#') continue;
        if (n_listed == cap) {
            size_t ncap = cap ? cap * 2 : 256;
            char **nl = realloc(listed, sizeof *nl * ncap);
            if (!nl) break;
            listed = nl;
            cap = ncap;
        }
        listed[n_listed++] = line;
        if (o->filter && !strstr(line, o->filter)) continue;
        const record *r = find_record(recs, line);
        if (!r || r->res != R_PASS) {
            if (!bad) printf("conformance: expected to pass but did not:\n");
            printf("  %s (%s)\n", line, r ? result_name(r->res) : "not found");
            bad++;
        }
    }
    int news = 0;
    for (size_t i = 0; i < recs->n; i++) {
        if (recs->v[i].res != R_PASS) continue;
        int known = 0;
        for (size_t j = 0; j < n_listed && !known; j++)
            known = strcmp(listed[j], recs->v[i].name) == 0;
        if (!known) {
            if (!news) printf("conformance: new passes (not in %s):\n", o->expect);
            printf("  %s\n", recs->v[i].name);
            news++;
        }
    }
    free(listed);
    free(text);
    return bad;
}

static int write_expect(const char *path, const records *recs) {
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "conformance: cannot write %s\n", path);
        return 0;
    }
    char **names = malloc(sizeof *names * (recs->n + 1));
    size_t n = 0;
    if (names) {
        for (size_t i = 0; i < recs->n; i++)
            if (recs->v[i].res == R_PASS) names[n++] = recs->v[i].name;
        qsort(names, n, sizeof *names, cmp_str);
        for (size_t i = 0; i < n; i++) fprintf(f, "%s\n", names[i]);
        free(names);
    }
    int ok = fclose(f) == 0 && names;
    printf("conformance: wrote %zu passing tests to %s\n", n, path);
    return ok;
}

static void usage(void) {
    fprintf(stderr,
            "usage: conformance [--dir DIR] [--filter SUBSTR] [--expect FILE]\n"
            "                   [--write-expect FILE] [--timeout SEC] [--watchdog SEC]\n"
            "                   [--rtol R] [--atol A]\n"
            "DIR holds node/, pytorch-converted/, pytorch-operator/ (default %s)\n",
            DEFAULT_DIR);
}

int main(int argc, char **argv) {
    options o = {DEFAULT_DIR, NULL, NULL, NULL, 10.0, 120, 1e-3, 1e-7};
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v && strcmp(a, "--help") != 0) {
            usage();
            return 2;
        }
        if (strcmp(a, "--dir") == 0) o.dir = v;
        else if (strcmp(a, "--filter") == 0) o.filter = v;
        else if (strcmp(a, "--expect") == 0) o.expect = v;
        else if (strcmp(a, "--write-expect") == 0) o.write_expect = v;
        else if (strcmp(a, "--timeout") == 0) o.timeout = atof(v);
        else if (strcmp(a, "--watchdog") == 0) o.watchdog = (unsigned)atoi(v);
        else if (strcmp(a, "--rtol") == 0) o.rtol = atof(v);
        else if (strcmp(a, "--atol") == 0) o.atol = atof(v);
        else {
            usage();
            return 2;
        }
    }
    if (!(o.timeout > 0)) o.timeout = 1e30;
    if (!is_dir(o.dir)) {
        printf("conformance: test data not found at %s; skipped\n", o.dir);
        return 77; /* CTest's SKIP_RETURN_CODE */
    }

    records recs = {NULL, 0, 0};
    int total[3] = {0, 0, 0};
    char sub[4096];
    int found = 0;
    for (size_t f = 0; f < sizeof FOLDERS / sizeof FOLDERS[0]; f++) {
        fmt_into(sub, sizeof sub, "%s/%s", o.dir, FOLDERS[f]);
        if (!is_dir(sub)) continue;
        found = 1;
        run_folder(o.dir, FOLDERS[f], &o, &recs, total);
    }
    if (!found) {
        /* DIR is itself one folder of tests: split it into parent and folder name. */
        char parent[4096];
        fmt_into(parent, sizeof parent, "%s", o.dir);
        size_t len = strlen(parent);
        while (len > 1 && parent[len - 1] == '/') parent[--len] = '\0';
        char *base = strrchr(parent, '/');
        const char *folder = parent;
        if (base) {
            *base = '\0';
            folder = base + 1;
            run_folder(base == parent ? "/" : parent, folder, &o, &recs, total);
        } else {
            run_folder(".", folder, &o, &recs, total);
        }
    }
    print_summary("conformance", total);

    int status = 0;
    if (o.write_expect && !write_expect(o.write_expect, &recs)) status = 1;
    if (o.expect) {
        int io_error = 0;
        int bad = check_expect(&o, &recs, &io_error);
        if (bad || io_error) status = 1;
        if (bad) printf("conformance: %d expected tests did not pass\n", bad);
    }
    for (size_t i = 0; i < recs.n; i++) free(recs.v[i].name);
    free(recs.v);
    return status;
}
