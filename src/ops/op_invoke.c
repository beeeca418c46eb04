/* op_invoke.c - runs one node: checks arity, infers output shapes from the actual inputs,
 * sizes the output buffers (reusing them when large enough), calls the reference kernel and
 * applies what the optimizer fused into the node. */
#include "op.h"

lcv_status lcv_op_check_arity(const lcv_node *node, lcv_err *e) {
    const lcv_op_def *d = &lcv_op_table[node->op];
    /* Trailing omitted optional inputs and a fused residual do not count. */
    int n_in = lcv_node_op_inputs(node);
    while (n_in > 0 && node->in[n_in - 1] < 0) n_in--;
    if (n_in < d->min_in || (d->max_in >= 0 && n_in > d->max_in))
        return lcv_fail(e, LCV_ERR_SHAPE, "node '%s' (%s): has %d inputs, expected %d to %d",
                        node->name, node->op_type, n_in, d->min_in, d->max_in);
    if (node->n_out < d->min_out || (d->max_out >= 0 && node->n_out > d->max_out))
        return lcv_fail(e, LCV_ERR_SHAPE, "node '%s' (%s): has %d outputs, expected %d to %d",
                        node->name, node->op_type, node->n_out, d->min_out, d->max_out);
    for (int i = 0; i < d->min_in; i++)
        if (node->in[i] < 0)
            return lcv_fail(e, LCV_ERR_SHAPE, "node '%s' (%s): required input %d is missing",
                            node->name, node->op_type, i);
    return LCV_OK;
}

lcv_status lcv_op_invoke(const lcv_node *node, int n_in, const lcv_tensor *const *in, int n_out,
                         lcv_tensor **out, lcv_err *e) {
    const lcv_op_def *d = &lcv_op_table[node->op];
    /* in[] holds every node input; the op sees those before a fused residual */
    lcv_opctx c = {node, n_in - (node->fused.residual >= 0), in, n_out, out, e, NULL, NULL, NULL};
    lcv_status st = d->infer(&c);
    if (st == LCV_DEFERRED)
        return lcv_fail(e, LCV_ERR_INTERNAL, "node '%s' (%s): shape unknown although data is known",
                        node->name, node->op_type);
    if (st != LCV_OK) return st;
    for (int i = 0; i < n_out; i++) {
        lcv_tensor *t = out[i];
        if (!t) continue;
        st = lcv_tensor_reshape_alloc(t, t->dtype, t->ndim, t->dims, e);
        if (st != LCV_OK) {
            lcv_err_prefix(e, "node '%s' (%s): output %d", node->name, node->op_type, i);
            return st;
        }
    }
    st = d->exec(&c);
    return st == LCV_OK ? lcv_op_apply_fused(&c) : st;
}
