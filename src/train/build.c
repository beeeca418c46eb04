/* build.c - the model builder's handle and primitives (include/leancv_build.h): values and
 * their shapes, nodes with attributes, weights initialised like PyTorch's defaults from a
 * seeded generator, argument checks, and serialization through the ONNX writer. The composite
 * blocks are in build_blocks.c, the named architectures in build_archs.c. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../frontends/onnx/onnx.h"
#include "build_impl.h"

/* Opset 14: the first with HardSwish; Split's sizes and Reshape's shape are inputs. */
#define BUILD_OPSET 14

/* splitmix64 (Steele, Lea, Flood: "Fast splittable pseudorandom number generators", 2014). */
static uint64_t next_u64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [-bound, bound) with 24 random bits, enough for a float32 weight. */
static float uniform(uint64_t *s, double bound) {
    double u = (double)(next_u64(s) >> 40) * (1.0 / 16777216.0);
    return (float)((2.0 * u - 1.0) * bound);
}

int lcv_bld_fail(lcv_builder *b, lcv_status st, const char *fmt, ...) {
    if (b->st != LCV_OK) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->err.msg, sizeof b->err.msg, fmt, ap);
    va_end(ap);
    b->st = st;
    return -1;
}

const lcv_bld_val *lcv_bld_get(lcv_builder *b, int x, const char *where, int want_map) {
    if (b->st != LCV_OK) return NULL;
    if (b->output >= 0) {
        lcv_bld_fail(b, LCV_ERR_INVALID_ARG, "%s: the builder is finished; no blocks can be added",
                     where);
        return NULL;
    }
    if (x < 0 || x >= b->n_vals) {
        lcv_bld_fail(b, LCV_ERR_INVALID_ARG, "%s: value handle %d is not one of this builder's "
                     "(0..%d)", where, x, b->n_vals - 1);
        return NULL;
    }
    const lcv_bld_val *v = &b->vals[x];
    bool is_map = v->h > 0;
    if (want_map >= 0 && is_map != (want_map == 1)) {
        lcv_bld_fail(b, LCV_ERR_INVALID_ARG, "%s: value %d is a %s; a %s is needed here", where, x,
                     is_map ? "feature map [batch, C, H, W]" : "vector [batch, F]",
                     want_map ? "feature map [batch, C, H, W]" : "vector [batch, F]");
        return NULL;
    }
    return v;
}

bool lcv_bld_check_channels(lcv_builder *b, const char *where, const char *what, int v) {
    if (v >= 1 && v <= LCV_BUILD_MAX_CHANNELS) return true;
    lcv_bld_fail(b, LCV_ERR_INVALID_ARG, "%s: %s is %d; it must be in 1..%d", where, what, v,
                 LCV_BUILD_MAX_CHANNELS);
    return false;
}

bool lcv_bld_check_kernel(lcv_builder *b, const char *where, int kernel) {
    if (kernel >= 1 && kernel <= LCV_BUILD_MAX_KERNEL && kernel % 2 == 1) return true;
    lcv_bld_fail(b, LCV_ERR_INVALID_ARG, "%s: kernel is %d; it must be odd (same padding) and in "
                 "1..%d", where, kernel, LCV_BUILD_MAX_KERNEL);
    return false;
}

bool lcv_bld_check_stride(lcv_builder *b, const char *where, int stride) {
    if (stride >= 1 && stride <= LCV_BUILD_MAX_STRIDE) return true;
    lcv_bld_fail(b, LCV_ERR_INVALID_ARG, "%s: stride is %d; it must be in 1..%d", where, stride,
                 LCV_BUILD_MAX_STRIDE);
    return false;
}

bool lcv_bld_check_act(lcv_builder *b, const char *where, lcv_build_act act) {
    if ((int)act >= 0 && (int)act <= (int)LCV_BUILD_ACT_SILU) return true;
    lcv_bld_fail(b, LCV_ERR_INVALID_ARG, "%s: activation %d is not an lcv_build_act", where,
                 (int)act);
    return false;
}

static int add_handle(lcv_builder *b, int id, int c, int h, int w) {
    if (b->n_vals == b->cap_vals) {
        int nc = b->cap_vals ? b->cap_vals * 2 : 64;
        lcv_bld_val *nv = realloc(b->vals, sizeof *nv * (size_t)nc);
        if (!nv) return lcv_bld_fail(b, LCV_ERR_NOMEM, "out of memory adding a value");
        b->vals = nv;
        b->cap_vals = nc;
    }
    b->vals[b->n_vals] = (lcv_bld_val){id, c, h, w};
    return b->n_vals++;
}

