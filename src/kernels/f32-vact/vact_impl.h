/* vact_impl.h - the kernels of vact.h written once over a lane-generic vector API, so the
 * scalar, AVX2 and AVX-512 versions cannot drift apart. Included once each by vact_scalar.c,
 * vact_avx2.c and vact_avx512.c after they define VT (vector type), VL (lanes), V(op) (the
 * ISA's lcv_v<VL>_op from vmath_<isa>.h), KTARGET (function attribute), KNAME(name) (names
 * unique to the ISA), VACT_ISA and VACT_TABLE (the table's name). No include guard. */
#include <math.h>

#include "vact.h"

/* Partial sums in float over blocks of this many values, blocks added in double: the error
 * stays near 16 float roundings of a block's magnitude whatever the row length. */
#define VACT_SUM_BLOCK 1024

/* y[i] = EXPR for i < n, where EXPR reads the vector v = x[i .. i + VL). */
#define VACT_MAP(EXPR)                                                                            \
    do {                                                                                          \
        int64_t i = 0;                                                                            \
        for (; i + VL <= n; i += VL) {                                                            \
            VT v = V(load)(x + i);                                                                \
            V(store)(y + i, EXPR);                                                                \
        }                                                                                         \
        if (i < n) {                                                                              \
            VT v = V(load_part)(x + i, n - i, 0.0f);                                              \
            V(store_part)(y + i, EXPR, n - i);                                                    \
        }                                                                                         \
    } while (0)

/* GELU as core/act.c writes it: 0.5 * x * (1 + erf(x * 0.70710678f)). */
KTARGET static inline VT KNAME(gelu)(VT v) {
    const VT half = V(set1)(0.5f), one = V(set1)(1.0f), rs2 = V(set1)(0.70710678f);
    return V(mul)(V(mul)(half, v), V(add)(one, V(erf)(V(mul)(v, rs2))));
}

KTARGET static void KNAME(unary)(lcv_vfn fn, float alpha, float beta, const float *x, float *y,
                                 int64_t n) {
    const VT va = V(set1)(alpha), vb = V(set1)(beta), zero = V(set1)(0.0f);
    switch (fn) {
    case LCV_VFN_NONE: VACT_MAP(v); return;
    case LCV_VFN_RELU: VACT_MAP(V(relu)(v)); return;
    case LCV_VFN_CLIP: VACT_MAP(V(clip)(v, va, vb)); return;
    case LCV_VFN_LEAKYRELU: VACT_MAP(V(leakyrelu)(v, va)); return;
    case LCV_VFN_SIGMOID: VACT_MAP(V(sigmoid)(v)); return;
    case LCV_VFN_HARDSIGMOID: VACT_MAP(V(hardsigmoid)(v, va, vb)); return;
    case LCV_VFN_HARDSWISH: VACT_MAP(V(hardswish)(v)); return;
    case LCV_VFN_SILU: VACT_MAP(V(silu)(v)); return;
    case LCV_VFN_TANH: VACT_MAP(V(tanh)(v)); return;
    case LCV_VFN_GELU: VACT_MAP(KNAME(gelu)(v)); return;
    case LCV_VFN_RELU_KEEP_NAN: VACT_MAP(V(if_lt)(v, zero, zero, v)); return;
    case LCV_VFN_HARDSWISH_AB: VACT_MAP(V(mul)(v, V(hardsigmoid)(v, va, vb))); return;
    case LCV_VFN_ERF: VACT_MAP(V(erf)(v)); return;
    case LCV_VFN_EXP: VACT_MAP(V(exp)(v)); return;
    case LCV_VFN_COUNT: return;
    }
}

/* y[i] = EXPR for i < n, where EXPR reads va = a[i ..] and vb = b[i ..] (or b[0] everywhere
 * when b_step is 0). Remainder lanes load 1 so a division there cannot trap or slow down. */
