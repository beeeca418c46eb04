/* cli_util.c - shared plumbing of the leancv subcommands (see cli_util.h): parsing, the
 * one-line error convention, model and input loading, timing and formatting. Written only
 * against the public headers leancv.h and leancv_image.h. */
#include "cli_util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int cli_fail(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "leancv %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int cli_read_file(const char *cmd, const char *path, void **data, size_t *size) {
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return cli_fail(cmd, "cannot open '%s'", path);
    long len = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (len < 0 || len > ((long)1 << 31) || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return cli_fail(cmd, "cannot read '%s' (or it is larger than 2 GiB)", path);
    }
    *data = malloc((size_t)len + 1);
    *size = *data ? fread(*data, 1, (size_t)len, f) : 0;
    fclose(f);
    if (!*data) return cli_fail(cmd, "out of memory reading '%s'", path);
    if (*size != (size_t)len) return cli_fail(cmd, "cannot read '%s'", path);
    return 0;
}

int cli_write_file(const char *cmd, const char *path, const void *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) return cli_fail(cmd, "cannot create '%s'", path);
    bool ok = fwrite(data, 1, size, f) == size;
    ok = fclose(f) == 0 && ok;
    if (!ok) {
        remove(path);
        return cli_fail(cmd, "cannot write '%s'", path);
    }
    return 0;
}

bool cli_parse_int(const char *s, long lo, long hi, long *out) {
    if (!s || !*s) return false;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end != '\0' || v < lo || v > hi) return false;
    *out = v;
    return true;
}

bool cli_parse_float(const char *s, float *out) {
    if (!s || !*s) return false;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end != '\0' || !isfinite(v) || fabs(v) > 3.0e38) return false;
    *out = (float)v;
    return true;
}

bool cli_parse_floats(const char *s, float *out, int n) {
    char buf[256];
    if (!s || strlen(s) >= sizeof buf || n < 1 || n > 3) return false;
    strcpy(buf, s);
    float vals[3];
    int count = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (count == 3 || !cli_parse_float(tok, &vals[count])) return false;
        count++;
    }
    if (count == 1) {
        for (int i = 0; i < n; i++) out[i] = vals[0];
        return true;
    }
    if (count != n) return false;
    for (int i = 0; i < n; i++) out[i] = vals[i];
    return true;
}

bool cli_parse_size(const char *s, int *w, int *h) {
    char buf[64];
    if (!s || strlen(s) >= sizeof buf) return false;
    strcpy(buf, s);
    char *x = strchr(buf, 'x');
    if (!x) return false;
    *x = '\0';
    long a, b;
    if (!cli_parse_int(buf, 1, LCV_IMAGE_MAX_SIDE, &a) ||
        !cli_parse_int(x + 1, 1, LCV_IMAGE_MAX_SIDE, &b))
        return false;
    *w = (int)a;
    *h = (int)b;
    return true;
}

