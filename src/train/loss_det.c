/* loss_det.c - the training loss of an anchor-free one-level detector (FCOS, Tian et al. 2019):
 * locations are assigned to ground-truth boxes (inside the box and near its centre, the
 * smallest box winning), then a sigmoid focal loss on the class scores (Lin et al. 2017), a
 * GIoU loss on the distances (Rezatofighi et al. 2019) weighted by the centre-ness target, and
 * a binary cross-entropy on the centre-ness. Statistics in double; gradients analytic. */
#include <math.h>
#include <string.h>

#include "loss.h"

/* log(1 + exp(x)) without overflow. */
static double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }

static double sigmoid(double x) {
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

lcv_fcos_params lcv_fcos_default_params(void) {
    lcv_fcos_params p = {0.25f, 2.0f, 1.5f};
    return p;
}

/* Focal loss of logit x against target t (0 or 1) and its derivative: torchvision's
 * sigmoid_focal_loss, alpha_t * BCE * (1 - p_t)^gamma. */
static double focal(double x, bool t, double alpha, double gamma, double *dx) {
    double p = sigmoid(x);
    if (t) { /* -alpha (1 - p)^g log p */
        double q = 1.0 - p, lp = -softplus(-x), qg = pow(q, gamma);
        *dx = alpha * qg * (gamma * p * lp - q);
        return -alpha * qg * lp;
    }
    double lq = -softplus(x), pg = pow(p, gamma); /* -(1 - alpha) p^g log(1 - p) */
    *dx = (1.0 - alpha) * pg * (p - gamma * (1.0 - p) * lq);
    return -(1.0 - alpha) * pg * lq;
}

/* 1 - GIoU of two boxes given as distances (l, t, r, b) from one point, and its gradient with
 * respect to the first box's distances. Ties of min / max send the gradient to the
 * prediction's side as torch.min / torch.max do for their first argument. */
static double giou_loss(const double p[4], const double g[4], double dp[4]) {
    double ap = (p[0] + p[2]) * (p[1] + p[3]), ag = (g[0] + g[2]) * (g[1] + g[3]);
    double iw = fmin(p[0], g[0]) + fmin(p[2], g[2]), ih = fmin(p[1], g[1]) + fmin(p[3], g[3]);
    double cw = fmax(p[0], g[0]) + fmax(p[2], g[2]), ch = fmax(p[1], g[1]) + fmax(p[3], g[3]);
    double in = iw * ih, un = ap + ag - in, ac = cw * ch;
    double iou = in / un, giou = iou - 1.0 + un / ac;
    for (int k = 0; k < 4; k++) {
        bool horiz = k == 0 || k == 2;
        double dap = horiz ? p[1] + p[3] : p[0] + p[2];
        double dmin = p[k] <= g[k] ? 1.0 : 0.0, dmax = p[k] >= g[k] ? 1.0 : 0.0;
        double din = horiz ? ih * dmin : iw * dmin, dac = horiz ? ch * dmax : cw * dmax;
        double dun = dap - din;
        double diou = (din * un - in * dun) / (un * un);
        dp[k] = -(diou + (dun * ac - un * dac) / (ac * ac));
    }
    return 1.0 - giou;
}

/* The box (index into boxes, or -1) location (x, y) is assigned to: it lies strictly inside
 * the box and within radius * stride of its centre on both axes; the smallest area wins. */
static int64_t assign(const float *boxes, int64_t k_max, double x, double y, double reach) {
    int64_t best = -1;
    double best_area = INFINITY;
    for (int64_t k = 0; k < k_max; k++) {
        const float *b = boxes + k * 5;
        if (b[4] < 0) continue;
        double cx = 0.5 * ((double)b[0] + b[2]), cy = 0.5 * ((double)b[1] + b[3]);
        if (!(x > b[0] && x < b[2] && y > b[1] && y < b[3])) continue;
        if (fabs(x - cx) >= reach || fabs(y - cy) >= reach) continue;
        double area = ((double)b[2] - b[0]) * ((double)b[3] - b[1]);
        if (area < best_area) best_area = area, best = k;
    }
    return best;
}

lcv_status lcv_loss_fcos(const float *out, const float *boxes, int64_t n, int64_t classes,
                         int64_t h, int64_t w, int64_t k_max, int stride,
                         const lcv_fcos_params *fp, float *dout, lcv_fcos_terms *terms,
                         double *loss, lcv_err *e) {
    if (n < 1 || classes < 1 || h < 1 || w < 1 || k_max < 0 || stride < 1)
        return lcv_fail(e, LCV_ERR_SHAPE, "detection loss: %lld images, %lld classes, %lld x %lld "
                        "locations, %lld boxes per image, stride %d", (long long)n,
                        (long long)classes, (long long)h, (long long)w, (long long)k_max, stride);
    for (int64_t i = 0; i < n * k_max; i++) {
        const float *b = boxes + i * 5;
        if (b[4] < 0) continue;
        if (!(b[4] < (float)classes) || b[4] != floorf(b[4]) || !(b[0] < b[2]) ||
            !(b[1] < b[3]) || !isfinite(b[0]) || !isfinite(b[1]) || !isfinite(b[2]) ||
            !isfinite(b[3]))
            return lcv_fail(e, LCV_ERR_INVALID_ARG, "box %lld of image %lld (%g, %g, %g, %g, class "
                            "%g): needs x1 < x2, y1 < y2 and a class in [0, %lld) (the model has "
                            "%lld classes)", (long long)(i % k_max), (long long)(i / k_max),
                            (double)b[0], (double)b[1], (double)b[2], (double)b[3], (double)b[4],
                            (long long)classes, (long long)classes);
    }
    double alpha = fp->alpha, gamma = fp->gamma, reach = fp->radius * stride;
    int64_t hw = h * w, ch = classes + 5;
    double cls_sum = 0.0, reg_sum = 0.0, ctr_sum = 0.0, ctr_weight = 0.0;
    int64_t positives = 0;
    /* pass 1: the totals that normalise (positives, centre-ness weights) */
    for (int64_t i = 0; i < n; i++)
        for (int64_t q = 0; q < hw; q++) {
            double x = (double)(q % w * stride + stride / 2), y = (double)(q / w * stride +
                                                                           stride / 2);
            int64_t k = assign(boxes + i * k_max * 5, k_max, x, y, reach);
            if (k < 0) continue;
            const float *b = boxes + (i * k_max + k) * 5;
            double l = x - b[0], t = y - b[1], r = b[2] - x, bt = b[3] - y;
            positives++;
            ctr_weight += sqrt(fmin(l, r) / fmax(l, r) * (fmin(t, bt) / fmax(t, bt)));
        }
    double inv_pos = 1.0 / (double)(positives > 0 ? positives : 1);
    double inv_ctr = ctr_weight > 0 ? 1.0 / ctr_weight : 0.0;
    for (int64_t i = 0; i < n; i++) {
        const float *o = out + i * ch * hw;
        float *d = dout ? dout + i * ch * hw : NULL;
        for (int64_t q = 0; q < hw; q++) {
            double x = (double)(q % w * stride + stride / 2), y = (double)(q / w * stride +
                                                                           stride / 2);
            int64_t k = assign(boxes + i * k_max * 5, k_max, x, y, reach);
            const float *b = k >= 0 ? boxes + (i * k_max + k) * 5 : NULL;
            int64_t target = b ? (int64_t)b[4] : -1;
            for (int64_t c = 0; c < classes; c++) {
                double g;
                cls_sum += focal(o[c * hw + q], c == target, alpha, gamma, &g);
                if (d) d[c * hw + q] = (float)(g * inv_pos);
            }
            const float *pr = o + classes * hw + q;
            if (d)
                for (int j = 0; j < 5; j++) d[(classes + j) * hw + q] = 0.0f;
            if (!b) continue;
            double gt[4] = {x - b[0], y - b[1], b[2] - x, b[3] - y};
            double ctr_t = sqrt(fmin(gt[0], gt[2]) / fmax(gt[0], gt[2]) *
                                (fmin(gt[1], gt[3]) / fmax(gt[1], gt[3])));
            double p[4], dp[4];
            for (int j = 0; j < 4; j++) p[j] = pr[j * hw];
            bool ok = p[0] + p[2] > 0 && p[1] + p[3] > 0 && isfinite(p[0] + p[1] + p[2] + p[3]);
            if (!ok)
                return lcv_fail(e, LCV_ERR_INVALID_ARG, "image %lld, location (%lld, %lld): "
                                "predicted distances (%g, %g, %g, %g) are not a box (the model "
                                "must output positive distances)", (long long)i,
                                (long long)(q % w), (long long)(q / w), p[0], p[1], p[2], p[3]);
            reg_sum += ctr_t * giou_loss(p, gt, dp);
            double z = pr[4 * hw], s = sigmoid(z);
            ctr_sum += ctr_t * softplus(-z) + (1.0 - ctr_t) * softplus(z);
            if (d) {
                for (int j = 0; j < 4; j++) d[(classes + j) * hw + q] = (float)(ctr_t * dp[j] *
                                                                                 inv_ctr);
                d[(classes + 4) * hw + q] = (float)((s - ctr_t) * inv_pos);
            }
        }
    }
    lcv_fcos_terms tm = {cls_sum * inv_pos, reg_sum * inv_ctr, ctr_sum * inv_pos, positives};
    if (terms) *terms = tm;
    *loss = tm.cls + tm.box + tm.ctr;
    return LCV_OK;
}
