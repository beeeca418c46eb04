/* test_wquant.c - weight quantization of src/compress/wquant.c bit-exact against a plain
 * reference written here (per channel on every axis, per tensor, odd shapes, all-zero
 * channels, ties at .5), int32 biases, and half conversion against the core converters. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compress/compress.h"
#include "harness.h"

/* Round half to even without the FPU rounding mode: the reference's own way. */
static double ref_round(double v) {
    double f = floor(v), d = v - f;
    if (d > 0.5) return f + 1;
    if (d < 0.5) return f;
    return fmod(f, 2.0) == 0 ? f : f + 1;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static void check_weight(int ndim, const int64_t *dims, int axis, bool zero_chan) {
    lcv_tensor *w = NULL, *q = NULL, *s = NULL;
    lcv_err e;
    CHECK(lcv_tensor_create(LCV_DTYPE_FLOAT32, ndim, dims, &w) == LCV_OK);
    int64_t n = lcv_tensor_count(w), chan = axis >= 0 ? dims[axis] : 1, inner = 1;
    for (int d = axis + 1; axis >= 0 && d < ndim; d++) inner *= dims[d];
    float *x = w->data;
    for (int64_t i = 0; i < n; i++) x[i] = rnd() * (float)(1 + i % 5);
    if (n > 3) x[3] = 0.5f * x[0]; /* some exact halves after scaling are likely elsewhere */
    if (zero_chan)
        for (int64_t i = 0; i < n; i++)
            if ((axis >= 0 ? (i / inner) % chan : 0) == 0) x[i] = 0.0f;
    CHECK_MSG(lcv_quant_weight_int8(w, axis, &q, &s, &e) == LCV_OK, "%s", e.msg);
    if (!q || !s) goto done;
    float *scale = calloc((size_t)chan, sizeof(float));
    for (int64_t c = 0; c < chan; c++) {
        float m = 0;
        for (int64_t i = 0; i < n; i++)
            if ((axis >= 0 ? (i / inner) % chan : 0) == c && fabsf(x[i]) > m) m = fabsf(x[i]);
        scale[c] = m > 0 ? m / 127.0f : 1.0f;
    }
    int bad = 0;
    CHECK(lcv_tensor_count(s) == chan && s->ndim == (axis >= 0 ? 1 : 0));
    for (int64_t c = 0; c < chan; c++) bad += ((float *)s->data)[c] != scale[c];
    for (int64_t i = 0; i < n; i++) {
        int64_t c = axis >= 0 ? (i / inner) % chan : 0;
        double r = ref_round((double)(x[i] / scale[c]));
        r = r < -127 ? -127 : r > 127 ? 127 : r;
        bad += ((int8_t *)q->data)[i] != (int8_t)r;
    }
    CHECK_MSG(bad == 0, "rank %d axis %d: %d mismatches", ndim, axis, bad);
    free(scale);
done:
    lcv_tensor_free(w);
    lcv_tensor_free(q);
    lcv_tensor_free(s);
}

static void check_ties(void) {
    /* Scale 1 (max 127): x.5 values round to even, as QuantizeLinear does. */
    int64_t d = 6;
    lcv_tensor *w = NULL, *q = NULL, *s = NULL;
    lcv_err e;
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 1, &d, &w);
    const float v[6] = {127.0f, 0.5f, 1.5f, 2.5f, -2.5f, -0.5f};
    const int8_t want[6] = {127, 0, 2, 2, -2, 0};
    memcpy(w->data, v, sizeof v);
    CHECK(lcv_quant_weight_int8(w, -1, &q, &s, &e) == LCV_OK);
    CHECK(q && memcmp(q->data, want, 6) == 0 && ((float *)s->data)[0] == 1.0f);
    lcv_tensor_free(w);
    lcv_tensor_free(q);
    lcv_tensor_free(s);
}

static void check_bias(void) {
    int64_t n = 3;
    lcv_tensor *b = NULL, *sw = NULL, *q = NULL;
    lcv_err e;
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 1, &n, &b);
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 1, &n, &sw);
    const float bv[3] = {0.25f, -1.0f, 3.0e9f}, sv[3] = {0.01f, 0.02f, 0.5f};
    memcpy(b->data, bv, sizeof bv);
    memcpy(sw->data, sv, sizeof sv);
    CHECK(lcv_quant_bias_int32(b, 0.1f, sw, &q, &e) == LCV_OK);
    const int32_t *y = q ? q->data : NULL;
    CHECK(y && y[0] == (int32_t)ref_round(0.25 / (double)(0.1f * 0.01f)));
    CHECK(y && y[1] == (int32_t)ref_round(-1.0 / (double)(0.1f * 0.02f)));
    CHECK(y && y[2] == 2147483647); /* saturates */
    lcv_tensor_free(q);
    int64_t two = 2;
    lcv_tensor *sw2 = NULL;
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 1, &two, &sw2);
    CHECK(lcv_quant_bias_int32(b, 0.1f, sw2, &q, &e) == LCV_ERR_INVALID_ARG && !q);
    CHECK(strstr(e.msg, "weight scales") != NULL);
    lcv_tensor_free(sw2);
    lcv_tensor_free(b);
    lcv_tensor_free(sw);
}

static void check_half(void) {
    int64_t n = 5;
    lcv_tensor *t = NULL, *h = NULL;
    lcv_err e;
    lcv_tensor_create(LCV_DTYPE_FLOAT32, 1, &n, &t);
    const float v[5] = {1.0f, -3.14159f, 65504.0f, 1e-8f, 1e30f};
    memcpy(t->data, v, sizeof v);
    lcv_dtype dts[2] = {LCV_DTYPE_FLOAT16, LCV_DTYPE_BFLOAT16};
    for (int k = 0; k < 2; k++) {
        CHECK(lcv_tensor_to_half(t, dts[k], &h, &e) == LCV_OK && h && h->dtype == dts[k]);
        for (int i = 0; h && i < 5; i++)
            CHECK(((uint16_t *)h->data)[i] ==
                  (k == 0 ? lcv_f32_to_f16(v[i]) : lcv_f32_to_bf16(v[i])));
        lcv_tensor_free(h);
    }
    CHECK(lcv_tensor_to_half(t, LCV_DTYPE_INT8, &h, &e) == LCV_ERR_INVALID_ARG && !h);
    lcv_tensor_free(t);
}

int main(void) {
    const int64_t conv[4] = {7, 3, 3, 3}, fc[2] = {5, 13}, odd[3] = {2, 9, 4};
    for (int zero = 0; zero < 2; zero++) {
        check_weight(4, conv, 0, zero);
        check_weight(4, conv, -1, zero);
        check_weight(2, fc, 0, zero);
        check_weight(2, fc, 1, zero);
        check_weight(3, odd, 2, zero);
        check_weight(3, odd, 1, zero);
    }
    check_ties();
    check_bias();
    check_half();
    return lcv_test_finish("test_wquant");
}
