/* segment.c - segmentation post-processing: per-pixel argmax of bilinearly resized logits,
 * the sum of further runs' logits (test-time flip and scales), palette overlays, and prototype x
 * coefficient instance masks cropped to their box. Output pixels are computed one at a time
 * from the input planes (no intermediate resized tensor), so nothing is allocated. */
#include <stdio.h>

#include "tasks_impl.h"

static lcv_status seg_fail(char *errbuf, size_t errcap, const char *what, const char *msg) {
    if (errbuf && errcap) snprintf(errbuf, errcap, "%s: %s", what, msg);
    return LCV_ERR_INVALID_ARG;
}

/* One output coordinate's two source taps and weights (PyTorch's align_corners=False rule). */
typedef struct tap {
    int64_t i0, i1;
    float l0, l1;
} tap;

static tap tap_at(int64_t dst, int64_t in, int64_t out) {
    float scale = (float)in / (float)out;
    float src = scale * ((float)dst + 0.5f) - 0.5f;
    if (src < 0.0f) src = 0.0f;
    tap t;
    t.i0 = (int64_t)src;
    if (t.i0 > in - 1) t.i0 = in - 1;
    t.i1 = t.i0 < in - 1 ? t.i0 + 1 : t.i0;
    t.l1 = src - (float)t.i0;
    t.l0 = 1.0f - t.l1;
    return t;
}

/* The bilinear blend of four neighbours, in PyTorch's order of operations. */
static inline float blend(tap ty, tap tx, float v00, float v01, float v10, float v11) {
    return ty.l0 * (tx.l0 * v00 + tx.l1 * v01) + ty.l1 * (tx.l0 * v10 + tx.l1 * v11);
}

static inline float sample(const float *p, int64_t w, tap ty, tap tx) {
    const float *r0 = p + ty.i0 * w, *r1 = p + ty.i1 * w;
    return blend(ty, tx, r0[tx.i0], r0[tx.i1], r1[tx.i0], r1[tx.i1]);
}

static const char *check_sizes(int64_t h, int64_t w, int64_t out_h, int64_t out_w,
                               int64_t planes) {
    if (h < 1 || w < 1 || out_h < 1 || out_w < 1) return "sizes must be >= 1";
    if (h > INT64_MAX / w || h * w > INT64_MAX / 4 / planes || out_h > INT64_MAX / out_w)
        return "sizes overflow";
    return NULL;
}

lcv_status lcv_seg_argmax(const float *logits, int classes, int64_t h, int64_t w, int64_t out_h,
                          int64_t out_w, uint8_t *labels, char *errbuf, size_t errcap) {
    const char *bad = classes < 1 || classes > 256 ? "classes must be in 1..256"
                      : !logits || !labels         ? "NULL tensor or output"
                                                   : check_sizes(h, w, out_h, out_w, classes);
    if (bad) return seg_fail(errbuf, errcap, "segmentation argmax", bad);
    int64_t plane = h * w;
    for (int64_t y = 0; y < out_h; y++) {
        tap ty = tap_at(y, h, out_h);
        for (int64_t x = 0; x < out_w; x++) {
            tap tx = tap_at(x, w, out_w);
            float best = sample(logits, w, ty, tx);
            int label = 0;
            for (int c = 1; c < classes; c++) {
                float v = sample(logits + c * plane, w, ty, tx);
                if (v > best) {
                    best = v;
                    label = c;
                }
            }
            labels[y * out_w + x] = (uint8_t)label;
        }
    }
    return LCV_OK;
}

lcv_status lcv_seg_accumulate(float *acc, int classes, int64_t h, int64_t w, const float *logits,
                              int64_t lh, int64_t lw, int mirrored, char *errbuf, size_t errcap) {
    const char *bad = classes < 1 || classes > 256 ? "classes must be in 1..256"
                      : !acc || !logits            ? "NULL logits"
                      : acc == logits ? "the sum and the added logits must not be one buffer"
                                      : check_sizes(lh, lw, h, w, classes);
    if (!bad) bad = check_sizes(h, w, 1, 1, classes);
    if (bad) return seg_fail(errbuf, errcap, "segmentation logit sum", bad);
    for (int c = 0; c < classes; c++) {
        const float *src = logits + c * lh * lw;
        float *dst = acc + c * h * w;
        if (lh == h && lw == w) { /* the usual flip of one size: no blend */
            for (int64_t y = 0; y < h; y++)
                for (int64_t x = 0; x < w; x++)
                    dst[y * w + x] += src[y * w + (mirrored ? w - 1 - x : x)];
            continue;
        }
        for (int64_t y = 0; y < h; y++) {
            tap ty = tap_at(y, lh, h);
            for (int64_t x = 0; x < w; x++) {
                tap tx = tap_at(x, lw, w);
                if (mirrored) { /* mirror back first: column i of the image is lw - 1 - i here */
                    tx.i0 = lw - 1 - tx.i0;
                    tx.i1 = lw - 1 - tx.i1;
                }
                dst[y * w + x] += sample(src, lw, ty, tx);
            }
        }
    }
    return LCV_OK;
}

