/* binary_grad.c - backward of the broadcasting arithmetic of binary.c: Add, Sub, Mul, Div, Pow
 * (exponent constant or tensor, of any numeric dtype) and PRelu (slope broadcast to X, with the
 * pre-opset-7 per-channel slope). Each input's gradient is first formed over the output shape
 * and then summed over the dims that input was broadcast along (grad_util.h); inputs with the
 * output's shape get theirs directly. Kinks and special points follow PyTorch. */
#include <math.h>
#include <string.h>

#include "../core/threadpool.h"
#include "grad_util.h"

enum { BG_ADD, BG_SUB, BG_MUL, BG_DIV, BG_POW, BG_PRELU };

/* Right-aligned numpy broadcast of an operand to Y: rank at most Y's, dims 1 or equal. */
static lcv_status need_bcast(lcv_gradctx *c, int nd, const int64_t *dims, const lcv_tensor *y,
                             int i) {
    bool ok = nd <= y->ndim;
    for (int k = 0; ok && k < nd; k++) {
        int64_t d = dims[k], yd = y->dims[y->ndim - nd + k];
        ok = d == yd || d == 1;
    }
    if (ok) return LCV_OK;
    char a[128], b[128];
    return lcv_grad_fail(c, LCV_ERR_SHAPE, "input %d shape %s does not broadcast to output %s", i,
                         lcv_shape_str(nd, dims, a, sizeof a),
                         lcv_shape_str(y->ndim, y->dims, b, sizeof b));
}

/* The output walked as rows: merged dims with each operand's element strides (0 where it is
 * broadcast); the innermost merged dim is the row. */
typedef struct bin_plan {
    int kind, nd;
    int64_t dims[LCV_MAX_DIMS], sa[LCV_MAX_DIMS], sb[LCV_MAX_DIMS];
    int64_t rows, inner;
    const float *a, *b, *y, *dy;
    float *ga, *gb; /* dense over the output, or NULL when not wanted */
} bin_plan;

static void plan_init(bin_plan *p, const lcv_tensor *y, int na, const int64_t *adims, int nb,
                      const int64_t *bdims) {
    int64_t ra[LCV_MAX_DIMS], rb[LCV_MAX_DIMS], s_a = 1, s_b = 1;
    for (int k = y->ndim - 1; k >= 0; k--) {
        int ja = k - (y->ndim - na), jb = k - (y->ndim - nb);
        int64_t da = ja >= 0 ? adims[ja] : 1, db = jb >= 0 ? bdims[jb] : 1;
        ra[k] = da == 1 ? 0 : s_a;
        rb[k] = db == 1 ? 0 : s_b;
        s_a *= da;
        s_b *= db;
    }
    p->nd = 0;
    for (int k = 0; k < y->ndim; k++) {
        int64_t d = y->dims[k];
        if (d == 1) continue;
        int q = p->nd - 1;
        if (q >= 0 && p->sa[q] == ra[k] * d && p->sb[q] == rb[k] * d) {
            p->dims[q] *= d;
            p->sa[q] = ra[k];
            p->sb[q] = rb[k];
            continue;
        }
        p->dims[p->nd] = d;
        p->sa[p->nd] = ra[k];
        p->sb[p->nd] = rb[k];
        p->nd++;
    }
    if (p->nd == 0) {
        p->nd = 1;
        p->dims[0] = 1;
        p->sa[0] = p->sb[0] = 0;
    }
    p->inner = p->dims[p->nd - 1];
    p->rows = 1;
    for (int k = 0; k < p->nd - 1; k++) p->rows *= p->dims[k];
}

