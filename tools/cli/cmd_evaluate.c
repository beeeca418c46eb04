/* cmd_evaluate.c - `leancv evaluate`: scores results against ground truth. Detection: results
 * JSON (one file per image as leancv detect writes, or one file with a list) against ground
 * truth in the same forms -> COCO-style mAP@[.5:.95], mAP@.5, mAP@.75 and per-class AP
 * (lcv_map). Segmentation: predicted vs ground-truth label PNGs -> mIoU, pixel accuracy and
 * per-class IoU (lcv_confusion_add / lcv_miou). Formats: docs/RESULTS_JSON.md; reading them:
 * eval_read.c. */
#include <stdlib.h>
#include <string.h>

#include "cli_json.h"
#include "cli_task.h"
#include "eval_read.h"
#include "leancv_detect.h"

static const char *const CMD = "evaluate";

static void help(void) {
    printf(
        "usage: leancv evaluate --pred PATH --gt PATH [options]\n\n"
        "Detection (default): PATH is a directory of results JSON files (one per image, as\n"
        "leancv detect --json writes them) or one JSON file holding such an object, a list of\n"
        "them, or a list of flat records {\"image\", \"box\" [x1,y1,x2,y2] or \"bbox\" [x,y,w,h],\n"
        "\"class\" or \"category_id\", \"score\"}. Images are matched by the base name of their\n"
        "\"image\" member (the file name without .json when there is none).\n"
        "Prints mAP@[.5:.95], mAP@.5, mAP@.75 and per-class AP (docs/RESULTS_JSON.md).\n\n"
        "Segmentation (--task segment): PATHs are directories of 8-bit grey label PNGs\n"
        "matched by file name. Prints mIoU, pixel accuracy and per-class IoU.\n\n"
        "  --task detect|segment\n"
        "  --classes N       number of classes (detection default: largest class + 1;\n"
        "                    required for segmentation)\n"
        "  --max-det N       keep the N best detections per image, as COCO (default 100; 0: all)\n"
        "  --ignore K        ground-truth label not counted (segmentation, default 255; -1: none)\n"
        "  --labels FILE     class names, one per line\n"
        "  --json FILE       also write the scores as JSON ('-': stdout)\n");
}

typedef struct eval_opts {
    const char *pred, *gt, *labels_path, *json_path;
    long classes, ignore, max_det;
    bool segment;
    char **labels, *label_text;
    int n_labels;
} eval_opts;

static const char *label_of(const eval_opts *o, int c) {
    return c < o->n_labels ? o->labels[c] : "";
}

static FILE *json_open(const eval_opts *o, cj_writer *w, const char *task) {
    FILE *f = cli_task_json_open(CMD, o->json_path);
    if (!f) return NULL;
    cj_init(w, f);
    cj_object(w, NULL);
    cj_int(w, "leancv_evaluation", 1);
    cj_string(w, "task", task);
    cj_string(w, "pred", o->pred);
    cj_string(w, "gt", o->gt);
    return f;
}

