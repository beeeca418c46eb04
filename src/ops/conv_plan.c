/* conv_plan.c - the fast path for float32 2-D Conv: depthwise convs run the direct kernels of
 * src/kernels/f32-dwconv; everything else is a GEMM with the weights packed once at plan time
 * and the input gathered (im2col) block by block straight into the GEMM's B panels. Bias,
 * residual and activation are applied in the epilogues.
 * Shapes other than planned fall back to the reference kernel. */
#include <stdlib.h>
#include <string.h>

#include "../kernels/f32-dwconv/dwconv.h"
#include "../kernels/f32-gemm/gemm.h"
#include "../kernels/f32-vact/vact.h"
#include "conv_direct.h"
#include "conv_fast.h"
#include "conv_winograd.h"
#include "plan.h"
#include "window.h"

typedef enum conv_kind { CONV_DEPTHWISE, CONV_GEMM } conv_kind;

typedef struct conv_plan {
    conv_kind kind;
    lcv_isa isa;
    int64_t cout, cin_g, kh, kw, group; /* the weight shape planned for */
    float *packed;                      /* GEMM: group packed A blocks, owned (64-aligned) */
    size_t group_floats;                /* floats per packed group block */
} conv_plan;

static void conv_plan_free(void *p) {
    conv_plan *cp = p;
    if (!cp) return;
    free(cp->packed);
    free(cp);
}

/* Geometry from the actual tensors (any batch and spatial size). */
typedef struct conv_shape {
    int64_t batch, cin, h, w, oh, ow;
    lcv_window win;
} conv_shape;

/* Reads the window attributes for a [N, C, H, W] input; false when they are invalid (the
 * reference then reports it) or the conv is not one this plan handles. */
static bool conv_shape_get(const lcv_node *node, const lcv_tensor *x, const int64_t *kernel,
                           conv_shape *s) {
    lcv_err err;
    lcv_opctx c = {0};
    c.node = node;
    c.err = &err;
    if (x->ndim != 4 || lcv_window_parse(&c, 2, x->dims + 2, kernel, &s->win) != LCV_OK ||
        lcv_window_forward_out(&c, &s->win, false) != LCV_OK)
        return false;
    s->batch = x->dims[0];
    s->cin = x->dims[1];
    s->h = x->dims[2];
    s->w = x->dims[3];
    s->oh = s->win.out[0];
    s->ow = s->win.out[1];
    return s->h > 0 && s->w > 0;
}

lcv_status lcv_conv_fallback(lcv_opctx *c) {
    const lcv_tensor *wt = lcv_op_input(c, 1);
    if (wt && !wt->data) /* freed at load: the plan said it drops them (drops_inputs) */
        return lcv_op_fail(c, LCV_ERR_INTERNAL, "the reference kernel is needed for this input "
                           "but the weights were released at load (the plan keeps only its "
                           "packed or transformed copy)");
    lcv_status st = lcv_exec_conv(c);
    return st == LCV_OK ? lcv_op_apply_fused(c) : st;
}

bool lcv_conv_operands_match(const lcv_opctx *c, int64_t cout, int64_t cin_g, int64_t kh,
                             int64_t kw) {
    const lcv_tensor *x = lcv_op_input(c, 0), *wt = lcv_op_input(c, 1), *b = lcv_op_input(c, 2);
    return x && wt && x->data && x->dtype == LCV_DTYPE_FLOAT32 &&
           wt->dtype == LCV_DTYPE_FLOAT32 && wt->ndim == 4 && wt->dims[0] == cout &&
           wt->dims[1] == cin_g && wt->dims[2] == kh && wt->dims[3] == kw &&
           (!b || (b->dtype == LCV_DTYPE_FLOAT32 && b->ndim == 1 && b->dims[0] == cout));
}