/* One output row of n elements; a and b advance by sa/sb (0 or 1 in practice). */
static void bin_row(const bin_plan *p, int64_t o, int64_t oa, int64_t ob, int64_t n) {
    const float *a = p->a + oa, *b = p->b + ob, *dy = p->dy + o, *y = p->y + o;
    float *ga = p->ga ? p->ga + o : NULL, *gb = p->gb ? p->gb + o : NULL;
    int64_t sa = p->sa[p->nd - 1], sb = p->sb[p->nd - 1];
    switch (p->kind) {
    case BG_MUL:
        for (int64_t i = 0; ga && i < n; i++) ga[i] = dy[i] * b[i * sb];
        for (int64_t i = 0; gb && i < n; i++) gb[i] = dy[i] * a[i * sa];
        break;
    case BG_DIV:
        for (int64_t i = 0; ga && i < n; i++) ga[i] = dy[i] / b[i * sb];
        for (int64_t i = 0; gb && i < n; i++) {
            float bv = b[i * sb];
            gb[i] = -dy[i] * a[i * sa] / (bv * bv);
        }
        break;
    case BG_POW: /* an exponent of 0 passes nothing to the base; 0^e with e >= 0 nothing to e */
        for (int64_t i = 0; ga && i < n; i++) {
            float e = b[i * sb];
            ga[i] = e == 0.0f ? 0.0f : dy[i] * e * powf(a[i * sa], e - 1.0f);
        }
        for (int64_t i = 0; gb && i < n; i++) {
            float av = a[i * sa];
            gb[i] = (av == 0.0f && b[i * sb] >= 0.0f) ? 0.0f : dy[i] * y[i] * logf(av);
        }
        break;
    case BG_PRELU:
        for (int64_t i = 0; ga && i < n; i++) ga[i] = a[i * sa] > 0.0f ? dy[i] : dy[i] * b[i * sb];
        for (int64_t i = 0; gb && i < n; i++) gb[i] = a[i * sa] > 0.0f ? 0.0f : dy[i] * a[i * sa];
        break;
    default: break;
    }
}

static void bin_rows(void *ctx, int64_t begin, int64_t end, int thread) {
    const bin_plan *p = ctx;
    for (int64_t r = begin; r < end; r++) {
        int64_t oa = 0, ob = 0, t = r;
        for (int k = p->nd - 2; k >= 0; k--) {
            int64_t i = t % p->dims[k];
            t /= p->dims[k];
            oa += i * p->sa[k];
            ob += i * p->sb[k];
        }
        bin_row(p, r * p->inner, oa, ob, p->inner);
    }
}

/* Shape of operand i as the forward broadcast it (PRelu before opset 7: a [C] slope is a
 * [C, 1, ..., 1] view against X's axis 1). */
static int operand_shape(const lcv_gradctx *c, int i, int64_t *dims) {
    const lcv_tensor *t = c->in[i], *x = c->in[0];
    memcpy(dims, t->dims, sizeof(int64_t) * (size_t)t->ndim);
    if (i == 1 && c->node->op == LCV_OP_PRelu && c->node->opset < 7 && t->ndim == 1 &&
        x->ndim >= 3 && t->dims[0] == x->dims[1]) {
        for (int k = 1; k < x->ndim - 1; k++) dims[k] = 1;
        return x->ndim - 1;
    }
    return t->ndim;
}

