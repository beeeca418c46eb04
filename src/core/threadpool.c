/* threadpool.c - persistent pthread workers that run one data-parallel loop at a time.
 * The caller publishes a job and bumps a generation counter; workers spin briefly, then sleep
 * on a condition variable. Chunk i of a loop always runs on thread i (the caller is thread 0),
 * and chunk bounds depend only on (n, grain, size), so results never depend on timing. */
#include "threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

/* More threads than this is surely a mistake (and each costs a stack). */
#define LCV_POOL_MAX_THREADS 1024
/* Busy-wait rounds before sleeping, enough to bridge the gap between consecutive ops of one
 * inference without a futex wake-up for each. After LCV_POOL_PAUSES rounds the waiter yields
 * its core instead, so an oversubscribed machine still runs the thread that has work. */
#define LCV_POOL_SPIN 2000
#define LCV_POOL_PAUSES 500

typedef struct lcv_worker {
    struct lcv_threadpool *pool; /* borrowed */
    int id;                      /* 1 .. size-1 */
} lcv_worker;

struct lcv_threadpool {
    int size;              /* threads in total, the caller included */
    int n_started;         /* workers actually running (for cleanup after a failed create) */
    pthread_t *threads;    /* owned, size - 1 */
    lcv_worker *workers;   /* owned, size - 1 */
    pthread_mutex_t mu;
    pthread_cond_t wake;   /* workers sleep here waiting for a new generation */
    pthread_cond_t done;   /* the caller sleeps here waiting for pending == 0 */
    atomic_uint_fast64_t generation;
    atomic_int pending;    /* workers that have not finished the current generation */
    atomic_int sleepers;   /* workers asleep (or about to be) on wake */
    atomic_int caller_waiting;
    atomic_int stop;
    atomic_int busy;       /* a loop is running: nested calls run inline */
    /* The current job: written by the caller before a generation bump (release), read by
     * workers after seeing it (acquire), and not rewritten until every worker has counted
     * itself out of pending. */
    lcv_task_fn fn;
    void *ctx;
    int64_t n;
    int n_chunks;
};

