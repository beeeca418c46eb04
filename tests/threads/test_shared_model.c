/* test_shared_model.c - one loaded model shared by sessions on several threads: the header
 * promises a model is immutable after load, so two threads running 1,000 inferences each on
 * their own sessions must reproduce a single-session reference bit for bit. Best run under
 * ThreadSanitizer too (LCV_SANITIZE=thread). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "leancv.h"

#define N_THREADS 2
#define N_RUNS 1000
#define MAX_IO 16

static const char *const CANDIDATES[] = {
    "models/fashion_cnn.onnx",
    "/usr/share/libonnx-testdata/data/pytorch-converted/test_Conv2d/model.onnx",
};

typedef struct feed {
    int n;
    const char *names[MAX_IO];
    lcv_tensor *tensors[MAX_IO]; /* owned */
} feed;

typedef struct worker {
    const lcv_model *model;        /* borrowed, shared by all workers */
    const lcv_tensor *const *refs; /* borrowed reference outputs */
    int n_refs;
    feed in;                       /* this worker's own copy of the inputs */
    int runs_ok;
    int mismatches;
    lcv_status failure;
    char msg[256];
} worker;

/* Deterministic inputs from the model's declared input types (dynamic dims taken as 1). */
static lcv_status make_feed(const lcv_model *m, feed *f) {
    memset(f, 0, sizeof *f);
    int n = lcv_model_input_count(m);
    if (n < 0 || n > MAX_IO) return LCV_ERR_UNSUPPORTED;
    uint32_t state = 12345u;
    for (int i = 0; i < n; i++) {
        lcv_dtype dt;
        int64_t dims[LCV_MAX_DIMS];
        int nd = lcv_model_input_info(m, i, &dt, dims, NULL);
        if (nd < 0) return LCV_ERR_UNSUPPORTED;
        for (int d = 0; d < nd; d++)
            if (dims[d] < 0) dims[d] = 1;
        lcv_status st = lcv_tensor_create(dt, nd, dims, &f->tensors[i]);
        if (st != LCV_OK) return st;
        f->names[i] = lcv_model_input_name(m, i);
        f->n = i + 1;
        if (dt != LCV_DTYPE_FLOAT32) continue; /* other dtypes stay zero */
        float *p = lcv_tensor_data(f->tensors[i]);
        for (int64_t k = 0; k < lcv_tensor_numel(f->tensors[i]); k++) {
            state = state * 1664525u + 1013904223u;
            p[k] = (float)(state >> 8) / 16777216.0f * 2.0f - 1.0f;
        }
    }
    return LCV_OK;
}

static lcv_status copy_feed(const feed *src, feed *dst) {
    memset(dst, 0, sizeof *dst);
    for (int i = 0; i < src->n; i++) {
        const lcv_tensor *t = src->tensors[i];
        int64_t dims[LCV_MAX_DIMS];
        for (int d = 0; d < lcv_tensor_ndim(t); d++) dims[d] = lcv_tensor_dim(t, d);
        lcv_status st = lcv_tensor_create(lcv_tensor_dtype(t), lcv_tensor_ndim(t), dims,
                                          &dst->tensors[i]);
        if (st != LCV_OK) return st;
        memcpy(lcv_tensor_data(dst->tensors[i]), lcv_tensor_cdata(t), lcv_tensor_nbytes(t));
        dst->names[i] = src->names[i];
        dst->n = i + 1;
    }
    return LCV_OK;
}

static void free_feed(feed *f) {
    for (int i = 0; i < f->n; i++) lcv_tensor_free(f->tensors[i]);
    f->n = 0;
}

static int same_bits(const lcv_tensor *a, const lcv_tensor *b) {
    if (!a || !b || lcv_tensor_dtype(a) != lcv_tensor_dtype(b) ||
        lcv_tensor_ndim(a) != lcv_tensor_ndim(b))
        return 0;
    for (int d = 0; d < lcv_tensor_ndim(a); d++)
        if (lcv_tensor_dim(a, d) != lcv_tensor_dim(b, d)) return 0;
    return memcmp(lcv_tensor_cdata(a), lcv_tensor_cdata(b), lcv_tensor_nbytes(a)) == 0;
}

