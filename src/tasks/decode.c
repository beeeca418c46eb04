/* decode.c - decoders of one-stage detection heads into candidate boxes (formulas in
 * include/leancv_detect.h): YOLO (decoded in the graph, raw v3/v5 grids, v8 distribution focal
 * loss), SSD priors, RetinaNet anchors, FCOS and CenterNet. Each validates its dimensions
 * first (so a head of the wrong shape fails with a message naming the expected layout), then
 * streams over the tensor once. */
#include <stdio.h>

#include "tasks_impl.h"

static lcv_status fail(char *errbuf, size_t errcap, const char *head, const char *msg) {
    if (errbuf && errcap) snprintf(errbuf, errcap, "%s decoder: %s", head, msg);
    return LCV_ERR_INVALID_ARG;
}

/* Common checks: tensors present, a candidate set, sizes in range (h * w * planes must fit). */
static const char *check_common(const lcv_candidates *c, int classes, int64_t h, int64_t w,
                                int64_t planes) {
    if (!c || !c->boxes || !c->scores || !c->labels || !c->indices)
        return "no candidate set (lcv_candidates with all four arrays)";
    if (c->count < 0 || c->count > c->capacity) return "candidate set not reset";
    if (classes < 1) return "classes must be >= 1";
    if (h < 1 || w < 1 || planes < 1) return "sizes must be >= 1";
    if (h > INT64_MAX / w || h * w > INT64_MAX / planes / 4) return "sizes overflow";
    return NULL;
}

static lcv_box corners(float cx, float cy, float w, float h) {
    lcv_box b = {cx - w * 0.5f, cy - h * 0.5f, cx + w * 0.5f, cy + h * 0.5f};
    return b;
}

/* Index of the largest of n values read with stride (lowest index on ties). */
static int best_of(const float *v, int n, int64_t stride) {
    int best = 0;
    for (int k = 1; k < n; k++)
        if (v[k * stride] > v[best * stride]) best = k;
    return best;
}

lcv_status lcv_decode_yolo(const float *pred, int64_t n, int classes, lcv_yolo_layout layout,
                           int channels_first, int64_t index_base, lcv_candidates *c,
                           char *errbuf, size_t errcap) {
    int first = layout == LCV_YOLO_V5 ? 5 : 4;
    const char *bad = layout != LCV_YOLO_V5 && layout != LCV_YOLO_V8
                          ? "unknown layout"
                          : check_common(c, classes, 1, n, first + classes);
    if (!bad && !pred) bad = "NULL prediction tensor";
    if (bad) return fail(errbuf, errcap, "yolo", bad);
    int64_t vals = first + classes;
    /* element k of row i */
    int64_t s_row = channels_first ? 1 : vals, s_val = channels_first ? n : 1;
    for (int64_t i = 0; i < n; i++) {
        const float *r = pred + i * s_row;
        int best = best_of(r + first * s_val, classes, s_val);
        float score = r[(first + best) * s_val];
        if (layout == LCV_YOLO_V5) score = r[4 * s_val] * score;
        if (!(score > c->score_threshold)) continue;
        lcv_candidates_add(c, corners(r[0], r[s_val], r[2 * s_val], r[3 * s_val]), score, best,
                           index_base + i);
    }
    return LCV_OK;
}

lcv_status lcv_decode_yolo_grid(const float *raw, int anchors, const float *anchor_wh,
                                int classes, int64_t h, int64_t w, float stride,
                                int v5_formula, int64_t index_base, lcv_candidates *c,
                                char *errbuf, size_t errcap) {
    int64_t planes = (int64_t)anchors * (5 + classes);
    const char *bad = anchors < 1 ? "anchors must be >= 1" : check_common(c, classes, h, w, planes);
    if (!bad && (!raw || !anchor_wh)) bad = "NULL tensor or anchors";
    if (!bad && !(stride > 0.0f)) bad = "stride must be > 0";
    if (bad) return fail(errbuf, errcap, "yolo grid", bad);
    int64_t plane = h * w;
    for (int a = 0; a < anchors; a++) {
        const float *p = raw + (int64_t)a * (5 + classes) * plane;
        for (int64_t gy = 0; gy < h; gy++)
            for (int64_t gx = 0; gx < w; gx++) {
                int64_t at = gy * w + gx;
                int best = best_of(p + 5 * plane + at, classes, plane);
                float score = lcv_sigmoid_f(p[4 * plane + at]) *
                              lcv_sigmoid_f(p[(5 + best) * plane + at]);
                if (!(score > c->score_threshold)) continue;
                float sx = lcv_sigmoid_f(p[at]), sy = lcv_sigmoid_f(p[plane + at]);
                float tw = p[2 * plane + at], th = p[3 * plane + at], cx, cy, bw, bh;
                if (v5_formula) {
                    float qw = lcv_sigmoid_f(tw) * 2.0f, qh = lcv_sigmoid_f(th) * 2.0f;
                    cx = ((sx * 2.0f - 0.5f) + (float)gx) * stride;
                    cy = ((sy * 2.0f - 0.5f) + (float)gy) * stride;
                    bw = (qw * qw) * anchor_wh[2 * a];
                    bh = (qh * qh) * anchor_wh[2 * a + 1];
                } else {
                    cx = (sx + (float)gx) * stride;
                    cy = (sy + (float)gy) * stride;
                    bw = (float)exp((double)tw) * anchor_wh[2 * a];
                    bh = (float)exp((double)th) * anchor_wh[2 * a + 1];
                }
                lcv_candidates_add(c, corners(cx, cy, bw, bh), score, best,
                                   index_base + (int64_t)a * plane + at);
            }
    }
    return LCV_OK;
}

