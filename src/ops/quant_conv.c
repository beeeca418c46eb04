/* quant_conv.c - integer convolutions: ConvInteger (int32 sums) and QLinearConv (requantized
 * to int8/uint8). A direct N-d reference with Conv's attributes (group, strides, pads,
 * dilations, auto_pad, parsed by window.c); per-output-channel weight zero points and scales.
 * Padding stands for the zero point, so padded taps contribute exactly nothing. */
#include <math.h>

#include "../kernels/i8-gemm/i8_requant.h"
#include "quant_util.h"
#include "window.h"

typedef struct qconv {
    lcv_window win;
    int64_t N, C, M, group;
    const lcv_tensor *x, *w, *bias;
    qvec xzp, wzp;
    bool requant;
    qvec xs, ws, ys, yzp;
} qconv;

/* Shapes, dtypes and geometry; xi/wi are the input positions of x and w, zp_x/zp_w of their
 * zero points (-1 absent). */
static lcv_status qconv_parse(lcv_opctx *c, int xi, int wi, int zp_x, int zp_w, qconv *q) {
    const lcv_tensor *x = c->in[xi], *w = c->in[wi];
    lcv_status st;
    q->x = x;
    q->w = w;
    if ((st = q_need_q8(c, xi, "x")) != LCV_OK || (st = q_need_q8(c, wi, "w")) != LCV_OK)
        return st;
    if (x->ndim < 3 || w->ndim != x->ndim)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "x (rank %d) needs rank >= 3 and w (rank %d) the "
                           "same rank", x->ndim, w->ndim);
    q->N = x->dims[0];
    q->C = x->dims[1];
    q->M = w->dims[0];
    q->group = lcv_attr_int(c->node, "group", 1);
    if (q->group < 1 || q->C % q->group != 0 || q->M % q->group != 0 ||
        w->dims[1] * q->group != q->C)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "group %lld does not fit %lld input channels, "
                           "%lld output channels and weights with %lld channels",
                           (long long)q->group, (long long)q->C, (long long)q->M,
                           (long long)w->dims[1]);
    int nsp = x->ndim - 2;
    if ((st = lcv_window_parse(c, nsp, x->dims + 2, w->dims + 2, &q->win)) != LCV_OK) return st;
    if ((st = lcv_window_forward_out(c, &q->win, false)) != LCV_OK) return st;
    if ((st = q_vec(c, zp_x, "x_zero_point", 0, &q->xzp)) != LCV_OK) return st;
    if ((st = q_vec(c, zp_w, "w_zero_point", q->M, &q->wzp)) != LCV_OK) return st;
    if ((st = q_need_zp_like(c, &q->xzp, x->dtype, "x_zero_point")) != LCV_OK) return st;
    return q_need_zp_like(c, &q->wzp, w->dtype, "w_zero_point");
}

static void qconv_out_shape(const qconv *q, int64_t *dims) {
    dims[0] = q->N;
    dims[1] = q->M;
    for (int i = 0; i < q->win.nsp; i++) dims[2 + i] = q->win.out[i];
}

static void qconv_run(const qconv *q, lcv_tensor *y) {
    const lcv_window *win = &q->win;
    int nsp = win->nsp;
    int64_t cpg = q->C / q->group, mpg = q->M / q->group, is = 1, ks = 1, os = 1;
    for (int i = 0; i < nsp; i++) is *= win->in[i], ks *= win->kernel[i], os *= win->out[i];
    int32_t zx = qv_i(&q->xzp, 0);
    int64_t oi = 0;
    for (int64_t n = 0; n < q->N; n++) {
        for (int64_t m = 0; m < q->M; m++) {
            int64_t g = m / mpg;
            int32_t zw = qv_i(&q->wzp, m);
            int64_t oc[LCV_MAX_DIMS] = {0};
            for (int64_t o = 0; o < os; o++, oi++) {
                int64_t acc = 0;
                for (int64_t ci = 0; ci < cpg; ci++) {
                    int64_t xb = (n * q->C + g * cpg + ci) * is, wb = (m * cpg + ci) * ks;
                    int64_t kc[LCV_MAX_DIMS] = {0};
                    for (int64_t kf = 0; kf < ks; kf++) {
                        int64_t off = 0;
                        bool inside = true;
                        for (int d = 0; d < nsp && inside; d++) {
                            int64_t p = oc[d] * win->stride[d] - win->pad_begin[d] +
                                        kc[d] * win->dilation[d];
                            inside = p >= 0 && p < win->in[d];
                            off = off * win->in[d] + p;
                        }
                        if (inside)
                            acc += (lcv_load_i64(q->x->dtype, q->x->data, xb + off) - zx) *
                                   (lcv_load_i64(q->w->dtype, q->w->data, wb + kf) - zw);
                        for (int d = nsp - 1; d >= 0; d--) {
                            if (++kc[d] < win->kernel[d]) break;
                            kc[d] = 0;
                        }
                    }
                }
                if (!q->requant) {
                    ((int32_t *)y->data)[oi] = (int32_t)(uint32_t)(uint64_t)acc;
                } else {
                    if (q->bias) acc += ((const int32_t *)q->bias->data)[m];
                    float mult = lcv_i8_mult((float)qv_f(&q->xs, 0), (float)qv_f(&q->ws, m),
                                             (float)qv_f(&q->ys, 0));
                    int32_t lo = y->dtype == LCV_DTYPE_UINT8 ? 0 : -128;
                    lcv_store_i64(y->dtype, y->data, oi,
                                  lcv_i8_requant(lcv_i32_wrap(acc), mult, qv_i(&q->yzp, 0), lo,
                                                 lo + 255));
                }
                for (int d = nsp - 1; d >= 0; d--) {
                    if (++oc[d] < win->out[d]) break;
                    oc[d] = 0;
                }
            }
        }
    }
}

