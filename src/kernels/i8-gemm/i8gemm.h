/* i8gemm.h - 8-bit integer GEMM with exact int32 sums and a fused requantizing epilogue:
 * C[M,N] = epi(sum_k A[i,k] * B[k,j]) where one operand holds the uint8 activations and the
 * other the int8 weights (other signednesses are shifted into this form by the caller, see
 * lcv_i8gemm_pack). Operands are packed in quads of k (4 bytes per line per step), the form
 * vpdpbusd reads; the kernel per ISA: scalar, AVX2 (exact 16-bit widening + vpmaddwd, no
 * saturating vpmaddubsw) and AVX-512 VNNI. Sums wrap modulo 2^32 like ONNX's int32, so every
 * kernel, blocking and thread split gives the same bits. */
#ifndef LCV_I8GEMM_H
#define LCV_I8GEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../core/cpu.h"
#include "../../core/threadpool.h"
#include "i8_requant.h"

/* The kernel a plan picked (from its lcv_isa and the CPU); packed data belongs to one kind. */
typedef enum lcv_i8gemm_kind {
    LCV_I8GEMM_SCALAR = 0,
    LCV_I8GEMM_AVX2 = 1,
    LCV_I8GEMM_VNNI512 = 2
} lcv_i8gemm_kind;

/* The best kernel for isa on this CPU (VNNI needs AVX-512 VNNI besides isa AVX512). */
lcv_i8gemm_kind lcv_i8gemm_select(lcv_isa isa);
/* Whether this CPU runs kind (for tests visiting every kernel). */
bool lcv_i8gemm_supported(lcv_i8gemm_kind kind);
const char *lcv_i8gemm_name(lcv_i8gemm_kind kind);

/* The widest nr of any kernel (pack_b callbacks may size stack rows by it). */
#define LCV_I8GEMM_NR_MAX 32

/* Register tile: mr rows of A by nr columns of B. */
void lcv_i8gemm_tile_dims(lcv_i8gemm_kind kind, int *mr, int *nr);

/* k rounded up to a multiple of 4 (the packed depth). */
static inline int64_t lcv_i8gemm_kq(int64_t k) { return (k + 3) & ~(int64_t)3; }

/* Bytes of A [m, k] (is_a) or B [k, n] (!is_a; lines = n) packed for kind; 0 on bad dims or
 * overflow. The AVX2 kernel keeps A widened to 16 bits, so A may take twice the bytes. */
size_t lcv_i8gemm_pack_size(lcv_i8gemm_kind kind, bool is_a, int64_t lines, int64_t k);

/* Packs `lines` lines of depth k: element (l, d) = src[l * s_line + d * s_depth] ^ flip (flip
 * 0x80 shifts int8 to uint8 or back: the caller adds 128 to / subtracts 128 from the zero
 * point, which leaves every (x - zx) unchanged). is_a: A's rows (l = i), else B's columns
 * (l = j). `is_u8` says how the packed bytes are read (AVX2 widens A). sums (may be NULL): the
 * sum over d of each packed line's value, as the operand reads it, for the zero point terms.
 * dst: lcv_i8gemm_pack_size bytes. */
void lcv_i8gemm_pack(lcv_i8gemm_kind kind, bool is_a, bool is_u8, int64_t lines, int64_t k,
                     const uint8_t *src, int64_t s_line, int64_t s_depth, uint8_t flip,
                     int32_t *sums, void *dst);

/* Produces the B columns [j0, j1) (j0 a multiple of nr) over the whole depth as nr-wide quad
 * panels: element (k, j) at dst[q * kq * nr + (k / 4) * nr * 4 + (j - j0 - q * nr) * 4 + k % 4]
 * for panel q = (j - j0) / nr, kq = lcv_i8gemm_kq(k); rows k >= K and lanes past j1 must be
 * zero. Called concurrently with different dst: must only read shared state. */
typedef void (*lcv_i8gemm_pack_fn)(const void *ctx, int64_t j0, int64_t j1, int nr,
                                   uint8_t *dst);

/* One quad of a B panel from four source rows: dst[l * 4 + e] = rows[e][l] ^ flip for
 * l < n (what a pack_b callback does after gathering four k rows of its columns). */
void lcv_i8gemm_interleave4(const uint8_t *const rows[4], int64_t n, uint8_t flip,
                            uint8_t *dst);

/* lcv_i8gemm_interleave4 over n columns (a multiple of nr) cut into nr-wide panels, panel p
 * (columns [p * nr, p * nr + nr)) written at dst + p * panel_stride: one call per quad of a
 * whole B block, so pack_b callbacks pay the call and the dispatch once per block row. */
void lcv_i8gemm_interleave4_panels(const uint8_t *const rows[4], int64_t n, int nr,
                                   int64_t panel_stride, uint8_t flip, uint8_t *dst);

/* Output element type. */
typedef enum lcv_i8_out { LCV_I8_OUT_U8, LCV_I8_OUT_S8, LCV_I8_OUT_S32 } lcv_i8_out;

/* The epilogue, per element (i, j), in int32 arithmetic modulo 2^32:
 *     v = acc + row_add[i] + col_add[j] - row_z[i] * bsum[j] - col_z[j] * a_sums[i]
 * (a NULL array contributes nothing; bsum[j] is the sum over k of B's column j, computed by
 * the driver), then for 8-bit outputs lcv_i8_requant(v, mult, zy, lo, hi) with mult =
 * row_mult[i], col_mult[j] or `mult` (first non-NULL). All pointers borrowed. */
typedef struct lcv_i8gemm_epi {
    const int32_t *row_add, *row_z, *a_sums;
    const int32_t *col_add, *col_z;
    const float *row_mult, *col_mult;
    float mult;
    int32_t zy, lo, hi; /* output zero point and clamp (lo/hi within the output type) */
    lcv_i8_out out;
} lcv_i8gemm_epi;

/* Workspace bytes (64-byte aligned) lcv_i8gemm_run needs with a pack_b callback or a plain
 * packed B and row_z: B blocks and their column sums, per thread. 0 on overflow. */
size_t lcv_i8gemm_ws_size(lcv_i8gemm_kind kind, int64_t k, int threads);

typedef struct lcv_i8gemm_args {
    lcv_i8gemm_kind kind;
    int64_t m, n, k;    /* m, n >= 1, k >= 1 */
    bool a_u8;          /* A is the uint8 operand and B the int8 one; else the reverse */
    const void *a;      /* packed A (lcv_i8gemm_pack, is_a, same kind, m and k) */
    const uint8_t *b;   /* packed B, or NULL when pack_b produces it */
    lcv_i8gemm_pack_fn pack_b;
    const void *pack_ctx;
    uint8_t *ws;        /* lcv_i8gemm_ws_size(kind, k, lcv_threadpool_size(pool)) bytes */
    const lcv_i8gemm_epi *epi;
    void *c;            /* element (i, j) at c[i * ldc + j] of the output type */
    int64_t ldc;
} lcv_i8gemm_args;

/* Runs the product over the pool (NULL: calling thread) in shares fixed by (m, n, threads).
 * Fails with LCV_ERR_INVALID_ARG (message in e, may be NULL) on bad dims or missing pointers.
 * Does not allocate; must not be called from inside a task of the same pool. */
lcv_status lcv_i8gemm_run(const lcv_i8gemm_args *g, lcv_threadpool *pool, lcv_err *e);

#endif
