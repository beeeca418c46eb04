/* npy.c - NumPy .npy files (format versions 1.0, 2.0 and 3.0): a strict parser of the header
 * dict, validated against the bytes actually present before anything is allocated, and a
 * writer. Only C-order numeric and bool arrays; big-endian data is byte-swapped on read. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/core.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
/* NumPy itself refuses headers above 10000 bytes by default; allow more, but bound it. */
#define NPY_MAX_HEADER (1u << 20)
#define NPY_MAX_DIM ((int64_t)1 << 62)

/* What the header says: everything needed to size and fill the tensor. */
typedef struct npy_header {
    lcv_dtype dtype;
    size_t itemsize;
    bool swap; /* data is in the opposite byte order from this machine */
    int ndim;
    int64_t dims[LCV_MAX_DIMS];
} npy_header;

typedef struct npy_cursor {
    const char *p;
    const char *end;
} npy_cursor;

static bool host_is_little(void) {
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static void skip_ws(npy_cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static bool accept(npy_cursor *c, char ch) {
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

/* Reads a quoted Python string literal without escapes into buf (NUL-terminated). */
static lcv_status parse_string(npy_cursor *c, char *buf, size_t cap, const char *what,
                               lcv_err *e) {
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return lcv_fail(e, LCV_ERR_PARSE, "npy header: expected a quoted %s", what);
    char quote = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != quote) {
        if (*c->p == '\\' || *c->p == '\n')
            return lcv_fail(e, LCV_ERR_PARSE, "npy header: unsupported character in %s", what);
        if (n + 1 >= cap)
            return lcv_fail(e, LCV_ERR_PARSE, "npy header: %s is longer than %zu characters", what,
                            cap - 1);
        buf[n++] = *c->p++;
    }
    if (c->p >= c->end)
        return lcv_fail(e, LCV_ERR_PARSE, "npy header: unterminated %s", what);
    c->p++;
    buf[n] = '\0';
    return LCV_OK;
}

typedef struct npy_type {
    char kind;
    size_t size;
    lcv_dtype dtype;
} npy_type;

static const npy_type NPY_TYPES[] = {
    {'f', 2, LCV_DTYPE_FLOAT16}, {'f', 4, LCV_DTYPE_FLOAT32}, {'f', 8, LCV_DTYPE_FLOAT64},
    {'i', 1, LCV_DTYPE_INT8},    {'i', 2, LCV_DTYPE_INT16},   {'i', 4, LCV_DTYPE_INT32},
    {'i', 8, LCV_DTYPE_INT64},   {'u', 1, LCV_DTYPE_UINT8},   {'u', 2, LCV_DTYPE_UINT16},
    {'u', 4, LCV_DTYPE_UINT32},  {'u', 8, LCV_DTYPE_UINT64},  {'b', 1, LCV_DTYPE_BOOL},
};

static lcv_status parse_descr(const char *descr, npy_header *h, lcv_err *e) {
    size_t len = strlen(descr);
    if (len < 3 || len > 4 || !strchr("<>|=", descr[0]) || descr[0] == '\0')
        return lcv_fail(e, LCV_ERR_UNSUPPORTED,
                        "npy header: 'descr' value '%s' is not a simple numeric dtype", descr);
    char order = descr[0], kind = descr[1];
    char *endp = NULL;
    errno = 0;
    long size = strtol(descr + 2, &endp, 10);
    if (errno || *endp != '\0' || descr[2] < '0' || descr[2] > '9')
        return lcv_fail(e, LCV_ERR_UNSUPPORTED, "npy header: 'descr' value '%s' is not supported",
                        descr);
    const npy_type *t = NULL;
    for (size_t i = 0; i < sizeof NPY_TYPES / sizeof NPY_TYPES[0]; i++)
        if (NPY_TYPES[i].kind == kind && (long)NPY_TYPES[i].size == size) t = &NPY_TYPES[i];
    if (!t)
        return lcv_fail(e, LCV_ERR_UNSUPPORTED,
                        "npy header: 'descr' value '%s' is not supported (use f2/f4/f8, i1-i8, "
                        "u1-u8 or b1)",
                        descr);
    if (order == '|' && t->size != 1)
        return lcv_fail(e, LCV_ERR_PARSE,
                        "npy header: 'descr' value '%s' has no byte order for a multi-byte type",
                        descr);
    bool little = order == '<' || (order == '=' && host_is_little());
    h->dtype = t->dtype;
    h->itemsize = t->size;
    h->swap = t->size > 1 && order != '|' && little != host_is_little();
    return LCV_OK;
}

static lcv_status parse_bool(npy_cursor *c, bool *out, lcv_err *e) {
    skip_ws(c);
    size_t left = (size_t)(c->end - c->p);
    if (left >= 4 && memcmp(c->p, "True", 4) == 0) {
        c->p += 4;
        *out = true;
        return LCV_OK;
    }
    if (left >= 5 && memcmp(c->p, "False", 5) == 0) {
        c->p += 5;
        *out = false;
        return LCV_OK;
    }
    return lcv_fail(e, LCV_ERR_PARSE, "npy header: 'fortran_order' must be True or False");
}

static lcv_status parse_shape(npy_cursor *c, npy_header *h, lcv_err *e) {
    if (!accept(c, '('))
        return lcv_fail(e, LCV_ERR_PARSE, "npy header: 'shape' must be a tuple like (2, 3)");
    h->ndim = 0;
    for (;;) {
        if (accept(c, ')')) break;
        skip_ws(c);
        if (c->p >= c->end || *c->p < '0' || *c->p > '9')
            return lcv_fail(e, LCV_ERR_PARSE,
                            "npy header: 'shape' entry %d is not a non-negative integer", h->ndim);
        int64_t v = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            int digit = *c->p++ - '0';
            if (v > (NPY_MAX_DIM - digit) / 10)
                return lcv_fail(e, LCV_ERR_PARSE, "npy header: 'shape' entry %d is too large",
                                h->ndim);
            v = v * 10 + digit;
        }
        /* Python accepts "3L" in very old files; nothing else may follow a number. */
        if (c->p < c->end && *c->p == 'L') c->p++;
        if (h->ndim >= LCV_MAX_DIMS)
            return lcv_fail(e, LCV_ERR_UNSUPPORTED,
                            "npy header: 'shape' has more than %d dimensions", LCV_MAX_DIMS);
        h->dims[h->ndim++] = v;
        if (accept(c, ',')) continue;
        if (accept(c, ')')) break;
        return lcv_fail(e, LCV_ERR_PARSE, "npy header: 'shape' tuple is malformed after entry %d",
                        h->ndim - 1);
    }
    return LCV_OK;
}

/* Parses the header dict (text between the length field and the data). */
static lcv_status parse_header(const char *text, size_t len, npy_header *h, lcv_err *e) {
    npy_cursor c = {text, text + len};
    bool have_descr = false, have_fortran = false, have_shape = false, fortran = false;
    char descr[16];
    lcv_status st;
    if (!accept(&c, '{')) return lcv_fail(e, LCV_ERR_PARSE, "npy header: does not start with '{'");
    for (;;) {
        if (accept(&c, '}')) break;
        char key[32];
        st = parse_string(&c, key, sizeof key, "key", e);
        if (st != LCV_OK) return st;
        if (!accept(&c, ':'))
            return lcv_fail(e, LCV_ERR_PARSE, "npy header: missing ':' after key '%s'", key);
        if (strcmp(key, "descr") == 0 && !have_descr) {
            st = parse_string(&c, descr, sizeof descr, "'descr' value", e);
            if (st == LCV_OK) st = parse_descr(descr, h, e);
            have_descr = true;
        } else if (strcmp(key, "fortran_order") == 0 && !have_fortran) {
            st = parse_bool(&c, &fortran, e);
            have_fortran = true;
        } else if (strcmp(key, "shape") == 0 && !have_shape) {
            st = parse_shape(&c, h, e);
            have_shape = true;
        } else if (strcmp(key, "descr") == 0 || strcmp(key, "fortran_order") == 0 ||
                   strcmp(key, "shape") == 0) {
            return lcv_fail(e, LCV_ERR_PARSE, "npy header: key '%s' appears twice", key);
        } else {
            return lcv_fail(e, LCV_ERR_PARSE, "npy header: unexpected key '%s'", key);
        }
        if (st != LCV_OK) return st;
        if (accept(&c, ',')) continue;
        if (accept(&c, '}')) break;
        return lcv_fail(e, LCV_ERR_PARSE, "npy header: expected ',' or '}' after key '%s'", key);
    }
    skip_ws(&c);
    if (c.p != c.end)
        return lcv_fail(e, LCV_ERR_PARSE, "npy header: unexpected text after the closing '}'");
    if (!have_descr || !have_fortran || !have_shape)
        return lcv_fail(e, LCV_ERR_PARSE, "npy header: missing key '%s'",
                        !have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape");
    if (fortran) {
        int big = 0;
        for (int i = 0; i < h->ndim; i++) big += h->dims[i] > 1;
        /* With at most one non-trivial dimension the two orders are the same bytes. */
        if (big > 1)
            return lcv_fail(e, LCV_ERR_UNSUPPORTED,
                            "npy header: 'fortran_order' is True; only C-order arrays are "
                            "supported (save with np.ascontiguousarray)");
    }
    return LCV_OK;
}

/* Validates the fixed prefix; sets *prefix_len (bytes before the header text) and *header_len. */
static lcv_status parse_prefix(const unsigned char *b, size_t avail, size_t *prefix_len,
                               size_t *header_len, lcv_err *e) {
    if (avail < 10 || memcmp(b, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
        return lcv_fail(e, LCV_ERR_PARSE, "not a .npy file (missing the \\x93NUMPY magic)");
    unsigned major = b[6], minor = b[7];
    if (major < 1 || major > 3 || minor != 0)
        return lcv_fail(e, LCV_ERR_UNSUPPORTED, "npy format version %u.%u is not supported "
                        "(1.0, 2.0, 3.0 are)", major, minor);
    if (major == 1) {
        *prefix_len = 10;
        *header_len = (size_t)b[8] | (size_t)b[9] << 8;
    } else {
        if (avail < 12) return lcv_fail(e, LCV_ERR_PARSE, "npy file truncated in its prefix");
        *prefix_len = 12;
        *header_len = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
    }
    if (*header_len > NPY_MAX_HEADER)
        return lcv_fail(e, LCV_ERR_PARSE, "npy header length %zu exceeds the limit of %u bytes",
                        *header_len, NPY_MAX_HEADER);
    return LCV_OK;
}

/* Checks the data size the header implies against the bytes present; returns it. */
static lcv_status check_data_size(const npy_header *h, uint64_t present, size_t *nbytes,
                                  lcv_err *e) {
    int64_t numel;
    char sbuf[160];
    if (!lcv_shape_numel(h->ndim, h->dims, &numel) ||
        !lcv_mul_size((size_t)numel, h->itemsize, nbytes))
        return lcv_fail(e, LCV_ERR_PARSE, "npy 'shape' %s is too large",
                        lcv_shape_str(h->ndim, h->dims, sbuf, sizeof sbuf));
    if ((uint64_t)*nbytes != present)
        return lcv_fail(e, LCV_ERR_PARSE,
                        "npy data is %llu bytes but 'shape' %s of %s needs %zu bytes%s",
                        (unsigned long long)present,
                        lcv_shape_str(h->ndim, h->dims, sbuf, sizeof sbuf),
                        lcv_dtype_name(h->dtype), *nbytes,
                        present > *nbytes ? " (trailing bytes)" : " (truncated)");
    return LCV_OK;
}

static void swap_bytes(void *data, size_t count, size_t itemsize) {
    unsigned char *p = data;
    for (size_t i = 0; i < count; i++, p += itemsize)
        for (size_t a = 0, b = itemsize - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

/* Allocates the tensor for h; the caller fills nbytes of data. */
static lcv_status make_tensor(const npy_header *h, lcv_tensor **out, lcv_err *e) {
    lcv_tensor *t = malloc(sizeof *t);
    if (!t) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory allocating a tensor");
    lcv_tensor_init(t);
    lcv_status st = lcv_tensor_reshape_alloc(t, h->dtype, h->ndim, h->dims, e);
    if (st != LCV_OK) {
        free(t);
        return st;
    }
    *out = t;
    return LCV_OK;
}

static void finish_bools(lcv_tensor *t, size_t n) {
    /* Any non-zero byte is True: normalise so kernels can rely on 0/1. */
    unsigned char *p = t->data;
    for (size_t i = 0; i < n; i++) p[i] = p[i] != 0;
}

static lcv_status to_errbuf(lcv_status st, const lcv_err *e, char *errbuf, size_t errcap) {
    if (st != LCV_OK && errbuf && errcap) snprintf(errbuf, errcap, "%s", e->msg);
    return st;
}

static lcv_status read_buffer(const void *data, size_t size, lcv_tensor **out, lcv_err *e) {
    const unsigned char *b = data;
    size_t prefix, hlen;
    npy_header h;
    memset(&h, 0, sizeof h);
    lcv_status st = parse_prefix(b, size, &prefix, &hlen, e);
    if (st != LCV_OK) return st;
    if (hlen > size - prefix)
        return lcv_fail(e, LCV_ERR_PARSE, "npy header length %zu runs past the end of the %zu "
                        "byte buffer", hlen, size);
    st = parse_header((const char *)b + prefix, hlen, &h, e);
    if (st != LCV_OK) return st;
    size_t nbytes;
    st = check_data_size(&h, size - prefix - hlen, &nbytes, e);
    if (st != LCV_OK) return st;
    lcv_tensor *t = NULL;
    st = make_tensor(&h, &t, e);
    if (st != LCV_OK) return st;
    if (nbytes) memcpy(t->data, b + prefix + hlen, nbytes);
    if (h.swap) swap_bytes(t->data, nbytes / h.itemsize, h.itemsize);
    if (h.dtype == LCV_DTYPE_BOOL) finish_bools(t, nbytes);
    *out = t;
    return LCV_OK;
}

LCV_API lcv_status lcv_npy_read_buffer(const void *data, size_t size, lcv_tensor **out,
                                       char *errbuf, size_t errcap) {
    lcv_err e = {{0}};
    if (!out) return to_errbuf(lcv_fail(&e, LCV_ERR_INVALID_ARG, "npy: out is NULL"), &e, errbuf, errcap);
    *out = NULL;
    if (!data && size)
        return to_errbuf(lcv_fail(&e, LCV_ERR_INVALID_ARG, "npy: data is NULL"), &e, errbuf,
                         errcap);
    return to_errbuf(read_buffer(data, size, out, &e), &e, errbuf, errcap);
}

/* Streams the file: the prefix and header are read first and validated against the file size,
 * so a lying header cannot make us allocate or read more than the file holds. */
static lcv_status read_file(const char *path, FILE *f, lcv_tensor **out, lcv_err *e) {
    if (fseek(f, 0, SEEK_END) != 0)
        return lcv_fail(e, LCV_ERR_IO, "cannot seek in '%s'", path);
    long flen = ftell(f);
    if (flen < 0 || fseek(f, 0, SEEK_SET) != 0)
        return lcv_fail(e, LCV_ERR_IO, "cannot determine the size of '%s'", path);
    unsigned char pre[12];
    size_t got = fread(pre, 1, sizeof pre, f);
    size_t prefix, hlen;
    lcv_status st = parse_prefix(pre, got, &prefix, &hlen, e);
    if (st != LCV_OK) return st;
    if ((uint64_t)hlen > (uint64_t)flen - prefix)
        return lcv_fail(e, LCV_ERR_PARSE, "npy header length %zu runs past the end of the file",
                        hlen);
    char *text = malloc(hlen ? hlen : 1);
    if (!text) return lcv_fail(e, LCV_ERR_NOMEM, "out of memory reading the npy header");
    if (fseek(f, (long)prefix, SEEK_SET) != 0 || fread(text, 1, hlen, f) != hlen) {
        free(text);
        return lcv_fail(e, LCV_ERR_IO, "short read on the header");
    }
    npy_header h;
    memset(&h, 0, sizeof h);
    st = parse_header(text, hlen, &h, e);
    free(text);
    if (st != LCV_OK) return st;
    size_t nbytes;
    st = check_data_size(&h, (uint64_t)flen - prefix - hlen, &nbytes, e);
    if (st != LCV_OK) return st;
    lcv_tensor *t = NULL;
    st = make_tensor(&h, &t, e);
    if (st != LCV_OK) return st;
    if (fread(t->data, 1, nbytes, f) != nbytes) {
        lcv_tensor_free(t);
        return lcv_fail(e, LCV_ERR_IO, "short read on the data");
    }
    if (h.swap) swap_bytes(t->data, nbytes / h.itemsize, h.itemsize);
    if (h.dtype == LCV_DTYPE_BOOL) finish_bools(t, nbytes);
    *out = t;
    return LCV_OK;
}

LCV_API lcv_status lcv_npy_read_file(const char *path, lcv_tensor **out, char *errbuf,
                                     size_t errcap) {
    lcv_err e = {{0}};
    if (!out || !path)
        return to_errbuf(lcv_fail(&e, LCV_ERR_INVALID_ARG, "npy: path or out is NULL"), &e,
                         errbuf, errcap);
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return to_errbuf(lcv_fail(&e, LCV_ERR_IO, "cannot open '%s': %s", path, strerror(errno)),
                         &e, errbuf, errcap);
    lcv_status st = read_file(path, f, out, &e);
    fclose(f);
    if (st != LCV_OK) lcv_err_prefix(&e, "%s", path);
    return to_errbuf(st, &e, errbuf, errcap);
}

/* Builds the padded header ("{...}" + spaces + "\n") so prefix + header is a multiple of 64,
 * the alignment NumPy uses. Returns the header length, or 0 if it did not fit. */
static size_t format_header(const lcv_tensor *t, const char *descr, char *buf, size_t cap,
                            size_t prefix) {
    int n = snprintf(buf, cap, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int i = 0; n > 0 && (size_t)n < cap && i < t->ndim; i++)
        n += snprintf(buf + n, cap - (size_t)n, "%s%lld", i ? ", " : "", (long long)t->dims[i]);
    if (n > 0 && (size_t)n < cap)
        n += snprintf(buf + n, cap - (size_t)n, "%s), }", t->ndim == 1 ? "," : "");
    if (n <= 0 || (size_t)n >= cap) return 0;
    size_t len = (size_t)n + 1; /* + '\n' */
    size_t total = (prefix + len + 63) / 64 * 64;
    if (total - prefix >= cap) return 0;
    memset(buf + n, ' ', total - prefix - (size_t)n);
    buf[total - prefix - 1] = '\n';
    return total - prefix;
}

static lcv_status write_file(const char *path, const lcv_tensor *t, lcv_err *e) {
    const npy_type *type = NULL;
    for (size_t i = 0; i < sizeof NPY_TYPES / sizeof NPY_TYPES[0]; i++)
        if (NPY_TYPES[i].dtype == t->dtype) type = &NPY_TYPES[i];
    if (!type)
        return lcv_fail(e, LCV_ERR_UNSUPPORTED, "dtype %s cannot be written to .npy",
                        lcv_dtype_name(t->dtype));
    char descr[8];
    snprintf(descr, sizeof descr, "%c%c%zu", type->size == 1 ? '|' : host_is_little() ? '<' : '>',
             type->kind, type->size);
    char header[512];
    size_t hlen = format_header(t, descr, header, sizeof header, 10);
    if (hlen == 0 || hlen > 0xffff)
        return lcv_fail(e, LCV_ERR_INTERNAL, "npy header does not fit");
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    FILE *f = fopen(path, "wb");
    if (!f) return lcv_fail(e, LCV_ERR_IO, "cannot create '%s': %s", path, strerror(errno));
    size_t nbytes = lcv_tensor_nbytes(t);
    bool ok = fwrite(pre, 1, sizeof pre, f) == sizeof pre && fwrite(header, 1, hlen, f) == hlen &&
              (nbytes == 0 || fwrite(t->data, 1, nbytes, f) == nbytes);
    if (fclose(f) != 0) ok = false;
    if (!ok) {
        remove(path);
        return lcv_fail(e, LCV_ERR_IO, "error writing '%s': %s", path, strerror(errno));
    }
    return LCV_OK;
}

LCV_API lcv_status lcv_npy_write_file(const char *path, const lcv_tensor *t, char *errbuf,
                                      size_t errcap) {
    lcv_err e = {{0}};
    if (!path || !t)
        return to_errbuf(lcv_fail(&e, LCV_ERR_INVALID_ARG, "npy: path or tensor is NULL"), &e,
                         errbuf, errcap);
    return to_errbuf(write_file(path, t, &e), &e, errbuf, errcap);
}
