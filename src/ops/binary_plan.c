/* binary_plan.c - the fast path for float32 Add, Sub, Mul and Div when one operand has the
 * output's shape and the other is the same shape, a single value, a per-channel vector
 * ([N,C,H,W] with [N,C,1,1], [1,C,1,1] or [C,1,1]: the SE block's Mul) or a trailing row
 * ([..., D] with [D]: bias adds), on either side. The output is walked as rows of a
 * contiguous block; the vector kernels of src/kernels/f32-vact compute each row exactly as
 * the reference would, and the fused epilogue follows per block. Every other broadcast runs
 * the reference (binary.c). */
#include "../core/threadpool.h"
#include "vplan.h"

/* y viewed as rows x len: y[r, j] = full[r, j] op small[...] where small is the row
 * small[r * s_row + j] (s_step 1) or the single value small[r % s_mod] (s_step 0). */
typedef struct bin_geom {
    int64_t rows, len;
    int64_t s_step, s_row, s_mod;
    bool small_is_a; /* the broadcast operand is the op's first input */
} bin_geom;

/* Elements of the dims of t aligned (right-justified) to rank r. */
static int64_t aligned_dim(const lcv_tensor *t, int r, int i) {
    int lead = r - t->ndim;
    return i < lead ? 1 : t->dims[i - lead];
}

/* Classifies the broadcast of a and b to y; false when it is none of the planned forms. */
static bool bin_classify(const lcv_tensor *a, const lcv_tensor *b, const lcv_tensor *y,
                         bin_geom *g) {
    int64_t n = lcv_tensor_count(y);
    int r = y->ndim;
    if (n <= 0 || a->ndim > r || b->ndim > r) return false;
    const lcv_tensor *small;
    if (lcv_tensor_count(a) == n) {
        small = b;
        g->small_is_a = false;
    } else if (lcv_tensor_count(b) == n) {
        small = a;
        g->small_is_a = true;
    } else {
        return false;
    }
    if (lcv_tensor_count(small) == n) { /* same shape (the full operand also has n values) */
        g->rows = 1;
        g->len = n;
        g->s_step = 1;
        g->s_row = 0;
        g->s_mod = 1;
        return true;
    }
    /* Over the output dims larger than 1, `small` must span one contiguous group [lo, hi) and
     * be 1 elsewhere; it broadcast to y, so each of its dims is 1 or y's. */
    int lo = -1, hi = -1;
    for (int i = 0; i < r; i++) {
        if (y->dims[i] == 1) continue;
        bool spans = aligned_dim(small, r, i) == y->dims[i];
        if (spans) {
            if (hi >= 0) return false; /* a second group */
            if (lo < 0) lo = i;
        } else if (lo >= 0 && hi < 0) {
            hi = i;
        }
    }
    int64_t inner = 1, group = 1; /* products of the output dims after and in the group */
    if (lo >= 0)
        for (int i = lo; i < (hi >= 0 ? hi : r); i++) group *= y->dims[i];
    if (hi >= 0)
        for (int i = hi; i < r; i++) inner *= y->dims[i];
    if (group != lcv_tensor_count(small)) return false; /* not a broadcast of y's shape */
    if (lo < 0) { /* one value */
        g->rows = 1;
        g->len = n;
        g->s_step = 0;
        g->s_mod = 1;
    } else if (hi < 0) { /* the group is trailing: one row of `group` values, repeated */
        g->rows = n / group;
        g->len = group;
        g->s_step = 1;
        g->s_row = 0;
    } else { /* a value per (outer, group) row of `inner` values */
        g->rows = n / inner;
        g->len = inner;
        g->s_step = 0;
        g->s_mod = group;
    }
    return true;
}

typedef struct bin_task {
    const lcv_vact_kernels *k;
    const lcv_node *node;
    lcv_vbin op;
    const float *full, *small, *res;
    float *y;
    bin_geom g;
    int64_t blocks_per_row;
} bin_task;

static void bin_blocks(void *ctx, int64_t begin, int64_t end, int thread) {
    const bin_task *t = ctx;
    const bin_geom *g = &t->g;
    (void)thread;
    for (int64_t it = begin; it < end; it++) {
        int64_t r = it / t->blocks_per_row, j0 = (it % t->blocks_per_row) * LCV_VPLAN_BLOCK;
        int64_t cnt = g->len - j0 < LCV_VPLAN_BLOCK ? g->len - j0 : LCV_VPLAN_BLOCK;
        int64_t off = r * g->len + j0;
        const float *s = g->s_step ? t->small + r * g->s_row + j0 : t->small + r % g->s_mod;
        t->k->binary(t->op, t->full + off, s, g->s_step, t->y + off, cnt);
        lcv_vplan_epilogue(t->k, t->node, t->res ? t->res + off : NULL, t->y + off, cnt);
    }
}

/* The kernel op for the node's op with the broadcast operand second (reversed when it is the
 * first input of a non-commutative op). */
static bool bin_op(int op, bool small_is_a, lcv_vbin *out) {
    switch (op) {
    case LCV_OP_Add: *out = LCV_VBIN_ADD; return true;
    case LCV_OP_Mul: *out = LCV_VBIN_MUL; return true;
    case LCV_OP_Sub: *out = small_is_a ? LCV_VBIN_RSUB : LCV_VBIN_SUB; return true;
    case LCV_OP_Div: *out = small_is_a ? LCV_VBIN_RDIV : LCV_VBIN_DIV; return true;
    default: return false;
    }
}

static lcv_status bin_exec(lcv_opctx *c) {
    const lcv_vplan *p = c->plan;
    const lcv_tensor *a = c->in[0], *b = c->in[1];
    lcv_tensor *y = c->out[0];
    bin_task t;
    if (!lcv_vplan_f32(a) || !lcv_vplan_f32(b) || !lcv_vplan_f32(y) ||
        !bin_classify(a, b, y, &t.g) || !bin_op(c->node->op, t.g.small_is_a, &t.op))
        return lcv_vplan_reference(c);
    lcv_status st;
    t.res = lcv_op_fused_residual_f32(c, &st);
    if (st != LCV_OK) return st;
    t.k = p->k;
    t.node = c->node;
    t.full = t.g.small_is_a ? b->data : a->data;
    t.small = t.g.small_is_a ? a->data : b->data;
    t.y = y->data;
    t.blocks_per_row = (t.g.len + LCV_VPLAN_BLOCK - 1) / LCV_VPLAN_BLOCK;
    int64_t per_item = t.g.len < LCV_VPLAN_BLOCK ? t.g.len : LCV_VPLAN_BLOCK;
    lcv_threadpool_parallel_for(c->pool, t.g.rows * t.blocks_per_row, lcv_vplan_grain(per_item),
                                bin_blocks, &t);
    return LCV_OK;
}

lcv_status lcv_plan_binary(const lcv_plan_ctx *pc, lcv_plan *out) {
    const lcv_tensor *a = pc->in[0], *b = pc->n_in > 1 ? pc->in[1] : NULL, *y = pc->out[0];
    bin_geom g;
    if (!lcv_vplan_f32(a) || !lcv_vplan_f32(b) || !lcv_vplan_f32(y) || !bin_classify(a, b, y, &g))
        return LCV_OK;
    return lcv_vplan_make(pc, bin_exec, out);
}
