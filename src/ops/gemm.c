/* gemm.c - Gemm: Y = alpha * A' * B' + beta * C with transA/transB and C broadcast one way to
 * [M, N]. Shape inference with validation and the reference kernels: float32 accumulates in
 * float, float64 in double, other float types in double, integers in int64 (wrapping). */
#include <stdlib.h>

#include "op.h"

/* Cache blocking of the i-k-j loop: a KB x NB block of B (128 KiB of float) stays in L2 while
 * every row of A passes over it. Each output still sums k in increasing order. */
#define GEMM_KB 128
#define GEMM_NB 256

typedef struct gemm_geom {
    int64_t m, n, k;
    bool ta, tb;
    int c_ndim;
    int64_t c_dims[2]; /* C's shape right-aligned to [M, N] (1 where broadcast) */
} gemm_geom;

static bool gemm_dtype_ok(lcv_dtype d) {
    return lcv_dtype_is_float(d) || d == LCV_DTYPE_INT32 || d == LCV_DTYPE_INT64 ||
           d == LCV_DTYPE_UINT32 || d == LCV_DTYPE_UINT64;
}

static lcv_status gemm_geom_get(lcv_opctx *c, gemm_geom *g) {
    const lcv_tensor *a = lcv_op_input(c, 0), *b = lcv_op_input(c, 1), *cc = lcv_op_input(c, 2);
    if (!a || !b) return lcv_op_fail(c, LCV_ERR_SHAPE, "inputs A and B are required");
    if (!gemm_dtype_ok(a->dtype))
        return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "A has unsupported dtype %s",
                           lcv_dtype_name(a->dtype));
    if (b->dtype != a->dtype || (cc && cc->dtype != a->dtype))
        return lcv_op_fail(c, LCV_ERR_SHAPE, "A is %s but B is %s%s%s", lcv_dtype_name(a->dtype),
                           lcv_dtype_name(b->dtype), cc ? " and C is " : "",
                           cc ? lcv_dtype_name(cc->dtype) : "");
    char sa[128], sb[128], sc[128];
    lcv_shape_str(a->ndim, a->dims, sa, sizeof sa);
    lcv_shape_str(b->ndim, b->dims, sb, sizeof sb);
    if (a->ndim != 2 || b->ndim != 2)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "A %s and B %s must both be 2-D", sa, sb);
    g->ta = lcv_attr_int(c->node, "transA", 0) != 0;
    g->tb = lcv_attr_int(c->node, "transB", 0) != 0;
    g->m = a->dims[g->ta ? 1 : 0];
    g->k = a->dims[g->ta ? 0 : 1];
    int64_t kb = b->dims[g->tb ? 1 : 0];
    g->n = b->dims[g->tb ? 0 : 1];
    if (kb != g->k)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "inner dims differ: A %s (transA=%d) has K=%lld, "
                           "B %s (transB=%d) has K=%lld", sa, g->ta, (long long)g->k, sb, g->tb,
                           (long long)kb);
    g->c_ndim = 0;
    g->c_dims[0] = g->c_dims[1] = 1;
    if (cc) {
        lcv_shape_str(cc->ndim, cc->dims, sc, sizeof sc);
        if (cc->ndim > 2)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "C %s has rank > 2", sc);
        const int64_t want[2] = {g->m, g->n};
        for (int i = 0; i < cc->ndim; i++) {
            int64_t d = cc->dims[i], w = want[2 - cc->ndim + i];
            if (d != 1 && d != w)
                return lcv_op_fail(c, LCV_ERR_SHAPE, "C %s does not broadcast to [%lld,%lld]",
                                   sc, (long long)g->m, (long long)g->n);
            g->c_dims[2 - cc->ndim + i] = d;
        }
        g->c_ndim = cc->ndim;
    }
    int64_t dims[2] = {g->m, g->n}, numel;
    if (!lcv_shape_numel(2, dims, &numel))
        return lcv_op_fail(c, LCV_ERR_SHAPE, "output [%lld,%lld] is too large", (long long)g->m,
                           (long long)g->n);
    return LCV_OK;
}

lcv_status lcv_infer_gemm(lcv_opctx *c) {
    gemm_geom g;
    lcv_status st = gemm_geom_get(c, &g);
    if (st != LCV_OK) return st;
    const int64_t dims[2] = {g.m, g.n};
    lcv_op_set_out(c, 0, c->in[0]->dtype, 2, dims);
    return LCV_OK;
}

/* Y = A' * B' for float and double, A' read through strides so transA costs nothing. With B
 * row-major ([K, N]) the blocked i-k-j loop runs over contiguous rows of B and Y; with B
 * transposed ([N, K]) each output is a dot product over contiguous rows of B. */
