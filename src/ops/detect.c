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

/* Selected boxes of one class, found by position: a grid of cells about the mean candidate
 * box size, hashed into a table of about twice as many buckets as candidates (only occupied
 * cells matter: a batched NMS offsets each class far from the others), lists every selected
 * box under each cell it covers. Two boxes that overlap share a point, and the cell of that
 * point lies in both boxes' cell ranges (the cell index is monotonic in the coordinate), so
 * the buckets of a candidate's cells hold every selected box it could overlap: the result is
 * that of comparing with all of them, since boxes that do not overlap have IoU 0, never above
 * a threshold in [0, 1]. Boxes that cover many cells or have a non-finite coordinate go to a
 * list every candidate scans. */
#define NMS_GRID_MIN 48 /* fewer candidates: compare with every selected box */
#define NMS_SPAN_MAX 16 /* cells a box may cover before it joins the scanned list */
#define NMS_CELL_MAX ((double)(1 << 30))

typedef struct nms_grid {
    double x0, y0, inv_cw, inv_ch;
    uint32_t mask;       /* buckets - 1 (a power of two); 0 = no grid this class */
    int32_t *head;       /* per bucket: first entry, -1 = none */
    int32_t *next, *sel; /* entries: next in the bucket, index into the selected list */
    int64_t n_ent, cap_ent, cap_head;
    int32_t *wide;       /* selected boxes every candidate scans */
    int64_t n_wide;
} nms_grid;

static bool nms_finite(const double *r) {
    return isfinite(r[0]) && isfinite(r[1]) && isfinite(r[2]) && isfinite(r[3]);
}

/* Sizes the grid for the n candidates cand[] (corner boxes bx, areas area); false when out of
 * memory. */
static bool grid_plan(nms_grid *g, const double *bx, const double *area, const int64_t *cand,
                      int64_t n) {
    double y0 = INFINITY, x0 = INFINITY, sw = 0, sh = 0;
    int64_t m = 0;
    for (int64_t j = 0; j < n; j++) {
        const double *r = bx + 4 * cand[j];
        if (!(area[cand[j]] > 0) || !nms_finite(r)) continue;
        y0 = lo2(y0, r[0]), x0 = lo2(x0, r[1]);
        sh += r[2] - r[0], sw += r[3] - r[1];
        m++;
    }
    g->n_ent = g->n_wide = 0;
    g->mask = 0;
    /* No finite box, or sizes so extreme that cell numbers would not be: scan the list. */
    if (m == 0 || !(sw < INFINITY && sh < INFINITY && (double)m / sw < INFINITY &&
                    (double)m / sh < INFINITY))
        return true;
    int64_t buckets = 64;
    while (buckets < 2 * m) buckets *= 2;
    if (buckets > g->cap_head) {
        int32_t *p = realloc(g->head, (size_t)buckets * sizeof *p);
        if (!p) return false;
        g->head = p, g->cap_head = buckets;
    }
    for (int64_t i = 0; i < buckets; i++) g->head[i] = -1;
    g->x0 = x0, g->y0 = y0;
    g->inv_cw = (double)m / sw, g->inv_ch = (double)m / sh;
    g->mask = (uint32_t)(buckets - 1);
    return true;
}

static int64_t grid_cell(double v, double v0, double inv) {
    double c = floor((v - v0) * inv);
    return c < 0 ? 0 : c > NMS_CELL_MAX ? (int64_t)NMS_CELL_MAX : (int64_t)c;
}

static uint32_t grid_bucket(const nms_grid *g, int64_t x, int64_t y) {
    uint64_t h = (uint64_t)x * 0x9E3779B97F4A7C15u ^ (uint64_t)y * 0xC2B2AE3D27D4EB4Fu;
    return (uint32_t)(h >> 32) & g->mask;
}

/* The cell ranges box r covers; false when the box is not finite or covers too many cells. */
static bool grid_span(const nms_grid *g, const double *r, int64_t *cx0, int64_t *cx1,
                      int64_t *cy0, int64_t *cy1) {
    if (g->mask == 0 || !nms_finite(r)) return false;
    *cy0 = grid_cell(r[0], g->y0, g->inv_ch), *cy1 = grid_cell(r[2], g->y0, g->inv_ch);
    *cx0 = grid_cell(r[1], g->x0, g->inv_cw), *cx1 = grid_cell(r[3], g->x0, g->inv_cw);
    return (*cy1 - *cy0 + 1) * (*cx1 - *cx0 + 1) <= NMS_SPAN_MAX;
}

