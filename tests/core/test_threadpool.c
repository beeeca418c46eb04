/* test_threadpool.c - the thread pool: every index runs exactly once, chunking follows only
 * (n, grain, size), nested and back-to-back loops, create/free cycles, bad sizes. Meant to
 * run under ThreadSanitizer too (LCV_SANITIZE=thread). */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/threadpool.h"
#include "harness.h"

#define MAX_N 5000
#define MAX_T 8

typedef struct cover_ctx {
    int hits[MAX_N];
    int64_t begin[MAX_T], end[MAX_T]; /* the chunk each thread ran, -1 when none */
    int calls[MAX_T];
    int size;
    int bad_thread;
} cover_ctx;

static void cover_task(void *vctx, int64_t begin, int64_t end, int thread) {
    cover_ctx *c = vctx;
    if (thread < 0 || thread >= c->size || thread >= MAX_T) {
        c->bad_thread = 1; /* a racy write here is itself a failure TSan will flag */
        return;
    }
    c->calls[thread]++;
    c->begin[thread] = begin;
    c->end[thread] = end;
    for (int64_t i = begin; i < end; i++) c->hits[i]++;
}

static void run_cover(lcv_threadpool *p, int64_t n, int64_t grain, cover_ctx *c) {
    memset(c, 0, sizeof *c);
    c->size = lcv_threadpool_size(p);
    for (int t = 0; t < MAX_T; t++) c->begin[t] = c->end[t] = -1;
    lcv_threadpool_parallel_for(p, n, grain, cover_task, c);
}

static void test_coverage(void) {
    static const int64_t ns[] = {0, 1, 2, 3, 5, 7, 8, 63, 64, 100, 1001, 4999};
    static const int64_t grains[] = {-5, 0, 1, 2, 3, 16, 100, 5000};
    static cover_ctx a, b;
    for (int threads = 1; threads <= 5; threads++) {
        lcv_threadpool *p = NULL;
        lcv_err e = {{0}};
        CHECK(lcv_threadpool_create(threads, &p, &e) == LCV_OK);
        if (!p) continue;
        CHECK(lcv_threadpool_size(p) == threads);
        for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
            for (size_t gi = 0; gi < sizeof grains / sizeof grains[0]; gi++) {
                int64_t n = ns[ni], grain = grains[gi] < 1 ? 1 : grains[gi];
                run_cover(p, n, grains[gi], &a);
                CHECK(!a.bad_thread);
                int once = 1, chunks = 0, small = 0;
                for (int64_t i = 0; i < n; i++) once &= a.hits[i] == 1;
                for (int64_t i = n; i < MAX_N; i++) once &= a.hits[i] == 0;
                for (int t = 0; t < MAX_T; t++) {
                    if (a.calls[t] > 1) once = 0;
                    if (a.calls[t] == 1) {
                        chunks++;
                        if (a.end[t] - a.begin[t] < grain) small = 1;
                    }
                }
                CHECK_MSG(once, "threads %d n %lld grain %lld: index coverage", threads,
                          (long long)n, (long long)grains[gi]);
                CHECK_MSG(chunks <= threads && (n > 0 || chunks == 0),
                          "threads %d n %lld: %d chunks", threads, (long long)n, chunks);
                /* Chunks are at least grain long unless the whole loop is shorter. */
                CHECK_MSG(chunks <= 1 || !small, "threads %d n %lld grain %lld: short chunk",
                          threads, (long long)n, (long long)grain);
                if (n >= grain * threads && n > 0)
                    CHECK_MSG(chunks == threads, "threads %d n %lld grain %lld: %d chunks",
                              threads, (long long)n, (long long)grain, chunks);
                /* The split is a pure function of (n, grain, size): a rerun matches. */
                run_cover(p, n, grains[gi], &b);
                CHECK(memcmp(a.begin, b.begin, sizeof a.begin) == 0 &&
                      memcmp(a.end, b.end, sizeof a.end) == 0);
                /* Chunk t precedes chunk t+1: thread order is index order. */
                int64_t prev_end = 0;
                int ordered = 1;
                for (int t = 0; t < chunks; t++) {
                    ordered &= a.begin[t] == prev_end;
                    prev_end = a.end[t];
                }
                CHECK(ordered && (chunks == 0 || prev_end == n));
            }
        }
        lcv_threadpool_free(p);
    }
}

static void test_null_and_sizes(void) {
    static cover_ctx c;
    CHECK(lcv_threadpool_size(NULL) == 1);
    run_cover(NULL, 100, 1, &c);
    CHECK(c.calls[0] == 1 && c.begin[0] == 0 && c.end[0] == 100);
    run_cover(NULL, 0, 1, &c);
    CHECK(c.calls[0] == 0);

    lcv_err e = {{0}};
    lcv_threadpool *p = NULL;
    CHECK(lcv_threadpool_create(0, &p, &e) == LCV_OK && lcv_threadpool_size(p) == 1);
    lcv_threadpool_free(p);
    p = NULL;
    CHECK(lcv_threadpool_create(-7, &p, &e) == LCV_OK && lcv_threadpool_size(p) == 1);
    lcv_threadpool_free(p);
    p = NULL;
    CHECK(lcv_threadpool_create(1 << 30, &p, &e) == LCV_ERR_INVALID_ARG && p == NULL);
    CHECK(strstr(e.msg, "threads") != NULL);
    CHECK(lcv_threadpool_create(2, NULL, &e) == LCV_ERR_INVALID_ARG);
    lcv_threadpool_free(NULL);
}

