/* pattern.c - matching helpers for the passes that recognise an op written out as several
 * primitive nodes (fuse_hardswish, fuse_gelu, fuse_layernorm): constant scalars, the next node
 * of a chain, the other operand of a binary node, and retyping a node in place. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "passes.h"

bool lcv_pass_const_scalar(const lcv_graph *g, int id, float *out) {
    int64_t count = 0;
    const float *p = lcv_pass_const_f32(g, id, &count);
    if (!p || count != 1) return false;
    *out = p[0];
    return true;
}

bool lcv_pass_scalar_near(const lcv_graph *g, int id, float want, float rel_tol) {
    float v;
    return lcv_pass_const_scalar(g, id, &v) && fabsf(v - want) <= rel_tol * fabsf(want);
}

int lcv_pass_next(const lcv_graph *g, const lcv_pass_uses *u, int v, int op) {
    int c = lcv_pass_sole_consumer(g, u, v);
    if (c < 0) return -1;
    const lcv_node *n = &g->nodes[c];
    if (n->op != op || n->n_out != 1 || n->out[0] < 0) return -1;
    return c;
}

int lcv_pass_other_operand(const lcv_node *n, int v) {
    if (n->n_in != 2 || v < 0) return -1;
    if (n->in[0] == v) return n->in[1];
    if (n->in[1] == v) return n->in[0];
    return -1;
}

lcv_status lcv_pass_retype(lcv_node *n, const char *op_type, int op, int opset, lcv_err *e) {
    size_t len = strlen(op_type) + 1;
    char *t = malloc(len);
    if (!t) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory rewriting node '%s'", n->name);
    memcpy(t, op_type, len);
    free(n->op_type);
    n->op_type = t;
    n->op = op;
    if (n->opset < opset) n->opset = opset;
    for (int k = 0; k < n->n_attrs; k++) lcv_attr_clear(&n->attrs[k]);
    free(n->attrs);
    n->attrs = NULL;
    n->n_attrs = 0;
    return LCV_OK;
}
