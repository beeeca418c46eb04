/* leancv_detect.h - post-processing of vision heads that needs no model: box overlap
 * measures, non-maximum suppression (greedy, class-wise or class-agnostic; Soft-NMS; Matrix
 * NMS), decoders of the common one-stage detection heads (YOLO v3/v5/v8, SSD, RetinaNet, FCOS,
 * CenterNet), semantic segmentation argmax and overlays, prototype instance masks and text
 * regions from a binarization map (DBNet), and evaluation metrics (mAP, mIoU). Every function
 * works on caller-owned arrays and never allocates: NMS, text detection and mAP take a
 * workspace sized by lcv_*_workspace_size, reusable for any number of calls.
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


/* ---- Decoders: head outputs -> candidate boxes (then lcv_nms) ----
 *
 * A decoder reads one head output (float32, contiguous, one image: the caller points at the
 * image's slice of a batch) and adds every candidate whose score is above the threshold to an
 * lcv_candidates set, which keeps only the top-k by score (ties: lower index first, then lower
 * label) as it goes,
 * in the caller's arrays: no allocation. Multi-level heads call a decoder once per level with
 * index_base set to the level's first candidate index, so indices stay unique (an index
 * names the candidate's row in the head, e.g. to fetch its mask coefficients).
 *
 * All four arrays are required.
 * Boxes come out as corners in the network input's pixel coordinates. Sigmoids and
 * exponentials are evaluated in double and rounded once to float (results do not depend on a
 * float exp's last bit); everything else is float32 in the order written below. */

typedef struct lcv_candidates {
    lcv_box *boxes;    /* capacity entries each, caller-owned */
    float *scores;
    int32_t *labels;
    int64_t *indices;
    int64_t capacity;
    int64_t topk;      /* keep at most this many (<= capacity; 0: capacity) */
    float score_threshold; /* candidates need score > score_threshold */
    int64_t count;     /* current size (set by lcv_candidates_reset / decoders) */
} lcv_candidates;

/* Empties the set; checks capacity >= 1, topk in [0, capacity] and the array pointers. */
LCV_API lcv_status lcv_candidates_reset(lcv_candidates *c, char *errbuf, size_t errcap);
/* Orders the candidates by descending score (ties: lower index, then lower label), ready for
 * lcv_nms.
 * This ends a round of adding: reset before decoding into the set again. */
LCV_API void lcv_candidates_sort(lcv_candidates *c);

/* YOLO with decoding inside the exported graph (Ultralytics exports): n rows, each
 * (cx, cy, w, h, [objectness,] class scores...) in pixels and probabilities.
 *   LCV_YOLO_V5: rows of 5 + classes values, score = objectness * max class score;
 *   LCV_YOLO_V8: rows of 4 + classes values (no objectness), score = max class score;
 * label = the best class (lowest on ties). channels_first: the tensor is [values, n] (as
 * YOLOv8 exports [1, 84, 8400]) instead of [n, values]. */
typedef enum lcv_yolo_layout { LCV_YOLO_V5 = 0, LCV_YOLO_V8 = 1 } lcv_yolo_layout;
LCV_API lcv_status lcv_decode_yolo(const float *pred, int64_t n, int classes,
                                   lcv_yolo_layout layout, int channels_first,
                                   int64_t index_base, lcv_candidates *c, char *errbuf,
                                   size_t errcap);

/* One raw YOLO v3/v5 level [anchors * (5 + classes), h, w] (logits), anchors[2 * a] the
 * (width, height) of anchor a in pixels, stride the level's pixels per cell. With
 * s = sigmoid of each value and (gx, gy) the cell:
 *   v5 (v5_formula != 0): cx = (s_x * 2 - 0.5 + gx) * stride, w = (s_w * 2)^2 * anchor_w
 *   v3:                   cx = (s_x + gx) * stride,           w = exp(t_w) * anchor_w
 * score = s_obj * max s_class. Candidate index = index_base + (a * h + gy) * w + gx. */
