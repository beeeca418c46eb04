/* build_dense.c - the model builder's blocks for dense prediction (include/leancv_build.h):
 * upsampling (Resize, nearest or bilinear), channel concatenation of skip connections, the
 * plain convolution with bias that ends a segmentation or detection head, and the learnably
 * scaled exponential of a detector's box distances. Each validates its arguments
 * against the input shapes, then composes the primitives of build.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build_impl.h"

/* A string attribute on a node just added; false after failing the builder. */
static bool set_str(lcv_builder *b, lcv_node *n, const char *name, const char *v) {
    lcv_attr *a;
    size_t len = strlen(v);
    if (lcv_node_add_attr(n, name, &a, &b->err) != LCV_OK) {
        b->st = LCV_ERR_NOMEM;
        return false;
    }
    a->type = LCV_ATTR_STRING;
    a->s = malloc(len + 1);
    if (!a->s) {
        lcv_bld_fail(b, LCV_ERR_NOMEM, "out of memory for attribute %s", name);
        return false;
    }
    memcpy(a->s, v, len + 1);
    a->s_len = len;
    return true;
}

int lcv_builder_upsample(lcv_builder *b, int x, int factor, int bilinear) {
    const char *W = "lcv_builder_upsample";
    if (!b) return -1;
    const lcv_bld_val *v = lcv_bld_get(b, x, W, 1);
    if (!v) return -1;
    if (factor < 2 || factor > LCV_BUILD_MAX_STRIDE)
        return lcv_bld_fail(b, LCV_ERR_INVALID_ARG, "%s: factor is %d; it must be in 2..%d", W,
                            factor, LCV_BUILD_MAX_STRIDE);
    if ((int64_t)v->h * factor > LCV_BUILD_MAX_SIDE || (int64_t)v->w * factor > LCV_BUILD_MAX_SIDE)
        return lcv_bld_fail(b, LCV_ERR_INVALID_ARG, "%s: %dx%d upsampled by %d exceeds the side "
                            "limit %d", W, v->h, v->w, factor, LCV_BUILD_MAX_SIDE);
    lcv_bld_val in = *v;
    float f = (float)factor, scales[4] = {1.0f, 1.0f, f, f};
    int sid = lcv_bld_const(b, LCV_DTYPE_FLOAT32, "scales", 4, scales);
    if (sid < 0) return -1;
    lcv_node *n;
    int y = lcv_bld_node_ids(b, "Resize", 3, (const int[]){in.id, -1, sid}, in.c, in.h * factor,
                             in.w * factor, &n);
    if (y < 0) return -1;
    /* PyTorch's nn.Upsample exports: nearest reads input floor(i / factor) (asymmetric, floor);
     * bilinear with align_corners=False samples at half-pixel centres. */
    if (!set_str(b, n, "mode", bilinear ? "linear" : "nearest") ||
        !set_str(b, n, "coordinate_transformation_mode", bilinear ? "half_pixel" : "asymmetric") ||
        (!bilinear && !set_str(b, n, "nearest_mode", "floor")))
        return -1;
    return y;
}

int lcv_builder_concat(lcv_builder *b, int x, int y) {
    const char *W = "lcv_builder_concat";
    if (!b) return -1;
    const lcv_bld_val *vx = lcv_bld_get(b, x, W, 1), *vy = lcv_bld_get(b, y, W, 1);
    if (!vx || !vy) return -1;
    if (vx->h != vy->h || vx->w != vy->w)
        return lcv_bld_fail(b, LCV_ERR_INVALID_ARG, "%s: sizes differ: value %d is %dx%d, value %d "
                            "is %dx%d (H x W)", W, x, vx->h, vx->w, y, vy->h, vy->w);
    if ((int64_t)vx->c + vy->c > LCV_BUILD_MAX_CHANNELS)
        return lcv_bld_fail(b, LCV_ERR_INVALID_ARG, "%s: %d + %d channels exceed %d", W, vx->c,
                            vy->c, LCV_BUILD_MAX_CHANNELS);
    return lcv_bld_concat(b, x, y);
}

int lcv_builder_head_conv(lcv_builder *b, int x, int out_channels, int kernel, float prior) {
    const char *W = "lcv_builder_head_conv";
    if (!b) return -1;
    const lcv_bld_val *v = lcv_bld_get(b, x, W, 1);
    if (!v || !lcv_bld_check_channels(b, W, "out_channels", out_channels) ||
        !lcv_bld_check_kernel(b, W, kernel))
        return -1;
    if (!(prior >= 0.0f && prior < 1.0f))
        return lcv_bld_fail(b, LCV_ERR_INVALID_ARG, "%s: prior %g is outside [0, 1)", W,
                            (double)prior);
    int y = lcv_bld_conv(b, x, out_channels, kernel, 1, 1, false, LCV_BUILD_ACT_NONE);
    if (y < 0 || prior == 0.0f) return y;
    /* the convolution just added: its bias starts where sigmoid gives the prior */
    const lcv_node *n = &b->g->nodes[b->g->n_nodes - 1];
    lcv_tensor *bias = b->g->values[n->in[2]].init;
    float v0 = (float)-log((1.0 - (double)prior) / (double)prior);
    for (int i = 0; i < out_channels; i++) ((float *)bias->data)[i] = v0;
    return y;
}

int lcv_builder_scaled_exp(lcv_builder *b, int x, float scale) {
    const char *W = "lcv_builder_scaled_exp";
    if (!b) return -1;
    const lcv_bld_val *v = lcv_bld_get(b, x, W, -1);
    if (!v) return -1;
    if (!(scale > 0.0f && scale <= 1e6f))
        return lcv_bld_fail(b, LCV_ERR_INVALID_ARG, "%s: scale %g is outside (0, 1e6]", W,
                            (double)scale);
    lcv_bld_val in = *v;
    int e = lcv_bld_node(b, "Exp", 1, &x, in.c, in.h, in.w, NULL);
    char owner[64];
    snprintf(owner, sizeof owner, "Scale_%d", b->g->n_nodes);
    int sid = lcv_bld_param(b, owner, "scale", 1, (const int64_t[]){1}, 0.0, scale);
    if (e < 0 || sid < 0) return -1;
    return lcv_bld_node_ids(b, "Mul", 2, (const int[]){b->vals[e].id, sid}, in.c, in.h, in.w,
                            NULL);
}
