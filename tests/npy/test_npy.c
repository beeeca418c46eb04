/* test_npy.c - the .npy reader and writer: files written by NumPy (versions 1-3, big-endian,
 * bool, float16, scalars, empty arrays), round trips of every supported dtype, and a table of
 * malformed headers that must fail with a message naming the problem. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "leancv.h"

static lcv_tensor *load(const char *name, lcv_status *st, char *err, size_t cap) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", LCV_NPY_DATA_DIR, name);
    lcv_tensor *t = NULL;
    *st = lcv_npy_read_file(path, &t, err, cap);
    return t;
}

static void test_numpy_files(void) {
    char err[256];
    lcv_status st;
    const char *f4_names[] = {"f4_2x3.npy", "f4_2x3_v2.npy", "f4_2x3_v3.npy"};
    for (int k = 0; k < 3; k++) {
        lcv_tensor *t = load(f4_names[k], &st, err, sizeof err);
        CHECK_MSG(st == LCV_OK, "%s: %s", f4_names[k], err);
        if (!t) continue;
        CHECK(lcv_tensor_dtype(t) == LCV_DTYPE_FLOAT32 && lcv_tensor_ndim(t) == 2);
        CHECK(lcv_tensor_dim(t, 0) == 2 && lcv_tensor_dim(t, 1) == 3);
        const float *p = lcv_tensor_cdata(t);
        for (int i = 0; i < 6; i++) CHECK_NEAR(p[i], i / 4.0, 0);
        lcv_tensor_free(t);
    }
    lcv_tensor *t = load("i8_4.npy", &st, err, sizeof err);
    CHECK(st == LCV_OK && t && lcv_tensor_dtype(t) == LCV_DTYPE_INT64);
    if (t) CHECK(((const int64_t *)lcv_tensor_cdata(t))[1] == ((int64_t)1 << 40));
    lcv_tensor_free(t);

    t = load("u1_scalar.npy", &st, err, sizeof err);
    CHECK(st == LCV_OK && t && lcv_tensor_ndim(t) == 0 && lcv_tensor_numel(t) == 1);
    if (t) CHECK(((const uint8_t *)lcv_tensor_cdata(t))[0] == 200);
    lcv_tensor_free(t);

    t = load("b1_3.npy", &st, err, sizeof err);
    CHECK(st == LCV_OK && t && lcv_tensor_dtype(t) == LCV_DTYPE_BOOL);
    if (t) CHECK(memcmp(lcv_tensor_cdata(t), "\1\0\1", 3) == 0);
    lcv_tensor_free(t);

    t = load("f2_2.npy", &st, err, sizeof err);
    CHECK(st == LCV_OK && t && lcv_tensor_dtype(t) == LCV_DTYPE_FLOAT16);
    if (t) CHECK(((const uint16_t *)lcv_tensor_cdata(t))[0] == 0x3e00); /* 1.5 */
    lcv_tensor_free(t);

    t = load("f8_be_2x2.npy", &st, err, sizeof err);
    CHECK_MSG(st == LCV_OK, "%s", err);
    if (t) {
        const double *d = lcv_tensor_cdata(t);
        CHECK(d[0] == 1.25 && d[1] == -2 && d[2] == 3 && d[3] == 1e300);
    }
    lcv_tensor_free(t);

    t = load("i2_be_3.npy", &st, err, sizeof err);
    CHECK(st == LCV_OK && t);
    if (t) CHECK(((const int16_t *)lcv_tensor_cdata(t))[2] == 300);
    lcv_tensor_free(t);

    t = load("f4_empty_0x3.npy", &st, err, sizeof err);
    CHECK(st == LCV_OK && t && lcv_tensor_numel(t) == 0 && lcv_tensor_dim(t, 1) == 3);
    lcv_tensor_free(t);

    t = load("f4_fortran_2x3.npy", &st, err, sizeof err);
    CHECK(st == LCV_ERR_UNSUPPORTED && !t);
    CHECK_MSG(strstr(err, "fortran_order") != NULL, "%s", err);

    t = load("no_such_file.npy", &st, err, sizeof err);
    CHECK(st == LCV_ERR_IO && !t && strstr(err, "no_such_file.npy"));
}

