/* cast.c - Cast and CastLike: element type conversion between every numeric dtype and bool.
 * Float to integer truncates toward zero and saturates (no undefined behaviour on NaN or out of
 * range values); strings, complex and float8 types are refused as unsupported. Conversions that
 * preprocessing and mixed precision use (uint8/int/float16 <-> float32/64) have typed loops. */
#include <math.h>
#include <string.h>

#include "eltwise.h"

/* ONNX type codes that name real types leancv does not compute on (complex64/128, float8). */
static bool onnx_type_unsupported(int64_t to) {
    return to == LCV_DTYPE_STRING || to == 14 || to == 15 || (to >= 17 && to <= 20);
}

static lcv_status check_target(lcv_opctx *c, int64_t to, const char *what) {
    if (to > 0 && to <= LCV_DTYPE_BFLOAT16 && lcv_dtype_size((lcv_dtype)to) > 0) return LCV_OK;
    if (onnx_type_unsupported(to))
        return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "cast to %s (type %lld) is not supported",
                           to == LCV_DTYPE_STRING ? "string" : "complex/float8", (long long)to);
    return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "%s %lld is not a valid ONNX element type", what,
                       (long long)to);
}

static lcv_status check_source(lcv_opctx *c, int idx) {
    const lcv_tensor *t = c->in[idx];
    if (t->dtype == LCV_DTYPE_STRING)
        return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "cast from string (input %d) is not supported",
                           idx);
    return lcv_eltwise_need(c, t, idx, LCV_DT_ANY);
}

lcv_status lcv_infer_cast(lcv_opctx *c) {
    const lcv_attr *a = lcv_attr_find(c->node, "to");
    if (!a || a->type != LCV_ATTR_INT)
        return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "required integer attribute 'to' is %s",
                           a ? "not an integer" : "missing");
    lcv_status st = check_source(c, 0);
    if (st != LCV_OK) return st;
    if ((st = check_target(c, a->i, "attribute 'to' =")) != LCV_OK) return st;
    lcv_op_set_out(c, 0, (lcv_dtype)a->i, c->in[0]->ndim, c->in[0]->dims);
    return LCV_OK;
}

lcv_status lcv_infer_castlike(lcv_opctx *c) {
    lcv_status st = check_source(c, 0);
    if (st != LCV_OK) return st;
    if (c->in[1]->dtype == LCV_DTYPE_STRING)
        return lcv_op_fail(c, LCV_ERR_UNSUPPORTED, "cast to string is not supported");
    if ((st = check_source(c, 1)) != LCV_OK) return st;
    lcv_op_set_out(c, 0, c->in[1]->dtype, c->in[0]->ndim, c->in[0]->dims);
    return LCV_OK;
}

/* Rounds a non-negative double below 2^52 to an integer, ties to even, independent of the
 * floating-point environment. */
static double rint_even(double s) {
    double r = floor(s), d = s - r;
    if (d > 0.5 || (d == 0.5 && fmod(r, 2.0) != 0.0)) r += 1.0;
    return r;
}

/* double -> float16 in one rounding (going through float32 could round twice). */
static uint16_t f64_to_f16(double v) {
    uint16_t sign = signbit(v) ? 0x8000 : 0;
    double a = fabs(v);
    if (a != a) return 0x7e00;
    if (a >= 65520.0) return (uint16_t)(sign | 0x7c00); /* rounds to or beyond Inf */
    if (a < 6.103515625e-05) {
        /* subnormal: units of 2^-24; 1024 units is the smallest normal, encoded the same way */
        return (uint16_t)(sign | (uint16_t)rint_even(a * 16777216.0));
    }
    int e;
    frexp(a, &e); /* a = f * 2^e, f in [0.5, 1) */
    int ex = e - 1; /* a in [2^ex, 2^(ex+1)) */
    double m = rint_even(ldexp(a, 10 - ex)); /* [1024, 2048] */
    if (m >= 2048.0) {
        m = 1024.0;
        ex++;
    }
    if (ex > 15) return (uint16_t)(sign | 0x7c00);
    return (uint16_t)(sign | (uint16_t)((ex + 15) << 10) | (uint16_t)(m - 1024.0));
}