const char *cli_value(const char *cmd, int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        cli_fail(cmd, "option %s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

const char *const cli_image_help =
    "image options (for PNG/JPEG inputs; by default the model's input H x W and channels):\n"
    "  --size WxH          resize to exactly W x H (bilinear)\n"
    "  --resize-short N    resize so the shorter side is N, then\n"
    "  --crop WxH          centre crop to W x H\n"
    "  --scale S           multiply pixels by S first (default 1/255)\n"
    "  --mean a,b,c        subtract per channel (default 0)\n"
    "  --std a,b,c         divide per channel (default 1)\n"
    "  --bgr               channel order B,G,R\n"
    "  --nhwc              layout [1,H,W,C] instead of [1,C,H,W]\n"
    "  --gray              one channel (luma)\n";

void cli_image_opts_init(cli_image_opts *o) {
    memset(o, 0, sizeof *o);
    o->params = lcv_image_default_params();
}

int cli_image_opt(const char *cmd, int argc, char **argv, int *i, cli_image_opts *o) {
    const char *a = argv[*i];
    lcv_image_params *p = &o->params;
    if (strcmp(a, "--bgr") == 0) {
        p->bgr = 1;
        return 1;
    }
    if (strcmp(a, "--nhwc") == 0) {
        p->nhwc = 1;
        return 1;
    }
    if (strcmp(a, "--gray") == 0) {
        p->channels = 1;
        o->set_channels = true;
        return 1;
    }
    bool size = strcmp(a, "--size") == 0, crop = strcmp(a, "--crop") == 0;
    bool rshort = strcmp(a, "--resize-short") == 0, scale = strcmp(a, "--scale") == 0;
    bool mean = strcmp(a, "--mean") == 0, std = strcmp(a, "--std") == 0;
    if (!size && !crop && !rshort && !scale && !mean && !std) return 0;
    const char *v = cli_value(cmd, argc, argv, i);
    if (!v) return -1;
    if (size || crop) {
        if (!cli_parse_size(v, &p->width, &p->height)) {
            cli_fail(cmd, "%s '%s' is not WxH with sides in 1..%d", a, v, LCV_IMAGE_MAX_SIDE);
            return -1;
        }
        o->set_size = true;
    } else if (rshort) {
        long n;
        if (!cli_parse_int(v, 1, LCV_IMAGE_MAX_SIDE, &n)) {
            cli_fail(cmd, "--resize-short '%s' is not an integer in 1..%d", v, LCV_IMAGE_MAX_SIDE);
            return -1;
        }
        p->resize_short = (int)n;
    } else if (scale) {
        if (!cli_parse_float(v, &p->scale)) {
            cli_fail(cmd, "--scale '%s' is not a number", v);
            return -1;
        }
    } else {
        float *dst = mean ? p->mean : p->std;
        if (!cli_parse_floats(v, dst, 3)) {
            cli_fail(cmd, "%s '%s' is not one or three comma-separated numbers", a, v);
            return -1;
        }
        for (int c = 0; std && c < 3; c++)
            if (dst[c] == 0.0f) {
                cli_fail(cmd, "--std '%s' contains a zero", v);
                return -1;
            }
    }
    return 1;
}

lcv_model *cli_load_model(const char *cmd, const char *path) {
    return cli_load_model_free_dims(cmd, path, 0);
}

lcv_model *cli_load_model_free_dims(const char *cmd, const char *path, unsigned free_dims) {
    lcv_model_params p = lcv_model_default_params();
    p.free_input_dims = free_dims;
    lcv_model *m = NULL;
    lcv_status st = lcv_model_load_file(path, &p, &m);
    if (st != LCV_OK) {
        cli_fail(cmd, "%s", m ? lcv_model_errmsg(m) : "out of memory loading the model");
        lcv_model_free(m);
        return NULL;
    }
    return m;
}

static int find_input(const lcv_model *m, const char *name, size_t len) {
    for (int i = 0; i < lcv_model_input_count(m); i++) {
        const char *n = lcv_model_input_name(m, i);
        if (strlen(n) == len && strncmp(n, name, len) == 0) return i;
    }
    return -1;
}

/* Fills geometry/channels the user left open from the model's 4-D float input. */
static lcv_image_params image_params_for(const lcv_model *m, int idx, const cli_image_opts *o) {
    lcv_image_params p = o->params;
    lcv_dtype dt;
    int64_t d[LCV_MAX_DIMS];
    if (lcv_model_input_info(m, idx, &dt, d, NULL) != 4) return p;
    int64_t c = p.nhwc ? d[3] : d[1], h = p.nhwc ? d[1] : d[2], w = p.nhwc ? d[2] : d[3];
    if (!o->set_channels && (c == 1 || c == 3)) p.channels = (int)c;
    if (!o->set_size && p.resize_short == 0 && h > 0 && w > 0 && h <= LCV_IMAGE_MAX_SIDE &&
        w <= LCV_IMAGE_MAX_SIDE) {
        p.width = (int)w;
        p.height = (int)h;
    }
    return p;
}

static int load_one(const char *cmd, const lcv_model *m, int idx, const char *path,
                    const cli_image_opts *img, lcv_tensor **out) {
    char err[512] = "";
    unsigned char head[8] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return cli_fail(cmd, "cannot open input '%s': %s", path, strerror(errno));
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    if (n >= 6 && memcmp(head, "\x93NUMPY", 6) == 0) {
        if (lcv_npy_read_file(path, out, err, sizeof err) != LCV_OK) return cli_fail(cmd, "%s", err);
        return 0;
    }
    if (!lcv_image_sniff(head, n))
        return cli_fail(cmd, "input '%s' is neither a .npy file nor a PNG/JPEG image", path);
    lcv_dtype dt = LCV_DTYPE_UNDEFINED;
    int64_t d[LCV_MAX_DIMS];
    if (lcv_model_input_info(m, idx, &dt, d, NULL) >= 0 && dt != LCV_DTYPE_FLOAT32)
        return cli_fail(cmd, "input '%s' is %s; images can only feed float32 inputs",
                        lcv_model_input_name(m, idx), lcv_dtype_name(dt));
    lcv_image_params p = image_params_for(m, idx, img);
    if (lcv_image_load_tensor(path, &p, out, err, sizeof err) != LCV_OK)
        return cli_fail(cmd, "%s", err);
    return 0;
}

int cli_inputs_load(const char *cmd, const lcv_model *m, int n_specs, char **specs,
                    const cli_image_opts *img, cli_inputs *out) {
    memset(out, 0, sizeof *out);
    int n_inputs = lcv_model_input_count(m);
    if (n_specs > n_inputs)
        return cli_fail(cmd, "%d inputs given but the model has %d", n_specs, n_inputs);
    for (int k = 0; k < n_specs; k++) {
        const char *spec = specs[k], *eq = strchr(spec, '='), *path = spec;
        int idx = -1;
        if (eq && (idx = find_input(m, spec, (size_t)(eq - spec))) >= 0) path = eq + 1;
        if (idx < 0) {
            FILE *probe = eq ? fopen(spec, "rb") : NULL;
            if (eq && !probe)
                return cli_fail(cmd, "the model has no input named '%.*s'", (int)(eq - spec), spec);
            if (probe) fclose(probe);
            /* Unnamed: the first model input not yet given. */
            for (int i = 0; i < n_inputs && idx < 0; i++) {
                idx = i;
                for (int j = 0; j < out->count; j++)
                    if (strcmp(out->names[j], lcv_model_input_name(m, i)) == 0) idx = -1;
            }
        }
        if (idx < 0) return cli_fail(cmd, "more inputs given than the model has");
        const char *name = lcv_model_input_name(m, idx);
        for (int j = 0; j < out->count; j++)
            if (strcmp(out->names[j], name) == 0)
                return cli_fail(cmd, "input '%s' is given twice", name);
        lcv_tensor *t = NULL;
        int rc = load_one(cmd, m, idx, path, img, &t);
        if (rc) return rc;
        out->names[out->count] = name;
        out->tensors[out->count++] = t;
    }
    return 0;
}

int cli_inputs_fill_random(const char *cmd, const lcv_model *m, cli_inputs *in, uint64_t seed) {
    uint64_t state = seed * 2654435761u + 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < lcv_model_input_count(m); i++) {
        const char *name = lcv_model_input_name(m, i);
        bool given = false;
        for (int j = 0; j < in->count; j++) given = given || strcmp(in->names[j], name) == 0;
        if (given) continue;
        if (in->count >= CLI_MAX_INPUTS) return cli_fail(cmd, "too many inputs");
        lcv_dtype dt;
        int64_t d[LCV_MAX_DIMS];
        int nd = lcv_model_input_info(m, i, &dt, d, NULL);
        if (nd < 0)
            return cli_fail(cmd, "input '%s' has an unknown shape; give it with --input", name);
        for (int k = 0; k < nd; k++)
            if (d[k] < 0) d[k] = 1;
        lcv_tensor *t = NULL;
        if (lcv_tensor_create(dt, nd, d, &t) != LCV_OK)
            return cli_fail(cmd, "cannot create a random %s tensor for input '%s'",
                            lcv_dtype_name(dt), name);
        if (dt == LCV_DTYPE_FLOAT32) {
            float *p = lcv_tensor_data(t);
            for (int64_t k = 0; k < lcv_tensor_numel(t); k++) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                p[k] = (float)(state >> 40) / (float)(1 << 24);
            }
        }
        in->names[in->count] = name;
        in->tensors[in->count++] = t;
    }
    return 0;
}

