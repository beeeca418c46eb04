/* box.h - boxes in structure-of-arrays form and the IoU of one box against a run of others,
 * the inner loop of every NMS variant, with one implementation per ISA (all give bit-identical
 * results: the same float operations in the same order, no contraction into FMAs). Internal to
 * src/tasks; the public box API is include/leancv_detect.h. */
#ifndef LCV_TASKS_BOX_H
#define LCV_TASKS_BOX_H

#include <stdint.h>

#include "../core/cpu.h"
#include "leancv_detect.h"

/* n boxes as five float arrays (area precomputed, max(0, w) * max(0, h)). */
typedef struct lcv_box_soa {
    float *x1, *y1, *x2, *y2, *area;
} lcv_box_soa;

/* max(0, x2 - x1) * max(0, y2 - y1), written as comparisons (see box.c). */
static inline float lcv_box_area_xyxy(float x1, float y1, float x2, float y2) {
    float w = x2 - x1, h = y2 - y1;
    return (w > 0.0f ? w : 0.0f) * (h > 0.0f ? h : 0.0f);
}

/* out[j - j0] = IoU(box i, box j) for j in [j0, j1), with lcv_box_iou's formula. */
typedef void (*lcv_iou_row_fn)(const lcv_box_soa *b, int64_t i, int64_t j0, int64_t j1,
                               float *out);

void lcv_iou_row_scalar(const lcv_box_soa *b, int64_t i, int64_t j0, int64_t j1, float *out);
#if defined(__x86_64__)
void lcv_iou_row_avx2(const lcv_box_soa *b, int64_t i, int64_t j0, int64_t j1, float *out);
void lcv_iou_row_avx512(const lcv_box_soa *b, int64_t i, int64_t j0, int64_t j1, float *out);
#endif

/* The row kernel for a concrete ISA (other architectures' levels map to scalar). */
lcv_iou_row_fn lcv_iou_row_for(lcv_isa isa);

#endif
