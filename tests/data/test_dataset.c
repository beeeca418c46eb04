/* test_dataset.c - leancv_data's data sets: the real Fashion-MNIST files (counts, labels, pixel
 * sums computed with NumPy), the same data un-gzipped, crafted bad IDX and .npy files (each
 * refused with a message naming the file and the problem), and image folders written at test
 * time with lcv_image_write_png, decoded once at open or on demand. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "data/data_internal.h"
#include "harness.h"
#include "leancv_data.h"
#include "leancv_image.h"

#define FMNIST "/usr/share/datasets/fashion-mnist"

static char errbuf[512];
static char tmp[512];

static const char *tpath(const char *name) {
    static char buf[4][768];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmp, name);
    return buf[k];
}

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK_MSG(f != NULL, "cannot write %s", path);
    if (!f) return;
    CHECK(fwrite(data, 1, n, f) == n);
    fclose(f);
}

static void be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* An IDX image file: header (count, rows, cols) then `have` bytes of pixels i * 7 + 1. */
static void write_images(const char *name, uint32_t magic, uint32_t count, uint32_t rows,
                         uint32_t cols, size_t have) {
    uint8_t *b = malloc(16 + have);
    be32(b, magic);
    be32(b + 4, count);
    be32(b + 8, rows);
    be32(b + 12, cols);
    for (size_t i = 0; i < have; i++) b[16 + i] = (uint8_t)(i * 7 + 1);
    write_file(tpath(name), b, 16 + have);
    free(b);
}

/* An IDX label file with n labels (uint8, or int32 when wide). */
static void write_labels(const char *name, bool wide, const int32_t *v, uint32_t n) {
    uint8_t *b = malloc(8 + 4 * (size_t)n);
    be32(b, wide ? 0x00000C01u : 0x00000801u);
    be32(b + 4, n);
    size_t off = 8;
    for (uint32_t i = 0; i < n; i++) {
        if (wide) {
            be32(b + off, (uint32_t)v[i]);
            off += 4;
        } else {
            b[off++] = (uint8_t)v[i];
        }
    }
    write_file(tpath(name), b, off);
    free(b);
}

/* Opens spec expecting failure; the message must contain both needles. */
static void expect_refused(const char *spec, const char *needle1, const char *needle2) {
    lcv_dataset *ds = NULL;
    errbuf[0] = '\0';
    lcv_status st = lcv_dataset_open(spec, NULL, &ds, errbuf, sizeof errbuf);
    CHECK_MSG(st != LCV_OK && ds == NULL, "'%s' was accepted", spec);
    CHECK_MSG(strstr(errbuf, needle1) && (!needle2 || strstr(errbuf, needle2)),
              "'%s': message '%s' lacks '%s' / '%s'", spec, errbuf, needle1,
              needle2 ? needle2 : "");
    lcv_dataset_free(ds);
}

static lcv_dataset *open_ok(const char *spec, const lcv_dataset_params *p) {
    lcv_dataset *ds = NULL;
    errbuf[0] = '\0';
    lcv_status st = lcv_dataset_open(spec, p, &ds, errbuf, sizeof errbuf);
    CHECK_MSG(st == LCV_OK && ds, "'%s': %s", spec, errbuf);
    return ds;
}

/* Sum of the 8-bit pixels of sample i (from the scaled floats with scale 1). */
static int64_t pixel_sum(const lcv_dataset *ds, int64_t i, float *buf, int64_t *label) {
    CHECK(lcv_dataset_get(ds, i, buf, label, errbuf, sizeof errbuf) == LCV_OK);
    int64_t dims[3];
    lcv_dataset_shape(ds, dims);
    double s = 0;
    for (int64_t k = 0; k < dims[0] * dims[1] * dims[2]; k++) s += buf[k];
    return (int64_t)(s + 0.5);
}

