/* cmd_detect.c - `leancv detect`: runs a one-stage detector on an image (letterboxed to the
 * network input), decodes its head (YOLOv8, YOLOv5, SSD, RetinaNet, FCOS, CenterNet) with the
 * decoders of leancv_detect.h, applies NMS, maps the boxes back to image pixels, and prints,
 * draws and writes them as JSON (docs/RESULTS_JSON.md). */
#include <stdlib.h>
#include <string.h>

#include "cli_task.h"
#include "leancv_detect.h"

#define MAX_TOPK 10000
#define MAX_CANDIDATES 100000
#define PRINT_MAX 20

static const char *const HEADS[] = {"yolov8", "yolov5", "ssd", "retinanet", "fcos", "centernet"};
enum { H_V8, H_V5, H_SSD, H_RETINA, H_FCOS, H_CENTER, N_HEADS };

static void help(void) {
    printf(
        "usage: leancv detect MODEL IMAGE --head HEAD [options]\n\n"
        "Detects objects: the image is letterboxed to the network input, the head's output is\n"
        "decoded, overlapping boxes are suppressed (class-wise greedy NMS) and the boxes are\n"
        "mapped back to image pixels.\n\n"
        "  --head HEAD       yolov8 | yolov5 | ssd | retinanet | fcos | centernet, with outputs\n"
        "                    yolov8 [1,4+C,N]; yolov5 [1,N,5+C] (decoded boxes in pixels);\n"
        "                    ssd deltas [1,P,4], probabilities [1,P,C] (class 0 background),\n"
        "                    priors [1,P,4] (cx,cy,w,h relative; or --priors);\n"
        "                    retinanet deltas [1,A,4], logits [1,A,C], anchors [1,A,4]\n"
        "                    (x1,y1,x2,y2 pixels; or --priors); fcos per level cls [1,C,h,w],\n"
        "                    reg [1,4,h,w], centre-ness [1,1,h,w], or one output [1,C+5,h,w]\n"
        "                    holding the three (leancv's fcos-tiny); centernet heat [1,C,h,w],\n"
        "                    wh [1,2,h,w], offset [1,2,h,w]\n"
        "  --conf T          score threshold (default 0.25)\n"
        "  --iou T           NMS IoU threshold (default 0.45)\n"
        "  --topk K          keep at most K detections (default 100)\n"
        "  --priors FILE     .npy SSD priors / RetinaNet anchors when not a model output\n%s",
        cli_task_help);
}

typedef struct det_cfg {
    int head;
    float conf, iou;
    long topk;
    const char *priors_path;
} det_cfg;

/* Output i as float32 of the given rank with batch 1, and each dims[k] >= 0 matching; NULL
 * (after reporting the expected layout) otherwise. */
static const float *out_f32(const cli_task *t, const char *head, int i, int rank,
                            const int64_t *want, const char *expected, int64_t *d, int *rc) {
    const lcv_tensor *o = cli_task_output(t, i);
    bool ok = o && lcv_tensor_dtype(o) == LCV_DTYPE_FLOAT32 && lcv_tensor_ndim(o) == rank &&
              lcv_tensor_numel(o) > 0;
    for (int k = 0; ok && k < rank; k++) {
        d[k] = lcv_tensor_dim(o, k);
        ok = want[k] < 0 ? d[k] >= -want[k] : d[k] == want[k];
    }
    if (!ok) {
        *rc = cli_task_output_fail(t, head, i, expected);
        return NULL;
    }
    return lcv_tensor_cdata(o);
}

/* SSD priors / RetinaNet anchors [1,P,4] or [P,4]: output 2 or the --priors file. */
/* One FCOS level of h x w cells (level `level`, for messages) whose cells must tile the
 * input evenly. */