/* float32 -> bfloat16 by dropping the low 16 bits, as the ONNX reference implementation of
 * Cast does for opsets up to 18 (its conformance data expect truncation, not rounding); NaN
 * stays a quiet NaN instead of possibly truncating to Inf. */
static uint16_t f32_to_bf16_trunc(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    return (uint16_t)(u >> 16);
}

/* Exact-as-possible float value of element i: 64-bit integers go straight to float32 when
 * that is the target, avoiding a double rounding through double. */
static float load_f32(lcv_dtype d, const void *p, int64_t i) {
    if (d == LCV_DTYPE_INT64) return (float)((const int64_t *)p)[i];
    if (d == LCV_DTYPE_UINT64) return (float)((const uint64_t *)p)[i];
    return (float)lcv_load_f64(d, p, i);
}

lcv_status lcv_exec_cast(lcv_opctx *c) {
    const lcv_tensor *x = c->in[0];
    lcv_tensor *y = c->out[0];
    lcv_dtype sd = x->dtype, dd = y->dtype;
    int64_t n = lcv_tensor_count(x);
    const void *xp = x->data;
    void *yp = y->data;
    if (n == 0) return LCV_OK;
    if (sd == dd) {
        if (yp != xp) memcpy(yp, xp, (size_t)n * lcv_dtype_size(sd));
        return LCV_OK;
    }
    bool sf = lcv_dtype_is_float(sd), df = lcv_dtype_is_float(dd);
    if (sd == LCV_DTYPE_FLOAT32 && dd == LCV_DTYPE_FLOAT16) {
        const float *s = xp;
        uint16_t *o = yp;
        for (int64_t i = 0; i < n; i++) o[i] = lcv_f32_to_f16(s[i]);
    } else if (sd == LCV_DTYPE_FLOAT16 && dd == LCV_DTYPE_FLOAT32) {
        const uint16_t *s = xp;
        float *o = yp;
        for (int64_t i = 0; i < n; i++) o[i] = lcv_f16_to_f32(s[i]);
    } else if (sd == LCV_DTYPE_FLOAT32 && dd == LCV_DTYPE_FLOAT64) {
        const float *s = xp;
        double *o = yp;
        for (int64_t i = 0; i < n; i++) o[i] = s[i];
    } else if (sd == LCV_DTYPE_FLOAT64 && dd == LCV_DTYPE_FLOAT32) {
        const double *s = xp;
        float *o = yp;
        for (int64_t i = 0; i < n; i++) o[i] = (float)s[i];
    } else if (sd == LCV_DTYPE_UINT8 && dd == LCV_DTYPE_FLOAT32) {
        const uint8_t *s = xp;
        float *o = yp;
        for (int64_t i = 0; i < n; i++) o[i] = s[i];
    } else if (dd == LCV_DTYPE_FLOAT16 && sd == LCV_DTYPE_FLOAT64) {
        const double *s = xp;
        uint16_t *o = yp;
        for (int64_t i = 0; i < n; i++) o[i] = f64_to_f16(s[i]);
    } else if (dd == LCV_DTYPE_BFLOAT16) {
        uint16_t *o = yp;
        for (int64_t i = 0; i < n; i++) o[i] = f32_to_bf16_trunc(load_f32(sd, xp, i));
    } else if (dd == LCV_DTYPE_FLOAT32 || dd == LCV_DTYPE_FLOAT16) {
        /* float16 from 64-bit integers via float32 for the same single-rounding reason */
        for (int64_t i = 0; i < n; i++) {
            float v = load_f32(sd, xp, i);
            if (dd == LCV_DTYPE_FLOAT32) ((float *)yp)[i] = v;
            else ((uint16_t *)yp)[i] = lcv_f32_to_f16(v);
        }
    } else if (!sf && !df) {
        /* integer/bool to integer/bool: exact in int64, narrowing wraps (bool: non-zero) */
        for (int64_t i = 0; i < n; i++) lcv_store_i64(dd, yp, i, lcv_load_i64(sd, xp, i));
    } else {
        /* to float64 or from float to integer/bool (truncating, saturating, NaN -> 0) */
        for (int64_t i = 0; i < n; i++) lcv_store_f64(dd, yp, i, lcv_load_f64(sd, xp, i));
    }
    return LCV_OK;
}
