/* detect.c - detection post-processing ops: NonMaxSuppression (greedy per batch and class,
 * output [num_selected, 3] int64 whose length depends on the data, so infer runs the selection
 * to size it) and RoiAlign (avg/max pooling of bilinear samples, half_pixel and
 * output_half_pixel coordinates). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op.h"

/* ---- NonMaxSuppression ---- */

typedef struct nms_params {
    int64_t B, N, C, max_out;
    double iou_thr, score_thr;
    bool has_score_thr, center;
} nms_params;

static lcv_status nms_scalar(lcv_opctx *c, int i, const char *what, double *v, bool *has) {
    const lcv_tensor *t = lcv_op_input(c, i);
    *has = false;
    if (!t) return LCV_OK;
    if (lcv_tensor_count(t) != 1 || t->ndim > 1)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "%s must hold one value, got %lld", what,
                           (long long)lcv_tensor_count(t));
    if (!lcv_dtype_is_float(t->dtype) && !lcv_dtype_is_int(t->dtype))
        return lcv_op_fail(c, LCV_ERR_SHAPE, "%s must be numeric, got %s", what,
                           lcv_dtype_name(t->dtype));
    if (!t->data) return LCV_DEFERRED;
    *v = lcv_load_f64(t->dtype, t->data, 0);
    *has = true;
    return LCV_OK;
}

static lcv_status nms_parse(lcv_opctx *c, nms_params *p) {
    const lcv_tensor *boxes = c->in[0], *scores = c->in[1];
    if (!lcv_dtype_is_float(boxes->dtype) || scores->dtype != boxes->dtype)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "boxes (%s) and scores (%s) must be the same float "
                           "dtype", lcv_dtype_name(boxes->dtype), lcv_dtype_name(scores->dtype));
    if (boxes->ndim != 3 || boxes->dims[2] != 4 || scores->ndim != 3 ||
        scores->dims[0] != boxes->dims[0] || scores->dims[2] != boxes->dims[1]) {
        char a[128], b[128];
        return lcv_op_fail(c, LCV_ERR_SHAPE, "boxes %s and scores %s must be [B, N, 4] and "
                           "[B, C, N]", lcv_shape_str(boxes->ndim, boxes->dims, a, sizeof a),
                           lcv_shape_str(scores->ndim, scores->dims, b, sizeof b));
    }
    p->B = boxes->dims[0];
    p->N = boxes->dims[1];
    p->C = scores->dims[1];
    int64_t cpb = lcv_attr_int(c->node, "center_point_box", 0);
    if (cpb != 0 && cpb != 1)
        return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "center_point_box %lld must be 0 or 1",
                           (long long)cpb);
    p->center = cpb == 1;
    double mo = 0;
    bool has_mo, has_iou;
    lcv_status st;
    if ((st = nms_scalar(c, 2, "max_output_boxes_per_class", &mo, &has_mo)) != LCV_OK ||
        (st = nms_scalar(c, 3, "iou_threshold", &p->iou_thr, &has_iou)) != LCV_OK ||
        (st = nms_scalar(c, 4, "score_threshold", &p->score_thr, &p->has_score_thr)) != LCV_OK)
        return st;
    if (!has_iou) p->iou_thr = 0;
    if (!(p->iou_thr >= 0 && p->iou_thr <= 1))
        return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "iou_threshold %g must be in [0, 1]",
                           p->iou_thr);
    if (p->has_score_thr && p->score_thr != p->score_thr)
        return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "score_threshold is NaN");
    /* Absent or non-positive: nothing is selected; more than N cannot be selected anyway. */
    p->max_out = !(mo > 0) ? 0 : mo >= (double)p->N ? p->N : (int64_t)mo;
    if (!boxes->data || !scores->data) return LCV_DEFERRED;
    return LCV_OK;
}

/* Box i of batch b as (ymin, xmin, ymax, xmax). */
static void nms_box(const lcv_tensor *boxes, const nms_params *p, int64_t b, int64_t i,
                    double *r) {
    double v[4];
    for (int k = 0; k < 4; k++) v[k] = lcv_load_f64(boxes->dtype, boxes->data, (b * p->N + i) * 4 + k);
    if (p->center) {
        /* [x_center, y_center, width, height] */
        r[0] = v[1] - v[3] / 2, r[1] = v[0] - v[2] / 2;
        r[2] = v[1] + v[3] / 2, r[3] = v[0] + v[2] / 2;
    } else {
        /* [y1, x1, y2, x2] with either diagonal */
        r[0] = fmin(v[0], v[2]), r[1] = fmin(v[1], v[3]);
        r[2] = fmax(v[0], v[2]), r[3] = fmax(v[1], v[3]);
    }
}

