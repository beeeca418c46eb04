/* conv_winograd.c - the Conv plan that runs dense 3x3 stride-1 float32 convolutions with the
 * Winograd F(4x4, 3x3) kernel (src/kernels/f32-winograd): which layers take it (the rule and
 * the measurements behind it are below), the weight transform at load time, and the exec
 * that recomputes the geometry from the actual tensors and falls back to the reference. */
#include "conv_winograd.h"

#include <stdlib.h>

#include "../kernels/f32-winograd/winograd.h"
#include "conv_fast.h"
#include "window.h"

typedef struct wino_plan {
    lcv_isa isa;
    int64_t cin, cout;
    float *weights; /* lcv_winograd_pack_weights output, owned (64-byte aligned) */
} wino_plan;

static void wino_plan_free(void *p) {
    wino_plan *wp = p;
    if (!wp) return;
    free(wp->weights);
    free(wp);
}

/* The kernel's geometry for node on input x (any N, H, W) with weights of cout x cin;
 * false when the attributes are invalid (the reference reports them) or not the kernel's
 * (stride or dilation other than 1, group other than 1). */
static bool wino_geom(const lcv_node *node, const lcv_tensor *x, int64_t cin, int64_t cout,
                      lcv_winograd_geom *g) {
    static const int64_t k3[2] = {3, 3};
    lcv_err err;
    lcv_opctx c = {0};
    lcv_window w;
    c.node = node;
    c.err = &err;
    if (x->ndim != 4 || x->dims[1] != cin || lcv_attr_int(node, "group", 1) != 1 ||
        lcv_window_parse(&c, 2, x->dims + 2, k3, &w) != LCV_OK ||
        lcv_window_forward_out(&c, &w, false) != LCV_OK)
        return false;
    for (int i = 0; i < 2; i++)
        if (w.stride[i] != 1 || w.dilation[i] != 1) return false;
    *g = (lcv_winograd_geom){x->dims[0], cin, cout, x->dims[2], x->dims[3], w.out[0], w.out[1],
                             w.pad_begin[0], w.pad_begin[1]};
    return lcv_winograd_geom_ok(g);
}

static lcv_status wino_exec(lcv_opctx *c) {
    const wino_plan *p = c->plan;
    const lcv_tensor *x = lcv_op_input(c, 0), *b = lcv_op_input(c, 2);
    const lcv_fused *f = &c->node->fused;
    const lcv_tensor *r = f->residual >= 0 ? c->in[f->residual] : NULL;
    lcv_tensor *y = c->out[0];
    lcv_winograd_geom g;
    if (!p || !lcv_conv_operands_match(c, p->cout, p->cin, 3, 3) ||
        !wino_geom(c->node, x, p->cin, p->cout, &g))
        return lcv_conv_fallback(c);
    int64_t ydims[4] = {g.batch, g.cout, g.out_h, g.out_w};
    if (!lcv_conv_output_matches(c, ydims)) return lcv_conv_fallback(c);
    size_t need = lcv_winograd_scratch_size(p->isa, &g, lcv_threadpool_size(c->pool));
    void *scratch = need ? lcv_op_scratch(c, need) : NULL;
    if (!scratch) return lcv_conv_fallback(c);
    lcv_winograd_args a = {p->isa, g, x->data, p->weights, b ? b->data : NULL,
                           r ? r->data : NULL, f->act != LCV_ACT_NONE ? f : NULL, y->data,
                           scratch, need};
    lcv_err err;
    if (lcv_winograd_run(&a, c->pool, &err) != LCV_OK)
        return lcv_op_fail(c, LCV_ERR_INTERNAL, "%s", err.msg);
    return LCV_OK;
}