/* Node names are "<op>_<node index>" (unique); a node's single output value takes its name. */
static void node_name(const lcv_builder *b, const char *op_type, char *buf, size_t cap) {
    snprintf(buf, cap, "%s_%d", op_type, b->g->n_nodes);
}

int lcv_bld_param(lcv_builder *b, const char *owner, const char *what, int ndim,
                  const int64_t *dims, double bound, float fill) {
    if (b->st != LCV_OK) return -1;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= dims[i]; /* < 2^45: every dim is bounded */
    if (n > LCV_BUILD_MAX_PARAMS - b->n_params)
        return lcv_bld_fail(b, LCV_ERR_INVALID_ARG, "%s.%s: %lld more weights would take the model "
                            "(%lld so far) past its limit of %lld", owner, what, (long long)n,
                            (long long)b->n_params, (long long)LCV_BUILD_MAX_PARAMS);
    char name[160];
    snprintf(name, sizeof name, "%s.%s", owner, what);
    lcv_tensor *t;
    if (lcv_tensor_create(LCV_DTYPE_FLOAT32, ndim, dims, &t) != LCV_OK)
        return lcv_bld_fail(b, LCV_ERR_NOMEM, "%s: out of memory for %lld weights", owner,
                            (long long)n);
    float *p = t->data;
    for (int64_t i = 0; i < n; i++) p[i] = bound > 0 ? uniform(&b->rng, bound) : fill;
    int id;
    if (lcv_graph_intern(b->g, name, &id, &b->err) != LCV_OK ||
        lcv_graph_set_initializer(b->g, id, t, &b->err) != LCV_OK) {
        b->st = LCV_ERR_NOMEM;
        return -1;
    }
    b->n_params += n;
    return id;
}

int lcv_bld_const(lcv_builder *b, lcv_dtype dtype, const char *tag, int n, const void *v) {
    if (b->st != LCV_OK) return -1;
    char name[64];
    snprintf(name, sizeof name, "const_%d.%s", b->g->n_values, tag);
    int64_t dims[1] = {n};
    lcv_tensor *t;
    if (lcv_tensor_create(dtype, 1, dims, &t) != LCV_OK)
        return lcv_bld_fail(b, LCV_ERR_NOMEM, "out of memory for a constant");
    memcpy(t->data, v, lcv_tensor_nbytes(t));
    int id;
    if (lcv_graph_intern(b->g, name, &id, &b->err) != LCV_OK ||
        lcv_graph_set_initializer(b->g, id, t, &b->err) != LCV_OK) {
        b->st = LCV_ERR_NOMEM;
        return -1;
    }
    return id;
}

int lcv_bld_node_ids(lcv_builder *b, const char *op_type, int n_in, const int *in, int c, int h,
                    int w, lcv_node **node) {
    if (b->st != LCV_OK) return -1;
    char name[64];
    const char *in_names[8];
    node_name(b, op_type, name, sizeof name);
    for (int i = 0; i < n_in; i++) in_names[i] = in[i] >= 0 ? b->g->values[in[i]].name : "";
    const char *out_names[1] = {name};
    lcv_node *n;
    if (lcv_graph_add_node(b->g, name, op_type, "", n_in, in_names, 1, out_names, &n, &b->err) !=
        LCV_OK) {
        b->st = LCV_ERR_NOMEM;
        return -1;
    }
    if (node) *node = n;
    return add_handle(b, n->out[0], c, h, w);
}

int lcv_bld_node(lcv_builder *b, const char *op_type, int n_in, const int *ins, int c, int h, int w,
             lcv_node **node) {
    if (b->st != LCV_OK) return -1;
    int ids[8];
    for (int i = 0; i < n_in; i++) ids[i] = b->vals[ins[i]].id;
    return lcv_bld_node_ids(b, op_type, n_in, ids, c, h, w, node);
}

