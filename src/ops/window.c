/* window.c - reading, validating and resolving the sliding-window attributes (kernel_shape,
 * strides, dilations, pads, auto_pad) shared by Conv, ConvTranspose and pooling; see window.h.
 * All checks happen here so the kernels can index without further bounds reasoning. */
#include <string.h>

#include <stdlib.h>

#include "window.h"

/* Reads an INTS attribute of exactly want entries, each in [lo, LCV_WINDOW_MAX_ATTR], into vals.
 * Absent: vals keeps its defaults. */
static lcv_status read_ints_attr(lcv_opctx *c, const char *name, int64_t want, int64_t lo,
                                 int64_t *vals) {
    const lcv_attr *a = lcv_attr_find(c->node, name);
    if (!a) return LCV_OK;
    if (a->type != LCV_ATTR_INTS)
        return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "attribute '%s' must be a list of ints", name);
    if (a->n != want)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "attribute '%s' has %lld values, expected %lld",
                           name, (long long)a->n, (long long)want);
    for (int64_t i = 0; i < want; i++) {
        if (a->ints[i] < lo || a->ints[i] > LCV_WINDOW_MAX_ATTR)
            return lcv_op_fail(c, LCV_ERR_INVALID_ARG,
                               "attribute '%s'[%lld] = %lld is outside [%lld, %lld]", name,
                               (long long)i, (long long)a->ints[i], (long long)lo,
                               (long long)LCV_WINDOW_MAX_ATTR);
        vals[i] = a->ints[i];
    }
    return LCV_OK;
}

lcv_status lcv_window_parse(lcv_opctx *c, int nsp, const int64_t *in_sp, const int64_t *kernel,
                            lcv_window *w) {
    memset(w, 0, sizeof *w);
    if (nsp < 1 || nsp > LCV_MAX_DIMS - 2)
        return lcv_op_fail(c, LCV_ERR_SHAPE, "needs 1 to %d spatial dims, got %d",
                           LCV_MAX_DIMS - 2, nsp);
    w->nsp = nsp;
    for (int i = 0; i < nsp; i++) {
        if (in_sp[i] < 0)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "spatial dim %d of the input is %lld", i,
                               (long long)in_sp[i]);
        w->in[i] = in_sp[i];
        w->stride[i] = 1;
        w->dilation[i] = 1;
    }

    int64_t ks[LCV_MAX_DIMS];
    const lcv_attr *ka = lcv_attr_find(c->node, "kernel_shape");
    if (!ka && !kernel)
        return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "attribute 'kernel_shape' is required");
    lcv_status st = read_ints_attr(c, "kernel_shape", nsp, 1, ks);
    if (st != LCV_OK) return st;
    for (int i = 0; i < nsp; i++) {
        if (kernel) {
            if (kernel[i] < 1 || kernel[i] > LCV_WINDOW_MAX_ATTR)
                return lcv_op_fail(c, LCV_ERR_SHAPE, "kernel size %lld in spatial dim %d is "
                                   "outside [1, %lld]", (long long)kernel[i], i,
                                   (long long)LCV_WINDOW_MAX_ATTR);
            if (ka && ks[i] != kernel[i])
                return lcv_op_fail(c, LCV_ERR_SHAPE, "kernel_shape[%d] = %lld but the weights "
                                   "have %lld", i, (long long)ks[i], (long long)kernel[i]);
            w->kernel[i] = kernel[i];
        } else {
            w->kernel[i] = ks[i];
        }
    }
    if ((st = read_ints_attr(c, "strides", nsp, 1, w->stride)) != LCV_OK) return st;
    if ((st = read_ints_attr(c, "dilations", nsp, 1, w->dilation)) != LCV_OK) return st;
    int64_t pads[2 * LCV_MAX_DIMS] = {0};
    if ((st = read_ints_attr(c, "pads", 2 * (int64_t)nsp, 0, pads)) != LCV_OK) return st;
    for (int i = 0; i < nsp; i++) {
        w->pad_begin[i] = pads[i];
        w->pad_end[i] = pads[nsp + i];
    }

    const char *ap = lcv_attr_str(c->node, "auto_pad", "NOTSET");
    if (strcmp(ap, "NOTSET") == 0 || ap[0] == '\0') w->auto_pad = LCV_AUTO_PAD_NOTSET;
    else if (strcmp(ap, "SAME_UPPER") == 0) w->auto_pad = LCV_AUTO_PAD_SAME_UPPER;
    else if (strcmp(ap, "SAME_LOWER") == 0) w->auto_pad = LCV_AUTO_PAD_SAME_LOWER;
    else if (strcmp(ap, "VALID") == 0) w->auto_pad = LCV_AUTO_PAD_VALID;
    else
        return lcv_op_fail(c, LCV_ERR_INVALID_ARG, "auto_pad '%s' is not one of NOTSET, "
                           "SAME_UPPER, SAME_LOWER, VALID", ap);
    return LCV_OK;
}