static void test_round_trip(void) {
    const lcv_dtype dtypes[] = {LCV_DTYPE_FLOAT32, LCV_DTYPE_FLOAT64, LCV_DTYPE_FLOAT16,
                                LCV_DTYPE_INT8,    LCV_DTYPE_INT16,   LCV_DTYPE_INT32,
                                LCV_DTYPE_INT64,   LCV_DTYPE_UINT8,   LCV_DTYPE_UINT16,
                                LCV_DTYPE_UINT32,  LCV_DTYPE_UINT64,  LCV_DTYPE_BOOL};
    const int64_t shapes[][4] = {{0}, {5}, {2, 3}, {1, 0, 4}, {2, 1, 3, 2}};
    const int ranks[] = {0, 1, 2, 3, 4};
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/round_trip.npy", LCV_NPY_TMP_DIR);
    for (size_t d = 0; d < sizeof dtypes / sizeof dtypes[0]; d++) {
        for (int s = 0; s < 5; s++) {
            lcv_tensor *t = NULL, *back = NULL;
            CHECK(lcv_tensor_create(dtypes[d], ranks[s], shapes[s], &t) == LCV_OK);
            if (!t) continue;
            unsigned char *p = lcv_tensor_data(t);
            size_t n = lcv_tensor_nbytes(t);
            for (size_t i = 0; i < n; i++)
                p[i] = dtypes[d] == LCV_DTYPE_BOOL ? (unsigned char)(i & 1) : (unsigned char)(i * 37 + 11);
            lcv_status st = lcv_npy_write_file(path, t, err, sizeof err);
            CHECK_MSG(st == LCV_OK, "%s", err);
            st = lcv_npy_read_file(path, &back, err, sizeof err);
            CHECK_MSG(st == LCV_OK, "%s %s: %s", lcv_dtype_name(dtypes[d]), path, err);
            if (back) {
                CHECK(lcv_tensor_dtype(back) == dtypes[d] && lcv_tensor_ndim(back) == ranks[s]);
                for (int i = 0; i < ranks[s]; i++) CHECK(lcv_tensor_dim(back, i) == shapes[s][i]);
                CHECK(lcv_tensor_nbytes(back) == n &&
                      (n == 0 || memcmp(lcv_tensor_cdata(back), p, n) == 0));
            }
            /* The in-memory reader must agree with the file reader. */
            FILE *f = fopen(path, "rb");
            unsigned char buf[1024];
            size_t len = f ? fread(buf, 1, sizeof buf, f) : 0;
            if (f) fclose(f);
            CHECK(len > 0 && len % 64 == n % 64); /* header padded to 64 bytes */
            lcv_tensor *mem = NULL;
            CHECK(lcv_npy_read_buffer(buf, len, &mem, err, sizeof err) == LCV_OK);
            if (mem) CHECK(n == 0 || memcmp(lcv_tensor_cdata(mem), p, n) == 0);
            lcv_tensor_free(mem);
            lcv_tensor_free(back);
            lcv_tensor_free(t);
        }
    }
    lcv_tensor *t = NULL;
    int64_t one = 1;
    CHECK(lcv_tensor_create(LCV_DTYPE_BFLOAT16, 1, &one, &t) == LCV_OK);
    CHECK(lcv_npy_write_file(path, t, err, sizeof err) == LCV_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(err, "bfloat16") != NULL, "%s", err);
    lcv_tensor_free(t);
    CHECK(lcv_tensor_create(LCV_DTYPE_FLOAT32, 1, &one, &t) == LCV_OK);
    CHECK(lcv_npy_write_file("/nonexistent-dir/x.npy", t, err, sizeof err) == LCV_ERR_IO);
    CHECK_MSG(strstr(err, "/nonexistent-dir/x.npy") != NULL, "%s", err);
    lcv_tensor_free(t);
}

/* Builds a version-1 file from header text and `data_bytes` zero bytes of payload. */
static size_t build(unsigned char *buf, size_t cap, const char *header, size_t data_bytes) {
    size_t h = strlen(header);
    if (10 + h + data_bytes > cap) return 0;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)(h & 0xff);
    buf[9] = (unsigned char)(h >> 8);
    memcpy(buf + 10, header, h);
    memset(buf + 10 + h, 0, data_bytes);
    return 10 + h + data_bytes;
}

typedef struct bad_case {
    const char *header;
    size_t data_bytes;
    lcv_status status;
    const char *needle; /* must appear in the message */
} bad_case;