bool lcv_bld_set_int(lcv_builder *b, lcv_node *n, const char *name, int64_t v) {
    lcv_attr *a;
    if (lcv_node_add_attr(n, name, &a, &b->err) != LCV_OK) {
        b->st = LCV_ERR_NOMEM;
        return false;
    }
    a->type = LCV_ATTR_INT;
    a->i = v;
    return true;
}

bool lcv_bld_set_float(lcv_builder *b, lcv_node *n, const char *name, float v) {
    lcv_attr *a;
    if (lcv_node_add_attr(n, name, &a, &b->err) != LCV_OK) {
        b->st = LCV_ERR_NOMEM;
        return false;
    }
    a->type = LCV_ATTR_FLOAT;
    a->f = v;
    return true;
}

bool lcv_bld_set_ints(lcv_builder *b, lcv_node *n, const char *name, int cnt, const int64_t *v) {
    lcv_attr *a;
    if (lcv_node_add_attr(n, name, &a, &b->err) != LCV_OK ||
        !(a->ints = malloc(sizeof *v * (size_t)cnt))) {
        b->st = LCV_ERR_NOMEM;
        return false;
    }
    a->type = LCV_ATTR_INTS;
    a->n = cnt;
    memcpy(a->ints, v, sizeof *v * (size_t)cnt);
    return true;
}

static int apply_act(lcv_builder *b, int x, lcv_build_act act) {
    if (b->st != LCV_OK) return -1;
    lcv_bld_val v = b->vals[x];
    switch (act) {
    case LCV_BUILD_ACT_NONE: return x;
    case LCV_BUILD_ACT_RELU: return lcv_bld_node(b, "Relu", 1, &x, v.c, v.h, v.w, NULL);
    case LCV_BUILD_ACT_HARDSWISH: return lcv_bld_node(b, "HardSwish", 1, &x, v.c, v.h, v.w, NULL);
    case LCV_BUILD_ACT_SILU: {
        int s = lcv_bld_node(b, "Sigmoid", 1, &x, v.c, v.h, v.w, NULL);
        return s < 0 ? -1 : lcv_bld_binary(b, "Mul", x, s);
    }
    case LCV_BUILD_ACT_RELU6:
        if (b->relu6_min < 0) {
            b->relu6_min = lcv_bld_param(b, "relu6", "min", 0, NULL, 0.0, 0.0f);
            b->relu6_max = lcv_bld_param(b, "relu6", "max", 0, NULL, 0.0, 6.0f);
            if (b->st != LCV_OK) return -1;
        }
        return lcv_bld_node_ids(b, "Clip", 3, (const int[]){v.id, b->relu6_min, b->relu6_max},
                                v.c, v.h, v.w, NULL);
    }
    return lcv_bld_fail(b, LCV_ERR_INTERNAL, "unhandled activation %d", (int)act);
}

int lcv_bld_binary(lcv_builder *b, const char *op_type, int x, int y) {
    if (b->st != LCV_OK) return -1;
    lcv_bld_val v = b->vals[x];
    return lcv_bld_node(b, op_type, 2, (const int[]){x, y}, v.c, v.h, v.w, NULL);
}

int lcv_bld_concat(lcv_builder *b, int x, int y) {
    if (b->st != LCV_OK) return -1;
    lcv_bld_val vx = b->vals[x], vy = b->vals[y];
    lcv_node *n;
    int r = lcv_bld_node(b, "Concat", 2, (const int[]){x, y}, vx.c + vy.c, vx.h, vx.w, &n);
    return r >= 0 && lcv_bld_set_int(b, n, "axis", 1) ? r : -1;
}

lcv_status lcv_bld_split_half(lcv_builder *b, int x, int *lo, int *hi) {
    *lo = *hi = -1;
    if (b->st != LCV_OK) return b->st;
    lcv_bld_val v = b->vals[x];
    char name[64], out0[80], out1[80];
    node_name(b, "Split", name, sizeof name);
    snprintf(out0, sizeof out0, "%s:0", name);
    snprintf(out1, sizeof out1, "%s:1", name);
    const char *in_names[1] = {b->g->values[v.id].name};
    const char *out_names[2] = {out0, out1};
    lcv_node *n;
    if (lcv_graph_add_node(b->g, name, "Split", "", 1, in_names, 2, out_names, &n, &b->err) !=
        LCV_OK) {
        b->st = LCV_ERR_NOMEM;
        return b->st;
    }
    int o0 = n->out[0], o1 = n->out[1];
    if (!lcv_bld_set_int(b, n, "axis", 1)) return b->st;
    *lo = add_handle(b, o0, v.c / 2, v.h, v.w);
    *hi = add_handle(b, o1, v.c / 2, v.h, v.w);
    return b->st;
}

