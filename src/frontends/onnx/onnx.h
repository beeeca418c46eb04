/* onnx.h - the ONNX frontend: turns a serialized ModelProto into an lcv_graph and a serialized
 * TensorProto into an lcv_tensor. Reads protobuf wire format directly (no protobuf library);
 * every read is bounds checked and errors name the field and byte offset. */
#ifndef LCV_ONNX_H
#define LCV_ONNX_H

#include "../../core/core.h"
#include "../../ir/graph.h"

/* Parses a serialized ONNX ModelProto into a new graph. data: borrowed, read during the call
 * only. external_dir: borrowed; directory used to resolve external-data tensors (NULL: external
 * data is refused with a clear error). max_bytes caps any single external-data read (0: 2 GiB).
 * *out: caller frees with lcv_graph_free; NULL on failure, with e describing what and where
 * (message, field, byte offset). Nodes are left unresolved (op = -1) and unsorted. Thread-safe. */
lcv_status lcv_onnx_import(const void *data, size_t size, const char *external_dir,
                           uint64_t max_bytes, lcv_graph **out, lcv_err *e);

/* Parses one serialized TensorProto (the .pb files of the ONNX test data). data: borrowed.
 * *out: caller frees with lcv_tensor_free. *name (optional, may be NULL): caller frees with
 * free(), NULL if the tensor has no name. External data is refused. On failure *out (and *name)
 * are NULL. Thread-safe. */
lcv_status lcv_onnx_parse_tensor(const void *data, size_t size, lcv_tensor **out, char **name,
                                 lcv_err *e);

/* Serializes g as an ONNX ModelProto (onnx_write.c): IR version, opset imports, producer
 * "leancv", nodes in graph order with every attribute the importer keeps, initializers as
 * raw little-endian data, and graph inputs, outputs and typed intermediate values with their
 * dtype and shape as the graph holds them (dynamic dims as dim_param when named). Nodes with
 * a fused epilogue (node->fused) are written as the op followed by its Add and activation
 * nodes. opset: the default-domain opset version to declare, or 0 to keep the graph's. The
 * IR version is the graph's (raised to what opset needs) or, when the graph has none, the one
 * that came with opset. Graph attributes (If/Loop subgraphs, which the importer keeps as
 * lcv_attr.g), sparse-tensor and type attributes are refused with LCV_ERR_UNSUPPORTED, as are
 * models past protobuf's 2 GiB.
 * g: borrowed. *data: caller frees with free(); *size: its byte length. Thread-safe. */
lcv_status lcv_onnx_write_graph(const lcv_graph *g, int opset, void **data, size_t *size,
                                lcv_err *e);

#endif /* LCV_ONNX_H */
