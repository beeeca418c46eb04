/* leancv_image.h - image input/output for leancv tools, kept outside the core library (it needs
 * libpng and libjpeg): decode PNG/JPEG into 8-bit pixels, resize and crop, turn an image into a
 * normalised float32 input tensor, and write PNG. Link with the leancv_image library.
 * Conventions follow leancv.h: functions return lcv_status, errbuf (borrowed, may be NULL)
 * receives a message of at most errcap bytes on failure, destructors accept NULL. */
#ifndef LEANCV_IMAGE_H
#define LEANCV_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "leancv.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest width or height accepted by the decoders. */
#define LCV_IMAGE_MAX_SIDE 32768

/* An 8-bit image: height rows of width * channels bytes, interleaved (HWC), no padding.
 * channels is 1 (gray) or 3 (RGB). Plain data, one thread at a time. */
typedef struct lcv_image {
    int width;
    int height;
    int channels;
    uint8_t *data; /* owned by the image */
} lcv_image;

/* How an image becomes a tensor. Geometry is applied first, then per channel
 *   value = (pixel * scale - mean[c]) / std[c]
 * where c counts channels in the output order (so with bgr set, mean[0] applies to blue). */
typedef struct lcv_image_params {
    int channels;           /* 3 = colour (default), 1 = gray */
    uint64_t max_pixels;    /* decoder pixel budget (width * height); 0 = 1 << 27 */
    /* Geometry, applied in this order; 0 disables a step. */
    int resize_short;       /* scale so the shorter side has this length (aspect kept) */
    int width, height;      /* with resize_short: centre crop to this size;
                               without: resize to exactly width x height (bilinear) */
    float scale;            /* default 1/255 */
    float mean[3];          /* default 0 */
    float std[3];           /* default 1 */
    int bgr;                /* non-zero: channel order B,G,R instead of R,G,B */
    int nhwc;               /* non-zero: [1,H,W,C] instead of [1,C,H,W] */
} lcv_image_params;

LCV_API lcv_image_params lcv_image_default_params(void);

/* Creates a zero-filled image (width, height >= 1, channels 1 or 3). *out: caller frees. */
LCV_API lcv_status lcv_image_create(int width, int height, int channels, lcv_image **out);
LCV_API void lcv_image_free(lcv_image *img);

/* Decodes a PNG (any bit depth or colour type; alpha is dropped, 16-bit reduced to 8) or a
 * JPEG, recognised by content, into params->channels channels (params may be NULL: RGB).
 * Only channels and max_pixels of params are used. *out: caller frees. */
LCV_API lcv_status lcv_image_load_file(const char *path, const lcv_image_params *params,
                                       lcv_image **out, char *errbuf, size_t errcap);
LCV_API lcv_status lcv_image_load_buffer(const void *data, size_t size,
                                         const lcv_image_params *params, lcv_image **out,
                                         char *errbuf, size_t errcap);

/* Bilinear resize to width x height (half-pixel centres). *out: caller frees. */
LCV_API lcv_status lcv_image_resize(const lcv_image *src, int width, int height, lcv_image **out,
                                    char *errbuf, size_t errcap);
/* Copies the rectangle at (x, y) of size width x height, which must lie inside src. */
LCV_API lcv_status lcv_image_crop(const lcv_image *src, int x, int y, int width, int height,
                                  lcv_image **out, char *errbuf, size_t errcap);
/* Applies params' geometry (resize_short / width / height) and returns the new image. */
LCV_API lcv_status lcv_image_prepare(const lcv_image *src, const lcv_image_params *params,
                                     lcv_image **out, char *errbuf, size_t errcap);
/* Geometry, then conversion to a float32 tensor with batch dim 1. Gray and colour convert as
 * needed to params->channels. *out: caller frees with lcv_tensor_free. */
LCV_API lcv_status lcv_image_to_tensor(const lcv_image *img, const lcv_image_params *params,
                                       lcv_tensor **out, char *errbuf, size_t errcap);
/* lcv_image_load_file followed by lcv_image_to_tensor. */
LCV_API lcv_status lcv_image_load_tensor(const char *path, const lcv_image_params *params,
                                         lcv_tensor **out, char *errbuf, size_t errcap);

/* Writes img as an 8-bit gray or RGB PNG. */
LCV_API lcv_status lcv_image_write_png(const char *path, const lcv_image *img, char *errbuf,
                                       size_t errcap);

/* Non-zero if the first bytes look like a PNG or JPEG file (n >= 8 recommended). */
LCV_API int lcv_image_sniff(const void *head, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* LEANCV_IMAGE_H */
