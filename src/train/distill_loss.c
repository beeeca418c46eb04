/* distill_loss.c - the feature and relation distillation losses of loss.h: FitNets hints through
 * a 1x1 convolution adapter, attention transfer and relational KD (distance and angle). Sums
 * run in double so values and gradients match PyTorch to well under 1e-5; every gradient is
 * added to the caller's buffer because several terms may read the same student value. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loss.h"

#define NORM_EPS 1e-12 /* F.normalize's default eps, and RKD's pdist clamp */

static lcv_status check_weight(double w, const char *what, lcv_err *e) {
    if (!(w >= 0.0) || !isfinite(w))
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "%s weight %g must be finite and >= 0", what, w);
    return LCV_OK;
}

lcv_status lcv_loss_hint(const float *xs, int64_t n, int64_t cs, int64_t hw, const float *w,
                         const float *b, int64_t ct, const float *ft, double weight, float *dxs,
                         float *dw, float *db, double *loss, lcv_err *e) {
    if (n < 1 || cs < 1 || hw < 1 || ct < 1)
        return lcv_fail(e, LCV_ERR_SHAPE, "hint: batch %lld, channels %lld -> %lld and %lld "
                        "positions must be positive", (long long)n, (long long)cs,
                        (long long)ct, (long long)hw);
    lcv_status st = check_weight(weight, "hint", e);
    if (st != LCV_OK) return st;
    double *y = malloc(sizeof(double) * (size_t)(ct * hw));
    double *gw = calloc((size_t)(ct * cs + ct), sizeof(double));
    if (!y || !gw) {
        free(y);
        free(gw);
        return lcv_fail(e, LCV_ERR_NOMEM, "out of memory for the hint adapter");
    }
    double *gb = gw + ct * cs, total = 0.0, scale = 2.0 * weight / (double)(n * ct * hw);
    for (int64_t i = 0; i < n; i++) {
        const float *x = xs + i * cs * hw, *t = ft + i * ct * hw;
        for (int64_t o = 0; o < ct; o++) {
            double *yo = y + o * hw;
            for (int64_t p = 0; p < hw; p++) yo[p] = b ? (double)b[o] : 0.0;
            for (int64_t c = 0; c < cs; c++) {
                double wc = w[o * cs + c];
                const float *xc = x + c * hw;
                for (int64_t p = 0; p < hw; p++) yo[p] += wc * (double)xc[p];
            }
            /* y becomes the loss gradient at y */
            for (int64_t p = 0; p < hw; p++) {
                double diff = yo[p] - (double)t[o * hw + p];
                total += diff * diff;
                yo[p] = scale * diff;
            }
        }
        for (int64_t o = 0; o < ct; o++) {
            const double *go = y + o * hw;
            for (int64_t p = 0; p < hw; p++) gb[o] += go[p];
            for (int64_t c = 0; c < cs; c++) {
                const float *xc = x + c * hw;
                double s = 0.0;
                for (int64_t p = 0; p < hw; p++) s += go[p] * (double)xc[p];
                gw[o * cs + c] += s;
            }
        }
        if (dxs)
            for (int64_t c = 0; c < cs; c++) {
                float *dc = dxs + i * cs * hw + c * hw;
                for (int64_t p = 0; p < hw; p++) {
                    double s = 0.0;
                    for (int64_t o = 0; o < ct; o++) s += (double)w[o * cs + c] * y[o * hw + p];
                    dc[p] = (float)((double)dc[p] + s);
                }
            }
    }
    if (dw)
        for (int64_t j = 0; j < ct * cs; j++) dw[j] = (float)gw[j];
    if (db)
        for (int64_t o = 0; o < ct; o++) db[o] = (float)gb[o];
    *loss = weight * total / (double)(n * ct * hw);
    free(y);
    free(gw);
    return LCV_OK;
}

/* The attention map of one sample: a[p] = mean_c f[c, p]^2, normalised to unit L2 norm
 * (norm clamped at NORM_EPS). Returns the clamped norm. */
static double at_map(const float *f, int64_t c, int64_t hw, double *a) {
    double ss = 0.0;
    for (int64_t p = 0; p < hw; p++) {
        double s = 0.0;
        for (int64_t k = 0; k < c; k++) s += (double)f[k * hw + p] * (double)f[k * hw + p];
        a[p] = s / (double)c;
        ss += a[p] * a[p];
    }
    double r = sqrt(ss);
    if (r < NORM_EPS) r = NORM_EPS;
    for (int64_t p = 0; p < hw; p++) a[p] /= r;
    return r;
}

