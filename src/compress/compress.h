/* compress.h - internal pieces of src/compress shared by its files and tests: calibration
 * histograms and calibrators (calib.c), weight quantization and half conversion (wquant.c),
 * and the graph rewrites (qdq.c) that the driver (quantize.c) puts together. */
#ifndef LCV_COMPRESS_H
#define LCV_COMPRESS_H

#include "../ir/graph.h"
#include "leancv_compress.h"

/* ---- calib.c: the calibrators are pure functions of a histogram of |x| ---- */

/* A histogram of |x| over [0, amax] in n equal bins (bin i: [i*w, (i+1)*w), w = amax / n; the
 * largest value goes in the last bin), with the signed minimum and maximum seen. Exact zeros
 * are not counted: every quantizer here represents them exactly, and the spike ReLU outputs
 * have there would otherwise dominate the entropy calibrator's comparison of distributions. */
typedef struct lcv_hist {
    double *count; /* owned, n entries */
    int n;
    double amax;
    float lo, hi; /* smallest / largest value seen (lo > hi before any) */
} lcv_hist;

lcv_status lcv_hist_init(lcv_hist *h, int n, lcv_err *e);
void lcv_hist_free(lcv_hist *h);
/* Widens lo/hi with data (NaNs ignored). */
void lcv_hist_range(lcv_hist *h, const float *x, int64_t n);
/* Adds data to the counts (not zeros, NaNs, or anything when amax is 0); amax must be set
 * (values above it land in the last bin). */
void lcv_hist_add(lcv_hist *h, const float *x, int64_t n);

/* Thresholds on |x| (the clip), each in (0, amax], for a histogram count[n] over [0, amax]:
 *  percentile: the upper edge of the first bin where the cumulative count reaches pct% of
 *    the total;
 *  entropy: for each candidate i in [levels, n], p = count[0..i) with the counts past i
 *    added to bin i-1, q = count[0..i) merged into `levels` groups (group j covers bins
 *    [j*i/levels, (j+1)*i/levels), integer division) and spread evenly over each group's
 *    non-empty bins; both normalised, KL(p||q) = sum over p > 0 of p log(p / max(q, 1e-12));
 *    the threshold is i*w for the first i with the smallest KL (TensorRT's method);
 *  mse: for each candidate t = i*w, i in [1, n], the sum over bins of count * error^2 at the
 *    bin centre c, error = c - round(c / d) * d with d = t / (levels - 1) when c < t, c - t
 *    beyond; the first i with the smallest sum.
 * A histogram with no counts gives amax. levels: quantization levels over [0, t] (128 for
 * int8 symmetric, 256 for uint8 over non-negative data). */
double lcv_calib_percentile(const double *count, int n, double amax, double pct);
double lcv_calib_entropy(const double *count, int n, double amax, int levels);
double lcv_calib_mse(const double *count, int n, double amax, int levels);

/* Quantization parameters of an activation with range [lo, hi] (widened to include 0): uint8
 * asymmetric (scale = (hi - lo) / 255, zero point round(-lo / scale)) or int8 symmetric
 * (scale = max(|lo|, |hi|) / 127, zero point 0). A zero range gets scale 1. */
void lcv_act_qparams(float lo, float hi, bool int8_sym, float *scale, int32_t *zp);

/* ---- wquant.c: weights ---- */

/* Symmetric int8 quantization of w (float32 [d0, d1, ...]) along axis (channels = dims[axis];
 * axis -1: one scale for the tensor): scale_c = max|w_c| / 127 (1 when the channel is all
 * zero), q = clamp(round_half_even(w / scale_c), -127, 127). *q (int8, w's shape) and *scale
 * (float32 [channels], or [] per tensor): caller frees. */
lcv_status lcv_quant_weight_int8(const lcv_tensor *w, int axis, lcv_tensor **q,
                                 lcv_tensor **scale, lcv_err *e);
/* int32 bias b[c] / (sx * sw[c]) rounded half to even and saturated; sw has 1 or len(b)
 * entries. *q: caller frees. */
lcv_status lcv_quant_bias_int32(const lcv_tensor *b, float sx, const lcv_tensor *sw,
                                lcv_tensor **q, lcv_err *e);
/* A float16/bfloat16 copy of a float32 tensor. *out: caller frees. */
lcv_status lcv_tensor_to_half(const lcv_tensor *t, lcv_dtype dtype, lcv_tensor **out,
                              lcv_err *e);

/* ---- qdq.c: graphs ---- */

/* One quantizable node of a prepared graph. */
typedef struct lcv_qsite {
    int node;     /* index in the prepared graph */
    int x;        /* value id of the activation input */
    int in_index; /* which input of node x is */
    bool weights; /* Conv/Gemm/MatMul: input 1 is a constant weight quantized with it; else an
                   * Add reading a weighted node's output, quantized so that node can run on
                   * integers (its output then has a QuantizeLinear) */
    int w_axis;   /* channel axis of the weight */
    bool bias;    /* input 2 is a 1-D float bias of one entry per channel (quantized to int32) */
    /* Per-channel mean of x along axis 1 over the calibration data, for bias correction
     * (borrowed; NULL when not measured), n_mean entries. */
    const double *mean;
    int64_t n_mean;
} lcv_qsite;

