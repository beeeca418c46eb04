/* binary.c - broadcasting two-input elementwise ops: arithmetic (Add..Mod, Pow, PRelu),
 * bit ops and comparisons/logic producing bool. Integers are computed in 64-bit integer
 * arithmetic (never through double) so int64 stays exact; float32 has typed fast loops.
 * Also the variadic Max/Min/Sum/Mean and three-way Where, which share the broadcast plan. */
#include <math.h>
#include <string.h>

#include "../core/threadpool.h"
#include "eltwise.h"

#define BC_MAX_IN 3

/* A broadcast iteration plan: the output shape with size-1 dims dropped and adjacent dims
 * merged wherever every operand stays contiguous across them, and each operand's element
 * strides (0 along broadcast dims). Row kernels walk the innermost dim; an odometer walks the
 * rest, so the per-element cost does not depend on the rank. */
typedef struct bcast {
    int nd; /* >= 1 */
    int nin;
    int64_t dims[LCV_MAX_DIMS];
    int64_t st[BC_MAX_IN][LCV_MAX_DIMS];
    int64_t outer, inner;
} bcast;

/* ins[k] must broadcast to (nout, odims), which infer has checked. */
static void bcast_init(bcast *p, int nout, const int64_t *odims, int nin,
                       const lcv_tensor *const *ins) {
    int64_t raw[BC_MAX_IN][LCV_MAX_DIMS];
    for (int k = 0; k < nin; k++) {
        int lead = nout - ins[k]->ndim;
        int64_t s = 1;
        for (int i = nout - 1; i >= 0; i--) {
            int64_t d = i >= lead ? ins[k]->dims[i - lead] : 1;
            raw[k][i] = d == 1 ? 0 : s;
            s *= d;
        }
    }
    p->nin = nin;
    p->nd = 0;
    for (int i = 0; i < nout; i++) {
        if (odims[i] == 1) continue;
        int q = p->nd - 1;
        bool merge = q >= 0;
        for (int k = 0; k < nin && merge; k++)
            if (p->st[k][q] != raw[k][i] * odims[i]) merge = false;
        if (merge) {
            p->dims[q] *= odims[i];
            for (int k = 0; k < nin; k++) p->st[k][q] = raw[k][i];
            continue;
        }
        p->dims[p->nd] = odims[i];
        for (int k = 0; k < nin; k++) p->st[k][p->nd] = raw[k][i];
        p->nd++;
    }
    if (p->nd == 0) {
        p->nd = 1;
        p->dims[0] = 1;
        for (int k = 0; k < nin; k++) p->st[k][0] = 0;
    }
    p->inner = p->dims[p->nd - 1];
    p->outer = 1;
    for (int i = 0; i < p->nd - 1; i++) p->outer *= p->dims[i];
}

/* Advances the odometer over all but the innermost dim, updating each operand's offset. */
static void bcast_step(const bcast *p, int64_t *idx, int64_t *off) {
    for (int d = p->nd - 2; d >= 0; d--) {
        idx[d]++;
        for (int k = 0; k < p->nin; k++) off[k] += p->st[k][d];
        if (idx[d] < p->dims[d]) return;
        for (int k = 0; k < p->nin; k++) off[k] -= p->st[k][d] * p->dims[d];
        idx[d] = 0;
    }
}

enum bin_kind {
    BK_ADD, BK_SUB, BK_MUL, BK_DIV, BK_MOD, BK_PRELU, BK_SHL, BK_SHR, BK_BAND, BK_BOR, BK_BXOR,
    BK_POW, BK_MAX, BK_MIN, BK_EQ, BK_LT, BK_LE, BK_GT, BK_GE, BK_AND, BK_OR, BK_XOR
};

typedef struct bin_ctx {
    int kind;
    lcv_dtype ta, tb, to;
    bool fmod; /* Mod: C fmod semantics (sign of dividend) instead of Python's */
} bin_ctx;

/* ---- float32 fast rows. Strides are element strides, 0 for a broadcast operand. ---- */

