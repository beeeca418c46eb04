/* build_blocks.c - the composite blocks of the model builder (include/leancv_build.h):
 * depthwise-separable, squeeze-excitation, inverted residual, channel shuffle, ShuffleNet v2
 * unit, ghost module and ResNet basic block. Each validates its arguments against the input's
 * shape, then composes the primitives of build.c. */
#include "build_impl.h"

int lcv_builder_dwsep(lcv_builder *b, int x, int out_channels, int kernel, int stride,
                      lcv_build_act act) {
    const char *W = "lcv_builder_dwsep";
    if (!b) return -1;
    const lcv_bld_val *v = lcv_bld_get(b, x, W, 1);
    if (!v || !lcv_bld_check_channels(b, W, "out_channels", out_channels) ||
        !lcv_bld_check_kernel(b, W, kernel) || !lcv_bld_check_stride(b, W, stride) ||
        !lcv_bld_check_act(b, W, act))
        return -1;
    int c = v->c;
    int d = lcv_bld_conv(b, x, c, kernel, stride, c, true, act);
    return d < 0 ? -1 : lcv_bld_conv(b, d, out_channels, 1, 1, 1, true, act);
}

/* SE on a validated map. */
static int squeeze_excite(lcv_builder *b, int x, int reduction) {
    int c = b->vals[x].c, hidden = c / reduction > 0 ? c / reduction : 1;
    int p = lcv_bld_node(b, "GlobalAveragePool", 1, &x, c, 1, 1, NULL);
    if (p < 0) return -1;
    int s = lcv_bld_conv(b, p, hidden, 1, 1, 1, false, LCV_BUILD_ACT_RELU);
    if (s < 0) return -1;
    s = lcv_bld_conv(b, s, c, 1, 1, 1, false, LCV_BUILD_ACT_NONE);
    if (s < 0) return -1;
    lcv_node *n;
    int gate = lcv_bld_node(b, "HardSigmoid", 1, &s, c, 1, 1, &n);
    /* PyTorch's Hardsigmoid: relu6(x + 3) / 6; ONNX's defaults are alpha 0.2, beta 0.5. */
    if (gate < 0 || !lcv_bld_set_float(b, n, "alpha", 1.0f / 6.0f) ||
        !lcv_bld_set_float(b, n, "beta", 0.5f))
        return -1;
    return lcv_bld_binary(b, "Mul", x, gate);
}

int lcv_builder_squeeze_excite(lcv_builder *b, int x, int reduction) {
    const char *W = "lcv_builder_squeeze_excite";
    if (!b || !lcv_bld_get(b, x, W, 1)) return -1;
    if (reduction < 1 || reduction > LCV_BUILD_MAX_CHANNELS)
        return lcv_bld_fail(b, LCV_ERR_INVALID_ARG, "%s: reduction is %d; it must be in 1..%d", W,
                            reduction, LCV_BUILD_MAX_CHANNELS);
    return squeeze_excite(b, x, reduction);
}

int lcv_builder_inverted_residual(lcv_builder *b, int x, int out_channels, int kernel,
                                  int stride, int expansion, int se_reduction,
                                  lcv_build_act act) {
    const char *W = "lcv_builder_inverted_residual";
    if (!b) return -1;
    const lcv_bld_val *v = lcv_bld_get(b, x, W, 1);
    if (!v || !lcv_bld_check_channels(b, W, "out_channels", out_channels) ||
        !lcv_bld_check_kernel(b, W, kernel) || !lcv_bld_check_stride(b, W, stride) ||
        !lcv_bld_check_act(b, W, act))
        return -1;
    int c = v->c;
    if (expansion < 1 || (int64_t)c * expansion > LCV_BUILD_MAX_CHANNELS)
        return lcv_bld_fail(b, LCV_ERR_INVALID_ARG, "%s: expansion %d must be >= 1 and keep the "
                            "hidden channels (%d x %d) within %d", W, expansion, c, expansion,
                            LCV_BUILD_MAX_CHANNELS);
    if (se_reduction < 0 || se_reduction > LCV_BUILD_MAX_CHANNELS)
        return lcv_bld_fail(b, LCV_ERR_INVALID_ARG, "%s: se_reduction is %d; it must be 0 (no "
                            "squeeze-excitation) or in 1..%d", W, se_reduction,
                            LCV_BUILD_MAX_CHANNELS);
    int hidden = c * expansion, y = x;
    if (expansion > 1) y = lcv_bld_conv(b, y, hidden, 1, 1, 1, true, act);
    if (y >= 0) y = lcv_bld_conv(b, y, hidden, kernel, stride, hidden, true, act);
    if (y >= 0 && se_reduction > 0) y = squeeze_excite(b, y, se_reduction);
    if (y >= 0) y = lcv_bld_conv(b, y, out_channels, 1, 1, 1, true, LCV_BUILD_ACT_NONE);
    if (y >= 0 && stride == 1 && out_channels == c) y = lcv_bld_binary(b, "Add", y, x);
    return y;
}

/* Shuffle of a validated map whose channels `groups` divides. */
static int channel_shuffle(lcv_builder *b, int x, int groups) {
    lcv_bld_val v = b->vals[x];
    /* dim 0 of a Reshape shape copies the input's batch (allowzero = 0) */
    int64_t split[5] = {0, groups, v.c / groups, v.h, v.w}, back[4] = {0, v.c, v.h, v.w};
    int64_t perm[5] = {0, 2, 1, 3, 4};
    int s1 = lcv_bld_const(b, LCV_DTYPE_INT64, "shape", 5, split);
    int s2 = lcv_bld_const(b, LCV_DTYPE_INT64, "shape", 4, back);
    if (s1 < 0 || s2 < 0) return -1;
    lcv_node *n;
    int r = lcv_bld_node_ids(b, "Reshape", 2, (const int[]){v.id, s1}, v.c, v.h, v.w, NULL);
    int t = r < 0 ? -1 : lcv_bld_node(b, "Transpose", 1, &r, v.c, v.h, v.w, &n);
    if (t < 0 || !lcv_bld_set_ints(b, n, "perm", 5, perm)) return -1;
    return lcv_bld_node_ids(b, "Reshape", 2, (const int[]){b->vals[t].id, s2}, v.c, v.h, v.w, NULL);
}

