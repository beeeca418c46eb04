/* image.c - the lcv_image object and the geometry and normalisation that turn a decoded image
 * into a model input tensor: bilinear resize, crop, shorter-side resize + centre crop, channel
 * order, layout and scale/mean/std. Decoding itself lives in codec.c. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image_internal.h"

/* Files above this are refused before reading (a 32768^2 RGB PNG compresses far below it). */
#define MAX_FILE_BYTES ((uint64_t)1 << 30)

lcv_status lcv_image_fail(char *errbuf, size_t errcap, lcv_status st, const char *fmt, ...) {
    if (errbuf && errcap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errcap, fmt, ap);
        va_end(ap);
    }
    return st;
}

lcv_status lcv_image_check_size(const char *format, uint64_t width, uint64_t height,
                                uint64_t max_pixels, char *errbuf, size_t errcap) {
    if (width < 1 || height < 1 || width > LCV_IMAGE_MAX_SIDE || height > LCV_IMAGE_MAX_SIDE)
        return lcv_image_fail(errbuf, errcap, LCV_ERR_UNSUPPORTED,
                              "%s image of %llu x %llu pixels is empty or exceeds %d per side",
                              format, (unsigned long long)width, (unsigned long long)height,
                              LCV_IMAGE_MAX_SIDE);
    if (width * height > max_pixels)
        return lcv_image_fail(errbuf, errcap, LCV_ERR_UNSUPPORTED,
                              "%s image of %llu x %llu pixels exceeds the budget of %llu pixels",
                              format, (unsigned long long)width, (unsigned long long)height,
                              (unsigned long long)max_pixels);
    return LCV_OK;
}

lcv_image_params lcv_image_default_params(void) {
    lcv_image_params p;
    memset(&p, 0, sizeof p);
    p.channels = 3;
    p.scale = 1.0f / 255.0f;
    for (int c = 0; c < 3; c++) p.std[c] = 1.0f;
    return p;
}

lcv_status lcv_image_create(int width, int height, int channels, lcv_image **out) {
    if (!out) return LCV_ERR_INVALID_ARG;
    *out = NULL;
    if (width < 1 || height < 1 || width > LCV_IMAGE_MAX_SIDE || height > LCV_IMAGE_MAX_SIDE ||
        (channels != 1 && channels != 3))
        return LCV_ERR_INVALID_ARG;
    lcv_image *img = malloc(sizeof *img);
    if (!img) return LCV_ERR_NOMEM;
    /* At most 32768 * 32768 * 3 bytes: fits size_t on 64-bit; checked for 32-bit hosts. */
    uint64_t bytes = (uint64_t)width * (uint64_t)height * (uint64_t)channels;
    img->data = bytes <= (uint64_t)SIZE_MAX ? calloc((size_t)bytes, 1) : NULL;
    if (!img->data) {
        free(img);
        return LCV_ERR_NOMEM;
    }
    img->width = width;
    img->height = height;
    img->channels = channels;
    *out = img;
    return LCV_OK;
}

void lcv_image_free(lcv_image *img) {
    if (!img) return;
    free(img->data);
    free(img);
}

int lcv_image_sniff(const void *head, size_t n) {
    const uint8_t *b = head;
    if (!b) return 0;
    if (n >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0) return 1;
    if (n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff) return 1;
    return 0;
}

static int channels_of(const lcv_image_params *params) {
    return params ? params->channels : 3;
}

lcv_status lcv_image_load_buffer(const void *data, size_t size, const lcv_image_params *params,
                                 lcv_image **out, char *errbuf, size_t errcap) {
    if (!out || (!data && size))
        return lcv_image_fail(errbuf, errcap, LCV_ERR_INVALID_ARG, "image: NULL argument");
    *out = NULL;
    int channels = channels_of(params);
    if (channels != 1 && channels != 3)
        return lcv_image_fail(errbuf, errcap, LCV_ERR_INVALID_ARG,
                              "image: channels must be 1 or 3, not %d", channels);
    uint64_t max_pixels = params && params->max_pixels ? params->max_pixels
                                                       : LCV_IMAGE_DEFAULT_MAX_PIXELS;
    const uint8_t *b = data;
    if (size >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0)
        return lcv_image_decode_png(b, size, channels, max_pixels, out, errbuf, errcap);
    if (size >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff)
        return lcv_image_decode_jpeg(b, size, channels, max_pixels, out, errbuf, errcap);
    return lcv_image_fail(errbuf, errcap, LCV_ERR_UNSUPPORTED,
                          "image: not a PNG or JPEG file (unrecognised signature)");
}