#define F32_ROW(name, expr)                                                                       \
    static void name(float *o, const float *a, int64_t sa, const float *b, int64_t sb,            \
                     int64_t n) {                                                                 \
        if (sa == 1 && sb == 1) {                                                                 \
            for (int64_t i = 0; i < n; i++) {                                                     \
                float x = a[i], y = b[i];                                                         \
                o[i] = (expr);                                                                    \
            }                                                                                     \
        } else if (sa == 1 && sb == 0) {                                                          \
            float y = b[0];                                                                       \
            for (int64_t i = 0; i < n; i++) {                                                     \
                float x = a[i];                                                                   \
                o[i] = (expr);                                                                    \
            }                                                                                     \
        } else if (sa == 0 && sb == 1) {                                                          \
            float x = a[0];                                                                       \
            for (int64_t i = 0; i < n; i++) {                                                     \
                float y = b[i];                                                                   \
                o[i] = (expr);                                                                    \
            }                                                                                     \
        } else {                                                                                  \
            for (int64_t i = 0; i < n; i++) {                                                     \
                float x = a[i * sa], y = b[i * sb];                                               \
                o[i] = (expr);                                                                    \
            }                                                                                     \
        }                                                                                         \
    }

F32_ROW(f32_add, x + y)
F32_ROW(f32_sub, x - y)
F32_ROW(f32_mul, x * y)
F32_ROW(f32_div, x / y)
/* NaN propagates like numpy's maximum/minimum (fmaxf would drop it) */
F32_ROW(f32_max, (x > y || x != x) ? x : y)
F32_ROW(f32_min, (x < y || x != x) ? x : y)
F32_ROW(f32_prelu, x < 0.0f ? x * y : x)
F32_ROW(f32_pow, y == 2.0f ? x * x : powf(x, y))

typedef void (*f32_row)(float *, const float *, int64_t, const float *, int64_t, int64_t);

static f32_row pick_f32(const bin_ctx *x) {
    if (x->ta != LCV_DTYPE_FLOAT32 || x->tb != LCV_DTYPE_FLOAT32 || x->to != LCV_DTYPE_FLOAT32)
        return NULL;
    switch (x->kind) {
    case BK_ADD: return f32_add;
    case BK_SUB: return f32_sub;
    case BK_MUL: return f32_mul;
    case BK_DIV: return f32_div;
    case BK_MAX: return f32_max;
    case BK_MIN: return f32_min;
    case BK_PRELU: return f32_prelu;
    case BK_POW: return f32_pow;
    default: return NULL;
    }
}

/* ---- generic element functions ---- */

static double bin_f64(int k, double a, double b) {
    switch (k) {
    case BK_ADD: return a + b;
    case BK_SUB: return a - b;
    case BK_MUL: return a * b;
    case BK_DIV: return a / b;
    case BK_MOD: return fmod(a, b);
    case BK_PRELU: return a < 0 ? a * b : a;
    case BK_POW: return pow(a, b);
    case BK_MAX: return (a > b || a != a) ? a : b;
    case BK_MIN: return (a < b || a != a) ? a : b;
    default: return 0;
    }
}

/* Integer power by squaring with wrap-around; e is treated as non-negative. */
static uint64_t ipow_u(uint64_t base, uint64_t e) {
    uint64_t r = 1;
    while (e) {
        if (e & 1) r *= base;
        base *= base;
        e >>= 1;
    }
    return r;
}

/* Signed base, signed exponent: a negative exponent gives the truncated reciprocal. */
static int64_t ipow_s(int64_t base, int64_t e) {
    if (e >= 0) return (int64_t)ipow_u((uint64_t)base, (uint64_t)e);
    if (base == 1) return 1;
    if (base == -1) return (e & 1) ? -1 : 1;
    return 0;
}

/* Integer arithmetic on 64-bit values; signed overflow is avoided by wrapping through
 * uint64 (stores truncate to the element width, giving numpy's wrap-around). Returns false
 * on a zero divisor. */