static inline double lo2(double x, double y) { return x < y ? x : y; }
static inline double hi2(double x, double y) { return x > y ? x : y; }

/* IoU of boxes a and b (corner form) with their areas precomputed by the same expression.
 * Past the area test no coordinate is NaN, so plain comparisons give fmin/fmax's values
 * without their library calls. */
static double nms_iou(const double *a, double area_a, const double *b, double area_b) {
    if (!(area_a > 0) || !(area_b > 0)) return 0;
    double ih = lo2(a[2], b[2]) - hi2(a[0], b[0]), iw = lo2(a[3], b[3]) - hi2(a[1], b[1]);
    if (!(ih > 0) || !(iw > 0)) return 0;
    double inter = ih * iw;
    return inter / (area_a + area_b - inter);
}

/* Candidate a goes before b: higher score first, then lower box index. */
static bool nms_before(const double *score, int64_t a, int64_t b) {
    return score[a] > score[b] || (score[a] == score[b] && a < b);
}

static void nms_sift(const double *score, int64_t *h, int64_t n, int64_t i) {
    for (;;) {
        int64_t l = 2 * i + 1, rr = l + 1, w = i;
        /* A max-heap on "goes later", so the heap sort leaves the array in output order. */
        if (l < n && nms_before(score, h[w], h[l])) w = l;
        if (rr < n && nms_before(score, h[w], h[rr])) w = rr;
        if (w == i) return;
        int64_t t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

/* Runs the selection; writes rows to out when non-NULL, and the row count to *count. Each
 * batch's boxes are converted to corner form once (with their areas), each class's scores
 * read once: the greedy loop then touches plain doubles only. */
static lcv_status nms_run(lcv_opctx *c, const nms_params *p, int64_t *out, int64_t *count) {
    const lcv_tensor *boxes = c->in[0], *scores = c->in[1];
    *count = 0;
    if (p->max_out == 0 || p->N == 0) return LCV_OK;
    /* Scratch: two index lists, the corner boxes, areas and one class's scores: 8 numbers per
     * box, bounded by the input size. */
    int64_t *cand = malloc(2 * (size_t)p->N * sizeof *cand);
    double *bx = malloc(6 * (size_t)p->N * sizeof *bx);
    if (!cand || !bx) {
        free(cand);
        free(bx);
        return lcv_op_fail(c, LCV_ERR_NOMEM, "out of memory for %lld boxes", (long long)p->N);
    }
    double *area = bx + 4 * p->N, *score = area + p->N;
    int64_t *sel = cand + p->N, total = 0;
    for (int64_t b = 0; b < p->B; b++) {
        for (int64_t i = 0; i < p->N; i++) {
            double *r = bx + 4 * i;
            nms_box(boxes, p, b, i, r);
            area[i] = (r[2] - r[0]) * (r[3] - r[1]);
        }
        for (int64_t cl = 0; cl < p->C; cl++) {
            int64_t base = (b * p->C + cl) * p->N, n = 0;
            for (int64_t i = 0; i < p->N; i++) {
                double sc = score[i] = lcv_load_f64(scores->dtype, scores->data, base + i);
                if (sc == sc && (!p->has_score_thr || sc > p->score_thr)) cand[n++] = i;
            }
            for (int64_t i = n / 2 - 1; i >= 0; i--) nms_sift(score, cand, n, i);
            for (int64_t e = n - 1; e > 0; e--) {
                int64_t t = cand[0];
                cand[0] = cand[e];
                cand[e] = t;
                nms_sift(score, cand, e, 0);
            }
            /* cand[] is now in output order: best score first. */
            int64_t ns = 0;
            for (int64_t j = 0; j < n && ns < p->max_out; j++) {
                const double *bj = bx + 4 * cand[j];
                double aj = area[cand[j]];
                bool keep = true;
                for (int64_t s = 0; s < ns && keep; s++)
                    keep = !(nms_iou(bj, aj, bx + 4 * sel[s], area[sel[s]]) > p->iou_thr);
                if (!keep) continue;
                sel[ns++] = cand[j];
                if (out) {
                    out[total * 3] = b;
                    out[total * 3 + 1] = cl;
                    out[total * 3 + 2] = cand[j];
                }
                total++;
            }
        }
    }
    free(cand);
    free(bx);
    *count = total;
    return LCV_OK;
}

lcv_status lcv_infer_nms(lcv_opctx *c) {
    nms_params p;
    lcv_status st = nms_parse(c, &p);
    if (st != LCV_OK) return st;
    int64_t n;
    if ((st = nms_run(c, &p, NULL, &n)) != LCV_OK) return st;
    int64_t dims[2] = {n, 3};
    lcv_op_set_out(c, 0, LCV_DTYPE_INT64, 2, dims);
    return LCV_OK;
}

lcv_status lcv_exec_nms(lcv_opctx *c) {
    nms_params p;
    lcv_status st = nms_parse(c, &p);
    if (st != LCV_OK) return st;
    int64_t n;
    if ((st = nms_run(c, &p, NULL, &n)) != LCV_OK) return st;
    int64_t dims[2] = {n, 3};
    if ((st = lcv_tensor_reshape_alloc(c->out[0], LCV_DTYPE_INT64, 2, dims, c->err)) != LCV_OK)
        return st;
    return nms_run(c, &p, c->out[0]->data, &n);
}

/* ---- RoiAlign ---- */

/* Largest sampling grid per output bin: rois come from data, and a huge one must not turn
 * into an effectively endless loop. */
#define ROI_MAX_GRID ((int64_t)1 << 20)

typedef struct roi_params {
    int64_t oh, ow, sr;
    double scale;
    bool half_pixel, max_mode;
} roi_params;

static lcv_status roi_parse(lcv_opctx *c, roi_params *p) {
    const lcv_tensor *x = c->in[0], *rois = c->in[1], *bi = c->in[2];
    if (!lcv_dtype_is_float(x->dtype) || rois->dtype != x->dtype)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "X (%s) and rois (%s) must be the same float dtype",
                           lcv_dtype_name(x->dtype), lcv_dtype_name(rois->dtype));
    if (bi->dtype != LCV_DTYPE_INT64 && bi->dtype != LCV_DTYPE_INT32)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "batch_indices must be int64, got %s",
                           lcv_dtype_name(bi->dtype));
    if (x->ndim != 4 || rois->ndim != 2 || rois->dims[1] != 4 || bi->ndim != 1 ||
        bi->dims[0] != rois->dims[0])
        return lcv_op_fail(c, LCV_ERR_SHAPE, "need X [N, C, H, W], rois [R, 4] and "
                           "batch_indices [R]; got ranks %d, %d, %d", x->ndim, rois->ndim,
                           bi->ndim);
    if (x->dims[2] < 1 || x->dims[3] < 1)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "X has an empty spatial dim (%lld x %lld)",
                           (long long)x->dims[2], (long long)x->dims[3]);
    const char *mode = lcv_attr_str(c->node, "mode", "avg");
    if (strcmp(mode, "avg") != 0 && strcmp(mode, "max") != 0)
        return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "mode '%s' must be avg or max", mode);
    p->max_mode = mode[1] == 'a';
    const char *ct = c->node->opset >= 16
                         ? lcv_attr_str(c->node, "coordinate_transformation_mode", "half_pixel")
                         : "output_half_pixel";
    if (strcmp(ct, "half_pixel") != 0 && strcmp(ct, "output_half_pixel") != 0)
        return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "coordinate_transformation_mode '%s' must be "
                           "half_pixel or output_half_pixel", ct);
    p->half_pixel = ct[0] == 'h';
    p->oh = lcv_attr_int(c->node, "output_height", 1);
    p->ow = lcv_attr_int(c->node, "output_width", 1);
    p->sr = lcv_attr_int(c->node, "sampling_ratio", 0);
    p->scale = lcv_attr_float(c->node, "spatial_scale", 1.0f);
    if (p->oh < 1 || p->ow < 1 || p->oh > ROI_MAX_GRID || p->ow > ROI_MAX_GRID ||
        p->sr < 0 || p->sr > 65536 || !isfinite(p->scale))
        return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "output_height %lld / output_width %lld must "
                           "be in [1, %lld], sampling_ratio %lld in [0, 65536], spatial_scale "
                           "finite", (long long)p->oh, (long long)p->ow, (long long)ROI_MAX_GRID,
                           (long long)p->sr);
    return LCV_OK;
}

