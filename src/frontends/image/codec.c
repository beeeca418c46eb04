/* codec.c - PNG and JPEG decoding into 8-bit gray/RGB, and PNG writing, on libpng and libjpeg.
 * Both libraries report fatal errors by calling a handler that must not return; ours longjmp
 * back into the function that started the decode, so no setjmp context leaves this file and
 * no library path can call exit(). Sizes are checked after the header, before allocating. */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#include "image_internal.h"

/* ---- PNG ---- */

typedef struct png_ctx {
    jmp_buf jb;
    lcv_status status; /* what a longjmp means: LCV_ERR_PARSE unless set before png_error */
    char msg[200];
    const uint8_t *data; /* reading: the whole file */
    size_t size, pos;
} png_ctx;

static void png_on_error(png_structp png, png_const_charp msg) {
    png_ctx *ctx = png_get_error_ptr(png);
    snprintf(ctx->msg, sizeof ctx->msg, "%s", msg ? msg : "unknown error");
    longjmp(ctx->jb, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg; /* warnings (e.g. bad ancillary chunks) do not stop decoding */
}

static void png_read_mem(png_structp png, png_bytep out, size_t n) {
    png_ctx *ctx = png_get_io_ptr(png);
    if (n > ctx->size - ctx->pos) png_error(png, "file is truncated");
    memcpy(out, ctx->data + ctx->pos, n);
    ctx->pos += n;
}

/* Asks libpng for 8-bit gray or RGB without alpha whatever the file holds. */
static void png_request_format(png_structp png, png_infop info, int channels) {
    int color = png_get_color_type(png, info);
    int depth = png_get_bit_depth(png, info);
    if (depth == 16) png_set_scale_16(png);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    png_set_strip_alpha(png);
    bool has_color = color == PNG_COLOR_TYPE_PALETTE || (color & PNG_COLOR_MASK_COLOR);
    if (channels == 3 && !has_color) png_set_gray_to_rgb(png);
    if (channels == 1 && has_color)
        png_set_rgb_to_gray_fixed(png, 1, 29900, 58700); /* BT.601 luma, as JPEG uses */
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
}

lcv_status lcv_image_decode_png(const uint8_t *data, size_t size, int channels,
                                uint64_t max_pixels, lcv_image **out, char *errbuf,
                                size_t errcap) {
    png_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.status = LCV_ERR_PARSE;
    ctx.data = data;
    ctx.size = size;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, png_on_error,
                                             png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return lcv_image_fail(errbuf, errcap, LCV_ERR_NOMEM, "PNG: out of memory");
    }
    /* Written after setjmp and read after a longjmp: must be volatile. */
    lcv_image *volatile img = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(ctx.jb)) {
        png_destroy_read_struct(&png, &info, NULL);
        free(rows);
        lcv_image_free(img);
        return lcv_image_fail(errbuf, errcap, ctx.status, "PNG: %s", ctx.msg);
    }
    png_set_read_fn(png, &ctx, png_read_mem);
    /* Our own check below gives the clearer message; libpng keeps its spec limit. */
    png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if (lcv_image_check_size("image", w, h, max_pixels, ctx.msg, sizeof ctx.msg) != LCV_OK) {
        ctx.status = LCV_ERR_UNSUPPORTED;
        longjmp(ctx.jb, 1); /* ctx.msg already says why */
    }
    png_request_format(png, info, channels);
    if (png_get_channels(png, info) != channels || png_get_bit_depth(png, info) != 8 ||
        png_get_rowbytes(png, info) != (size_t)w * (size_t)channels)
        png_error(png, "could not convert the pixel format to 8-bit gray/RGB");
    lcv_image *im = NULL;
    rows = malloc((size_t)h * sizeof(png_bytep));
    if (!rows || lcv_image_create((int)w, (int)h, channels, &im) != LCV_OK) {
        ctx.status = LCV_ERR_NOMEM;
        png_error(png, "out of memory for the pixels");
    }
    img = im;
    for (png_uint_32 y = 0; y < h; y++) rows[y] = im->data + (size_t)y * w * (size_t)channels;
    png_read_image(png, rows);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    *out = im;
    return LCV_OK;
}

lcv_status lcv_image_write_png(const char *path, const lcv_image *img, char *errbuf,
                               size_t errcap) {
    if (!path || !img || !img->data || img->width < 1 || img->height < 1 ||
        (img->channels != 1 && img->channels != 3))
        return lcv_image_fail(errbuf, errcap, LCV_ERR_INVALID_ARG,
                              "write PNG: invalid image (need 1 or 3 channels, size >= 1)");
    png_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    FILE *f = fopen(path, "wb");
    if (!f)
        return lcv_image_fail(errbuf, errcap, LCV_ERR_IO, "cannot create '%s': %s", path,
                              strerror(errno));
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, png_on_error,
                                              png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        fclose(f);
        remove(path);
        return lcv_image_fail(errbuf, errcap, LCV_ERR_NOMEM, "write PNG: out of memory");
    }
    if (setjmp(ctx.jb)) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        remove(path);
        return lcv_image_fail(errbuf, errcap, LCV_ERR_IO, "writing '%s': %s", path, ctx.msg);
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)img->width, (png_uint_32)img->height, 8,
                 img->channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    size_t stride = (size_t)img->width * (size_t)img->channels;
    for (int y = 0; y < img->height; y++) png_write_row(png, img->data + (size_t)y * stride);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (fclose(f) != 0) {
        remove(path);
        return lcv_image_fail(errbuf, errcap, LCV_ERR_IO, "writing '%s': %s", path,
                              strerror(errno));
    }
    return LCV_OK;
}