/* A task that itself runs a loop: on a NULL pool (the supported way), and on its own pool
 * (which must not deadlock: it runs inline). */
typedef struct nested_ctx {
    lcv_threadpool *inner; /* borrowed */
    atomic_llong sum;
} nested_ctx;

typedef struct nested_inner {
    long long sum;
} nested_inner;

static void inner_task(void *vctx, int64_t begin, int64_t end, int thread) {
    nested_inner *c = vctx;
    for (int64_t i = begin; i < end; i++) c->sum += i;
}

static void outer_task(void *vctx, int64_t begin, int64_t end, int thread) {
    nested_ctx *c = vctx;
    for (int64_t i = begin; i < end; i++) {
        nested_inner in = {0};
        lcv_threadpool_parallel_for(c->inner, 10, 1, inner_task, &in);
        atomic_fetch_add(&c->sum, in.sum);
    }
}

static void test_nested(void) {
    lcv_err e = {{0}};
    lcv_threadpool *p = NULL;
    CHECK(lcv_threadpool_create(3, &p, &e) == LCV_OK);
    nested_ctx c = {.inner = NULL};
    atomic_init(&c.sum, 0);
    lcv_threadpool_parallel_for(p, 30, 1, outer_task, &c);
    CHECK(atomic_load(&c.sum) == 30 * 45);
    /* Same pool inside: the inner loop runs inline on the calling thread, so a plain sum in
     * the inner context is race-free. */
    c.inner = p;
    atomic_store(&c.sum, 0);
    lcv_threadpool_parallel_for(p, 30, 1, outer_task, &c);
    CHECK(atomic_load(&c.sum) == 30 * 45);
    lcv_threadpool_free(p);
}

typedef struct sum_ctx {
    long long part[MAX_T]; /* per-thread partial sums: no sharing, no atomics needed */
} sum_ctx;

static void sum_task(void *vctx, int64_t begin, int64_t end, int thread) {
    sum_ctx *c = vctx;
    for (int64_t i = begin; i < end; i++) c->part[thread] += i;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void test_back_to_back(void) {
    lcv_err e = {{0}};
    for (int threads = 2; threads <= 4; threads += 2) {
        lcv_threadpool *p = NULL;
        CHECK(lcv_threadpool_create(threads, &p, &e) == LCV_OK);
        sum_ctx c;
        memset(&c, 0, sizeof c);
        const int loops = 10000;
        double t0 = now_s();
        for (int k = 0; k < loops; k++) lcv_threadpool_parallel_for(p, 64, 1, sum_task, &c);
        double dt = now_s() - t0;
        long long total = 0;
        for (int t = 0; t < MAX_T; t++) total += c.part[t];
        CHECK_MSG(total == (long long)loops * 64 * 63 / 2, "threads %d: total %lld", threads,
                  total);
        printf("threadpool: %d threads, %d loops of n=64: %.2f us per loop\n", threads, loops,
               1e6 * dt / loops);
        /* Loops with sleeps between: workers must wake from the condition variable. */
        memset(&c, 0, sizeof c);
        for (int k = 0; k < 20; k++) {
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
            lcv_threadpool_parallel_for(p, 1000, 1, sum_task, &c);
        }
        total = 0;
        for (int t = 0; t < MAX_T; t++) total += c.part[t];
        CHECK(total == 20LL * 1000 * 999 / 2);
        lcv_threadpool_free(p);
    }
}

static void test_create_free_cycles(void) {
    lcv_err e = {{0}};
    int ok = 1;
    for (int k = 0; k < 200; k++) {
        lcv_threadpool *p = NULL;
        if (lcv_threadpool_create(1 + k % 4, &p, &e) != LCV_OK) {
            ok = 0;
            break;
        }
        if (k % 3 == 0) {
            sum_ctx c;
            memset(&c, 0, sizeof c);
            lcv_threadpool_parallel_for(p, 100, 1, sum_task, &c);
            long long total = 0;
            for (int t = 0; t < MAX_T; t++) total += c.part[t];
            ok &= total == 4950;
        }
        lcv_threadpool_free(p); /* sometimes right after create, while workers start up */
    }
    CHECK(ok);
}

int main(void) {
    test_null_and_sizes();
    test_coverage();
    test_nested();
    test_back_to_back();
    test_create_free_cycles();
    return lcv_test_finish("threadpool");
}
