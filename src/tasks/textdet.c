/* textdet.c - text regions from a differentiable-binarization probability map: 8-connected
 * regions by breadth-first search (the queue then holds the region's pixels), the convex hull
 * of the region's pixel squares built from each boundary line's extreme x (so the hull has
 * O(rows) input points, already in order), the minimum-area rectangle by trying every hull
 * edge as a side (an optimal rectangle has a side on the hull), and DBNet's offset. Everything
 * lives in the caller's workspace. */
#include <math.h>
#include <stdio.h>

#include "leancv_detect.h"

typedef struct pt {
    double x, y;
} pt;

typedef struct td_work {
    unsigned char *seen; /* h * w */
    int64_t *queue;      /* h * w pixel indices */
    int64_t *lo, *hi;    /* per row: the region's first and last x (h each) */
    pt *pts, *hull;      /* 2 * (h + 1) each */
} td_work;

lcv_textdet_params lcv_textdet_default_params(void) {
    lcv_textdet_params p = {0.3f, 0.6f, 1.5f, 3.0f, 1.0f, 1.0f};
    return p;
}

static size_t align8(size_t n) { return (n + 7) & ~(size_t)7; }

size_t lcv_textdet_workspace_size(int64_t h, int64_t w) {
    if (h < 1 || w < 1 || h > INT64_MAX / w || h * w > (int64_t)(SIZE_MAX / 32)) return 0;
    size_t px = (size_t)(h * w), rows = (size_t)h;
    return align8(px) + align8(px * sizeof(int64_t)) + 2 * align8(rows * sizeof(int64_t)) +
           2 * align8(2 * (rows + 1) * sizeof(pt));
}

static void work_init(td_work *t, void *ws, int64_t h, int64_t w) {
    unsigned char *p = ws;
    size_t px = (size_t)(h * w), rows = (size_t)h;
    t->seen = p;
    p += align8(px);
    t->queue = (int64_t *)(void *)p;
    p += align8(px * sizeof(int64_t));
    t->lo = (int64_t *)(void *)p;
    p += align8(rows * sizeof(int64_t));
    t->hi = (int64_t *)(void *)p;
    p += align8(rows * sizeof(int64_t));
    t->pts = (pt *)(void *)p;
    p += align8(2 * (rows + 1) * sizeof(pt));
    t->hull = (pt *)(void *)p;
}

static double cross(pt o, pt a, pt b) {
    return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);
}

/* Convex hull (Andrew's monotone chain) of n points sorted by (y, x); returns its size. */
static int64_t convex_hull(const pt *p, int64_t n, pt *hull) {
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        while (k >= 2 && cross(hull[k - 2], hull[k - 1], p[i]) <= 0) k--;
        hull[k++] = p[i];
    }
    for (int64_t i = n - 2, t = k + 1; i >= 0; i--) {
        while (k >= t && cross(hull[k - 2], hull[k - 1], p[i]) <= 0) k--;
        hull[k++] = p[i];
    }
    return k - 1; /* the last point repeats the first */
}

/* Minimum-area rectangle of a convex polygon: unit side direction u (the normal is
 * (-u.y, u.x)) and the extents along both. */
typedef struct rect {
    pt u;
    double u0, u1, v0, v1;
} rect;

static rect min_area_rect(const pt *hull, int64_t n) {
    rect best = {{1.0, 0.0}, 0, 0, 0, 0};
    double best_area = INFINITY;
    for (int64_t i = 0; i < n; i++) {
        pt a = hull[i], b = hull[(i + 1) % n];
        double len = hypot(b.x - a.x, b.y - a.y);
        if (len <= 0.0) continue;
        pt u = {(b.x - a.x) / len, (b.y - a.y) / len};
        rect r = {u, INFINITY, -INFINITY, INFINITY, -INFINITY};
        for (int64_t j = 0; j < n; j++) {
            double pu = hull[j].x * u.x + hull[j].y * u.y, pv = -hull[j].x * u.y + hull[j].y * u.x;
            r.u0 = fmin(r.u0, pu);
            r.u1 = fmax(r.u1, pu);
            r.v0 = fmin(r.v0, pv);
            r.v1 = fmax(r.v1, pv);
        }
        double area = (r.u1 - r.u0) * (r.v1 - r.v0);
        if (area < best_area) {
            best_area = area;
            best = r;
        }
    }
    return best;
}

/* Breadth-first search of the region containing pixel `seed`; its pixels end up in
 * queue[0, n). Returns n, with the probability sum and row span. */
static int64_t grow_region(const float *prob, int64_t h, int64_t w, float thr, td_work *t,
                           int64_t seed, double *sum, int64_t *y0, int64_t *y1) {
    int64_t head = 0, n = 0;
    t->queue[n++] = seed;
    t->seen[seed] = 1;
    *sum = 0.0;
    *y0 = *y1 = seed / w;
    while (head < n) {
        int64_t at = t->queue[head++], y = at / w, x = at % w;
        *sum += prob[at];
        *y0 = y < *y0 ? y : *y0;
        *y1 = y > *y1 ? y : *y1;
        for (int64_t dy = -1; dy <= 1; dy++)
            for (int64_t dx = -1; dx <= 1; dx++) {
                int64_t yy = y + dy, xx = x + dx, nb = yy * w + xx;
                if (yy < 0 || yy >= h || xx < 0 || xx >= w || t->seen[nb] || !(prob[nb] > thr))
                    continue;
                t->seen[nb] = 1;
                t->queue[n++] = nb;
            }
    }
    return n;
}

