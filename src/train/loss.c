/* loss.c - training losses and their gradients: softmax cross-entropy with label smoothing
 * (per sample, or per pixel for segmentation), MSE, L1 and response distillation (Hinton KD,
 * also the KL terms of mutual and self-distillation); feature and relation losses are in
 * distill_loss.c. Row statistics are accumulated in double so the values match PyTorch's
 * float32 results to well under 1e-5. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/cpu.h"
#include "../core/threadpool.h"
#include "../kernels/f32-vact/vact.h"
#include "loss.h"

/* max and log-sum-exp of scale * x[0..k). */
static void row_lse(const float *x, int64_t k, double scale, double *mx, double *lse) {
    double m = -INFINITY, s = 0.0;
    for (int64_t j = 0; j < k; j++)
        if (scale * x[j] > m) m = scale * x[j];
    for (int64_t j = 0; j < k; j++) s += exp(scale * x[j] - m);
    *mx = m;
    *lse = log(s);
}

static lcv_status check_dims(int64_t n, int64_t k, const char *what, lcv_err *e) {
    if (n < 1 || k < 1)
        return lcv_fail(e, LCV_ERR_SHAPE, "%s: batch %lld and classes %lld must be positive", what,
                        (long long)n, (long long)k);
    return LCV_OK;
}

static lcv_status check_labels(const int64_t *labels, int64_t n, int64_t k, lcv_err *e) {
    if (!labels) return lcv_fail(e, LCV_ERR_INVALID_ARG, "cross-entropy: no labels given");
    for (int64_t i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= k)
            return lcv_fail(e, LCV_ERR_INVALID_ARG,
                            "label %lld of sample %lld is outside [0, %lld) (the model has %lld "
                            "classes)", (long long)labels[i], (long long)i, (long long)k,
                            (long long)k);
    return LCV_OK;
}

/* Adds w * CE and, if d != NULL, w * dCE to d (d is overwritten when overwrite). */
static void ce_rows(const float *logits, const int64_t *labels, int64_t n, int64_t k,
                    double smoothing, double w, float *d, bool overwrite, double *loss) {
    double total = 0.0, off = smoothing / (double)k, on = 1.0 - smoothing + off;
    for (int64_t i = 0; i < n; i++) {
        const float *x = logits + i * k;
        double m, lse, sum_logp = 0.0;
        row_lse(x, k, 1.0, &m, &lse);
        for (int64_t j = 0; j < k; j++) sum_logp += (double)x[j] - m - lse;
        double logp_y = (double)x[labels[i]] - m - lse;
        total += -(1.0 - smoothing) * logp_y - off * sum_logp;
        if (!d) continue;
        float *dr = d + i * k;
        for (int64_t j = 0; j < k; j++) {
            double p = exp((double)x[j] - m - lse), q = j == labels[i] ? on : off;
            double g = w * (p - q) / (double)n;
            dr[j] = overwrite ? (float)g : (float)((double)dr[j] + g);
        }
    }
    *loss += w * total / (double)n;
}

lcv_status lcv_loss_softmax_ce(const float *logits, const int64_t *labels, int64_t n, int64_t k,
                               float smoothing, float *dlogits, double *loss, lcv_err *e) {
    lcv_status st = check_dims(n, k, "cross-entropy", e);
    if (st == LCV_OK) st = check_labels(labels, n, k, e);
    if (st != LCV_OK) return st;
    if (!(smoothing >= 0.0f && smoothing < 1.0f))
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "label smoothing %g is outside [0, 1)",
                        (double)smoothing);
    *loss = 0.0;
    ce_rows(logits, labels, n, k, smoothing, 1.0, dlogits, true, loss);
    return LCV_OK;
}

/* Pixels go through in chunks so each class plane is read contiguously and the per-pixel
 * statistics stay on the stack. */
#define CE_MAP_CHUNK 256

typedef struct ce_map_task {
    const float *logits;
    const int64_t *labels;
    int64_t k, hw;
    double eps, scale;
    float *dlogits;       /* or NULL */
    double *totals;       /* one per image, added in order afterwards */
    const lcv_vact_kernels *vk;
} ce_map_task;

/* Images [begin, end) of lcv_loss_softmax_ce_map. Each exponential is taken once, vectorised:
 * with a gradient it is kept in dlogits and scaled into the probability there. */
