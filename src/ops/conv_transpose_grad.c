/* conv_transpose_grad.c - the backward of ConvTranspose. ConvTranspose is the adjoint of the
 * convolution from its output space to its input space with the same weights and window, so
 * dX is that convolution applied to dY, dW is its weight gradient with X in the role of the
 * output gradient, and dB sums dY per channel; all run on conv_grad.c's engine. */
#include <string.h>

#include "conv_grad.h"

/* Resolves the output size and begin pad of every spatial dim the way the forward does
 * (output_padding, output_shape, auto_pad); the forward's infer has validated them. */
static void convt_window(const lcv_node *node, lcv_window *w) {
    int nsp = w->nsp;
    int64_t opad[LCV_MAX_DIMS] = {0};
    const int64_t *v;
    if (lcv_attr_ints(node, "output_padding", &v) == nsp)
        for (int i = 0; i < nsp; i++) opad[i] = v[i];
    const int64_t *oshape = NULL;
    int64_t n = lcv_attr_ints(node, "output_shape", &v);
    if (n == nsp) oshape = v;
    else if (n == nsp + 2) oshape = v + 2;
    bool same = w->auto_pad == LCV_AUTO_PAD_SAME_UPPER || w->auto_pad == LCV_AUTO_PAD_SAME_LOWER;
    for (int i = 0; i < nsp; i++) {
        int64_t full = w->stride[i] * (w->in[i] - 1) + opad[i] + lcv_window_extent(w, i);
        if (oshape || same) {
            int64_t out = oshape ? oshape[i] : w->in[i] * w->stride[i];
            int64_t total = full - out;
            if (total < 0) w->pad_begin[i] = 0;
            else if (w->auto_pad == LCV_AUTO_PAD_SAME_LOWER) w->pad_begin[i] = total - total / 2;
            else w->pad_begin[i] = total / 2;
            w->out[i] = out;
        } else {
            if (w->auto_pad == LCV_AUTO_PAD_VALID) w->pad_begin[i] = w->pad_end[i] = 0;
            w->out[i] = full - w->pad_begin[i] - w->pad_end[i];
        }
    }
}

lcv_status lcv_grad_conv_transpose(lcv_gradctx *c) {
    lcv_tensor y;
    lcv_tensor_init(&y);
    lcv_status st = lcv_grad_check(c, &y);
    if (st != LCV_OK) return st;
    const lcv_tensor *x = c->in[0], *wt = c->in[1];
    lcv_tensor *dx = lcv_grad_din(c, 0), *dw = lcv_grad_din(c, 1), *db = lcv_grad_din(c, 2);
    const lcv_tensor *dyt = c->dout ? c->dout[0] : NULL;
    int nsp = x->ndim - 2;
    lcv_window tw;
    lcv_opctx oc = {0};
    oc.node = c->node;
    oc.err = c->err;
    if ((st = lcv_window_parse(&oc, nsp, x->dims + 2, wt->dims + 2, &tw)) != LCV_OK) return st;
    convt_window(c->node, &tw);
    for (int d = 0; d < nsp; d++)
        if (tw.out[d] != y.dims[2 + d])
            return lcv_grad_fail(c, LCV_ERR_INTERNAL, "spatial dim %d: output size %lld but "
                                 "the forward infers %lld", d, (long long)tw.out[d],
                                 (long long)y.dims[2 + d]);
    /* The convolution Y-space -> X-space: its input is ConvTranspose's output. */
    lcv_convg g;
    g.w = tw;
    g.batch = x->dims[0];
    g.group = lcv_attr_int(c->node, "group", 1);
    g.m = x->dims[1];
    g.m_g = g.m / g.group;
    g.c_g = wt->dims[1];
    g.c = g.c_g * g.group;
    g.in_size = g.out_size = g.k_size = 1;
    for (int d = 0; d < nsp; d++) {
        g.w.in[d] = tw.out[d];
        g.w.out[d] = tw.in[d];
        g.in_size *= g.w.in[d];
        g.out_size *= g.w.out[d];
        g.k_size *= g.w.kernel[d];
    }
    if (!dyt) {
        for (int i = 0; i < 3; i++) {
            lcv_tensor *d = lcv_grad_din(c, i);
            if (d) memset(d->data, 0, sizeof(float) * (size_t)lcv_tensor_count(d));
        }
        return LCV_OK;
    }
    const float *dy = dyt->data;
    if (db) lcv_grad_channel_sums(c, g.batch, g.c, g.in_size, dy, db->data);
    if (dw) st = lcv_convg_weight_grad(c, &g, dy, x->data, dw->data);
    if (st == LCV_OK && dx) st = lcv_convg_forward(c, &g, dy, wt->data, dx->data);
    return st;
}
