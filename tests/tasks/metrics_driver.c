/* metrics_driver.c - runs lcv_map or lcv_confusion_add + lcv_miou on a case file for
 * check_metrics.py. Case files (little-endian):
 *   map:  int32 classes; int64 nd, nd boxes (4 float32), nd float32 scores, nd int32 labels,
 *         nd int64 images; int64 ng, ng boxes, ng int32 labels, ng int64 images.
 *         Writes float64 map, map50, map75, then classes * 10 float64 APs.
 *   miou: int32 classes, int32 ignore, int64 n, n uint8 predictions, n uint8 truths.
 *         Writes float64 miou, pixel accuracy, classes float64 IoUs, classes^2 int64 counts.
 * Usage: metrics_driver map|miou CASE OUT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leancv_detect.h"

#define MAX_N 10000000

static int fail(const char *msg) {
    fprintf(stderr, "metrics_driver: %s\n", msg);
    return 1;
}

/* Reads one box set (scores when want_scores); arrays are malloc'ed into s (caller frees). */
static int read_set(FILE *f, lcv_box_set *s, int want_scores) {
    int64_t n;
    if (fread(&n, 8, 1, f) != 1 || n < 0 || n > MAX_N) return 0;
    size_t u = (size_t)n;
    lcv_box *b = malloc(u * sizeof *b + 1);
    float *sc = want_scores ? malloc(u * 4 + 1) : NULL;
    int32_t *l = malloc(u * 4 + 1);
    int64_t *im = malloc(u * 8 + 1);
    s->boxes = b;
    s->scores = sc;
    s->labels = l;
    s->images = im;
    s->count = n;
    return b && l && im && (!want_scores || sc) && fread(b, sizeof *b, u, f) == u &&
           (!want_scores || fread(sc, 4, u, f) == u) && fread(l, 4, u, f) == u &&
           fread(im, 8, u, f) == u;
}

static void free_set(lcv_box_set *s) {
    free((void *)s->boxes);
    free((void *)s->scores);
    free((void *)s->labels);
    free((void *)s->images);
}

static int run_map(FILE *f, FILE *o) {
    int32_t classes;
    lcv_box_set d = {0}, g = {0};
    int ok = fread(&classes, 4, 1, f) == 1 && classes >= 1 && classes <= 1000 &&
             read_set(f, &d, 1) && read_set(f, &g, 0);
    size_t ws_size = ok ? lcv_map_workspace_size(d.count, g.count, classes) : 0;
    void *ws = ok ? malloc(ws_size) : NULL;
    double *ap = ok ? malloc((size_t)classes * LCV_MAP_THRESHOLDS * sizeof *ap) : NULL;
    lcv_map_result r;
    char err[256];
    if (!ok || !ws || !ap) {
        ok = 0;
        fail("bad map case");
    } else if (lcv_map(&d, &g, classes, ws, ws_size, ap, &r, err, sizeof err) != LCV_OK) {
        ok = 0;
        fail(err);
    }
    size_t na = (size_t)classes * LCV_MAP_THRESHOLDS;
    ok = ok && fwrite(&r.map, 8, 1, o) == 1 && fwrite(&r.map50, 8, 1, o) == 1 &&
         fwrite(&r.map75, 8, 1, o) == 1 && fwrite(ap, 8, na, o) == na;
    free_set(&d);
    free_set(&g);
    free(ws);
    free(ap);
    return ok;
}

static int run_miou(FILE *f, FILE *o) {
    int32_t classes, ignore;
    int64_t n;
    int ok = fread(&classes, 4, 1, f) == 1 && fread(&ignore, 4, 1, f) == 1 &&
             fread(&n, 8, 1, f) == 1 && classes >= 1 && classes <= 256 && n >= 0 && n <= MAX_N;
    if (!ok) return fail("bad miou case"), 0;
    uint8_t *p = malloc((size_t)n + 1), *t = malloc((size_t)n + 1);
    int64_t *m = calloc((size_t)classes * (size_t)classes, sizeof *m);
    double *iou = malloc((size_t)classes * sizeof *iou);
    lcv_miou_result r;
    char err[256];
    ok = p && t && m && iou && fread(p, 1, (size_t)n, f) == (size_t)n &&
         fread(t, 1, (size_t)n, f) == (size_t)n;
    if (ok && (lcv_confusion_add(m, classes, p, t, n, ignore, err, sizeof err) != LCV_OK ||
               lcv_miou(m, classes, iou, &r, err, sizeof err) != LCV_OK)) {
        fail(err);
        ok = 0;
    }
    size_t c = (size_t)classes;
    ok = ok && fwrite(&r.miou, 8, 1, o) == 1 && fwrite(&r.pixel_accuracy, 8, 1, o) == 1 &&
         fwrite(iou, 8, c, o) == c && fwrite(m, 8, c * c, o) == c * c;
    free(p);
    free(t);
    free(m);
    free(iou);
    return ok;
}

int main(int argc, char **argv) {
    if (argc != 4) return fail("usage: metrics_driver map|miou CASE OUT");
    FILE *f = fopen(argv[2], "rb"), *o = fopen(argv[3], "wb");
    if (!f || !o) return fail("cannot open the case or output file");
    int ok = strcmp(argv[1], "map") == 0 ? run_map(f, o) : run_miou(f, o);
    fclose(f);
    if (fclose(o) != 0) ok = 0;
    return ok ? 0 : fail("failed (see above)");
}
