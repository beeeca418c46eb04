/* leancv_compress.h - model compression in the core library: post-training static quantization
 * to ONNX's QDQ form (QuantizeLinear/DequantizeLinear pairs, as ONNX Runtime writes them) from
 * calibration batches the caller supplies, and half-precision (fp16/bf16) weights.
 * Conventions follow leancv.h: fallible functions return lcv_status, errbuf (borrowed, may be
 * NULL) receives a message of at most errcap bytes naming what failed and where, destructors
 * accept NULL. Every function is thread-safe on distinct arguments. */
#ifndef LEANCV_COMPRESS_H
#define LEANCV_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "leancv.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How an activation's range is chosen from its calibration statistics. */
typedef enum lcv_calib_method {
    LCV_CALIB_MINMAX = 0,     /* the smallest and largest value seen */
    LCV_CALIB_PERCENTILE = 1, /* |x| clipped at a percentile of its non-zero values */
    LCV_CALIB_ENTROPY = 2,    /* the clip minimising KL divergence (TensorRT's calibrator) */
    LCV_CALIB_MSE = 3         /* the clip minimising the expected squared quantization error */
} lcv_calib_method;

/* Calibration data. next() hands out the batches in order: a float32 tensor shaped like the
 * model's first input (any batch size), borrowed by leancv until the next call; *batch = NULL
 * at the end of the data. rewind() goes back to the first batch: calibration reads the data
 * several times (ranges, histograms, the sensitivity report), and must see the same batches
 * each time. progress (optional, may be NULL) is told after each batch: pass 1-based of
 * n_passes, what the pass does (a static name: "ranges", "histograms", "sensitivity",
 * "check"), samples read in this pass. Callbacks return LCV_OK or an error whose message they
 * write to errbuf (errcap bytes). user: borrowed, passed back as is. */
typedef struct lcv_calib_source {
    void *user;
    lcv_status (*next)(void *user, const lcv_tensor **batch, char *errbuf, size_t errcap);
    lcv_status (*rewind)(void *user, char *errbuf, size_t errcap);
    void (*progress)(void *user, int pass, int n_passes, const char *what, int64_t samples);
} lcv_calib_source;

typedef struct lcv_quantize_params {
    lcv_calib_method method; /* default LCV_CALIB_MINMAX */
    double percentile;       /* for LCV_CALIB_PERCENTILE, in (0, 100] (default 99.99) */
    int bins;                /* histogram bins per activation (default 2048, >= 256) */
    int per_tensor_weights;  /* non-zero: one weight scale per tensor (default: per channel) */
    int int8_activations;    /* non-zero: int8 symmetric activations (default uint8 asymmetric) */
    /* Layers kept in float: the keep_float most sensitive ones (by the end-to-end effect of
     * quantizing each alone; this runs the sensitivity analysis), and those whose node name
     * matches one of the n_patterns glob patterns (fnmatch; patterns borrowed). The
     * sensitivity analysis holds as many models as fit about 1 GiB at once, so big models
     * take more passes over the data. */
    int keep_float;
    const char *const *keep_float_patterns;
    int n_patterns;
    int report;              /* non-zero: fill the per-layer sensitivity report */
    int threads;             /* session threads for calibration runs (0 = 1) */
    /* Non-zero: after the weights are quantized, each quantized Conv and Gemm (alpha = beta
     * = 1, no transA, a 1-D bias or none) gets b' = b - (Wq - W) E[x] per output channel, Wq
     * the dequantized weight as the file holds it, E[x] the per-channel mean of the layer's
     * input over the calibration data (Nagel et al. 2019, "Data-Free Quantization Through
     * Weight Equalization and Bias Correction", Sec. 4.2, with measured means); a layer
     * without a bias gets one. Default 0. */
    int bias_correction;
    /* Non-zero: cross-layer equalization of the float graph before calibration (same paper,
     * Sec. 4.1): for Conv -> [Relu | nothing] -> Conv (or Gemm -> Gemm) where the first
     * layer's output feeds only that path, channel i of the first layer is scaled by 1/s_i
     * and the second's input channel i by s_i, s_i = sqrt(r1_i / r2_i) with r the channel's
     * largest |weight|, repeated until the scales settle; the float function is unchanged.
     * Links through Clip(0, 6) (ReLU6) are skipped, unless equalize_relu6 is non-zero
     * (it implies equalize): those Clips become Relu, which changes the float model. */
    int equalize;
    int equalize_relu6;
} lcv_quantize_params;

