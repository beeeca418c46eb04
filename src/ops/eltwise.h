/* eltwise.h - helpers shared by the elementwise op files (unary.c, activation.c, binary.c,
 * cast.c): dtype classes used to validate inputs in infer, and the unary driver that runs a
 * per-element function over any dtype. Implemented in unary.c. Internal to src/ops. */
#ifndef LCV_ELTWISE_H
#define LCV_ELTWISE_H

#include "op.h"

/* dtype classes, combined as bit masks to say what an op accepts */
#define LCV_DT_FLOAT 1u /* float16, float32, float64, bfloat16 */
#define LCV_DT_SINT 2u  /* int8 .. int64 */
#define LCV_DT_UINT 4u  /* uint8 .. uint64 */
#define LCV_DT_BOOL 8u
#define LCV_DT_INT (LCV_DT_SINT | LCV_DT_UINT)
#define LCV_DT_NUM (LCV_DT_FLOAT | LCV_DT_INT)
#define LCV_DT_ANY (LCV_DT_NUM | LCV_DT_BOOL)

/* The class bit of d, 0 for string/undefined/unknown values. */
unsigned lcv_eltwise_class(lcv_dtype d);
/* Fails with LCV_ERR_SHAPE naming input `idx` of the node, its dtype and what was expected
 * unless t's dtype is in the classes of `allowed`. */
lcv_status lcv_eltwise_need(lcv_opctx *c, const lcv_tensor *t, int idx, unsigned allowed);

/* Attribute values of a unary op, read once per exec (float copies feed the float32 loops). */
typedef struct lcv_unary_params {
    double alpha, beta, gamma, lo, hi;
    float falpha, fbeta, fgamma, flo, fhi;
    int64_t ilo, ihi; /* Clip bounds for integer dtypes (bit patterns for unsigned) */
} lcv_unary_params;

/* One unary op: f is the double reference used for float dtypes (and for integers when fi is
 * NULL); fi keeps integers exact (uns: the dtype is unsigned, values are uint64 bit patterns);
 * f32 (optional) is the typed float32 loop. */
typedef struct lcv_unary_op {
    double (*f)(double x, const lcv_unary_params *p);
    int64_t (*fi)(int64_t x, bool uns, const lcv_unary_params *p);
    void (*f32)(const float *x, float *y, int64_t n, const lcv_unary_params *p);
} lcv_unary_op;

/* Applies u to input 0 into output 0 (same element count). */
lcv_status lcv_unary_run(lcv_opctx *c, const lcv_unary_op *u, const lcv_unary_params *p);
/* Validates the attributes of the activation ops (activation.c); LCV_OK for other ops. */
lcv_status lcv_activation_check(lcv_opctx *c);

#endif /* LCV_ELTWISE_H */
