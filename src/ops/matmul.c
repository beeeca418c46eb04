/* matmul.c - MatMul with numpy semantics (1-D operands promoted and dropped again, leading
 * batch dims broadcast) and Einsum (explicit and implicit equations, ellipsis, repeated
 * labels) as plain reference kernels. float32 accumulates in float; float64 and the other
 * float types in double; integers in int64 with wrap-around. */
#include <string.h>

#include "op.h"

/* Cache blocking of the i-k-j loop: a KB x NB block of B (128 KiB of float) stays in L2 while
 * every row of A passes over it. Each output still sums k in increasing order. */
#define MM_KB 128
#define MM_NB 256

typedef struct mm_geom {
    int64_t m, n, k;
    int nbat;                      /* rank of the broadcast batch shape */
    int64_t bat[LCV_MAX_DIMS];     /* broadcast batch shape */
    int na, nb;                    /* batch ranks of A and B */
    int64_t abat[LCV_MAX_DIMS], bbat[LCV_MAX_DIMS];
    int out_ndim;
    int64_t out[LCV_MAX_DIMS];
} mm_geom;

static bool mm_dtype_ok(lcv_dtype d) {
    return lcv_dtype_is_float(d) || d == LCV_DTYPE_INT32 || d == LCV_DTYPE_INT64 ||
           d == LCV_DTYPE_UINT32 || d == LCV_DTYPE_UINT64;
}

static lcv_status mm_geom_get(lcv_opctx *c, mm_geom *g) {
    const lcv_tensor *a = lcv_op_input(c, 0), *b = lcv_op_input(c, 1);
    if (!a || !b) return lcv_op_fail(c, LCV_ERR_SHAPE, "inputs A and B are required");
    if (!mm_dtype_ok(a->dtype))
        return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "A has unsupported dtype %s",
                           lcv_dtype_name(a->dtype));
    if (b->dtype != a->dtype)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "A is %s but B is %s", lcv_dtype_name(a->dtype),
                           lcv_dtype_name(b->dtype));
    char sa[128], sb[128];
    lcv_shape_str(a->ndim, a->dims, sa, sizeof sa);
    lcv_shape_str(b->ndim, b->dims, sb, sizeof sb);
    if (a->ndim < 1 || b->ndim < 1)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "A %s and B %s must have rank >= 1", sa, sb);
    /* A 1-D A is a row [1, K], a 1-D B a column [K, 1]; those unit dims are dropped again. */
    g->m = a->ndim == 1 ? 1 : a->dims[a->ndim - 2];
    g->k = a->dims[a->ndim - 1];
    int64_t kb = b->ndim == 1 ? b->dims[0] : b->dims[b->ndim - 2];
    g->n = b->ndim == 1 ? 1 : b->dims[b->ndim - 1];
    if (kb != g->k)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "inner dims differ: A %s has K=%lld, B %s has "
                           "K=%lld", sa, (long long)g->k, sb, (long long)kb);
    g->na = a->ndim > 2 ? a->ndim - 2 : 0;
    g->nb = b->ndim > 2 ? b->ndim - 2 : 0;
    memcpy(g->abat, a->dims, sizeof(int64_t) * (size_t)g->na);
    memcpy(g->bbat, b->dims, sizeof(int64_t) * (size_t)g->nb);
    lcv_status st = lcv_op_broadcast(c, g->na, g->abat, g->nb, g->bbat, &g->nbat, g->bat);
    if (st != LCV_OK) return st;
    g->out_ndim = g->nbat;
    memcpy(g->out, g->bat, sizeof(int64_t) * (size_t)g->nbat);
    if (a->ndim > 1) g->out[g->out_ndim++] = g->m;
    if (b->ndim > 1) g->out[g->out_ndim++] = g->n;
    int64_t numel;
    if (!lcv_shape_numel(g->out_ndim, g->out, &numel)) {
        char so[128];
        return lcv_op_fail(c, LCV_ERR_SHAPE, "output %s is too large",
                           lcv_shape_str(g->out_ndim, g->out, so, sizeof so));
    }
    return LCV_OK;
}

