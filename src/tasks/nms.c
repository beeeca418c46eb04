/* nms.c - non-maximum suppression over caller-owned arrays: candidates above the score
 * threshold are sorted by (class, descending score, index), each class run is suppressed on
 * its own with the IoU row kernel of the best ISA (greedy, Soft-NMS or Matrix NMS), and the
 * survivors of all classes are merged by final score. Everything lives in the caller's
 * workspace; nothing is allocated. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "box.h"

/* A candidate: its class, score and index in the caller's arrays. */
typedef struct nms_entry {
    float score;
    int32_t label;
    int64_t index;
} nms_entry;

/* The workspace, carved into arrays of n elements each. */
typedef struct nms_work {
    nms_entry *cand;  /* candidates, then sorted by class */
    nms_entry *kept;  /* survivors with their final scores */
    lcv_box_soa soa;  /* one class run's boxes, in candidate order */
    float *score;     /* the run's current scores (Soft/Matrix) */
    float *row;       /* one IoU row */
    float *comp;      /* Matrix NMS: max IoU with a higher-scored box */
    int64_t *pos;     /* greedy: run position of each packed survivor */
    unsigned char *alive;
} nms_work;

#define NMS_ARRAYS_F32 8 /* x1 y1 x2 y2 area score row comp */

size_t lcv_nms_workspace_size(int64_t n) {
    if (n < 0) return 0;
    uint64_t per = 2 * sizeof(nms_entry) + NMS_ARRAYS_F32 * sizeof(float) + sizeof(int64_t) + 1;
    uint64_t slack = 16 * (NMS_ARRAYS_F32 + 4); /* each array rounded up to 16 bytes */
    if ((uint64_t)n > (SIZE_MAX - slack) / per) return 0;
    return (size_t)((uint64_t)n * per + slack);
}

/* Next 16-byte-aligned slice of `bytes` from *p. */
static void *carve(unsigned char **p, size_t bytes) {
    void *r = *p;
    *p += (bytes + 15) & ~(size_t)15;
    return r;
}

static void work_init(nms_work *w, void *ws, int64_t n) {
    unsigned char *p = ws;
    size_t nf = sizeof(float) * (size_t)n;
    w->cand = carve(&p, sizeof(nms_entry) * (size_t)n);
    w->kept = carve(&p, sizeof(nms_entry) * (size_t)n);
    w->soa.x1 = carve(&p, nf);
    w->soa.y1 = carve(&p, nf);
    w->soa.x2 = carve(&p, nf);
    w->soa.y2 = carve(&p, nf);
    w->soa.area = carve(&p, nf);
    w->score = carve(&p, nf);
    w->row = carve(&p, nf);
    w->comp = carve(&p, nf);
    w->pos = carve(&p, sizeof(int64_t) * (size_t)n);
    w->alive = carve(&p, (size_t)n);
}

/* Candidates are ordered by class ascending, then score descending, then index ascending (a
 * total order, so the result does not depend on the sort) with stable byte-wise radix passes,
 * least significant key first, in the caller's workspace: no comparisons, no allocation. */
enum { KEY_SCORE, KEY_LABEL, KEY_INDEX };

/* A key whose ascending order is the scores' descending order; -0 and +0 tie, as == says. */
static uint32_t score_key(float s) {
    s += 0.0f; /* -0 becomes +0 */
    uint32_t u;
    memcpy(&u, &s, sizeof u);
    u = (u & 0x80000000u) ? ~u : u | 0x80000000u; /* ascending as the floats */
    return ~u;
}

static uint64_t entry_key(const nms_entry *e, int which) {
    switch (which) {
    case KEY_SCORE: return score_key(e->score);
    case KEY_LABEL: return (uint32_t)e->label;
    default: return (uint64_t)e->index;
    }
}

/* Stable sort of a[0..n) by one key of `bytes` bytes, using tmp (n entries); the result is
 * back in a. Passes whose byte is the same for every entry are skipped. */