static void test_bad_headers(void) {
    static const bad_case cases[] = {
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", 8, LCV_OK, ""},
        {"{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2,)}", 8, LCV_OK, ""},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", 12, LCV_ERR_PARSE,
         "trailing"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", 4, LCV_ERR_PARSE,
         "truncated"},
        {"{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", 16, LCV_ERR_UNSUPPORTED,
         "<c8"},
        {"{'descr': '<U4', 'fortran_order': False, 'shape': (2,), }", 32, LCV_ERR_UNSUPPORTED,
         "<U4"},
        {"{'descr': '|f4', 'fortran_order': False, 'shape': (2,), }", 8, LCV_ERR_PARSE, "|f4"},
        {"{'descr': '<f4', 'fortran_order': False}", 0, LCV_ERR_PARSE, "shape"},
        {"{'descr': '<f4', 'shape': (2,)}", 8, LCV_ERR_PARSE, "fortran_order"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", 8, LCV_ERR_PARSE,
         "'x'"},
        {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", 8,
         LCV_ERR_PARSE, "twice"},
        {"{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,)}", 8, LCV_ERR_PARSE,
         "fortran_order"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}", 8, LCV_ERR_PARSE, "shape"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2.5,)}", 8, LCV_ERR_PARSE, "shape"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': [2]}", 8, LCV_ERR_PARSE, "shape"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,}", 8, LCV_ERR_PARSE, "shape"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1)}", 4,
         LCV_ERR_UNSUPPORTED, "dimensions"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", 8,
         LCV_ERR_PARSE, "too large"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4)}", 8,
         LCV_ERR_PARSE, "too large"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (1000000, 1000000)}", 8,
         LCV_ERR_PARSE, "needs"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x", 8, LCV_ERR_PARSE, "after"},
        {"'descr': '<f4'", 8, LCV_ERR_PARSE, "'{'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", 8, LCV_ERR_PARSE, "'}'"},
        {"{'descr: '<f4', 'fortran_order': False, 'shape': (2,)}", 8, LCV_ERR_PARSE, "npy header"},
        {"", 0, LCV_ERR_PARSE, "'{'"},
    };
    unsigned char buf[512];
    char err[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = build(buf, sizeof buf, cases[i].header, cases[i].data_bytes);
        lcv_tensor *t = NULL;
        err[0] = '\0';
        lcv_status st = lcv_npy_read_buffer(buf, n, &t, err, sizeof err);
        CHECK_MSG(st == cases[i].status, "case %zu: status %s (%s)", i, lcv_status_name(st), err);
        CHECK_MSG(strstr(err, cases[i].needle) != NULL, "case %zu: '%s' lacks '%s'", i, err,
                  cases[i].needle);
        CHECK((st == LCV_OK) == (t != NULL));
        lcv_tensor_free(t);
    }
    /* Prefix problems. */
    lcv_tensor *t = NULL;
    CHECK(lcv_npy_read_buffer("\x93NUMP", 5, &t, err, sizeof err) == LCV_ERR_PARSE && !t);
    CHECK(lcv_npy_read_buffer(NULL, 0, &t, err, sizeof err) == LCV_ERR_PARSE);
    CHECK(lcv_npy_read_buffer("\x93NUMPY\x04\x00\x00\x00", 10, &t, err, sizeof err) ==
          LCV_ERR_UNSUPPORTED);
    CHECK(strstr(err, "4.0") != NULL);
    CHECK(lcv_npy_read_buffer("\x93NUMPY\x01\x00\xff\x00{", 11, &t, err, sizeof err) ==
          LCV_ERR_PARSE);
    CHECK(strstr(err, "255") != NULL);
    CHECK(lcv_npy_read_buffer("\x93NUMPY\x02\x00\xff\xff\xff\x7f", 12, &t, err, sizeof err) ==
          LCV_ERR_PARSE);
    CHECK(lcv_npy_read_buffer("\x93NUMPY\x02\x00\x01", 11, &t, err, sizeof err) == LCV_ERR_PARSE);
    CHECK(lcv_npy_read_buffer(buf, 10, NULL, err, sizeof err) == LCV_ERR_INVALID_ARG);
    /* A tiny error buffer is truncated, never overrun. */
    char tiny[4] = "xyz";
    CHECK(lcv_npy_read_buffer("junk", 4, &t, tiny, 2) == LCV_ERR_PARSE && tiny[1] == '\0');
}

int main(void) {
    test_numpy_files();
    test_round_trip();
    test_bad_headers();
    return lcv_test_finish("npy_test");
}
