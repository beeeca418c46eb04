/* metrics.c - evaluation metrics of detection and segmentation: COCO-style mean average
 * precision (greedy matching per image and class at ten IoU thresholds, 101-point interpolated
 * precision) and confusion-matrix mIoU. Nothing is allocated: lcv_map sorts and marks matches
 * in a workspace sized by lcv_map_workspace_size. */
#include <stdio.h>
#include <string.h>

#include "tasks_impl.h"

#define RECALL_POINTS 101

static lcv_status metric_fail(char *errbuf, size_t errcap, const char *what, const char *msg,
                              long long v) {
    if (errbuf && errcap) snprintf(errbuf, errcap, "%s: %s (got %lld)", what, msg, v);
    return LCV_ERR_INVALID_ARG;
}

/* ---- index sorting with a context (qsort has none, and a global would not be re-entrant) */

typedef int (*idx_cmp)(int64_t a, int64_t b, const void *ctx);

/* Bottom-up merge sort of a[n] using tmp[n]; stable. */
static void sort_idx(int64_t *a, int64_t *tmp, int64_t n, idx_cmp cmp, const void *ctx) {
    int64_t *src = a, *dst = tmp;
    for (int64_t width = 1; width < n; width *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * width) {
            int64_t mid = lo + width < n ? lo + width : n;
            int64_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            int64_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) dst[k++] = cmp(src[j], src[i], ctx) < 0 ? src[j++] : src[i++];
            while (i < mid) dst[k++] = src[i++];
            while (j < hi) dst[k++] = src[j++];
        }
        int64_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != a) memcpy(a, src, (size_t)n * sizeof *a);
}

/* Detections: by class, then descending score, then index. */
static int cmp_det(int64_t a, int64_t b, const void *ctx) {
    const lcv_box_set *d = ctx;
    if (d->labels[a] != d->labels[b]) return d->labels[a] < d->labels[b] ? -1 : 1;
    if (d->scores[a] != d->scores[b]) return d->scores[a] > d->scores[b] ? -1 : 1;
    return (a > b) - (a < b);
}

/* Ground truths: by image, then class, then index. */
static int cmp_gt(int64_t a, int64_t b, const void *ctx) {
    const lcv_box_set *g = ctx;
    if (g->images[a] != g->images[b]) return g->images[a] < g->images[b] ? -1 : 1;
    if (g->labels[a] != g->labels[b]) return g->labels[a] < g->labels[b] ? -1 : 1;
    return (a > b) - (a < b);
}