static bool bin_i64(const bin_ctx *x, bool uns, int64_t a, int64_t b, int64_t *r) {
    uint64_t ua = (uint64_t)a, ub = (uint64_t)b;
    switch (x->kind) {
    case BK_ADD: *r = (int64_t)(ua + ub); return true;
    case BK_SUB: *r = (int64_t)(ua - ub); return true;
    case BK_MUL: *r = (int64_t)(ua * ub); return true;
    case BK_DIV:
        if (b == 0) return false;
        if (uns) *r = (int64_t)(ua / ub);
        else *r = b == -1 ? (int64_t)(0 - ua) : a / b;
        return true;
    case BK_MOD:
        if (b == 0) return false;
        if (uns) {
            *r = (int64_t)(ua % ub);
        } else if (b == -1) {
            *r = 0;
        } else {
            int64_t m = a % b;
            /* Python-style: a non-zero remainder takes the divisor's sign */
            if (!x->fmod && m != 0 && ((m < 0) != (b < 0))) m += b;
            *r = m;
        }
        return true;
    case BK_PRELU: *r = (!uns && a < 0) ? (int64_t)(ua * ub) : a; return true;
    case BK_SHL: *r = ub >= 64 ? 0 : (int64_t)(ua << ub); return true;
    case BK_SHR: *r = ub >= 64 ? 0 : (int64_t)(ua >> ub); return true;
    case BK_BAND: *r = a & b; return true;
    case BK_BOR: *r = a | b; return true;
    case BK_BXOR: *r = a ^ b; return true;
    case BK_MAX: *r = (uns ? ua > ub : a > b) ? a : b; return true;
    case BK_MIN: *r = (uns ? ua < ub : a < b) ? a : b; return true;
    default: *r = 0; return true;
    }
}

static bool cmp_f64(int k, double a, double b) {
    switch (k) {
    case BK_EQ: return a == b;
    case BK_LT: return a < b;
    case BK_LE: return a <= b;
    case BK_GT: return a > b;
    case BK_GE: return a >= b;
    default: return false;
    }
}

static bool cmp_i64(int k, bool uns, int64_t a, int64_t b) {
    if (uns) {
        uint64_t ua = (uint64_t)a, ub = (uint64_t)b;
        switch (k) {
        case BK_EQ: return ua == ub;
        case BK_LT: return ua < ub;
        case BK_LE: return ua <= ub;
        case BK_GT: return ua > ub;
        case BK_GE: return ua >= ub;
        default: return false;
        }
    }
    switch (k) {
    case BK_EQ: return a == b;
    case BK_LT: return a < b;
    case BK_LE: return a <= b;
    case BK_GT: return a > b;
    case BK_GE: return a >= b;
    case BK_AND: return a && b;
    case BK_OR: return a || b;
    case BK_XOR: return !a != !b;
    default: return false;
    }
}

/* One row of the reference path for any dtype; false on an integer zero divisor. */
static bool row_generic(const bin_ctx *x, void *o, const void *a, int64_t sa, const void *b,
                        int64_t sb, int64_t n) {
    bool fa = lcv_dtype_is_float(x->ta), fb = lcv_dtype_is_float(x->tb);
    bool uns = lcv_eltwise_class(x->ta) == LCV_DT_UINT;
    if (x->kind >= BK_EQ) {
        uint8_t *ob = o;
        for (int64_t i = 0; i < n; i++) {
            if (fa)
                ob[i] = cmp_f64(x->kind, lcv_load_f64(x->ta, a, i * sa),
                                lcv_load_f64(x->tb, b, i * sb));
            else
                ob[i] = cmp_i64(x->kind, uns, lcv_load_i64(x->ta, a, i * sa),
                                lcv_load_i64(x->tb, b, i * sb));
        }
        return true;
    }
    if (x->kind == BK_POW && !fa) {
        /* integer base: exact integer power for integer exponents, else through double */
        bool ub = lcv_eltwise_class(x->tb) == LCV_DT_UINT;
        for (int64_t i = 0; i < n; i++) {
            if (fb) {
                lcv_store_f64(x->to, o, i,
                              pow(lcv_load_f64(x->ta, a, i * sa), lcv_load_f64(x->tb, b, i * sb)));
                continue;
            }
            int64_t va = lcv_load_i64(x->ta, a, i * sa), vb = lcv_load_i64(x->tb, b, i * sb);
            int64_t r = ub ? (int64_t)ipow_u((uint64_t)va, (uint64_t)vb) : ipow_s(va, vb);
            lcv_store_i64(x->to, o, i, r);
        }
        return true;
    }
    if (fa) {
        for (int64_t i = 0; i < n; i++)
            lcv_store_f64(x->to, o, i,
                          bin_f64(x->kind, lcv_load_f64(x->ta, a, i * sa),
                                  lcv_load_f64(x->tb, b, i * sb)));
        return true;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t r;
        if (!bin_i64(x, uns, lcv_load_i64(x->ta, a, i * sa), lcv_load_i64(x->tb, b, i * sb), &r))
            return false;
        lcv_store_i64(x->to, o, i, r);
    }
    return true;
}