static void gunzip(const char *src, const char *dst) {
    gzFile in = gzopen(src, "rb");
    FILE *out = fopen(dst, "wb");
    CHECK(in && out);
    char buf[65536];
    int n;
    while (in && out && (n = gzread(in, buf, sizeof buf)) > 0) fwrite(buf, 1, (size_t)n, out);
    if (in) gzclose(in);
    if (out) fclose(out);
}

static void test_fashion_mnist(void) {
    lcv_dataset_params p = lcv_dataset_default_params();
    p.scale = 1.0f; /* raw 8-bit values, to compare with NumPy's sums */
    static const struct {
        const char *img, *lab;
        int64_t count, total;
        int first[12];
        int64_t sums[3], idx[3];
    } sets[] = {
        {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", 60000, 3431114169LL,
         {9, 0, 0, 3, 0, 2, 7, 2, 5, 5, 0, 9}, {76247, 84598, 16684}, {0, 1, 59999}},
        {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 10000, 573469082LL,
         {9, 2, 1, 1, 6, 1, 4, 6, 5, 7, 4, 5}, {33456, 100994, 24390}, {0, 1, 9999}},
    };
    float buf[784];
    for (int s = 0; s < 2; s++) {
        for (int plain = 0; plain < 2; plain++) {
            char spec[1300], img[600], lab[600];
            if (plain) { /* the same files un-gzipped: the reader takes both */
                snprintf(img, sizeof img, "%s", tpath(sets[s].img));
                snprintf(lab, sizeof lab, "%s", tpath(sets[s].lab));
                char gz[600];
                snprintf(gz, sizeof gz, FMNIST "/%s.gz", sets[s].img);
                gunzip(gz, img);
                snprintf(gz, sizeof gz, FMNIST "/%s.gz", sets[s].lab);
                gunzip(gz, lab);
            } else {
                snprintf(img, sizeof img, FMNIST "/%s.gz", sets[s].img);
                snprintf(lab, sizeof lab, FMNIST "/%s.gz", sets[s].lab);
            }
            snprintf(spec, sizeof spec, "idx:%s,%s", img, lab);
            lcv_dataset *ds = open_ok(spec, &p);
            if (!ds) continue;
            int64_t dims[3];
            lcv_dataset_shape(ds, dims);
            CHECK(lcv_dataset_count(ds) == sets[s].count);
            CHECK(lcv_dataset_classes(ds) == 10);
            CHECK(dims[0] == 1 && dims[1] == 28 && dims[2] == 28);
            CHECK(lcv_dataset_class_name(ds, 0) == NULL);
            int64_t hist[10] = {0}, total = 0, label = -1;
            for (int64_t i = 0; i < sets[s].count; i++) {
                total += pixel_sum(ds, i, buf, &label);
                if (label >= 0 && label < 10) hist[label]++;
                if (i < 12) CHECK_MSG(label == sets[s].first[i], "label %lld", (long long)i);
            }
            CHECK_MSG(total == sets[s].total, "pixel total %lld", (long long)total);
            for (int k = 0; k < 10; k++) CHECK(hist[k] == sets[s].count / 10);
            for (int k = 0; k < 3; k++)
                CHECK(pixel_sum(ds, sets[s].idx[k], buf, &label) == sets[s].sums[k]);
            CHECK(lcv_dataset_get(ds, sets[s].count, buf, &label, errbuf, sizeof errbuf) != LCV_OK);
            CHECK(lcv_dataset_get(ds, -1, buf, &label, errbuf, sizeof errbuf) != LCV_OK);
            lcv_dataset_free(ds);
        }
    }
    /* Default scale 1/255 and a limit: the first samples, classes still from every label. */
    lcv_dataset_params q = lcv_dataset_default_params();
    q.limit = 3;
    lcv_dataset *ds = open_ok("idx:" FMNIST "/t10k-images-idx3-ubyte.gz," FMNIST
                              "/t10k-labels-idx1-ubyte.gz", &q);
    if (ds) {
        CHECK(lcv_dataset_count(ds) == 3 && lcv_dataset_classes(ds) == 10);
        int64_t label;
        CHECK(lcv_dataset_get(ds, 0, buf, &label, errbuf, sizeof errbuf) == LCV_OK);
        CHECK(label == 9 && buf[14 * 28 + 14] == 110.0f * (1.0f / 255.0f));
        CHECK(lcv_dataset_get(ds, 3, buf, &label, errbuf, sizeof errbuf) != LCV_OK);
    }
    lcv_dataset_free(ds);
}