static int fcos_level(const cli_task *t, const float *cls, const float *reg, const float *ctr,
                      int64_t classes, int64_t h, int64_t w, int level, int64_t base,
                      lcv_candidates *c) {
    char err[512];
    if (t->net_h % h || t->net_w % w || t->net_h / h != t->net_w / w ||
        classes > LCV_MAP_MAX_CLASSES)
        return cli_fail(t->cmd, "head 'fcos': level %d of %lldx%lld cells does not divide the "
                        "%dx%d input into square cells", level, (long long)w, (long long)h,
                        t->net_w, t->net_h);
    if (lcv_decode_fcos(cls, reg, ctr, (int)classes, h, w, (int)(t->net_h / h), base, c, err,
                        sizeof err) != LCV_OK)
        return cli_fail(t->cmd, "head 'fcos': %s", err);
    return 0;
}

static const float *priors_of(const cli_task *t, const char *head, const det_cfg *cfg, int64_t n,
                              lcv_tensor **file, int *rc) {
    char err[512];
    const lcv_tensor *p = cli_task_output(t, 2);
    if (cfg->priors_path) {
        if (lcv_npy_read_file(cfg->priors_path, file, err, sizeof err) != LCV_OK) {
            *rc = cli_fail(t->cmd, "%s", err);
            return NULL;
        }
        p = *file;
    }
    int nd = p ? lcv_tensor_ndim(p) : 0;
    bool ok = p && lcv_tensor_dtype(p) == LCV_DTYPE_FLOAT32 && (nd == 2 || nd == 3) &&
              (nd == 2 || lcv_tensor_dim(p, 0) == 1) && lcv_tensor_dim(p, nd - 2) == n &&
              lcv_tensor_dim(p, nd - 1) == 4;
    if (!ok) {
        char want[96];
        snprintf(want, sizeof want, "%s [1,%lld,4] (or give --priors FILE.npy)",
                 strcmp(head, "ssd") == 0 ? "priors" : "anchors", (long long)n);
        if (cfg->priors_path)
            *rc = cli_fail(t->cmd, "--priors '%s' must be float32 [%lld,4] or [1,%lld,4]",
                           cfg->priors_path, (long long)n, (long long)n);
        else
            *rc = cli_task_output_fail(t, head, 2, want);
        lcv_tensor_free(*file);
        *file = NULL;
        return NULL;
    }
    return lcv_tensor_cdata(p);
}

