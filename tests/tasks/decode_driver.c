/* decode_driver.c - runs leancv's head decoders on a case file for check_decode.py.
 * Case file (little-endian): int32 calls, int64 capacity, int64 topk, float32 threshold; then
 * per call: int32 head, int64 ints[8], float32 floats[8], int32 arrays, and per array an int64
 * count followed by that many float32. All calls add to one candidate set, which is sorted at
 * the end. Output: int64 count, then per candidate 4 float32 box, float32 score, int32 label,
 * int64 index. Usage: decode_driver CASE OUT */
#include <stdio.h>
#include <stdlib.h>

#include "leancv_detect.h"

#define MAX_ARRAYS 4

static int fail(const char *msg) {
    fprintf(stderr, "decode_driver: %s\n", msg);
    return 1;
}

/* One decoder call; ints/floats/arrays as check_decode.py packs them for each head. */
static lcv_status call(int head, const int64_t *i, const float *f, float *const *a,
                       lcv_candidates *c, char *err, size_t cap) {
    switch (head) {
    case 0:
        return lcv_decode_yolo(a[0], i[0], (int)i[1], (lcv_yolo_layout)i[2], (int)i[3], i[4], c,
                               err, cap);
    case 1:
        return lcv_decode_yolo_grid(a[0], (int)i[0], a[1], (int)i[1], i[2], i[3], f[0], (int)i[4],
                                    i[5], c, err, cap);
    case 2:
        return lcv_decode_dfl(a[0], a[1], (int)i[0], (int)i[1], i[2], i[3], f[0], i[4], c, err,
                              cap);
    case 3:
        return lcv_decode_ssd(a[0], a[1], a[2], i[0], (int)i[1], f[0], f[1], f[2], f[3], i[2], c,
                              err, cap);
    case 4: return lcv_decode_retinanet(a[0], a[1], a[2], i[0], (int)i[1], i[2], c, err, cap);
    case 5:
        return lcv_decode_fcos(a[0], a[1], a[2], (int)i[0], i[1], i[2], (int)i[3], i[4], c, err,
                               cap);
    case 6:
        return lcv_decode_centernet(a[0], a[1], a[2], (int)i[0], i[1], i[2], f[0], i[3], c, err,
                                    cap);
    default: return LCV_ERR_INVALID_ARG;
    }
}

int main(int argc, char **argv) {
    if (argc != 3) return fail("usage: decode_driver CASE OUT");
    FILE *in = fopen(argv[1], "rb");
    if (!in) return fail("cannot open the case file");
    int32_t calls;
    lcv_candidates c = {0};
    if (fread(&calls, 4, 1, in) != 1 || fread(&c.capacity, 8, 1, in) != 1 ||
        fread(&c.topk, 8, 1, in) != 1 || fread(&c.score_threshold, 4, 1, in) != 1 ||
        c.capacity < 1 || c.capacity > 10000000)
        return fail("bad case header");
    size_t cap = (size_t)c.capacity;
    c.boxes = malloc(sizeof(lcv_box) * cap);
    c.scores = malloc(sizeof(float) * cap);
    c.labels = malloc(sizeof(int32_t) * cap);
    c.indices = malloc(sizeof(int64_t) * cap);
    char err[256];
    int ok = c.boxes && c.scores && c.labels && c.indices &&
             lcv_candidates_reset(&c, err, sizeof err) == LCV_OK;
    for (int32_t k = 0; ok && k < calls; k++) {
        int32_t head, narr;
        int64_t ints[8];
        float floats[8];
        float *arr[MAX_ARRAYS] = {0};
        ok = fread(&head, 4, 1, in) == 1 && fread(ints, 8, 8, in) == 8 &&
             fread(floats, 4, 8, in) == 8 && fread(&narr, 4, 1, in) == 1 && narr >= 0 &&
             narr <= MAX_ARRAYS;
        for (int32_t j = 0; ok && j < narr; j++) {
            int64_t n;
            ok = fread(&n, 8, 1, in) == 1 && n >= 0 && n <= 100000000 &&
                 (arr[j] = malloc(sizeof(float) * (size_t)n + 1)) != NULL &&
                 fread(arr[j], 4, (size_t)n, in) == (size_t)n;
        }
        if (ok && call(head, ints, floats, arr, &c, err, sizeof err) != LCV_OK) {
            fprintf(stderr, "decode_driver: %s\n", err);
            ok = 0;
        }
        for (int j = 0; j < MAX_ARRAYS; j++) free(arr[j]);
    }
    fclose(in);
    FILE *out = ok ? fopen(argv[2], "wb") : NULL;
    if (out) {
        lcv_candidates_sort(&c);
        ok = fwrite(&c.count, 8, 1, out) == 1;
        for (int64_t k = 0; ok && k < c.count; k++)
            ok = fwrite(&c.boxes[k], 4, 4, out) == 4 && fwrite(&c.scores[k], 4, 1, out) == 1 &&
                 fwrite(&c.labels[k], 4, 1, out) == 1 && fwrite(&c.indices[k], 8, 1, out) == 1;
        if (fclose(out) != 0) ok = 0;
    } else {
        ok = 0;
    }
    free(c.boxes);
    free(c.scores);
    free(c.labels);
    free(c.indices);
    return ok ? 0 : fail("failed (see above)");
}