static void test_bad_idx(void) {
    int32_t good_labels[4] = {0, 1, 2, 1};
    write_labels("l4", false, good_labels, 4);
    write_labels("l3", false, good_labels, 3);
    write_images("i4", 0x803, 4, 3, 5, 4 * 15);
    char spec[2048];
#define SPEC(a, b) (snprintf(spec, sizeof spec, "idx:%s,%s", tpath(a), tpath(b)), spec)
    lcv_dataset_params p = lcv_dataset_default_params();
    p.scale = 1.0f;
    lcv_dataset *ds = open_ok(SPEC("i4", "l4"), &p);
    if (ds) { /* the crafted good pair reads back exactly */
        float px[15];
        int64_t label;
        CHECK(lcv_dataset_get(ds, 2, px, &label, errbuf, sizeof errbuf) == LCV_OK);
        CHECK(label == 2 && px[0] == (float)(uint8_t)(30 * 7 + 1) &&
              px[14] == (float)(uint8_t)(44 * 7 + 1));
        CHECK(lcv_dataset_classes(ds) == 3);
    }
    lcv_dataset_free(ds);

    write_images("trunc", 0x803, 4, 3, 5, 2 * 15 + 7);
    expect_refused(SPEC("trunc", "l4"), tpath("trunc"), "truncated");
    expect_refused(SPEC("l4", "l4"), tpath("l4"), "not an IDX image file");
    write_images("magic", 0x804, 4, 3, 5, 4 * 15);
    expect_refused(SPEC("magic", "l4"), tpath("magic"), "not an IDX image file");
    expect_refused(SPEC("i4", "i4"), tpath("i4"), "not an IDX label file");
    expect_refused(SPEC("i4", "l3"), "4 images but 3 labels", tpath("l3"));
    int32_t wide[4] = {0, 1, -1, 2};
    write_labels("neg", true, wide, 4);
    expect_refused(SPEC("i4", "neg"), tpath("neg"), "label -1 of sample 2 is out of range");
    wide[2] = 70000;
    write_labels("big", true, wide, 4);
    expect_refused(SPEC("i4", "big"), tpath("big"), "label 70000 of sample 2 is out of range");
    wide[2] = 7;
    write_labels("wide", true, wide, 4);
    ds = open_ok(SPEC("i4", "wide"), NULL);
    CHECK(ds && lcv_dataset_classes(ds) == 8);
    lcv_dataset_free(ds);
    write_images("huge", 0x803, 4, 100000, 100000, 0);
    expect_refused(SPEC("huge", "l4"), tpath("huge"), "too large");
    /* A count of 4e9 28x28 images is refused from the header; 1e6 images with no data runs
     * into the end of the file without allocating for the declared size. */
    write_images("many", 0x803, 0xFFFFFFFFu, 28, 28, 100);
    write_labels("l4", false, good_labels, 4);
    expect_refused(SPEC("many", "l4"), "4294967295 images but 4 labels", NULL);
    uint8_t lhead[8];
    be32(lhead, 0x801);
    be32(lhead + 4, 0xFFFFFFFFu);
    write_file(tpath("lmany"), lhead, 8);
    expect_refused(SPEC("many", "lmany"), tpath("many"), "exceed the limit");
    uint8_t *lab = calloc(8 + 1000000, 1);
    be32(lab, 0x801);
    be32(lab + 4, 1000000);
    write_file(tpath("l1m"), lab, 8 + 1000000);
    free(lab);
    write_images("1m", 0x803, 1000000, 28, 28, 100);
    expect_refused(SPEC("1m", "l1m"), tpath("1m"), "truncated");
    uint8_t shortb[10] = {0, 0, 8, 3, 0, 0, 0, 4, 0, 0};
    write_file(tpath("hdr"), shortb, sizeof shortb);
    expect_refused(SPEC("hdr", "l4"), tpath("hdr"), "truncated header");
    write_images("extra", 0x803, 4, 3, 5, 4 * 15 + 3);
    expect_refused(SPEC("extra", "l4"), tpath("extra"), "past the 4 images");
    write_images("zero", 0x803, 0, 3, 5, 0);
    write_labels("l0", false, good_labels, 0);
    expect_refused(SPEC("zero", "l0"), tpath("zero"), "holds no images");
    expect_refused(SPEC("missing", "l4"), tpath("missing"), "cannot open");
    expect_refused(SPEC("i4", "missing"), tpath("missing"), "cannot open");
    /* A gzip stream with a flipped byte: zlib's CRC or inflate check must catch it. */
    {
        gzFile g = gzopen(tpath("bad.gz"), "wb");
        uint8_t blob[16 + 4 * 15];
        be32(blob, 0x803);
        be32(blob + 4, 4);
        be32(blob + 8, 3);
        be32(blob + 12, 5);
        for (int i = 0; i < 60; i++) blob[16 + i] = (uint8_t)(i * 37);
        gzwrite(g, blob, sizeof blob);
        gzclose(g);
        FILE *f = fopen(tpath("bad.gz"), "r+b");
        fseek(f, -6, SEEK_END); /* inside the CRC32 trailer */
        int c = fgetc(f);
        fseek(f, -6, SEEK_END);
        fputc(c ^ 0x5a, f);
        fclose(f);
        expect_refused(SPEC("bad.gz", "l4"), tpath("bad.gz"), "gzip");
    }
    expect_refused("idx:onlyone", "two comma-separated files", NULL);
    expect_refused("csv:a,b", "is not idx:IMAGES,LABELS, npy:X,Y or folder:DIR", NULL);
#undef SPEC
}

