/* build_impl.h - internals of the model builder (include/leancv_build.h) shared by build.c
 * (the handle, primitive nodes, weight initialisation, serialization) and build_blocks.c (the
 * composite blocks, written over these primitives). */
#ifndef LCV_BUILD_IMPL_H
#define LCV_BUILD_IMPL_H

#include "../ir/graph.h"
#include "leancv_build.h"

/* A value handle's facts: its graph value and its shape without the batch. */
typedef struct lcv_bld_val {
    int id;      /* graph value id */
    int c, h, w; /* h = w = 0 for [batch, F] values (F in c) */
} lcv_bld_val;

struct lcv_builder {
    lcv_graph *g;
    lcv_status st; /* sticky: the first failure */
    lcv_err err;
    uint64_t rng;
    int64_t n_params;
    lcv_bld_val *vals;
    int n_vals, cap_vals;
    int output; /* handle given to finish, -1 before */
    int relu6_min, relu6_max; /* graph ids of the shared Clip bounds, -1 until first used */
};

/* Records the first failure (later ones keep it) and returns -1, the failed handle. */
int lcv_bld_fail(lcv_builder *b, lcv_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The facts of handle x for block `where`, or NULL after failing the builder (bad handle, a
 * finished builder, or a value of the wrong kind: want_map 1 = feature map, 0 = [batch, F],
 * -1 = either). Not stable across adding values: copy what is needed. */
const lcv_bld_val *lcv_bld_get(lcv_builder *b, int x, const char *where, int want_map);

/* Primitive nodes; each returns the new handle, or -1 at once when the builder has failed.
 * Inputs are valid handles (the callers check them). */
/* Convolution with BN (bias off) or bias (no BN), then act. Arguments already validated. */
int lcv_bld_conv(lcv_builder *b, int x, int out_c, int kernel, int stride, int groups, bool bn,
             lcv_build_act act);
/* A node of op_type with inputs ins (handles) giving one value of shape c, h, w. */
int lcv_bld_node(lcv_builder *b, const char *op_type, int n_in, const int *ins, int c, int h, int w,
             lcv_node **node);
/* The same with graph value ids as inputs (-1 for an omitted input). */
int lcv_bld_node_ids(lcv_builder *b, const char *op_type, int n_in, const int *in, int c, int h,
                 int w, lcv_node **node);
/* Attributes of a node just added; false after failing the builder (out of memory). */
bool lcv_bld_set_int(lcv_builder *b, lcv_node *n, const char *name, int64_t v);
bool lcv_bld_set_float(lcv_builder *b, lcv_node *n, const char *name, float v);
bool lcv_bld_set_ints(lcv_builder *b, lcv_node *n, const char *name, int cnt, const int64_t *v);
/* A float32 parameter (initializer) named owner.what of ndim dims: uniform in [-bound, bound]
 * from the builder's generator when bound > 0, else every value fill. Returns its graph value
 * id or -1. */
int lcv_bld_param(lcv_builder *b, const char *owner, const char *what, int ndim,
                  const int64_t *dims, double bound, float fill);
/* A 1-D constant (not a parameter) of n values of dtype copied from v; returns its graph
 * value id or -1. */
int lcv_bld_const(lcv_builder *b, lcv_dtype dtype, const char *tag, int n, const void *v);
/* Split of a map into two equal channel halves: *lo and *hi get the handles. */
lcv_status lcv_bld_split_half(lcv_builder *b, int x, int *lo, int *hi);
/* Concatenation of maps of equal H, W along channels. */
int lcv_bld_concat(lcv_builder *b, int x, int y);
/* Elementwise binary op (Add, Mul) with y broadcast to x's shape; result has x's shape. */
int lcv_bld_binary(lcv_builder *b, const char *op_type, int x, int y);

/* Checks shared by blocks: each fails the builder naming `where` and returns false. */
bool lcv_bld_check_channels(lcv_builder *b, const char *where, const char *what, int v);
bool lcv_bld_check_kernel(lcv_builder *b, const char *where, int kernel);
bool lcv_bld_check_stride(lcv_builder *b, const char *where, int stride);
bool lcv_bld_check_act(lcv_builder *b, const char *where, lcv_build_act act);

#endif /* LCV_BUILD_IMPL_H */
