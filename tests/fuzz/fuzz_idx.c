/* fuzz_idx.c - libFuzzer target for the IDX data-set reader (leancv_data): the input is split
 * into an images file and a labels file (the first 4 bytes, little-endian, give the images
 * file's length; each may be plain or gzip'd). Opening must either succeed, and then every
 * sample must be readable, or fail with a message; never crash, leak or over-read. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "leancv_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void write_file(const char *path, const uint8_t *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (n && fwrite(p, 1, n, f) != n) abort();
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    size_t split = (size_t)data[0] | (size_t)data[1] << 8 | (size_t)data[2] << 16 |
                   (size_t)data[3] << 24;
    data += 4;
    size -= 4;
    if (split > size) split = size;
    char images[64], labels[64], spec[160], err[256] = "";
    snprintf(images, sizeof images, "/tmp/lcv_fuzz_idx_%ld_x", (long)getpid());
    snprintf(labels, sizeof labels, "/tmp/lcv_fuzz_idx_%ld_y", (long)getpid());
    write_file(images, data, split);
    write_file(labels, data + split, size - split);
    snprintf(spec, sizeof spec, "idx:%s,%s", images, labels);
    lcv_dataset *ds = NULL;
    if (lcv_dataset_open(spec, NULL, &ds, err, sizeof err) != LCV_OK) {
        if (ds || strlen(err) == 0) abort();
        return 0;
    }
    int64_t dims[3];
    lcv_dataset_shape(ds, dims);
    float *px = malloc(sizeof(float) * (size_t)(dims[0] * dims[1] * dims[2] + 1));
    for (int64_t i = 0; px && i < lcv_dataset_count(ds); i++) {
        int64_t label;
        if (lcv_dataset_get(ds, i, px, &label, err, sizeof err) != LCV_OK) abort();
        if (label < 0 || label >= lcv_dataset_classes(ds)) abort();
    }
    free(px);
    lcv_dataset_free(ds);
    return 0;
}
