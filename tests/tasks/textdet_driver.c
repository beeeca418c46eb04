/* textdet_driver.c - runs lcv_textdet on a case file for check_textdet.py. Case file
 * (little-endian): int64 h, w, capacity; float32 bin_threshold, box_threshold, unclip_ratio,
 * min_side, scale_x, scale_y; then h * w float32 probabilities. Output: int64 count, found,
 * then per region 4 float32 x, 4 float32 y and the float32 score. Usage: textdet_driver CASE OUT */
#include <stdio.h>
#include <stdlib.h>

#include "leancv_detect.h"

static int fail(const char *msg) {
    fprintf(stderr, "textdet_driver: %s\n", msg);
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 3) return fail("usage: textdet_driver CASE OUT");
    FILE *in = fopen(argv[1], "rb");
    if (!in) return fail("cannot open the case file");
    int64_t h = 0, w = 0, cap = 0;
    lcv_textdet_params p;
    int ok = fread(&h, 8, 1, in) == 1 && fread(&w, 8, 1, in) == 1 && fread(&cap, 8, 1, in) == 1 &&
             fread(&p.bin_threshold, 4, 1, in) == 1 && fread(&p.box_threshold, 4, 1, in) == 1 &&
             fread(&p.unclip_ratio, 4, 1, in) == 1 && fread(&p.min_side, 4, 1, in) == 1 &&
             fread(&p.scale_x, 4, 1, in) == 1 && fread(&p.scale_y, 4, 1, in) == 1 && h >= 1 &&
             w >= 1 && h <= 4096 && w <= 4096 && cap >= 0 && cap <= 1000000;
    size_t px = ok ? (size_t)(h * w) : 0, ws_size = ok ? lcv_textdet_workspace_size(h, w) : 0;
    float *prob = ok ? malloc(sizeof(float) * px) : NULL, *scores = malloc(4 * (size_t)cap + 4);
    lcv_quad *quads = malloc(sizeof(lcv_quad) * (size_t)cap + 1);
    void *ws = ok ? malloc(ws_size) : NULL;
    ok = prob && scores && quads && ws && fread(prob, 4, px, in) == px;
    fclose(in);
    int64_t count = 0, found = 0;
    char err[256];
    if (ok && lcv_textdet(prob, h, w, &p, ws, ws_size, quads, scores, cap, &count, &found, err,
                          sizeof err) != LCV_OK) {
        fprintf(stderr, "textdet_driver: %s\n", err);
        ok = 0;
    }
    FILE *o = ok ? fopen(argv[2], "wb") : NULL;
    ok = o && fwrite(&count, 8, 1, o) == 1 && fwrite(&found, 8, 1, o) == 1;
    for (int64_t i = 0; ok && i < count; i++)
        ok = fwrite(quads[i].x, 4, 4, o) == 4 && fwrite(quads[i].y, 4, 4, o) == 4 &&
             fwrite(&scores[i], 4, 1, o) == 1;
    if (o && fclose(o) != 0) ok = 0;
    free(prob);
    free(scores);
    free(quads);
    free(ws);
    return ok ? 0 : fail("failed (see above)");
}
