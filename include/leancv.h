/* leancv.h - the public C API of leancv: load a model, create sessions, run them.
 *
 * Conventions (hold for every function below unless its comment says otherwise):
 *  - Fallible functions return an lcv_status; LCV_OK is 0. A human-readable message that names
 *    what failed and where (node, op, field, value) is kept on the handle the call was made on
 *    and read with lcv_model_errmsg() / lcv_session_errmsg(); it stays valid until the next call
 *    on that handle.
 *  - Destructors return void and accept NULL.
 *  - Ownership is written on every pointer: "borrowed" (caller keeps it, leancv does not keep it
 *    past the call unless said), "owned by X" (freed when X is freed), "caller frees".
 *  - Thread safety: a loaded lcv_model is immutable and may be used by any number of sessions on
 *    any number of threads at once. An lcv_session belongs to one thread at a time. lcv_tensor
 *    objects are plain data and belong to one thread at a time. There is no global mutable state.
 *
 * This header compiles alone as C11 and as C++.
 */
#ifndef LEANCV_H
#define LEANCV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(LCV_BUILDING_LIBRARY) && defined(__GNUC__)
#define LCV_API __attribute__((visibility("default")))
#else
#define LCV_API
#endif

#define LCV_VERSION_MAJOR 0
#define LCV_VERSION_MINOR 1
#define LCV_VERSION_PATCH 0

/* Maximum tensor rank supported by leancv. */
#define LCV_MAX_DIMS 8

typedef enum lcv_status {
    LCV_OK = 0,
    LCV_ERR_INVALID_ARG = 1, /* a caller passed a bad argument (NULL, wrong name, wrong shape) */
    LCV_ERR_PARSE = 2,       /* a file or buffer is malformed (truncated, bad field, bad size) */
    LCV_ERR_UNSUPPORTED = 3, /* valid input that leancv does not implement (op, dtype, feature) */
    LCV_ERR_SHAPE = 4,       /* inconsistent shapes or dtypes found by inference or at run time */
    LCV_ERR_NOMEM = 5,       /* an allocation failed or a size overflowed */
    LCV_ERR_IO = 6,          /* a file could not be opened or read */
    LCV_ERR_INTERNAL = 7     /* a bug in leancv; please report it */
} lcv_status;

/* Element types. Values follow ONNX TensorProto.DataType so files map one to one. */
typedef enum lcv_dtype {
    LCV_DTYPE_UNDEFINED = 0,
    LCV_DTYPE_FLOAT32 = 1,
    LCV_DTYPE_UINT8 = 2,
    LCV_DTYPE_INT8 = 3,
    LCV_DTYPE_UINT16 = 4,
    LCV_DTYPE_INT16 = 5,
    LCV_DTYPE_INT32 = 6,
    LCV_DTYPE_INT64 = 7,
    LCV_DTYPE_STRING = 8, /* recognised so errors can name it; never computed on */
    LCV_DTYPE_BOOL = 9,
    LCV_DTYPE_FLOAT16 = 10,
    LCV_DTYPE_FLOAT64 = 11,
    LCV_DTYPE_UINT32 = 12,
    LCV_DTYPE_UINT64 = 13,
    LCV_DTYPE_BFLOAT16 = 16
} lcv_dtype;

/* Returns a static name such as "float32"; "unknown" for values outside the enum. */
LCV_API const char *lcv_dtype_name(lcv_dtype dtype);
/* Bytes per element; 0 for UNDEFINED, STRING and unknown values. */
LCV_API size_t lcv_dtype_size(lcv_dtype dtype);
/* Returns a static name such as "LCV_ERR_PARSE". */
LCV_API const char *lcv_status_name(lcv_status status);
/* Version string "major.minor.patch" (static). */
LCV_API const char *lcv_version(void);

/* ---------------------------------------------------------------------------------------------
 * Tensors: a dtype, a shape and a dense row-major buffer.
 * ------------------------------------------------------------------------------------------- */
typedef struct lcv_tensor lcv_tensor;

