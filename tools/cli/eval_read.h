/* eval_read.h - input of leancv evaluate (cmd_evaluate.c): results JSON files and directories
 * (docs/RESULTS_JSON.md) read into growing box lists, image names interned to ids so both
 * sides of an evaluation share them, directory listings, and COCO's per-image detection cap. */
#ifndef LCV_EVAL_READ_H
#define LCV_EVAL_READ_H

#include <stdbool.h>
#include <stdint.h>

#include "leancv_detect.h"

/* Boxes of many images; all arrays owned (eval_boxes_free), n entries used of cap. Start from
 * a zeroed struct with max_label = -1. */
typedef struct eval_boxes {
    lcv_box *boxes;
    float *scores;
    int32_t *labels;
    int64_t *images;
    int64_t n, cap;
    int32_t max_label;
} eval_boxes;

/* Image names <-> ids 0..n-1 (ids in order of first appearance); start zeroed. */
typedef struct eval_names {
    char **name;      /* owned strings, by id */
    int64_t n, cap;
    int64_t *slot;    /* open-addressing table of ids + 1 (0 = empty), hcap entries */
    int64_t hcap;
} eval_names;

/* Reads PATH (a directory of .json results files, or one file holding one results object, a
 * list of them or a flat list of box records) into l, naming images through images; pred:
 * scores are required. Returns 0 or the exit status after reporting "leancv evaluate: ...". */
int eval_read_results(eval_boxes *l, eval_names *images, bool pred, const char *path);
/* Keeps the max_det highest-scored boxes of each image (ties: earlier first), in order. */
int eval_cap_per_image(eval_boxes *l, long max_det);
void eval_boxes_free(eval_boxes *l);
void eval_names_free(eval_names *t);

/* Sorted names of the files in dir ending with ext: *out[*n] (free with eval_free_names).
 * Returns 0 or the exit status after reporting. */
int eval_list_dir(const char *dir, const char *ext, char ***out, int64_t *n);
void eval_free_names(char **v, int64_t n);

#endif /* LCV_EVAL_READ_H */
