/* nms_driver.c - runs lcv_nms on a case file for check_nms.py. Case file (little-endian):
 * int64 n, int32 method, float iou_threshold, score_threshold, sigma, int64 max_output,
 * int32 class_agnostic, then n boxes (4 float32 each), n float32 scores, n int32 labels.
 * Writes int64 n_keep, n_keep int64 indices, n_keep float32 scores to the output file.
 * Usage: nms_driver CASE OUT */
#include <stdio.h>
#include <stdlib.h>

#include "leancv_detect.h"

static int fail(const char *msg) {
    fprintf(stderr, "nms_driver: %s\n", msg);
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 3) return fail("usage: nms_driver CASE OUT");
    FILE *f = fopen(argv[1], "rb");
    if (!f) return fail("cannot open the case file");
    int64_t n;
    int32_t method, agnostic;
    lcv_nms_params p = lcv_nms_default_params();
    int ok = fread(&n, 8, 1, f) == 1 && fread(&method, 4, 1, f) == 1 &&
             fread(&p.iou_threshold, 4, 1, f) == 1 && fread(&p.score_threshold, 4, 1, f) == 1 &&
             fread(&p.sigma, 4, 1, f) == 1 && fread(&p.max_output, 8, 1, f) == 1 &&
             fread(&agnostic, 4, 1, f) == 1 && n >= 0 && n <= 1000000;
    if (!ok) return fail("bad case header");
    p.method = (lcv_nms_method)method;
    p.class_agnostic = agnostic;
    size_t un = (size_t)n, ws_size = lcv_nms_workspace_size(n);
    lcv_box *boxes = malloc(sizeof(lcv_box) * un + 1);
    float *scores = malloc(sizeof(float) * un + 1), *out_scores = malloc(sizeof(float) * un + 1);
    int32_t *labels = malloc(sizeof(int32_t) * un + 1);
    int64_t *keep = malloc(sizeof(int64_t) * un + 1), n_keep = 0;
    void *ws = malloc(ws_size + 1);
    ok = boxes && scores && out_scores && labels && keep && ws &&
         fread(boxes, sizeof(lcv_box), un, f) == un && fread(scores, 4, un, f) == un &&
         fread(labels, 4, un, f) == un;
    fclose(f);
    char err[256];
    if (ok && lcv_nms(boxes, scores, labels, n, &p, ws, ws_size, keep, out_scores, &n_keep, err,
                      sizeof err) != LCV_OK) {
        fprintf(stderr, "nms_driver: %s\n", err);
        ok = 0;
    }
    FILE *o = ok ? fopen(argv[2], "wb") : NULL;
    size_t nk = (size_t)n_keep;
    ok = o && fwrite(&n_keep, 8, 1, o) == 1 && fwrite(keep, 8, nk, o) == nk &&
         fwrite(out_scores, 4, nk, o) == nk;
    if (o && fclose(o) != 0) ok = 0;
    free(boxes);
    free(scores);
    free(out_scores);
    free(labels);
    free(keep);
    free(ws);
    return ok ? 0 : fail("failed (see above)");
}