/* Hull input points of the region's pixel squares: on each horizontal line y (y0..y1 + 1) the
 * leftmost and rightmost corner, from the rows above and below it. */
static int64_t boundary_points(td_work *t, int64_t n, int64_t w, int64_t y0, int64_t y1) {
    for (int64_t y = y0; y <= y1; y++) {
        t->lo[y] = INT64_MAX;
        t->hi[y] = -1;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t y = t->queue[i] / w, x = t->queue[i] % w;
        t->lo[y] = x < t->lo[y] ? x : t->lo[y];
        t->hi[y] = x > t->hi[y] ? x : t->hi[y];
    }
    int64_t m = 0;
    for (int64_t y = y0; y <= y1 + 1; y++) {
        int64_t a = INT64_MAX, b = -1;
        if (y <= y1) { /* the row below the line */
            a = t->lo[y];
            b = t->hi[y];
        }
        if (y > y0) { /* the row above */
            a = t->lo[y - 1] < a ? t->lo[y - 1] : a;
            b = t->hi[y - 1] > b ? t->hi[y - 1] : b;
        }
        t->pts[m++] = (pt){(double)a, (double)y};
        t->pts[m++] = (pt){(double)(b + 1), (double)y};
    }
    return m;
}

static lcv_quad to_quad(const rect *r, double d, const lcv_textdet_params *p) {
    double us[4] = {r->u0 - d, r->u1 + d, r->u1 + d, r->u0 - d};
    double vs[4] = {r->v0 - d, r->v0 - d, r->v1 + d, r->v1 + d};
    double x[4], y[4];
    int first = 0;
    for (int i = 0; i < 4; i++) {
        x[i] = us[i] * r->u.x - vs[i] * r->u.y;
        y[i] = us[i] * r->u.y + vs[i] * r->u.x;
        if (x[i] + y[i] < x[first] + y[first]) first = i;
    }
    lcv_quad q;
    for (int i = 0; i < 4; i++) {
        q.x[i] = (float)(x[(first + i) % 4] * p->scale_x);
        q.y[i] = (float)(y[(first + i) % 4] * p->scale_y);
    }
    return q;
}

static lcv_status td_fail(char *errbuf, size_t errcap, const char *msg) {
    if (errbuf && errcap) snprintf(errbuf, errcap, "text detection: %s", msg);
    return LCV_ERR_INVALID_ARG;
}

lcv_status lcv_textdet(const float *prob, int64_t h, int64_t w, const lcv_textdet_params *p,
                       void *workspace, size_t workspace_size, lcv_quad *quads, float *scores,
                       int64_t capacity, int64_t *count, int64_t *found, char *errbuf,
                       size_t errcap) {
    size_t need = lcv_textdet_workspace_size(h, w);
    const char *bad =
        !prob || !p || !workspace || !count || (capacity > 0 && (!quads || !scores))
            ? "NULL argument"
        : need == 0                        ? "map sizes must be >= 1 and not overflow"
        : workspace_size < need            ? "workspace smaller than lcv_textdet_workspace_size"
        : ((uintptr_t)workspace & 7u) != 0 ? "workspace not 8-byte aligned"
        : capacity < 0                     ? "negative capacity"
        : !(p->unclip_ratio >= 0.0f) || !(p->min_side >= 0.0f) || !(p->scale_x > 0.0f) ||
                !(p->scale_y > 0.0f) || isnan(p->bin_threshold) || isnan(p->box_threshold)
            ? "parameters out of range (unclip_ratio, min_side >= 0; scales > 0; thresholds "
              "not NaN)"
            : NULL;
    if (bad) return td_fail(errbuf, errcap, bad);
    td_work t;
    work_init(&t, workspace, h, w);
    for (int64_t i = 0; i < h * w; i++) t.seen[i] = 0;
    int64_t written = 0, total = 0;
    for (int64_t seed = 0; seed < h * w; seed++) {
        if (t.seen[seed] || !(prob[seed] > p->bin_threshold)) continue;
        double sum;
        int64_t y0, y1;
        int64_t n = grow_region(prob, h, w, p->bin_threshold, &t, seed, &sum, &y0, &y1);
        float score = (float)(sum / (double)n);
        if (!(score > p->box_threshold)) continue;
        int64_t m = boundary_points(&t, n, w, y0, y1);
        int64_t hn = convex_hull(t.pts, m, t.hull);
        rect r = min_area_rect(t.hull, hn);
        double rw = r.u1 - r.u0, rh = r.v1 - r.v0;
        double d = rw * rh * p->unclip_ratio / (2.0 * (rw + rh));
        if (fmin(rw, rh) + 2.0 * d < p->min_side) continue;
        if (written < capacity) {
            quads[written] = to_quad(&r, d, p);
            scores[written++] = score;
        }
        total++;
    }
    *count = written;
    if (found) *found = total;
    return LCV_OK;
}
