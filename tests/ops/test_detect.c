/* test_detect.c - NonMaxSuppression (boxes of the ONNX backend cases: IoU and score
 * suppression, center-point format, limits, ties, deferral) and RoiAlign (hand-computed
 * bilinear samples in avg/max mode, both coordinate modes), plus bad shapes and values. */
#include <math.h>
#include <stdlib.h>

#include "op_case.h"

#define F32 LCV_DTYPE_FLOAT32
#define I64 LCV_DTYPE_INT64

static const double corner_boxes[] = {0, 0, 1, 1,   0, 0.1, 1, 1.1,   0, -0.1, 1, 0.9,
                                      0, 10, 1, 11, 0, 10.1, 1, 11.1, 0, 100, 1, 101};
static const double center_boxes[] = {0.5, 0.5, 1, 1,   0.6, 0.5, 1, 1,   0.4, 0.5, 1, 1,
                                      10.5, 0.5, 1, 1, 10.6, 0.5, 1, 1, 100.5, 0.5, 1, 1};
static const double scores[] = {0.9, 0.75, 0.6, 0.95, 0.5, 0.3};

static void nms_case(opcase *k, const double *boxes, double max_out, double score_thr) {
    case_begin(k, "NonMaxSuppression", 11, 5, 1);
    case_in(k, 0, F32, 3, (const int64_t[]){1, 6, 4}, boxes);
    case_in(k, 1, F32, 3, (const int64_t[]){1, 1, 6}, scores);
    case_in(k, 2, I64, 1, (const int64_t[]){1}, (const double[]){max_out});
    case_in(k, 3, F32, 1, (const int64_t[]){1}, (const double[]){0.5});
    case_in(k, 4, F32, 1, (const int64_t[]){1}, (const double[]){score_thr});
}

static void test_nms(void) {
    opcase k;
    nms_case(&k, corner_boxes, 3, 0);
    CHECK(case_run(&k) == LCV_OK);
    CHECK(case_shape(&k, 0, 2, (const int64_t[]){3, 3}));
    CHECK(optest_close(k.out[0], (const double[]){0, 0, 3, 0, 0, 0, 0, 0, 5}, 9, 0, 0));
    case_end(&k);

    nms_case(&k, center_boxes, 3, 0);
    optest_attr_int(&k.t, "center_point_box", 1);
    CHECK(case_run(&k) == LCV_OK);
    CHECK(optest_close(k.out[0], (const double[]){0, 0, 3, 0, 0, 0, 0, 0, 5}, 9, 0, 0));
    case_end(&k);

    /* score threshold and output limit */
    nms_case(&k, corner_boxes, 3, 0.4);
    CHECK(case_run(&k) == LCV_OK);
    CHECK(optest_close(k.out[0], (const double[]){0, 0, 3, 0, 0, 0}, 6, 0, 0));
    case_in(&k, 2, I64, 1, (const int64_t[]){1}, (const double[]){1});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(case_shape(&k, 0, 2, (const int64_t[]){1, 3}));
    case_in(&k, 3, F32, 1, (const int64_t[]){1}, (const double[]){1.5});
    CHECK(case_fails(&k, "iou_threshold 1.5"));
    case_end(&k);

    /* no max_output_boxes_per_class: nothing is selected */
    case_begin(&k, "NonMaxSuppression", 11, 2, 1);
    case_in(&k, 0, F32, 3, (const int64_t[]){1, 6, 4}, corner_boxes);
    case_in(&k, 1, F32, 3, (const int64_t[]){1, 1, 6}, scores);
    CHECK(case_run(&k) == LCV_OK);
    CHECK(case_shape(&k, 0, 2, (const int64_t[]){0, 3}));
    case_in(&k, 1, F32, 3, (const int64_t[]){1, 1, 5}, NULL);
    CHECK(case_fails(&k, "[B, N, 4]"));
    case_end(&k);

    /* equal scores: lower index first; two classes, two batches keep their order */
    case_begin(&k, "NonMaxSuppression", 11, 3, 1);
    case_in(&k, 0, F32, 3, (const int64_t[]){2, 2, 4},
            (const double[]){0, 0, 1, 1, 5, 5, 6, 6, 0, 0, 1, 1, 0, 0, 1, 1});
    case_in(&k, 1, F32, 3, (const int64_t[]){2, 2, 2}, (const double[]){0.5, 0.5, 0.1, 0.2, 0.3, 0.3, 0, 0});
    case_in(&k, 2, I64, 0, NULL, (const double[]){5});
    CHECK(case_run(&k) == LCV_OK);
    /* batch 1's boxes coincide (IoU 1 > 0): only the first survives per class */
    CHECK(optest_close(k.out[0], (const double[]){0, 0, 0, 0, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 0,
                                                  1, 1, 0}, 18, 0, 0));
    lcv_tensor b = {0};
    b.dtype = F32;
    b.ndim = 3;
    b.dims[0] = 2, b.dims[1] = 2, b.dims[2] = 4;
    const lcv_tensor *ins[3] = {&b, k.in[1], k.in[2]};
    CHECK(case_infer(&k, ins) == LCV_DEFERRED);
    case_end(&k);
}