int lcv_bld_conv(lcv_builder *b, int x, int out_c, int kernel, int stride, int groups, bool bn,
             lcv_build_act act) {
    if (b->st != LCV_OK) return -1;
    lcv_bld_val v = b->vals[x];
    char owner[64];
    node_name(b, "Conv", owner, sizeof owner);
    int64_t cin_g = v.c / groups, fan_in = cin_g * kernel * kernel;
    double bound = 1.0 / sqrt((double)fan_in); /* kaiming_uniform_(a = sqrt(5)) */
    int wid = lcv_bld_param(b, owner, "weight", 4,
                        (const int64_t[]){out_c, cin_g, kernel, kernel}, bound, 0.0f);
    int bid = bn ? -1 : lcv_bld_param(b, owner, "bias", 1, (const int64_t[]){out_c}, bound, 0.0f);
    if (b->st != LCV_OK) return -1;
    int ho = (v.h - 1) / stride + 1, wo = (v.w - 1) / stride + 1;
    lcv_node *n;
    int y = lcv_bld_node_ids(b, "Conv", bn ? 2 : 3, (const int[]){v.id, wid, bid}, out_c, ho, wo,
                             &n);
    int64_t k2[2] = {kernel, kernel}, s2[2] = {stride, stride};
    int64_t p = kernel / 2, pads[4] = {p, p, p, p};
    if (y < 0 || !lcv_bld_set_ints(b, n, "kernel_shape", 2, k2) ||
        !lcv_bld_set_ints(b, n, "strides", 2, s2) || !lcv_bld_set_ints(b, n, "pads", 4, pads) ||
        !lcv_bld_set_int(b, n, "group", groups))
        return -1;
    if (bn) {
        node_name(b, "BatchNormalization", owner, sizeof owner);
        int64_t d[1] = {out_c};
        int sc = lcv_bld_param(b, owner, "scale", 1, d, 0.0, 1.0f);
        int bi = lcv_bld_param(b, owner, "bias", 1, d, 0.0, 0.0f);
        int mu = lcv_bld_param(b, owner, "running_mean", 1, d, 0.0, 0.0f);
        int va = lcv_bld_param(b, owner, "running_var", 1, d, 0.0, 1.0f);
        if (b->st != LCV_OK) return -1;
        y = lcv_bld_node_ids(b, "BatchNormalization", 5,
                             (const int[]){b->vals[y].id, sc, bi, mu, va}, out_c, ho, wo, &n);
        if (y < 0 || !lcv_bld_set_float(b, n, "epsilon", 1e-5f) ||
            !lcv_bld_set_float(b, n, "momentum", 0.9f))
            return -1;
    }
    return apply_act(b, y, act);
}

/* ---- public API ---- */

lcv_status lcv_builder_create(int channels, int height, int width, uint64_t seed,
                              lcv_builder **out) {
    if (!out) return LCV_ERR_INVALID_ARG;
    lcv_builder *b = *out = calloc(1, sizeof *b);
    if (!b) return LCV_ERR_NOMEM;
    b->output = b->relu6_min = b->relu6_max = -1;
    b->rng = seed;
    if (!lcv_bld_check_channels(b, "lcv_builder_create", "channels", channels)) return b->st;
    if (height < 1 || height > LCV_BUILD_MAX_SIDE || width < 1 || width > LCV_BUILD_MAX_SIDE) {
        lcv_bld_fail(b, LCV_ERR_INVALID_ARG, "lcv_builder_create: image size %dx%d (height x "
                     "width) is outside 1..%d", height, width, LCV_BUILD_MAX_SIDE);
        return b->st;
    }
    int id;
    if (!(b->g = lcv_graph_new()) || lcv_graph_intern(b->g, "images", &id, &b->err) != LCV_OK ||
        lcv_graph_add_input(b->g, id, &b->err) != LCV_OK ||
        lcv_graph_add_opset(b->g, "", BUILD_OPSET, &b->err) != LCV_OK) {
        lcv_bld_fail(b, LCV_ERR_NOMEM, "lcv_builder_create: out of memory");
        return b->st;
    }
    lcv_value *v = &b->g->values[id];
    v->dtype = LCV_DTYPE_FLOAT32;
    v->ndim = 4;
    v->dims[0] = -1;
    v->dims[1] = channels;
    v->dims[2] = height;
    v->dims[3] = width;
    if (!(v->dim_params[0] = malloc(6))) {
        lcv_bld_fail(b, LCV_ERR_NOMEM, "lcv_builder_create: out of memory");
        return b->st;
    }
    memcpy(v->dim_params[0], "batch", 6);
    add_handle(b, id, channels, height, width);
    return b->st;
}

