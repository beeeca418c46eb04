/* threadpool.h - a persistent pool of worker threads running data-parallel loops.
 * Work is split into contiguous ranges decided only by (n, grain, thread count), so a kernel
 * whose per-range results do not depend on the split gives identical results for any thread
 * count. A pool belongs to one session (one thread submits at a time). */
#ifndef LCV_THREADPOOL_H
#define LCV_THREADPOOL_H

#include <stdint.h>

#include "core.h"

typedef struct lcv_threadpool lcv_threadpool;

/* Runs items [begin, end) of a loop; thread is in [0, lcv_threadpool_size) and tells which
 * per-thread scratch slice the task may use. */
typedef void (*lcv_task_fn)(void *ctx, int64_t begin, int64_t end, int thread);

/* Creates a pool of n_threads in total (the calling thread counts as one: n_threads - 1
 * workers are started). n_threads < 1 is treated as 1. *out: caller frees. */
lcv_status lcv_threadpool_create(int n_threads, lcv_threadpool **out, lcv_err *e);
/* Stops and joins the workers. Accepts NULL. */
void lcv_threadpool_free(lcv_threadpool *p);
/* Number of threads (>= 1); 1 for a NULL pool. */
int lcv_threadpool_size(const lcv_threadpool *p);
/* Calls fn over [0, n) split into at most size chunks of at least `grain` items (grain < 1:
 * 1), and returns when all are done. A NULL pool or size 1 runs fn(ctx, 0, n, 0) inline, and
 * so does a call made from inside a task of the same pool (reported as thread 0: such a task
 * must not use per-thread scratch slices). Does not allocate. */
void lcv_threadpool_parallel_for(lcv_threadpool *p, int64_t n, int64_t grain, lcv_task_fn fn,
                                 void *ctx);

#endif
