/* conv_direct.c - the Conv plan for dense float32 convolutions with few input channels
 * (stems: 3->64 7x7/s2, 3->32 3x3/s2, ...): an im2col GEMM has K = Cin*kh*kw of only 27..147
 * there and pays for a K x HW buffer, while the direct kernel of src/kernels/f32-conv-direct
 * reads a padded stride-phase copy of the input once. Which layers take it, the weight
 * packing at load time, and the exec that rechecks the actual tensors. */
#include "conv_direct.h"

#include <stdlib.h>

#include "../kernels/f32-conv-direct/convdirect.h"
#include "conv_fast.h"
#include "window.h"

typedef struct direct_plan {
    lcv_isa isa;
    int64_t cout, cin, kh, kw;
    float *packed; /* lcv_convdirect_pack output, owned */
} direct_plan;

static void direct_plan_free(void *p) {
    direct_plan *dp = p;
    if (!dp) return;
    free(dp->packed);
    free(dp);
}

/* The kernel's geometry for node on input x [N, cin, H, W]; false when the attributes are
 * invalid (the reference reports them) or not the kernel's (group or dilation other than 1,
 * an input copy beyond the kernel's limits). */
static bool direct_geom(const lcv_node *node, const lcv_tensor *x, int64_t cin, int64_t cout,
                        const int64_t *kernel, lcv_convdirect_geom *g) {
    lcv_err err;
    lcv_opctx c = {0};
    lcv_window w;
    c.node = node;
    c.err = &err;
    if (x->ndim != 4 || x->dims[1] != cin || lcv_attr_int(node, "group", 1) != 1 ||
        lcv_window_parse(&c, 2, x->dims + 2, kernel, &w) != LCV_OK ||
        lcv_window_forward_out(&c, &w, false) != LCV_OK || w.dilation[0] != 1 ||
        w.dilation[1] != 1)
        return false;
    *g = (lcv_convdirect_geom){cin, cout, x->dims[2], x->dims[3], w.out[0], w.out[1],
                               kernel[0], kernel[1], w.stride[0], w.stride[1],
                               w.pad_begin[0], w.pad_begin[1]};
    return lcv_convdirect_scratch_floats(g) > 0;
}

static lcv_status direct_exec(lcv_opctx *c) {
    const direct_plan *p = c->plan;
    const lcv_tensor *x = lcv_op_input(c, 0), *wt = lcv_op_input(c, 1), *b = lcv_op_input(c, 2);
    const lcv_fused *f = &c->node->fused;
    const lcv_tensor *r = f->residual >= 0 ? c->in[f->residual] : NULL;
    lcv_tensor *y = c->out[0];
    lcv_convdirect_geom g;
    if (!p || !lcv_conv_operands_match(c, p->cout, p->cin, p->kh, p->kw) ||
        !direct_geom(c->node, x, p->cin, p->cout, wt->dims + 2, &g))
        return lcv_conv_fallback(c);
    int64_t ydims[4] = {x->dims[0], g.cout, g.out_h, g.out_w};
    if (!lcv_conv_output_matches(c, ydims)) return lcv_conv_fallback(c);
    if (x->dims[0] == 0) return LCV_OK;
    float *scratch = lcv_op_scratch(c, sizeof(float) * lcv_convdirect_scratch_floats(&g));
    if (!scratch) return lcv_conv_fallback(c);
    lcv_convdirect_run(p->isa, &g, x->dims[0], x->data, p->packed, b ? b->data : NULL,
                       r ? r->data : NULL, f->act != LCV_ACT_NONE ? f : NULL, y->data, scratch,
                       c->pool);
    return LCV_OK;
}

/* Where the direct kernel beats the im2col GEMM. Measured on single stem convs (batch 1,
 * 1 thread, Zen 4, min of 60 runs, GEMM path vs direct) as Cout_HxW_k_stride_pad, ms:
 *   AVX-512: 64_224_3_s2_p0 0.351/0.325  64_224_7_s2_p3 1.90/1.32  32_224_3_s2_p1+SiLU
 *            0.312/0.243  16_224_3_s2_p1 0.170/0.132
 *   AVX2 (56x56 inputs): 64_3_s2 0.033/0.043  64_7_s2 0.19/0.20  32_3_s2+SiLU 0.034/0.035
 *   scalar (56x56): 64_3_s2 0.26/0.31  64_7_s2 0.76/1.8
 * The AVX2 GEMM's 6x16 tile reuses each loaded input more than the 4x24 direct block can in 16
 * registers, so only AVX-512 (8x32 in 32 registers) takes the direct path. */
static bool direct_faster(lcv_isa isa) { return isa == LCV_ISA_AVX512; }

lcv_status lcv_conv_direct_plan(const lcv_plan_ctx *pc, bool only_if_faster, bool *taken,
                                lcv_plan *out) {
    *taken = false;
    if (only_if_faster && !direct_faster(pc->isa)) return LCV_OK;
    const lcv_tensor *x = pc->n_in > 0 ? pc->in[0] : NULL, *wt = pc->n_in > 1 ? pc->in[1] : NULL;
    const lcv_tensor *b = pc->n_in > 2 ? pc->in[2] : NULL;
    lcv_convdirect_geom g;
    if (!x || !wt || !wt->data || x->dtype != LCV_DTYPE_FLOAT32 ||
        wt->dtype != LCV_DTYPE_FLOAT32 || (b && b->dtype != LCV_DTYPE_FLOAT32) ||
        wt->ndim != 4 || wt->dims[1] < 1 || wt->dims[1] > LCV_CONV_DIRECT_MAX_CIN ||
        !direct_geom(pc->node, x, wt->dims[1], wt->dims[0], wt->dims + 2, &g))
        return LCV_OK;
    size_t floats = lcv_convdirect_packed_floats(g.cout, g.cin, g.kh, g.kw);
    if (floats == 0) return LCV_OK; /* beyond the kernel's limits: another path decides */
    direct_plan *p = calloc(1, sizeof *p);
    float *packed = malloc(sizeof(float) * floats);
    if (!p || !packed) {
        free(p);
        free(packed);
        return lcv_fail(pc->err, LCV_ERR_NOMEM, "out of memory packing the weights of conv "
                        "'%s' for the direct kernel", pc->node->name);
    }
    *p = (direct_plan){pc->isa, g.cout, g.cin, g.kh, g.kw, packed};
    lcv_convdirect_pack(g.cout, g.cin, g.kh, g.kw, wt->data, packed);
    out->exec = direct_exec;
    out->data = p;
    out->free_data = direct_plan_free;
    out->drops_inputs = 1u << 1; /* runs from the packed weights only */
    *taken = true;
    return LCV_OK;
}