static void roi_case(opcase *k, int opset, const char *mode, const char *ct, const double *roi) {
    case_begin(k, "RoiAlign", opset, 3, 1);
    optest_attr_str(&k->t, "mode", mode);
    if (ct) optest_attr_str(&k->t, "coordinate_transformation_mode", ct);
    optest_attr_int(&k->t, "sampling_ratio", 1);
    case_in(k, 0, F32, 4, (const int64_t[]){1, 1, 2, 2}, (const double[]){1, 2, 3, 4});
    case_in(k, 1, F32, 2, (const int64_t[]){1, 4}, roi);
    case_in(k, 2, I64, 1, (const int64_t[]){1}, (const double[]){0});
}

static void test_roialign(void) {
    opcase k;
    static const double roi[] = {0, 0, 2, 2};
    /* half_pixel: one sample at (0.5, 0.5), the mean of the four pixels */
    roi_case(&k, 16, "avg", "half_pixel", roi);
    CHECK(case_run(&k) == LCV_OK);
    CHECK(case_shape(&k, 0, 4, (const int64_t[]){1, 1, 1, 1}));
    CHECK(optest_close(k.out[0], (const double[]){2.5}, 1, 1e-6, 0));
    case_end(&k);

    /* opset 10 means output_half_pixel: the sample lands on (1, 1) */
    roi_case(&k, 10, "avg", NULL, roi);
    CHECK(case_run(&k) == LCV_OK);
    CHECK(optest_close(k.out[0], (const double[]){4}, 1, 1e-6, 0));
    case_end(&k);

    /* max mode: the largest weighted corner term 0.25 * 4 */
    roi_case(&k, 16, "max", "half_pixel", roi);
    CHECK(case_run(&k) == LCV_OK);
    CHECK(optest_close(k.out[0], (const double[]){1}, 1, 1e-6, 0));
    case_end(&k);

    /* a 2x2 output, default grid: ceil(bin) = 1 sample per bin at the pixel centres */
    case_begin(&k, "RoiAlign", 16, 3, 1);
    optest_attr_int(&k.t, "output_height", 2);
    optest_attr_int(&k.t, "output_width", 2);
    case_in(&k, 0, F32, 4, (const int64_t[]){1, 1, 2, 2}, (const double[]){1, 2, 3, 4});
    case_in(&k, 1, F32, 2, (const int64_t[]){1, 4}, roi);
    case_in(&k, 2, I64, 1, (const int64_t[]){1}, (const double[]){0});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(optest_close(k.out[0], (const double[]){1, 2, 3, 4}, 4, 1e-6, 0));
    case_in(&k, 2, I64, 1, (const int64_t[]){1}, (const double[]){1});
    CHECK(case_fails(&k, "batch_indices[0] = 1"));
    case_in(&k, 2, I64, 1, (const int64_t[]){1}, (const double[]){0});
    case_in(&k, 1, F32, 2, (const int64_t[]){1, 4}, (const double[]){0, 0, 1e30, 1e30});
    CHECK(case_fails(&k, "sampling grid"));
    case_in(&k, 1, F32, 2, (const int64_t[]){1, 4}, (const double[]){0, 0, NAN, 1});
    CHECK(case_fails(&k, "non-finite"));
    case_in(&k, 1, F32, 2, (const int64_t[]){1, 3}, NULL);
    CHECK(case_fails(&k, "rois [R, 4]"));
    case_end(&k);

    roi_case(&k, 16, "median", NULL, roi);
    CHECK(case_fails(&k, "mode 'median'"));
    case_end(&k);
}