lcv_status lcv_seg_add_mirrored(float *logits, const float *mirrored, int classes, int64_t h,
                                int64_t w, char *errbuf, size_t errcap) {
    return lcv_seg_accumulate(logits, classes, h, w, mirrored, h, w, 1, errbuf, errcap);
}

void lcv_seg_palette(int c, uint8_t rgb[3]) {
    /* spread the class's bits over the colour channels, high bits first */
    unsigned r = 0, g = 0, b = 0, v = (unsigned)c & 255u;
    for (int bit = 7; v; bit--, v >>= 3) {
        r |= (v & 1u) << bit;
        g |= ((v >> 1) & 1u) << bit;
        b |= ((v >> 2) & 1u) << bit;
    }
    rgb[0] = (uint8_t)r;
    rgb[1] = (uint8_t)g;
    rgb[2] = (uint8_t)b;
}

lcv_status lcv_seg_overlay(uint8_t *rgb, int64_t h, int64_t w, const uint8_t *labels,
                           const uint8_t *palette, int skip, float alpha, char *errbuf,
                           size_t errcap) {
    const char *bad = !rgb || !labels                   ? "NULL image or labels"
                      : !(alpha >= 0.0f && alpha <= 1.0f) ? "alpha must be in [0, 1]"
                                                          : check_sizes(h, w, 1, 1, 3);
    if (bad) return seg_fail(errbuf, errcap, "segmentation overlay", bad);
    for (int64_t i = 0; i < h * w; i++) {
        if (labels[i] == skip) continue;
        uint8_t col[3];
        if (palette) {
            col[0] = palette[3 * labels[i]];
            col[1] = palette[3 * labels[i] + 1];
            col[2] = palette[3 * labels[i] + 2];
        } else {
            lcv_seg_palette(labels[i], col);
        }
        for (int k = 0; k < 3; k++) rgb[3 * i + k] = lcv_blend_u8(rgb[3 * i + k], col[k], alpha);
    }
    return LCV_OK;
}

/* The instance's logit at proto pixel (y, x): coefficients times prototypes in index order. */
static inline float proto_logit(const float *protos, int k, int64_t plane, const float *coeffs,
                                int64_t at) {
    float m = 0.0f;
    for (int i = 0; i < k; i++) m += coeffs[i] * protos[i * plane + at];
    return m;
}

lcv_status lcv_instance_mask(const float *protos, int k, int64_t ph, int64_t pw,
                             const float *coeffs, lcv_box box, float threshold, int64_t out_h,
                             int64_t out_w, uint8_t *mask, int64_t *area, char *errbuf,
                             size_t errcap) {
    const char *bad = k < 1                         ? "k must be >= 1"
                      : !protos || !coeffs || !mask ? "NULL tensor or output"
                      : !(threshold > 0.0f && threshold < 1.0f)
                          ? "threshold must be in (0, 1)"
                          : check_sizes(ph, pw, out_h, out_w, k);
    if (bad) return seg_fail(errbuf, errcap, "instance mask", bad);
    int64_t plane = ph * pw, count = 0;
    for (int64_t y = 0; y < out_h; y++) {
        tap ty = tap_at(y, ph, out_h);
        float cy = (float)y + 0.5f;
        bool row_in = cy >= box.y1 && cy < box.y2;
        for (int64_t x = 0; x < out_w; x++) {
            float cx = (float)x + 0.5f;
            uint8_t on = 0;
            if (row_in && cx >= box.x1 && cx < box.x2) {
                tap tx = tap_at(x, pw, out_w);
                float m00 = proto_logit(protos, k, plane, coeffs, ty.i0 * pw + tx.i0);
                float m01 = proto_logit(protos, k, plane, coeffs, ty.i0 * pw + tx.i1);
                float m10 = proto_logit(protos, k, plane, coeffs, ty.i1 * pw + tx.i0);
                float m11 = proto_logit(protos, k, plane, coeffs, ty.i1 * pw + tx.i1);
                on = lcv_sigmoid_f(blend(ty, tx, m00, m01, m10, m11)) > threshold;
            }
            mask[y * out_w + x] = on;
            count += on;
        }
    }
    if (area) *area = count;
    return LCV_OK;
}