/* Puts the odometer at row r (of p->outer): the state bcast_step reaches after r steps. */
static void bcast_seek(const bcast *p, int64_t r, int64_t *idx, int64_t *off) {
    for (int k = 0; k < p->nin; k++) off[k] = 0;
    for (int d = p->nd - 2; d >= 0; d--) {
        idx[d] = r % p->dims[d];
        r /= p->dims[d];
        for (int k = 0; k < p->nin; k++) off[k] += idx[d] * p->st[k][d];
    }
}

/* Output elements per thread chunk of a float32 binary op. */
#define BINARY_GRAIN 16384

/* A float32 binary op over a range of flat output indices; a chunk may start and end inside a
 * row. Each element is computed alone, so the split does not change any bit. */
typedef struct bin_task {
    const bcast *p;
    f32_row fast;
    const float *a, *b;
    float *o;
} bin_task;

static void bin_f32_range(void *ctx, int64_t begin, int64_t end, int thread) {
    const bin_task *t = ctx;
    const bcast *p = t->p;
    int64_t sa = p->st[0][p->nd - 1], sb = p->st[1][p->nd - 1];
    int64_t idx[LCV_MAX_DIMS] = {0}, off[BC_MAX_IN] = {0};
    int64_t r = begin / p->inner, j = begin % p->inner;
    bcast_seek(p, r, idx, off);
    while (begin < end) {
        int64_t len = p->inner - j < end - begin ? p->inner - j : end - begin;
        t->fast(t->o + r * p->inner + j, t->a + off[0] + j * sa, sa, t->b + off[1] + j * sb, sb,
                len);
        begin += len;
        j = 0;
        r++;
        bcast_step(p, idx, off);
    }
}

/* Runs x over the broadcast of inputs a and b into o (o may be a when shapes are equal). */
static lcv_status run_binary(lcv_opctx *c, const bin_ctx *x, const lcv_tensor *a,
                             const lcv_tensor *b, lcv_tensor *o) {
    int64_t count = lcv_tensor_count(o);
    if (count == 0) return LCV_OK;
    const lcv_tensor *ins[2] = {a, b};
    bcast p;
    bcast_init(&p, o->ndim, o->dims, 2, ins);
    f32_row fast = pick_f32(x);
    if (fast) {
        bin_task t = {&p, fast, a->data, b->data, o->data};
        lcv_threadpool_parallel_for(c->pool, count, BINARY_GRAIN, bin_f32_range, &t);
        return LCV_OK;
    }
    size_t ea = lcv_dtype_size(a->dtype), eb = lcv_dtype_size(b->dtype);
    size_t eo = lcv_dtype_size(o->dtype);
    int64_t sa = p.st[0][p.nd - 1], sb = p.st[1][p.nd - 1];
    int64_t idx[LCV_MAX_DIMS] = {0}, off[BC_MAX_IN] = {0};
    for (int64_t r = 0; r < p.outer; r++) {
        char *po = (char *)o->data + (size_t)(r * p.inner) * eo;
        const char *pa = (const char *)a->data + (size_t)off[0] * ea;
        const char *pb = (const char *)b->data + (size_t)off[1] * eb;
        if (!row_generic(x, po, pa, sa, pb, sb, p.inner)) {
            return lcv_op_fail(c, LCV_ERR_INVALID_ARG,
                               "integer division by zero (divisor input holds 0)");
        }
        bcast_step(&p, idx, off);
    }
    return LCV_OK;
}