lcv_status lcv_infer_matmul(lcv_opctx *c) {
    mm_geom g;
    lcv_status st = mm_geom_get(c, &g);
    if (st != LCV_OK) return st;
    lcv_op_set_out(c, 0, c->in[0]->dtype, g.out_ndim, g.out);
    return LCV_OK;
}

/* One [M, K] x [K, N] product for float and double: blocked i-k-j over contiguous rows. */
#define LCV_MM_KERNEL(NAME, T)                                                                    \
    static void NAME(int64_t M, int64_t N, int64_t K, const T *a, const T *b, T *y) {           \
        for (int64_t i = 0; i < M * N; i++) y[i] = 0;                                             \
        for (int64_t j0 = 0; j0 < N; j0 += MM_NB) {                                               \
            int64_t nj = N - j0 < MM_NB ? N - j0 : MM_NB;                                         \
            for (int64_t k0 = 0; k0 < K; k0 += MM_KB) {                                           \
                int64_t k1 = K - k0 < MM_KB ? K : k0 + MM_KB;                                     \
                for (int64_t i = 0; i < M; i++) {                                                 \
                    T *restrict yr = y + i * N + j0;                                              \
                    for (int64_t k = k0; k < k1; k++) {                                           \
                        T av = a[i * K + k];                                                      \
                        const T *restrict br = b + k * N + j0;                                    \
                        for (int64_t j = 0; j < nj; j++) yr[j] += av * br[j];                     \
                    }                                                                             \
                }                                                                                 \
            }                                                                                     \
        }                                                                                         \
    }

LCV_MM_KERNEL(mm_f32, float)
LCV_MM_KERNEL(mm_f64, double)

/* Other dtypes element by element: integers exactly (wrapping), other floats in double. */
static void mm_generic(lcv_dtype dt, int64_t M, int64_t N, int64_t K, const void *a,
                       int64_t aoff, const void *b, int64_t boff, void *y, int64_t yoff) {
    bool is_int = lcv_dtype_is_int(dt);
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double accf = 0;
            uint64_t acci = 0;
            for (int64_t k = 0; k < K; k++) {
                if (is_int)
                    acci += (uint64_t)lcv_load_i64(dt, a, aoff + i * K + k) *
                            (uint64_t)lcv_load_i64(dt, b, boff + k * N + j);
                else
                    accf += lcv_load_f64(dt, a, aoff + i * K + k) *
                            lcv_load_f64(dt, b, boff + k * N + j);
            }
            if (is_int) lcv_store_i64(dt, y, yoff + i * N + j, (int64_t)acci);
            else lcv_store_f64(dt, y, yoff + i * N + j, accf);
        }
}

lcv_status lcv_exec_matmul(lcv_opctx *c) {
    mm_geom g;
    lcv_status st = mm_geom_get(c, &g);
    if (st != LCV_OK) return st;
    const lcv_tensor *a = c->in[0], *b = c->in[1];
    lcv_tensor *y = c->out[0];
    int64_t nbatch = 1, bstr[LCV_MAX_DIMS];
    for (int i = 0; i < g.nbat; i++) nbatch *= g.bat[i];
    lcv_shape_strides(g.nbat, g.bat, bstr);
    int64_t mk = g.m * g.k, kn = g.k * g.n, mn = g.m * g.n;
    for (int64_t bi = 0; bi < nbatch; bi++) {
        int64_t ao = lcv_broadcast_index(bi, g.nbat, g.bat, bstr, g.na, g.abat) * mk;
        int64_t bo = lcv_broadcast_index(bi, g.nbat, g.bat, bstr, g.nb, g.bbat) * kn;
        int64_t yo = bi * mn;
        if (a->dtype == LCV_DTYPE_FLOAT32)
            mm_f32(g.m, g.n, g.k, (const float *)a->data + ao, (const float *)b->data + bo,
                   (float *)y->data + yo);
        else if (a->dtype == LCV_DTYPE_FLOAT64)
            mm_f64(g.m, g.n, g.k, (const double *)a->data + ao, (const double *)b->data + bo,
                   (double *)y->data + yo);
        else
            mm_generic(a->dtype, g.m, g.n, g.k, a->data, ao, b->data, bo, y->data, yo);
    }
    return LCV_OK;
}