static void radix_sort(nms_entry *a, nms_entry *tmp, int64_t n, int which, int bytes) {
    nms_entry *src = a, *dst = tmp;
    for (int byte = 0; byte < bytes; byte++) {
        int64_t count[256] = {0};
        int shift = 8 * byte;
        for (int64_t i = 0; i < n; i++) count[(entry_key(&src[i], which) >> shift) & 255]++;
        if (count[(entry_key(&src[0], which) >> shift) & 255] == n) continue;
        for (int64_t d = 0, sum = 0; d < 256; d++) {
            int64_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (int64_t i = 0; i < n; i++)
            dst[count[(entry_key(&src[i], which) >> shift) & 255]++] = src[i];
        nms_entry *t = src;
        src = dst;
        dst = t;
    }
    if (src != a) memcpy(a, src, sizeof *a * (size_t)n);
}

/* One class run: candidates run[0..m) in (score desc, index asc) order. Appends survivors to
 * kept[*nk...]. */
typedef struct nms_run {
    const nms_entry *e;
    int64_t m;
} nms_run;

/* Boxes not yet suppressed stay packed at the front of the arrays (their run positions in
 * pos), so every IoU row covers only survivors: clustered candidates shrink the work fast. */
static void greedy(nms_work *w, lcv_iou_row_fn iou, nms_run r, const lcv_nms_params *p,
                   int64_t *nk) {
    lcv_box_soa *b = &w->soa;
    int64_t m = r.m;
    for (int64_t j = 0; j < m; j++) w->pos[j] = j;
    for (int64_t i = 0; i < m; i++) {
        w->kept[(*nk)++] = r.e[w->pos[i]];
        iou(b, i, i + 1, m, w->row);
        int64_t to = i + 1;
        for (int64_t j = i + 1; j < m; j++) {
            if (w->row[j - i - 1] > p->iou_threshold) continue;
            b->x1[to] = b->x1[j];
            b->y1[to] = b->y1[j];
            b->x2[to] = b->x2[j];
            b->y2[to] = b->y2[j];
            b->area[to] = b->area[j];
            w->pos[to++] = w->pos[j];
        }
        m = to;
    }
}

static void soft(nms_work *w, lcv_iou_row_fn iou, nms_run r, const lcv_nms_params *p,
                 int64_t *nk) {
    const bool linear = p->method == LCV_NMS_SOFT_LINEAR;
    for (int64_t i = 0; i < r.m; i++) {
        w->alive[i] = 1;
        w->score[i] = r.e[i].score;
    }
    for (;;) {
        /* highest current score; ties to the lower index (the run is in index order
         * among equal original scores, and decayed ties compare by index explicitly) */
        int64_t best = -1;
        for (int64_t j = 0; j < r.m; j++)
            if (w->alive[j] && (best < 0 || w->score[j] > w->score[best] ||
                                (w->score[j] == w->score[best] && r.e[j].index < r.e[best].index)))
                best = j;
        if (best < 0) break;
        w->alive[best] = 0;
        nms_entry k = r.e[best];
        k.score = w->score[best];
        w->kept[(*nk)++] = k;
        iou(&w->soa, best, 0, r.m, w->row);
        for (int64_t j = 0; j < r.m; j++) {
            if (!w->alive[j]) continue;
            float o = w->row[j];
            float wt = linear ? (o > p->iou_threshold ? 1.0f - o : 1.0f)
                              : (float)exp(-((double)o * o) / p->sigma);
            w->score[j] *= wt;
            if (!(w->score[j] > p->score_threshold)) w->alive[j] = 0;
        }
    }
}

/* f(iou) / f(comp) of Matrix NMS. The Gaussian weights are evaluated in double (then rounded
 * once) so that they do not depend on a float exp's last bit. */
static float matrix_ratio(bool linear, float o, float comp, float sigma) {
    if (linear) return 1.0f - comp > 0.0f ? (1.0f - o) / (1.0f - comp) : 1.0f;
    return (float)exp(-((double)o * o - (double)comp * comp) / sigma);
}

static void matrix(nms_work *w, lcv_iou_row_fn iou, nms_run r, const lcv_nms_params *p,
                   int64_t *nk) {
    const bool linear = p->method == LCV_NMS_MATRIX_LINEAR;
    for (int64_t j = 0; j < r.m; j++) {
        w->comp[j] = 0.0f;
        w->score[j] = 1.0f; /* the decay, min over higher-scored boxes */
    }
    /* comp first (row i raises comp of every later j), then the decays of row i use comp[i],
     * final by then since it depends on rows before i only */
    for (int64_t i = 0; i < r.m; i++) {
        iou(&w->soa, i, i + 1, r.m, w->row);
        for (int64_t j = i + 1; j < r.m; j++) {
            float o = w->row[j - i - 1];
            if (o > w->comp[j]) w->comp[j] = o;
            float d = matrix_ratio(linear, o, w->comp[i], p->sigma);
            if (d < w->score[j]) w->score[j] = d;
        }
    }
    for (int64_t j = 0; j < r.m; j++) {
        float s = r.e[j].score * w->score[j];
        if (s > p->score_threshold) {
            nms_entry k = r.e[j];
            k.score = s;
            w->kept[(*nk)++] = k;
        }
    }
}

lcv_nms_params lcv_nms_default_params(void) {
    lcv_nms_params p = {LCV_NMS_GREEDY, 0.5f, 0.0f, 0.5f, 0, 0};
    return p;
}

static lcv_status nms_fail(char *errbuf, size_t errcap, lcv_status st, const char *msg,
                           double v) {
    if (errbuf && errcap) snprintf(errbuf, errcap, "nms: %s (got %.9g)", msg, v);
    return st;
}

static lcv_status check_args(const lcv_box *boxes, const float *scores, int64_t n,
                             const lcv_nms_params *p, void *ws, size_t ws_size,
                             const int64_t *keep, const int64_t *n_keep, char *errbuf,
                             size_t errcap) {
    if (n < 0)
        return nms_fail(errbuf, errcap, LCV_ERR_INVALID_ARG, "negative box count", (double)n);
    if (!p || !n_keep || (n > 0 && (!boxes || !scores || !keep || !ws)))
        return nms_fail(errbuf, errcap, LCV_ERR_INVALID_ARG, "NULL argument", 0);
    if ((unsigned)p->method > LCV_NMS_MATRIX_GAUSSIAN)
        return nms_fail(errbuf, errcap, LCV_ERR_INVALID_ARG, "unknown method",
                        (double)p->method);
    if (!(p->iou_threshold >= 0.0f && p->iou_threshold <= 1.0f))
        return nms_fail(errbuf, errcap, LCV_ERR_INVALID_ARG,
                        "iou_threshold must be in [0, 1]", p->iou_threshold);
    if (isnan(p->score_threshold))
        return nms_fail(errbuf, errcap, LCV_ERR_INVALID_ARG, "score_threshold is NaN", 0);
    bool gauss = p->method == LCV_NMS_SOFT_GAUSSIAN || p->method == LCV_NMS_MATRIX_GAUSSIAN;
    if (gauss && !(p->sigma > 0.0f && isfinite(p->sigma)))
        return nms_fail(errbuf, errcap, LCV_ERR_INVALID_ARG,
                        "sigma must be a positive finite number", p->sigma);
    if (p->max_output < 0)
        return nms_fail(errbuf, errcap, LCV_ERR_INVALID_ARG, "negative max_output",
                        (double)p->max_output);
    size_t need = lcv_nms_workspace_size(n);
    if (n > 0 && (need == 0 || ws_size < need))
        return nms_fail(errbuf, errcap, LCV_ERR_INVALID_ARG,
                        "workspace smaller than lcv_nms_workspace_size(n) bytes",
                        (double)ws_size);
    if (n > 0 && ((uintptr_t)ws & 15u))
        return nms_fail(errbuf, errcap, LCV_ERR_INVALID_ARG, "workspace not 16-byte aligned", 0);
    return LCV_OK;
}

lcv_status lcv_nms(const lcv_box *boxes, const float *scores, const int32_t *labels, int64_t n,
                   const lcv_nms_params *p, void *workspace, size_t workspace_size,
                   int64_t *keep, float *out_scores, int64_t *n_keep, char *errbuf,
                   size_t errcap) {
    lcv_status st = check_args(boxes, scores, n, p, workspace, workspace_size, keep, n_keep,
                               errbuf, errcap);
    if (st != LCV_OK) return st;
    *n_keep = 0;
    if (n == 0) return LCV_OK;
    if (labels && !p->class_agnostic)
        for (int64_t i = 0; i < n; i++)
            if (labels[i] < 0)
                return nms_fail(errbuf, errcap, LCV_ERR_INVALID_ARG, "negative label at index",
                                (double)i);
    nms_work w;
    work_init(&w, workspace, n);
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!(scores[i] > p->score_threshold)) continue; /* NaN never passes */
        nms_entry e = {scores[i], labels && !p->class_agnostic ? labels[i] : 0, i};
        w.cand[m++] = e;
    }
    if (m > 0) { /* cand[] is in index order; kept[] is free until the runs fill it */
        radix_sort(w.cand, w.kept, m, KEY_SCORE, 4);
        radix_sort(w.cand, w.kept, m, KEY_LABEL, 4);
    }
    lcv_iou_row_fn iou = lcv_iou_row_for(lcv_isa_choose(LCV_ISA_AUTO));
    int64_t nk = 0;
    for (int64_t s = 0; s < m;) {
        int64_t e = s + 1;
        while (e < m && w.cand[e].label == w.cand[s].label) e++;
        nms_run r = {w.cand + s, e - s};
        for (int64_t j = 0; j < r.m; j++) {
            lcv_box b = boxes[r.e[j].index];
            w.soa.x1[j] = b.x1;
            w.soa.y1[j] = b.y1;
            w.soa.x2[j] = b.x2;
            w.soa.y2[j] = b.y2;
            w.soa.area[j] = lcv_box_area_xyxy(b.x1, b.y1, b.x2, b.y2);
        }
        switch (p->method) {
        case LCV_NMS_GREEDY: greedy(&w, iou, r, p, &nk); break;
        case LCV_NMS_SOFT_LINEAR:
        case LCV_NMS_SOFT_GAUSSIAN: soft(&w, iou, r, p, &nk); break;
        default: matrix(&w, iou, r, p, &nk); break;
        }
        s = e;
    }
    if (nk > 0) { /* kept[] is in class order; cand[] is free now */
        radix_sort(w.kept, w.cand, nk, KEY_INDEX, 8);
        radix_sort(w.kept, w.cand, nk, KEY_SCORE, 4);
    }
    if (p->max_output > 0 && nk > p->max_output) nk = p->max_output;
    for (int64_t i = 0; i < nk; i++) {
        keep[i] = w.kept[i].index;
        if (out_scores) out_scores[i] = w.kept[i].score;
    }
    *n_keep = nk;
    return LCV_OK;
}