/* Creates a zero-filled tensor. dims: borrowed, ndim entries, each >= 0; ndim in [0, LCV_MAX_DIMS].
 * *out: caller frees with lcv_tensor_free. Returns LCV_ERR_INVALID_ARG / LCV_ERR_NOMEM on failure
 * (then *out is NULL). Thread-safe. */
LCV_API lcv_status lcv_tensor_create(lcv_dtype dtype, int ndim, const int64_t *dims,
                                     lcv_tensor **out);
LCV_API void lcv_tensor_free(lcv_tensor *t);
LCV_API lcv_dtype lcv_tensor_dtype(const lcv_tensor *t);
LCV_API int lcv_tensor_ndim(const lcv_tensor *t);
/* Returns dims[i]; 0 <= i < ndim. */
LCV_API int64_t lcv_tensor_dim(const lcv_tensor *t, int i);
/* Number of elements (1 for a scalar). */
LCV_API int64_t lcv_tensor_numel(const lcv_tensor *t);
/* Bytes of data (numel * dtype size). */
LCV_API size_t lcv_tensor_nbytes(const lcv_tensor *t);
/* The tensor's buffer, owned by the tensor; valid until it is freed or reshaped. */
LCV_API void *lcv_tensor_data(lcv_tensor *t);
LCV_API const void *lcv_tensor_cdata(const lcv_tensor *t);

/* Instruction-set levels the kernels are compiled for; chosen at run time from CPUID on x86-64
 * (scalar, avx2, avx512) and fixed on AArch64 (scalar, neon). A level the CPU lacks, asked for
 * as a limit, lowers to the best one it has of no greater vector width (neon 128-bit < avx2
 * 256-bit < avx512), so neon on x86-64 means scalar and avx2/avx512 on AArch64 mean neon. */
typedef enum lcv_isa {
    LCV_ISA_AUTO = 0,   /* the best the CPU supports */
    LCV_ISA_SCALAR = 1, /* portable C */
    LCV_ISA_AVX2 = 2,   /* AVX2 + FMA */
    LCV_ISA_AVX512 = 3, /* AVX-512 F/BW/DQ/VL */
    LCV_ISA_NEON = 4    /* AArch64 Advanced SIMD (baseline on every AArch64 CPU) */
} lcv_isa;

/* Returns a static name: "auto", "scalar", "avx2", "avx512", "neon". */
LCV_API const char *lcv_isa_name(lcv_isa isa);

/* ---------------------------------------------------------------------------------------------
 * Models: an imported, verified, shape-inferred graph. Immutable after load.
 * ------------------------------------------------------------------------------------------- */
typedef struct lcv_model lcv_model;

typedef struct lcv_model_params {
    /* Largest file or buffer accepted, in bytes (guards against hostile inputs). 0 = 2 GiB. */
    uint64_t max_bytes;
    /* Directory used to resolve ONNX external-data locations; NULL = the model file's
     * directory for lcv_model_load_file, none for lcv_model_load_buffer. Borrowed. */
    const char *external_data_dir;
    /* Graph optimisation: 0 = none (the graph as in the file), 1 = all passes (default). */
    int optimize;
    /* Highest instruction set the kernels may use (LCV_ISA_AUTO = best available). The
     * environment variable LCV_ISA=scalar|avx2|avx512|neon lowers it further (for tests). */
    lcv_isa max_isa;
    /* Non-zero: run every op with its reference kernel (the oracle fast kernels are tested
     * against). */
    int reference_kernels;
    /* Bit k set: dim k of every graph input is dynamic, even where the file declares a size
     * (as TensorFlow Lite's ResizeInputTensor allows), and so is dim k of every graph output
     * of rank above k. E.g. (1u << 2) | (1u << 3) frees the height and width of NCHW images:
     * a fully convolutional model exported at one size then runs at any size its layers
     * accept (a size they do not fails at run time, naming the node). 0 = as declared. Not for
     * .lcvm files written optimized (their passes ran at the declared shapes). */
    unsigned free_input_dims;
} lcv_model_params;

LCV_API lcv_model_params lcv_model_default_params(void);

