/* dtype.c - element type facts, float16/bfloat16 conversions and the generic element access
 * used by reference kernels (every dtype read/written through double or int64). */
#include <math.h>
#include <string.h>

#include "core.h"

const char *lcv_dtype_name(lcv_dtype d) {
    switch (d) {
    case LCV_DTYPE_UNDEFINED: return "undefined";
    case LCV_DTYPE_FLOAT32: return "float32";
    case LCV_DTYPE_UINT8: return "uint8";
    case LCV_DTYPE_INT8: return "int8";
    case LCV_DTYPE_UINT16: return "uint16";
    case LCV_DTYPE_INT16: return "int16";
    case LCV_DTYPE_INT32: return "int32";
    case LCV_DTYPE_INT64: return "int64";
    case LCV_DTYPE_STRING: return "string";
    case LCV_DTYPE_BOOL: return "bool";
    case LCV_DTYPE_FLOAT16: return "float16";
    case LCV_DTYPE_FLOAT64: return "float64";
    case LCV_DTYPE_UINT32: return "uint32";
    case LCV_DTYPE_UINT64: return "uint64";
    case LCV_DTYPE_BFLOAT16: return "bfloat16";
    }
    return "unknown";
}

size_t lcv_dtype_size(lcv_dtype d) {
    switch (d) {
    case LCV_DTYPE_UINT8:
    case LCV_DTYPE_INT8:
    case LCV_DTYPE_BOOL: return 1;
    case LCV_DTYPE_UINT16:
    case LCV_DTYPE_INT16:
    case LCV_DTYPE_FLOAT16:
    case LCV_DTYPE_BFLOAT16: return 2;
    case LCV_DTYPE_FLOAT32:
    case LCV_DTYPE_INT32:
    case LCV_DTYPE_UINT32: return 4;
    case LCV_DTYPE_INT64:
    case LCV_DTYPE_FLOAT64:
    case LCV_DTYPE_UINT64: return 8;
    default: return 0;
    }
}

bool lcv_dtype_is_float(lcv_dtype d) {
    return d == LCV_DTYPE_FLOAT32 || d == LCV_DTYPE_FLOAT16 || d == LCV_DTYPE_FLOAT64 ||
           d == LCV_DTYPE_BFLOAT16;
}

bool lcv_dtype_is_int(lcv_dtype d) {
    switch (d) {
    case LCV_DTYPE_UINT8:
    case LCV_DTYPE_INT8:
    case LCV_DTYPE_UINT16:
    case LCV_DTYPE_INT16:
    case LCV_DTYPE_INT32:
    case LCV_DTYPE_INT64:
    case LCV_DTYPE_UINT32:
    case LCV_DTYPE_UINT64: return true;
    default: return false;
    }
}