/* Decodes the head's outputs into c. Returns 0 or the exit status after reporting. */
static int decode(const cli_task *t, const det_cfg *cfg, lcv_candidates *c) {
    const char *head = HEADS[cfg->head];
    char err[512] = "";
    int rc = 0;
    int64_t d[4], e[4], f[4];
    lcv_status st = LCV_OK;
    lcv_tensor *file = NULL;
    if (cfg->head == H_V8 || cfg->head == H_V5) {
        bool v8 = cfg->head == H_V8;
        int64_t want[3] = {1, v8 ? -5 : -1, v8 ? -1 : -6};
        const float *p = out_f32(t, head, 0, 3, want,
                                 v8 ? "[1,4+classes,N] (classes >= 1)"
                                    : "[1,N,5+classes] (classes >= 1)", d, &rc);
        if (!p) return rc;
        if (lcv_model_output_count(t->model) != 1)
            return cli_fail(t->cmd, "head '%s' expects one output; the model has %d", head,
                            lcv_model_output_count(t->model));
        int64_t classes = v8 ? d[1] - 4 : d[2] - 5, n = v8 ? d[2] : d[1];
        if (classes > LCV_MAP_MAX_CLASSES)
            return cli_fail(t->cmd, "head '%s': %lld classes is more than %d", head,
                            (long long)classes, LCV_MAP_MAX_CLASSES);
        st = lcv_decode_yolo(p, n, (int)classes, v8 ? LCV_YOLO_V8 : LCV_YOLO_V5, v8, 0, c, err,
                             sizeof err);
    } else if (cfg->head == H_SSD || cfg->head == H_RETINA) {
        bool ssd = cfg->head == H_SSD;
        int64_t wd[3] = {1, -1, 4}, wp[3] = {1, -1, ssd ? -2 : -1};
        const float *deltas = out_f32(t, head, 0, 3, wd, "box deltas [1,P,4]", d, &rc);
        if (!deltas) return rc;
        wp[1] = d[1];
        char exp[96];
        snprintf(exp, sizeof exp, ssd ? "class probabilities [1,%lld,C] (C >= 2)"
                                      : "class logits [1,%lld,C]", (long long)d[1]);
        const float *scores = out_f32(t, head, 1, 3, wp, exp, e, &rc);
        if (!scores) return rc;
        const float *pri = priors_of(t, head, cfg, d[1], &file, &rc);
        if (!pri) return rc;
        if (e[2] > LCV_MAP_MAX_CLASSES)
            rc = cli_fail(t->cmd, "too many classes (%lld)", (long long)e[2]);
        else if (ssd)
            st = lcv_decode_ssd(deltas, scores, pri, d[1], (int)e[2], 0.1f, 0.2f, (float)t->net_w,
                                (float)t->net_h, 0, c, err, sizeof err);
        else
            st = lcv_decode_retinanet(deltas, scores, pri, d[1], (int)e[2], 0, c, err, sizeof err);
    } else if (cfg->head == H_FCOS) {
        int n_out = lcv_model_output_count(t->model);
        if (n_out == 1) { /* leancv's fcos-tiny: class logits, distances, centre-ness stacked */
            int64_t wc[4] = {1, -6, -1, -1};
            const float *p = out_f32(t, head, 0, 4, wc, "[1,C+5,h,w] (C class logits, distances "
                                     "l,t,r,b, centre-ness logit; C >= 1)", d, &rc);
            if (!p) return rc;
            int64_t hw = d[2] * d[3], classes = d[1] - 5;
            return fcos_level(t, p, p + classes * hw, p + (classes + 4) * hw, classes, d[2], d[3],
                              0, 0, c);
        }
        if (n_out < 3 || n_out % 3)
            return cli_fail(t->cmd, "head 'fcos' expects one output [1,C+5,h,w] or 3 outputs per "
                            "level (cls [1,C,h,w], reg [1,4,h,w], centre-ness [1,1,h,w]); the "
                            "model has %d", n_out);
        int64_t base = 0;
        for (int l = 0; l < n_out && !rc; l += 3) {
            int64_t wc[4] = {1, -1, -1, -1};
            const float *cls =
                out_f32(t, head, l, 4, wc, "classification logits [1,C,h,w]", d, &rc);
            if (!cls) return rc;
            char exp[96];
            int64_t wr[4] = {1, 4, d[2], d[3]}, wt[4] = {1, 1, d[2], d[3]};
            snprintf(exp, sizeof exp, "box distances [1,4,%lld,%lld]", (long long)d[2],
                     (long long)d[3]);
            const float *reg = out_f32(t, head, l + 1, 4, wr, exp, e, &rc);
            if (!reg) return rc;
            snprintf(exp, sizeof exp, "centre-ness logits [1,1,%lld,%lld]", (long long)d[2],
                     (long long)d[3]);
            const float *ctr = out_f32(t, head, l + 2, 4, wt, exp, f, &rc);
            if (!ctr) return rc;
            rc = fcos_level(t, cls, reg, ctr, d[1], d[2], d[3], l / 3, base, c);
            base += d[2] * d[3];
        }
    } else {
        int64_t wh_[4] = {1, -1, -1, -1};
        const float *heat = out_f32(t, head, 0, 4, wh_, "heatmap [1,C,h,w]", d, &rc);
        if (!heat) return rc;
        int64_t w2[4] = {1, 2, d[2], d[3]};
        char exp[96];
        snprintf(exp, sizeof exp, "sizes [1,2,%lld,%lld]", (long long)d[2], (long long)d[3]);
        const float *wh = out_f32(t, head, 1, 4, w2, exp, e, &rc);
        if (!wh) return rc;
        snprintf(exp, sizeof exp, "offsets [1,2,%lld,%lld]", (long long)d[2], (long long)d[3]);
        const float *off = out_f32(t, head, 2, 4, w2, exp, f, &rc);
        if (!off) return rc;
        if (d[1] > LCV_MAP_MAX_CLASSES)
            return cli_fail(t->cmd, "too many classes (%lld)", (long long)d[1]);
        st = lcv_decode_centernet(heat, wh, off, (int)d[1], d[2], d[3],
                                  (float)t->net_w / (float)d[3], 0, c, err, sizeof err);
    }
    lcv_tensor_free(file);
    if (!rc && st != LCV_OK) rc = cli_fail(t->cmd, "head '%s': %s", head, err);
    return rc;
}

