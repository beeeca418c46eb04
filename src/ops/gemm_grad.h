/* gemm_grad.h - what the backward functions of the GEMM-shaped ops and pooling share
 * (gemm_grad.c implements it; matmul_grad.c, conv_grad.c, conv_transpose_grad.c and pool_grad.c
 * use it): checking a backward's tensors against the forward's own inference, scratch memory
 * that also works without a session, and products C = alpha * op(A) * op(B) through the packed
 * GEMM of src/kernels/f32-gemm. Private to src/ops. */
#ifndef LCV_OPS_GEMM_GRAD_H
#define LCV_OPS_GEMM_GRAD_H

#include "../core/cpu.h"
#include "grad.h"

/* The ISA the backward kernels run: the best this CPU has, lowered by the LCV_ISA environment
 * variable (lcv_isa_choose), so tests can exercise every level. */
lcv_isa lcv_grad_isa(void);

/* Validates c before a backward touches any buffer: rejects a node with a fused epilogue,
 * runs the op's infer on c->in (every attribute and input shape), and checks that every
 * present input is float32 with data, that dout[0] (when given) is float32 and shaped like the
 * inferred output 0, and that every wanted din[i] is float32 and shaped like in[i]. out0, when
 * not NULL, receives the inferred dtype and shape of output 0. */
lcv_status lcv_grad_check(lcv_gradctx *c, lcv_tensor *out0);

/* Memory for n floats, 64-byte aligned: the context's scratch (valid until the next scratch
 * request on it), or, when the context has none, the heap with *owned set (caller frees
 * *owned; NULL otherwise). Fails (NULL, message via c) on overflow or out of memory. */
float *lcv_grad_floats(lcv_gradctx *c, size_t n, void **owned);

/* Rounds a float count up to a multiple of 16 (64 bytes), for carving one scratch block into
 * aligned parts; false on overflow. */
bool lcv_grad_round16(size_t n, size_t *out);

/* One plain row-major operand: element (r, k) at data[r * ld + k], or with trans at
 * data[k * ld + r] (i.e. the stored matrix is the transpose). Borrowed. */
typedef struct lcv_grad_mat {
    const float *data;
    int64_t ld;
    bool trans;
} lcv_grad_mat;

/* Floats lcv_grad_mm may need in `pack` for a product with inner size k and n columns (B
 * packed when it is transposed or alpha != 1); 0 when the size overflows. */
size_t lcv_grad_mm_pack_floats(lcv_isa isa, int64_t k, int64_t n);

/* C[m, n] = alpha * A[m, k] * B[k, n], plus the previous C when acc. C (element (i, j) at
 * c[i * ldc + j]) must not overlap A or B. m, n or k of 0 are fine (k = 0 gives zeros, or
 * leaves C as it is with acc). pack: lcv_grad_mm_pack_floats(isa, k, n) floats, 64-byte
 * aligned. Each element sums k in increasing order whatever c->pool's size. */
lcv_status lcv_grad_mm(lcv_gradctx *c, lcv_isa isa, int64_t m, int64_t n, int64_t k,
                       lcv_grad_mat a, lcv_grad_mat b, float alpha, float *cc, int64_t ldc,
                       bool acc, float *pack);

/* dst[ch] = sum over batch and positions of src[batch][channels][plane], each channel summed in
 * double in a fixed order (so on any number of threads: channels are shared out over c->pool). */
void lcv_grad_channel_sums(lcv_gradctx *c, int64_t batch, int64_t channels, int64_t plane,
                           const float *src, float *dst);

#endif
