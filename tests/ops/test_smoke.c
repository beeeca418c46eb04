/* test_smoke.c - the op table is consistent: every op resolves by name and has functions. */
#include "op_test_util.h"

int main(void) {
    for (int i = 0; i < LCV_OP_COUNT; i++) {
        CHECK(lcv_op_lookup(lcv_op_table[i].name, lcv_op_table[i].domain) == i);
        CHECK(lcv_op_table[i].infer != NULL && lcv_op_table[i].exec != NULL);
    }
    CHECK(lcv_op_lookup("NoSuchOp", "") == -1);
    CHECK(lcv_op_lookup("Relu", "ai.onnx") == LCV_OP_Relu);
    return lcv_test_finish("ops_smoke");
}