static void write_npy(const char *name, lcv_dtype dt, int nd, const int64_t *dims,
                      void (*fill)(void *, int64_t)) {
    lcv_tensor *t = NULL;
    CHECK(lcv_tensor_create(dt, nd, dims, &t) == LCV_OK);
    if (!t) return;
    fill(lcv_tensor_data(t), lcv_tensor_numel(t));
    CHECK_MSG(lcv_npy_write_file(tpath(name), t, errbuf, sizeof errbuf) == LCV_OK, "%s", errbuf);
    lcv_tensor_free(t);
}

static void fill_u8(void *p, int64_t n) {
    for (int64_t i = 0; i < n; i++) ((uint8_t *)p)[i] = (uint8_t)(i * 3 + 5);
}
static void fill_f32(void *p, int64_t n) {
    for (int64_t i = 0; i < n; i++) ((float *)p)[i] = (float)i * 0.25f - 3.0f;
}
static void fill_lab(void *p, int64_t n) {
    for (int64_t i = 0; i < n; i++) ((int64_t *)p)[i] = (i * 5) % 7;
}
static void fill_lab_neg(void *p, int64_t n) {
    for (int64_t i = 0; i < n; i++) ((int16_t *)p)[i] = (int16_t)(i == 3 ? -2 : i);
}
static void fill_i32(void *p, int64_t n) {
    for (int64_t i = 0; i < n; i++) ((int32_t *)p)[i] = (int32_t)i;
}