static lcv_status binary_grad(lcv_gradctx *c, int kind) {
    const lcv_tensor *ta = lcv_grad_input(c, 0), *tb = lcv_grad_input(c, 1);
    const lcv_tensor *ty = c->n_out > 0 ? c->out[0] : NULL;
    const float *a, *b = NULL, *y, *dy;
    float *da, *db;
    lcv_status st = lcv_gradu_in(c, 0, &a);
    if (st == LCV_OK && kind != BG_POW) st = lcv_gradu_in(c, 1, &b);
    if (st == LCV_OK && kind == BG_POW && !tb)
        st = lcv_grad_fail(c, LCV_ERR_SHAPE, "input 1 is missing");
    if (st == LCV_OK && kind == BG_POW && !lcv_dtype_is_int(tb->dtype))
        st = lcv_gradu_in(c, 1, &b); /* float exponents must be float32 like the base */
    if (st == LCV_OK) st = lcv_gradu_out(c, 0, &y);
    if (st == LCV_OK) st = lcv_gradu_dout(c, 0, &dy);
    if (st == LCV_OK) st = lcv_gradu_din(c, 0, &da);
    if (st == LCV_OK) st = lcv_gradu_din(c, 1, &db);
    if (st != LCV_OK) return st;
    int64_t adims[LCV_MAX_DIMS], bdims[LCV_MAX_DIMS];
    int na = operand_shape(c, 0, adims), nb = operand_shape(c, 1, bdims);
    if ((st = need_bcast(c, na, adims, ty, 0)) != LCV_OK ||
        (st = need_bcast(c, nb, bdims, ty, 1)) != LCV_OK)
        return st;
    if (!da && !db) return LCV_OK;
    int64_t ny = lcv_tensor_count(ty), nA = lcv_tensor_count(ta), nB = lcv_tensor_count(tb);
    if (!dy) {
        if (da) memset(da, 0, sizeof(float) * (size_t)nA);
        if (db) memset(db, 0, sizeof(float) * (size_t)nB);
        return LCV_OK;
    }
    /* Add and Sub: each gradient is dY summed to the input's shape. */
    if (kind == BG_ADD || kind == BG_SUB) {
        if (da && (st = lcv_gradu_sum_to(c, dy, ty->ndim, ty->dims, da, na, adims)) != LCV_OK)
            return st;
        if (db && (st = lcv_gradu_sum_to(c, dy, ty->ndim, ty->dims, db, nb, bdims)) != LCV_OK)
            return st;
        for (int64_t i = 0; kind == BG_SUB && db && i < nB; i++) db[i] = -db[i];
        return LCV_OK;
    }
    /* Temporaries: an output-shaped gradient per broadcast input, and a float32 copy of an
     * integer exponent. */
    bool ta_tmp = da && nA != ny, tb_tmp = db && nB != ny, conv = b == NULL;
    size_t nbytes = sizeof(float) * ((size_t)(ta_tmp + tb_tmp) * (size_t)ny +
                                     (conv ? (size_t)nB : 0));
    lcv_gradu_buf buf = {0};
    if ((ta_tmp || tb_tmp || conv) && (st = lcv_gradu_buf_get(c, nbytes, &buf)) != LCV_OK)
        return st;
    float *mem = buf.data;
    bin_plan p;
    memset(&p, 0, sizeof p);
    p.kind = kind;
    p.a = a;
    p.y = y;
    p.dy = dy;
    p.ga = ta_tmp ? mem : da;
    if (ta_tmp) mem += ny;
    p.gb = tb_tmp ? mem : db;
    if (tb_tmp) mem += ny;
    if (conv) {
        for (int64_t i = 0; i < nB; i++) mem[i] = (float)lcv_load_f64(tb->dtype, tb->data, i);
        b = mem;
    }
    p.b = b;
    plan_init(&p, ty, na, adims, nb, bdims);
    lcv_threadpool_parallel_for(c->pool, p.rows, LCV_GRADU_GRAIN / p.inner + 1, bin_rows, &p);
    if (ta_tmp) st = lcv_gradu_sum_to(c, p.ga, ty->ndim, ty->dims, da, na, adims);
    if (st == LCV_OK && tb_tmp) st = lcv_gradu_sum_to(c, p.gb, ty->ndim, ty->dims, db, nb, bdims);
    lcv_gradu_buf_free(&buf);
    return st;
}

lcv_status lcv_grad_add(lcv_gradctx *c) { return binary_grad(c, BG_ADD); }
lcv_status lcv_grad_sub(lcv_gradctx *c) { return binary_grad(c, BG_SUB); }
lcv_status lcv_grad_mul(lcv_gradctx *c) { return binary_grad(c, BG_MUL); }
lcv_status lcv_grad_div(lcv_gradctx *c) { return binary_grad(c, BG_DIV); }
lcv_status lcv_grad_pow(lcv_gradctx *c) { return binary_grad(c, BG_POW); }
lcv_status lcv_grad_prelu(lcv_gradctx *c) { return binary_grad(c, BG_PRELU); }