/* ---- infer ---- */

static lcv_status infer_bcast2(lcv_opctx *c, const lcv_tensor *a, const lcv_tensor *b,
                               lcv_dtype out_dtype) {
    int nd;
    int64_t dims[LCV_MAX_DIMS];
    lcv_status st = lcv_op_broadcast(c, a->ndim, a->dims, b->ndim, b->dims, &nd, dims);
    if (st != LCV_OK) return st;
    lcv_op_set_out(c, 0, out_dtype, nd, dims);
    return LCV_OK;
}

/* Before opset 7 PRelu's slope was per channel: a [C] slope applies along axis 1, which numpy
 * broadcasting spells [C,1,...,1]. Returns the slope to broadcast: s itself or *view, a
 * borrowed reshaped view of it. */
static const lcv_tensor *prelu_slope(const lcv_opctx *c, lcv_tensor *view) {
    const lcv_tensor *x = c->in[0], *s = c->in[1];
    if (c->node->opset >= 7 || s->ndim != 1 || x->ndim < 3 || s->dims[0] != x->dims[1]) return s;
    *view = *s;
    view->owns_data = false;
    view->ndim = x->ndim - 1;
    for (int i = 1; i < view->ndim; i++) view->dims[i] = 1;
    return view;
}

static lcv_status need_same(lcv_opctx *c) {
    if (c->in[0]->dtype != c->in[1]->dtype)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "inputs have different dtypes %s and %s",
                           lcv_dtype_name(c->in[0]->dtype), lcv_dtype_name(c->in[1]->dtype));
    return LCV_OK;
}

lcv_status lcv_infer_binary(lcv_opctx *c) {
    const lcv_node *n = c->node;
    unsigned allowed = LCV_DT_NUM;
    switch (n->op) {
    case LCV_OP_BitShift: {
        const char *dir = lcv_attr_str(n, "direction", NULL);
        if (!dir || (strcmp(dir, "LEFT") != 0 && strcmp(dir, "RIGHT") != 0))
            return lcv_op_fail(c, LCV_ERR_INVALID_ARG,
                               "attribute 'direction' must be \"LEFT\" or \"RIGHT\", got %s%s%s",
                               dir ? "\"" : "", dir ? dir : "none", dir ? "\"" : "");
        allowed = LCV_DT_UINT;
        break;
    }
    case LCV_OP_BitwiseAnd:
    case LCV_OP_BitwiseOr:
    case LCV_OP_BitwiseXor: allowed = LCV_DT_INT; break;
    case LCV_OP_Mod: {
        int64_t f = lcv_attr_int(n, "fmod", 0);
        if (f != 0 && f != 1)
            return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "attribute 'fmod' must be 0 or 1, got %lld",
                               (long long)f);
        if (f == 0 && lcv_dtype_is_float(c->in[0]->dtype))
            return lcv_op_fail(c, LCV_ERR_INVALID_ARG,
                               "attribute 'fmod' must be 1 for floating-point input (%s)",
                               lcv_dtype_name(c->in[0]->dtype));
        break;
    }
    default: break;
    }
    lcv_status st;
    if ((st = lcv_eltwise_need(c, c->in[0], 0, allowed)) != LCV_OK) return st;
    if ((st = lcv_eltwise_need(c, c->in[1], 1, allowed)) != LCV_OK) return st;
    if ((st = need_same(c)) != LCV_OK) return st;
    lcv_tensor view;
    const lcv_tensor *b = n->op == LCV_OP_PRelu ? prelu_slope(c, &view) : c->in[1];
    if ((st = infer_bcast2(c, c->in[0], b, c->in[0]->dtype)) != LCV_OK) return st;
    if (n->op == LCV_OP_PRelu) {
        /* slope broadcasts to X, never the other way round */
        const lcv_tensor *x = c->in[0], *o = c->out[0];
        if (!lcv_shape_equal(x->ndim, x->dims, o->ndim, o->dims)) {
            char sx[128], ss[128];
            return lcv_op_fail(c, LCV_ERR_SHAPE, "slope shape %s does not broadcast to X shape %s",
                               lcv_shape_str(c->in[1]->ndim, c->in[1]->dims, ss, sizeof ss),
                               lcv_shape_str(x->ndim, x->dims, sx, sizeof sx));
        }
    }
    return LCV_OK;
}

