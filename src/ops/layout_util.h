/* layout_util.h - helpers shared by the shape and layout ops (shape.c, layout.c,
 * layout_block.c): input validation that defers unknown shapes, and the strided-copy engine
 * that fills a dense output from a source described by per-axis byte strides (transposes,
 * slices, broadcasts), turning contiguous runs into single memcpy calls. */
#ifndef LCV_LAYOUT_UTIL_H
#define LCV_LAYOUT_UTIL_H

#include "op.h"

/* Bytes a thread should copy at least before a copy is split over the pool: below that, waking
 * a worker costs more than the copy. */
#define LCV_COPY_GRAIN_BYTES ((size_t)65536)

/* The lcv_threadpool_parallel_for grain for copies of slab_bytes each: 1 for slabs of at least
 * LCV_COPY_GRAIN_BYTES, else enough slabs per task to reach it. */
static inline int64_t lcv_copy_grain(size_t slab_bytes) {
    return (int64_t)(LCV_COPY_GRAIN_BYTES / (slab_bytes + 1)) + 1;
}

/* Input i with a storable dtype and a known shape (what names it in messages). Returns
 * LCV_DEFERRED while its rank or a dim is unknown (-1: load time, dynamic dims). */
lcv_status lcv_layout_input(lcv_opctx *c, int i, const char *what, const lcv_tensor **out);
/* Sets output i (skipped when the caller did not request it) after checking that its element
 * count is non-negative and representable. */
lcv_status lcv_layout_set_out(lcv_opctx *c, int i, lcv_dtype dtype, int ndim,
                              const int64_t *dims);
/* Reads optional 1-D integer input i (axes, pads, repeats, starts...) of at most cap entries
 * into vals; *n = -1 when it is omitted; LCV_DEFERRED while its data is unknown. */
lcv_status lcv_layout_read_vec(lcv_opctx *c, int i, const char *what, int64_t *vals,
                               int64_t cap, int64_t *n);

/* Output element (i0, .., i_{nd-1}) of a dense row-major output with dims comes from the
 * source byte offset sum(i_k * stride[k]); each element is `block` bytes. Strides may be
 * negative (reversed slices) or 0 (broadcast). */
typedef struct lcv_walk {
    int nd;
    int64_t dims[LCV_MAX_DIMS];
    int64_t stride[LCV_MAX_DIMS];
    size_t block;
} lcv_walk;

/* Drops unit axes, merges axes that are contiguous in both output and source, and folds a
 * contiguous innermost run into block. Does not change what lcv_walk_copy produces. */
void lcv_walk_simplify(lcv_walk *w);
/* Fills dst (dense, numel(dims) * block bytes) from src; src points at the element for index
 * (0, .., 0). Nothing is read or written when any dim is 0. */
void lcv_walk_copy(const lcv_walk *w, void *dst, const void *src);
/* Copies src (dense, dims, element size es) into dst permuted: output axis k is input axis
 * perm[k]. perm must be a valid permutation of nd axes. */
void lcv_walk_permute(void *dst, const void *src, int nd, const int64_t *dims, const int *perm,
                      size_t es);

#endif /* LCV_LAYOUT_UTIL_H */
