/* lcvm.h - leancv's own model format (.lcvm; layout in docs/LCVM.md): a graph as leancv holds
 * it after the optimizer (fused activations and residuals, integer QLinear nodes, folded
 * weights) in a flat little-endian encoding with a checksum. Loading it needs no protobuf
 * parsing and no passes. Depends on ir and core only. */
#ifndef LCV_LCVM_H
#define LCV_LCVM_H

#include <stdbool.h>
#include <stddef.h>

#include "../../ir/graph.h"

#define LCV_LCVM_MAGIC "LCVM"
#define LCV_LCVM_VERSION 1u
/* Header flag: the graph already went through the optimizer passes. */
#define LCV_LCVM_OPTIMIZED 1u

/* Whether data starts like an .lcvm file (the magic only). */
bool lcv_lcvm_sniff(const void *data, size_t size);

/* Encodes g. flags: LCV_LCVM_* bits to record. Values nothing reads (originals the optimizer
 * replaced) are left out. String tensors and graph/sparse/type attributes are refused with
 * LCV_ERR_UNSUPPORTED. g: borrowed. *data: caller frees with free(). Thread-safe. */
lcv_status lcv_lcvm_write(const lcv_graph *g, unsigned flags, void **data, size_t *size,
                          lcv_err *e);

/* Decodes an .lcvm image into a new graph (*g owned by the caller; NULL on failure) and its
 * header flags. Every count, index, dtype and length is checked against the bytes present
 * before anything is allocated, so allocation stays proportional to size; errors name the
 * section, the item and the byte offset. data: borrowed. */
lcv_status lcv_lcvm_read(const void *data, size_t size, lcv_graph **g, unsigned *flags,
                         lcv_err *e);

/* The checksum stored in the trailer: a 64-bit multiplicative hash over 8-byte words. */
uint64_t lcv_lcvm_checksum(const uint8_t *p, size_t n);

#endif /* LCV_LCVM_H */