void lcv_builder_free(lcv_builder *b) {
    if (!b) return;
    if (b->g) lcv_graph_free(b->g);
    free(b->vals);
    free(b);
}

const char *lcv_builder_errmsg(const lcv_builder *b) { return b ? b->err.msg : "no builder"; }
lcv_status lcv_builder_status(const lcv_builder *b) { return b ? b->st : LCV_ERR_INVALID_ARG; }
int lcv_builder_input(const lcv_builder *b) { return b && b->st == LCV_OK ? 0 : -1; }
int64_t lcv_builder_param_count(const lcv_builder *b) { return b ? b->n_params : 0; }

lcv_status lcv_builder_shape(const lcv_builder *b, int v, int *channels, int *height,
                             int *width) {
    if (!b || v < 0 || v >= b->n_vals) return LCV_ERR_INVALID_ARG;
    if (channels) *channels = b->vals[v].c;
    if (height) *height = b->vals[v].h;
    if (width) *width = b->vals[v].w;
    return LCV_OK;
}

int lcv_builder_conv(lcv_builder *b, int x, int out_channels, int kernel, int stride, int groups,
                     lcv_build_act act) {
    const char *W = "lcv_builder_conv";
    if (!b) return -1;
    const lcv_bld_val *v = lcv_bld_get(b, x, W, 1);
    if (!v || !lcv_bld_check_channels(b, W, "out_channels", out_channels) ||
        !lcv_bld_check_kernel(b, W, kernel) || !lcv_bld_check_stride(b, W, stride) ||
        !lcv_bld_check_act(b, W, act))
        return -1;
    if (groups < 1 || v->c % groups || out_channels % groups)
        return lcv_bld_fail(b, LCV_ERR_INVALID_ARG, "%s: groups %d must be >= 1 and divide both "
                            "the input channels (%d) and out_channels (%d)", W, groups, v->c,
                            out_channels);
    return lcv_bld_conv(b, x, out_channels, kernel, stride, groups, true, act);
}

int lcv_builder_act(lcv_builder *b, int x, lcv_build_act act) {
    const char *W = "lcv_builder_act";
    if (!b || !lcv_bld_get(b, x, W, -1) || !lcv_bld_check_act(b, W, act)) return -1;
    return apply_act(b, x, act);
}

int lcv_builder_add(lcv_builder *b, int x, int y) {
    const char *W = "lcv_builder_add";
    if (!b) return -1;
    const lcv_bld_val *vx = lcv_bld_get(b, x, W, -1), *vy = lcv_bld_get(b, y, W, -1);
    if (!vx || !vy) return -1;
    if (vx->c != vy->c || vx->h != vy->h || vx->w != vy->w)
        return lcv_bld_fail(b, LCV_ERR_INVALID_ARG, "%s: shapes differ: value %d is %dx%dx%d, "
                            "value %d is %dx%dx%d (C x H x W)", W, x, vx->c, vx->h, vx->w, y,
                            vy->c, vy->h, vy->w);
    return lcv_bld_binary(b, "Add", x, y);
}

int lcv_builder_global_avgpool(lcv_builder *b, int x) {
    if (!b) return -1;
    const lcv_bld_val *v = lcv_bld_get(b, x, "lcv_builder_global_avgpool", 1);
    if (!v) return -1;
    int c = v->c;
    int p = lcv_bld_node(b, "GlobalAveragePool", 1, &x, c, 1, 1, NULL);
    if (p < 0) return -1;
    lcv_node *n;
    int f = lcv_bld_node(b, "Flatten", 1, &p, c, 0, 0, &n);
    return f >= 0 && lcv_bld_set_int(b, n, "axis", 1) ? f : -1;
}