void cli_inputs_free(cli_inputs *in) {
    for (int i = 0; i < in->count; i++) lcv_tensor_free(in->tensors[i]);
    in->count = 0;
}

int cli_run_session(const char *cmd, lcv_session *s, const cli_inputs *in) {
    if (lcv_session_run(s, in->count, in->names, (const lcv_tensor *const *)in->tensors) != LCV_OK)
        return cli_fail(cmd, "%s", lcv_session_errmsg(s));
    return 0;
}

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void cli_shape_text(int ndim, const int64_t *dims, const char *const *names, char *buf,
                    size_t cap) {
    if (ndim < 0) {
        snprintf(buf, cap, "?");
        return;
    }
    size_t n = 0;
    buf[0] = '\0';
    n += (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && n < cap; i++) {
        const char *sep = i ? "," : "";
        if (dims[i] >= 0)
            n += (size_t)snprintf(buf + n, cap - n, "%s%lld", sep, (long long)dims[i]);
        else
            n += (size_t)snprintf(buf + n, cap - n, "%s%s", sep,
                                  names && names[i] ? names[i] : "?");
    }
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

void cli_safe_name(const char *name, char *buf, size_t cap) {
    size_t n = 0;
    for (const char *p = name; *p && n + 1 < cap; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || (c == '.' && n > 0);
        buf[n++] = ok ? c : '_';
    }
    if (n == 0 && cap > 1) buf[n++] = '_';
    buf[n] = '\0';
}

void cli_json_string(const char *s) {
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

int cli_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
