/* inplace.c - the table of ops whose output 0 may overwrite an input (see inplace.h). Each
 * entry was checked against the kernels: lcv_unary_run (unary.c, activation.c) and
 * run_binary (binary.c) index input and output with the same flat index for a full-size
 * operand, split work by output ranges and read element i before writing it;
 * lcv_exec_batchnorm reads a channel's statistics inputs and (training) its X values before
 * writing that channel; lcv_exec_copy and lcv_exec_identity skip the copy when the buffers
 * are the same. tests/runtime/test_memplan.c runs every entry with out == in. */
#include "inplace.h"

#define IN0 1u
#define IN01 3u

static const unsigned char inplace_table[LCV_OP_COUNT] = {
    /* unary.c */
    [LCV_OP_Abs] = IN0, [LCV_OP_Neg] = IN0, [LCV_OP_Exp] = IN0, [LCV_OP_Log] = IN0,
    [LCV_OP_Sqrt] = IN0, [LCV_OP_Reciprocal] = IN0, [LCV_OP_Floor] = IN0, [LCV_OP_Ceil] = IN0,
    [LCV_OP_Round] = IN0, [LCV_OP_Sign] = IN0, [LCV_OP_Sin] = IN0, [LCV_OP_Cos] = IN0,
    [LCV_OP_Tan] = IN0, [LCV_OP_Asin] = IN0, [LCV_OP_Acos] = IN0, [LCV_OP_Atan] = IN0,
    [LCV_OP_Sinh] = IN0, [LCV_OP_Cosh] = IN0, [LCV_OP_Asinh] = IN0, [LCV_OP_Acosh] = IN0,
    [LCV_OP_Atanh] = IN0, [LCV_OP_Tanh] = IN0, [LCV_OP_Sigmoid] = IN0, [LCV_OP_Relu] = IN0,
    [LCV_OP_Erf] = IN0, [LCV_OP_Identity] = IN0, [LCV_OP_Dropout] = IN0,
    [LCV_OP_BitwiseNot] = IN0,
    /* activation.c; Clip's bounds (inputs 1, 2) are read before the loop */
    [LCV_OP_Softplus] = IN0, [LCV_OP_Softsign] = IN0, [LCV_OP_HardSwish] = IN0,
    [LCV_OP_HardSigmoid] = IN0, [LCV_OP_Mish] = IN0, [LCV_OP_Elu] = IN0, [LCV_OP_Selu] = IN0,
    [LCV_OP_Celu] = IN0, [LCV_OP_LeakyRelu] = IN0, [LCV_OP_ThresholdedRelu] = IN0,
    [LCV_OP_Shrink] = IN0, [LCV_OP_Clip] = IN0,
    /* binary.c: either full-size operand; Pow's exponent may have another dtype, and PRelu's
     * slope is reshaped, so only their input 0 */
    [LCV_OP_Add] = IN01, [LCV_OP_Sub] = IN01, [LCV_OP_Mul] = IN01, [LCV_OP_Div] = IN01,
    [LCV_OP_Mod] = IN01, [LCV_OP_BitShift] = IN01, [LCV_OP_BitwiseAnd] = IN01,
    [LCV_OP_BitwiseOr] = IN01, [LCV_OP_BitwiseXor] = IN01, [LCV_OP_Pow] = IN0,
    [LCV_OP_PRelu] = IN0,
    /* norm.c */
    [LCV_OP_BatchNormalization] = IN0,
    /* shape.c: views of input 0 */
    [LCV_OP_Reshape] = IN0, [LCV_OP_Flatten] = IN0, [LCV_OP_Squeeze] = IN0,
    [LCV_OP_Unsqueeze] = IN0,
};

unsigned lcv_op_inplace_inputs(int op) {
    return op >= 0 && op < LCV_OP_COUNT ? inplace_table[op] : 0u;
}