int lcv_builder_linear(lcv_builder *b, int x, int out_features) {
    const char *W = "lcv_builder_linear";
    if (!b) return -1;
    const lcv_bld_val *v = lcv_bld_get(b, x, W, -1);
    if (!v || !lcv_bld_check_channels(b, W, "out_features", out_features)) return -1;
    int64_t in = v->h > 0 ? (int64_t)v->c * v->h * v->w : v->c;
    if (in > LCV_BUILD_MAX_PARAMS)
        return lcv_bld_fail(b, LCV_ERR_INVALID_ARG, "%s: %lld input features is too many", W,
                            (long long)in);
    if (v->h > 0) {
        lcv_node *n;
        x = lcv_bld_node(b, "Flatten", 1, &x, (int)in, 0, 0, &n);
        if (x < 0 || !lcv_bld_set_int(b, n, "axis", 1)) return -1;
    }
    char owner[64];
    node_name(b, "Gemm", owner, sizeof owner);
    double bound = 1.0 / sqrt((double)in);
    int wid = lcv_bld_param(b, owner, "weight", 2, (const int64_t[]){out_features, in}, bound, 0.0f);
    int bid = lcv_bld_param(b, owner, "bias", 1, (const int64_t[]){out_features}, bound, 0.0f);
    if (b->st != LCV_OK) return -1;
    lcv_node *n;
    int y = lcv_bld_node_ids(b, "Gemm", 3, (const int[]){b->vals[x].id, wid, bid}, out_features,
                             0, 0, &n);
    return y >= 0 && lcv_bld_set_int(b, n, "transB", 1) ? y : -1;
}

lcv_status lcv_builder_finish(lcv_builder *b, int output, void **data, size_t *size) {
    if (!b || !data || !size) return LCV_ERR_INVALID_ARG;
    *data = NULL;
    *size = 0;
    if (b->st != LCV_OK) return b->st;
    if (b->output >= 0 && output != b->output) {
        lcv_bld_fail(b, LCV_ERR_INVALID_ARG, "lcv_builder_finish: already finished with output %d, "
                     "not %d", b->output, output);
        return b->st;
    }
    if (b->output < 0) {
        const lcv_bld_val *v = lcv_bld_get(b, output, "lcv_builder_finish", -1);
        if (!v) return b->st;
        if (output == 0) {
            lcv_bld_fail(b, LCV_ERR_INVALID_ARG, "lcv_builder_finish: the output is the input "
                         "itself; add blocks first");
            return b->st;
        }
        lcv_value *gv = &b->g->values[v->id];
        /* Rename the output "logits": safe here because the builder looks no value up by
         * name after this point (the graph's name index keeps the old name). */
        char *name = malloc(7);
        char *batch = malloc(6);
        if (!name || !batch || lcv_graph_add_output(b->g, v->id, &b->err) != LCV_OK) {
            free(name);
            free(batch);
            lcv_bld_fail(b, LCV_ERR_NOMEM, "lcv_builder_finish: out of memory");
            return b->st;
        }
        memcpy(name, "logits", 7);
        memcpy(batch, "batch", 6);
        free(gv->name);
        gv->name = name;
        gv->dtype = LCV_DTYPE_FLOAT32;
        gv->ndim = v->h > 0 ? 4 : 2;
        gv->dims[0] = -1;
        gv->dim_params[0] = batch;
        gv->dims[1] = v->c;
        if (v->h > 0) {
            gv->dims[2] = v->h;
            gv->dims[3] = v->w;
        }
        b->output = output;
    }
    lcv_status st = lcv_onnx_write_graph(b->g, BUILD_OPSET, data, size, &b->err);
    if (st != LCV_OK) b->st = st;
    return st;
}

lcv_status lcv_builder_write(lcv_builder *b, int output, const char *path) {
    if (!b || !path) return LCV_ERR_INVALID_ARG;
    void *data;
    size_t size;
    lcv_status st = lcv_builder_finish(b, output, &data, &size);
    if (st != LCV_OK) return st;
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(data, 1, size, f) == size;
    if (f && fclose(f) != 0) ok = false;
    free(data);
    if (!ok) lcv_bld_fail(b, LCV_ERR_IO, "lcv_builder_write: cannot write '%s'", path);
    return b->st;
}

void lcv_build_free_buffer(void *data) { free(data); }
