/* image_internal.h - helpers shared by the files of the leancv_image library (not installed):
 * error formatting into the caller's buffer and the decoders behind lcv_image_load_*. */
#ifndef LCV_IMAGE_INTERNAL_H
#define LCV_IMAGE_INTERNAL_H

#include "leancv_image.h"

#define LCV_IMAGE_DEFAULT_MAX_PIXELS ((uint64_t)1 << 27)

/* Formats "fmt" into errbuf (when given) and returns st. */
lcv_status lcv_image_fail(char *errbuf, size_t errcap, lcv_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Checks a decoded size against the side limit and the pixel budget before any allocation;
 * fills errbuf naming the format and the size. */
lcv_status lcv_image_check_size(const char *format, uint64_t width, uint64_t height,
                                uint64_t max_pixels, char *errbuf, size_t errcap);

/* Decoders: channels is 1 or 3; max_pixels already defaulted. *out: caller frees. */
lcv_status lcv_image_decode_png(const uint8_t *data, size_t size, int channels,
                                uint64_t max_pixels, lcv_image **out, char *errbuf, size_t errcap);
lcv_status lcv_image_decode_jpeg(const uint8_t *data, size_t size, int channels,
                                 uint64_t max_pixels, lcv_image **out, char *errbuf,
                                 size_t errcap);

#endif /* LCV_IMAGE_INTERNAL_H */