static void test_npy(void) {
    int64_t x4[4] = {6, 3, 4, 5}, x3[3] = {6, 4, 5}, y[1] = {6}, y5[1] = {5};
    write_npy("x_u8.npy", LCV_DTYPE_UINT8, 4, x4, fill_u8);
    write_npy("x_f32.npy", LCV_DTYPE_FLOAT32, 3, x3, fill_f32);
    write_npy("y.npy", LCV_DTYPE_INT64, 1, y, fill_lab);
    char spec[2048];
#define SPEC(a, b) (snprintf(spec, sizeof spec, "npy:%s,%s", tpath(a), tpath(b)), spec)
    lcv_dataset_params p = lcv_dataset_default_params();
    p.scale = 0.5f;
    lcv_dataset *ds = open_ok(SPEC("x_u8.npy", "y.npy"), &p);
    float px[60];
    int64_t label, dims[3];
    if (ds) {
        lcv_dataset_shape(ds, dims);
        CHECK(dims[0] == 3 && dims[1] == 4 && dims[2] == 5 && lcv_dataset_count(ds) == 6);
        CHECK(lcv_dataset_classes(ds) == 7); /* labels 0 5 3 1 6 4 */
        CHECK(lcv_dataset_get(ds, 4, px, &label, errbuf, sizeof errbuf) == LCV_OK);
        CHECK(label == 6 && px[0] == (float)(uint8_t)(240 * 3 + 5) * 0.5f &&
              px[59] == (float)(uint8_t)(299 * 3 + 5) * 0.5f);
    }
    lcv_dataset_free(ds);
    ds = open_ok(SPEC("x_f32.npy", "y.npy"), &p); /* float data: the scale does not apply */
    if (ds) {
        lcv_dataset_shape(ds, dims);
        CHECK(dims[0] == 1 && dims[1] == 4 && dims[2] == 5);
        CHECK(lcv_dataset_get(ds, 5, px, &label, errbuf, sizeof errbuf) == LCV_OK);
        CHECK(label == 4 && px[0] == 100 * 0.25f - 3.0f && px[19] == 119 * 0.25f - 3.0f);
    }
    lcv_dataset_free(ds);
    write_npy("y5.npy", LCV_DTYPE_INT64, 1, y5, fill_lab);
    expect_refused(SPEC("x_u8.npy", "y5.npy"), "6 images but 5 labels", tpath("y5.npy"));
    write_npy("yneg.npy", LCV_DTYPE_INT16, 1, y, fill_lab_neg);
    expect_refused(SPEC("x_u8.npy", "yneg.npy"), tpath("yneg.npy"), "label -2 of sample 3");
    write_npy("yf.npy", LCV_DTYPE_FLOAT32, 1, y, fill_f32);
    expect_refused(SPEC("x_u8.npy", "yf.npy"), tpath("yf.npy"), "must be integers");
    write_npy("xi.npy", LCV_DTYPE_INT32, 3, x3, fill_i32);
    expect_refused(SPEC("xi.npy", "y.npy"), tpath("xi.npy"), "uint8 or float32");
    int64_t x5c[4] = {6, 5, 2, 2};
    write_npy("x5c.npy", LCV_DTYPE_UINT8, 4, x5c, fill_u8);
    expect_refused(SPEC("x5c.npy", "y.npy"), tpath("x5c.npy"), "not supported");
    expect_refused(SPEC("nothere.npy", "y.npy"), tpath("nothere.npy"), "cannot open");
    write_file(tpath("junk.npy"), "not an npy file at all", 22);
    expect_refused(SPEC("x_u8.npy", "junk.npy"), tpath("junk.npy"), "npy");
#undef SPEC
}

/* Image (class k, index j) of the folder test: a size and a pixel pattern both can check. */
static lcv_image *make_image(int k, int j, int w, int h) {
    lcv_image *img = NULL;
    CHECK(lcv_image_create(w, h, 3, &img) == LCV_OK);
    if (!img) return NULL;
    for (int i = 0; i < w * h * 3; i++) img->data[i] = (uint8_t)(k * 50 + j * 9 + i * 3);
    return img;
}