/* ---- Einsum ---------------------------------------------------------------------------- */

/* Labels: 'A'-'Z' are 0-25 and 'a'-'z' 26-51 (so sorting ids sorts like ASCII, the order of an
 * implicit output); the dims an ellipsis stands for get 52.. right-aligned across operands. */
#define ES_LETTERS 52
#define ES_LABELS (ES_LETTERS + LCV_MAX_DIMS)
#define ES_MAX_IN 16

typedef struct es_geom {
    int n_in;
    int ell;                                   /* dims covered by "..." (broadcast over inputs) */
    int rank[ES_MAX_IN];
    int label[ES_MAX_IN][LCV_MAX_DIMS];        /* label id of each input dim */
    bool used[ES_LABELS];
    int64_t size[ES_LABELS];
    int out_ndim;
    int out_label[LCV_MAX_DIMS];
    int64_t out_dims[LCV_MAX_DIMS];
    int n_sum;
    int sum_label[ES_LABELS];                  /* labels summed over */
} es_geom;

static int es_letter(char ch) {
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return 26 + (ch - 'a');
    return -1;
}

/* Parses one term (without spaces) into letter ids; *ell_at is the letter position where "..."
 * stands, or -1. Returns the number of letters or -1 on a bad character / second ellipsis. */
static int es_term(const char *s, size_t len, int *ids, int *ell_at) {
    int n = 0;
    *ell_at = -1;
    for (size_t i = 0; i < len;) {
        if (s[i] == '.') {
            if (*ell_at >= 0 || i + 3 > len || s[i + 1] != '.' || s[i + 2] != '.') return -1;
            *ell_at = n;
            i += 3;
            continue;
        }
        int id = es_letter(s[i]);
        if (id < 0 || n >= LCV_MAX_DIMS) return -1;
        ids[n++] = id;
        i++;
    }
    return n;
}