/* ---- JPEG ---- */

typedef struct jpeg_ctx {
    struct jpeg_error_mgr pub; /* first, so libjpeg's err pointer is also ours */
    jmp_buf jb;
    lcv_status status;
    char msg[JMSG_LENGTH_MAX + 32];
} jpeg_ctx;

static void jpeg_on_error(j_common_ptr cinfo) {
    jpeg_ctx *ctx = (jpeg_ctx *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    ctx->pub.format_message(cinfo, text);
    snprintf(ctx->msg, sizeof ctx->msg, "%s", text);
    longjmp(ctx->jb, 1);
}

static void jpeg_on_message(j_common_ptr cinfo, int level) {
    /* A truncated file is only a warning to libjpeg (it pads with gray); we refuse it. Other
     * warnings (stray bytes between markers) are common in real files and tolerated. */
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) jpeg_on_error(cinfo);
}

static void jpeg_on_output(j_common_ptr cinfo) { (void)cinfo; }

/* Adobe writes CMYK inverted; others plain. Converts a CMYK row to RGB or gray in place-safe
 * order (dst never runs ahead of src). */
static void cmyk_row(const uint8_t *src, uint8_t *dst, int width, int channels, bool inverted) {
    for (int x = 0; x < width; x++) {
        unsigned c = src[4 * x], m = src[4 * x + 1], yy = src[4 * x + 2], k = src[4 * x + 3];
        if (!inverted) {
            c = 255 - c;
            m = 255 - m;
            yy = 255 - yy;
            k = 255 - k;
        }
        unsigned r = c * k / 255, g = m * k / 255, b = yy * k / 255;
        if (channels == 3) {
            dst[3 * x] = (uint8_t)r;
            dst[3 * x + 1] = (uint8_t)g;
            dst[3 * x + 2] = (uint8_t)b;
        } else {
            dst[x] = (uint8_t)((299 * r + 587 * g + 114 * b + 500) / 1000);
        }
    }
}

lcv_status lcv_image_decode_jpeg(const uint8_t *data, size_t size, int channels,
                                 uint64_t max_pixels, lcv_image **out, char *errbuf,
                                 size_t errcap) {
    struct jpeg_decompress_struct cinfo;
    jpeg_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.status = LCV_ERR_PARSE;
    cinfo.err = jpeg_std_error(&ctx.pub);
    ctx.pub.error_exit = jpeg_on_error;
    ctx.pub.emit_message = jpeg_on_message;
    ctx.pub.output_message = jpeg_on_output;
    lcv_image *volatile img = NULL;
    uint8_t *volatile cmyk = NULL;
    if (setjmp(ctx.jb)) {
        jpeg_destroy_decompress(&cinfo);
        free(cmyk);
        lcv_image_free(img);
        return lcv_image_fail(errbuf, errcap, ctx.status, "JPEG: %s", ctx.msg);
    }
    jpeg_create_decompress(&cinfo);
    if (size > (unsigned long)-1) {
        snprintf(ctx.msg, sizeof ctx.msg, "file of %zu bytes is too large", size);
        longjmp(ctx.jb, 1);
    }
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    if (lcv_image_check_size("image", cinfo.image_width, cinfo.image_height, max_pixels, ctx.msg,
                             sizeof ctx.msg) != LCV_OK) {
        ctx.status = LCV_ERR_UNSUPPORTED;
        longjmp(ctx.jb, 1);
    }
    bool is_cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    cinfo.out_color_space = is_cmyk ? JCS_CMYK : channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    int w = (int)cinfo.output_width, h = (int)cinfo.output_height;
    if (cinfo.output_components != (is_cmyk ? 4 : channels)) {
        snprintf(ctx.msg, sizeof ctx.msg, "unexpected %d output components",
                 cinfo.output_components);
        longjmp(ctx.jb, 1);
    }
    lcv_image *im = NULL;
    if (lcv_image_create(w, h, channels, &im) != LCV_OK ||
        (is_cmyk && !(cmyk = malloc((size_t)w * 4)))) {
        lcv_image_free(im);
        ctx.status = LCV_ERR_NOMEM;
        snprintf(ctx.msg, sizeof ctx.msg, "out of memory for %d x %d pixels", w, h);
        longjmp(ctx.jb, 1);
    }
    img = im;
    while (cinfo.output_scanline < cinfo.output_height) {
        size_t y = cinfo.output_scanline;
        uint8_t *dst = im->data + y * (size_t)w * (size_t)channels;
        JSAMPROW row = is_cmyk ? cmyk : dst;
        if (jpeg_read_scanlines(&cinfo, &row, 1) != 1) {
            snprintf(ctx.msg, sizeof ctx.msg, "decoding stopped at row %zu", y);
            longjmp(ctx.jb, 1);
        }
        if (is_cmyk) cmyk_row(cmyk, dst, w, channels, cinfo.saw_Adobe_marker);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(cmyk);
    *out = im;
    return LCV_OK;
}