typedef struct detections {
    lcv_box *boxes; /* image pixels */
    float *scores;
    int32_t *labels;
    int64_t n;
} detections;

/* Candidates -> NMS (not for CenterNet, whose peaks are already unique) -> image pixels. */
static int finish(cli_task *t, const det_cfg *cfg, lcv_candidates *c, detections *out) {
    char err[512];
    lcv_candidates_sort(c);
    int64_t n = c->count, *keep = malloc((size_t)(n ? n : 1) * sizeof *keep), kept = 0;
    size_t ws_size = lcv_nms_workspace_size(n);
    void *ws = malloc(ws_size ? ws_size : 16);
    if (!keep || !ws) {
        free(keep);
        free(ws);
        return cli_fail(t->cmd, "out of memory for NMS of %lld boxes", (long long)n);
    }
    if (cfg->head == H_CENTER) {
        for (int64_t i = 0; i < n && i < cfg->topk; i++) keep[kept++] = i;
    } else {
        lcv_nms_params np = lcv_nms_default_params();
        np.iou_threshold = cfg->iou;
        np.score_threshold = cfg->conf;
        np.max_output = cfg->topk;
        if (lcv_nms(c->boxes, c->scores, c->labels, n, &np, ws, ws_size, keep, NULL, &kept, err,
                    sizeof err) != LCV_OK) {
            free(keep);
            free(ws);
            return cli_fail(t->cmd, "%s", err);
        }
    }
    double w = t->image->width, h = t->image->height;
    for (int64_t k = 0; k < kept; k++) {
        lcv_box b = c->boxes[keep[k]];
        double x[4] = {(b.x1 - t->pad_x) * t->sx, (b.y1 - t->pad_y) * t->sy,
                       (b.x2 - t->pad_x) * t->sx, (b.y2 - t->pad_y) * t->sy};
        for (int j = 0; j < 4; j++) {
            double lim = j % 2 ? h : w;
            x[j] = x[j] < 0 ? 0 : x[j] > lim ? lim : x[j];
        }
        lcv_box m = {(float)x[0], (float)x[1], (float)x[2], (float)x[3]};
        out->boxes[k] = m;
        out->scores[k] = c->scores[keep[k]];
        out->labels[k] = c->labels[keep[k]];
    }
    out->n = kept;
    free(keep);
    free(ws);
    return 0;
}

static void colour_of(int cls, uint8_t rgb[3]) { lcv_seg_palette(cls % 255 + 1, rgb); }