int lcv_builder_channel_shuffle(lcv_builder *b, int x, int groups) {
    const char *W = "lcv_builder_channel_shuffle";
    if (!b) return -1;
    const lcv_bld_val *v = lcv_bld_get(b, x, W, 1);
    if (!v) return -1;
    if (groups < 1 || v->c % groups)
        return lcv_bld_fail(b, LCV_ERR_INVALID_ARG, "%s: groups %d must be >= 1 and divide the "
                            "channels (%d)", W, groups, v->c);
    return channel_shuffle(b, x, groups);
}

/* The branch every ShuffleNet v2 unit has: 1x1-BN-ReLU, 3x3 dw-BN (stride), 1x1-BN-ReLU. */
static int shuffle_branch(lcv_builder *b, int x, int out, int stride) {
    int y = lcv_bld_conv(b, x, out, 1, 1, 1, true, LCV_BUILD_ACT_RELU);
    if (y >= 0) y = lcv_bld_conv(b, y, out, 3, stride, out, true, LCV_BUILD_ACT_NONE);
    if (y >= 0) y = lcv_bld_conv(b, y, out, 1, 1, 1, true, LCV_BUILD_ACT_RELU);
    return y;
}

int lcv_builder_shuffle_unit(lcv_builder *b, int x, int out_channels, int stride) {
    const char *W = "lcv_builder_shuffle_unit";
    if (!b) return -1;
    const lcv_bld_val *v = lcv_bld_get(b, x, W, 1);
    if (!v || !lcv_bld_check_channels(b, W, "out_channels", out_channels)) return -1;
    int c = v->c, half = out_channels / 2;
    if (out_channels % 2)
        return lcv_bld_fail(b, LCV_ERR_INVALID_ARG, "%s: out_channels %d must be even", W,
                            out_channels);
    if (stride != 1 && stride != 2)
        return lcv_bld_fail(b, LCV_ERR_INVALID_ARG, "%s: stride is %d; it must be 1 or 2", W,
                            stride);
    int y;
    if (stride == 1) {
        if (c != out_channels)
            return lcv_bld_fail(b, LCV_ERR_INVALID_ARG, "%s: a stride-1 unit keeps the channels: "
                                "out_channels %d differs from the input's %d", W, out_channels, c);
        int lo, hi;
        if (lcv_bld_split_half(b, x, &lo, &hi) != LCV_OK) return -1;
        int r = shuffle_branch(b, hi, half, 1);
        y = r < 0 ? -1 : lcv_bld_concat(b, lo, r);
    } else {
        int l = lcv_bld_conv(b, x, c, 3, 2, c, true, LCV_BUILD_ACT_NONE);
        if (l >= 0) l = lcv_bld_conv(b, l, half, 1, 1, 1, true, LCV_BUILD_ACT_RELU);
        int r = l < 0 ? -1 : shuffle_branch(b, x, half, 2);
        y = r < 0 ? -1 : lcv_bld_concat(b, l, r);
    }
    return y < 0 ? -1 : channel_shuffle(b, y, 2);
}

int lcv_builder_ghost_module(lcv_builder *b, int x, int out_channels, int ratio, int dw_kernel,
                             lcv_build_act act) {
    const char *W = "lcv_builder_ghost_module";
    if (!b) return -1;
    if (!lcv_bld_get(b, x, W, 1) || !lcv_bld_check_channels(b, W, "out_channels", out_channels) ||
        !lcv_bld_check_kernel(b, W, dw_kernel) || !lcv_bld_check_act(b, W, act))
        return -1;
    if (ratio < 2 || out_channels % ratio)
        return lcv_bld_fail(b, LCV_ERR_INVALID_ARG, "%s: ratio %d must be >= 2 and divide "
                            "out_channels (%d)", W, ratio, out_channels);
    int init = out_channels / ratio;
    int p = lcv_bld_conv(b, x, init, 1, 1, 1, true, act);
    int g = p < 0 ? -1 : lcv_bld_conv(b, p, out_channels - init, dw_kernel, 1, init, true, act);
    return g < 0 ? -1 : lcv_bld_concat(b, p, g);
}

int lcv_builder_basic_block(lcv_builder *b, int x, int out_channels, int stride) {
    const char *W = "lcv_builder_basic_block";
    if (!b) return -1;
    const lcv_bld_val *v = lcv_bld_get(b, x, W, 1);
    if (!v || !lcv_bld_check_channels(b, W, "out_channels", out_channels) ||
        !lcv_bld_check_stride(b, W, stride))
        return -1;
    bool project = stride != 1 || out_channels != v->c;
    int y = lcv_bld_conv(b, x, out_channels, 3, stride, 1, true, LCV_BUILD_ACT_RELU);
    if (y >= 0) y = lcv_bld_conv(b, y, out_channels, 3, 1, 1, true, LCV_BUILD_ACT_NONE);
    int s = project && y >= 0 ? lcv_bld_conv(b, x, out_channels, 1, stride, 1, true,
                                         LCV_BUILD_ACT_NONE)
                              : x;
    if (y >= 0 && s >= 0) y = lcv_bld_binary(b, "Add", y, s);
    return y < 0 || s < 0 ? -1 : lcv_builder_act(b, y, LCV_BUILD_ACT_RELU);
}