/* Records selected box s (index into the selected list) with corner box r. */
static bool grid_add(nms_grid *g, const double *r, int32_t s) {
    int64_t cx0, cx1, cy0, cy1;
    if (!grid_span(g, r, &cx0, &cx1, &cy0, &cy1)) {
        g->wide[g->n_wide++] = s;
        return true;
    }
    int64_t need = g->n_ent + (cy1 - cy0 + 1) * (cx1 - cx0 + 1);
    if (need > g->cap_ent) {
        int64_t cap = 2 * need;
        int32_t *nx = realloc(g->next, (size_t)cap * sizeof *nx);
        if (!nx) return false;
        g->next = nx;
        int32_t *sl = realloc(g->sel, (size_t)cap * sizeof *sl);
        if (!sl) return false;
        g->sel = sl, g->cap_ent = cap;
    }
    for (int64_t y = cy0; y <= cy1; y++)
        for (int64_t x = cx0; x <= cx1; x++) {
            uint32_t bk = grid_bucket(g, x, y);
            int64_t e = g->n_ent++;
            g->sel[e] = s;
            g->next[e] = g->head[bk];
            g->head[bk] = (int32_t)e;
        }
    return true;
}

/* Whether candidate box r (area a) overlaps a selected box (sel[] holds box indices) by
 * more than the threshold; a NULL grid compares with every selected box. A bucket may also
 * hold boxes of other cells (hash collisions) or one box twice: extra comparisons only. */
static bool nms_suppressed(const nms_grid *g, const double *bx, const double *area,
                           const int64_t *sel, int64_t ns, const double *r, double a,
                           double thr) {
    int64_t cx0, cx1, cy0, cy1;
    if (!g || !grid_span(g, r, &cx0, &cx1, &cy0, &cy1)) {
        for (int64_t s = 0; s < ns; s++)
            if (nms_iou(r, a, bx + 4 * sel[s], area[sel[s]]) > thr) return true;
        return false;
    }
    for (int64_t k = 0; k < g->n_wide; k++) {
        int64_t i = sel[g->wide[k]];
        if (nms_iou(r, a, bx + 4 * i, area[i]) > thr) return true;
    }
    for (int64_t y = cy0; y <= cy1; y++)
        for (int64_t x = cx0; x <= cx1; x++)
            for (int32_t e = g->head[grid_bucket(g, x, y)]; e >= 0; e = g->next[e]) {
                int64_t i = sel[g->sel[e]];
                if (nms_iou(r, a, bx + 4 * i, area[i]) > thr) return true;
            }
    return false;
}

/* Appends one output row, growing the list; false when out of memory. */
static bool nms_emit(int64_t **rows, int64_t *cap, int64_t n, int64_t b, int64_t cl, int64_t i) {
    if (n == *cap) {
        int64_t c = *cap ? 2 * *cap : 64;
        int64_t *p = realloc(*rows, (size_t)c * 3 * sizeof *p);
        if (!p) return false;
        *rows = p, *cap = c;
    }
    (*rows)[n * 3] = b, (*rows)[n * 3 + 1] = cl, (*rows)[n * 3 + 2] = i;
    return true;
}

/* Runs the selection; counts the selected rows in *count and, when rows is non-NULL, returns
 * them in a malloc'd [count, 3] list there. Each batch's boxes are converted to corner form
 * once (with their areas), each class's scores read once: the greedy loop then touches plain
 * doubles only. */
static lcv_status nms_run(lcv_opctx *c, const nms_params *p, int64_t **rows, int64_t *count) {
    const lcv_tensor *boxes = c->in[0], *scores = c->in[1];
    *count = 0;
    if (rows) *rows = NULL;
    if (p->max_out == 0 || p->N == 0) return LCV_OK;
    /* Scratch: two index lists, the corner boxes, areas and one class's scores (8 numbers per
     * box), and the grid (bounded by a multiple of the box count). */
    int64_t *cand = malloc(2 * (size_t)p->N * sizeof *cand);
    double *bx = malloc(6 * (size_t)p->N * sizeof *bx);
    nms_grid grid = {0};
    bool use_grid = p->N >= NMS_GRID_MIN && p->N <= INT32_MAX / NMS_SPAN_MAX;
    if (use_grid) grid.wide = malloc((size_t)p->N * sizeof *grid.wide);
    lcv_status st = LCV_OK;
    if (!cand || !bx || (use_grid && !grid.wide)) goto nomem;
    double *area = bx + 4 * p->N, *score = area + p->N;
    int64_t *sel = cand + p->N, total = 0, cap = 0;
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
            const nms_grid *g = use_grid && n >= NMS_GRID_MIN ? &grid : NULL;
            if (g && !grid_plan(&grid, bx, area, cand, n)) goto nomem;
            int64_t ns = 0;
            for (int64_t j = 0; j < n && ns < p->max_out; j++) {
                const double *bj = bx + 4 * cand[j];
                double aj = area[cand[j]];
                /* A box of no area overlaps nothing: kept, and suppresses nothing later. */
                if (aj > 0 && nms_suppressed(g, bx, area, sel, ns, bj, aj, p->iou_thr)) continue;
                if (g && aj > 0 && !grid_add(&grid, bj, (int32_t)ns)) goto nomem;
                sel[ns++] = cand[j];
                if (rows && !nms_emit(rows, &cap, total, b, cl, cand[j])) goto nomem;
                total++;
            }
        }
    }
    *count = total;
    goto done;