lcv_status lcv_infer_roialign(lcv_opctx *c) {
    roi_params p;
    lcv_status st = roi_parse(c, &p);
    if (st != LCV_OK) return st;
    int64_t dims[4] = {c->in[1]->dims[0], c->in[0]->dims[1], p.oh, p.ow};
    lcv_op_set_out(c, 0, c->in[0]->dtype, 4, dims);
    return LCV_OK;
}

/* Bilinear sample of one H x W plane at (y, x): zero outside [-1, H] x [-1, W], edge-clamped
 * inside. Returns the four weighted corner terms so max mode can use the largest one. */
static void roi_sample(const lcv_tensor *x, int64_t base, int64_t h, int64_t w, double y,
                       double xx, double *terms) {
    terms[0] = terms[1] = terms[2] = terms[3] = 0;
    if (y < -1.0 || y > (double)h || xx < -1.0 || xx > (double)w) return;
    if (y <= 0) y = 0;
    if (xx <= 0) xx = 0;
    int64_t y0 = (int64_t)y, x0 = (int64_t)xx, y1, x1;
    if (y0 >= h - 1) y1 = y0 = h - 1, y = (double)y0;
    else y1 = y0 + 1;
    if (x0 >= w - 1) x1 = x0 = w - 1, xx = (double)x0;
    else x1 = x0 + 1;
    double ly = y - (double)y0, lx = xx - (double)x0, hy = 1 - ly, hx = 1 - lx;
    terms[0] = hy * hx * lcv_load_f64(x->dtype, x->data, base + y0 * w + x0);
    terms[1] = hy * lx * lcv_load_f64(x->dtype, x->data, base + y0 * w + x1);
    terms[2] = ly * hx * lcv_load_f64(x->dtype, x->data, base + y1 * w + x0);
    terms[3] = ly * lx * lcv_load_f64(x->dtype, x->data, base + y1 * w + x1);
}