LCV_API lcv_status lcv_decode_yolo_grid(const float *raw, int anchors, const float *anchor_wh,
                                        int classes, int64_t h, int64_t w, float stride,
                                        int v5_formula, int64_t index_base, lcv_candidates *c,
                                        char *errbuf, size_t errcap);

/* One raw anchor-free level with distribution focal loss (YOLOv8 style): box [4 * bins, h, w]
 * (per side l, t, r, b a distribution over bins 0..bins-1, as logits) and cls [classes, h, w]
 * logits. Distance of a side = sum_k softmax_k * k; with the cell centre (gx + 0.5, gy + 0.5):
 * x1 = (centre_x - l) * stride, x2 = (centre_x + r) * stride (same for y with t, b);
 * score = sigmoid of the best class logit. Index = index_base + gy * w + gx. */
LCV_API lcv_status lcv_decode_dfl(const float *box, const float *cls, int bins, int classes,
                                  int64_t h, int64_t w, float stride, int64_t index_base,
                                  lcv_candidates *c, char *errbuf, size_t errcap);

/* SSD: deltas [priors, 4] (dx, dy, dw, dh), probabilities [priors, classes] (softmax done;
 * class 0 is background and skipped), priors [priors, 4] as (cx, cy, w, h) relative to the
 * image, variances (v_c, v_s) (0.1, 0.2 usually): cx = pcx + dx * v_c * pw,
 * w = pw * exp(dw * v_s); boxes scaled by image_w/image_h. Every class above the threshold of a
 * prior is a candidate (multi-label); index = index_base + prior. */
LCV_API lcv_status lcv_decode_ssd(const float *deltas, const float *probs, const float *priors,
                                  int64_t n_priors, int classes, float var_center,
                                  float var_size, float image_w, float image_h,
                                  int64_t index_base, lcv_candidates *c, char *errbuf,
                                  size_t errcap);

/* RetinaNet: deltas [anchors, 4] (dx, dy, dw, dh) against anchors [anchors, 4] (x1, y1, x2,
 * y2, pixels), logits [anchors, classes]: with aw = x2 - x1, acx = x1 + 0.5 * aw,
 * cx = dx * aw + acx, w = exp(min(dw, log(1000 / 16))) * aw (torchvision's BoxCoder with
 * weights 1); score = sigmoid(logit) per class (multi-label). index = index_base + anchor. */
LCV_API lcv_status lcv_decode_retinanet(const float *deltas, const float *logits,
                                        const float *anchors, int64_t n_anchors, int classes,
                                        int64_t index_base, lcv_candidates *c, char *errbuf,
                                        size_t errcap);

/* FCOS, one level: cls [classes, h, w] logits, reg [4, h, w] distances (l, t, r, b) in pixels
 * (already positive), ctr [h, w] centre-ness logits; location (gx * stride + stride / 2, same
 * for y) (integer division of an integer stride as in FCOS); score = sqrt(sigmoid(cls) *
 * sigmoid(ctr)) per class (multi-label). Index = index_base + gy * w + gx. */
LCV_API lcv_status lcv_decode_fcos(const float *cls, const float *reg, const float *ctr,
                                   int classes, int64_t h, int64_t w, int stride,
                                   int64_t index_base, lcv_candidates *c, char *errbuf,
                                   size_t errcap);

/* CenterNet: heat [classes, h, w] probabilities (sigmoid done), wh [2, h, w] (width, height in
 * output cells), offset [2, h, w] (x, y). A peak is a value not smaller than any of its 3x3
 * neighbours in the same class; box centre (gx + off_x, gy + off_y), corners centre -+ wh / 2,
 * all times down_ratio. Index = index_base + (class * h + gy) * w + gx. No NMS is needed. */
LCV_API lcv_status lcv_decode_centernet(const float *heat, const float *wh, const float *offset,
                                        int classes, int64_t h, int64_t w, float down_ratio,
                                        int64_t index_base, lcv_candidates *c, char *errbuf,
                                        size_t errcap);