lcv_status lcv_loss_at(const float *fs, int64_t cs, const float *ft, int64_t ct, int64_t n,
                       int64_t hw, double beta, float *dfs, double *loss, lcv_err *e) {
    if (n < 1 || cs < 1 || ct < 1 || hw < 1)
        return lcv_fail(e, LCV_ERR_SHAPE, "attention transfer: batch %lld, channels %lld and "
                        "%lld and %lld positions must be positive", (long long)n, (long long)cs,
                        (long long)ct, (long long)hw);
    lcv_status st = check_weight(beta, "attention transfer", e);
    if (st != LCV_OK) return st;
    double *qs = malloc(sizeof(double) * (size_t)(3 * hw));
    if (!qs) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory for attention maps");
    double *qt = qs + hw, *g = qt + hw, total = 0.0, m = (double)(n * hw);
    for (int64_t i = 0; i < n; i++) {
        double r = at_map(fs + i * cs * hw, cs, hw, qs);
        at_map(ft + i * ct * hw, ct, hw, qt);
        double qg = 0.0;
        for (int64_t p = 0; p < hw; p++) {
            double diff = qs[p] - qt[p];
            total += diff * diff;
            g[p] = beta * diff / m; /* d/dq of beta / 2 * diff^2 / m */
            qg += qs[p] * g[p];
        }
        if (!dfs) continue;
        /* through the normalisation (r > eps: the clamp is inactive) and the channel mean */
        bool clamped = r <= NORM_EPS;
        for (int64_t p = 0; p < hw; p++) {
            double da = (clamped ? g[p] : g[p] - qs[p] * qg) / r;
            for (int64_t k = 0; k < cs; k++) {
                float *d = dfs + i * cs * hw + k * hw + p;
                double f = fs[i * cs * hw + k * hw + p];
                *d = (float)((double)*d + da * 2.0 * f / (double)cs);
            }
        }
    }
    *loss = beta / 2.0 * total / m;
    free(qs);
    return LCV_OK;
}

/* Pairwise distances of rows of x [n, d] (diagonal 0, squared distances clamped at
 * NORM_EPS before the root) into dist [n, n]; *mean gets their mean over positive entries
 * (0 when there are none). */
static void pdist(const float *x, int64_t n, int64_t d, double *dist, double *mean) {
    double s = 0.0;
    int64_t cnt = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            double sq = 0.0;
            for (int64_t k = 0; k < d; k++) {
                double diff = (double)x[i * d + k] - (double)x[j * d + k];
                sq += diff * diff;
            }
            double v = i == j ? 0.0 : sqrt(sq < NORM_EPS ? NORM_EPS : sq);
            dist[i * n + j] = v;
            if (v > 0.0) {
                s += v;
                cnt++;
            }
        }
    *mean = cnt ? s / (double)cnt : 0.0;
}

/* Smooth L1 with delta 1 and its derivative. */
static double huber(double x, double *dx) {
    double ax = fabs(x);
    *dx = ax < 1.0 ? x : (x > 0 ? 1.0 : -1.0);
    return ax < 1.0 ? 0.5 * x * x : ax - 0.5;
}

static double rkd_distance(const float *es, int64_t ds, const float *et, int64_t dt, int64_t n,
                           double w, double *buf, float *des) {
    double *sd = buf, *td = buf + n * n, *gd = td + n * n, ms, mt;
    pdist(es, n, ds, sd, &ms);
    pdist(et, n, dt, td, &mt);
    double total = 0.0, gmu = 0.0, nn = (double)(n * n);
    int64_t cnt = 0;
    for (int64_t j = 0; j < n * n; j++) {
        double ps = ms > 0 ? sd[j] / ms : 0.0, pt = mt > 0 ? td[j] / mt : 0.0, h;
        total += huber(ps - pt, &h);
        gd[j] = w * h / nn; /* d loss / d psi */
        if (ms > 0) gmu -= gd[j] * sd[j] / (ms * ms);
        cnt += sd[j] > 0.0;
    }
    if (des && ms > 0)
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++) {
                if (i == j) continue;
                /* psi = d / mean: d loss / d d_ij, the mean's share included */
                double gdist = gd[i * n + j] / ms + (sd[i * n + j] > 0 ? gmu / (double)cnt : 0.0);
                double sq = sd[i * n + j] * sd[i * n + j];
                if (sq <= NORM_EPS) continue; /* clamped: no gradient */
                double c = gdist / sd[i * n + j];
                for (int64_t k = 0; k < ds; k++) {
                    double diff = (double)es[i * ds + k] - (double)es[j * ds + k];
                    des[i * ds + k] = (float)((double)des[i * ds + k] + c * diff);
                    des[j * ds + k] = (float)((double)des[j * ds + k] - c * diff);
                }
            }
    return total / nn;
}