/* Imports a float model, refuses quantized ones, folds constants and BatchNorm into Conv
 * (no other rewrite: nothing leancv-internal reaches the written file) and drops unused
 * initializers. *out: caller frees with lcv_graph_free. */
lcv_status lcv_qdq_prepare(const void *data, size_t size, lcv_graph **out, lcv_err *e);
/* The quantized inputs of a prepared graph: the Conv/Gemm/MatMul nodes with a constant weight
 * in graph order, then the Add and MaxPool inputs that come from such a node alone (directly
 * or through a Relu/Clip). *sites: caller frees. */
lcv_status lcv_qdq_sites(const lcv_graph *g, lcv_qsite **sites, int *n, lcv_err *e);
/* Serializes g with the values extra[0..n_extra) added as graph outputs (after its own). */
lcv_status lcv_qdq_write_with_outputs(lcv_graph *g, const int *extra, int n_extra,
                                      void **data, size_t *size, lcv_err *e);
/* Whether g's opset can hold the QDQ form p asks for (QuantizeLinear from 10, per-axis
 * scales from 13). */
lcv_status lcv_qdq_check_opset(const lcv_graph *g, const lcv_quantize_params *p, lcv_err *e);
/* Rewrites g (prepared, with the sites found in it) to QDQ form for the sites with
 * on[k] set, with activation ranges lo[k], hi[k]; with p->bias_correction, the sites that
 * lcv_qdq_correctable accepts get corrected biases (biascorr.c). */
lcv_status lcv_qdq_rewrite(lcv_graph *g, const lcv_qsite *sites, int n, const bool *on,
                           const float *lo, const float *hi, const lcv_quantize_params *p,
                           lcv_err *e);
/* Float32 initializers of g as dtype + Cast (see lcv_convert_half). */
lcv_status lcv_qdq_half(lcv_graph *g, lcv_dtype dtype, lcv_err *e);

/* ---- biascorr.c: bias correction ---- */

/* Sums along axis 1 of float32 tensors of rank >= 2 (Conv's channels, a Gemm input's K):
 * sum[c] over every other index, count the number of terms per channel. */
typedef struct lcv_chan_mean {
    double *sum; /* owned, n entries (NULL before the first tensor) */
    int64_t n;
    double count;
} lcv_chan_mean;

/* Adds t (tensors of another dtype or rank < 2 are ignored); fails when its channel count
 * differs from the earlier tensors'. */
lcv_status lcv_chan_mean_add(lcv_chan_mean *m, const lcv_tensor *t, lcv_err *e);
/* Turns the sums into means (sum[c] / count). */
void lcv_chan_mean_finish(lcv_chan_mean *m);
void lcv_chan_mean_free(lcv_chan_mean *m);

/* Whether site s of g can have its bias corrected: a weighted Conv, or a Gemm with alpha =
 * beta = 1 and no transA, whose bias is a 1-D constant or absent, with s->mean measured over
 * as many channels as the weight has inputs. */
bool lcv_qdq_correctable(const lcv_graph *g, const lcv_qsite *s);
/* The corrected bias of site s (correctable): b[o] - sum over the weights w of output channel
 * o of (wq - w) * mean[input channel of w], wq = q * scale in float as DequantizeLinear gives
 * it; q and scale are s's weight quantized along axis (-1: per tensor). b is s's bias, or 0.
 * *out (float32 [channels]): caller frees. */
lcv_status lcv_bias_corrected(const lcv_graph *g, const lcv_qsite *s, const lcv_tensor *q,
                              const lcv_tensor *scale, int axis, lcv_tensor **out, lcv_err *e);

/* ---- equalize.c: cross-layer equalization ---- */

typedef struct lcv_cle_stats {
    int pairs;          /* layer pairs equalized */
    int rounds;         /* rounds run over all pairs (the last one changed nothing) */
    int relu6_replaced; /* Clip(0, 6) links turned into Relu */
    int relu6_skipped;  /* Clip(0, 6) links left alone (relu6 false) */
} lcv_cle_stats;

/* Equalizes the weighted layer pairs of a prepared float graph in place (see
 * lcv_quantize_params.equalize): at most max_rounds rounds over all pairs, stopping after the
 * first round in which no channel scale differs from 1 by more than 1e-5 relative. relu6:
 * equalize across Clip(0, 6) too, turning them into Relu. *stats (may be NULL) is filled. */
lcv_status lcv_cle_equalize(lcv_graph *g, bool relu6, int max_rounds, lcv_cle_stats *stats,
                            lcv_err *e);

#endif