static void *worker_main(void *arg) {
    worker *w = arg;
    lcv_session *s = NULL;
    w->failure = lcv_session_create(w->model, NULL, &s);
    if (w->failure != LCV_OK) {
        snprintf(w->msg, sizeof w->msg, "session create: %s", lcv_status_name(w->failure));
        return NULL;
    }
    for (int r = 0; r < N_RUNS; r++) {
        w->failure = lcv_session_run(s, w->in.n, w->in.names,
                                     (const lcv_tensor *const *)w->in.tensors);
        if (w->failure != LCV_OK) {
            snprintf(w->msg, sizeof w->msg, "run %d: %s", r, lcv_session_errmsg(s));
            break;
        }
        w->runs_ok++;
        for (int o = 0; o < w->n_refs; o++)
            if (!same_bits(lcv_session_output(s, o), w->refs[o])) w->mismatches++;
    }
    lcv_session_free(s);
    return NULL;
}

static const char *pick_model(void) {
    struct stat sb;
    for (size_t i = 0; i < sizeof CANDIDATES / sizeof CANDIDATES[0]; i++)
        if (stat(CANDIDATES[i], &sb) == 0) return CANDIDATES[i];
    return NULL;
}

int main(void) {
    const char *path = pick_model();
    if (!path) {
        printf("threads_shared_model: no model found; skipped\n");
        return 77;
    }
    printf("threads_shared_model: %s\n", path);
    lcv_model *m = NULL;
    lcv_session *ref_s = NULL;
    lcv_tensor *refs[MAX_IO] = {0};
    feed base = {0};
    worker w[N_THREADS];
    memset(w, 0, sizeof w);

    lcv_status st = lcv_model_load_file(path, NULL, &m);
    CHECK_MSG(st == LCV_OK, "load %s: %s", path, lcv_model_errmsg(m));
    if (st != LCV_OK) goto done;
    st = make_feed(m, &base);
    CHECK_MSG(st == LCV_OK, "inputs: %s", lcv_status_name(st));
    if (st != LCV_OK) goto done;
    st = lcv_session_create(m, NULL, &ref_s);
    CHECK(st == LCV_OK);
    if (st != LCV_OK) goto done;
    st = lcv_session_run(ref_s, base.n, base.names, (const lcv_tensor *const *)base.tensors);
    CHECK_MSG(st == LCV_OK, "reference run: %s", lcv_session_errmsg(ref_s));
    if (st != LCV_OK) goto done;

    /* Keep private copies of the reference outputs: the workers must not read a session's
     * buffers, which belong to the main thread. */
    int n_out = lcv_model_output_count(m);
    if (n_out > MAX_IO) n_out = MAX_IO;
    for (int o = 0; o < n_out; o++) {
        const lcv_tensor *y = lcv_session_output(ref_s, o);
        CHECK(y != NULL);
        if (!y) goto done;
        int64_t dims[LCV_MAX_DIMS];
        for (int d = 0; d < lcv_tensor_ndim(y); d++) dims[d] = lcv_tensor_dim(y, d);
        st = lcv_tensor_create(lcv_tensor_dtype(y), lcv_tensor_ndim(y), dims, &refs[o]);
        CHECK(st == LCV_OK);
        if (st != LCV_OK) goto done;
        memcpy(lcv_tensor_data(refs[o]), lcv_tensor_cdata(y), lcv_tensor_nbytes(y));
    }

    pthread_t tid[N_THREADS];
    int started[N_THREADS] = {0};
    for (int t = 0; t < N_THREADS; t++) {
        w[t].model = m;
        w[t].refs = (const lcv_tensor *const *)refs;
        w[t].n_refs = n_out;
        st = copy_feed(&base, &w[t].in);
        CHECK(st == LCV_OK);
        if (st != LCV_OK) break;
        started[t] = pthread_create(&tid[t], NULL, worker_main, &w[t]) == 0;
        CHECK(started[t]);
    }
    for (int t = 0; t < N_THREADS; t++) {
        if (!started[t]) continue;
        pthread_join(tid[t], NULL);
        CHECK_MSG(w[t].failure == LCV_OK, "thread %d: %s", t, w[t].msg);
        CHECK_MSG(w[t].runs_ok == N_RUNS, "thread %d completed %d of %d runs", t, w[t].runs_ok,
                  N_RUNS);
        CHECK_MSG(w[t].mismatches == 0, "thread %d: %d outputs differ from the reference", t,
                  w[t].mismatches);
        printf("threads_shared_model: thread %d: %d runs, %d mismatches\n", t, w[t].runs_ok,
               w[t].mismatches);
    }
done:
    for (int t = 0; t < N_THREADS; t++) free_feed(&w[t].in);
    for (int o = 0; o < MAX_IO; o++) lcv_tensor_free(refs[o]);
    free_feed(&base);
    lcv_session_free(ref_s);
    lcv_model_free(m);
    return lcv_test_finish("threads_shared_model");
}
