/* idx.c - IDX files, the format MNIST and Fashion-MNIST ship in: a big-endian header (magic
 * 0x0000TTNN: element type TT, NN dims; then NN 32-bit dims) followed by the data. Read through
 * zlib's gz* API so gzip'd and plain files work alike. Every header field is validated and the
 * pixel buffer grows only as data actually arrives, so a header that lies about its counts
 * cannot make the reader allocate much more than the file holds. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data_internal.h"

/* Element types of the IDX format (third byte of the magic). */
#define IDX_UBYTE 0x08
#define IDX_INT32 0x0C
#define IDX_IMAGES_MAGIC 0x00000803u /* ubyte, 3 dims: [N, rows, cols] */
#define IDX_LABELS_MAGIC 0x00000801u /* ubyte, 1 dim: [N] */
#define IDX_LABELS32_MAGIC 0x00000C01u /* int32, 1 dim: [N] */
/* The data buffer starts at this size and doubles up to what the header declares. */
#define IDX_FIRST_CHUNK ((size_t)1 << 20)

typedef struct idx_file {
    gzFile gz;
    const char *path;
    uint32_t magic;
    uint32_t dims[3];
} idx_file;

static void idx_close(idx_file *f) {
    if (f->gz) gzclose(f->gz);
    f->gz = NULL;
}

/* Reads up to n bytes; returns how many were read, or -1 on a zlib error (message in errbuf). */
static int64_t gz_read_some(idx_file *f, void *dst, size_t n, char *errbuf, size_t errcap) {
    size_t done = 0;
    while (done < n) {
        size_t want = n - done < ((size_t)1 << 30) ? n - done : ((size_t)1 << 30);
        int got = gzread(f->gz, (char *)dst + done, (unsigned)want);
        if (got < 0) {
            int code = 0;
            const char *msg = gzerror(f->gz, &code);
            lcv_data_fail(errbuf, errcap, LCV_ERR_PARSE, "'%s': corrupt gzip data (%s)", f->path,
                          msg ? msg : "unknown zlib error");
            return -1;
        }
        if (got == 0) {
            /* zlib reports a compressed stream cut short only here, as Z_BUF_ERROR. */
            int code = 0;
            gzerror(f->gz, &code);
            if (code == Z_BUF_ERROR) {
                lcv_data_fail(errbuf, errcap, LCV_ERR_PARSE,
                              "'%s': corrupt gzip data (the compressed stream ends early: the "
                              "file is truncated)", f->path);
                return -1;
            }
            break;
        }
        done += (size_t)got;
    }
    return (int64_t)done;
}

static uint32_t be32(const unsigned char *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Opens path and reads its header; kind is "image" or "label". */
static lcv_status idx_open(idx_file *f, const char *path, bool images, char *errbuf,
                           size_t errcap) {
    memset(f, 0, sizeof *f);
    f->path = path;
    errno = 0;
    f->gz = gzopen(path, "rb");
    if (!f->gz)
        return lcv_data_fail(errbuf, errcap, LCV_ERR_IO, "cannot open '%s': %s", path,
                             errno ? strerror(errno) : "out of memory");
    gzbuffer(f->gz, 1u << 17);
    unsigned char head[16];
    size_t need = images ? 16 : 8;
    int64_t got = gz_read_some(f, head, 4, errbuf, errcap);
    if (got < 0) return LCV_ERR_PARSE;
    if (got == 4) f->magic = be32(head);
    bool magic_ok = images ? f->magic == IDX_IMAGES_MAGIC
                           : f->magic == IDX_LABELS_MAGIC || f->magic == IDX_LABELS32_MAGIC;
    if (got < 4 || !magic_ok)
        return lcv_data_fail(errbuf, errcap, LCV_ERR_PARSE,
                             "'%s' is not an IDX %s file (magic 0x%08x, expected %s)", path,
                             images ? "image" : "label", (unsigned)f->magic,
                             images ? "0x00000803 for uint8 [N, rows, cols]"
                                    : "0x00000801 or 0x00000c01 for uint8 or int32 [N]");
    got = gz_read_some(f, head + 4, need - 4, errbuf, errcap);
    if (got < 0) return LCV_ERR_PARSE;
    if ((size_t)got != need - 4)
        return lcv_data_fail(errbuf, errcap, LCV_ERR_PARSE,
                             "'%s': truncated header (%zu of %zu bytes)", path, (size_t)got + 4,
                             need);
    for (size_t k = 0; k < (need - 4) / 4; k++) f->dims[k] = be32(head + 4 + 4 * k);
    if (f->dims[0] == 0)
        return lcv_data_fail(errbuf, errcap, LCV_ERR_PARSE, "'%s' holds no %ss (count 0)", path,
                             images ? "image" : "label");
    if (images) {
        uint32_t r = f->dims[1], c = f->dims[2];
        if (r < 1 || c < 1 || r > LCV_DATA_MAX_SIDE || c > LCV_DATA_MAX_SIDE ||
            (int64_t)r * c > LCV_DATA_MAX_SAMPLE)
            return lcv_data_fail(errbuf, errcap, LCV_ERR_PARSE,
                                 "'%s': image size %u x %u is empty or too large (at most %lld "
                                 "pixels)", path, r, c, (long long)LCV_DATA_MAX_SAMPLE);
    }
    return LCV_OK;
}

/* Reads exactly n bytes of data into a new buffer (*out: caller frees) that grows as the data
 * arrives. what describes the data for the truncation message. */
static lcv_status read_data(idx_file *f, size_t n, const char *what, uint8_t **out,
                            char *errbuf, size_t errcap) {
    *out = NULL;
    uint8_t *buf = NULL;
    size_t cap = 0, have = 0;
    while (have < n) {
        if (have == cap) {
            size_t ncap = cap ? (cap > n / 2 ? n : cap * 2)
                              : (n < IDX_FIRST_CHUNK ? n : IDX_FIRST_CHUNK);
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                return lcv_data_fail(errbuf, errcap, LCV_ERR_NOMEM,
                                     "'%s': out of memory for %zu bytes", f->path, ncap);
            }
            buf = nb;
            cap = ncap;
        }
        int64_t got = gz_read_some(f, buf + have, cap - have, errbuf, errcap);
        if (got < 0) {
            free(buf);
            return LCV_ERR_PARSE;
        }
        have += (size_t)got;
        if (have < cap) break; /* end of file */
    }
    if (have < n) {
        free(buf);
        return lcv_data_fail(errbuf, errcap, LCV_ERR_PARSE,
                             "'%s' is truncated: its header declares %s (%zu bytes) but only %zu "
                             "bytes follow", f->path, what, n, have);
    }
    *out = buf;
    return LCV_OK;
}