lcv_status lcv_infer_pow(lcv_opctx *c) {
    lcv_status st;
    if ((st = lcv_eltwise_need(c, c->in[0], 0, LCV_DT_NUM)) != LCV_OK) return st;
    if ((st = lcv_eltwise_need(c, c->in[1], 1, LCV_DT_NUM)) != LCV_OK) return st;
    /* mixed base/exponent dtypes arrived with opset 12 */
    if (c->node->opset < 12 && (st = need_same(c)) != LCV_OK) return st;
    return infer_bcast2(c, c->in[0], c->in[1], c->in[0]->dtype);
}

lcv_status lcv_infer_compare(lcv_opctx *c) {
    int op = c->node->op;
    unsigned allowed = LCV_DT_NUM;
    if (op == LCV_OP_And || op == LCV_OP_Or || op == LCV_OP_Xor) allowed = LCV_DT_BOOL;
    else if (op == LCV_OP_Equal) allowed = LCV_DT_ANY;
    lcv_status st;
    if ((st = lcv_eltwise_need(c, c->in[0], 0, allowed)) != LCV_OK) return st;
    if ((st = lcv_eltwise_need(c, c->in[1], 1, allowed)) != LCV_OK) return st;
    if ((st = need_same(c)) != LCV_OK) return st;
    return infer_bcast2(c, c->in[0], c->in[1], LCV_DTYPE_BOOL);
}

/* ---- exec ---- */

static lcv_status exec_kind(lcv_opctx *c, int kind) {
    bin_ctx x = {kind, c->in[0]->dtype, c->in[1]->dtype, c->out[0]->dtype,
                 lcv_attr_int(c->node, "fmod", 0) == 1};
    return run_binary(c, &x, c->in[0], c->in[1], c->out[0]);
}

lcv_status lcv_exec_add(lcv_opctx *c) { return exec_kind(c, BK_ADD); }
lcv_status lcv_exec_sub(lcv_opctx *c) { return exec_kind(c, BK_SUB); }
lcv_status lcv_exec_mul(lcv_opctx *c) { return exec_kind(c, BK_MUL); }
lcv_status lcv_exec_div(lcv_opctx *c) { return exec_kind(c, BK_DIV); }
lcv_status lcv_exec_mod(lcv_opctx *c) { return exec_kind(c, BK_MOD); }
lcv_status lcv_exec_pow(lcv_opctx *c) { return exec_kind(c, BK_POW); }
lcv_status lcv_exec_bitwise_and(lcv_opctx *c) { return exec_kind(c, BK_BAND); }
lcv_status lcv_exec_bitwise_or(lcv_opctx *c) { return exec_kind(c, BK_BOR); }
lcv_status lcv_exec_bitwise_xor(lcv_opctx *c) { return exec_kind(c, BK_BXOR); }
lcv_status lcv_exec_and(lcv_opctx *c) { return exec_kind(c, BK_AND); }
lcv_status lcv_exec_or(lcv_opctx *c) { return exec_kind(c, BK_OR); }
lcv_status lcv_exec_xor(lcv_opctx *c) { return exec_kind(c, BK_XOR); }
lcv_status lcv_exec_equal(lcv_opctx *c) { return exec_kind(c, BK_EQ); }
lcv_status lcv_exec_less(lcv_opctx *c) { return exec_kind(c, BK_LT); }
lcv_status lcv_exec_less_equal(lcv_opctx *c) { return exec_kind(c, BK_LE); }
lcv_status lcv_exec_greater(lcv_opctx *c) { return exec_kind(c, BK_GT); }
lcv_status lcv_exec_greater_equal(lcv_opctx *c) { return exec_kind(c, BK_GE); }