bool lcv_conv_output_matches(const lcv_opctx *c, const int64_t ydims[4]) {
    const lcv_tensor *y = c->out[0];
    int res = c->node->fused.residual;
    const lcv_tensor *r = res >= 0 ? c->in[res] : NULL;
    return y->dtype == LCV_DTYPE_FLOAT32 && lcv_shape_equal(y->ndim, y->dims, 4, ydims) &&
           (res < 0 || (r && r->dtype == LCV_DTYPE_FLOAT32 &&
                        lcv_shape_equal(r->ndim, r->dims, 4, ydims)));
}

static lcv_status conv_run_dw(lcv_opctx *c, const conv_plan *p, const conv_shape *s,
                              const float *res) {
    lcv_dwconv_geom g = {.batch = s->batch, .channels = s->cin, .in_h = s->h, .in_w = s->w,
                         .out_h = s->oh, .out_w = s->ow, .kh = p->kh, .kw = p->kw,
                         .stride_h = s->win.stride[0], .stride_w = s->win.stride[1],
                         .dil_h = s->win.dilation[0], .dil_w = s->win.dilation[1],
                         .pad_top = s->win.pad_begin[0], .pad_left = s->win.pad_begin[1]};
    const lcv_tensor *b = lcv_op_input(c, 2);
    /* The kernels apply bias, residual and activation to each row block while it is in L1. */
    lcv_dwconv_run(&g, lcv_dwconv_select(p->isa, &g), c->in[0]->data, c->in[1]->data,
                   b ? b->data : NULL, res, &c->node->fused, c->out[0]->data, c->pool);
    return LCV_OK;
}

/* im2col for the GEMM's B operand, produced block by block straight into the microkernel's
 * panels (lcv_gemm_pack_fn): row r of B is (channel, ky, kx), column p an output position. */
typedef struct im2col_src {
    const conv_shape *s;
    int64_t kh, kw;
    const float *x; /* the group's first input channel plane */
    bool plain;     /* 1x1, stride 1, no padding: row r is input plane r itself */
} im2col_src;

/* Writes row r of B for positions [j0, j1) into the panels at d (lane l of panel q at
 * d[q * pstride + l]), zeroing the lanes of the last panel past j1. The positions go by pieces
 * that end at an output row or a panel edge, tracked without divisions. */
static void im2col_row(const im2col_src *t, int64_t r, int64_t j0, int64_t j1, int nr,
                       int64_t pstride, float *d) {
    const conv_shape *s = t->s;
    const lcv_window *w = &s->win;
    int64_t kx = r % t->kw, ky = (r / t->kw) % t->kh, ci = r / (t->kw * t->kh);
    const float *xp = t->x + ci * s->h * s->w;
    int64_t sx = w->stride[1], offx = kx * w->dilation[1] - w->pad_begin[1];
    /* columns of every output row that read inside the input for this kx */
    int64_t lo = offx >= 0 ? 0 : (-offx + sx - 1) / sx;
    int64_t hi = s->w - 1 - offx < 0 ? 0 : (s->w - 1 - offx) / sx + 1;
    if (hi > s->ow) hi = s->ow;
    if (lo > hi) lo = hi;
    int64_t oy = j0 / s->ow, ox0 = j0 % s->ow, lane = 0;
    float *q = d;
    for (int64_t p = j0; p < j1;) {
        int64_t len = s->ow - ox0;
        if (len > j1 - p) len = j1 - p;
        if (len > nr - lane) len = nr - lane;
        int64_t ox1 = ox0 + len;
        float *dd = q + lane;
        if (t->plain) {
            memcpy(dd, xp + p, sizeof(float) * (size_t)len);
        } else {
            int64_t iy = oy * w->stride[0] + ky * w->dilation[0] - w->pad_begin[0];
            if (iy < 0 || iy >= s->h) {
                memset(dd, 0, sizeof(float) * (size_t)len);
            } else {
                const float *xr = xp + iy * s->w + offx;
                int64_t a = lo < ox0 ? ox0 : lo > ox1 ? ox1 : lo;
                int64_t z = hi > ox1 ? ox1 : hi < a ? a : hi;
                int64_t ox = ox0;
                float *da = dd - ox0;
                for (; ox < a; ox++) da[ox] = 0.0f;
                /* constant strides so the compiler vectorises the common cases */
                if (sx == 1)
                    for (; ox < z; ox++) da[ox] = xr[ox];
                else if (sx == 2)
                    for (; ox < z; ox++) da[ox] = xr[2 * ox];
                else
                    for (; ox < z; ox++) da[ox] = xr[ox * sx];
                for (; ox < ox1; ox++) da[ox] = 0.0f;
            }
        }
        p += len;
        ox0 = ox1;
        if (ox0 == s->ow) {
            ox0 = 0;
            oy++;
        }
        lane += len;
        if (lane == nr) {
            lane = 0;
            q += pstride;
        }
    }
    if (lane > 0)
        for (; lane < nr; lane++) q[lane] = 0.0f;
}

