/* onnx_priv.h - state shared by the ONNX frontend's files (model importer, tensor reader):
 * the import options and the "where am I" path that prefixes every error message, e.g.
 * "graph.node[12].attribute 'pads': varint runs past end of data at byte 4411". */
#ifndef LCV_ONNX_PRIV_H
#define LCV_ONNX_PRIV_H

#include "onnx.h"
#include "pbwire.h"

typedef struct lcv_onnx_ctx {
    const char *external_dir; /* borrowed; NULL refuses external data */
    uint64_t max_bytes;       /* cap on one external-data read */
    lcv_err *e;               /* borrowed, may be NULL */
    lcv_graph *graph;         /* borrowed: the graph being read (a subgraph while inside one) */
    int depth;                /* subgraph nesting of `graph`, 0 for the model's graph */
    /* Location of the message being read. Segments are appended on the way down and removed
     * only on success, so after a failure it still names the failing spot. */
    char path[320];
    size_t plen;
} lcv_onnx_ctx;

/* Appends a formatted segment to the path; returns the mark to restore with path_pop. */
size_t lcv_onnx_path_push(lcv_onnx_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void lcv_onnx_path_pop(lcv_onnx_ctx *c, size_t mark);

/* Copies the payload of string field f (wire type checked) into a new NUL-terminated string
 * (*out: caller frees). Embedded NUL bytes are refused unless allow_nul; *len (optional)
 * receives the byte length. */
lcv_status lcv_onnx_copy_string(const lcv_pb *r, const lcv_pb_field *f, const char *what,
                                bool allow_nul, char **out, size_t *len, lcv_err *e);

/* Reads a TensorProto message. *out: caller frees. name (optional): receives the tensor's name
 * (caller frees) or NULL when it has none. */
lcv_status lcv_onnx_read_tensor(lcv_onnx_ctx *c, const lcv_pb *msg, lcv_tensor **out,
                                char **name);

/* The three ValueInfoProto lists of a GraphProto; values are their field numbers. */
typedef enum lcv_onnx_graph_list {
    LCV_ONNX_GRAPH_INPUT = 11,
    LCV_ONNX_GRAPH_OUTPUT = 12,
    LCV_ONNX_GRAPH_VALUE_INFO = 13
} lcv_onnx_graph_list;

/* Reads every entry of one list of GraphProto msg and records the declared types on g's values
 * (never overriding an initializer's). Inputs that are not initializers become graph inputs,
 * outputs become graph outputs; value_info for names the graph does not use is dropped. */
lcv_status lcv_onnx_read_graph_values(lcv_onnx_ctx *c, lcv_graph *g, const lcv_pb *msg,
                                      lcv_onnx_graph_list list);

#endif /* LCV_ONNX_PRIV_H */