/* ---- ConvInteger: x, w, x_zero_point?, w_zero_point? ---- */

lcv_status lcv_infer_conv_integer(lcv_opctx *c) {
    qconv q = {0};
    lcv_status st = qconv_parse(c, 0, 1, 2, 3, &q);
    if (st != LCV_OK) return st;
    int64_t dims[LCV_MAX_DIMS];
    qconv_out_shape(&q, dims);
    lcv_op_set_out(c, 0, LCV_DTYPE_INT32, q.x->ndim, dims);
    return LCV_OK;
}

lcv_status lcv_exec_conv_integer(lcv_opctx *c) {
    qconv q = {0};
    lcv_status st = qconv_parse(c, 0, 1, 2, 3, &q);
    if (st != LCV_OK) return st;
    qconv_run(&q, c->out[0]);
    return LCV_OK;
}

/* ---- QLinearConv: x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B? ---- */

static lcv_status qlinear_conv_parse(lcv_opctx *c, qconv *q) {
    lcv_status st = qconv_parse(c, 0, 3, 2, 5, q);
    if (st != LCV_OK) return st;
    q->requant = true;
    if ((st = q_need_q8(c, 7, "y_zero_point")) != LCV_OK ||
        (st = q_vec(c, 1, "x_scale", 0, &q->xs)) != LCV_OK ||
        (st = q_vec(c, 4, "w_scale", q->M, &q->ws)) != LCV_OK ||
        (st = q_vec(c, 6, "y_scale", 0, &q->ys)) != LCV_OK ||
        (st = q_vec(c, 7, "y_zero_point", 0, &q->yzp)) != LCV_OK ||
        (st = q_need_float(c, &q->xs, "x_scale")) != LCV_OK ||
        (st = q_need_float(c, &q->ws, "w_scale")) != LCV_OK ||
        (st = q_need_float(c, &q->ys, "y_scale")) != LCV_OK)
        return st;
    q->bias = lcv_op_input(c, 8);
    if (q->bias && (q->bias->dtype != LCV_DTYPE_INT32 || q->bias->ndim != 1 ||
                    q->bias->dims[0] != q->M))
        return lcv_op_fail(c, LCV_ERR_SHAPE, "B must be int32 of shape [%lld], got %s of %lld "
                           "elements", (long long)q->M, lcv_dtype_name(q->bias->dtype),
                           (long long)lcv_tensor_count(q->bias));
    return LCV_OK;
}

lcv_status lcv_infer_qlinear_conv(lcv_opctx *c) {
    qconv q = {0};
    lcv_status st = qlinear_conv_parse(c, &q);
    if (st != LCV_OK) return st;
    int64_t dims[LCV_MAX_DIMS];
    qconv_out_shape(&q, dims);
    lcv_op_set_out(c, 0, c->in[7]->dtype, q.x->ndim, dims);
    return LCV_OK;
}

lcv_status lcv_exec_qlinear_conv(lcv_opctx *c) {
    qconv q = {0};
    lcv_status st = qlinear_conv_parse(c, &q);
    if (st != LCV_OK) return st;
    qconv_run(&q, c->out[0]);
    return LCV_OK;
}