static void im2col_pack(const void *ctx, int64_t k0, int64_t kc, int64_t j0, int64_t j1, int nr,
                        float *dst) {
    for (int64_t kk = 0; kk < kc; kk++)
        im2col_row(ctx, k0 + kk, j0, j1, nr, kc * nr, dst + kk * nr);
}

static lcv_status conv_gemm_fail(lcv_opctx *c, lcv_err *e) {
    return lcv_op_fail(c, LCV_ERR_INTERNAL, "%s", e->msg);
}

/* One GEMM per (image, group) over all output positions: the pool splits it once, and each
 * thread builds the im2col panels of its own column blocks as the K blocks need them. */
static lcv_status conv_run_gemm(lcv_opctx *c, const conv_plan *p, const conv_shape *s,
                                const float *res) {
    const lcv_window *w = &s->win;
    int64_t cout_g = p->cout / p->group, k = p->cin_g * p->kh * p->kw, hw = s->oh * s->ow;
    int64_t in_plane = s->h * s->w;
    bool plain = p->kh == 1 && p->kw == 1 && w->stride[0] == 1 && w->stride[1] == 1 &&
                 w->pad_begin[0] == 0 && w->pad_begin[1] == 0 && w->pad_end[0] == 0 &&
                 w->pad_end[1] == 0;
    size_t ws_bytes = lcv_gemm_ws_size(p->isa, lcv_threadpool_size(c->pool));
    float *ws = ws_bytes ? lcv_op_scratch(c, ws_bytes) : NULL;
    if (!ws) return lcv_conv_fallback(c);
    const lcv_tensor *bt = lcv_op_input(c, 2);
    const float *x = c->in[0]->data, *bias = bt ? bt->data : NULL;
    float *y = c->out[0]->data;
    lcv_err err;
    for (int64_t n = 0; n < s->batch; n++) {
        for (int64_t gi = 0; gi < p->group; gi++) {
            im2col_src src = {s, p->kh, p->kw, x + (n * s->cin + gi * p->cin_g) * in_plane,
                              plain};
            int64_t yoff = (n * p->cout + gi * cout_g) * hw;
            lcv_gemm_epilogue epi = {bias ? bias + gi * cout_g : NULL, false,
                                     res ? res + yoff : NULL, hw, &c->node->fused};
            lcv_gemm_args a = {p->isa, cout_g, hw, k,
                               {p->packed + gi * (int64_t)p->group_floats, 0, false, true},
                               {NULL, 0, false, false}, y + yoff, hw, &epi};
            lcv_gemm_ws gws = {ws, im2col_pack, &src};
            if (lcv_gemm_run_ws(&a, &gws, c->pool, &err) != LCV_OK)
                return conv_gemm_fail(c, &err);
        }
    }
    return LCV_OK;
}

