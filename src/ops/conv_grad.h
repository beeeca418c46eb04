/* conv_grad.h - the float32 convolution engine behind the backward of Conv and ConvTranspose
 * (implemented in conv_grad.c): for a convolution X -> Y it computes Y itself, the adjoint
 * (dX from dY) and the weight gradient, in N spatial dims, with groups, strides, dilations and
 * begin pads. ConvTranspose is the adjoint of a convolution with the same weights, so its
 * backward uses the same three products with the roles of X and Y exchanged. Private to
 * src/ops. */
#ifndef LCV_OPS_CONV_GRAD_H
#define LCV_OPS_CONV_GRAD_H

#include "gemm_grad.h"
#include "window.h"

/* A convolution from x [batch, c, w.in...] to y [batch, m, w.out...] with weights
 * [m, c_g, w.kernel...]: y position o reads x at o * stride + tap * dilation - pad_begin
 * (positions outside x read zero). pad_end is not used (w.out is given). */
typedef struct lcv_convg {
    lcv_window w;
    int64_t batch, c, m, group, c_g, m_g;
    int64_t in_size, out_size, k_size; /* products over the spatial dims */
} lcv_convg;

/* y = conv(x, wt) (no bias), overwriting y. */
lcv_status lcv_convg_forward(lcv_gradctx *c, const lcv_convg *g, const float *x,
                             const float *wt, float *y);
/* dx = the adjoint of the convolution applied to dy (overwriting dx). */
lcv_status lcv_convg_adjoint(lcv_gradctx *c, const lcv_convg *g, const float *wt,
                             const float *dy, float *dx);
/* dw[m, c_g, taps] = sum over batch and positions of dy[y pos] * x[x pos it reads]
 * (overwriting dw). */
lcv_status lcv_convg_weight_grad(lcv_gradctx *c, const lcv_convg *g, const float *x,
                                 const float *dy, float *dw);

#endif
