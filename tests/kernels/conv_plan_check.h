/* conv_plan_check.h - what the Conv plan tests (test_conv_plan.c, test_winograd.c,
 * test_conv_direct.c) share: the reference Conv with its fused epilogue, and one run of a
 * plan's exec into an output pre-filled with NaN, so every element must be written. */
#ifndef LCV_TEST_CONV_PLAN_CHECK_H
#define LCV_TEST_CONV_PLAN_CHECK_H

#include <string.h>

#include "op_test_util.h"
#include "ops/plan.h"

/* Reference: infer + exec + apply_fused into a fresh tensor (caller frees). */
static lcv_tensor *run_reference(optest *t, const lcv_tensor *const *ins) {
    lcv_tensor *y = optest_tensor(LCV_DTYPE_FLOAT32, 1, (int64_t[]){1}, NULL);
    lcv_opctx c = {t->node, 3, ins, 1, &y, &t->err, NULL, NULL, NULL};
    lcv_status st = lcv_infer_conv(&c);
    if (st == LCV_OK) st = lcv_tensor_reshape_alloc(y, y->dtype, y->ndim, y->dims, &t->err);
    if (st == LCV_OK) st = lcv_exec_conv(&c);
    if (st == LCV_OK) st = lcv_op_apply_fused(&c);
    CHECK_MSG(st == LCV_OK, "reference: %s", t->err.msg);
    return y;
}

static lcv_tensor *run_plan(optest *t, const lcv_plan *p, const lcv_tensor *const *ins,
                            const lcv_tensor *like, lcv_threadpool *pool, lcv_scratch *scr) {
    lcv_tensor *y = optest_tensor(LCV_DTYPE_FLOAT32, like->ndim, like->dims, NULL);
    memset(y->data, 0xff, lcv_tensor_nbytes(y)); /* NaN: every element must be written */
    lcv_opctx c = {t->node, 3, ins, 1, &y, &t->err, p->data, pool, scr};
    lcv_status st = p->exec(&c);
    CHECK_MSG(st == LCV_OK, "plan exec: %s", t->err.msg);
    return y;
}

#endif
