/* data_internal.h - what the files of leancv_data share: the lcv_dataset object (one struct for
 * every source: IDX, .npy, image folders), the per-source openers that dataset.c dispatches to,
 * the limits that bound allocations driven by file headers, and error formatting into the
 * caller's errbuf. */
#ifndef LCV_DATA_INTERNAL_H
#define LCV_DATA_INTERNAL_H

#include <stdarg.h>

#include "leancv_data.h"
#include "leancv_image.h"

/* Largest image width or height, as the image decoders accept. */
#define LCV_DATA_MAX_SIDE LCV_IMAGE_MAX_SIDE

/* Labels must lie in [0, LCV_DATA_MAX_CLASSES): a model with more outputs is not a classifier
 * these loaders are meant for, and the bound keeps per-class tables small. */
#define LCV_DATA_MAX_CLASSES 65536
/* One sample holds at most this many values (C * H * W). */
#define LCV_DATA_MAX_SAMPLE ((int64_t)1 << 24)
/* Pixel bytes a data set may hold in memory; header counts beyond it are refused up front. */
#define LCV_DATA_MAX_BYTES ((uint64_t)1 << 34)
/* Image folders whose decoded 8-bit pixels fit in this many bytes are decoded once at open and
 * kept; larger ones are decoded on demand by lcv_dataset_get. */
#define LCV_DATA_FOLDER_CACHE ((uint64_t)256 << 20)

struct lcv_dataset {
    int64_t count; /* samples in use (after params.limit) */
    int classes;
    int64_t c, h, w;
    float scale;          /* applied to 8-bit pixels */
    const uint8_t *u8;    /* [count, c, h, w] 8-bit pixels held in memory, or NULL */
    const float *f32;     /* [count, c, h, w] float pixels (npy float32, used as they are) */
    int64_t *labels;      /* owned, [count]; NULL for label maps */
    lcv_tensor *y_maps;   /* owned .npy label maps [N, h, w] (N >= count, checked), or NULL */
    lcv_tensor *y_boxes;  /* owned .npy boxes float32 [N, K, 5] (checked), or NULL */
    void *pixels;         /* owned buffer behind u8 (IDX, cached folder) */
    lcv_tensor *x_tensor; /* owned .npy tensor behind u8 / f32 */
    char **class_names;   /* owned, [classes] (folders only) */
    char **files;         /* owned, [count] image paths decoded on demand (uncached folders) */
    int img_channels;     /* folder decoding: channels the images are converted to */
};

/* Formats the message into errbuf (if any) and returns st. */
lcv_status lcv_data_fail(char *errbuf, size_t errcap, lcv_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Source openers: fill the zeroed *ds (count, classes, shape, labels and pixels); on failure
 * dataset.c frees what they left. params is never NULL and already validated. */
lcv_status lcv_data_open_idx(lcv_dataset *ds, const char *images, const char *labels,
                             const lcv_dataset_params *params, char *errbuf, size_t errcap);
lcv_status lcv_data_open_npy(lcv_dataset *ds, const char *x_path, const char *y_path,
                             const lcv_dataset_params *params, char *errbuf, size_t errcap);
/* Boxes per sample a data set may declare (K of [N, K, 5]). */
#define LCV_DATA_MAX_BOXES 4096
/* Sample i's boxes (ds->y_boxes, checked at open) as K * 5 floats at boxes. */
void lcv_data_npy_boxes(const lcv_dataset *ds, int64_t i, float *boxes);
/* Sample i's label map (ds->y_maps, checked at open) as h * w int64 values at labels. */
void lcv_data_npy_map(const lcv_dataset *ds, int64_t i, int64_t *labels);
/* cache_bytes: decode everything at open when the pixels fit in this many bytes. */
lcv_status lcv_data_open_folder(lcv_dataset *ds, const char *dir, const lcv_dataset_params *params,
                                uint64_t cache_bytes, char *errbuf, size_t errcap);
/* Decodes image file path into sample layout (c, h, w 8-bit, CHW) at dst. */
lcv_status lcv_data_folder_decode(const lcv_dataset *ds, const char *path, uint8_t *dst,
                                  char *errbuf, size_t errcap);

/* lcv_dataset_open with an explicit folder cache budget (tests use it to reach the on-demand
 * decoding path with small folders). */
lcv_status lcv_dataset_open_budget(const char *spec, const lcv_dataset_params *params,
                                   uint64_t cache_bytes, lcv_dataset **out, char *errbuf,
                                   size_t errcap);

#endif /* LCV_DATA_INTERNAL_H */
