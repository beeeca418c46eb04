/* tasks_impl.h - what the files of src/tasks share (internal): adding to a candidate set, the
 * one definition of the sigmoid every decoder and mask uses, and colour blending. */
#ifndef LCV_TASKS_IMPL_H
#define LCV_TASKS_IMPL_H

#include <math.h>
#include <stdbool.h>

#include "leancv_detect.h"

/* Adds a candidate when score > c->score_threshold, keeping the top k (ties: lower index). */
void lcv_candidates_add(lcv_candidates *c, lcv_box box, float score, int32_t label,
                        int64_t index);

/* Evaluated in double and rounded once (see include/leancv_detect.h). */
static inline float lcv_sigmoid_f(float x) { return (float)(1.0 / (1.0 + exp(-(double)x))); }

/* (1 - alpha) * under + alpha * over, rounded to the nearest byte; alpha in [0, 1]. */
static inline uint8_t lcv_blend_u8(uint8_t under, uint8_t over, float alpha) {
    return (uint8_t)((1.0f - alpha) * (float)under + alpha * (float)over + 0.5f);
}

#endif