/* The fast exec: checks the actual tensors against the plan, else runs the reference. */
static lcv_status conv_exec_fast(lcv_opctx *c) {
    const conv_plan *p = c->plan;
    const lcv_tensor *x = lcv_op_input(c, 0), *wt = lcv_op_input(c, 1);
    const lcv_fused *f = &c->node->fused;
    const lcv_tensor *r = f->residual >= 0 ? c->in[f->residual] : NULL;
    conv_shape s;
    if (!p || !lcv_conv_operands_match(c, p->cout, p->cin_g, p->kh, p->kw) ||
        !conv_shape_get(c->node, x, wt->dims + 2, &s) || s.cin != p->cin_g * p->group)
        return lcv_conv_fallback(c);
    int64_t ydims[4] = {s.batch, p->cout, s.oh, s.ow};
    if (!lcv_conv_output_matches(c, ydims)) return lcv_conv_fallback(c);
    if (s.batch == 0) return LCV_OK;
    const float *res = r ? r->data : NULL;
    return p->kind == CONV_DEPTHWISE ? conv_run_dw(c, p, &s, res) : conv_run_gemm(c, p, &s, res);
}

lcv_status lcv_plan_conv(const lcv_plan_ctx *pc, lcv_plan *out) {
    const lcv_tensor *x = pc->n_in > 0 ? pc->in[0] : NULL, *wt = pc->n_in > 1 ? pc->in[1] : NULL;
    const lcv_tensor *b = pc->n_in > 2 ? pc->in[2] : NULL;
    if (!x || !wt || !wt->data || x->dtype != LCV_DTYPE_FLOAT32 ||
        wt->dtype != LCV_DTYPE_FLOAT32 || (b && b->dtype != LCV_DTYPE_FLOAT32) ||
        x->ndim != 4 || wt->ndim != 4)
        return LCV_OK;
    int64_t group = lcv_attr_int(pc->node, "group", 1);
    int64_t cout = wt->dims[0], cin_g = wt->dims[1];
    if (group < 1 || cin_g < 1 || cout < 1 || cout % group != 0 || wt->dims[2] < 1 ||
        wt->dims[3] < 1 || (x->dims[1] >= 0 && x->dims[1] != cin_g * group))
        return LCV_OK;
    conv_shape s;
    if (!conv_shape_get(pc->node, x, wt->dims + 2, &s)) return LCV_OK;
    bool direct = false; /* dense convs with few input channels (stems): conv_direct.c */
    lcv_status dst = lcv_conv_direct_plan(pc, true, &direct, out);
    if (dst != LCV_OK || direct) return dst;
    bool wino = false; /* dense 3x3 stride 1 where Winograd is faster: conv_winograd.c */
    lcv_status wst = lcv_conv_winograd_plan(pc, true, &wino, out);
    if (wst != LCV_OK || wino) return wst;
    conv_plan *p = calloc(1, sizeof *p);
    if (!p) return lcv_fail(pc->err, LCV_ERR_NOMEM, "out of memory planning conv '%s'",
                            pc->node->name);
    p->isa = pc->isa;
    p->cout = cout;
    p->cin_g = cin_g;
    p->kh = wt->dims[2];
    p->kw = wt->dims[3];
    p->group = group;
    if (cin_g == 1 && group == cout) {
        p->kind = CONV_DEPTHWISE;
    } else {
        p->kind = CONV_GEMM;
        int64_t cout_g = cout / group, k = cin_g * p->kh * p->kw;
        size_t bytes = lcv_gemm_pack_a_size(p->isa, cout_g, k), total;
        void *mem = NULL;
        if (bytes == 0 || bytes % sizeof(float) != 0 ||
            !lcv_mul_size(bytes, (size_t)group, &total) || posix_memalign(&mem, 64, total) != 0) {
            free(p);
            if (bytes == 0) return LCV_OK;
            return lcv_fail(pc->err, LCV_ERR_NOMEM, "out of memory packing the weights of conv "
                            "'%s'", pc->node->name);
        }
        p->packed = mem;
        p->group_floats = bytes / sizeof(float);
        const float *wd = wt->data;
        for (int64_t gi = 0; gi < group; gi++)
            lcv_gemm_pack_a(p->isa, cout_g, k, wd + gi * cout_g * k, k, false, 1.0f,
                            p->packed + gi * (int64_t)p->group_floats);
    }
    out->exec = conv_exec_fast;
    out->data = p;
    out->free_data = conv_plan_free;
    if (p->kind == CONV_GEMM) out->drops_inputs = 1u << 1; /* runs from the packed weights */
    return LCV_OK;
}