/* Loads an ONNX model from a file. params: borrowed, may be NULL for defaults.
 * *out always receives a handle (unless out is NULL or memory ran out, then *out is NULL):
 * on failure it holds only the error message for lcv_model_errmsg(); the caller frees it with
 * lcv_model_free in both cases. Thread-safe. */
LCV_API lcv_status lcv_model_load_file(const char *path, const lcv_model_params *params,
                                       lcv_model **out);
/* Same, from memory. data: borrowed, copied as needed; the caller may free it after return. */
LCV_API lcv_status lcv_model_load_buffer(const void *data, size_t size,
                                         const lcv_model_params *params, lcv_model **out);
/* Frees the model. All sessions created from it must be freed first. */
LCV_API void lcv_model_free(lcv_model *m);

/* Converts a model (ONNX or .lcvm bytes) to leancv's own format, .lcvm (docs/LCVM.md): the
 * graph after the optimizer when params->optimize (fused activations and residuals, integer
 * QLinear nodes of a QDQ model, folded BatchNorm and constants), weights included. Loading an
 * .lcvm (lcv_model_load_file/buffer tell the formats apart by the first bytes) parses no
 * protobuf and skips the passes it already went through. params: borrowed, NULL for defaults
 * (external_data_dir resolves ONNX external data). *out: free with lcv_buffer_free; NULL on
 * failure, with the message in errbuf (may be NULL). Thread-safe. */
LCV_API lcv_status lcv_model_convert(const void *data, size_t size, const lcv_model_params *params,
                                     void **out, size_t *out_size, char *errbuf, size_t errcap);
/* Frees a buffer leancv returned (lcv_model_convert). NULL is ignored. */
LCV_API void lcv_buffer_free(void *p);
/* Last error message on the model ("" if none). Owned by the model. */
LCV_API const char *lcv_model_errmsg(const lcv_model *m);

/* Graph inputs (excluding initializers) and outputs. Names are owned by the model. */
LCV_API int lcv_model_input_count(const lcv_model *m);
LCV_API int lcv_model_output_count(const lcv_model *m);
LCV_API const char *lcv_model_input_name(const lcv_model *m, int i);
LCV_API const char *lcv_model_output_name(const lcv_model *m, int i);

/* Declared or inferred type of a graph input/output. dims receives up to LCV_MAX_DIMS entries;
 * a dynamic (symbolic or unknown) dimension is reported as -1, and *dim_names (optional, may be
 * NULL) receives its symbol or NULL. Returns the rank, or -1 if unknown. */
LCV_API int lcv_model_input_info(const lcv_model *m, int i, lcv_dtype *dtype, int64_t *dims,
                                 const char **dim_names);
LCV_API int lcv_model_output_info(const lcv_model *m, int i, lcv_dtype *dtype, int64_t *dims,
                                  const char **dim_names);

/* Summary statistics computed at load with the declared input shapes (dynamic dims taken as 1;
 * what cannot be sized that way, e.g. a U-Net with dynamic height and width, counts as unknown
 * and is sized at run time). */
typedef struct lcv_model_stats {
    int64_t node_count;
    int64_t param_count;  /* elements in float/int initializers feeding the graph */
    int64_t weight_bytes; /* bytes of all initializers, as in the file */
    int64_t macs;         /* multiply-accumulates of Conv/ConvTranspose/Gemm/MatMul; -1 unknown */
    /* Activation memory of one session at these shapes: all intermediate tensors and graph
     * outputs live in one arena, tensors alive at the same time never share bytes, and
     * elementwise ops may write over an input that dies there. peak_activation_bytes is the
     * arena's size; activation_bytes the same tensors' sizes summed, each rounded up to 64
     * bytes like the arena's places (one buffer per tensor, no reuse).
     * Outputs whose size depends on data, and tiny shape-computing tensors, are not counted.
     * Both -1 when the declared inputs leave shapes unknown. */
    int64_t peak_activation_bytes;
    int64_t activation_bytes;
} lcv_model_stats;
LCV_API void lcv_model_get_stats(const lcv_model *m, lcv_model_stats *out);
/* The instruction set the model's kernels were planned for (never LCV_ISA_AUTO once loaded). */
LCV_API lcv_isa lcv_model_isa(const lcv_model *m);

