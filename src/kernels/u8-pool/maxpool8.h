/* maxpool8.h - 2-D max pooling of 8-bit NCHW planes: the MaxPool that sits between quantized
 * layers (a QDQ model's stem pool runs on uint8 once fuse_qdq has removed its Q/DQ pair). The
 * geometry is f32-pool's; the result equals a direct window scan bit for bit. */
#ifndef LCV_MAXPOOL8_H
#define LCV_MAXPOOL8_H

#include <stdbool.h>
#include <stdint.h>

#include "../../core/threadpool.h"
#include "../f32-pool/pool2d.h"

/* Max-pools x [planes, in_h, in_w] into y [planes, out_h, out_w]; is_signed: the bytes are
 * int8, else uint8. A window that covers padding only gives the type's lowest value. g->is_max
 * must be set and lcv_pool2d_supported(g) true. Threads split over planes; no allocation. */
void lcv_maxpool8_run(const lcv_pool2d_geom *g, bool is_signed, const uint8_t *x, uint8_t *y,
                      lcv_threadpool *pool);

#endif /* LCV_MAXPOOL8_H */