static void ce_map_images(void *ctx, int64_t begin, int64_t end, int thread) {
    (void)thread;
    const ce_map_task *t = ctx;
    int64_t k = t->k, hw = t->hw;
    double eps = t->eps, off = eps / (double)k, on = 1.0 - eps + off;
    for (int64_t i = begin; i < end; i++) {
        const float *x = t->logits + i * k * hw;
        const int64_t *y = t->labels + i * hw;
        float *d = t->dlogits ? t->dlogits + i * k * hw : NULL;
        double total = 0.0;
        for (int64_t p0 = 0; p0 < hw; p0 += CE_MAP_CHUNK) {
            int64_t m = hw - p0 < CE_MAP_CHUNK ? hw - p0 : CE_MAP_CHUNK;
            float mx[CE_MAP_CHUNK], ex[CE_MAP_CHUNK];
            double sum[CE_MAP_CHUNK], sx[CE_MAP_CHUNK];
            for (int64_t q = 0; q < m; q++) {
                mx[q] = -INFINITY;
                sum[q] = sx[q] = 0.0;
            }
            for (int64_t j = 0; j < k; j++) {
                const float *r = x + j * hw + p0;
                for (int64_t q = 0; q < m; q++) mx[q] = r[q] > mx[q] ? r[q] : mx[q];
            }
            for (int64_t j = 0; j < k; j++) {
                const float *r = x + j * hw + p0;
                float *e = d ? d + j * hw + p0 : ex;
                for (int64_t q = 0; q < m; q++) e[q] = r[q] - mx[q];
                t->vk->unary(LCV_VFN_EXP, 0.0f, 0.0f, e, e, m);
                for (int64_t q = 0; q < m; q++) {
                    sum[q] += (double)e[q];
                    sx[q] += (double)r[q];
                }
            }
            for (int64_t q = 0; q < m; q++) {
                double shift = (double)mx[q] + log(sum[q]);
                double logp_y = (double)x[y[p0 + q] * hw + p0 + q] - shift;
                total += -(1.0 - eps) * logp_y - off * (sx[q] - (double)k * shift);
                sum[q] = t->scale / sum[q]; /* reused: turns an exponential into a gradient */
            }
            if (!d) continue;
            for (int64_t j = 0; j < k; j++) {
                float *dr = d + j * hw + p0;
                for (int64_t q = 0; q < m; q++) {
                    double target = y[p0 + q] == j ? on : off;
                    dr[q] = (float)((double)dr[q] * sum[q] - target * t->scale);
                }
            }
        }
        t->totals[i] = total;
    }
}

lcv_status lcv_loss_softmax_ce_map(const float *logits, const int64_t *labels, int64_t n,
                                   int64_t k, int64_t hw, float smoothing, float *dlogits,
                                   double *loss, lcv_threadpool *pool, lcv_err *e) {
    lcv_status st = check_dims(n, k, "per-pixel cross-entropy", e);
    if (st != LCV_OK) return st;
    if (hw < 1)
        return lcv_fail(e, LCV_ERR_SHAPE, "per-pixel cross-entropy: %lld pixels per image",
                        (long long)hw);
    if (!labels) return check_labels(labels, n, k, e);
    for (int64_t i = 0; i < n * hw; i++)
        if (labels[i] < 0 || labels[i] >= k)
            return lcv_fail(e, LCV_ERR_INVALID_ARG, "label %lld of image %lld at pixel %lld is "
                            "outside [0, %lld) (the model has %lld classes)",
                            (long long)labels[i], (long long)(i / hw), (long long)(i % hw),
                            (long long)k, (long long)k);
    if (!(smoothing >= 0.0f && smoothing < 1.0f))
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "label smoothing %g is outside [0, 1)",
                        (double)smoothing);
    double *totals = malloc(sizeof(double) * (size_t)n);
    if (!totals)
        return lcv_fail(e, LCV_ERR_NOMEM, "per-pixel cross-entropy: out of memory for %lld "
                        "images", (long long)n);
    ce_map_task t = {.logits = logits, .labels = labels, .k = k, .hw = hw, .eps = smoothing,
                     .scale = 1.0 / ((double)n * (double)hw), .dlogits = dlogits,
                     .totals = totals, .vk = lcv_vact_kernels_for(lcv_isa_choose(LCV_ISA_AUTO))};
    lcv_threadpool_parallel_for(pool, n, 1, ce_map_images, &t);
    double total = 0.0;
    for (int64_t i = 0; i < n; i++) total += totals[i];
    free(totals);
    *loss = total * t.scale;
    return LCV_OK;
}

int64_t lcv_loss_correct_map(const float *logits, const int64_t *labels, int64_t n, int64_t k,
                             int64_t hw) {
    int64_t c = 0;
    for (int64_t i = 0; labels && i < n; i++)
        for (int64_t p = 0; p < hw; p++) {
            const float *x = logits + i * k * hw + p;
            int64_t arg = 0;
            for (int64_t j = 1; j < k; j++)
                if (x[j * hw] > x[arg * hw]) arg = j;
            c += arg == labels[i * hw + p];
        }
    return c;
}