/* Unit vectors from row a to every row of x [n, d] into u [n, d] (zero for a itself, norm
 * clamped at NORM_EPS as F.normalize does); norms into r [n]. */
static void directions(const float *x, int64_t n, int64_t d, int64_t a, double *u, double *r) {
    for (int64_t b = 0; b < n; b++) {
        double ss = 0.0;
        for (int64_t k = 0; k < d; k++) {
            u[b * d + k] = (double)x[b * d + k] - (double)x[a * d + k];
            ss += u[b * d + k] * u[b * d + k];
        }
        double nr = sqrt(ss);
        r[b] = nr < NORM_EPS ? NORM_EPS : nr;
        for (int64_t k = 0; k < d; k++) u[b * d + k] /= r[b];
    }
}

static double dot(const double *a, const double *b, int64_t d) {
    double s = 0.0;
    for (int64_t k = 0; k < d; k++) s += a[k] * b[k];
    return s;
}

static lcv_status rkd_angle(const float *es, int64_t ds, const float *et, int64_t dt, int64_t n,
                            double w, float *des, double *out, lcv_err *e) {
    double *us = malloc(sizeof(double) * (size_t)(n * ds + n * dt + 2 * n + n * n + ds));
    if (!us) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory for RKD angles");
    double *ut = us + n * ds, *rs = ut + n * dt, *rt = rs + n, *g = rt + n, *dn = g + n * n;
    double total = 0.0, n3 = (double)n * (double)n * (double)n;
    for (int64_t a = 0; a < n; a++) {
        directions(es, n, ds, a, us, rs);
        directions(et, n, dt, a, ut, rt);
        for (int64_t b = 0; b < n; b++)
            for (int64_t c = 0; c < n; c++) {
                double h, as = dot(us + b * ds, us + c * ds, ds),
                          at = dot(ut + b * dt, ut + c * dt, dt);
                total += huber(as - at, &h);
                g[b * n + c] = w * h / n3;
            }
        if (!des) continue;
        for (int64_t b = 0; b < n; b++) {
            if (b == a) continue; /* e_a - e_a: its gradient cancels */
            /* d loss / d u_b, then through the normalisation of v = e_b - e_a */
            memset(dn, 0, sizeof(double) * (size_t)ds);
            for (int64_t c = 0; c < n; c++) {
                double gc = g[b * n + c] + g[c * n + b];
                for (int64_t k = 0; k < ds; k++) dn[k] += gc * us[c * ds + k];
            }
            double *ub = us + b * ds, proj = rs[b] > NORM_EPS ? dot(ub, dn, ds) : 0.0;
            for (int64_t k = 0; k < ds; k++) {
                double dv = (dn[k] - ub[k] * proj) / rs[b];
                des[b * ds + k] = (float)((double)des[b * ds + k] + dv);
                des[a * ds + k] = (float)((double)des[a * ds + k] - dv);
            }
        }
    }
    *out = total / n3;
    free(us);
    return LCV_OK;
}

lcv_status lcv_loss_rkd(const float *es, int64_t ds, const float *et, int64_t dt, int64_t n,
                        double w_dist, double w_angle, float *des, double *loss,
                        double *dist_out, double *angle_out, lcv_err *e) {
    if (n < 2 || ds < 1 || dt < 1)
        return lcv_fail(e, LCV_ERR_SHAPE, "relational KD needs a batch of at least 2 and "
                        "non-empty embeddings (batch %lld, sizes %lld and %lld)", (long long)n,
                        (long long)ds, (long long)dt);
    lcv_status st = check_weight(w_dist, "RKD distance", e);
    if (st == LCV_OK) st = check_weight(w_angle, "RKD angle", e);
    if (st != LCV_OK) return st;
    double dist = 0.0, angle = 0.0;
    if (w_dist > 0.0 || dist_out) {
        double *buf = malloc(sizeof(double) * (size_t)(3 * n * n));
        if (!buf) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory for RKD distances");
        dist = rkd_distance(es, ds, et, dt, n, w_dist, buf, w_dist > 0.0 ? des : NULL);
        free(buf);
    }
    if (w_angle > 0.0 || angle_out) {
        st = rkd_angle(es, ds, et, dt, n, w_angle, w_angle > 0.0 ? des : NULL, &angle, e);
        if (st != LCV_OK) return st;
    }
    if (dist_out) *dist_out = dist;
    if (angle_out) *angle_out = angle;
    *loss = w_dist * dist + w_angle * angle;
    return LCV_OK;
}