nomem:
    st = lcv_op_fail(c, LCV_ERR_NOMEM, "out of memory for %lld boxes", (long long)p->N);
    if (rows) {
        free(*rows);
        *rows = NULL;
    }
done:
    free(cand);
    free(bx);
    free(grid.head);
    free(grid.next);
    free(grid.sel);
    free(grid.wide);
    return st;
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
    int64_t n, *rows;
    if ((st = nms_run(c, &p, &rows, &n)) != LCV_OK) return st;
    int64_t dims[2] = {n, 3};
    st = lcv_tensor_reshape_alloc(c->out[0], LCV_DTYPE_INT64, 2, dims, c->err);
    if (st == LCV_OK && n > 0) memcpy(c->out[0]->data, rows, (size_t)n * 3 * sizeof *rows);
    free(rows);
    return st;
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

/* One bilinear sample of an H x W plane: four plane offsets and their weights; off[0] < 0
 * marks a sample outside [-1, H] x [-1, W], which contributes zero terms without a read. */
typedef struct roi_tap {
    int64_t off[4];
    double w[4];
} roi_tap;

/* The taps of the sample at (y, x): edge-clamped inside, as ONNX Runtime samples. */
static roi_tap roi_tap_at(int64_t h, int64_t w, double y, double xx) {
    roi_tap t = {{-1, 0, 0, 0}, {0, 0, 0, 0}};
    if (y < -1.0 || y > (double)h || xx < -1.0 || xx > (double)w) return t;
    if (y <= 0) y = 0;
    if (xx <= 0) xx = 0;
    int64_t y0 = (int64_t)y, x0 = (int64_t)xx, y1, x1;
    if (y0 >= h - 1) y1 = y0 = h - 1, y = (double)y0;
    else y1 = y0 + 1;
    if (x0 >= w - 1) x1 = x0 = w - 1, xx = (double)x0;
    else x1 = x0 + 1;
    double ly = y - (double)y0, lx = xx - (double)x0, hy = 1 - ly, hx = 1 - lx;
    t.off[0] = y0 * w + x0, t.off[1] = y0 * w + x1, t.off[2] = y1 * w + x0, t.off[3] = y1 * w + x1;
    t.w[0] = hy * hx, t.w[1] = hy * lx, t.w[2] = ly * hx, t.w[3] = ly * lx;
    return t;
}

/* Taps kept at once: all of one RoI's when they fit (reused over its channels), else one bin's
 * in chunks of this many (recomputed per channel), so scratch stays bounded. */
#define ROI_TAPS_MAX ((int64_t)1 << 16)

/* Where one RoI's samples lie: its corner, bin size, sampling grid per bin, plane size. */
typedef struct roi_geom {
    double y1, x1, bh, bw, gh, gw;
    int64_t ngh, ngw, ow, h, w;
} roi_geom;

/* Taps of samples s0 .. s0 + n - 1 (row-major in the bin's grid) of output bin `bin`. */
static void roi_fill_taps(roi_tap *t, const roi_geom *g, int64_t bin, int64_t s0, int64_t n) {
    int64_t ph = bin / g->ow, pw = bin % g->ow;
    for (int64_t s = s0; s < s0 + n; s++) {
        int64_t iy = s / g->ngw, ix = s % g->ngw;
        double sy = g->y1 + (double)ph * g->bh + ((double)iy + 0.5) * g->bh / g->gh;
        double sx = g->x1 + (double)pw * g->bw + ((double)ix + 0.5) * g->bw / g->gw;
        *t++ = roi_tap_at(g->h, g->w, sy, sx);
    }
}

/* Adds n taps of the plane at base to a bin: avg sums the weighted corner terms; max keeps the
 * largest one, as ONNX Runtime (and the ONNX reference after it) define max mode. */