lcv_status lcv_exec_roialign(lcv_opctx *c) {
    roi_params p;
    lcv_status st = roi_parse(c, &p);
    if (st != LCV_OK) return st;
    const lcv_tensor *x = c->in[0], *rois = c->in[1], *bi = c->in[2];
    lcv_tensor *y = c->out[0];
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3], R = rois->dims[0];
    double off = p.half_pixel ? 0.5 : 0.0;
    int64_t oi = 0;
    for (int64_t r = 0; r < R; r++) {
        int64_t b = lcv_load_i64(bi->dtype, bi->data, r);
        if (b < 0 || b >= N)
            return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "batch_indices[%lld] = %lld is outside "
                               "[0, %lld)", (long long)r, (long long)b, (long long)N);
        double v[4];
        for (int k = 0; k < 4; k++) {
            v[k] = lcv_load_f64(rois->dtype, rois->data, r * 4 + k);
            if (!isfinite(v[k]))
                return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "rois[%lld] has a non-finite value",
                                   (long long)r);
        }
        double x1 = v[0] * p.scale - off, y1 = v[1] * p.scale - off;
        double rw = v[2] * p.scale - off - x1, rh = v[3] * p.scale - off - y1;
        if (!p.half_pixel) {
            rw = rw > 1 ? rw : 1;
            rh = rh > 1 ? rh : 1;
        }
        double bh = rh / (double)p.oh, bw = rw / (double)p.ow;
        double gh = p.sr > 0 ? (double)p.sr : ceil(bh), gw = p.sr > 0 ? (double)p.sr : ceil(bw);
        if (gh < 0) gh = 0;
        if (gw < 0) gw = 0;
        if (gh * gw > (double)ROI_MAX_GRID)
            return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "roi %lld needs a %gx%g sampling grid per "
                               "bin, more than %lld samples", (long long)r, gh, gw,
                               (long long)ROI_MAX_GRID);
        int64_t ngh = (int64_t)gh, ngw = (int64_t)gw, cnt = ngh * ngw > 0 ? ngh * ngw : 1;
        for (int64_t ch = 0; ch < C; ch++) {
            int64_t base = (b * C + ch) * H * W;
            for (int64_t ph = 0; ph < p.oh; ph++) {
                for (int64_t pw = 0; pw < p.ow; pw++, oi++) {
                    double acc = 0;
                    bool first = true;
                    for (int64_t iy = 0; iy < ngh; iy++) {
                        double sy = y1 + (double)ph * bh + ((double)iy + 0.5) * bh / gh;
                        for (int64_t ix = 0; ix < ngw; ix++) {
                            double sx = x1 + (double)pw * bw + ((double)ix + 0.5) * bw / gw, t[4];
                            roi_sample(x, base, H, W, sy, sx, t);
                            if (!p.max_mode) {
                                acc += t[0] + t[1] + t[2] + t[3];
                                continue;
                            }
                            /* Max mode takes the largest weighted corner term, as ONNX Runtime
                             * (and the ONNX reference after it) define it. */
                            double m = fmax(fmax(t[0], t[1]), fmax(t[2], t[3]));
                            acc = first ? m : fmax(acc, m);
                            first = false;
                        }
                    }
                    lcv_store_f64(y->dtype, y->data, oi, p.max_mode ? acc : acc / (double)cnt);
                }
            }
        }
    }
    return LCV_OK;
}
