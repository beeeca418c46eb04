/* grad_util.h - helpers shared by the backward files of the elementwise, normalisation and
 * shape ops (unary_grad.c .. resize_grad.c): checked float32 access to inputs, outputs and
 * gradients, temporary memory, summing a gradient over broadcast dims, and the driver of the
 * elementwise unary backwards. Private to src/ops; implemented in grad_util.c. */
#ifndef LCV_GRAD_UTIL_H
#define LCV_GRAD_UTIL_H

#include "grad.h"

/* Elements per thread chunk of elementwise backward loops (tens of microseconds of work). */
#define LCV_GRADU_GRAIN 16384

/* Input i as float32 data; fails naming it when absent or of another dtype. */
lcv_status lcv_gradu_in(lcv_gradctx *c, int i, const float **p);
/* Output k as float32 data (the forward's result); fails like lcv_gradu_in. */
lcv_status lcv_gradu_out(lcv_gradctx *c, int k, const float **p);
/* dL/d out[k] as float32 data, or *p = NULL when no gradient reaches it (read it as zero);
 * fails when it is not float32 with out[k]'s element count. */
lcv_status lcv_gradu_dout(lcv_gradctx *c, int k, const float **p);
/* din[i] as float32 data, or *p = NULL when input i needs no gradient; fails when it is not
 * float32 with in[i]'s element count. */
lcv_status lcv_gradu_din(lcv_gradctx *c, int i, float **p);
/* Zero-fills din[i] when it is wanted (inputs that do not influence the result, such as
 * Dropout's ratio or Resize's scales). */
lcv_status lcv_gradu_din_zero(lcv_gradctx *c, int i);

/* Temporary memory: the session scratch when the context has one (only ONE buffer at a time:
 * take the total once and split it), else malloc'd. Released with lcv_gradu_buf_free. */
typedef struct lcv_gradu_buf {
    void *data;
    void *owned; /* malloc'd block to free, or NULL when data is the scratch */
} lcv_gradu_buf;
lcv_status lcv_gradu_buf_get(lcv_gradctx *c, size_t bytes, lcv_gradu_buf *b);
void lcv_gradu_buf_free(lcv_gradu_buf *b);

/* Sums src (dense float32 of shape (nd, dims)) over the dims that a tensor of shape
 * (dst_nd, dst_dims) is broadcast along (numpy rules: right-aligned, size-1 or missing dims),
 * overwriting dst. Accumulates in double; each dst element adds its terms in an order fixed by
 * the shapes alone, so the result does not depend on the thread count. Fails when dst does not
 * broadcast. */
lcv_status lcv_gradu_sum_to(lcv_gradctx *c, const float *src, int nd, const int64_t *dims,
                            float *dst, int dst_nd, const int64_t *dst_dims);

/* One unary backward over n elements: dx = dy * f'(x), given x (input), y (output) and the
 * op's parameters p. dy is never NULL here. */
typedef void (*lcv_gradu_unary_fn)(const float *x, const float *y, const float *dy, float *dx,
                                   int64_t n, const float *p);
/* Checks the node's input 0 / output 0 / gradients and runs f over them in parallel chunks;
 * dx is zero-filled when no gradient reaches the output. */
lcv_status lcv_gradu_unary(lcv_gradctx *c, lcv_gradu_unary_fn f, const float *p);

#endif /* LCV_GRAD_UTIL_H */
