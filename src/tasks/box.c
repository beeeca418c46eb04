/* box.c - box overlap measures (public lcv_box_iou / lcv_box_giou) and the portable IoU row
 * kernel. max/min are written as comparisons so that the vector kernels' max/min instructions
 * (which return the second operand when a NaN is involved) give the same bits. */
#include "box.h"

static inline float maxf(float a, float b) { return a > b ? a : b; }
static inline float minf(float a, float b) { return a < b ? a : b; }

static inline float box_area(lcv_box b) { return lcv_box_area_xyxy(b.x1, b.y1, b.x2, b.y2); }

/* Intersection and union areas of a and b. */
static void overlap(lcv_box a, lcv_box b, float *inter, float *uni) {
    float iw = maxf(minf(a.x2, b.x2) - maxf(a.x1, b.x1), 0.0f);
    float ih = maxf(minf(a.y2, b.y2) - maxf(a.y1, b.y1), 0.0f);
    *inter = iw * ih;
    *uni = (box_area(a) + box_area(b)) - *inter;
}

float lcv_box_iou(lcv_box a, lcv_box b) {
    float inter, uni;
    overlap(a, b, &inter, &uni);
    return uni > 0.0f ? inter / uni : 0.0f;
}

float lcv_box_giou(lcv_box a, lcv_box b) {
    float inter, uni;
    overlap(a, b, &inter, &uni);
    float iou = uni > 0.0f ? inter / uni : 0.0f;
    float hull = (maxf(a.x2, b.x2) - minf(a.x1, b.x1)) * (maxf(a.y2, b.y2) - minf(a.y1, b.y1));
    return hull > 0.0f ? iou - (hull - uni) / hull : 0.0f;
}

void lcv_iou_row_scalar(const lcv_box_soa *b, int64_t i, int64_t j0, int64_t j1, float *out) {
    const float x1 = b->x1[i], y1 = b->y1[i], x2 = b->x2[i], y2 = b->y2[i], area = b->area[i];
    for (int64_t j = j0; j < j1; j++) {
        float iw = maxf(minf(x2, b->x2[j]) - maxf(x1, b->x1[j]), 0.0f);
        float ih = maxf(minf(y2, b->y2[j]) - maxf(y1, b->y1[j]), 0.0f);
        float inter = iw * ih, uni = (area + b->area[j]) - inter;
        out[j - j0] = uni > 0.0f ? inter / uni : 0.0f;
    }
}

lcv_iou_row_fn lcv_iou_row_for(lcv_isa isa) {
#if defined(__x86_64__)
    if (isa == LCV_ISA_AVX512) return lcv_iou_row_avx512;
    if (isa == LCV_ISA_AVX2) return lcv_iou_row_avx2;
#else
    (void)isa;
#endif
    return lcv_iou_row_scalar;
}