/* ---- NonMaxSuppression against a plain reference on many boxes ---- */

static uint64_t rng_state;
static double urand(void) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

/* The reference: per batch and class, candidates above the threshold by descending score
 * (then index), each compared with every box selected before it. */
static int64_t nms_reference(const float *boxes, const float *sc, int64_t B, int64_t C,
                             int64_t N, int64_t max_out, double iou_thr, double score_thr,
                             int64_t *rows) {
    int64_t *order = malloc(sizeof(int64_t) * (size_t)N), *sel = malloc(sizeof(int64_t) * (size_t)N);
    double *r = malloc(sizeof(double) * 4 * (size_t)N);
    int64_t total = 0;
    for (int64_t b = 0; b < B; b++) {
        for (int64_t i = 0; i < N; i++) {
            const float *v = boxes + (b * N + i) * 4;
            r[4 * i] = fmin(v[0], v[2]), r[4 * i + 1] = fmin(v[1], v[3]);
            r[4 * i + 2] = fmax(v[0], v[2]), r[4 * i + 3] = fmax(v[1], v[3]);
        }
        for (int64_t cl = 0; cl < C; cl++) {
            const float *s = sc + (b * C + cl) * N;
            int64_t n = 0, ns = 0;
            for (int64_t i = 0; i < N; i++)
                if (s[i] > score_thr) order[n++] = i;
            for (int64_t i = 1; i < n; i++) /* insertion sort: stable, so ties keep index order */
                for (int64_t j = i; j > 0 && s[order[j]] > s[order[j - 1]]; j--) {
                    int64_t t = order[j];
                    order[j] = order[j - 1];
                    order[j - 1] = t;
                }
            for (int64_t k = 0; k < n && ns < max_out; k++) {
                const double *a = r + 4 * order[k];
                double aa = (a[2] - a[0]) * (a[3] - a[1]);
                int keep = 1;
                for (int64_t q = 0; q < ns && keep; q++) {
                    const double *o = r + 4 * sel[q];
                    double ao = (o[2] - o[0]) * (o[3] - o[1]);
                    if (!(aa > 0) || !(ao > 0)) continue;
                    double ih = fmin(a[2], o[2]) - fmax(a[0], o[0]);
                    double iw = fmin(a[3], o[3]) - fmax(a[1], o[1]);
                    if (!(ih > 0) || !(iw > 0)) continue;
                    keep = !(ih * iw / (aa + ao - ih * iw) > iou_thr);
                }
                if (!keep) continue;
                sel[ns++] = order[k];
                rows[3 * total] = b, rows[3 * total + 1] = cl, rows[3 * total + 2] = order[k];
                total++;
            }
        }
    }
    free(order);
    free(sel);
    free(r);
    return total;
}

/* Clustered boxes (as a detector's candidates), some covering most of the image, some with no
 * area, some with infinite or NaN coordinates; NaN scores; classes either overlapping or far
 * apart (the per-class offset a batched NMS adds). The op's spatial index must give exactly
 * the reference's selection. */