/* First position in the sorted ground truths whose (image, class) is not below the key. */
static int64_t gt_lower(const lcv_box_set *g, const int64_t *order, int64_t image, int32_t label) {
    int64_t lo = 0, hi = g->count;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2, k = order[mid];
        bool below = g->images[k] < image || (g->images[k] == image && g->labels[k] < label);
        if (below) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Workspace parts, each 8-byte aligned: det order, gt order, sort scratch, precision per
 * detection (double), ground truths per class, matched flags per (gt, threshold),
 * true-positive flags per (det, threshold). */
#define MAP_PARTS 7
static bool map_layout(int64_t n_det, int64_t n_gt, int classes, size_t off[MAP_PARTS],
                       size_t *total) {
    if (n_det < 0 || n_gt < 0 || n_det > (INT64_MAX >> 8) || n_gt > (INT64_MAX >> 8) ||
        classes < 1 || classes > LCV_MAP_MAX_CLASSES)
        return false;
    uint64_t nd = (uint64_t)n_det, ng = (uint64_t)n_gt, nmax = nd > ng ? nd : ng;
    uint64_t sizes[MAP_PARTS] = {8 * nd, 8 * ng, 8 * nmax, 8 * nd, 8 * (uint64_t)classes,
                                 LCV_MAP_THRESHOLDS * ng, LCV_MAP_THRESHOLDS * nd};
    uint64_t at = 0;
    for (int i = 0; i < MAP_PARTS; i++) {
        off[i] = (size_t)at;
        at += (sizes[i] + 7) & ~(uint64_t)7;
        if (at > (uint64_t)SIZE_MAX / 2) return false;
    }
    *total = at ? (size_t)at : 8;
    return true;
}

size_t lcv_map_workspace_size(int64_t n_det, int64_t n_gt, int classes) {
    size_t off[MAP_PARTS], total;
    return map_layout(n_det, n_gt, classes, off, &total) ? total : 0;
}

static lcv_status check_set(const lcv_box_set *s, bool det, int classes, char *errbuf,
                            size_t errcap) {
    const char *what = det ? "map: detection" : "map: ground truth";
    if (!s || s->count < 0)
        return metric_fail(errbuf, errcap, what, "NULL set or negative count",
                           s ? (long long)s->count : 0);
    if (s->count && (!s->boxes || !s->labels || !s->images || (det && !s->scores)))
        return metric_fail(errbuf, errcap, what,
                           det ? "boxes, scores, labels and images are required"
                               : "boxes, labels and images are required",
                           (long long)s->count);
    for (int64_t i = 0; i < s->count; i++) {
        if (s->labels[i] < 0 || s->labels[i] >= classes) {
            if (errbuf && errcap)
                snprintf(errbuf, errcap, "%s %lld: class %d is outside 0..%d", what, (long long)i,
                         (int)s->labels[i], classes - 1);
            return LCV_ERR_INVALID_ARG;
        }
        if (det && s->scores[i] != s->scores[i])
            return metric_fail(errbuf, errcap, what, "score is NaN at index", (long long)i);
    }
    return LCV_OK;
}

/* AP of one class at one IoU threshold from its detections dets[m] (sorted, tp flags at
 * threshold t) and its ground-truth count; prec: m doubles of scratch. */
static double class_ap(const int64_t *dets, int64_t m, const uint8_t *tp_flags, int t,
                       int64_t n_gt, double *prec) {
    int64_t tp = 0;
    for (int64_t i = 0; i < m; i++) {
        tp += tp_flags[dets[i] * LCV_MAP_THRESHOLDS + t];
        prec[i] = (double)tp / (double)(i + 1);
    }
    /* The interpolated precision at a recall is the best precision at that recall or above. */
    for (int64_t i = m - 2; i >= 0; i--)
        if (prec[i + 1] > prec[i]) prec[i] = prec[i + 1];
    /* Recall point k/100 is reached at the first detection with tp / n_gt >= k / 100, compared
     * exactly in integers. */
    double sum = 0.0;
    int k = 0;
    tp = 0;
    for (int64_t i = 0; i < m && k < RECALL_POINTS; i++) {
        tp += tp_flags[dets[i] * LCV_MAP_THRESHOLDS + t];
        while (k < RECALL_POINTS && tp * 100 >= (int64_t)k * n_gt) {
            sum += prec[i];
            k++;
        }
    }
    return sum / RECALL_POINTS;
}

lcv_status lcv_map(const lcv_box_set *det, const lcv_box_set *gt, int classes, void *workspace,
                   size_t workspace_size, double *ap, lcv_map_result *out, char *errbuf,
                   size_t errcap) {
    if (classes < 1 || classes > LCV_MAP_MAX_CLASSES)
        return metric_fail(errbuf, errcap, "map", "classes must be in 1..65536", classes);
    if (!out) return metric_fail(errbuf, errcap, "map", "out is NULL", 0);
    lcv_status st = check_set(det, true, classes, errbuf, errcap);
    if (st == LCV_OK) st = check_set(gt, false, classes, errbuf, errcap);
    if (st != LCV_OK) return st;
    size_t off[MAP_PARTS], need;
    if (!map_layout(det->count, gt->count, classes, off, &need) || !workspace ||
        workspace_size < need)
        return metric_fail(errbuf, errcap, "map", "workspace smaller than lcv_map_workspace_size",
                           (long long)workspace_size);
    if (((uintptr_t)workspace & 7) != 0)
        return metric_fail(errbuf, errcap, "map", "workspace not 8-byte aligned", 0);
    unsigned char *ws = workspace;
    int64_t *dorder = (int64_t *)(void *)(ws + off[0]), *gorder = (int64_t *)(void *)(ws + off[1]);
    int64_t *tmp = (int64_t *)(void *)(ws + off[2]);
    double *prec = (double *)(void *)(ws + off[3]);
    int64_t *class_gt = (int64_t *)(void *)(ws + off[4]);
    uint8_t *matched = ws + off[5], *tp = ws + off[6];
    int64_t nd = det->count, ng = gt->count;
    for (int64_t i = 0; i < nd; i++) dorder[i] = i;
    for (int64_t i = 0; i < ng; i++) gorder[i] = i;
    sort_idx(dorder, tmp, nd, cmp_det, det);
    sort_idx(gorder, tmp, ng, cmp_gt, gt);
    memset(matched, 0, (size_t)ng * LCV_MAP_THRESHOLDS);
    memset(tp, 0, (size_t)nd * LCV_MAP_THRESHOLDS);

    /* Greedy matching: in descending score order each detection takes the unmatched ground
     * truth of its image and class with the highest IoU >= the threshold. Matching is per
     * image, so visiting a class's detections of all images in one score order is the same. */
    for (int64_t r = 0; r < nd; r++) {
        int64_t d = dorder[r];
        int64_t lo = gt_lower(gt, gorder, det->images[d], det->labels[d]);
        for (int t = 0; t < LCV_MAP_THRESHOLDS; t++) {
            double best = (double)(50 + 5 * t) / 100.0;
            int64_t m = -1;
            for (int64_t q = lo; q < ng; q++) {
                int64_t g = gorder[q];
                if (gt->images[g] != det->images[d] || gt->labels[g] != det->labels[d]) break;
                if (matched[g * LCV_MAP_THRESHOLDS + t]) continue;
                double iou = (double)lcv_box_iou(det->boxes[d], gt->boxes[g]);
                /* >= so that an equal IoU later in the list wins, as pycocotools does. */
                if (iou >= best) {
                    best = iou;
                    m = g;
                }
            }
            if (m >= 0) {
                matched[m * LCV_MAP_THRESHOLDS + t] = 1;
                tp[d * LCV_MAP_THRESHOLDS + t] = 1;
            }
        }
    }

    memset(out, 0, sizeof *out);
    memset(class_gt, 0, (size_t)classes * sizeof *class_gt);
    for (int64_t i = 0; i < ng; i++) class_gt[gt->labels[i]]++;
    int64_t r = 0;
    for (int c = 0; c < classes; c++) {
        int64_t r0 = r, n_class_gt = class_gt[c];
        while (r < nd && det->labels[dorder[r]] == c) r++;
        for (int t = 0; t < LCV_MAP_THRESHOLDS; t++) {
            double v = n_class_gt ? class_ap(dorder + r0, r - r0, tp, t, n_class_gt, prec) : -1.0;
            if (ap) ap[(size_t)c * LCV_MAP_THRESHOLDS + (size_t)t] = v;
            if (!n_class_gt) continue;
            out->map += v;
            if (t == 0) out->map50 += v;
            if (t == 5) out->map75 += v;
        }
        out->classes_present += n_class_gt > 0;
    }
    if (out->classes_present) {
        out->map /= (double)out->classes_present * LCV_MAP_THRESHOLDS;
        out->map50 /= out->classes_present;
        out->map75 /= out->classes_present;
    }
    return LCV_OK;
}

/* ---- Segmentation ---- */

lcv_status lcv_confusion_add(int64_t *matrix, int classes, const uint8_t *pred,
                             const uint8_t *truth, int64_t n, int ignore_label, char *errbuf,
                             size_t errcap) {
    if (classes < 1 || classes > 256)
        return metric_fail(errbuf, errcap, "confusion", "classes must be in 1..256", classes);
    if (ignore_label < -1 || ignore_label > 255)
        return metric_fail(errbuf, errcap, "confusion", "ignore_label must be in -1..255",
                           ignore_label);
    if (n < 0 || !matrix || (n > 0 && (!pred || !truth)))
        return metric_fail(errbuf, errcap, "confusion", "NULL array or negative count", n);
    /* Checked first so that a bad pixel leaves the matrix untouched. */
    for (int64_t i = 0; i < n; i++) {
        if (truth[i] == ignore_label) continue;
        if (truth[i] >= classes || pred[i] >= classes) {
            if (errbuf && errcap)
                snprintf(errbuf, errcap,
                         "confusion: pixel %lld has %s label %d, outside 0..%d", (long long)i,
                         truth[i] >= classes ? "ground-truth" : "predicted",
                         truth[i] >= classes ? truth[i] : pred[i], classes - 1);
            return LCV_ERR_INVALID_ARG;
        }
    }
    for (int64_t i = 0; i < n; i++)
        if (truth[i] != ignore_label) matrix[truth[i] * classes + pred[i]]++;
    return LCV_OK;
}

lcv_status lcv_miou(const int64_t *matrix, int classes, double *iou, lcv_miou_result *out,
                    char *errbuf, size_t errcap) {
    if (classes < 1 || classes > 256)
        return metric_fail(errbuf, errcap, "miou", "classes must be in 1..256", classes);
    if (!matrix || !out) return metric_fail(errbuf, errcap, "miou", "NULL argument", 0);
    memset(out, 0, sizeof *out);
    int64_t total = 0, correct = 0;
    double sum = 0.0;
    for (int c = 0; c < classes; c++) {
        int64_t inter = matrix[c * classes + c], rows = 0, cols = 0;
        for (int k = 0; k < classes; k++) {
            rows += matrix[c * classes + k];
            cols += matrix[k * classes + c];
            if (matrix[c * classes + k] < 0)
                return metric_fail(errbuf, errcap, "miou", "negative count in the matrix",
                                   matrix[c * classes + k]);
        }
        int64_t uni = rows + cols - inter;
        double v = uni > 0 ? (double)inter / (double)uni : -1.0;
        if (iou) iou[c] = v;
        if (uni > 0) {
            sum += v;
            out->classes_counted++;
        }
        total += rows;
        correct += inter;
    }
    out->miou = out->classes_counted ? sum / out->classes_counted : 0.0;
    out->pixel_accuracy = total ? (double)correct / (double)total : 0.0;
    out->pixels = total;
    return LCV_OK;
}