static int eval_detect(eval_opts *o) {
    eval_boxes gt = {0}, pred = {0};
    eval_names images = {0};
    gt.max_label = pred.max_label = -1;
    int rc = eval_read_results(&gt, &images, false, o->gt);
    int64_t gt_images = images.n;
    if (!rc) rc = eval_read_results(&pred, &images, true, o->pred);
    if (!rc && o->max_det) rc = eval_cap_per_image(&pred, o->max_det);
    int classes =
        (int)(o->classes ? o->classes
                         : 1 + (gt.max_label > pred.max_label ? gt.max_label : pred.max_label));
    if (classes < 1) classes = 1;
    void *ws = NULL;
    double *ap = NULL;
    int64_t *count = NULL;
    lcv_map_result res;
    char err[512];
    if (!rc && o->classes && (gt.max_label >= classes || pred.max_label >= classes))
        rc = cli_fail(CMD, "class %d found, but --classes is %d",
                      gt.max_label >= classes ? gt.max_label : pred.max_label, classes);
    if (!rc) {
        size_t ws_size = lcv_map_workspace_size(pred.n, gt.n, classes);
        ws = ws_size ? malloc(ws_size) : NULL;
        ap = malloc((size_t)classes * LCV_MAP_THRESHOLDS * sizeof *ap);
        count = calloc((size_t)classes * 2, sizeof *count);
        lcv_box_set d = {pred.boxes, pred.scores, pred.labels, pred.images, pred.n};
        lcv_box_set g = {gt.boxes, NULL, gt.labels, gt.images, gt.n};
        if (!ws || !ap || !count) rc = cli_fail(CMD, "out of memory");
        else if (lcv_map(&d, &g, classes, ws, ws_size, ap, &res, err, sizeof err) != LCV_OK)
            rc = cli_fail(CMD, "%s", err);
    }
    if (!rc) {
        int64_t stray = 0;
        for (int64_t i = 0; i < gt.n; i++) count[2 * gt.labels[i]]++;
        for (int64_t i = 0; i < pred.n; i++) {
            count[2 * pred.labels[i] + 1]++;
            stray += pred.images[i] >= gt_images;
        }
        FILE *say = o->json_path && strcmp(o->json_path, "-") == 0 ? stderr : stdout;
        fprintf(say, "detection: %lld images with ground truth, %lld ground truths, %lld "
                "detections, %d of %d classes present\n", (long long)gt_images, (long long)gt.n,
                (long long)pred.n, res.classes_present, classes);
        if (stray)
            fprintf(say, "note: %lld detections on %lld images without ground truth count as "
                    "false positives\n", (long long)stray, (long long)(images.n - gt_images));
        fprintf(say, "mAP@[.5:.95]: %.4f\nmAP@.5:       %.4f\nmAP@.75:      %.4f\n", res.map,
                res.map50, res.map75);
        fprintf(say,
                "per-class AP:\n  class  AP[.5:.95]   AP@.5  AP@.75       gt      det  label\n");
        FILE *jf = NULL;
        cj_writer w;
        if (o->json_path && !(jf = json_open(o, &w, "detect"))) rc = 1;
        if (jf) {
            cj_number(&w, "map", res.map);
            cj_number(&w, "map50", res.map50);
            cj_number(&w, "map75", res.map75);
            cj_int(&w, "images", gt_images);
            cj_int(&w, "classes_present", res.classes_present);
            cj_array(&w, "per_class", false);
        }
        for (int c = 0; c < classes; c++) {
            const double *a = ap + (size_t)c * LCV_MAP_THRESHOLDS;
            if (!count[2 * c] && !count[2 * c + 1]) continue;
            double mean = 0;
            for (int t = 0; t < LCV_MAP_THRESHOLDS; t++) mean += a[t] / LCV_MAP_THRESHOLDS;
            if (a[0] < 0)
                fprintf(say,
                        "  %5d         -        -       -  %7lld  %7lld  %s (no ground truth)\n", c,
                        (long long)count[2 * c], (long long)count[2 * c + 1], label_of(o, c));
            else
                fprintf(say, "  %5d  %10.4f  %6.4f  %6.4f  %7lld  %7lld  %s\n", c, mean, a[0],
                        a[5], (long long)count[2 * c], (long long)count[2 * c + 1], label_of(o, c));
            if (!jf) continue;
            cj_object(&w, NULL);
            cj_int(&w, "class", c);
            cj_string(&w, "label", *label_of(o, c) ? label_of(o, c) : NULL);
            if (a[0] < 0) {
                cj_null(&w, "ap");
                cj_null(&w, "ap50");
                cj_null(&w, "ap75");
            } else {
                cj_number(&w, "ap", mean);
                cj_number(&w, "ap50", a[0]);
                cj_number(&w, "ap75", a[5]);
            }
            cj_int(&w, "gt", count[2 * c]);
            cj_int(&w, "det", count[2 * c + 1]);
            cj_end(&w);
        }
        if (jf) {
            cj_end(&w);
            cj_end(&w);
            rc = cli_task_json_close(CMD, o->json_path, jf);
        }
    }
    free(ws);
    free(ap);
    free(count);
    eval_boxes_free(&gt);
    eval_boxes_free(&pred);
    eval_names_free(&images);
    return rc;
}

/* Loads one label PNG as grey. */
static int load_labels(const char *dir, const char *name, lcv_image **img) {
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    lcv_image_params p = lcv_image_default_params();
    p.channels = 1;
    if (lcv_image_load_file(path, &p, img, err, sizeof err) != LCV_OK)
        return cli_fail(CMD, "%s", err);
    return 0;
}

