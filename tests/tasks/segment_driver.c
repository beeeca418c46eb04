/* segment_driver.c - runs leancv's segmentation post-processing on a case file for
 * check_segment.py. Case file (little-endian): int32 mode (0: lcv_seg_argmax, 1:
 * lcv_instance_mask, 2: lcv_seg_accumulate), int64 ints[6], float32 floats[6], then an int64
 * count and that many float32 (logits; protos followed by the k coefficients; the sum
 * [c, h, w] followed by the added logits [c, lh, lw]). Output: out_h * out_w bytes (ints[3]
 * and [4]), or for mode 2 the updated sum as float32.
 * Usage: segment_driver CASE OUT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leancv_detect.h"

static int fail(const char *msg) {
    fprintf(stderr, "segment_driver: %s\n", msg);
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 3) return fail("usage: segment_driver CASE OUT");
    FILE *in = fopen(argv[1], "rb");
    if (!in) return fail("cannot open the case file");
    int32_t mode;
    int64_t i[6], n;
    float f[6];
    int ok = fread(&mode, 4, 1, in) == 1 && fread(i, 8, 6, in) == 6 && fread(f, 4, 6, in) == 6 &&
             fread(&n, 8, 1, in) == 1 && n >= 1 && n <= 100000000 && i[3] >= 1 && i[4] >= 1 &&
             i[3] <= 100000 && i[4] <= 100000;
    float *data = ok ? malloc(sizeof(float) * (size_t)n) : NULL;
    ok = data && fread(data, 4, (size_t)n, in) == (size_t)n;
    fclose(in);
    size_t pixels = ok ? (size_t)(i[3] * i[4]) * (mode == 2 ? 4 * (size_t)i[0] : 1) : 0;
    uint8_t *out = ok ? malloc(pixels) : NULL;
    char err[256];
    lcv_status st = LCV_ERR_INVALID_ARG;
    if (out && mode == 0) {
        st = lcv_seg_argmax(data, (int)i[0], i[1], i[2], i[3], i[4], out, err, sizeof err);
    } else if (out && mode == 1) {
        int64_t plane = i[1] * i[2];
        lcv_box box = {f[0], f[1], f[2], f[3]};
        if (i[0] >= 1 && plane >= 1 && i[0] * plane + i[0] <= n)
            st = lcv_instance_mask(data, (int)i[0], i[1], i[2], data + i[0] * plane, box, f[4],
                                   i[3], i[4], out, NULL, err, sizeof err);
        else
            snprintf(err, sizeof err, "case too short");
    } else if (out && mode == 2) {
        int64_t sum = i[0] * i[3] * i[4];
        if (i[0] >= 1 && i[1] >= 1 && i[2] >= 1 && sum + i[0] * i[1] * i[2] == n) {
            st = lcv_seg_accumulate(data, (int)i[0], i[3], i[4], data + sum, i[1], i[2],
                                    (int)i[5], err, sizeof err);
            memcpy(out, data, pixels);
        } else {
            snprintf(err, sizeof err, "case of the wrong length");
        }
    } else {
        snprintf(err, sizeof err, "bad case");
    }
    if (st != LCV_OK) fprintf(stderr, "segment_driver: %s\n", err);
    FILE *o = st == LCV_OK ? fopen(argv[2], "wb") : NULL;
    ok = o && fwrite(out, 1, pixels, o) == pixels;
    if (o && fclose(o) != 0) ok = 0;
    free(data);
    free(out);
    return ok ? 0 : fail("failed (see above)");
}
