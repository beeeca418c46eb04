/* test_detect.c - box overlap, NMS and head decoders on hand-computed cases, argument errors
 * (a head of the wrong shape), and the IoU row kernels of every ISA level against the scalar
 * one (bit for bit) on odd lengths. The random comparisons with numpy implementations are
 * check_nms.py and check_decode.py. */
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "harness.h"
#include "leancv_detect.h"
#include "tasks/box.h"

static lcv_box B(float x1, float y1, float x2, float y2) {
    lcv_box b = {x1, y1, x2, y2};
    return b;
}

/* Runs lcv_nms; returns the count (or -1 on error) with keep/out filled. */
static int64_t run(const lcv_box *b, const float *s, const int32_t *l, int64_t n,
                   const lcv_nms_params *p, int64_t *keep, float *out, char *err) {
    size_t ws_size = lcv_nms_workspace_size(n);
    void *ws = malloc(ws_size ? ws_size : 1);
    int64_t nk = -7;
    lcv_status st = lcv_nms(b, s, l, n, p, ws, ws_size, keep, out, &nk, err, 256);
    free(ws);
    return st == LCV_OK ? nk : -1;
}

static void test_overlap(void) {
    CHECK(fabsf(lcv_box_iou(B(0, 0, 2, 2), B(1, 1, 3, 3)) - 1.0f / 7.0f) < 1e-7f);
    CHECK(lcv_box_iou(B(0, 0, 2, 2), B(0, 0, 2, 2)) == 1.0f);
    CHECK(lcv_box_iou(B(0, 0, 2, 2), B(5, 5, 6, 6)) == 0.0f);
    CHECK(lcv_box_iou(B(2, 2, 0, 0), B(0, 0, 2, 2)) == 0.0f); /* degenerate: area 0 */
    CHECK(lcv_box_iou(B(1, 1, 1, 1), B(1, 1, 1, 1)) == 0.0f); /* union 0 */
    /* GIoU: hull 3x3 = 9, union 7 */
    CHECK(fabsf(lcv_box_giou(B(0, 0, 2, 2), B(1, 1, 3, 3)) - (1.0f / 7.0f - 2.0f / 9.0f)) < 1e-6f);
    /* disjoint: iou 0, hull 6x6 = 36, union 2 -> -34/36 */
    CHECK(fabsf(lcv_box_giou(B(0, 0, 1, 1), B(5, 5, 6, 6)) + 34.0f / 36.0f) < 1e-6f);
}

static void test_methods(void) {
    /* A and B overlap with IoU 81/119 = 0.68; C is apart. */
    lcv_box b[3] = {B(0, 0, 10, 10), B(1, 1, 11, 11), B(20, 20, 30, 30)};
    float s[3] = {0.9f, 0.8f, 0.7f}, out[3];
    int32_t same[3] = {0, 0, 0}, split[3] = {0, 1, 0};
    int64_t keep[3];
    char err[256];
    lcv_nms_params p = lcv_nms_default_params();
    CHECK(run(b, s, same, 3, &p, keep, out, err) == 2 && keep[0] == 0 && keep[1] == 2);
    CHECK(out[0] == 0.9f && out[1] == 0.7f);
    p.iou_threshold = 0.7f; /* 0.68 is not above it */
    CHECK(run(b, s, same, 3, &p, keep, out, err) == 3);
    p.iou_threshold = 0.5f;
    CHECK(run(b, s, split, 3, &p, keep, out, err) == 3 && keep[1] == 1); /* other class */
    p.class_agnostic = 1;
    CHECK(run(b, s, split, 3, &p, keep, out, err) == 2);
    p.class_agnostic = 0;
    CHECK(run(b, s, NULL, 3, &p, keep, out, err) == 2); /* no labels: one class */
    p.max_output = 1;
    CHECK(run(b, s, split, 3, &p, keep, out, err) == 1 && keep[0] == 0);
    p.max_output = 0;
    p.score_threshold = 0.75f; /* C drops out before NMS */
    CHECK(run(b, s, same, 3, &p, keep, out, err) == 1 && keep[0] == 0);
    p.score_threshold = 0.0f;
    /* Soft-NMS linear: B decays to 0.8 * (1 - 81/119), after C. */
    p.method = LCV_NMS_SOFT_LINEAR;
    CHECK(run(b, s, same, 3, &p, keep, out, err) == 3 && keep[0] == 0 && keep[1] == 2 &&
          keep[2] == 1);
    CHECK(fabsf(out[2] - 0.8f * (1.0f - 81.0f / 119.0f)) < 1e-6f);
    p.score_threshold = 0.3f; /* the decayed B falls below it */
    CHECK(run(b, s, same, 3, &p, keep, out, err) == 2);
    p.score_threshold = 0.0f;
    /* Soft-NMS Gaussian: B * exp(-iou^2 / 0.5) */
    p.method = LCV_NMS_SOFT_GAUSSIAN;
    float o = 81.0f / 119.0f;
    CHECK(run(b, s, same, 3, &p, keep, out, err) == 3 && keep[2] == 1);
    CHECK(fabsf(out[2] - 0.8f * expf(-o * o / 0.5f)) < 1e-6f);
    /* Matrix NMS linear: comp(A) = 0, so B decays by (1 - iou) / 1; C by 1. */
    p.method = LCV_NMS_MATRIX_LINEAR;
    CHECK(run(b, s, same, 3, &p, keep, out, err) == 3 && keep[1] == 2 && keep[2] == 1);
    CHECK(fabsf(out[2] - 0.8f * (1.0f - o)) < 1e-6f && out[1] == 0.7f);
    /* Ties: equal scores keep the lower index first. */
    float tie[3] = {0.5f, 0.5f, 0.5f};
    p.method = LCV_NMS_GREEDY;
    lcv_box dup[3] = {b[0], b[0], b[0]};
    CHECK(run(dup, tie, same, 3, &p, keep, out, err) == 1 && keep[0] == 0);
    /* NaN scores never take part. */
    float nan_s[3] = {NAN, 0.8f, 0.7f};
    CHECK(run(b, nan_s, same, 3, &p, keep, out, err) == 2 && keep[0] == 1);
    CHECK(run(b, s, same, 0, &p, keep, out, err) == 0);
}