/* ---- Segmentation ---- */

/* Per-pixel class of segmentation logits [classes, h, w] (one image) at out_h x out_w: the
 * logits are resized by bilinear interpolation (half-pixel centres, as PyTorch's interpolate
 * with align_corners=False: source y = max(0, (y + 0.5) * h / out_h - 0.5), the upper
 * neighbour clamped to the edge), then the largest wins (lowest class on ties). Argmax after
 * resizing gives smooth borders; resizing labels would give blocky ones. labels: out_h * out_w
 * bytes (caller-owned); classes in 1..256. */
LCV_API lcv_status lcv_seg_argmax(const float *logits, int classes, int64_t h, int64_t w,
                                  int64_t out_h, int64_t out_w, uint8_t *labels, char *errbuf,
                                  size_t errcap);

/* Test-time augmentation: adds the logits [classes, lh, lw] of one more run to acc [classes, h,
 * w] (one image each; distinct buffers), resized bilinearly to h x w by lcv_seg_argmax's rule
 * and, when mirrored is non-zero (the run saw the horizontally mirrored image), mirrored back
 * first: acc[c, y, x] += resize(m)[c, y, x] with m[c, i, j] = logits[c, i, lw - 1 - j]. Runs
 * at other scales of the image (multi-scale inference) and on its mirror image (flip) are
 * summed this way; the argmax of the sum is that of the mean, which is usually more accurate
 * than any one run (docs/TRAINING.md measures it). acc: caller-owned, updated in place;
 * classes in 1..256. */
LCV_API lcv_status lcv_seg_accumulate(float *acc, int classes, int64_t h, int64_t w,
                                      const float *logits, int64_t lh, int64_t lw, int mirrored,
                                      char *errbuf, size_t errcap);
/* lcv_seg_accumulate of a mirrored run of the same size: logits[c, y, x] += mirrored[c, y,
 * w - 1 - x]. */
LCV_API lcv_status lcv_seg_add_mirrored(float *logits, const float *mirrored, int classes,
                                        int64_t h, int64_t w, char *errbuf, size_t errcap);
/* Blends each labelled pixel's palette colour over an RGB image (h * w * 3 bytes, HWC):
 * rgb = (1 - alpha) * rgb + alpha * colour, rounded; pixels of class `skip` (e.g. the
 * background; -1 for none) are left alone. palette: 3 bytes per class, or NULL for leancv's
 * built-in 256-colour palette (lcv_seg_palette). alpha in [0, 1]. */
LCV_API lcv_status lcv_seg_overlay(uint8_t *rgb, int64_t h, int64_t w, const uint8_t *labels,
                                   const uint8_t *palette, int skip, float alpha, char *errbuf,
                                   size_t errcap);
/* The built-in palette's colour of class c (0..255): well-separated hues, class 0 black. */
LCV_API void lcv_seg_palette(int c, uint8_t rgb[3]);

/* One instance mask from prototypes (YOLACT; YOLOv5/v8-seg): protos [k, ph, pw] and the
 * instance's k coefficients give the logit map m = sum_i coeff[i] * protos[i] (summed in index
 * order), resized to out_h x out_w like lcv_seg_argmax's logits; a pixel is in the mask when
 * sigmoid(m) > threshold and its centre (x + 0.5, y + 0.5), in output pixels, lies in box
 * (given in output pixels: x1 <= cx < x2, y1 <= cy < y2). mask: out_h * out_w bytes of 0/1;
 * *area (may be NULL) receives the pixel count. threshold in (0, 1). */
LCV_API lcv_status lcv_instance_mask(const float *protos, int k, int64_t ph, int64_t pw,
                                     const float *coeffs, lcv_box box, float threshold,
                                     int64_t out_h, int64_t out_w, uint8_t *mask, int64_t *area,
                                     char *errbuf, size_t errcap);

/* ---- Text detection (differentiable binarization, DBNet) ---- */