/* Whether Winograd beats the im2col GEMM path of conv_plan.c on this layer (batch as
 * planned, one thread). Measured with single Conv+Relu models (pads 1, batch 1, 1 thread,
 * AVX-512, Zen 4; best of 3 x 15 runs, alternating builds, Winograd forced where the rule
 * refuses it) as Cin_Cout_HxW: im2col ms / Winograd ms:
 *   64_64_56 1.41/0.47   128_128_28 1.38/0.44   256_256_14 1.46/0.64   512_512_7 2.14/2.43
 *   16_64_55 0.36/0.18   32_128_27 0.32/0.13    48_192_13 0.18/0.09    64_256_13 0.31/0.15
 *   16_16_56 0.14/0.07   8_8_56 0.043/0.047     3_64_56 0.067/0.104    16_16_14 0.019/0.008
 *   64_64_7 0.047/0.016  128_256_28 2.61/0.89   512_512_14 6.9/5.8     1024_1024_7 22/13
 * and, from isolated kernel timings, per 4x4 tile: the input transform ~10 ns per input
 * channel, the output transform ~6 ns per output channel, the 36 products ~0.33 ns per
 * channel pair, against ~1.75 ns per pair for im2col's 144. So Winograd needs
 * 10 cin + 6 cout < 1.4 cin cout (thin layers such as 8->8 or 3->64 lose). Its transformed
 * weights are 4x the original (144 bytes per channel pair) and are streamed once per block of
 * tiles; alone a layer finds them in cache, in a whole network they come from memory. Beyond
 * 4 MiB a pass must serve at least 16 tiles: in resnet18 the 256_256_14 layers (16 tiles,
 * 9.4 MB) run 2.4-3.9 -> 1.9-3.1 ms, the 512_512_7 ones (4 tiles, 38 MB) 3.8-4.5 -> 5.0-6.2
 * ms, so only the former take it (1024_1024_7 wins alone only because im2col is itself
 * memory-bound there). The constants come from AVX-512; the other ISAs use the same rule. */
static bool wino_faster(lcv_isa isa, const lcv_winograd_geom *g) {
    double cin = (double)g->cin, cout = (double)g->cout;
    if (!(10.0 * cin + 6.0 * cout < 1.4 * cin * cout)) return false;
    double weight_bytes = 144.0 * cin * cout;
    return weight_bytes <= 4.0 * 1024 * 1024 || lcv_winograd_tiles_per_pass(isa, g, 1) >= 16;
}

lcv_status lcv_conv_winograd_plan(const lcv_plan_ctx *pc, bool only_if_faster, bool *taken,
                                  lcv_plan *out) {
    *taken = false;
    const lcv_tensor *x = pc->n_in > 0 ? pc->in[0] : NULL, *wt = pc->n_in > 1 ? pc->in[1] : NULL;
    const lcv_tensor *b = pc->n_in > 2 ? pc->in[2] : NULL;
    lcv_winograd_geom g;
    if (!x || !wt || !wt->data || x->dtype != LCV_DTYPE_FLOAT32 ||
        wt->dtype != LCV_DTYPE_FLOAT32 || (b && b->dtype != LCV_DTYPE_FLOAT32) ||
        wt->ndim != 4 || wt->dims[2] != 3 || wt->dims[3] != 3 ||
        !wino_geom(pc->node, x, wt->dims[1], wt->dims[0], &g) ||
        (only_if_faster && !wino_faster(pc->isa, &g)))
        return LCV_OK;
    size_t bytes = lcv_winograd_weights_size(pc->isa, g.cin, g.cout), tmp_bytes;
    if (bytes == 0 || !lcv_mul_size((size_t)(g.cin * g.cout), 6 * sizeof(float), &tmp_bytes))
        return LCV_OK; /* sizes beyond size_t: the GEMM path decides */
    wino_plan *p = calloc(1, sizeof *p);
    void *mem = NULL;
    float *tmp = NULL;
    if (!p || posix_memalign(&mem, 64, bytes) != 0 || !(tmp = malloc(tmp_bytes))) {
        free(p);
        free(mem);
        return lcv_fail(pc->err, LCV_ERR_NOMEM, "out of memory transforming the weights of conv "
                        "'%s' for Winograd", pc->node->name);
    }
    p->isa = pc->isa;
    p->cin = g.cin;
    p->cout = g.cout;
    p->weights = mem;
    lcv_winograd_pack_weights(pc->isa, g.cin, g.cout, wt->data, tmp, p->weights);
    free(tmp);
    out->exec = wino_exec;
    out->data = p;
    out->free_data = wino_plan_free;
    out->drops_inputs = 1u << 1; /* runs from the transformed weights only */
    *taken = true;
    return LCV_OK;
}