static lcv_status es_geom_get(lcv_opctx *c, es_geom *g) {
    memset(g, 0, sizeof *g);
    const char *eq = lcv_attr_str(c->node, "equation", NULL);
    if (!eq) return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "attribute 'equation' is required");
    char buf[256];
    size_t len = 0;
    for (const char *p = eq; *p; p++) {
        if (*p == ' ' || *p == '\t') continue;
        if (len + 1 >= sizeof buf)
            return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "equation is too long");
        buf[len++] = *p;
    }
    buf[len] = '\0';
    g->n_in = c->n_in;
    if (g->n_in < 1 || g->n_in > ES_MAX_IN)
        return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "%d inputs; 1 to %d supported", g->n_in,
                           ES_MAX_IN);
    const lcv_tensor *x0 = lcv_op_input(c, 0);
    for (int t = 0; t < g->n_in; t++) {
        const lcv_tensor *x = lcv_op_input(c, t);
        if (!x) return lcv_op_fail(c, LCV_ERR_SHAPE, "input %d is missing", t);
        if (!mm_dtype_ok(x->dtype) || x->dtype != x0->dtype)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "input %d has dtype %s; all inputs must share "
                               "one numeric dtype", t, lcv_dtype_name(x->dtype));
    }
    char *arrow = strstr(buf, "->");
    size_t lhs_len = arrow ? (size_t)(arrow - buf) : len;

    /* Inputs: letters and the ellipsis's dims. */
    int ids[ES_MAX_IN][LCV_MAX_DIMS], nlet[ES_MAX_IN], ell_at[ES_MAX_IN], ell_rank[ES_MAX_IN];
    int count[ES_LETTERS] = {0};
    size_t pos = 0;
    bool any_ell = false;
    for (int t = 0; t < g->n_in; t++) {
        size_t end = pos;
        while (end < lhs_len && buf[end] != ',') end++;
        if (t == g->n_in - 1 ? end != lhs_len : end >= lhs_len)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "equation '%s' has a different number of "
                               "terms than the %d inputs", eq, g->n_in);
        nlet[t] = es_term(buf + pos, end - pos, ids[t], &ell_at[t]);
        if (nlet[t] < 0)
            return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "term %d of equation '%s' is malformed",
                               t, eq);
        const lcv_tensor *x = c->in[t];
        ell_rank[t] = x->ndim - nlet[t];
        if (ell_at[t] < 0 ? ell_rank[t] != 0 : ell_rank[t] < 0)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "input %d has rank %d but its term in '%s' "
                               "names %d dims", t, x->ndim, eq, nlet[t]);
        if (ell_at[t] >= 0) any_ell = true;
        if (ell_rank[t] > g->ell) g->ell = ell_rank[t];
        for (int i = 0; i < nlet[t]; i++) count[ids[t][i]]++;
        pos = end + 1;
    }
    for (int t = 0; t < g->n_in; t++) {
        const lcv_tensor *x = c->in[t];
        g->rank[t] = x->ndim;
        for (int d = 0, li = 0; d < x->ndim; d++) {
            int lab;
            if (ell_at[t] >= 0 && li == ell_at[t] && d - li < ell_rank[t])
                lab = ES_LETTERS + (g->ell - ell_rank[t]) + (d - li);
            else
                lab = ids[t][li++];
            g->label[t][d] = lab;
            int64_t sz = x->dims[d];
            if (!g->used[lab] || (lab >= ES_LETTERS && g->size[lab] == 1)) {
                g->size[lab] = sz;
            } else if (g->size[lab] != sz && !(lab >= ES_LETTERS && sz == 1)) {
                /* Letters must agree exactly; ellipsis dims broadcast like numpy. */
                char sx[128];
                return lcv_op_fail(c, LCV_ERR_SHAPE, "label of input %d dim %d has size %lld "
                                   "but %lld elsewhere (input %s, equation '%s')", t, d,
                                   (long long)sz, (long long)g->size[lab],
                                   lcv_shape_str(x->ndim, x->dims, sx, sizeof sx), eq);
            }
            g->used[lab] = true;
        }
    }

    /* Output labels. */
    bool in_out[ES_LABELS] = {false};
    if (arrow) {
        int oids[LCV_MAX_DIMS], oell;
        int no = es_term(arrow + 2, len - lhs_len - 2, oids, &oell);
        if (no < 0)
            return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "output term of '%s' is malformed", eq);
        if (oell >= 0 && !any_ell)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "output of '%s' has '...' but no input does",
                               eq);
        if (no + (oell >= 0 ? g->ell : 0) > LCV_MAX_DIMS)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "output of '%s' has too many dims", eq);
        for (int i = 0; i <= no; i++) {
            if (i == oell)
                for (int e = 0; e < g->ell; e++) g->out_label[g->out_ndim++] = ES_LETTERS + e;
            if (i == no) break;
            if (count[oids[i]] == 0 || in_out[oids[i]])
                return lcv_op_fail(c, LCV_ERR_SHAPE, "output label %d of '%s' is repeated or "
                                   "absent from the inputs", i, eq);
            in_out[oids[i]] = true;
            g->out_label[g->out_ndim++] = oids[i];
        }
    } else {
        for (int e = 0; e < g->ell; e++) g->out_label[g->out_ndim++] = ES_LETTERS + e;
        for (int l = 0; l < ES_LETTERS; l++)
            if (count[l] == 1) {
                if (g->out_ndim >= LCV_MAX_DIMS)
                    return lcv_op_fail(c, LCV_ERR_SHAPE, "output of '%s' has too many dims", eq);
                g->out_label[g->out_ndim++] = l;
            }
    }
    for (int i = 0; i < g->out_ndim; i++) {
        in_out[g->out_label[i]] = true;
        g->out_dims[i] = g->size[g->out_label[i]];
    }
    for (int l = 0; l < ES_LABELS; l++)
        if (g->used[l] && !in_out[l]) g->sum_label[g->n_sum++] = l;
    int64_t numel;
    if (!lcv_shape_numel(g->out_ndim, g->out_dims, &numel))
        return lcv_op_fail(c, LCV_ERR_SHAPE, "output of '%s' is too large", eq);
    return LCV_OK;
}