/* Fails if anything follows the declared data. */
static lcv_status check_end(idx_file *f, const char *what, char *errbuf, size_t errcap) {
    unsigned char extra;
    int64_t got = gz_read_some(f, &extra, 1, errbuf, errcap);
    if (got < 0) return LCV_ERR_PARSE;
    if (got > 0)
        return lcv_data_fail(errbuf, errcap, LCV_ERR_PARSE,
                             "'%s' has data past the %s its header declares", f->path, what);
    return LCV_OK;
}

static lcv_status read_labels(lcv_dataset *ds, idx_file *lab, int64_t use, char *errbuf,
                              size_t errcap) {
    uint32_t count = lab->dims[0];
    size_t esz = lab->magic == IDX_LABELS32_MAGIC ? 4 : 1;
    char what[64];
    snprintf(what, sizeof what, "%u labels", (unsigned)count);
    uint8_t *raw = NULL;
    lcv_status st = read_data(lab, (size_t)count * esz, what, &raw, errbuf, errcap);
    if (st == LCV_OK) st = check_end(lab, what, errbuf, errcap);
    if (st != LCV_OK) {
        free(raw);
        return st;
    }
    ds->labels = malloc((size_t)use * sizeof *ds->labels);
    if (!ds->labels) {
        free(raw);
        return lcv_data_fail(errbuf, errcap, LCV_ERR_NOMEM, "'%s': out of memory", lab->path);
    }
    /* Every label is checked (and counted into classes), also those beyond the limit, so the
     * class count does not depend on how many samples are used. */
    int64_t top = -1;
    for (uint32_t i = 0; i < count; i++) {
        int64_t v = esz == 1 ? raw[i] : (int64_t)(int32_t)be32(raw + 4 * (size_t)i);
        if (v < 0 || v >= LCV_DATA_MAX_CLASSES) {
            free(raw);
            return lcv_data_fail(errbuf, errcap, LCV_ERR_PARSE,
                                 "'%s': label %lld of sample %u is out of range 0..%d", lab->path,
                                 (long long)v, (unsigned)i, LCV_DATA_MAX_CLASSES - 1);
        }
        if (v > top) top = v;
        if (i < use) ds->labels[i] = v;
    }
    free(raw);
    ds->classes = (int)top + 1;
    return LCV_OK;
}

lcv_status lcv_data_open_idx(lcv_dataset *ds, const char *images, const char *labels,
                             const lcv_dataset_params *params, char *errbuf, size_t errcap) {
    idx_file img, lab;
    memset(&lab, 0, sizeof lab);
    lcv_status st = idx_open(&img, images, true, errbuf, errcap);
    if (st == LCV_OK) st = idx_open(&lab, labels, false, errbuf, errcap);
    if (st == LCV_OK && img.dims[0] != lab.dims[0])
        st = lcv_data_fail(errbuf, errcap, LCV_ERR_PARSE, "'%s' and '%s': %u images but %u labels",
                           images, labels, (unsigned)img.dims[0], (unsigned)lab.dims[0]);
    int64_t count = img.dims[0];
    int64_t use = params->limit > 0 && params->limit < count ? params->limit : count;
    /* both factors fit 32 bits, so the products below cannot wrap before the limit check */
    uint64_t per = (uint64_t)img.dims[1] * img.dims[2];
    if (st == LCV_OK && per > 0 && (uint64_t)use > LCV_DATA_MAX_BYTES / per)
        st = lcv_data_fail(errbuf, errcap, LCV_ERR_UNSUPPORTED,
                           "'%s': %lld images of %u x %u exceed the limit of %llu bytes", images,
                           (long long)use, (unsigned)img.dims[1], (unsigned)img.dims[2],
                           (unsigned long long)LCV_DATA_MAX_BYTES);
    if (st == LCV_OK) st = read_labels(ds, &lab, use, errbuf, errcap);
    uint8_t *pix = NULL;
    if (st == LCV_OK) {
        char what[96];
        snprintf(what, sizeof what, "%lld images of %u x %u", (long long)use,
                 (unsigned)img.dims[1], (unsigned)img.dims[2]);
        st = read_data(&img, (size_t)use * (size_t)per, what, &pix, errbuf, errcap);
        if (st == LCV_OK && use == count) {
            snprintf(what, sizeof what, "%lld images", (long long)count);
            st = check_end(&img, what, errbuf, errcap);
        }
    }
    idx_close(&img);
    idx_close(&lab);
    if (st != LCV_OK) {
        free(pix);
        return st;
    }
    ds->pixels = pix;
    ds->u8 = pix;
    ds->count = use;
    ds->c = 1;
    ds->h = img.dims[1];
    ds->w = img.dims[2];
    return LCV_OK;
}
