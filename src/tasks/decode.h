/* decode.h - what the decoders share (internal to src/tasks): adding to a candidate set and
 * the one definition of the sigmoid they all use. */
#ifndef LCV_TASKS_DECODE_H
#define LCV_TASKS_DECODE_H

#include <math.h>
#include <stdbool.h>

#include "leancv_detect.h"

/* Adds a candidate when score > c->score_threshold, keeping the top k (ties: lower index). */
void lcv_candidates_add(lcv_candidates *c, lcv_box box, float score, int32_t label,
                        int64_t index);

/* Evaluated in double and rounded once (see include/leancv_detect.h). */
static inline float lcv_sigmoid_f(float x) { return (float)(1.0 / (1.0 + exp(-(double)x))); }

#endif