LCV_API lcv_quantize_params lcv_quantize_default_params(void);

/* One quantized input of the report: a Conv, Gemm or MatMul with a constant float weight (its
 * activation input and weight), or an Add or MaxPool input that comes from such a layer alone
 * (quantized so that layer runs on integers: a residual branch's last Conv, a stem Conv). */
typedef struct lcv_quant_layer {
    const char *name;    /* node name, owned by the report */
    const char *op_type; /* static */
    int quantized;       /* 0: kept in float (--keep-float or a pattern) */
    float lo, hi;        /* calibrated range of its activation input */
    /* With params.report (NaN otherwise): SQNR in dB of the layer's output in the written
     * model vs fp32 on the calibration data, and of the model's first output when this layer
     * alone is quantized, with the top-1 agreement (percent) of that output vs fp32. */
    double sqnr_db, alone_sqnr_db, alone_top1;
    int bias_corrected;  /* its bias was corrected (params.bias_correction) */
} lcv_quant_layer;

typedef struct lcv_quant_report {
    int n_layers;
    lcv_quant_layer *layers; /* owned by the report, in graph order */
    int64_t samples;         /* calibration samples per pass */
    double model_sqnr_db;    /* written model's first output vs fp32 (NaN without report) */
    double model_top1;       /* its top-1 agreement, percent (NaN without report) */
    int n_bias_corrected;    /* layers whose bias was corrected */
    /* Equalization: layer pairs equalized, rounds over them until the scales settled,
     * Clip(0, 6) links turned into Relu (equalize_relu6) or left alone (without it). */
    int n_equalized, equalize_rounds, n_relu6_replaced, n_relu6_skipped;
} lcv_quant_report;

LCV_API void lcv_quant_report_free(lcv_quant_report *r);

/* Quantizes an fp32 ONNX model (data: borrowed serialized ModelProto) to QDQ form: BatchNorm
 * folded into Conv first; every Conv, Gemm and MatMul with a constant float weight gets
 * Q/DQ on its activation input (uint8 asymmetric or int8 symmetric), int8 symmetric weights
 * through DequantizeLinear (per output channel or per tensor) and an int32 bias of scale
 * s_x * s_w through DequantizeLinear. params, src: borrowed (params NULL: defaults).
 * *out: caller frees with lcv_compress_free_buffer; *out_size its length. *report (optional,
 * may be NULL): caller frees with lcv_quant_report_free. On failure nothing is returned
 * (*out NULL, *report NULL). Fails on a model that already has QuantizeLinear/DequantizeLinear
 * or integer ops, one with nothing to quantize, and calibration batches of the wrong shape
 * or none at all. */
LCV_API lcv_status lcv_quantize_model(const void *data, size_t size,
                                      const lcv_quantize_params *params,
                                      const lcv_calib_source *src, void **out, size_t *out_size,
                                      lcv_quant_report **report, char *errbuf, size_t errcap);

/* Rewrites every float32 initializer of an ONNX model (data: borrowed) as dtype
 * (LCV_DTYPE_FLOAT16 or LCV_DTYPE_BFLOAT16) followed by a Cast back to float, so the file is
 * about half the size and both leancv (which folds the Cast at load) and ONNX Runtime load it.
 * bfloat16 needs opset >= 13. *out: caller frees with lcv_compress_free_buffer. */
LCV_API lcv_status lcv_convert_half(const void *data, size_t size, lcv_dtype dtype, void **out,
                                    size_t *out_size, char *errbuf, size_t errcap);

LCV_API void lcv_compress_free_buffer(void *p);

#ifdef __cplusplus
}
#endif

#endif /* LEANCV_COMPRESS_H */
