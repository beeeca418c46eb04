/* shape_grad.c - backward of the ops of shape.c that only relabel a buffer's shape (Reshape,
 * Flatten, Squeeze, Unsqueeze): the row-major order is unchanged, so dX is dY's bytes. Their
 * shape and axes inputs are integers and get no gradient. */
#include <string.h>

#include "grad_util.h"

lcv_status lcv_grad_relabel(lcv_gradctx *c) {
    const float *dy;
    float *dx;
    const lcv_tensor *x = lcv_grad_input(c, 0), *y = c->n_out > 0 ? c->out[0] : NULL;
    if (!x || !y || lcv_tensor_count(x) != lcv_tensor_count(y))
        return lcv_grad_fail(c, LCV_ERR_SHAPE, "input and output element counts differ");
    lcv_status st = lcv_gradu_dout(c, 0, &dy);
    if (st == LCV_OK) st = lcv_gradu_din(c, 0, &dx);
    if (st != LCV_OK || !dx) return st;
    size_t bytes = sizeof(float) * (size_t)lcv_tensor_count(x);
    if (dy) memcpy(dx, dy, bytes);
    else memset(dx, 0, bytes);
    return LCV_OK;
}