static void test_errors(void) {
    lcv_box b[2] = {B(0, 0, 1, 1), B(0, 0, 1, 1)};
    float s[2] = {0.5f, 0.4f};
    int32_t bad_label[2] = {0, -3};
    int64_t keep[2] = {42, 42};
    char err[256] = "";
    lcv_nms_params p = lcv_nms_default_params();
    CHECK(run(b, s, bad_label, 2, &p, keep, NULL, err) == -1 && strstr(err, "negative label"));
    CHECK(keep[0] == 42);
    CHECK(run(b, s, NULL, -1, &p, keep, NULL, err) == -1 && strstr(err, "negative box count"));
    p.iou_threshold = 1.5f;
    CHECK(run(b, s, NULL, 2, &p, keep, NULL, err) == -1 && strstr(err, "iou_threshold"));
    p.iou_threshold = NAN;
    CHECK(run(b, s, NULL, 2, &p, keep, NULL, err) == -1 && strstr(err, "iou_threshold"));
    p = lcv_nms_default_params();
    p.method = LCV_NMS_SOFT_GAUSSIAN;
    p.sigma = 0.0f;
    CHECK(run(b, s, NULL, 2, &p, keep, NULL, err) == -1 && strstr(err, "sigma"));
    p = lcv_nms_default_params();
    p.method = (lcv_nms_method)9;
    CHECK(run(b, s, NULL, 2, &p, keep, NULL, err) == -1 && strstr(err, "unknown method"));
    p = lcv_nms_default_params();
    int64_t nk;
    char ws[64] __attribute__((aligned(16)));
    CHECK(lcv_nms(b, s, NULL, 2, &p, ws, 8, keep, NULL, &nk, err, sizeof err) ==
              LCV_ERR_INVALID_ARG &&
          strstr(err, "workspace"));
    CHECK(lcv_nms_workspace_size(-1) == 0 && lcv_nms_workspace_size(INT64_MAX) == 0);
}

