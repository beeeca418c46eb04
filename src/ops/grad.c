/* grad.c - the backward and training-forward tables generated from grads.def, and the small
 * helpers backward functions share. */
#include <stdarg.h>
#include <stdio.h>

#include "grad.h"

lcv_grad_fn lcv_grad_lookup(int op) {
    switch (op) {
#define LCV_GRAD(op_type, suffix)                                                                \
    case LCV_OP_##op_type: return lcv_grad_##suffix;
#define LCV_TRAIN_FWD(op_type, suffix)
#include "grads.def"
#undef LCV_GRAD
#undef LCV_TRAIN_FWD
    default: return NULL;
    }
}

lcv_train_fwd_fn lcv_train_fwd_lookup(int op) {
    switch (op) {
#define LCV_GRAD(op_type, suffix)
#define LCV_TRAIN_FWD(op_type, suffix)                                                           \
    case LCV_OP_##op_type: return lcv_train_fwd_##suffix;
#include "grads.def"
#undef LCV_GRAD
#undef LCV_TRAIN_FWD
    default: return NULL;
    }
}

bool lcv_train_fwd_fuses_relu(int op) { return op == LCV_OP_BatchNormalization; }

lcv_status lcv_grad_fail(lcv_gradctx *c, lcv_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    lcv_node_vfail(c->err, c->node, " backward", st, fmt, ap);
    va_end(ap);
    return st;
}

const lcv_tensor *lcv_grad_input(const lcv_gradctx *c, int i) {
    return i >= 0 && i < c->n_in ? c->in[i] : NULL;
}

lcv_tensor *lcv_grad_din(const lcv_gradctx *c, int i) {
    return c->din && i >= 0 && i < c->n_in ? c->din[i] : NULL;
}

void *lcv_grad_scratch(lcv_gradctx *c, size_t bytes) {
    lcv_opctx oc = {0};
    oc.scratch = c->scratch;
    return lcv_op_scratch(&oc, bytes);
}