#define LCV_GEMM_AB(NAME, T)                                                                      \
    static void NAME(const gemm_geom *g, const T *a, const T *b, T *y) {                         \
        int64_t M = g->m, N = g->n, K = g->k;                                                     \
        int64_t as_i = g->ta ? 1 : K, as_k = g->ta ? M : 1;                                       \
        if (g->tb) {                                                                              \
            for (int64_t i = 0; i < M; i++)                                                       \
                for (int64_t j = 0; j < N; j++) {                                                 \
                    const T *br = b + j * K;                                                      \
                    T acc = 0;                                                                    \
                    for (int64_t k = 0; k < K; k++) acc += a[i * as_i + k * as_k] * br[k];        \
                    y[i * N + j] = acc;                                                           \
                }                                                                                 \
            return;                                                                               \
        }                                                                                         \
        for (int64_t i = 0; i < M * N; i++) y[i] = 0;                                             \
        for (int64_t j0 = 0; j0 < N; j0 += GEMM_NB) {                                             \
            int64_t nj = N - j0 < GEMM_NB ? N - j0 : GEMM_NB;                                     \
            for (int64_t k0 = 0; k0 < K; k0 += GEMM_KB) {                                         \
                int64_t k1 = K - k0 < GEMM_KB ? K : k0 + GEMM_KB;                                 \
                for (int64_t i = 0; i < M; i++) {                                                 \
                    T *restrict yr = y + i * N + j0;                                              \
                    for (int64_t k = k0; k < k1; k++) {                                           \
                        T av = a[i * as_i + k * as_k];                                            \
                        const T *restrict br = b + k * N + j0;                                    \
                        for (int64_t j = 0; j < nj; j++) yr[j] += av * br[j];                     \
                    }                                                                             \
                }                                                                                 \
            }                                                                                     \
        }                                                                                         \
    }

LCV_GEMM_AB(gemm_ab_f32, float)
LCV_GEMM_AB(gemm_ab_f64, double)

/* Index into C (broadcast to [M, N]) for output (i, j). */
static int64_t c_index(const gemm_geom *g, int64_t i, int64_t j) {
    return (g->c_dims[0] == 1 ? 0 : i) * g->c_dims[1] + (g->c_dims[1] == 1 ? 0 : j);
}

/* Y = alpha * Y + beta * C in place, for float and double. */
#define LCV_GEMM_EPI(NAME, T)                                                                     \
    static void NAME(const gemm_geom *g, T alpha, T beta, const T *cc, T *y) {                   \
        for (int64_t i = 0; i < g->m; i++)                                                        \
            for (int64_t j = 0; j < g->n; j++) {                                                  \
                T v = alpha * y[i * g->n + j];                                                    \
                if (cc) v += beta * cc[c_index(g, i, j)];                                         \
                y[i * g->n + j] = v;                                                              \
            }                                                                                     \
    }

LCV_GEMM_EPI(gemm_epi_f32, float)
LCV_GEMM_EPI(gemm_epi_f64, double)

/* Any other dtype, one element at a time: integers exactly in int64 (wrapping on overflow, as
 * unsigned arithmetic), other floats in double. */
static void gemm_generic(const gemm_geom *g, const lcv_tensor *a, const lcv_tensor *b,
                         const lcv_tensor *cc, double alpha, double beta, lcv_tensor *y) {
    lcv_dtype dt = a->dtype;
    bool is_int = lcv_dtype_is_int(dt);
    int64_t M = g->m, N = g->n, K = g->k;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double accf = 0;
            uint64_t acci = 0;
            for (int64_t k = 0; k < K; k++) {
                int64_t ia = g->ta ? k * M + i : i * K + k;
                int64_t ib = g->tb ? j * K + k : k * N + j;
                if (is_int)
                    acci += (uint64_t)lcv_load_i64(dt, a->data, ia) *
                            (uint64_t)lcv_load_i64(dt, b->data, ib);
                else
                    accf += lcv_load_f64(dt, a->data, ia) * lcv_load_f64(dt, b->data, ib);
            }
            if (is_int && alpha == 1.0 && (!cc || beta == 1.0)) {
                if (cc) acci += (uint64_t)lcv_load_i64(dt, cc->data, c_index(g, i, j));
                lcv_store_i64(dt, y->data, i * N + j, (int64_t)acci);
                continue;
            }
            double v = alpha * (is_int ? (double)(int64_t)acci : accf);
            if (cc) v += beta * lcv_load_f64(dt, cc->data, c_index(g, i, j));
            lcv_store_f64(dt, y->data, i * N + j, v);
        }
}

lcv_status lcv_exec_gemm(lcv_opctx *c) {
    gemm_geom g;
    lcv_status st = gemm_geom_get(c, &g);
    if (st != LCV_OK) return st;
    const lcv_tensor *a = c->in[0], *b = c->in[1], *cc = lcv_op_input(c, 2);
    float alpha = lcv_attr_float(c->node, "alpha", 1.0f);
    float beta = lcv_attr_float(c->node, "beta", 1.0f);
    lcv_tensor *y = c->out[0];
    if (a->dtype == LCV_DTYPE_FLOAT32) {
        gemm_ab_f32(&g, a->data, b->data, y->data);
        gemm_epi_f32(&g, alpha, beta, cc ? cc->data : NULL, y->data);
    } else if (a->dtype == LCV_DTYPE_FLOAT64) {
        gemm_ab_f64(&g, a->data, b->data, y->data);
        gemm_epi_f64(&g, alpha, beta, cc ? cc->data : NULL, y->data);
    } else {
        gemm_generic(&g, a, b, cc, alpha, beta, y);
    }
    return LCV_OK;
}