lcv_status lcv_loss_mse(const float *a, const float *b, int64_t n, float *da, double *loss,
                        lcv_err *e) {
    if (n < 1) return lcv_fail(e, LCV_ERR_SHAPE, "MSE of %lld elements", (long long)n);
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double diff = (double)a[i] - (double)b[i];
        s += diff * diff;
        if (da) da[i] = (float)(2.0 * diff / (double)n);
    }
    *loss = s / (double)n;
    return LCV_OK;
}

lcv_status lcv_loss_l1(const float *a, const float *b, int64_t n, float *da, double *loss,
                       lcv_err *e) {
    if (n < 1) return lcv_fail(e, LCV_ERR_SHAPE, "L1 loss of %lld elements", (long long)n);
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double diff = (double)a[i] - (double)b[i];
        s += fabs(diff);
        if (da) da[i] = (float)((diff > 0 ? 1.0 : diff < 0 ? -1.0 : 0.0) / (double)n);
    }
    *loss = s / (double)n;
    return LCV_OK;
}

lcv_status lcv_loss_kd(const float *student, const float *teacher, const int64_t *labels,
                       int64_t n, int64_t k, double w_kd, double w_ce, float temperature,
                       float smoothing, float *dstudent, double *loss, lcv_err *e) {
    lcv_status st = check_dims(n, k, "distillation", e);
    if (st != LCV_OK) return st;
    if (!(w_kd >= 0.0) || !(w_ce >= 0.0) || !isfinite(w_kd) || !isfinite(w_ce) ||
        !(temperature > 0.0f) || !isfinite(temperature))
        return lcv_fail(e, LCV_ERR_INVALID_ARG,
                        "distillation: weights %g and %g must be finite and >= 0 and temperature "
                        "%g positive", w_kd, w_ce, (double)temperature);
    if (!(smoothing >= 0.0f && smoothing < 1.0f))
        return lcv_fail(e, LCV_ERR_INVALID_ARG, "label smoothing %g is outside [0, 1)",
                        (double)smoothing);
    if (w_ce > 0.0 && (st = check_labels(labels, n, k, e)) != LCV_OK) return st;
    double T = temperature, kl_total = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const float *s = student + i * k, *t = teacher + i * k;
        double ms, lses, mt, lset, kl = 0.0;
        row_lse(s, k, 1.0 / T, &ms, &lses);
        row_lse(t, k, 1.0 / T, &mt, &lset);
        for (int64_t j = 0; j < k; j++) {
            double lpt = (double)t[j] / T - mt - lset, lps = (double)s[j] / T - ms - lses;
            double pt = exp(lpt);
            if (pt > 0.0) kl += pt * (lpt - lps);
            /* d/ds_j of T^2 * KL = T * (ps_j - pt_j) */
            if (dstudent && w_kd > 0.0)
                dstudent[i * k + j] =
                    (float)((double)dstudent[i * k + j] + w_kd * T * (exp(lps) - pt) / (double)n);
        }
        kl_total += kl;
    }
    *loss = w_kd * T * T * kl_total / (double)n;
    if (w_ce > 0.0) ce_rows(student, labels, n, k, smoothing, w_ce, dstudent, false, loss);
    return LCV_OK;
}

lcv_status lcv_loss_distill(const float *student, const float *teacher, const int64_t *labels,
                            int64_t n, int64_t k, float alpha, float temperature,
                            float smoothing, float *dstudent, double *loss, lcv_err *e) {
    if (!(alpha >= 0.0f && alpha <= 1.0f) || !(temperature > 0.0f) || !isfinite(temperature))
        return lcv_fail(e, LCV_ERR_INVALID_ARG,
                        "distillation: alpha %g must be in [0, 1] and temperature %g positive",
                        (double)alpha, (double)temperature);
    if (alpha < 1.0f && !labels) return check_labels(labels, n, k, e);
    if (dstudent && n > 0 && k > 0) memset(dstudent, 0, sizeof(float) * (size_t)(n * k));
    return lcv_loss_kd(student, teacher, labels, n, k, alpha, 1.0 - (double)alpha, temperature,
                       smoothing, dstudent, loss, e);
}

int64_t lcv_loss_correct(const float *logits, const int64_t *labels, int64_t n, int64_t k) {
    int64_t c = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *x = logits + i * k;
        int64_t arg = 0;
        for (int64_t j = 1; j < k; j++)
            if (x[j] > x[arg]) arg = j;
        c += labels && arg == labels[i];
    }
    return c;
}
