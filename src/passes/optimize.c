/* optimize.c - the pass pipeline: which passes run, in what order, and until when. Fusions
 * run before the activation pass so that Conv -> BN -> Add -> Relu ends as one Conv. */
#include "passes.h"

typedef lcv_status (*pass_fn)(lcv_graph *g, bool *changed, lcv_err *e);

static const struct {
    const char *name;
    pass_fn run;
} PASSES[] = {
    {"eliminate_identity", lcv_pass_eliminate_identity},
    {"cse", lcv_pass_cse},
    {"fuse_conv_bn", lcv_pass_fuse_conv_bn},
    /* quantized (QDQ) Conv/MatMul onto integer ops, before fuse_activation takes their Relu */
    {"fuse_qdq", lcv_pass_fuse_qdq},
    /* decomposed ops back to one node (or a fused activation) before the generic fusions */
    {"fuse_layernorm", lcv_pass_fuse_layernorm},
    {"fuse_hardswish", lcv_pass_fuse_hardswish},
    {"fuse_gelu", lcv_pass_fuse_gelu},
    {"fuse_residual", lcv_pass_fuse_residual},
    {"fuse_activation", lcv_pass_fuse_activation},
    {"eliminate_dead", lcv_pass_eliminate_dead},
};

/* Every pass shrinks the graph, so a few rounds reach the fixed point; the cap only guards
 * against a pass that keeps reporting changes. */
#define LCV_OPTIMIZE_MAX_ROUNDS 16

lcv_status lcv_passes_optimize(lcv_graph *g, lcv_err *e) {
    for (int round = 0; round < LCV_OPTIMIZE_MAX_ROUNDS; round++) {
        bool any = false;
        for (size_t p = 0; p < sizeof PASSES / sizeof PASSES[0]; p++) {
            bool changed = false;
            lcv_status st = PASSES[p].run(g, &changed, e);
            /* later passes rely on producers preceding consumers */
            if (st == LCV_OK && changed) st = lcv_graph_toposort(g, e);
            if (st != LCV_OK) {
                lcv_err_prefix(e, "optimizer pass %s", PASSES[p].name);
                return st;
            }
            any = any || changed;
        }
        if (!any) break;
    }
    return LCV_OK;
}
