/* memplan.h - static memory planning: the activations of one run live in a single arena, each
 * tensor at an offset chosen so that tensors alive at the same time never overlap, and an
 * output of an in-place capable op (src/ops/inplace.h) may take the exact place of an input
 * that dies at its node. Used by sessions (src/runtime/session.c) and by the load-time
 * statistics. */
#ifndef LCV_RUNTIME_MEMPLAN_H
#define LCV_RUNTIME_MEMPLAN_H

#include "../core/core.h"

/* Every offset and the arena size are multiples of this (a cache line, and the widest vector
 * load any kernel uses). */
#define LCV_MEMPLAN_ALIGN ((size_t)64)

/* Marks a slot that gets its own buffer instead of a place in the arena. */
#define LCV_MEMPLAN_PRIVATE SIZE_MAX

/* One tensor to place. */
typedef struct lcv_memplan_item {
    size_t bytes;  /* 0: needs no space (gets offset 0) */
    int first;     /* alive from node `first` through node `last` (execution order, inclusive) */
    int last;
    int alias;     /* in-place: index of the item whose exact place this one takes, or -1. That
                    * item must start earlier (first < this first), end at this item's first
                    * node (it dies where this one is written), have the same bytes, and be
                    * taken by no other item. */
    size_t offset; /* out: byte offset in the arena */
} lcv_memplan_item;

/* Assigns offsets: items joined by aliases form one buffer alive over the union of their
 * intervals; buffers are placed largest first, each in the gap between time-overlapping
 * buffers that fits it most tightly (lowest offset on ties) or above them all; the better of
 * that and a lowest-offset-first placement is kept. *arena_bytes gets the arena size, which
 * never exceeds the sum of the aligned sizes. Fails on invalid aliases or size overflow. */
lcv_status lcv_memplan_place(lcv_memplan_item *items, int n, size_t *arena_bytes, lcv_err *e);

/* The plan of a model's node output slots (model.h: slot_base). slot_bytes[s] is the size of
 * slot s for the shapes at hand, or LCV_MEMPLAN_PRIVATE for slots kept out of the arena
 * (outputs of folded nodes, of nodes whose output size depends on data, of shape-computing
 * nodes). Liveness comes from the model: a slot lives from its node to the last node reading
 * its value; graph outputs live through the whole run, so nothing else shares their place.
 * Fills offset[s] (arena slots) and alias_of[s] (the slot whose place s takes, -1 if none);
 * *arena_bytes is the arena size and *total_bytes the sum of the arena slots' bytes, each
 * rounded up to LCV_MEMPLAN_ALIGN (what one aligned buffer per tensor would take; never below
 * the arena size). All arrays have m->n_slots entries. */
lcv_status lcv_memplan_model(const lcv_model *m, const size_t *slot_bytes, size_t *offset,
                             int *alias_of, size_t *arena_bytes, size_t *total_bytes,
                             lcv_err *e);

#endif