/* Every ISA's IoU row equals the scalar one bit for bit, on lengths around the vector widths. */
static void test_iou_rows(void) {
    enum { N = 301 };
    static float x1[N], y1[N], x2[N], y2[N], area[N], want[N], got[N];
    uint64_t r = 7;
    for (int i = 0; i < N; i++) {
        float v[4];
        for (int k = 0; k < 4; k++) {
            r = r * 6364136223846793005ULL + 1442695040888963407ULL;
            v[k] = (float)(r >> 40) / (float)(1 << 24) * 50.0f;
        }
        x1[i] = v[0];
        y1[i] = v[1];
        x2[i] = i % 13 == 0 ? v[0] - 1.0f : v[0] + v[2] * 0.5f; /* some degenerate */
        y2[i] = v[1] + v[3] * 0.5f;
        area[i] = lcv_box_area_xyxy(x1[i], y1[i], x2[i], y2[i]);
    }
    lcv_box_soa b = {x1, y1, x2, y2, area};
    lcv_cpu_info info;
    lcv_cpu_detect(&info);
    lcv_isa best = lcv_cpu_best_isa(&info);
    int lens[] = {0, 1, 7, 8, 9, 15, 16, 17, 31, 33, 300};
    for (lcv_isa isa = LCV_ISA_SCALAR; isa != LCV_ISA_AUTO; isa = lcv_isa_next(isa, best)) {
        lcv_iou_row_fn f = lcv_iou_row_for(isa);
        for (int i = 0; i < N; i += 37)
            for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
                int64_t j0 = i % 5, j1 = j0 + lens[li];
                if (j1 > N) j1 = N;
                lcv_iou_row_scalar(&b, i, j0, j1, want);
                memset(got, 0xff, sizeof got);
                f(&b, i, j0, j1, got);
                CHECK_MSG(memcmp(want, got, sizeof(float) * (size_t)(j1 - j0)) == 0 &&
                              got[j1 - j0] != got[j1 - j0], /* nothing written past the end */
                          "isa %s box %d length %lld", lcv_isa_name(isa), i, (long long)(j1 - j0));
                for (int64_t j = j0; j < j1; j++)
                    CHECK(want[j - j0] == lcv_box_iou(B(x1[i], y1[i], x2[i], y2[i]),
                                                      B(x1[j], y1[j], x2[j], y2[j])));
            }
    }
}

enum { CAP = 8 };
typedef struct cand_store {
    lcv_box boxes[CAP];
    float scores[CAP];
    int32_t labels[CAP];
    int64_t indices[CAP];
    lcv_candidates c;
} cand_store;

static void store_init(cand_store *s, int64_t topk, float thr) {
    lcv_candidates c = {s->boxes, s->scores, s->labels, s->indices, CAP, topk, thr, 0};
    s->c = c;
    char err[128];
    CHECK(lcv_candidates_reset(&s->c, err, sizeof err) == LCV_OK);
}