static int draw(const cli_task *t, const detections *d, const char *path) {
    char err[512];
    lcv_image *img = NULL;
    if (lcv_image_create(t->image->width, t->image->height, 3, &img) != LCV_OK)
        return cli_fail(t->cmd, "out of memory for the drawing");
    int64_t w = img->width, h = img->height;
    memcpy(img->data, t->image->data, (size_t)(w * h * 3));
    const uint8_t white[3] = {255, 255, 255};
    for (int64_t k = d->n - 1; k >= 0; k--) { /* the best on top */
        uint8_t col[3];
        colour_of(d->labels[k], col);
        lcv_draw_box(img->data, h, w, d->boxes[k], col, 2);
        char text[96];
        const char *name = cli_task_label(t, d->labels[k]);
        if (*name) snprintf(text, sizeof text, "%.60s %.2f", name, (double)d->scores[k]);
        else snprintf(text, sizeof text, "%d %.2f", (int)d->labels[k], (double)d->scores[k]);
        /* Above the box when there is room, else inside its top-left corner. */
        int64_t x = (int64_t)d->boxes[k].x1 + 1, y = (int64_t)d->boxes[k].y1 - 9;
        if (y < 1) {
            y = (int64_t)d->boxes[k].y1 + 4;
            x += 3;
        }
        /* Kept inside the image on the right: glyphs are 6 pixels apart plus the margin. */
        int64_t tw = 6 * (int64_t)strlen(text) + 1;
        if (x + tw > w) x = w - tw;
        if (x < 1) x = 1;
        lcv_draw_text(img->data, h, w, x, y, text, white, col, 1);
    }
    lcv_status st = lcv_image_write_png(path, img, err, sizeof err);
    lcv_image_free(img);
    if (st != LCV_OK) return cli_fail(t->cmd, "%s", err);
    fprintf(t->say, "wrote %s\n", path);
    return 0;
}

static int write_json(const cli_task *t, const cli_task_opts *o, const det_cfg *cfg,
                      const detections *d) {
    FILE *f = cli_task_json_open(t->cmd, o->json_path);
    if (!f) return 1;
    cj_writer w;
    cj_init(&w, f);
    cli_task_json_begin(t, &w, "detect", HEADS[cfg->head]);
    cj_array(&w, "detections", false);
    for (int64_t k = 0; k < d->n; k++) {
        cj_object(&w, NULL);
        cj_array(&w, "box", true);
        cj_number(&w, NULL, d->boxes[k].x1);
        cj_number(&w, NULL, d->boxes[k].y1);
        cj_number(&w, NULL, d->boxes[k].x2);
        cj_number(&w, NULL, d->boxes[k].y2);
        cj_end(&w);
        cj_number(&w, "score", d->scores[k]);
        cj_int(&w, "class", d->labels[k]);
        const char *name = cli_task_label(t, d->labels[k]);
        cj_string(&w, "label", *name ? name : NULL);
        cj_end(&w);
    }
    cj_end(&w);
    cj_null(&w, "segmentation");
    cj_array(&w, "text_regions", false);
    cj_end(&w);
    cj_end(&w);
    return cli_task_json_close(t->cmd, o->json_path, f);
}

static int parse_head(const char *v, int *head) {
    for (int i = 0; i < N_HEADS; i++)
        if (strcmp(v, HEADS[i]) == 0) {
            *head = i;
            return 0;
        }
    return cli_fail("detect", "--head '%s' is not one of yolov8, yolov5, ssd, retinanet, fcos, "
                    "centernet", v);
}