/* Per-node description for tools (op histogram, per-layer MACs). Index 0 <= i < node_count, in
 * execution order. Strings are owned by the model. out_dims gets the first output's inferred
 * shape (rank in *out_ndim, -1 if unknown). macs is -1 where unknown, 0 for ops counted as free. */
typedef struct lcv_node_info {
    const char *name;
    const char *op_type;
    const char *domain;
    int input_count;
    int output_count;
    int out_ndim;
    int64_t out_dims[LCV_MAX_DIMS];
    int64_t macs;
    /* What the optimizer fused into the node (models loaded with params.optimize): the
     * activation applied to its output, a static name such as "relu", "clip", "silu" ("" for
     * none), and whether an Add of its last input (a residual) happens before it. */
    const char *fused;
    int has_residual;
} lcv_node_info;
LCV_API lcv_status lcv_model_node_info(const lcv_model *m, int64_t i, lcv_node_info *out);

/* ---------------------------------------------------------------------------------------------
 * Sessions: the mutable state needed to run a model (buffers, plan for the current shapes).
 * ------------------------------------------------------------------------------------------- */
typedef struct lcv_session lcv_session;

typedef struct lcv_session_params {
    int threads;  /* worker threads; 0 = 1 */
    int profile;  /* non-zero: accumulate per-node wall time, read with lcv_session_profile */
} lcv_session_params;

LCV_API lcv_session_params lcv_session_default_params(void);

/* Creates a session on a model. model: borrowed, must outlive the session; may be shared by
 * sessions on other threads. params: borrowed, may be NULL. *out: caller frees with
 * lcv_session_free; on failure *out is NULL and the status alone tells why (only
 * LCV_ERR_INVALID_ARG or LCV_ERR_NOMEM can occur). Thread-safe. */
LCV_API lcv_status lcv_session_create(const lcv_model *model, const lcv_session_params *params,
                                      lcv_session **out);
LCV_API void lcv_session_free(lcv_session *s);
/* Last error message of the session ("" if none). Owned by the session. */
LCV_API const char *lcv_session_errmsg(const lcv_session *s);

/* Runs the model. names[i] (borrowed) names the graph input fed by inputs[i] (borrowed, read
 * during the call only); every graph input without an initializer must be given once. Shapes
 * may differ from the previous run: the plan is redone for new shapes (activations live in
 * one arena per session, sized for the largest shapes seen); runs with the shapes of the
 * previous run allocate no activation memory. After a run, outputs are
 * read with lcv_session_output; they are owned by the session and valid until the next run or
 * lcv_session_free. Not thread-safe on one session; safe on different sessions. */
LCV_API lcv_status lcv_session_run(lcv_session *s, int n_inputs, const char *const *names,
                                   const lcv_tensor *const *inputs);
/* Output i of the last successful run (borrowed, owned by the session), NULL if none. */
LCV_API const lcv_tensor *lcv_session_output(const lcv_session *s, int i);

/* Profile entry of node i (execution order) accumulated since the session was created:
 * total seconds and number of runs. Requires params.profile. */
LCV_API lcv_status lcv_session_profile(const lcv_session *s, int64_t i, double *seconds,
                                       int64_t *calls);

/* ---------------------------------------------------------------------------------------------
 * .npy files (NumPy's array format, version 1.0-3.0, C order, little-endian numeric dtypes).
 * ------------------------------------------------------------------------------------------- */
/* Reads a .npy file. *out: caller frees. errbuf (borrowed, may be NULL) receives a message of at
 * most errcap bytes on failure. Thread-safe. */
LCV_API lcv_status lcv_npy_read_file(const char *path, lcv_tensor **out, char *errbuf,
                                     size_t errcap);
LCV_API lcv_status lcv_npy_read_buffer(const void *data, size_t size, lcv_tensor **out,
                                       char *errbuf, size_t errcap);
/* Writes t (borrowed) as a .npy file. */
LCV_API lcv_status lcv_npy_write_file(const char *path, const lcv_tensor *t, char *errbuf,
                                      size_t errcap);

#ifdef __cplusplus
}
#endif

#endif /* LEANCV_H */
