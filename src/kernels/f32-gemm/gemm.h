/* gemm.h - packed fp32 GEMM: C[M,N] = A[M,K] * B[K,N] (+ bias, + residual, activation), with
 * per-ISA microkernels (scalar, AVX2+FMA, AVX-512, NEON) chosen from an lcv_isa at call time.
 * A constant operand is packed once (lcv_gemm_pack_a / lcv_gemm_pack_b, layout depends on the
 * ISA); the other is read in place or, given a caller's workspace, packed block by block (a
 * callback may produce B straight into panels, e.g. im2col). The call never allocates.
 * Results do not depend on the thread count (each output sums k in order). */
#ifndef LCV_GEMM_H
#define LCV_GEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../core/act.h"
#include "../../core/threadpool.h"

/* Activations the microkernels apply on registers; OTHER goes through lcv_act_apply_f32
 * after the store. */
typedef enum lcv_gemm_act_kind {
    LCV_GEMM_ACT_NONE = 0,
    LCV_GEMM_ACT_RELU,
    LCV_GEMM_ACT_CLIP,        /* clamp to [alpha, beta] */
    LCV_GEMM_ACT_LEAKYRELU,   /* x >= 0 ? x : alpha * x */
    LCV_GEMM_ACT_HARDSIGMOID, /* clamp(alpha * x + beta, 0, 1) */
    LCV_GEMM_ACT_HARDSWISH,   /* x * clamp(x / 6 + 0.5, 0, 1) */
    LCV_GEMM_ACT_OTHER
} lcv_gemm_act_kind;

typedef struct lcv_gemm_act {
    lcv_gemm_act_kind kind;
    float alpha, beta;
    const lcv_fused *fused; /* borrowed; used by OTHER */
} lcv_gemm_act;

/* What f means for the microkernels (f may be NULL: no activation). */
lcv_gemm_act lcv_gemm_act_resolve(const lcv_fused *f);

/* Microkernel tile of an ISA: rows of A (mr) and columns of B (nr) per register block.
 * isa must be concrete (not LCV_ISA_AUTO); a level of another architecture maps to scalar. */
void lcv_gemm_tile_dims(lcv_isa isa, int *mr, int *nr);

/* Bytes needed to pack A [M, K] (resp. B [K, N]) for isa; 0 when m, n or k < 1 or the size
 * overflows size_t. Packed buffers should be 64-byte aligned (posix_memalign). */
size_t lcv_gemm_pack_a_size(lcv_isa isa, int64_t m, int64_t k);
size_t lcv_gemm_pack_b_size(lcv_isa isa, int64_t k, int64_t n);

/* Packs alpha * A, A[M, K] read as a[i * lda + k] (trans: a[k * lda + i], i.e. a is [K, M]).
 * dst: lcv_gemm_pack_a_size bytes. */
void lcv_gemm_pack_a(lcv_isa isa, int64_t m, int64_t k, const float *a, int64_t lda, bool trans,
                     float alpha, float *dst);
/* Packs alpha * B, B[K, N] read as b[k * ldb + j] (trans: b[j * ldb + k], i.e. b is [N, K],
 * the Gemm transB=1 / linear-layer weight layout). dst: lcv_gemm_pack_b_size bytes. */
void lcv_gemm_pack_b(lcv_isa isa, int64_t k, int64_t n, const float *b, int64_t ldb, bool trans,
                     float alpha, float *dst);

/* One operand. A plain A is a[i * ld + k] (trans: a[k * ld + i]); a plain B is b[k * ld + j]
 * (row-major, e.g. an im2col buffer or an NCHW activation [K, HW]; trans is not supported for a
 * plain B - pack it). A packed operand (packed = true, ld and trans ignored) must come from the
 * matching lcv_gemm_pack_* for the same isa, m/n and k as the call. Borrowed. */
typedef struct lcv_gemm_operand {
    const float *data;
    int64_t ld;
    bool trans;
    bool packed;
} lcv_gemm_operand;

/* Applied to every output after the k sum, in this order: v = sum + bias; v += residual;
 * v = act(v) with lcv_act_f32 semantics (core/act.c). All pointers borrowed, may be NULL. */
typedef struct lcv_gemm_epilogue {
    const float *bias;      /* bias[i] per row (M values) or bias[j] per column (N values) */
    bool bias_per_col;      /* false: per row (conv: one per output channel); true: per column */
    const float *residual;  /* element (i, j) at residual[i * ld_residual + j]; must not alias C
                             * (C holds partial sums before the last K block adds it) */
    int64_t ld_residual;
    const lcv_fused *act;   /* only act/alpha/beta are used; NULL = none */
} lcv_gemm_epilogue;

/* Produces B rows [k0, k0 + kc) and columns [j0, j1) (j0 a multiple of nr) as nr-wide panels:
 * element (k, j) at dst[q * kc * nr + (k - k0) * nr + (j - j0 - q * nr)] for panel
 * q = (j - j0) / nr; the lanes of the last panel past j1 must be written too (zeros). Called
 * concurrently from several threads with different dst: must only read shared state. */
typedef void (*lcv_gemm_pack_fn)(const void *ctx, int64_t k0, int64_t kc, int64_t j0,
                                 int64_t j1, int nr, float *dst);

/* Workspace bytes a call with this isa and thread count may use (lcv_gemm_ws.buf): one block
 * of B panels per thread. 0 on overflow. */
size_t lcv_gemm_ws_size(lcv_isa isa, int threads);

typedef struct lcv_gemm_args {
    lcv_isa isa;            /* concrete; must match the packing of packed operands */
    int64_t m, n, k;        /* m, n >= 1; k >= 0 (k == 0 gives bias/residual/act of 0) */
    lcv_gemm_operand a, b;
    float *c;               /* element (i, j) at c[i * ldc + j]; must not alias A or B */
    int64_t ldc;
    const lcv_gemm_epilogue *epi; /* NULL = plain product */
} lcv_gemm_args;

/* Workspace for lcv_gemm_run_ws. All borrowed. */
typedef struct lcv_gemm_ws {
    /* 64-byte aligned, lcv_gemm_ws_size(isa, lcv_threadpool_size(pool)) bytes. With it a
     * plain B is copied block by block into panels (contiguous, aligned reads) when several
     * row panels of A reuse it. */
    float *buf;
    /* Optional (NULL: none): B comes from pack_b(pack_b_ctx, ...) and the args' b is ignored. */
    lcv_gemm_pack_fn pack_b;
    const void *pack_b_ctx;
} lcv_gemm_ws;

/* Computes C = epilogue(A * B). Threads from pool (NULL: the calling thread) each take an
 * equal share of the row panels (or column panels, whichever operand is the smaller one to
 * re-read); the per-element result is identical for any thread count. Fails with
 * LCV_ERR_INVALID_ARG (message in e, which may be NULL) on bad dims, NULL pointers or a
 * transposed plain B; does not allocate. */
lcv_status lcv_gemm_run(const lcv_gemm_args *g, lcv_threadpool *pool, lcv_err *e);
/* The same with a workspace (ws may be NULL: lcv_gemm_run); also fails when ws has pack_b but
 * no buf. Must not be called from inside a task of the same pool (the per-thread slices of
 * buf would be shared). */
lcv_status lcv_gemm_run_ws(const lcv_gemm_args *g, const lcv_gemm_ws *ws, lcv_threadpool *pool,
                           lcv_err *e);

#endif