int cmd_detect(int argc, char **argv) {
    const char *cmd = "detect", *v;
    cli_task_opts o;
    cli_task_opts_init(&o);
    det_cfg cfg = {-1, 0.25f, 0.45f, 100, NULL};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            help();
            return 0;
        }
        int r = cli_task_opt(cmd, argc, argv, &i, &o);
        if (r < 0) return 1;
        if (r > 0) continue;
        if (strcmp(a, "--head") != 0 && strcmp(a, "--conf") != 0 && strcmp(a, "--iou") != 0 &&
            strcmp(a, "--topk") != 0 && strcmp(a, "--priors") != 0)
            return cli_fail(cmd, "unknown option '%s' (see leancv detect --help)", a);
        if (!(v = cli_value(cmd, argc, argv, &i))) return 1;
        if (strcmp(a, "--head") == 0) {
            if (parse_head(v, &cfg.head)) return 1;
        } else if (strcmp(a, "--conf") == 0 || strcmp(a, "--iou") == 0) {
            float *dst = a[2] == 'c' ? &cfg.conf : &cfg.iou;
            if (!cli_parse_float(v, dst) || !(*dst >= 0.0f && *dst <= 1.0f))
                return cli_fail(cmd, "%s '%s' is not a number in [0, 1]", a, v);
        } else if (strcmp(a, "--topk") == 0) {
            if (!cli_parse_int(v, 1, MAX_TOPK, &cfg.topk))
                return cli_fail(cmd, "--topk '%s' is not an integer in 1..%d", v, MAX_TOPK);
        } else if (strcmp(a, "--priors") == 0) {
            cfg.priors_path = v;
        } else {
            return cli_fail(cmd, "unknown option '%s' (see leancv detect --help)", a);
        }
    }
    if (cfg.head < 0) return cli_fail(cmd, "--head is required (see leancv detect --help)");
    cli_task t;
    int rc = cli_task_run(&t, cmd, &o, true);
    int64_t cap = cfg.topk * 10 < 1000 ? 1000 : cfg.topk * 10;
    cap = cap > MAX_CANDIDATES ? MAX_CANDIDATES : cap;
    lcv_candidates c = {0};
    detections d = {0};
    c.boxes = malloc((size_t)cap * sizeof *c.boxes);
    d.boxes = malloc((size_t)cap * sizeof *d.boxes);
    c.scores = malloc((size_t)cap * sizeof *c.scores);
    d.scores = malloc((size_t)cap * sizeof *d.scores);
    c.labels = malloc((size_t)cap * sizeof *c.labels);
    d.labels = malloc((size_t)cap * sizeof *d.labels);
    c.indices = malloc((size_t)cap * sizeof *c.indices);
    c.capacity = cap;
    c.score_threshold = cfg.conf;
    char err[512];
    if (!rc && (!c.boxes || !d.boxes || !c.scores || !d.scores || !c.labels || !d.labels ||
                !c.indices))
        rc = cli_fail(cmd, "out of memory");
    if (!rc && lcv_candidates_reset(&c, err, sizeof err) != LCV_OK) rc = cli_fail(cmd, "%s", err);
    double t0 = cli_now();
    if (!rc) rc = decode(&t, &cfg, &c);
    if (!rc) rc = finish(&t, &cfg, &c, &d);
    t.ms_post = (cli_now() - t0) * 1e3;
    if (!rc) {
        FILE *say = cli_task_say(&o);
        fprintf(say, "%s: %dx%d image, letterboxed to %dx%d input, head %s: %lld detection%s\n",
                o.image_path, t.image->width, t.image->height, t.net_w, t.net_h,
                HEADS[cfg.head], (long long)d.n, d.n == 1 ? "" : "s");
        for (int64_t k = 0; k < d.n && k < PRINT_MAX; k++) {
            const char *name = cli_task_label(&t, d.labels[k]);
            fprintf(say, "  %3lld. class %-4d %-16s %.3f  [%.1f, %.1f, %.1f, %.1f]\n",
                    (long long)k + 1, (int)d.labels[k], name, (double)d.scores[k],
                    (double)d.boxes[k].x1, (double)d.boxes[k].y1, (double)d.boxes[k].x2,
                    (double)d.boxes[k].y2);
        }
        if (d.n > PRINT_MAX) fprintf(say, "  ... %lld more\n", (long long)(d.n - PRINT_MAX));
        cli_task_print_timings(&t, say);
    }
    if (!rc && o.out_png) rc = draw(&t, &d, o.out_png);
    if (!rc && o.json_path) rc = write_json(&t, &o, &cfg, &d);
    free(c.boxes);
    free(d.boxes);
    free(c.scores);
    free(d.scores);
    free(c.labels);
    free(d.labels);
    free(c.indices);
    cli_task_free(&t);
    return rc;
}