static void test_decoders(void) {
    cand_store s;
    char err[256] = "";
    /* YOLOv8 layout, channels first [4 + 2, 3]: rows (cx, cy, w, h, c0, c1). */
    float v8[6 * 3] = {10, 50, 90, /* cx */ 10, 50, 90, /* cy */ 4, 8, 2, /* w */ 2, 4, 6,
                       /* h */ 0.1f, 0.7f, 0.3f, /* class 0 */ 0.6f, 0.2f, 0.3f /* class 1 */};
    store_init(&s, 0, 0.25f);
    CHECK(lcv_decode_yolo(v8, 3, 2, LCV_YOLO_V8, 1, 100, &s.c, err, sizeof err) == LCV_OK);
    lcv_candidates_sort(&s.c);
    CHECK(s.c.count == 3 && s.c.indices[0] == 101 && s.c.labels[0] == 0 && s.c.scores[0] == 0.7f);
    CHECK(s.c.boxes[0].x1 == 46.0f && s.c.boxes[0].y2 == 52.0f);
    CHECK(s.c.indices[1] == 100 && s.c.labels[1] == 1); /* 0.6 */
    CHECK(s.c.indices[2] == 102 && s.c.labels[2] == 0); /* tie 0.3/0.3: lowest class */
    /* top-1 keeps the best only, whatever the order of adding */
    store_init(&s, 1, 0.0f);
    CHECK(lcv_decode_yolo(v8, 3, 2, LCV_YOLO_V8, 1, 0, &s.c, err, sizeof err) == LCV_OK);
    CHECK(s.c.count == 1 && s.c.indices[0] == 1);
    /* CenterNet: one peak per class; a plateau of equal values gives each of its cells. */
    float heat[2 * 2 * 3] = {0.1f, 0.9f, 0.2f, 0.1f, 0.3f, 0.1f, /* class 0: peak at (0, 1) */
                             0.5f, 0.5f, 0.1f, 0.1f, 0.1f, 0.1f /* class 1: plateau */};
    float wh[2 * 6], off[2 * 6];
    for (int i = 0; i < 12; i++) {
        wh[i] = 2.0f;
        off[i] = 0.5f;
    }
    store_init(&s, 0, 0.4f);
    CHECK(lcv_decode_centernet(heat, wh, off, 2, 2, 3, 4.0f, 0, &s.c, err, sizeof err) ==
          LCV_OK);
    lcv_candidates_sort(&s.c);
    CHECK(s.c.count == 3 && s.c.indices[0] == 1 && s.c.labels[0] == 0);
    /* centre (1 + 0.5, 0 + 0.5) cells, half size 1, times 4 */
    CHECK(s.c.boxes[0].x1 == 2.0f && s.c.boxes[0].y1 == -2.0f && s.c.boxes[0].x2 == 10.0f);
    CHECK(s.c.labels[1] == 1 && s.c.labels[2] == 1 && s.c.indices[1] == 6 && s.c.indices[2] == 7);
    /* Wrong shapes and sets: clear errors. */
    store_init(&s, 0, 0.0f);
    CHECK(lcv_decode_yolo(v8, 3, 0, LCV_YOLO_V8, 1, 0, &s.c, err, sizeof err) ==
              LCV_ERR_INVALID_ARG &&
          strstr(err, "yolo decoder: classes"));
    CHECK(lcv_decode_ssd(v8, v8, v8, 3, 1, 0.1f, 0.2f, 1, 1, 0, &s.c, err, sizeof err) ==
              LCV_ERR_INVALID_ARG &&
          strstr(err, "background"));
    CHECK(lcv_decode_fcos(v8, v8, v8, 2, 0, 3, 8, 0, &s.c, err, sizeof err) ==
              LCV_ERR_INVALID_ARG &&
          strstr(err, "sizes"));
    CHECK(lcv_decode_dfl(v8, v8, 16, 2, INT64_MAX / 2, 3, 8.0f, 0, &s.c, err, sizeof err) ==
              LCV_ERR_INVALID_ARG &&
          strstr(err, "overflow"));
    CHECK(lcv_decode_centernet(heat, wh, off, 2, 2, 3, 4.0f, 0, NULL, err, sizeof err) ==
              LCV_ERR_INVALID_ARG &&
          strstr(err, "candidate set"));
    lcv_candidates bad = {s.boxes, s.scores, s.labels, s.indices, CAP, CAP + 1, 0.0f, 0};
    CHECK(lcv_candidates_reset(&bad, err, sizeof err) == LCV_ERR_INVALID_ARG &&
          strstr(err, "topk"));
    bad.topk = 0;
    bad.capacity = 0;
    CHECK(lcv_candidates_reset(&bad, err, sizeof err) == LCV_ERR_INVALID_ARG &&
          strstr(err, "capacity"));
}

