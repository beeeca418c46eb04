/* train_detval.c - validation of a detector during `leancv train`: each image's head output
 * (fcos-tiny's single output [N, classes + 5, h, w]) is decoded as leancv detect --head fcos
 * does (lcv_decode_fcos, class-wise greedy NMS), and the detections of the whole set are scored
 * against its boxes with COCO-style mAP (lcv_map). */
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "leancv_detect.h"
#include "train_opts.h"

/* The decoding leancv detect uses to evaluate (docs/TRAINING.md, detection). */
#define VAL_CONF 0.05f
#define VAL_IOU 0.5f
#define VAL_TOPK 100

/* Growing arrays of boxes with their scores, classes and images. */
typedef struct box_list {
    lcv_box *boxes;
    float *scores;
    int32_t *labels;
    int64_t *images;
    int64_t count, cap;
} box_list;

static bool list_add(box_list *l, lcv_box b, float score, int32_t label, int64_t image) {
    if (l->count == l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 1024;
        lcv_box *nb = realloc(l->boxes, sizeof *nb * (size_t)cap);
        if (nb) l->boxes = nb;
        float *ns = realloc(l->scores, sizeof *ns * (size_t)cap);
        if (ns) l->scores = ns;
        int32_t *nl = realloc(l->labels, sizeof *nl * (size_t)cap);
        if (nl) l->labels = nl;
        int64_t *ni = realloc(l->images, sizeof *ni * (size_t)cap);
        if (ni) l->images = ni;
        if (!nb || !ns || !nl || !ni) return false;
        l->cap = cap;
    }
    l->boxes[l->count] = b;
    l->scores[l->count] = score;
    l->labels[l->count] = label;
    l->images[l->count] = image;
    l->count++;
    return true;
}

static void list_free(box_list *l) {
    free(l->boxes);
    free(l->scores);
    free(l->labels);
    free(l->images);
}

/* Candidate and NMS buffers for up to VAL_TOPK * classes candidates of one image. */
typedef struct det_scratch {
    lcv_candidates c;
    int64_t *keep;
    void *ws;
    size_t ws_size;
} det_scratch;

static bool scratch_init(det_scratch *s, int64_t cap) {
    memset(s, 0, sizeof *s);
    s->c.boxes = malloc(sizeof *s->c.boxes * (size_t)cap);
    s->c.scores = malloc(sizeof *s->c.scores * (size_t)cap);
    s->c.labels = malloc(sizeof *s->c.labels * (size_t)cap);
    s->c.indices = malloc(sizeof *s->c.indices * (size_t)cap);
    s->keep = malloc(sizeof *s->keep * (size_t)cap);
    s->ws_size = lcv_nms_workspace_size(cap);
    s->ws = malloc(s->ws_size);
    s->c.capacity = cap;
    s->c.score_threshold = VAL_CONF;
    return s->c.boxes && s->c.scores && s->c.labels && s->c.indices && s->keep && s->ws;
}

static void scratch_free(det_scratch *s) {
    free(s->c.boxes);
    free(s->c.scores);
    free(s->c.labels);
    free(s->c.indices);
    free(s->keep);
    free(s->ws);
}

/* Decodes image i of a batch's head output into det (image id `image`). */
static int decode_image(const char *cmd, const float *out, int classes, int64_t h, int64_t w,
                        int stride, det_scratch *s, int64_t image, box_list *det) {
    char err[256];
    int64_t hw = h * w, kept;
    lcv_nms_params np = lcv_nms_default_params();
    np.iou_threshold = VAL_IOU;
    np.max_output = VAL_TOPK;
    if (lcv_candidates_reset(&s->c, err, sizeof err) != LCV_OK ||
        lcv_decode_fcos(out, out + classes * hw, out + (classes + 4) * hw, classes, h, w, stride,
                        0, &s->c, err, sizeof err) != LCV_OK)
        return cli_fail(cmd, "validation: %s", err);
    lcv_candidates_sort(&s->c);
    if (lcv_nms(s->c.boxes, s->c.scores, s->c.labels, s->c.count, &np, s->ws, s->ws_size,
                s->keep, NULL, &kept, err, sizeof err) != LCV_OK)
        return cli_fail(cmd, "validation: %s", err);
    for (int64_t k = 0; k < kept; k++) {
        int64_t j = s->keep[k];
        if (!list_add(det, s->c.boxes[j], s->c.scores[j], s->c.labels[j], image))
            return cli_fail(cmd, "validation: out of memory");
    }
    return 0;
}

int train_validate_det(const char *cmd, lcv_trainer *t, lcv_loader *ld, double *map50,
                       double *map) {
    char err[256];
    box_list det = {0}, gt = {0};
    det_scratch s;
    bool have_scratch = false;
    int rc = 0, classes = 0;
    int64_t image = 0;
    *map50 = *map = -1.0;
    if (lcv_loader_start_epoch(ld, 0) != LCV_OK) return cli_fail(cmd, "validation loader failed");
    for (;;) {
        const lcv_tensor *x, *y, *out;
        int got = train_val_next(cmd, t, ld, &x, &y, &out);
        if (got <= 0) {
            rc = got < 0;
            break;
        }
        int64_t n = lcv_tensor_dim(x, 0), ih = lcv_tensor_dim(x, 2);
        int64_t h = lcv_tensor_ndim(out) == 4 ? lcv_tensor_dim(out, 2) : 0;
        int64_t w = h ? lcv_tensor_dim(out, 3) : 0, ch = h ? lcv_tensor_dim(out, 1) : 0;
        if (!h || ch < 6 || ch - 5 > LCV_MAP_MAX_CLASSES || ih % h) {
            rc = cli_fail(cmd, "validation: boxes need a detection head's output [N, classes + 5, "
                          "H / s, W / s]");
            break;
        }
        classes = (int)(ch - 5);
        if (!have_scratch && !(have_scratch = scratch_init(&s, (int64_t)VAL_TOPK * classes))) {
            rc = cli_fail(cmd, "validation: out of memory");
            break;
        }
        const float *o = lcv_tensor_cdata(out), *b = lcv_tensor_cdata(y);
        int64_t rows = lcv_tensor_dim(y, 1);
        for (int64_t i = 0; i < n && !rc; i++, image++) {
            rc = decode_image(cmd, o + i * ch * h * w, classes, h, w, (int)(ih / h), &s, image,
                              &det);
            for (int64_t r = 0; r < rows && !rc; r++) {
                const float *g = b + (i * rows + r) * 5;
                if (g[4] >= 0 && !list_add(&gt, (lcv_box){g[0], g[1], g[2], g[3]}, 1.0f,
                                           (int32_t)g[4], image))
                    rc = cli_fail(cmd, "validation: out of memory");
            }
        }
        if (rc) break;
    }
    if (!rc && classes) {
        lcv_box_set ds = {det.boxes, det.scores, det.labels, det.images, det.count};
        lcv_box_set gs = {gt.boxes, NULL, gt.labels, gt.images, gt.count};
        size_t ws_size = lcv_map_workspace_size(det.count, gt.count, classes);
        void *ws = malloc(ws_size ? ws_size : 1);
        lcv_map_result r;
        if (!ws)
            rc = cli_fail(cmd, "validation: out of memory");
        else if (lcv_map(&ds, &gs, classes, ws, ws_size, NULL, &r, err, sizeof err) != LCV_OK)
            rc = cli_fail(cmd, "validation: %s", err);
        else
            *map50 = r.map50, *map = r.map;
        free(ws);
    }
    if (have_scratch) scratch_free(&s);
    list_free(&det);
    list_free(&gt);
    return rc;
}
