/* wquant.c - weight quantization for the QDQ writer: symmetric int8 weights per output channel
 * or per tensor, int32 biases at the scale of the product they are added to, and
 * float16/bfloat16 copies of float32 tensors. Rounding is half to even, as QuantizeLinear's. */
#include <math.h>
#include <stdlib.h>

#include "compress.h"

lcv_status lcv_quant_weight_int8(const lcv_tensor *w, int axis, lcv_tensor **q,
                                 lcv_tensor **scale, lcv_err *e) {
    *q = *scale = NULL;
    if (w->dtype != LCV_DTYPE_FLOAT32 || !w->data || axis >= w->ndim)
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "weight quantization needs float32 data with "
                        "axis %d < rank %d (got %s)", axis, w->ndim, lcv_dtype_name(w->dtype));
    int64_t chan = axis >= 0 ? w->dims[axis] : 1, inner = 1, numel = lcv_tensor_count(w);
    for (int d = axis + 1; axis >= 0 && d < w->ndim; d++) inner *= w->dims[d];
    if (lcv_tensor_create(LCV_DTYPE_INT8, w->ndim, w->dims, q) != LCV_OK ||
        lcv_tensor_create(LCV_DTYPE_FLOAT32, axis >= 0 ? 1 : 0, &chan, scale) != LCV_OK) {
        lcv_tensor_free(*q);
        *q = NULL;
        return lcv_fail(e, LCV_ERR_NOMEM, "out of memory quantizing a weight");
    }
    const float *x = w->data;
    float *s = (*scale)->data;
    int8_t *y = (*q)->data;
    for (int64_t c = 0; c < chan; c++) s[c] = 0;
    for (int64_t i = 0; i < numel; i++) {
        int64_t c = axis >= 0 ? (i / inner) % chan : 0;
        float a = fabsf(x[i]);
        if (a > s[c]) s[c] = a;
    }
    for (int64_t c = 0; c < chan; c++) s[c] = s[c] > 0 ? s[c] / 127.0f : 1.0f;
    for (int64_t i = 0; i < numel; i++) {
        int64_t c = axis >= 0 ? (i / inner) % chan : 0;
        float r = nearbyintf(x[i] / s[c]);
        y[i] = (int8_t)(r < -127.0f ? -127 : r > 127.0f ? 127 : (int)r);
    }
    return LCV_OK;
}

lcv_status lcv_quant_bias_int32(const lcv_tensor *b, float sx, const lcv_tensor *sw,
                                lcv_tensor **q, lcv_err *e) {
    *q = NULL;
    int64_t n = lcv_tensor_count(b), ns = lcv_tensor_count(sw);
    if (b->dtype != LCV_DTYPE_FLOAT32 || b->ndim != 1 || (ns != 1 && ns != n))
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "bias quantization needs a 1-D float32 bias "
                        "and 1 or %lld weight scales (got %lld)", (long long)n, (long long)ns);
    if (lcv_tensor_create(LCV_DTYPE_INT32, 1, &n, q) != LCV_OK)
        return lcv_fail(e, LCV_ERR_NOMEM, "out of memory quantizing a bias");
    const float *x = b->data, *s = sw->data;
    int32_t *y = (*q)->data;
    for (int64_t i = 0; i < n; i++) {
        /* The scale is computed in float like the DequantizeLinear that reads it. */
        float scale = sx * s[ns == 1 ? 0 : i];
        double r = nearbyint((double)x[i] / scale);
        y[i] = r < -2147483647.0 ? -2147483647 : r > 2147483647.0 ? 2147483647 : (int32_t)r;
    }
    return LCV_OK;
}

lcv_status lcv_tensor_to_half(const lcv_tensor *t, lcv_dtype dtype, lcv_tensor **out,
                              lcv_err *e) {
    *out = NULL;
    if (t->dtype != LCV_DTYPE_FLOAT32 ||
        (dtype != LCV_DTYPE_FLOAT16 && dtype != LCV_DTYPE_BFLOAT16))
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "half conversion: %s to %s is not supported",
                        lcv_dtype_name(t->dtype), lcv_dtype_name(dtype));
    if (lcv_tensor_create(dtype, t->ndim, t->dims, out) != LCV_OK)
        return lcv_fail(e, LCV_ERR_NOMEM, "out of memory converting a tensor to %s",
                        lcv_dtype_name(dtype));
    int64_t n = lcv_tensor_count(t);
    const float *x = t->data;
    uint16_t *y = (*out)->data;
    for (int64_t i = 0; i < n; i++)
        y[i] = dtype == LCV_DTYPE_FLOAT16 ? lcv_f32_to_f16(x[i]) : lcv_f32_to_bf16(x[i]);
    return LCV_OK;
}