static void test_folder(void) {
    char root[700], dir[800], file[900];
    snprintf(root, sizeof root, "%s/folder", tmp);
    mkdir(root, 0755);
    static const char *const cls[] = {"cat", "ant", "bee", "empty"};
    static const int per[] = {2, 3, 1, 0};
    for (int k = 0; k < 4; k++) {
        snprintf(dir, sizeof dir, "%s/%s", root, cls[k]);
        mkdir(dir, 0755);
        for (int j = 0; j < per[k]; j++) {
            snprintf(file, sizeof file, "%s/img%d.png", dir, j);
            lcv_image *img = make_image(k, j, 6, 4);
            CHECK_MSG(lcv_image_write_png(file, img, errbuf, sizeof errbuf) == LCV_OK, "%s",
                      errbuf);
            lcv_image_free(img);
        }
    }
    snprintf(file, sizeof file, "%s/ant/notes.txt", root); /* not an image: skipped */
    write_file(file, "x", 1);
    snprintf(file, sizeof file, "%s/ant/.hidden.png", root);
    write_file(file, "x", 1);
    char spec[1024];
    snprintf(spec, sizeof spec, "folder:%s", root);
    /* Sorted classes: ant 0 (3 images), bee 1 (1), cat 2 (2), empty 3 (0). */
    static const int want_class[6] = {0, 0, 0, 1, 2, 2}, src_k[4] = {1, 2, 0, 3};
    static const int want_j[6] = {0, 1, 2, 0, 0, 1};
    lcv_dataset_params p = lcv_dataset_default_params();
    p.scale = 1.0f;
    for (int budget = 0; budget < 2; budget++) {
        lcv_dataset *ds = NULL;
        errbuf[0] = '\0';
        CHECK_MSG(lcv_dataset_open_budget(spec, &p, budget ? LCV_DATA_FOLDER_CACHE : 0, &ds,
                                          errbuf, sizeof errbuf) == LCV_OK, "%s", errbuf);
        if (!ds) continue;
        int64_t dims[3];
        lcv_dataset_shape(ds, dims);
        CHECK(dims[0] == 3 && dims[1] == 4 && dims[2] == 6);
        CHECK(lcv_dataset_count(ds) == 6 && lcv_dataset_classes(ds) == 4);
        CHECK(strcmp(lcv_dataset_class_name(ds, 0), "ant") == 0);
        CHECK(strcmp(lcv_dataset_class_name(ds, 3), "empty") == 0);
        CHECK(lcv_dataset_class_name(ds, 4) == NULL && lcv_dataset_class_name(ds, -1) == NULL);
        for (int i = 0; i < 6; i++) {
            float px[72];
            int64_t label;
            CHECK(lcv_dataset_get(ds, i, px, &label, errbuf, sizeof errbuf) == LCV_OK);
            CHECK(label == want_class[i]);
            int k = src_k[label]; /* the class folder's index in cls[] */
            bool same = true;
            for (int c = 0; c < 3; c++)
                for (int q = 0; q < 24; q++) /* CHW from the HWC pattern */
                    same &= px[c * 24 + q] ==
                            (float)(uint8_t)(k * 50 + want_j[i] * 9 + (q * 3 + c) * 3);
            CHECK_MSG(same, "folder sample %d pixels (budget %d)", i, budget);
        }
        lcv_dataset_free(ds);
    }
    /* Gray, resized to 3 x 2, limited to 4 samples: cached and on-demand agree exactly. */
    p.channels = 1;
    p.width = 3;
    p.height = 2;
    p.limit = 4;
    float a[6], b[6];
    lcv_dataset *d0 = NULL, *d1 = NULL;
    CHECK(lcv_dataset_open_budget(spec, &p, 0, &d0, errbuf, sizeof errbuf) == LCV_OK);
    CHECK(lcv_dataset_open_budget(spec, &p, 1 << 20, &d1, errbuf, sizeof errbuf) == LCV_OK);
    if (d0 && d1) {
        CHECK(lcv_dataset_count(d0) == 4 && lcv_dataset_count(d1) == 4);
        for (int i = 0; i < 4; i++) {
            int64_t la, lb;
            CHECK(lcv_dataset_get(d0, i, a, &la, errbuf, sizeof errbuf) == LCV_OK);
            CHECK(lcv_dataset_get(d1, i, b, &lb, errbuf, sizeof errbuf) == LCV_OK);
            CHECK(la == lb && memcmp(a, b, sizeof a) == 0);
        }
    }
    lcv_dataset_free(d0);
    lcv_dataset_free(d1);
    /* A corrupt image: found at open when cached, at lcv_dataset_get when decoded on demand. */
    snprintf(file, sizeof file, "%s/bee/zz_broken.png", root);
    write_file(file, "\x89PNG\r\n\x1a\n garbage", 17);
    p = lcv_dataset_default_params();
    lcv_dataset *ds = NULL;
    CHECK(lcv_dataset_open(spec, &p, &ds, errbuf, sizeof errbuf) != LCV_OK && !ds);
    CHECK_MSG(strstr(errbuf, "zz_broken.png") != NULL, "%s", errbuf);
    CHECK(lcv_dataset_open_budget(spec, &p, 0, &ds, errbuf, sizeof errbuf) == LCV_OK);
    if (ds) {
        float px[72];
        int64_t label;
        CHECK(lcv_dataset_get(ds, 4, px, &label, errbuf, sizeof errbuf) != LCV_OK);
        CHECK_MSG(strstr(errbuf, "zz_broken.png") != NULL, "%s", errbuf);
        CHECK(lcv_dataset_get(ds, 3, px, &label, errbuf, sizeof errbuf) == LCV_OK);
    }
    lcv_dataset_free(ds);
    remove(file);
    /* Folders without classes or images, a missing folder. */
    snprintf(dir, sizeof dir, "%s/noclasses/a", tmp);
    rmdir(dir); /* left by an earlier run */
    snprintf(dir, sizeof dir, "%s/noclasses", tmp);
    mkdir(dir, 0755);
    snprintf(spec, sizeof spec, "folder:%s", dir);
    expect_refused(spec, dir, "no class subfolders");
    snprintf(dir, sizeof dir, "%s/noclasses/a", tmp);
    mkdir(dir, 0755);
    expect_refused(spec, "noclasses", "holds no PNG or JPEG images");
    rmdir(dir);
    snprintf(spec, sizeof spec, "folder:%s/missing_dir", tmp);
    expect_refused(spec, "missing_dir", "cannot open folder");
}

