/* leancv_detect.h - detection post-processing that needs no model: box overlap measures and
 * non-maximum suppression (greedy, class-wise or class-agnostic; Soft-NMS; Matrix NMS). Every
 * function works on caller-owned arrays and never allocates: the caller sizes a workspace
 * with lcv_nms_workspace_size and may reuse it for any number of calls.
 *
 * Conventions follow leancv.h: fallible functions return an lcv_status and write a message of
 * at most errcap bytes to errbuf (borrowed, may be NULL) on failure. All functions are
 * thread-safe (no shared state); a workspace belongs to one call at a time. */
#ifndef LEANCV_DETECT_H
#define LEANCV_DETECT_H

#include <stddef.h>
#include <stdint.h>

#include "leancv.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An axis-aligned box by its corners. A box with x2 < x1 or y2 < y1 has area 0. */
typedef struct lcv_box {
    float x1, y1, x2, y2;
} lcv_box;

/* Intersection over union, computed in float32 as
 *   area(b) = max(0, x2 - x1) * max(0, y2 - y1)
 *   inter   = max(0, min(a.x2, b.x2) - max(a.x1, b.x1)) * max(0, min(a.y2, b.y2) - max(a.y1, b.y1))
 *   union   = (area(a) + area(b)) - inter
 *   iou     = union > 0 ? inter / union : 0
 * (the exact order of operations matters for ties at a threshold: NMS uses the same). */
LCV_API float lcv_box_iou(lcv_box a, lcv_box b);
/* Generalized IoU (Rezatofighi et al. 2019): iou - (hull - union) / hull, hull the area of the
 * smallest box enclosing both; 0 when hull is 0. In [-1, 1]. */
LCV_API float lcv_box_giou(lcv_box a, lcv_box b);

typedef enum lcv_nms_method {
    /* Greedy: visit boxes by descending score; keep a box unless a kept box of its class has
     * IoU > iou_threshold with it. */
    LCV_NMS_GREEDY = 0,
    /* Soft-NMS (Bodla et al. 2017): repeatedly keep the highest remaining score and multiply
     * the scores of the others of its class by a weight of their IoU with it: linear
     * w = iou > iou_threshold ? 1 - iou : 1; Gaussian w = exp(-iou^2 / sigma). Boxes whose
     * score falls to score_threshold or below are dropped. */
    LCV_NMS_SOFT_LINEAR = 1,
    LCV_NMS_SOFT_GAUSSIAN = 2,
    /* Matrix NMS (Wang et al. 2020, SOLOv2), in one parallel step: with boxes of a class
     * sorted by descending score and comp_i = max IoU of box i with a higher-scored box, box j's
     * score is multiplied by min over higher-scored i of f(iou_ij) / f(comp_i), linear
     * f(x) = 1 - x (a term with f(comp_i) = 0 counts as 1), Gaussian f(x) = exp(-x^2 / sigma).
     * Boxes whose decayed score is score_threshold or below are dropped. */
    LCV_NMS_MATRIX_LINEAR = 3,
    LCV_NMS_MATRIX_GAUSSIAN = 4
} lcv_nms_method;

typedef struct lcv_nms_params {
    lcv_nms_method method;  /* default GREEDY */
    float iou_threshold;    /* GREEDY and SOFT_LINEAR, in [0, 1] (default 0.5) */
    /* Only boxes with score > score_threshold take part (NaN scores never do); for Soft and
     * Matrix NMS also the final threshold on decayed scores (default 0). */
    float score_threshold;
    float sigma;            /* Gaussian methods, > 0 (default 0.5) */
    int64_t max_output;     /* keep at most this many (the highest final scores); 0 = all */
    int class_agnostic;     /* non-zero: one class for all boxes (labels ignored) */
} lcv_nms_params;

LCV_API lcv_nms_params lcv_nms_default_params(void);

/* Bytes of workspace lcv_nms needs for up to n boxes (0 when n < 0 or it would overflow). */
LCV_API size_t lcv_nms_workspace_size(int64_t n);

/* Suppresses overlapping boxes. boxes[n] and scores[n] (borrowed); labels[n] (borrowed, >= 0;
 * NULL: every box in class 0). Writes the kept boxes' indices to keep (caller-allocated, n
 * entries) ordered by descending final score (ties: lower index first), their final scores
 * (equal to the input scores for GREEDY) to out_scores when it is not NULL (n entries), and
 * their count to *n_keep. workspace: lcv_nms_workspace_size(n) bytes, 16-byte aligned
 * (e.g. from malloc). Fails without writing keep on bad arguments (negative n or labels,
 * thresholds out of range, a small workspace). */
LCV_API lcv_status lcv_nms(const lcv_box *boxes, const float *scores, const int32_t *labels,
                           int64_t n, const lcv_nms_params *params, void *workspace,
                           size_t workspace_size, int64_t *keep, float *out_scores,
                           int64_t *n_keep, char *errbuf, size_t errcap);

#ifdef __cplusplus
}
#endif

#endif /* LEANCV_DETECT_H */