static void test_segmentation(void) {
    char err[256] = "";
    uint8_t c0[3], c1[3], c5[3];
    lcv_seg_palette(0, c0);
    lcv_seg_palette(1, c1);
    lcv_seg_palette(5, c5); /* bits 101: red and blue high */
    CHECK(c0[0] == 0 && c0[1] == 0 && c0[2] == 0);
    CHECK(c1[0] == 128 && c1[1] == 0 && c1[2] == 0);
    CHECK(c5[0] == 128 && c5[1] == 0 && c5[2] == 128);
    /* 2x2 logits, 2 classes, kept at 2x2: plain argmax; ties go to class 0 */
    float lg[8] = {1, 5, 3, 0, /* class 0 */ 2, 5, 1, 0 /* class 1 */};
    uint8_t lab[4], rgb[12];
    CHECK(lcv_seg_argmax(lg, 2, 2, 2, 2, 2, lab, err, sizeof err) == LCV_OK);
    CHECK(lab[0] == 1 && lab[1] == 0 && lab[2] == 0 && lab[3] == 0);
    /* 1x1 logits resized to 2x2 stay constant */
    float one[2] = {0.5f, 0.7f};
    CHECK(lcv_seg_argmax(one, 2, 1, 1, 2, 2, lab, err, sizeof err) == LCV_OK && lab[3] == 1);
    for (int i = 0; i < 12; i++) rgb[i] = 100;
    uint8_t mixed[4] = {0, 1, 1, 0};
    CHECK(lcv_seg_overlay(rgb, 2, 2, mixed, NULL, 0, 0.5f, err, sizeof err) == LCV_OK);
    CHECK(rgb[0] == 100 && rgb[3] == 114 && rgb[4] == 50 && rgb[5] == 50); /* (100+128)/2 */
    CHECK(lcv_seg_overlay(rgb, 2, 2, mixed, NULL, 0, 1.5f, err, sizeof err) ==
              LCV_ERR_INVALID_ARG &&
          strstr(err, "alpha"));
    CHECK(lcv_seg_argmax(lg, 300, 2, 2, 2, 2, lab, err, sizeof err) == LCV_ERR_INVALID_ARG &&
          strstr(err, "1..256"));
    /* test-time flip: 2 classes of 1x3 logits; the mirrored run's rows are reversed, then added */
    float mine[6] = {1, 2, 3, /* class 1 */ 0, 0, 1}, mir[6] = {10, 20, 30, /* class 1 */ 4, 5, 6};
    CHECK(lcv_seg_add_mirrored(mine, mir, 2, 1, 3, err, sizeof err) == LCV_OK);
    CHECK(mine[0] == 31 && mine[1] == 22 && mine[2] == 13 && mine[3] == 6 && mine[4] == 5 &&
          mine[5] == 5);
    CHECK(lcv_seg_add_mirrored(mine, mine, 2, 1, 3, err, sizeof err) == LCV_ERR_INVALID_ARG &&
          strstr(err, "one buffer"));
    CHECK(lcv_seg_add_mirrored(mine, mir, 2, 0, 3, err, sizeof err) == LCV_ERR_INVALID_ARG &&
          strstr(err, "logit sum"));
    /* instance mask: one prototype, coefficient 1: logit 2 everywhere, box covers the left half */
    float proto[4] = {2, 2, 2, 2}, coeff = 1.0f;
    lcv_box half = {0, 0, 1, 2};
    int64_t area = -1;
    uint8_t m[4];
    CHECK(lcv_instance_mask(proto, 1, 2, 2, &coeff, half, 0.5f, 2, 2, m, &area, err,
                            sizeof err) == LCV_OK);
    CHECK(area == 2 && m[0] == 1 && m[1] == 0 && m[2] == 1 && m[3] == 0);
    CHECK(lcv_instance_mask(proto, 1, 2, 2, &coeff, half, 0.0f, 2, 2, m, &area, err,
                            sizeof err) == LCV_ERR_INVALID_ARG &&
          strstr(err, "threshold"));
}

static void test_textdet(void) {
    /* a 4 x 2 text bar at x 1..4, y 1..2 in a 5 x 7 map, and one noise pixel (6, 4) apart from it,
     * below the box threshold */
    float prob[5 * 7] = {0};
    for (int y = 1; y <= 2; y++)
        for (int x = 1; x <= 4; x++) prob[y * 7 + x] = 0.9f;
    prob[4 * 7 + 6] = 0.5f;
    lcv_textdet_params p = lcv_textdet_default_params();
    p.unclip_ratio = 0.0f;
    p.min_side = 0.0f;
    size_t ws_size = lcv_textdet_workspace_size(5, 7);
    void *ws = malloc(ws_size);
    lcv_quad q[4];
    float sc[4];
    int64_t n = -1, found = -1;
    char err[256] = "";
    CHECK(lcv_textdet(prob, 5, 7, &p, ws, ws_size, q, sc, 4, &n, &found, err, sizeof err) ==
          LCV_OK);
    CHECK(n == 1 && found == 1 && sc[0] == 0.9f);
    /* the rectangle [1, 5] x [1, 3], first corner the one with the smallest x + y */
    float xs = 0, ys = 0;
    for (int i = 0; i < 4; i++) {
        xs += q[0].x[i];
        ys += q[0].y[i];
    }
    CHECK(fabsf(q[0].x[0] - 1.0f) < 1e-5f && fabsf(q[0].y[0] - 1.0f) < 1e-5f);
    CHECK(fabsf(xs - 12.0f) < 1e-4f && fabsf(ys - 8.0f) < 1e-4f);
    /* DBNet's offset: area 8, perimeter 12, ratio 1.5 -> D = 1 on every side */
    p.unclip_ratio = 1.5f;
    CHECK(lcv_textdet(prob, 5, 7, &p, ws, ws_size, q, sc, 4, &n, &found, err, sizeof err) ==
              LCV_OK &&
          n == 1);
    CHECK(fabsf(q[0].x[0]) < 1e-5f && fabsf(q[0].y[0]) < 1e-5f);
    /* the noise pixel alone passes a lower box threshold; min_side drops it again */
    p.box_threshold = 0.4f;
    CHECK(lcv_textdet(prob, 5, 7, &p, ws, ws_size, q, sc, 4, &n, &found, err, sizeof err) ==
              LCV_OK &&
          n == 2);
    p.min_side = 3.0f; /* the single pixel grows to 1 + 2 * 0.375 */
    CHECK(lcv_textdet(prob, 5, 7, &p, ws, ws_size, q, sc, 1, &n, &found, err, sizeof err) ==
              LCV_OK &&
          n == 1 && found == 1);
    CHECK(lcv_textdet(prob, 5, 7, &p, ws, 8, q, sc, 1, &n, &found, err, sizeof err) ==
              LCV_ERR_INVALID_ARG &&
          strstr(err, "workspace"));
    p.scale_x = 0.0f;
    CHECK(lcv_textdet(prob, 5, 7, &p, ws, ws_size, q, sc, 1, &n, &found, err, sizeof err) ==
              LCV_ERR_INVALID_ARG &&
          strstr(err, "scales"));
    CHECK(lcv_textdet_workspace_size(0, 5) == 0 && lcv_textdet_workspace_size(INT64_MAX, 2) == 0);
    free(ws);
}