static void roi_accumulate(const lcv_tensor *x, int64_t base, const roi_tap *tap, int64_t n,
                           bool max_mode, double *acc, bool *first) {
    const float *xf = x->dtype == LCV_DTYPE_FLOAT32 ? (const float *)x->data + base : NULL;
    for (int64_t s = 0; s < n; s++) {
        double t[4] = {0, 0, 0, 0};
        if (tap[s].off[0] >= 0)
            for (int k = 0; k < 4; k++)
                t[k] = tap[s].w[k] * (xf ? (double)xf[tap[s].off[k]]
                                         : lcv_load_f64(x->dtype, x->data, base + tap[s].off[k]));
        if (!max_mode) {
            *acc += t[0] + t[1] + t[2] + t[3];
            continue;
        }
        double m = fmax(fmax(t[0], t[1]), fmax(t[2], t[3]));
        *acc = *first ? m : fmax(*acc, m);
        *first = false;
    }
}

lcv_status lcv_exec_roialign(lcv_opctx *c) {
    roi_params p;
    lcv_status st = roi_parse(c, &p);
    if (st != LCV_OK) return st;
    const lcv_tensor *x = c->in[0], *rois = c->in[1], *bi = c->in[2];
    lcv_tensor *y = c->out[0];
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3], R = rois->dims[0];
    double off = p.half_pixel ? 0.5 : 0.0;
    roi_tap *taps = NULL;
    int64_t taps_cap = 0, oi = 0, bins = p.oh * p.ow;
    for (int64_t r = 0; r < R; r++) {
        int64_t b = lcv_load_i64(bi->dtype, bi->data, r);
        if (b < 0 || b >= N) {
            st = lcv_op_fail(c, LCV_ERR_INVALID_ARG, "batch_indices[%lld] = %lld is outside "
                             "[0, %lld)", (long long)r, (long long)b, (long long)N);
            break;
        }
        double v[4];
        for (int k = 0; k < 4 && st == LCV_OK; k++) {
            v[k] = lcv_load_f64(rois->dtype, rois->data, r * 4 + k);
            if (!isfinite(v[k]))
                st = lcv_op_fail(c, LCV_ERR_INVALID_ARG, "rois[%lld] has a non-finite value",
                                 (long long)r);
        }
        if (st != LCV_OK) break;
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
        if (gh * gw > (double)ROI_MAX_GRID) {
            st = lcv_op_fail(c, LCV_ERR_INVALID_ARG, "roi %lld needs a %gx%g sampling grid per "
                             "bin, more than %lld samples", (long long)r, gh, gw,
                             (long long)ROI_MAX_GRID);
            break;
        }
        roi_geom g = {y1, x1, bh, bw, gh, gw, (int64_t)gh, (int64_t)gw, p.ow, H, W};
        int64_t per_bin = g.ngh * g.ngw;
        bool cached = per_bin <= ROI_TAPS_MAX / bins;
        int64_t chunk = per_bin < ROI_TAPS_MAX ? per_bin : ROI_TAPS_MAX;
        int64_t need = cached ? bins * per_bin : chunk;
        if (need > taps_cap) {
            roi_tap *t = realloc(taps, sizeof *t * (size_t)need);
            if (!t) {
                st = lcv_op_fail(c, LCV_ERR_NOMEM, "out of memory for %lld RoiAlign samples",
                                 (long long)need);
                break;
            }
            taps = t, taps_cap = need;
        }
        for (int64_t bin = 0; cached && bin < bins; bin++)
            roi_fill_taps(taps + bin * per_bin, &g, bin, 0, per_bin);
        double cnt = per_bin > 0 ? (double)per_bin : 1;
        for (int64_t ch = 0; ch < C; ch++) {
            int64_t base = (b * C + ch) * H * W;
            for (int64_t bin = 0; bin < bins; bin++, oi++) {
                double acc = 0;
                bool first = true;
                if (cached)
                    roi_accumulate(x, base, taps + bin * per_bin, per_bin, p.max_mode, &acc,
                                   &first);
                for (int64_t s0 = 0; !cached && s0 < per_bin; s0 += chunk) {
                    int64_t n = per_bin - s0 < chunk ? per_bin - s0 : chunk;
                    roi_fill_taps(taps, &g, bin, s0, n);
                    roi_accumulate(x, base, taps, n, p.max_mode, &acc, &first);
                }
                lcv_store_f64(y->dtype, y->data, oi, p.max_mode ? acc : acc / cnt);
            }
        }
    }
    free(taps);
    return st;
}