static int eval_segment(eval_opts *o) {
    if (!o->classes) return cli_fail(CMD, "--task segment needs --classes N");
    if (o->classes > 256)
        return cli_fail(CMD, "--classes %ld: label PNGs hold at most 256", o->classes);
    char **files = NULL, err[512];
    int64_t n = 0;
    int classes = (int)o->classes, rc = eval_list_dir(o->gt, ".png", &files, &n);
    if (!rc && !n) rc = cli_fail(CMD, "directory '%s' holds no .png files", o->gt);
    int64_t *m = calloc((size_t)classes * (size_t)classes, sizeof *m);
    double *iou = malloc((size_t)classes * sizeof *iou);
    if (!rc && (!m || !iou)) rc = cli_fail(CMD, "out of memory");
    for (int64_t i = 0; i < n && !rc; i++) {
        lcv_image *g = NULL, *p = NULL;
        rc = load_labels(o->gt, files[i], &g);
        if (!rc) rc = load_labels(o->pred, files[i], &p);
        if (!rc && (g->width != p->width || g->height != p->height))
            rc = cli_fail(CMD, "'%s': prediction is %dx%d, ground truth %dx%d", files[i],
                          p->width, p->height, g->width, g->height);
        if (!rc && lcv_confusion_add(m, classes, p->data, g->data,
                                     (int64_t)g->width * g->height, (int)o->ignore, err,
                                     sizeof err) != LCV_OK)
            rc = cli_fail(CMD, "'%s': %s", files[i], err);
        lcv_image_free(g);
        lcv_image_free(p);
    }
    lcv_miou_result r;
    if (!rc && lcv_miou(m, classes, iou, &r, err, sizeof err) != LCV_OK)
        rc = cli_fail(CMD, "%s", err);
    if (!rc) {
        FILE *say = o->json_path && strcmp(o->json_path, "-") == 0 ? stderr : stdout;
        fprintf(say, "segmentation: %lld images, %lld pixels counted, %d of %d classes seen\n",
                (long long)n, (long long)r.pixels, r.classes_counted, classes);
        fprintf(say, "mIoU: %.4f\npixel accuracy: %.4f\nper-class IoU:\n  class     IoU  label\n",
                r.miou, r.pixel_accuracy);
        FILE *jf = NULL;
        cj_writer w;
        if (o->json_path && !(jf = json_open(o, &w, "segment"))) rc = 1;
        if (jf) {
            cj_number(&w, "miou", r.miou);
            cj_number(&w, "pixel_accuracy", r.pixel_accuracy);
            cj_int(&w, "images", n);
            cj_array(&w, "per_class", false);
        }
        for (int c = 0; c < classes; c++) {
            if (iou[c] < 0) continue;
            fprintf(say, "  %5d  %6.4f  %s\n", c, iou[c], label_of(o, c));
            if (!jf) continue;
            cj_object(&w, NULL);
            cj_int(&w, "class", c);
            cj_string(&w, "label", *label_of(o, c) ? label_of(o, c) : NULL);
            cj_number(&w, "iou", iou[c]);
            cj_end(&w);
        }
        if (jf) {
            cj_end(&w);
            cj_end(&w);
            rc = cli_task_json_close(CMD, o->json_path, jf);
        }
    }
    free(m);
    free(iou);
    eval_free_names(files, n);
    return rc;
}

int cmd_evaluate(int argc, char **argv) {
    eval_opts o = {0};
    o.ignore = 255;
    o.max_det = 100;
    const char *v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            help();
            return 0;
        }
        if (strcmp(a, "--pred") != 0 && strcmp(a, "--gt") != 0 && strcmp(a, "--labels") != 0 &&
            strcmp(a, "--json") != 0 && strcmp(a, "--task") != 0 && strcmp(a, "--classes") != 0 &&
            strcmp(a, "--ignore") != 0 &&
            strcmp(a, "--max-det") != 0)
            return cli_fail(CMD, "unknown option '%s' (see leancv evaluate --help)", a);
        if (!(v = cli_value(CMD, argc, argv, &i))) return 1;
        if (strcmp(a, "--pred") == 0) {
            o.pred = v;
        } else if (strcmp(a, "--gt") == 0) {
            o.gt = v;
        } else if (strcmp(a, "--labels") == 0) {
            o.labels_path = v;
        } else if (strcmp(a, "--json") == 0) {
            o.json_path = v;
        } else if (strcmp(a, "--task") == 0) {
            if (strcmp(v, "segment") && strcmp(v, "detect"))
                return cli_fail(CMD, "--task '%s' is not detect or segment", v);
            o.segment = strcmp(v, "segment") == 0;
        } else if (strcmp(a, "--classes") == 0) {
            if (!cli_parse_int(v, 1, LCV_MAP_MAX_CLASSES, &o.classes))
                return cli_fail(CMD, "--classes '%s' is not an integer in 1..%d", v,
                                LCV_MAP_MAX_CLASSES);
        } else if (strcmp(a, "--max-det") == 0) {
            if (!cli_parse_int(v, 0, 1000000, &o.max_det))
                return cli_fail(CMD, "--max-det '%s' is not an integer in 0..1000000", v);
        } else if (strcmp(a, "--ignore") == 0) {
            if (!cli_parse_int(v, -1, 255, &o.ignore))
                return cli_fail(CMD, "--ignore '%s' is not an integer in -1..255", v);
        } else {
            return cli_fail(CMD, "unknown option '%s' (see leancv evaluate --help)", a);
        }
    }
    if (!o.pred || !o.gt)
        return cli_fail(CMD, "needs --pred PATH and --gt PATH (see leancv evaluate --help)");
    int rc = 0;
    if (o.labels_path &&
        (rc = cli_read_labels(CMD, o.labels_path, &o.label_text, &o.labels, &o.n_labels)))
        return rc;
    rc = o.segment ? eval_segment(&o) : eval_detect(&o);
    free(o.labels);
    free(o.label_text);
    return rc;
}
