/* op_table.c - the op table generated from ops.def, and lookup by ONNX op_type/domain. */
#include <string.h>

#include "op.h"

const lcv_op_def lcv_op_table[LCV_OP_COUNT] = {
#define LCV_OP(name, domain, min_in, max_in, min_out, max_out, infer, exec)                      \
    {#name, domain, min_in, max_in, min_out, max_out, lcv_infer_##infer, lcv_exec_##exec},
#include "ops.def"
#undef LCV_OP
};

static bool domain_is_default(const char *d) {
    return d == NULL || d[0] == '\0' || strcmp(d, "ai.onnx") == 0;
}

int lcv_op_lookup(const char *op_type, const char *domain) {
    for (int i = 0; i < LCV_OP_COUNT; i++) {
        const lcv_op_def *d = &lcv_op_table[i];
        if (strcmp(d->name, op_type) != 0) continue;
        if (domain_is_default(domain) ? domain_is_default(d->domain)
                                      : strcmp(domain, d->domain) == 0)
            return i;
    }
    return -1;
}

bool lcv_op_sized_by_exec(int op) { return op == LCV_OP_NonMaxSuppression; }