/* Expected bin of a softmax over `bins` logits read with stride, in double. */
static float dfl_distance(const float *x, int bins, int64_t stride) {
    double m = x[0];
    for (int k = 1; k < bins; k++) m = x[k * stride] > m ? x[k * stride] : m;
    double sum = 0.0, acc = 0.0;
    for (int k = 0; k < bins; k++) {
        double e = exp((double)x[k * stride] - m);
        sum += e;
        acc += e * k;
    }
    return (float)(acc / sum);
}

lcv_status lcv_decode_dfl(const float *box, const float *cls, int bins, int classes, int64_t h,
                          int64_t w, float stride, int64_t index_base, lcv_candidates *c,
                          char *errbuf, size_t errcap) {
    const char *bad = bins < 1 ? "bins must be >= 1"
                               : check_common(c, classes, h, w, 4 * (int64_t)bins + classes);
    if (!bad && (!box || !cls)) bad = "NULL tensor";
    if (!bad && !(stride > 0.0f)) bad = "stride must be > 0";
    if (bad) return fail(errbuf, errcap, "dfl", bad);
    int64_t plane = h * w;
    for (int64_t gy = 0; gy < h; gy++)
        for (int64_t gx = 0; gx < w; gx++) {
            int64_t at = gy * w + gx;
            int best = best_of(cls + at, classes, plane);
            float score = lcv_sigmoid_f(cls[best * plane + at]);
            if (!(score > c->score_threshold)) continue;
            float d[4];
            for (int s = 0; s < 4; s++)
                d[s] = dfl_distance(box + (int64_t)s * bins * plane + at, bins, plane);
            float cx = (float)gx + 0.5f, cy = (float)gy + 0.5f;
            lcv_box b = {(cx - d[0]) * stride, (cy - d[1]) * stride, (cx + d[2]) * stride,
                         (cy + d[3]) * stride};
            lcv_candidates_add(c, b, score, best, index_base + at);
        }
    return LCV_OK;
}

lcv_status lcv_decode_ssd(const float *deltas, const float *probs, const float *priors,
                          int64_t n_priors, int classes, float var_center, float var_size,
                          float image_w, float image_h, int64_t index_base, lcv_candidates *c,
                          char *errbuf, size_t errcap) {
    const char *bad = classes < 2 ? "classes must be >= 2 (class 0 is the background)"
                                  : check_common(c, classes, 1, n_priors, 4 + classes);
    if (!bad && (!deltas || !probs || !priors)) bad = "NULL tensor";
    if (bad) return fail(errbuf, errcap, "ssd", bad);
    for (int64_t p = 0; p < n_priors; p++) {
        const float *d = deltas + 4 * p, *pr = priors + 4 * p, *pc = probs + p * classes;
        bool any = false;
        for (int k = 1; k < classes && !any; k++) any = pc[k] > c->score_threshold;
        if (!any) continue;
        float cx = pr[0] + (d[0] * var_center) * pr[2], cy = pr[1] + (d[1] * var_center) * pr[3];
        float bw = pr[2] * (float)exp((double)(d[2] * var_size));
        float bh = pr[3] * (float)exp((double)(d[3] * var_size));
        lcv_box b = corners(cx, cy, bw, bh);
        b.x1 *= image_w;
        b.x2 *= image_w;
        b.y1 *= image_h;
        b.y2 *= image_h;
        for (int k = 1; k < classes; k++) lcv_candidates_add(c, b, pc[k], k, index_base + p);
    }
    return LCV_OK;
}