static lcv_status read_whole_file(const char *path, uint8_t **data, size_t *size, char *errbuf,
                                  size_t errcap) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return lcv_image_fail(errbuf, errcap, LCV_ERR_IO, "cannot open '%s': %s", path,
                              strerror(errno));
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0) len = ftell(f);
    if (len < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return lcv_image_fail(errbuf, errcap, LCV_ERR_IO, "cannot determine the size of '%s'",
                              path);
    }
    if ((uint64_t)len > MAX_FILE_BYTES) {
        fclose(f);
        return lcv_image_fail(errbuf, errcap, LCV_ERR_UNSUPPORTED,
                              "'%s' is %ld bytes, above the image file limit", path, len);
    }
    uint8_t *buf = malloc(len ? (size_t)len : 1);
    if (!buf) {
        fclose(f);
        return lcv_image_fail(errbuf, errcap, LCV_ERR_NOMEM, "out of memory reading '%s'", path);
    }
    size_t got = fread(buf, 1, (size_t)len, f);
    fclose(f);
    if (got != (size_t)len) {
        free(buf);
        return lcv_image_fail(errbuf, errcap, LCV_ERR_IO, "short read on '%s'", path);
    }
    *data = buf;
    *size = got;
    return LCV_OK;
}

lcv_status lcv_image_load_file(const char *path, const lcv_image_params *params, lcv_image **out,
                               char *errbuf, size_t errcap) {
    if (!path || !out)
        return lcv_image_fail(errbuf, errcap, LCV_ERR_INVALID_ARG, "image: NULL argument");
    *out = NULL;
    uint8_t *data = NULL;
    size_t size = 0;
    lcv_status st = read_whole_file(path, &data, &size, errbuf, errcap);
    if (st != LCV_OK) return st;
    char msg[256] = "";
    st = lcv_image_load_buffer(data, size, params, out, msg, sizeof msg);
    free(data);
    if (st != LCV_OK) return lcv_image_fail(errbuf, errcap, st, "%s: %s", path, msg);
    return LCV_OK;
}

static bool valid_image(const lcv_image *img) {
    return img && img->data && img->width >= 1 && img->height >= 1 &&
           img->width <= LCV_IMAGE_MAX_SIDE && img->height <= LCV_IMAGE_MAX_SIDE &&
           (img->channels == 1 || img->channels == 3);
}

/* Source coordinate of output index i for a resize from n to m samples (half-pixel centres),
 * as the two neighbours and the weight of the second. */
static void bilinear_tap(int i, int n, int m, int *i0, int *i1, float *w1) {
    double s = ((double)i + 0.5) * (double)n / (double)m - 0.5;
    if (s < 0) s = 0;
    int a = (int)s;
    if (a > n - 1) a = n - 1;
    *i0 = a;
    *i1 = a + 1 < n ? a + 1 : n - 1;
    *w1 = (float)(s - a);
}