#define VACT_ZIP(EXPR)                                                                            \
    do {                                                                                          \
        int64_t i = 0;                                                                            \
        if (b_step == 0) {                                                                        \
            const VT vb = V(set1)(b[0]);                                                          \
            for (; i + VL <= n; i += VL) {                                                        \
                VT va = V(load)(a + i);                                                           \
                V(store)(y + i, EXPR);                                                            \
            }                                                                                     \
            if (i < n) {                                                                          \
                VT va = V(load_part)(a + i, n - i, 1.0f);                                         \
                V(store_part)(y + i, EXPR, n - i);                                                \
            }                                                                                     \
        } else {                                                                                  \
            for (; i + VL <= n; i += VL) {                                                        \
                VT va = V(load)(a + i), vb = V(load)(b + i);                                      \
                V(store)(y + i, EXPR);                                                            \
            }                                                                                     \
            if (i < n) {                                                                          \
                VT va = V(load_part)(a + i, n - i, 1.0f), vb = V(load_part)(b + i, n - i, 1.0f);  \
                V(store_part)(y + i, EXPR, n - i);                                                \
            }                                                                                     \
        }                                                                                         \
    } while (0)

KTARGET static void KNAME(binary)(lcv_vbin op, const float *a, const float *b, int64_t b_step,
                                  float *y, int64_t n) {
    switch (op) {
    case LCV_VBIN_ADD: VACT_ZIP(V(add)(va, vb)); return;
    case LCV_VBIN_SUB: VACT_ZIP(V(sub)(va, vb)); return;
    case LCV_VBIN_MUL: VACT_ZIP(V(mul)(va, vb)); return;
    case LCV_VBIN_DIV: VACT_ZIP(V(div)(va, vb)); return;
    case LCV_VBIN_RSUB: VACT_ZIP(V(sub)(vb, va)); return;
    case LCV_VBIN_RDIV: VACT_ZIP(V(div)(vb, va)); return;
    }
}

/* Sum of one block (n <= VACT_SUM_BLOCK) in four vector accumulators. */
KTARGET static float KNAME(block_sum)(const float *x, int64_t n) {
    VT s0 = V(set1)(0.0f), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 4 * VL <= n; i += 4 * VL) {
        s0 = V(add)(s0, V(load)(x + i));
        s1 = V(add)(s1, V(load)(x + i + VL));
        s2 = V(add)(s2, V(load)(x + i + 2 * VL));
        s3 = V(add)(s3, V(load)(x + i + 3 * VL));
    }
    for (; i + VL <= n; i += VL) s0 = V(add)(s0, V(load)(x + i));
    if (i < n) s1 = V(add)(s1, V(load_part)(x + i, n - i, 0.0f));
    return V(hsum)(V(add)(V(add)(s0, s1), V(add)(s2, s3)));
}

KTARGET static double KNAME(sum)(const float *x, int64_t n) {
    double total = 0.0;
    for (int64_t b0 = 0; b0 < n; b0 += VACT_SUM_BLOCK) {
        int64_t m = n - b0 < VACT_SUM_BLOCK ? n - b0 : VACT_SUM_BLOCK;
        total += (double)KNAME(block_sum)(x + b0, m);
    }
    return total;
}

KTARGET static float KNAME(row_max)(const float *x, int64_t n) {
    VT m0 = V(set1)(-INFINITY), m1 = m0;
    int64_t i = 0;
    for (; i + 2 * VL <= n; i += 2 * VL) {
        m0 = V(max)(m0, V(load)(x + i));
        m1 = V(max)(m1, V(load)(x + i + VL));
    }
    for (; i + VL <= n; i += VL) m0 = V(max)(m0, V(load)(x + i));
    if (i < n) m1 = V(max)(m1, V(load_part)(x + i, n - i, -INFINITY));
    return V(hmax)(V(max)(m0, m1));
}