/* A quadrilateral: corners (x[i], y[i]) in order around the shape, starting at the corner with
 * the smallest x + y. */
typedef struct lcv_quad {
    float x[4], y[4];
} lcv_quad;

typedef struct lcv_textdet_params {
    float bin_threshold; /* a pixel is text when its probability > this (default 0.3) */
    float box_threshold; /* a region is kept when its mean probability > this (default 0.6) */
    /* The region's minimum-area rectangle (w x h) grows by D = w * h * unclip_ratio /
     * (2 * (w + h)) on every side (DBNet's offset, area * ratio / perimeter; default 1.5). */
    float unclip_ratio;
    float min_side;      /* regions whose grown rectangle has a side < this are dropped (3) */
    float scale_x, scale_y; /* output coordinates = map pixels * scale (default 1) */
} lcv_textdet_params;

LCV_API lcv_textdet_params lcv_textdet_default_params(void);
/* Bytes of workspace lcv_textdet needs for an h x w map (0 on bad sizes or overflow). */
LCV_API size_t lcv_textdet_workspace_size(int64_t h, int64_t w);

/* Text regions of a probability map prob [h, w]: 8-connected regions of text pixels, in the
 * raster order of their first pixel; each region's score is its pixels' mean probability, its
 * shape the minimum-area rectangle around its pixels (pixel (x, y) covers [x, x + 1) x
 * [y, y + 1)), grown as above. Writes up to capacity regions (quads, scores: caller-owned)
 * and their count to *count; *found (may be NULL) receives how many passed the filters in
 * all. workspace: lcv_textdet_workspace_size(h, w) bytes, 8-byte aligned. */
LCV_API lcv_status lcv_textdet(const float *prob, int64_t h, int64_t w,
                               const lcv_textdet_params *params, void *workspace,
                               size_t workspace_size, lcv_quad *quads, float *scores,
                               int64_t capacity, int64_t *count, int64_t *found, char *errbuf,
                               size_t errcap);

/* ---- Evaluation metrics ---- */

/* Boxes of several images (detections or ground truth) in caller-owned arrays of count entries
 * each (all borrowed for the call). */
typedef struct lcv_box_set {
    const lcv_box *boxes;
    const float *scores;    /* detections: confidence (not NaN); ground truth: unused (NULL) */
    const int32_t *labels;  /* class of each box, in [0, classes) */
    const int64_t *images;  /* the image each box belongs to (any id; equal ids = same image) */
    int64_t count;
} lcv_box_set;

#define LCV_MAP_THRESHOLDS 10       /* IoU 0.50, 0.55, ..., 0.95 */
#define LCV_MAP_MAX_CLASSES 65536

typedef struct lcv_map_result {
    double map;          /* mAP@[.5:.95]: mean over classes present and the 10 thresholds */
    double map50;        /* mAP@.5 */
    double map75;        /* mAP@.75 */
    int classes_present; /* classes with at least one ground truth (the means' divisor) */
} lcv_map_result;

/* Bytes of workspace lcv_map needs (0 on negative counts, bad classes or overflow). */
LCV_API size_t lcv_map_workspace_size(int64_t n_det, int64_t n_gt, int classes);

/* COCO-style mean average precision, without crowd regions, area ranges or a per-image cap
 * (pycocotools keeps 100 detections per image: cap before calling to match it).
 * At each IoU threshold t = (50 + 5 i) / 100, per image and class, detections in descending
 * score order (ties: lower index) each take the unmatched ground truth with the highest IoU
 * (lcv_box_iou, compared in double) that is >= t (equal IoUs: the later ground truth, as
 * pycocotools); a matched detection is a true positive, the rest false positives. Per class,
 * all its detections in that order give precision p_i = tp_i / (i + 1) and recall
 * tp_i / n_gt; p is made non-increasing from the right (p_i = max over j >= i), and AP is the
 * mean over k = 0..100 of p at the first detection with tp * 100 >= k * n_gt (0 if none;
 * compared exactly in integers, where pycocotools' float recall points can differ at exact
 * ties). Classes without ground truth are left out of the means (AP -1); classes with ground
 * truth but no detection have AP 0.
 * ap: classes * LCV_MAP_THRESHOLDS doubles (caller-owned, may be NULL) receiving the AP of
 * class c at threshold i at [c * LCV_MAP_THRESHOLDS + i]. workspace:
 * lcv_map_workspace_size(det->count, gt->count, classes) bytes, 8-byte aligned, reusable.
 * Fails (naming the set and entry) on a label outside [0, classes) or a NaN score. */