/* Count of pixels of an RGB image equal to c. */
static int64_t count_color(const uint8_t *rgb, int64_t n, const uint8_t c[3]) {
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++)
        k += rgb[3 * i] == c[0] && rgb[3 * i + 1] == c[1] && rgb[3 * i + 2] == c[2];
    return k;
}

static void test_draw(void) {
    enum { H = 40, W = 60 };
    static uint8_t img[H * W * 3];
    const uint8_t red[3] = {255, 0, 0}, white[3] = {255, 255, 255}, black[3] = {0, 0, 0};
    memset(img, 0, sizeof img);
    /* outline of [10, 20) x [5, 15), 2 pixels wide: 10 x 10 minus the 6 x 6 inside */
    lcv_draw_box(img, H, W, B(10, 5, 20, 15), red, 2);
    CHECK(count_color(img, H * W, red) == 100 - 36);
    CHECK(img[3 * (5 * W + 10)] == 255 && img[3 * (8 * W + 13)] == 0);
    /* clipped at the image edges, and boxes far outside draw nothing */
    memset(img, 0, sizeof img);
    lcv_draw_box(img, H, W, B(-100, -100, 1e30f, 1e30f), red, 1);
    CHECK(count_color(img, H * W, red) == 0);
    lcv_draw_box(img, H, W, B(-5, -5, 5, 5), red, 1);
    CHECK(count_color(img, H * W, red) == 5 + 5 - 1);
    /* "I": its middle column is lit on all 7 rows; with a background the block is filled */
    memset(img, 0, sizeof img);
    int64_t wd = lcv_draw_text(img, H, W, 2, 2, "I", white, NULL, 1);
    CHECK(wd == 5 && count_color(img, H * W, white) == 3 + 5 + 3);
    CHECK(img[3 * (5 * W + 4)] == 255);
    memset(img, 0, sizeof img);
    const uint8_t blue[3] = {0, 0, 255};
    lcv_draw_text(img, H, W, 2, 2, "I", white, blue, 2);
    CHECK(count_color(img, H * W, white) == 11 * 4 &&
          count_color(img, H * W, blue) == (10 + 4) * (14 + 4) - 44);
    /* a quad through far-away corners is clipped, not walked pixel by pixel */
    memset(img, 0, sizeof img);
    lcv_quad q = {{-1e9f, 1e9f, 1e9f, -1e9f}, {10, 10, 12, 12}};
    lcv_draw_quad(img, H, W, &q, red);
    CHECK(count_color(img, H * W, red) == 2 * W);
    lcv_quad nanq = {{NAN, 1, 2, 3}, {0, 1, 2, 3}};
    lcv_draw_quad(img, H, W, &nanq, black);
    uint8_t mask[H * W];
    memset(mask, 0, sizeof mask);
    mask[0] = 1;
    memset(img, 100, sizeof img);
    lcv_draw_mask(img, H, W, mask, red, 0.5f);
    CHECK(img[0] == 178 && img[1] == 50 && img[3] == 100);
}

int main(void) {
    test_draw();
    test_textdet();
    test_segmentation();
    test_decoders();
    test_overlap();
    test_methods();
    test_errors();
    test_iou_rows();
    return lcv_test_finish("tasks_detect");
}