static void test_params(void) {
    lcv_dataset_params p = lcv_dataset_default_params();
    lcv_dataset *ds = NULL;
    const char *spec = "idx:" FMNIST "/t10k-images-idx3-ubyte.gz," FMNIST
                       "/t10k-labels-idx1-ubyte.gz";
    p.channels = 2;
    CHECK(lcv_dataset_open(spec, &p, &ds, errbuf, sizeof errbuf) == LCV_ERR_INVALID_ARG);
    CHECK(strstr(errbuf, "channels") != NULL);
    p = lcv_dataset_default_params();
    p.width = 10;
    CHECK(lcv_dataset_open(spec, &p, &ds, errbuf, sizeof errbuf) == LCV_ERR_INVALID_ARG);
    p = lcv_dataset_default_params();
    p.limit = -1;
    CHECK(lcv_dataset_open(spec, &p, &ds, errbuf, sizeof errbuf) == LCV_ERR_INVALID_ARG);
    CHECK(lcv_dataset_open(NULL, NULL, &ds, errbuf, sizeof errbuf) == LCV_ERR_INVALID_ARG);
    CHECK(lcv_dataset_open(spec, NULL, NULL, NULL, 0) == LCV_ERR_INVALID_ARG);
    CHECK(ds == NULL);
    lcv_dataset_free(NULL);
    CHECK(lcv_dataset_count(NULL) == 0 && lcv_dataset_classes(NULL) == 0);
}

int main(void) {
    snprintf(tmp, sizeof tmp, "%s/dataset_tmp", LCV_DATA_TMP_DIR);
    mkdir(tmp, 0755);
    test_fashion_mnist();
    test_bad_idx();
    test_npy();
    test_folder();
    test_params();
    return lcv_test_finish("data_dataset");
}