lcv_status lcv_decode_retinanet(const float *deltas, const float *logits, const float *anchors,
                                int64_t n_anchors, int classes, int64_t index_base,
                                lcv_candidates *c, char *errbuf, size_t errcap) {
    const char *bad = check_common(c, classes, 1, n_anchors, 4 + classes);
    if (!bad && (!deltas || !logits || !anchors)) bad = "NULL tensor";
    if (bad) return fail(errbuf, errcap, "retinanet", bad);
    const float clamp = (float)log(1000.0 / 16.0);
    for (int64_t p = 0; p < n_anchors; p++) {
        const float *d = deltas + 4 * p, *a = anchors + 4 * p, *lg = logits + p * classes;
        float aw = a[2] - a[0], ah = a[3] - a[1];
        float acx = a[0] + 0.5f * aw, acy = a[1] + 0.5f * ah;
        float dw = d[2] < clamp ? d[2] : clamp, dh = d[3] < clamp ? d[3] : clamp;
        lcv_box b = corners(d[0] * aw + acx, d[1] * ah + acy, (float)exp((double)dw) * aw,
                            (float)exp((double)dh) * ah);
        for (int k = 0; k < classes; k++)
            lcv_candidates_add(c, b, lcv_sigmoid_f(lg[k]), k, index_base + p);
    }
    return LCV_OK;
}

lcv_status lcv_decode_fcos(const float *cls, const float *reg, const float *ctr, int classes,
                           int64_t h, int64_t w, int stride, int64_t index_base,
                           lcv_candidates *c, char *errbuf, size_t errcap) {
    const char *bad = check_common(c, classes, h, w, 5 + (int64_t)classes);
    if (!bad && (!cls || !reg || !ctr)) bad = "NULL tensor";
    if (!bad && stride < 1) bad = "stride must be >= 1";
    if (bad) return fail(errbuf, errcap, "fcos", bad);
    int64_t plane = h * w;
    for (int64_t gy = 0; gy < h; gy++)
        for (int64_t gx = 0; gx < w; gx++) {
            int64_t at = gy * w + gx;
            float sc = lcv_sigmoid_f(ctr[at]);
            float lx = (float)(gx * stride + stride / 2), ly = (float)(gy * stride + stride / 2);
            lcv_box b = {lx - reg[at], ly - reg[plane + at], lx + reg[2 * plane + at],
                         ly + reg[3 * plane + at]};
            for (int k = 0; k < classes; k++)
                lcv_candidates_add(c, b, sqrtf(lcv_sigmoid_f(cls[k * plane + at]) * sc), k,
                                   index_base + at);
        }
    return LCV_OK;
}

/* heat value at (y, x) is at least every in-bounds neighbour in its 3x3 window */
static bool is_peak(const float *p, int64_t h, int64_t w, int64_t y, int64_t x) {
    float v = p[y * w + x];
    for (int64_t dy = -1; dy <= 1; dy++)
        for (int64_t dx = -1; dx <= 1; dx++) {
            int64_t yy = y + dy, xx = x + dx;
            if ((dy || dx) && yy >= 0 && yy < h && xx >= 0 && xx < w && p[yy * w + xx] > v)
                return false;
        }
    return true;
}

lcv_status lcv_decode_centernet(const float *heat, const float *wh, const float *offset,
                                int classes, int64_t h, int64_t w, float down_ratio,
                                int64_t index_base, lcv_candidates *c, char *errbuf,
                                size_t errcap) {
    const char *bad = check_common(c, classes, h, w, 4 + (int64_t)classes);
    if (!bad && (!heat || !wh || !offset)) bad = "NULL tensor";
    if (!bad && !(down_ratio > 0.0f)) bad = "down_ratio must be > 0";
    if (bad) return fail(errbuf, errcap, "centernet", bad);
    int64_t plane = h * w;
    for (int k = 0; k < classes; k++) {
        const float *p = heat + k * plane;
        for (int64_t gy = 0; gy < h; gy++)
            for (int64_t gx = 0; gx < w; gx++) {
                int64_t at = gy * w + gx;
                if (!(p[at] > c->score_threshold) || !is_peak(p, h, w, gy, gx)) continue;
                lcv_box b = corners((float)gx + offset[at], (float)gy + offset[plane + at],
                                    wh[at], wh[plane + at]);
                b.x1 *= down_ratio;
                b.y1 *= down_ratio;
                b.x2 *= down_ratio;
                b.y2 *= down_ratio;
                lcv_candidates_add(c, b, p[at], k, index_base + (int64_t)k * plane + at);
            }
    }
    return LCV_OK;
}