static void test_nms_many(int64_t B, int64_t C, int64_t N, int offset_classes, double max_out) {
    float *boxes = malloc(sizeof(float) * 4 * (size_t)(B * N)), *sc = malloc(sizeof(float) * (size_t)(B * C * N));
    double *bd = malloc(sizeof(double) * 4 * (size_t)(B * N)), *sd = malloc(sizeof(double) * (size_t)(B * C * N));
    int64_t *rows = malloc(sizeof(int64_t) * 3 * (size_t)(B * C * N));
    int64_t objects = N / 12 + 1;
    for (int64_t i = 0; i < B * N; i++) {
        int64_t o = (int64_t)(urand() * (double)objects);
        double cx = 20 + (double)(o * 7919 % 600), cy = 20 + (double)(o * 104729 % 600);
        double w = 8 + (double)(o % 90), h = 8 + (double)(o % 70), u = urand();
        if (offset_classes) cx += 700.0 * (double)(o % 40), cy += 700.0 * (double)(o % 40);
        cx += (urand() - 0.5) * 0.4 * w, cy += (urand() - 0.5) * 0.4 * h;
        w *= 0.8 + 0.4 * urand(), h *= 0.8 + 0.4 * urand();
        if (u < 0.04) w = 500 + 300 * urand(), h = 400 + 300 * urand(); /* huge */
        float *v = boxes + 4 * i;
        v[0] = (float)(cy - h / 2), v[1] = (float)(cx - w / 2);
        v[2] = (float)(cy + h / 2), v[3] = (float)(cx + w / 2);
        if (u > 0.96) v[2] = v[0];                        /* no area */
        if (u > 0.5 && u < 0.52) v[3] = INFINITY;         /* infinite */
        if (u > 0.6 && u < 0.61) v[1] = NAN;              /* NaN */
        if (u > 0.3 && u < 0.4) { float t = v[0]; v[0] = v[2]; v[2] = t; } /* other diagonal */
    }
    for (int64_t i = 0; i < B * C * N; i++) {
        double u = urand();
        sc[i] = u < 0.01 ? NAN : (float)urand();
        if (u > 0.99) sc[i] = 0.5f; /* ties */
    }
    for (int64_t i = 0; i < 4 * B * N; i++) bd[i] = boxes[i];
    for (int64_t i = 0; i < B * C * N; i++) sd[i] = sc[i];
    int64_t mo = max_out >= (double)N ? N : (int64_t)max_out;
    int64_t n = nms_reference(boxes, sc, B, C, N, mo, 0.45, 0.05, rows);
    opcase k;
    case_begin(&k, "NonMaxSuppression", 11, 5, 1);
    case_in(&k, 0, F32, 3, (const int64_t[]){B, N, 4}, bd);
    case_in(&k, 1, F32, 3, (const int64_t[]){B, C, N}, sd);
    case_in(&k, 2, I64, 1, (const int64_t[]){1}, (const double[]){max_out});
    case_in(&k, 3, F32, 1, (const int64_t[]){1}, (const double[]){0.45});
    case_in(&k, 4, F32, 1, (const int64_t[]){1}, (const double[]){0.05});
    CHECK(case_run(&k) == LCV_OK);
    CHECK(case_shape(&k, 0, 2, (const int64_t[]){n, 3}));
    if (k.out[0]->ndim == 2 && k.out[0]->dims[0] == n)
        CHECK(memcmp(k.out[0]->data, rows, sizeof(int64_t) * 3 * (size_t)n) == 0);
    case_end(&k);
    free(boxes);
    free(sc);
    free(bd);
    free(sd);
    free(rows);
}

/* ---- RoiAlign against a plain reference: every sample of every bin of every channel ---- */

static double ref_term_max(const float *pl, int64_t h, int64_t w, double y, double x, double *sum) {
    *sum = 0;
    if (y < -1.0 || y > (double)h || x < -1.0 || x > (double)w) return 0;
    y = y <= 0 ? 0 : y, x = x <= 0 ? 0 : x;
    int64_t y0 = (int64_t)y, x0 = (int64_t)x, y1 = y0 + 1, x1 = x0 + 1;
    if (y0 >= h - 1) y0 = y1 = h - 1, y = (double)y0;
    if (x0 >= w - 1) x0 = x1 = w - 1, x = (double)x0;
    double ly = y - (double)y0, lx = x - (double)x0, hy = 1 - ly, hx = 1 - lx;
    double t[4] = {hy * hx * pl[y0 * w + x0], hy * lx * pl[y0 * w + x1], ly * hx * pl[y1 * w + x0],
                   ly * lx * pl[y1 * w + x1]};
    *sum = t[0] + t[1] + t[2] + t[3];
    return fmax(fmax(t[0], t[1]), fmax(t[2], t[3]));
}