LCV_API lcv_status lcv_map(const lcv_box_set *det, const lcv_box_set *gt, int classes,
                           void *workspace, size_t workspace_size, double *ap,
                           lcv_map_result *out, char *errbuf, size_t errcap);

/* Adds n pixels to a segmentation confusion matrix (int64 [classes][classes], caller-owned,
 * zeroed by the caller once; rows ground truth, columns prediction): matrix[t * classes + p]
 * += 1 for each pixel whose truth t is not ignore_label (-1: none, else 0..255). classes in
 * 1..256. Fails, leaving the matrix as it was, when a counted pixel has a truth or prediction
 * >= classes (the message names the pixel). */
LCV_API lcv_status lcv_confusion_add(int64_t *matrix, int classes, const uint8_t *pred,
                                     const uint8_t *truth, int64_t n, int ignore_label,
                                     char *errbuf, size_t errcap);

typedef struct lcv_miou_result {
    double miou;           /* mean IoU over classes with a non-empty union */
    double pixel_accuracy; /* diagonal / all counted pixels (0 when none) */
    int classes_counted;   /* the mean's divisor */
    int64_t pixels;        /* counted pixels */
} lcv_miou_result;

/* Per-class IoU = matrix[c][c] / (row c + column c - matrix[c][c]) of a confusion matrix as
 * lcv_confusion_add builds it; a class whose union is empty gets -1 and is left out of the
 * mean. iou: classes doubles (caller-owned, may be NULL). */
LCV_API lcv_status lcv_miou(const int64_t *matrix, int classes, double *iou,
                            lcv_miou_result *out, char *errbuf, size_t errcap);

/* ---- Drawing on RGB images (HWC, 8-bit, h * w * 3 bytes, caller-owned) ----
 * Everything is clipped to the image; coordinates are pixels (a box's x2/y2 exclusive as
 * elsewhere). Colours are 3 bytes (R, G, B). */

/* A rectangle outline `thickness` pixels wide (>= 1), inside the box's edges. */
LCV_API void lcv_draw_box(uint8_t *rgb, int64_t h, int64_t w, lcv_box box,
                          const uint8_t color[3], int thickness);
/* The closed polygon through the quad's corners, 1 pixel wide (Bresenham lines). */
LCV_API void lcv_draw_quad(uint8_t *rgb, int64_t h, int64_t w, const lcv_quad *q,
                           const uint8_t color[3]);
/* Blends color over the pixels where mask (h * w bytes) is non-zero, as lcv_seg_overlay. */
LCV_API void lcv_draw_mask(uint8_t *rgb, int64_t h, int64_t w, const uint8_t *mask,
                           const uint8_t color[3], float alpha);
/* ASCII text in leancv's built-in 5x7 bitmap font (lower case drawn as upper case; other
 * characters as a box), each font pixel a scale x scale square (scale >= 1), glyphs 6 * scale
 * apart, with (x, y) the top-left corner of the first glyph; on a filled background of `bg`
 * (NULL: none) one font pixel wider on every side, so labels stay legible on any image.
 * Returns the width drawn in pixels. */
LCV_API int64_t lcv_draw_text(uint8_t *rgb, int64_t h, int64_t w, int64_t x, int64_t y,
                              const char *text, const uint8_t color[3], const uint8_t *bg,
                              int scale);

#ifdef __cplusplus
}
#endif

#endif /* LEANCV_DETECT_H */
