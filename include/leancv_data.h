/* leancv_data.h - labelled image data sets and batch loaders for training and evaluation, kept
 * outside the core library (gzip'd IDX files need zlib, image folders need leancv_image). Link
 * with the leancv_data library.
 * Conventions follow leancv.h: functions return lcv_status, errbuf (borrowed, may be NULL)
 * receives a message of at most errcap bytes naming the file and the problem on failure,
 * destructors accept NULL. */
#ifndef LEANCV_DATA_H
#define LEANCV_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "leancv.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A data set: samples addressed by index, each a float32 image [C, H, W] and an integer label
 * in [0, classes), or (segmentation, npy only) a label map [H, W] of one class per pixel.
 * Immutable once opened: any number of threads may read it at once. */
typedef struct lcv_dataset lcv_dataset;

typedef struct lcv_dataset_params {
    int channels;       /* image folders: 1 or 3 (default 3); IDX/npy: taken from the file */
    int width, height;  /* image folders: every image is resized to this (0: the first image's) */
    float scale;        /* pixel multiplier for 8-bit data (default 1/255; float data unchanged) */
    int64_t limit;      /* use only the first `limit` samples (0: all) */
} lcv_dataset_params;

LCV_API lcv_dataset_params lcv_dataset_default_params(void);

/* Opens a data set described by spec:
 *   "idx:IMAGES,LABELS"  IDX files (as Fashion-MNIST ships them), each optionally gzip'd;
 *   "npy:X.npy,Y.npy"    X uint8 or float32 [N, H, W] or [N, C, H, W], Y integer [N], or
 *                        integer label maps [N, H, W] (the images' H and W) for segmentation,
 *                        or float32 boxes [N, K, 5] for detection (lcv_dataset_get_boxes);
 *   "folder:DIR"         one subfolder per class (sorted names give the class ids) of PNG/JPEG.
 * Every header, count and label is validated (mismatched counts, labels out of range, truncated
 * files are errors). params may be NULL (defaults). *out: caller frees. */
LCV_API lcv_status lcv_dataset_open(const char *spec, const lcv_dataset_params *params,
                                    lcv_dataset **out, char *errbuf, size_t errcap);
LCV_API void lcv_dataset_free(lcv_dataset *ds);
LCV_API int64_t lcv_dataset_count(const lcv_dataset *ds);
/* Number of classes: 1 + the largest label (IDX, npy; of every pixel for label maps) or the
 * number of subfolders. */
LCV_API int lcv_dataset_classes(const lcv_dataset *ds);
/* The sample shape: dims[0..2] = C, H, W. */
LCV_API void lcv_dataset_shape(const lcv_dataset *ds, int64_t dims[3]);
/* The class's folder name, or NULL for IDX/npy sets and out-of-range k. Owned by ds. */
LCV_API const char *lcv_dataset_class_name(const lcv_dataset *ds, int k);
/* Writes sample i's C*H*W scaled pixels to pixels (caller's buffer) and its label (label may
 * be NULL; a set of label maps refuses a non-NULL label: use lcv_dataset_get_map). */
LCV_API lcv_status lcv_dataset_get(const lcv_dataset *ds, int64_t i, float *pixels,
                                   int64_t *label, char *errbuf, size_t errcap);
/* The label maps' size: dims[0..1] = H, W (the images' own), or 0, 0 when every sample has one
 * label. */
LCV_API void lcv_dataset_label_shape(const lcv_dataset *ds, int64_t dims[2]);
/* Sample i of a set of label maps: its scaled pixels (C*H*W floats, or pixels NULL) and its
 * H*W labels (caller's buffer). Fails for sets with one label per sample. */
LCV_API lcv_status lcv_dataset_get_map(const lcv_dataset *ds, int64_t i, float *pixels,
                                       int64_t *labels, char *errbuf, size_t errcap);

/* Boxes per sample of a detection set (npy float32 labels [N, K, 5]): K, or 0 for a set of
 * classes or label maps. */
LCV_API int64_t lcv_dataset_box_rows(const lcv_dataset *ds);
/* Sample i of a detection set: its scaled pixels (C*H*W floats, or pixels NULL) and its K
 * boxes as K * 5 floats x1, y1, x2, y2 (pixels, x2 and y2 exclusive), class; rows with class
 * -1 are unused. Fails for sets without boxes. */
LCV_API lcv_status lcv_dataset_get_boxes(const lcv_dataset *ds, int64_t i, float *pixels,
                                         float *boxes, char *errbuf, size_t errcap);

/* A loader: batches of a data set in a seeded order, with augmentation, prepared by a
 * background thread while the caller works on the previous batch. One thread at a time. */
typedef struct lcv_loader lcv_loader;

typedef struct lcv_loader_params {
    int batch;               /* samples per batch (>= 1; default 64) */
    bool shuffle;            /* a new permutation per epoch, from seed and epoch number */
    bool drop_last;          /* omit a final partial batch */
    uint64_t seed;
    /* Both augmentations move a label map with its image (padding gets label 0), and boxes
     * (clipped to the crop; a box left with no area becomes an unused row). */
    int pad_crop;            /* random crop back to H x W after zero-padding by this (0: off) */
    bool hflip;              /* random horizontal flip with probability 1/2 */
    float mean[3], std[3];   /* per channel after scaling: (v - mean) / std (default 0 and 1) */
    bool prefetch;           /* prepare the next batch on a background thread (default true) */
} lcv_loader_params;

LCV_API lcv_loader_params lcv_loader_default_params(void);

/* ds is borrowed and must outlive the loader. *out: caller frees. */
LCV_API lcv_status lcv_loader_create(const lcv_dataset *ds, const lcv_loader_params *params,
                                     lcv_loader **out, char *errbuf, size_t errcap);
LCV_API void lcv_loader_free(lcv_loader *l);
/* Batches per epoch. */
LCV_API int64_t lcv_loader_batches(const lcv_loader *l);
/* Starts epoch `epoch` (>= 0): its order and augmentation depend only on seed and epoch, so a
 * resumed run sees exactly the batches an uninterrupted one would. */
LCV_API lcv_status lcv_loader_start_epoch(lcv_loader *l, int64_t epoch);
/* Next batch of the epoch: images float32 [B, C, H, W] and labels int64 [B] (label maps:
 * [B, H, W]; boxes: float32 [B, K, 5]), owned by the loader and valid until the next call. At the end of the epoch
 * returns LCV_OK with both NULL. */
LCV_API lcv_status lcv_loader_next(lcv_loader *l, const lcv_tensor **images,
                                   const lcv_tensor **labels, char *errbuf, size_t errcap);

#ifdef __cplusplus
}
#endif

#endif