/* R RoIs over a C x H x W map (half_pixel), oh x ow bins, sr x sr samples per bin. */
static void test_roialign_many(int max_mode, int64_t C, int64_t R, int64_t oh, int64_t ow,
                               int64_t sr) {
    const int64_t H = 9, W = 11;
    float *xf = malloc(sizeof(float) * (size_t)(C * H * W));
    double *xd = malloc(sizeof(double) * (size_t)(C * H * W)), *rd = malloc(sizeof(double) * 4 * (size_t)R);
    double *want = malloc(sizeof(double) * (size_t)(R * C * oh * ow)), *bd = malloc(sizeof(double) * (size_t)R);
    for (int64_t i = 0; i < C * H * W; i++) xd[i] = xf[i] = (float)(urand() * 2 - 0.5);
    for (int64_t r = 0; r < R; r++) {
        double x1 = urand() * 12 - 2, y1 = urand() * 10 - 2;
        rd[4 * r] = (float)x1, rd[4 * r + 1] = (float)y1;
        rd[4 * r + 2] = (float)(x1 + 0.5 + urand() * 8), rd[4 * r + 3] = (float)(y1 + 0.5 + urand() * 7);
        bd[r] = 0;
    }
    for (int64_t r = 0, o = 0; r < R; r++) {
        double x1 = rd[4 * r] * 0.5 - 0.5, y1 = rd[4 * r + 1] * 0.5 - 0.5; /* spatial_scale 0.5 */
        double bw = (rd[4 * r + 2] * 0.5 - 0.5 - x1) / (double)ow, bh = (rd[4 * r + 3] * 0.5 - 0.5 - y1) / (double)oh;
        for (int64_t ch = 0; ch < C; ch++)
            for (int64_t ph = 0; ph < oh; ph++)
                for (int64_t pw = 0; pw < ow; pw++, o++) {
                    double acc = 0;
                    for (int64_t iy = 0; iy < sr; iy++)
                        for (int64_t ix = 0; ix < sr; ix++) {
                            double sum, m = ref_term_max(xf + ch * H * W, H, W,
                                                         y1 + (double)ph * bh + ((double)iy + 0.5) * bh / (double)sr,
                                                         x1 + (double)pw * bw + ((double)ix + 0.5) * bw / (double)sr, &sum);
                            acc = max_mode ? (iy + ix == 0 ? m : fmax(acc, m)) : acc + sum;
                        }
                    want[o] = max_mode ? acc : acc / (double)(sr * sr);
                }
    }
    opcase k;
    case_begin(&k, "RoiAlign", 16, 3, 1);
    optest_attr_str(&k.t, "mode", max_mode ? "max" : "avg");
    optest_attr_int(&k.t, "sampling_ratio", sr);
    optest_attr_int(&k.t, "output_height", oh);
    optest_attr_int(&k.t, "output_width", ow);
    optest_attr_float(&k.t, "spatial_scale", 0.5f);
    case_in(&k, 0, F32, 4, (const int64_t[]){1, C, H, W}, xd);
    case_in(&k, 1, F32, 2, (const int64_t[]){R, 4}, rd);
    case_in(&k, 2, I64, 1, (const int64_t[]){R}, bd);
    CHECK(case_run(&k) == LCV_OK);
    CHECK(case_shape(&k, 0, 4, (const int64_t[]){R, C, oh, ow}));
    CHECK(optest_close(k.out[0], want, R * C * oh * ow, 1e-5, 1e-5));
    case_end(&k);
    free(xf), free(xd), free(rd), free(want), free(bd);
}

int main(void) {
    test_nms();
    rng_state = 7;
    test_nms_many(1, 1, 3000, 1, 5000);  /* one class holding far-apart groups */
    test_nms_many(2, 3, 700, 0, 150);
    test_nms_many(1, 4, 40, 0, 100);     /* below the size that uses the index */
    test_roialign();
    test_roialign_many(0, 5, 4, 3, 2, 2);
    test_roialign_many(1, 5, 4, 3, 2, 2);
    test_roialign_many(0, 2, 1, 1, 1, 300); /* 90000 samples per bin: computed in chunks */
    test_roialign_many(1, 2, 2, 2, 2, 200);
    return lcv_test_finish("ops_detect");
}