lcv_status lcv_exec_prelu(lcv_opctx *c) {
    lcv_tensor view;
    const lcv_tensor *slope = prelu_slope(c, &view);
    bin_ctx x = {BK_PRELU, c->in[0]->dtype, slope->dtype, c->out[0]->dtype, false};
    return run_binary(c, &x, c->in[0], slope, c->out[0]);
}

lcv_status lcv_exec_bitshift(lcv_opctx *c) {
    const char *dir = lcv_attr_str(c->node, "direction", "");
    return exec_kind(c, strcmp(dir, "LEFT") == 0 ? BK_SHL : BK_SHR);
}

/* ---- variadic Max/Min/Sum/Mean ---- */

lcv_status lcv_infer_variadic(lcv_opctx *c) {
    int op = c->node->op;
    unsigned allowed = (op == LCV_OP_Max || op == LCV_OP_Min) ? LCV_DT_NUM : LCV_DT_FLOAT;
    int nd = 0;
    int64_t dims[LCV_MAX_DIMS];
    if (c->n_in < 1) return lcv_op_fail(c, LCV_ERR_SHAPE, "needs at least one input");
    for (int i = 0; i < c->n_in; i++) {
        const lcv_tensor *t = c->in[i];
        if (!t) return lcv_op_fail(c, LCV_ERR_SHAPE, "input %d is missing", i);
        lcv_status st = lcv_eltwise_need(c, t, i, allowed);
        if (st != LCV_OK) return st;
        if (t->dtype != c->in[0]->dtype)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "input %d has dtype %s but input 0 has %s", i,
                               lcv_dtype_name(t->dtype), lcv_dtype_name(c->in[0]->dtype));
        if (i == 0) {
            nd = t->ndim;
            memcpy(dims, t->dims, sizeof(int64_t) * (size_t)nd);
            continue;
        }
        int64_t prev[LCV_MAX_DIMS];
        int np = nd;
        memcpy(prev, dims, sizeof(int64_t) * (size_t)np);
        st = lcv_op_broadcast(c, np, prev, t->ndim, t->dims, &nd, dims);
        if (st != LCV_OK) return st;
    }
    lcv_op_set_out(c, 0, c->in[0]->dtype, nd, dims);
    return LCV_OK;
}

/* Copies t broadcast to o's shape (same dtype). */
static void bcast_copy(lcv_tensor *o, const lcv_tensor *t) {
    if (lcv_tensor_count(o) == 0) return;
    bcast p;
    bcast_init(&p, o->ndim, o->dims, 1, &t);
    size_t es = lcv_dtype_size(o->dtype);
    int64_t idx[LCV_MAX_DIMS] = {0}, off[BC_MAX_IN] = {0};
    for (int64_t r = 0; r < p.outer; r++) {
        char *po = (char *)o->data + (size_t)(r * p.inner) * es;
        const char *pt = (const char *)t->data + (size_t)off[0] * es;
        if (p.st[0][p.nd - 1] == 1) {
            memcpy(po, pt, (size_t)p.inner * es);
        } else {
            for (int64_t i = 0; i < p.inner; i++) memcpy(po + (size_t)i * es, pt, es);
        }
        bcast_step(&p, idx, off);
    }
}

static lcv_status exec_variadic(lcv_opctx *c, int kind) {
    lcv_tensor *o = c->out[0];
    bcast_copy(o, c->in[0]);
    for (int i = 1; i < c->n_in; i++) {
        bin_ctx x = {kind, o->dtype, c->in[i]->dtype, o->dtype, false};
        lcv_status st = run_binary(c, &x, o, c->in[i], o);
        if (st != LCV_OK) return st;
    }
    return LCV_OK;
}