static inline void spin_wait(int round) {
    if (round >= LCV_POOL_PAUSES) {
        sched_yield();
        return;
    }
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Chunk i of k over [0, n): the first n % k chunks get one extra item. */
static void chunk_bounds(int64_t n, int k, int i, int64_t *begin, int64_t *end) {
    int64_t base = n / k, rem = n % k;
    *begin = (int64_t)i * base + (i < rem ? i : rem);
    *end = *begin + base + (i < rem ? 1 : 0);
}

static void run_chunk(struct lcv_threadpool *p, int i) {
    if (i >= p->n_chunks) return;
    int64_t b, e;
    chunk_bounds(p->n, p->n_chunks, i, &b, &e);
    if (b < e) p->fn(p->ctx, b, e, i);
}

/* Returns the generation after `seen`, or `seen` when the pool is stopping. */
static uint_fast64_t wait_for_work(struct lcv_threadpool *p, uint_fast64_t seen) {
    for (int spin = 0; spin < LCV_POOL_SPIN; spin++) {
        uint_fast64_t g = atomic_load_explicit(&p->generation, memory_order_acquire);
        if (g != seen) return g;
        if (atomic_load_explicit(&p->stop, memory_order_acquire)) return seen;
        spin_wait(spin);
    }
    pthread_mutex_lock(&p->mu);
    /* seq_cst pairs with the caller's bump-then-check-sleepers: either it sees us here or we
     * see its new generation below, so no wake-up is lost. */
    atomic_fetch_add(&p->sleepers, 1);
    uint_fast64_t g;
    while ((g = atomic_load(&p->generation)) == seen && !atomic_load(&p->stop))
        pthread_cond_wait(&p->wake, &p->mu);
    atomic_fetch_sub(&p->sleepers, 1);
    pthread_mutex_unlock(&p->mu);
    return g;
}

static void *worker_main(void *arg) {
    lcv_worker *w = arg;
    struct lcv_threadpool *p = w->pool;
    uint_fast64_t seen = 0;
    for (;;) {
        uint_fast64_t g = wait_for_work(p, seen);
        if (g == seen) break; /* stopping */
        seen = g;
        run_chunk(p, w->id);
        if (atomic_fetch_sub(&p->pending, 1) == 1 && atomic_load(&p->caller_waiting)) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

/* Stops and joins the started workers and releases everything. */
static void pool_destroy(struct lcv_threadpool *p) {
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_started; i++) pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    free(p->workers);
    free(p->threads);
    free(p);
}

lcv_status lcv_threadpool_create(int n_threads, lcv_threadpool **out, lcv_err *e) {
    if (!out) return lcv_fail(e, LCV_ERR_INVALID_ARG, "lcv_threadpool_create: out is NULL");
    *out = NULL;
    if (n_threads < 1) n_threads = 1;
    if (n_threads > LCV_POOL_MAX_THREADS)
        return lcv_fail(e, LCV_ERR_INVALID_ARG,
                        "lcv_threadpool_create: %d threads requested, at most %d supported",
                        n_threads, LCV_POOL_MAX_THREADS);
    struct lcv_threadpool *p = calloc(1, sizeof *p);
    if (!p) return lcv_fail(e, LCV_ERR_NOMEM, "lcv_threadpool_create: out of memory");
    p->size = n_threads;
    atomic_init(&p->generation, 0);
    atomic_init(&p->pending, 0);
    atomic_init(&p->sleepers, 0);
    atomic_init(&p->caller_waiting, 0);
    atomic_init(&p->stop, 0);
    atomic_init(&p->busy, 0);
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p);
        return lcv_fail(e, LCV_ERR_NOMEM, "lcv_threadpool_create: mutex init failed");
    }
    if (pthread_cond_init(&p->wake, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        free(p);
        return lcv_fail(e, LCV_ERR_NOMEM, "lcv_threadpool_create: condition init failed");
    }
    if (pthread_cond_init(&p->done, NULL) != 0) {
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->mu);
        free(p);
        return lcv_fail(e, LCV_ERR_NOMEM, "lcv_threadpool_create: condition init failed");
    }
    int n_workers = n_threads - 1;
    if (n_workers > 0) {
        p->threads = calloc((size_t)n_workers, sizeof *p->threads);
        p->workers = calloc((size_t)n_workers, sizeof *p->workers);
        if (!p->threads || !p->workers) {
            pool_destroy(p);
            return lcv_fail(e, LCV_ERR_NOMEM, "lcv_threadpool_create: out of memory");
        }
    }
    for (int i = 0; i < n_workers; i++) {
        p->workers[i].pool = p;
        p->workers[i].id = i + 1;
        if (pthread_create(&p->threads[i], NULL, worker_main, &p->workers[i]) != 0) {
            pool_destroy(p);
            return lcv_fail(e, LCV_ERR_NOMEM,
                            "lcv_threadpool_create: could not start worker %d of %d", i + 1,
                            n_workers);
        }
        p->n_started = i + 1;
    }
    *out = p;
    return LCV_OK;
}

void lcv_threadpool_free(lcv_threadpool *p) {
    if (p) pool_destroy(p);
}

int lcv_threadpool_size(const lcv_threadpool *p) { return p ? p->size : 1; }

void lcv_threadpool_parallel_for(lcv_threadpool *p, int64_t n, int64_t grain, lcv_task_fn fn,
                                 void *ctx) {
    if (n <= 0 || !fn) return;
    if (grain < 1) grain = 1;
    int64_t k = n / grain; /* floor keeps every chunk at least `grain` items */
    if (!p || k <= 1 || p->size == 1) {
        fn(ctx, 0, n, 0);
        return;
    }
    /* A task that calls back into its own pool (or a second submitter) runs inline rather
     * than deadlocking on workers that are busy with the outer loop. */
    if (atomic_exchange(&p->busy, 1)) {
        fn(ctx, 0, n, 0);
        return;
    }
    if (k > p->size) k = p->size;
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->n_chunks = (int)k;
    atomic_store_explicit(&p->pending, p->size - 1, memory_order_relaxed);
    atomic_fetch_add(&p->generation, 1); /* seq_cst: publishes the job, pairs with sleepers */
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
    }
    run_chunk(p, 0);
    int done = 0;
    for (int spin = 0; spin < LCV_POOL_SPIN; spin++) {
        if (atomic_load_explicit(&p->pending, memory_order_acquire) == 0) {
            done = 1;
            break;
        }
        spin_wait(spin);
    }
    if (!done) {
        pthread_mutex_lock(&p->mu);
        atomic_store(&p->caller_waiting, 1);
        while (atomic_load(&p->pending) != 0) pthread_cond_wait(&p->done, &p->mu);
        atomic_store(&p->caller_waiting, 0);
        pthread_mutex_unlock(&p->mu);
    }
    atomic_store_explicit(&p->busy, 0, memory_order_release);
}
