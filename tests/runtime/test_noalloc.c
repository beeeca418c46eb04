/* test_noalloc.c - after a session has run once with given input shapes, further runs with
 * those shapes perform no heap allocation (and free nothing): malloc, calloc, realloc,
 * posix_memalign and free are wrapped at link time (-Wl,--wrap=..., see CMakeLists.txt) and
 * counted during runs 2..N of CNN models, with 1 and 2 threads, at two batch sizes. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "leancv.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
int __real_posix_memalign(void **p, size_t align, size_t n);
void __real_free(void *p);

static atomic_int counting;
static atomic_long calls;

static void count(void) {
    if (atomic_load(&counting)) atomic_fetch_add(&calls, 1);
}

void *__wrap_malloc(size_t n) {
    count();
    return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t size) {
    count();
    return __real_calloc(n, size);
}
void *__wrap_realloc(void *p, size_t n) {
    count();
    return __real_realloc(p, n);
}
int __wrap_posix_memalign(void **p, size_t align, size_t n) {
    count();
    return __real_posix_memalign(p, align, n);
}
void __wrap_free(void *p) {
    if (p) count();
    __real_free(p);
}

static lcv_tensor *input(int64_t batch, const int64_t *rest, int nrest) {
    int64_t d[LCV_MAX_DIMS] = {batch};
    for (int k = 0; k < nrest; k++) d[k + 1] = rest[k];
    lcv_tensor *t = NULL;
    CHECK(lcv_tensor_create(LCV_DTYPE_FLOAT32, nrest + 1, d, &t) == LCV_OK);
    if (!t) return NULL;
    float *p = lcv_tensor_data(t);
    for (int64_t i = 0; i < lcv_tensor_numel(t); i++) p[i] = (float)((i * 7919) % 61) / 30.0f - 1;
    return t;
}

/* Runs the model once per batch size to plan, then counts heap calls over 5 more runs. */
static void check_model(const char *path, const char *input_name, const int64_t *rest, int nrest) {
    lcv_model *m = NULL;
    lcv_status st = lcv_model_load_file(path, NULL, &m);
    CHECK_MSG(st == LCV_OK, "%s", m ? lcv_model_errmsg(m) : "out of memory");
    for (int threads = 1; st == LCV_OK && threads <= 2; threads++) {
        lcv_session_params p = lcv_session_default_params();
        p.threads = threads;
        p.profile = threads == 2; /* the profiler must not allocate either */
        lcv_session *s = NULL;
        CHECK(lcv_session_create(m, &p, &s) == LCV_OK);
        if (!s) continue;
        const int64_t batches[2] = {1, 3};
        for (int b = 0; b < 2; b++) {
            lcv_tensor *x = input(batches[b], rest, nrest);
            const char *names[] = {input_name};
            const lcv_tensor *ins[] = {x};
            CHECK(lcv_session_run(s, 1, names, ins) == LCV_OK); /* plans: may allocate */
            atomic_store(&calls, 0);
            atomic_store(&counting, 1);
            int failed = 0;
            for (int r = 0; r < 5; r++) failed += lcv_session_run(s, 1, names, ins) != LCV_OK;
            atomic_store(&counting, 0);
            long n = atomic_load(&calls);
            CHECK_MSG(failed == 0 && n == 0, "%s, %d threads, batch %lld: %ld heap calls in 5 "
                      "runs (%d failed)", path, threads, (long long)batches[b], n, failed);
            const lcv_tensor *y = lcv_session_output(s, 0);
            CHECK(y && lcv_tensor_dim(y, 0) == batches[b]);
            lcv_tensor_free(x);
        }
        lcv_session_free(s);
    }
    lcv_model_free(m);
}

int main(void) {
    /* the wrapping works: a call from here is counted */
    atomic_store(&counting, 1);
    void *volatile p = malloc(16); /* volatile: the pair must not be optimised away */
    atomic_store(&counting, 0);
    CHECK(atomic_load(&calls) == 1);
    free(p);
    static const int64_t dyn[3] = {2, 6, 6}, fashion[3] = {1, 28, 28};
    check_model("tests/runtime/dyn_batch_cnn.onnx", "x", dyn, 3);
    check_model("models/fashion_cnn.onnx", "image", fashion, 3);
    return lcv_test_finish("runtime_noalloc");
}