bool lcv_dtype_is_signed(lcv_dtype d) {
    return d == LCV_DTYPE_INT8 || d == LCV_DTYPE_INT16 || d == LCV_DTYPE_INT32 ||
           d == LCV_DTYPE_INT64 || lcv_dtype_is_float(d);
}

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float lcv_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (man << 13));
    if (exp == 0) {
        /* zero or subnormal: value = man * 2^-24 */
        float v = (float)man * 5.9604644775390625e-8f;
        return sign ? -v : v;
    }
    return bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t lcv_f32_to_f16(float f) {
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t absu = u & 0x7fffffffu;
    if (absu >= 0x7f800000u) /* Inf or NaN */
        return (uint16_t)(sign | 0x7c00 | (absu > 0x7f800000u ? 0x200 : 0));
    if (absu >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* rounds to >= 65520: Inf */
    if (absu < 0x38800000u) {
        /* result is subnormal or zero: round(|f| / 2^-24) with ties to even */
        float a = bits_f32(absu);
        float scaled = a * 16777216.0f; /* exact: power of two */
        float r = nearbyintf(scaled);   /* default rounding mode is to-nearest-even */
        return (uint16_t)(sign | (uint16_t)r);
    }
    uint32_t exp = ((absu >> 23) - 112) << 10;
    uint32_t man = (absu >> 13) & 0x3ff;
    uint32_t rest = absu & 0x1fff;
    uint32_t h = exp | man;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

float lcv_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t lcv_f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    uint32_t lsb = (u >> 16) & 1;
    u += 0x7fffu + lsb;
    return (uint16_t)(u >> 16);
}

double lcv_load_f64(lcv_dtype d, const void *p, int64_t i) {
    switch (d) {
    case LCV_DTYPE_FLOAT32: return ((const float *)p)[i];
    case LCV_DTYPE_FLOAT64: return ((const double *)p)[i];
    case LCV_DTYPE_FLOAT16: return lcv_f16_to_f32(((const uint16_t *)p)[i]);
    case LCV_DTYPE_BFLOAT16: return lcv_bf16_to_f32(((const uint16_t *)p)[i]);
    case LCV_DTYPE_UINT8: return ((const uint8_t *)p)[i];
    case LCV_DTYPE_INT8: return ((const int8_t *)p)[i];
    case LCV_DTYPE_UINT16: return ((const uint16_t *)p)[i];
    case LCV_DTYPE_INT16: return ((const int16_t *)p)[i];
    case LCV_DTYPE_INT32: return ((const int32_t *)p)[i];
    case LCV_DTYPE_INT64: return (double)((const int64_t *)p)[i];
    case LCV_DTYPE_UINT32: return ((const uint32_t *)p)[i];
    case LCV_DTYPE_UINT64: return (double)((const uint64_t *)p)[i];
    case LCV_DTYPE_BOOL: return ((const uint8_t *)p)[i] ? 1.0 : 0.0;
    default: return 0.0;
    }
}

int64_t lcv_load_i64(lcv_dtype d, const void *p, int64_t i) {
    switch (d) {
    case LCV_DTYPE_UINT8: return ((const uint8_t *)p)[i];
    case LCV_DTYPE_INT8: return ((const int8_t *)p)[i];
    case LCV_DTYPE_UINT16: return ((const uint16_t *)p)[i];
    case LCV_DTYPE_INT16: return ((const int16_t *)p)[i];
    case LCV_DTYPE_INT32: return ((const int32_t *)p)[i];
    case LCV_DTYPE_INT64: return ((const int64_t *)p)[i];
    case LCV_DTYPE_UINT32: return ((const uint32_t *)p)[i];
    case LCV_DTYPE_UINT64: return (int64_t)((const uint64_t *)p)[i];
    case LCV_DTYPE_BOOL: return ((const uint8_t *)p)[i] ? 1 : 0;
    default: {
        double v = lcv_load_f64(d, p, i);
        if (v != v) return 0;
        if (v >= 9.2233720368547758e18) return INT64_MAX;
        if (v <= -9.2233720368547758e18) return INT64_MIN;
        return (int64_t)v;
    }
    }
}

/* Float to integer conversion without undefined behaviour: NaN -> 0, out of range saturates. */
static int64_t sat_f64_to_i64(double v, double lo, double hi) {
    if (v != v) return 0;
    if (v <= lo) return (int64_t)lo;
    if (v >= hi) return (int64_t)hi;
    return (int64_t)v;
}

void lcv_store_f64(lcv_dtype d, void *p, int64_t i, double v) {
    switch (d) {
    case LCV_DTYPE_FLOAT32: ((float *)p)[i] = (float)v; break;
    case LCV_DTYPE_FLOAT64: ((double *)p)[i] = v; break;
    case LCV_DTYPE_FLOAT16: ((uint16_t *)p)[i] = lcv_f32_to_f16((float)v); break;
    case LCV_DTYPE_BFLOAT16: ((uint16_t *)p)[i] = lcv_f32_to_bf16((float)v); break;
    case LCV_DTYPE_UINT8: ((uint8_t *)p)[i] = (uint8_t)sat_f64_to_i64(v, 0, 255); break;
    case LCV_DTYPE_INT8: ((int8_t *)p)[i] = (int8_t)sat_f64_to_i64(v, -128, 127); break;
    case LCV_DTYPE_UINT16: ((uint16_t *)p)[i] = (uint16_t)sat_f64_to_i64(v, 0, 65535); break;
    case LCV_DTYPE_INT16: ((int16_t *)p)[i] = (int16_t)sat_f64_to_i64(v, -32768, 32767); break;
    case LCV_DTYPE_INT32:
        ((int32_t *)p)[i] = (int32_t)sat_f64_to_i64(v, -2147483648.0, 2147483647.0);
        break;
    case LCV_DTYPE_UINT32: ((uint32_t *)p)[i] = (uint32_t)sat_f64_to_i64(v, 0, 4294967295.0); break;
    case LCV_DTYPE_INT64:
        ((int64_t *)p)[i] = sat_f64_to_i64(v, -9.2233720368547758e18, 9.2233720368547748e18);
        break;
    case LCV_DTYPE_UINT64:
        ((uint64_t *)p)[i] = v != v || v <= 0 ? 0
                             : v >= 1.8446744073709552e19 ? UINT64_MAX
                                                          : (uint64_t)v;
        break;
    case LCV_DTYPE_BOOL: ((uint8_t *)p)[i] = v != 0.0; break;
    default: break;
    }
}

void lcv_store_i64(lcv_dtype d, void *p, int64_t i, int64_t v) {
    switch (d) {
    case LCV_DTYPE_UINT8: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case LCV_DTYPE_INT8: ((int8_t *)p)[i] = (int8_t)v; break;
    case LCV_DTYPE_UINT16: ((uint16_t *)p)[i] = (uint16_t)v; break;
    case LCV_DTYPE_INT16: ((int16_t *)p)[i] = (int16_t)v; break;
    case LCV_DTYPE_INT32: ((int32_t *)p)[i] = (int32_t)v; break;
    case LCV_DTYPE_INT64: ((int64_t *)p)[i] = v; break;
    case LCV_DTYPE_UINT32: ((uint32_t *)p)[i] = (uint32_t)v; break;
    case LCV_DTYPE_UINT64: ((uint64_t *)p)[i] = (uint64_t)v; break;
    case LCV_DTYPE_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    default: lcv_store_f64(d, p, i, (double)v); break;
    }
}