lcv_status lcv_window_forward_out(lcv_opctx *c, lcv_window *w, bool ceil_mode) {
    for (int i = 0; i < w->nsp; i++) {
        int64_t ext = lcv_window_extent(w, i), s = w->stride[i], in = w->in[i];
        if (w->auto_pad == LCV_AUTO_PAD_SAME_UPPER || w->auto_pad == LCV_AUTO_PAD_SAME_LOWER) {
            /* SAME: output = ceil(in / stride), the padding needed split evenly, the odd one
             * at the end (UPPER) or the beginning (LOWER). */
            int64_t out = lcv_ceil_div(in, s);
            int64_t total = (out - 1) * s + ext - in;
            if (total < 0) total = 0;
            int64_t small = total / 2;
            w->pad_begin[i] = w->auto_pad == LCV_AUTO_PAD_SAME_UPPER ? small : total - small;
            w->pad_end[i] = total - w->pad_begin[i];
            w->out[i] = out;
        } else {
            if (w->auto_pad == LCV_AUTO_PAD_VALID) w->pad_begin[i] = w->pad_end[i] = 0;
            int64_t span = in + w->pad_begin[i] + w->pad_end[i] - ext;
            if (span < 0)
                return lcv_op_fail(c, LCV_ERR_SHAPE, "spatial dim %d: input %lld + pads %lld+%lld "
                                   "is smaller than the dilated kernel %lld", i, (long long)in,
                                   (long long)w->pad_begin[i], (long long)w->pad_end[i],
                                   (long long)ext);
            int64_t out = (ceil_mode ? lcv_ceil_div(span, s) : span / s) + 1;
            /* A window must start inside the input or its begin padding. */
            if (ceil_mode && (out - 1) * s >= in + w->pad_begin[i]) out--;
            w->out[i] = out;
        }
        if (w->out[i] < 1)
            return lcv_op_fail(c, LCV_ERR_SHAPE, "spatial dim %d: output size %lld < 1 (input "
                               "%lld, kernel %lld, stride %lld, dilation %lld)", i,
                               (long long)w->out[i], (long long)in, (long long)w->kernel[i],
                               (long long)s, (long long)w->dilation[i]);
    }
    return LCV_OK;
}

/* float16/bfloat16 operands are widened to float32 copies (owned, caller frees). */
static float *widen_f32(const lcv_tensor *t) {
    int64_t n = lcv_tensor_count(t);
    float *p = malloc(sizeof(float) * (size_t)(n ? n : 1));
    if (p)
        for (int64_t i = 0; i < n; i++) p[i] = (float)lcv_load_f64(t->dtype, t->data, i);
    return p;
}

lcv_status lcv_window_run(lcv_opctx *c, const void *geom, lcv_window_kernel_f32 run_f32,
                          lcv_window_kernel_f64 run_f64) {
    const lcv_tensor *x = c->in[0], *wt = c->in[1], *b = lcv_op_input(c, 2);
    lcv_tensor *y = c->out[0];
    if (x->dtype == LCV_DTYPE_FLOAT32) {
        run_f32(geom, x->data, wt->data, b ? b->data : NULL, y->data);
        return LCV_OK;
    }
    if (x->dtype == LCV_DTYPE_FLOAT64) {
        run_f64(geom, x->data, wt->data, b ? b->data : NULL, y->data);
        return LCV_OK;
    }
    lcv_status st = LCV_OK;
    float *xf = widen_f32(x), *wf = widen_f32(wt), *bf = b ? widen_f32(b) : NULL;
    int64_t ny = lcv_tensor_count(y);
    float *yf = malloc(sizeof(float) * (size_t)(ny ? ny : 1));
    if (xf && wf && yf && (!b || bf)) {
        run_f32(geom, xf, wf, bf, yf);
        for (int64_t i = 0; i < ny; i++) lcv_store_f64(y->dtype, y->data, i, yf[i]);
    } else {
        st = lcv_op_fail(c, LCV_ERR_NOMEM, "out of memory widening %s operands to float32",
                         lcv_dtype_name(x->dtype));
    }
    free(xf);
    free(wf);
    free(bf);
    free(yf);
    return st;
}