KTARGET static void KNAME(softmax)(const float *x, float *y, int64_t n, bool logsm) {
    const float m = KNAME(row_max)(x, n);
    const VT vm = V(set1)(m);
    double sum = 0.0;
    for (int64_t b0 = 0; b0 < n; b0 += VACT_SUM_BLOCK) {
        int64_t bn = n - b0 < VACT_SUM_BLOCK ? n - b0 : VACT_SUM_BLOCK;
        const float *xb = x + b0;
        float *yb = y + b0;
        VT s0 = V(set1)(0.0f), s1 = s0;
        int64_t i = 0;
        for (; i + VL <= bn; i += VL) {
            VT e = V(exp)(V(sub)(V(load)(xb + i), vm));
            if (!logsm) V(store)(yb + i, e);
            s0 = V(add)(s0, e);
        }
        if (i < bn) { /* -inf in the unused lanes: exp gives 0 there */
            VT e = V(exp)(V(sub)(V(load_part)(xb + i, bn - i, -INFINITY), vm));
            if (!logsm) V(store_part)(yb + i, e, bn - i);
            s1 = V(add)(s1, e);
        }
        sum += (double)V(hsum)(V(add)(s0, s1));
    }
    if (!logsm) {
        /* scale the stored exponentials in place */
        const VT inv = V(set1)((float)(1.0 / sum));
        int64_t i = 0;
        for (; i + VL <= n; i += VL) V(store)(y + i, V(mul)(V(load)(y + i), inv));
        if (i < n) V(store_part)(y + i, V(mul)(V(load_part)(y + i, n - i, 0.0f), inv), n - i);
    } else {
        /* (x - m) - log(sum): subtracting m first keeps the small terms for large m */
        const VT ls = V(set1)((float)log(sum));
        int64_t i = 0;
        for (; i + VL <= n; i += VL) V(store)(y + i, V(sub)(V(sub)(V(load)(x + i), vm), ls));
        if (i < n)
            V(store_part)(y + i, V(sub)(V(sub)(V(load_part)(x + i, n - i, 0.0f), vm), ls), n - i);
    }
}

KTARGET static void KNAME(layernorm)(const float *x, const float *scale, const float *bias,
                                     float eps, float *y, int64_t n) {
    const float fm = (float)(KNAME(sum)(x, n) / (double)n);
    const VT vm = V(set1)(fm);
    /* Second pass around the rounded mean; the sum of the deviations corrects for its
     * rounding (var = E[d^2] - E[d]^2). */
    double sq = 0.0, sd = 0.0;
    for (int64_t b0 = 0; b0 < n; b0 += VACT_SUM_BLOCK) {
        int64_t bn = n - b0 < VACT_SUM_BLOCK ? n - b0 : VACT_SUM_BLOCK;
        const float *xb = x + b0;
        VT q = V(set1)(0.0f), d = q;
        int64_t i = 0;
        for (; i + VL <= bn; i += VL) {
            VT dv = V(sub)(V(load)(xb + i), vm);
            d = V(add)(d, dv);
            q = V(fma)(dv, dv, q);
        }
        if (i < bn) { /* the mean in the unused lanes: deviation 0 */
            VT dv = V(sub)(V(load_part)(xb + i, bn - i, fm), vm);
            d = V(add)(d, dv);
            q = V(fma)(dv, dv, q);
        }
        sq += (double)V(hsum)(q);
        sd += (double)V(hsum)(d);
    }
    double md = sd / (double)n, var = sq / (double)n - md * md;
    if (var < 0.0) var = 0.0;
    const VT vi = V(set1)((float)(1.0 / sqrt(var + (double)eps)));
    int64_t i = 0;
    if (bias) {
        for (; i + VL <= n; i += VL) {
            VT t = V(mul)(V(mul)(V(sub)(V(load)(x + i), vm), vi), V(load)(scale + i));
            V(store)(y + i, V(add)(t, V(load)(bias + i)));
        }
        if (i < n) {
            VT t = V(mul)(V(mul)(V(sub)(V(load_part)(x + i, n - i, 0.0f), vm), vi),
                          V(load_part)(scale + i, n - i, 0.0f));
            V(store_part)(y + i, V(add)(t, V(load_part)(bias + i, n - i, 0.0f)), n - i);
        }
    } else {
        for (; i + VL <= n; i += VL)
            V(store)(y + i, V(mul)(V(mul)(V(sub)(V(load)(x + i), vm), vi), V(load)(scale + i)));
        if (i < n)
            V(store_part)(y + i,
                          V(mul)(V(mul)(V(sub)(V(load_part)(x + i, n - i, 0.0f), vm), vi),
                                 V(load_part)(scale + i, n - i, 0.0f)),
                          n - i);
    }
}

const lcv_vact_kernels VACT_TABLE = {VACT_ISA, KNAME(unary), KNAME(binary), KNAME(sum),
                                       KNAME(softmax), KNAME(layernorm)};
