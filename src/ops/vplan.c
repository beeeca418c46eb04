/* vplan.c - the helpers shared by the vectorised elementwise plans (see vplan.h). */
#include <stdlib.h>

#include "vplan.h"

lcv_status lcv_vplan_make(const lcv_plan_ctx *pc, lcv_exec_fn exec, lcv_plan *out) {
    lcv_vplan *p = malloc(sizeof *p);
    if (!p)
        return lcv_fail(pc->err, LCV_ERR_NOMEM, "node '%s' (%s): out of memory for its plan",
                        pc->node->name, pc->node->op_type);
    p->k = lcv_vact_kernels_for(pc->isa);
    out->exec = exec;
    out->data = p;
    out->free_data = NULL;
    return LCV_OK;
}

lcv_status lcv_vplan_reference(lcv_opctx *c) {
    lcv_status st = lcv_op_table[c->node->op].exec(c);
    return st == LCV_OK ? lcv_op_apply_fused(c) : st;
}

void lcv_vplan_epilogue(const lcv_vact_kernels *k, const lcv_node *n, const float *res, float *y,
                        int64_t count) {
    if (res) k->binary(LCV_VBIN_ADD, y, res, 1, y, count);
    if (n->fused.act != LCV_ACT_NONE)
        k->unary((lcv_vfn)n->fused.act, n->fused.alpha, n->fused.beta, y, y, count);
}

int64_t lcv_vplan_grain(int64_t per_item) {
    if (per_item < 1) per_item = 1;
    int64_t g = LCV_VPLAN_MIN_WORK / per_item;
    return g < 1 ? 1 : g;
}