lcv_status lcv_exec_max(lcv_opctx *c) { return exec_variadic(c, BK_MAX); }
lcv_status lcv_exec_min(lcv_opctx *c) { return exec_variadic(c, BK_MIN); }
lcv_status lcv_exec_sum(lcv_opctx *c) { return exec_variadic(c, BK_ADD); }

lcv_status lcv_exec_mean(lcv_opctx *c) {
    lcv_status st = exec_variadic(c, BK_ADD);
    if (st != LCV_OK) return st;
    lcv_tensor *o = c->out[0];
    int64_t n = lcv_tensor_count(o);
    if (o->dtype == LCV_DTYPE_FLOAT32) {
        float *p = o->data, inv = 1.0f / (float)c->n_in;
        for (int64_t i = 0; i < n; i++) p[i] *= inv;
    } else {
        for (int64_t i = 0; i < n; i++)
            lcv_store_f64(o->dtype, o->data, i, lcv_load_f64(o->dtype, o->data, i) / c->n_in);
    }
    return LCV_OK;
}

/* ---- Where ---- */

lcv_status lcv_infer_where(lcv_opctx *c) {
    const lcv_tensor *cond = c->in[0], *x = c->in[1], *y = c->in[2];
    lcv_status st;
    if ((st = lcv_eltwise_need(c, cond, 0, LCV_DT_BOOL)) != LCV_OK) return st;
    if ((st = lcv_eltwise_need(c, x, 1, LCV_DT_ANY)) != LCV_OK) return st;
    if ((st = lcv_eltwise_need(c, y, 2, LCV_DT_ANY)) != LCV_OK) return st;
    if (x->dtype != y->dtype)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "X and Y have different dtypes %s and %s",
                           lcv_dtype_name(x->dtype), lcv_dtype_name(y->dtype));
    int n1, n2;
    int64_t d1[LCV_MAX_DIMS], d2[LCV_MAX_DIMS];
    if ((st = lcv_op_broadcast(c, cond->ndim, cond->dims, x->ndim, x->dims, &n1, d1)) != LCV_OK)
        return st;
    if ((st = lcv_op_broadcast(c, n1, d1, y->ndim, y->dims, &n2, d2)) != LCV_OK) return st;
    lcv_op_set_out(c, 0, x->dtype, n2, d2);
    return LCV_OK;
}

#define WHERE_ROW(ES)                                                                             \
    for (int64_t i = 0; i < p.inner; i++)                                                         \
    memcpy(po + (size_t)i * (ES),                                                                 \
           pc[i * sc] ? px + (size_t)(i * sx) * (ES) : py + (size_t)(i * sy) * (ES), (ES))

lcv_status lcv_exec_where(lcv_opctx *c) {
    lcv_tensor *o = c->out[0];
    if (lcv_tensor_count(o) == 0) return LCV_OK;
    bcast p;
    bcast_init(&p, o->ndim, o->dims, 3, c->in);
    size_t es = lcv_dtype_size(o->dtype);
    int64_t sc = p.st[0][p.nd - 1], sx = p.st[1][p.nd - 1], sy = p.st[2][p.nd - 1];
    int64_t idx[LCV_MAX_DIMS] = {0}, off[BC_MAX_IN] = {0};
    for (int64_t r = 0; r < p.outer; r++) {
        char *po = (char *)o->data + (size_t)(r * p.inner) * es;
        const uint8_t *pc = (const uint8_t *)c->in[0]->data + off[0];
        const char *px = (const char *)c->in[1]->data + (size_t)off[1] * es;
        const char *py = (const char *)c->in[2]->data + (size_t)off[2] * es;
        /* constant element sizes let memcpy become a plain load/store */
        switch (es) {
        case 1: WHERE_ROW(1); break;
        case 2: WHERE_ROW(2); break;
        case 4: WHERE_ROW(4); break;
        default: WHERE_ROW(8); break;
        }
        bcast_step(&p, idx, off);
    }
    return LCV_OK;
}