lcv_status lcv_image_resize(const lcv_image *src, int width, int height, lcv_image **out,
                            char *errbuf, size_t errcap) {
    if (!out || !valid_image(src))
        return lcv_image_fail(errbuf, errcap, LCV_ERR_INVALID_ARG, "resize: invalid image");
    *out = NULL;
    if (width < 1 || height < 1 || width > LCV_IMAGE_MAX_SIDE || height > LCV_IMAGE_MAX_SIDE)
        return lcv_image_fail(errbuf, errcap, LCV_ERR_INVALID_ARG,
                              "resize: target %d x %d is outside 1..%d", width, height,
                              LCV_IMAGE_MAX_SIDE);
    lcv_image *dst = NULL;
    int *xs = malloc(2 * (size_t)width * sizeof(int));
    float *xw = malloc((size_t)width * sizeof(float));
    lcv_status st = xs && xw ? lcv_image_create(width, height, src->channels, &dst) : LCV_ERR_NOMEM;
    if (st != LCV_OK) {
        free(xs);
        free(xw);
        return lcv_image_fail(errbuf, errcap, LCV_ERR_NOMEM,
                              "resize: out of memory for %d x %d pixels", width, height);
    }
    for (int x = 0; x < width; x++)
        bilinear_tap(x, src->width, width, &xs[2 * x], &xs[2 * x + 1], &xw[x]);
    int c = src->channels;
    size_t sstride = (size_t)src->width * (size_t)c, dstride = (size_t)width * (size_t)c;
    for (int y = 0; y < height; y++) {
        int y0, y1;
        float wy;
        bilinear_tap(y, src->height, height, &y0, &y1, &wy);
        const uint8_t *r0 = src->data + (size_t)y0 * sstride, *r1 = src->data + (size_t)y1 * sstride;
        uint8_t *d = dst->data + (size_t)y * dstride;
        for (int x = 0; x < width; x++) {
            size_t a = (size_t)xs[2 * x] * (size_t)c, b = (size_t)xs[2 * x + 1] * (size_t)c;
            for (int k = 0; k < c; k++) {
                float top = r0[a + k] + xw[x] * (float)(r0[b + k] - r0[a + k]);
                float bot = r1[a + k] + xw[x] * (float)(r1[b + k] - r1[a + k]);
                float v = top + wy * (bot - top) + 0.5f;
                d[(size_t)x * c + k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
    }
    free(xs);
    free(xw);
    *out = dst;
    return LCV_OK;
}

lcv_status lcv_image_crop(const lcv_image *src, int x, int y, int width, int height,
                          lcv_image **out, char *errbuf, size_t errcap) {
    if (!out || !valid_image(src))
        return lcv_image_fail(errbuf, errcap, LCV_ERR_INVALID_ARG, "crop: invalid image");
    *out = NULL;
    if (x < 0 || y < 0 || width < 1 || height < 1 || width > src->width - x ||
        height > src->height - y)
        return lcv_image_fail(errbuf, errcap, LCV_ERR_INVALID_ARG,
                              "crop: %d x %d at (%d, %d) does not fit in the %d x %d image",
                              width, height, x, y, src->width, src->height);
    lcv_image *dst = NULL;
    if (lcv_image_create(width, height, src->channels, &dst) != LCV_OK)
        return lcv_image_fail(errbuf, errcap, LCV_ERR_NOMEM, "crop: out of memory");
    size_t c = (size_t)src->channels, row = (size_t)width * c;
    for (int r = 0; r < height; r++)
        memcpy(dst->data + (size_t)r * row,
               src->data + ((size_t)(y + r) * (size_t)src->width + (size_t)x) * c, row);
    *out = dst;
    return LCV_OK;
}

static lcv_status copy_image(const lcv_image *src, lcv_image **out, char *errbuf, size_t errcap) {
    return lcv_image_crop(src, 0, 0, src->width, src->height, out, errbuf, errcap);
}

lcv_status lcv_image_prepare(const lcv_image *src, const lcv_image_params *params,
                             lcv_image **out, char *errbuf, size_t errcap) {
    if (!out || !valid_image(src))
        return lcv_image_fail(errbuf, errcap, LCV_ERR_INVALID_ARG, "image: invalid image");
    *out = NULL;
    lcv_image_params def = lcv_image_default_params();
    const lcv_image_params *p = params ? params : &def;
    if (p->resize_short < 0 || p->width < 0 || p->height < 0 || (p->width > 0) != (p->height > 0))
        return lcv_image_fail(errbuf, errcap, LCV_ERR_INVALID_ARG,
                              "image: invalid geometry (resize_short %d, size %d x %d)",
                              p->resize_short, p->width, p->height);
    if (p->resize_short == 0) {
        if (p->width == 0 || (p->width == src->width && p->height == src->height))
            return copy_image(src, out, errbuf, errcap);
        return lcv_image_resize(src, p->width, p->height, out, errbuf, errcap);
    }
    int64_t s = p->resize_short, w = src->width, h = src->height;
    int64_t nw = w <= h ? s : (w * s + h / 2) / h;
    int64_t nh = w <= h ? (h * s + w / 2) / w : s;
    if (nw < 1) nw = 1;
    if (nh < 1) nh = 1;
    if (nw > LCV_IMAGE_MAX_SIDE || nh > LCV_IMAGE_MAX_SIDE)
        return lcv_image_fail(errbuf, errcap, LCV_ERR_INVALID_ARG,
                              "image: resizing %d x %d to shorter side %d gives %lld x %lld, "
                              "above %d per side",
                              src->width, src->height, p->resize_short, (long long)nw,
                              (long long)nh, LCV_IMAGE_MAX_SIDE);
    if (p->width > nw || p->height > nh)
        return lcv_image_fail(errbuf, errcap, LCV_ERR_INVALID_ARG,
                              "image: crop %d x %d is larger than the resized %lld x %lld image",
                              p->width, p->height, (long long)nw, (long long)nh);
    lcv_image *mid = NULL;
    lcv_status st = (nw == w && nh == h) ? copy_image(src, &mid, errbuf, errcap)
                                         : lcv_image_resize(src, (int)nw, (int)nh, &mid, errbuf,
                                                            errcap);
    if (st != LCV_OK || p->width == 0) {
        *out = mid;
        return st;
    }
    st = lcv_image_crop(mid, (int)(nw - p->width) / 2, (int)(nh - p->height) / 2, p->width,
                        p->height, out, errbuf, errcap);
    lcv_image_free(mid);
    return st;
}

/* Channel c (output order, 0..2 or 0) of pixel px, converting gray<->colour as needed. */
static float pixel_value(const uint8_t *px, int in_ch, int out_ch, int c, bool bgr) {
    if (out_ch == 1) {
        if (in_ch == 1) return px[0];
        return 0.299f * px[0] + 0.587f * px[1] + 0.114f * px[2];
    }
    if (in_ch == 1) return px[0];
    return px[bgr ? 2 - c : c];
}

lcv_status lcv_image_to_tensor(const lcv_image *img, const lcv_image_params *params,
                               lcv_tensor **out, char *errbuf, size_t errcap) {
    if (!out || !valid_image(img))
        return lcv_image_fail(errbuf, errcap, LCV_ERR_INVALID_ARG, "image: invalid image");
    *out = NULL;
    lcv_image_params def = lcv_image_default_params();
    const lcv_image_params *p = params ? params : &def;
    int oc = p->channels;
    if (oc != 1 && oc != 3)
        return lcv_image_fail(errbuf, errcap, LCV_ERR_INVALID_ARG,
                              "image: channels must be 1 or 3, not %d", oc);
    for (int c = 0; c < oc; c++)
        if (!(p->std[c] != 0.0f) || !isfinite(p->std[c]) || !isfinite(p->mean[c]))
            return lcv_image_fail(errbuf, errcap, LCV_ERR_INVALID_ARG,
                                  "image: std[%d] = %g / mean[%d] = %g is not usable", c,
                                  (double)p->std[c], c, (double)p->mean[c]);
    lcv_image *g = NULL;
    lcv_status st = lcv_image_prepare(img, p, &g, errbuf, errcap);
    if (st != LCV_OK) return st;
    int64_t dims[4] = {1, oc, g->height, g->width};
    if (p->nhwc) {
        dims[1] = g->height;
        dims[2] = g->width;
        dims[3] = oc;
    }
    lcv_tensor *t = NULL;
    st = lcv_tensor_create(LCV_DTYPE_FLOAT32, 4, dims, &t);
    if (st != LCV_OK) {
        lcv_image_free(g);
        return lcv_image_fail(errbuf, errcap, st, "image: cannot allocate a [%lld,%lld,%lld,%lld] "
                              "tensor", (long long)dims[0], (long long)dims[1],
                              (long long)dims[2], (long long)dims[3]);
    }
    float *dst = lcv_tensor_data(t);
    size_t plane = (size_t)g->width * (size_t)g->height;
    for (size_t i = 0; i < plane; i++) {
        const uint8_t *px = g->data + i * (size_t)g->channels;
        for (int c = 0; c < oc; c++) {
            float v = (pixel_value(px, g->channels, oc, c, p->bgr != 0) * p->scale - p->mean[c]) /
                      p->std[c];
            dst[p->nhwc ? i * (size_t)oc + (size_t)c : (size_t)c * plane + i] = v;
        }
    }
    lcv_image_free(g);
    *out = t;
    return LCV_OK;
}

lcv_status lcv_image_load_tensor(const char *path, const lcv_image_params *params,
                                 lcv_tensor **out, char *errbuf, size_t errcap) {
    if (!out) return lcv_image_fail(errbuf, errcap, LCV_ERR_INVALID_ARG, "image: NULL argument");
    *out = NULL;
    lcv_image *img = NULL;
    lcv_status st = lcv_image_load_file(path, params, &img, errbuf, errcap);
    if (st != LCV_OK) return st;
    st = lcv_image_to_tensor(img, params, out, errbuf, errcap);
    lcv_image_free(img);
    return st;
}