lcv_status lcv_infer_einsum(lcv_opctx *c) {
    es_geom g;
    lcv_status st = es_geom_get(c, &g);
    if (st != LCV_OK) return st;
    lcv_op_set_out(c, 0, c->in[0]->dtype, g.out_ndim, g.out_dims);
    return LCV_OK;
}

/* Advances the label values of the labels in list (odometer, last fastest); false on wrap. */
static bool es_next(int64_t *val, const int64_t *size, const int *list, int n) {
    for (int i = n - 1; i >= 0; i--) {
        if (++val[list[i]] < size[list[i]]) return true;
        val[list[i]] = 0;
    }
    return false;
}

lcv_status lcv_exec_einsum(lcv_opctx *c) {
    es_geom g;
    lcv_status st = es_geom_get(c, &g);
    if (st != LCV_OK) return st;
    lcv_tensor *y = c->out[0];
    lcv_dtype dt = y->dtype;
    bool is_int = lcv_dtype_is_int(dt);
    int64_t val[ES_LABELS] = {0};
    const int64_t *size = g.size;
    int used[ES_LABELS], n_used = 0;
    for (int l = 0; l < ES_LABELS; l++)
        if (g.used[l]) used[n_used++] = l;
    /* Per input and label, the element stride that label's value moves; a broadcast (size 1)
     * ellipsis dim moves nothing. A repeated label adds its strides: that is the diagonal. */
    int64_t step[ES_MAX_IN][ES_LABELS];
    memset(step, 0, sizeof step);
    for (int t = 0; t < g.n_in; t++) {
        int64_t str[LCV_MAX_DIMS];
        lcv_shape_strides(c->in[t]->ndim, c->in[t]->dims, str);
        for (int d = 0; d < g.rank[t]; d++)
            if (c->in[t]->dims[d] != 1 || size[g.label[t][d]] == 1)
                step[t][g.label[t][d]] += str[d];
    }
    int64_t n_out = lcv_tensor_count(y);
    for (int i = 0; i < g.n_sum; i++)
        if (size[g.sum_label[i]] == 0) {
            /* A sum over an empty label is zero everywhere. */
            for (int64_t oi = 0; oi < n_out; oi++) lcv_store_f64(dt, y->data, oi, 0);
            return LCV_OK;
        }
    for (int64_t oi = 0; oi < n_out; oi++) {
        double accf = 0;
        uint64_t acci = 0;
        do {
            double pf = 1;
            uint64_t pi = 1;
            for (int t = 0; t < g.n_in; t++) {
                int64_t idx = 0;
                for (int u = 0; u < n_used; u++) idx += val[used[u]] * step[t][used[u]];
                if (is_int) pi *= (uint64_t)lcv_load_i64(dt, c->in[t]->data, idx);
                else pf *= lcv_load_f64(dt, c->in[t]->data, idx);
            }
            accf += pf;
            acci += pi;
        } while (es_next(val, size, g.sum_label, g.n_sum));
        if (is_int) lcv_store_i64(dt, y->data, oi, (int64_t)acci);
        else lcv_store_f64(dt, y->data, oi, accf);
        es_next(val, size, g.out_label, g.out_ndim);
    }
    return LCV_OK;
}
