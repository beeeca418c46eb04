/* leancv_build.h - defining image classifiers in C: a builder appends blocks of efficient
 * backbones (conv-BN-activation, depthwise-separable, inverted residual with optional
 * squeeze-excitation, ShuffleNet v2 unit, ghost module, ResNet basic block, ...) to a graph with
 * freshly initialised weights and serializes it as an ONNX model that leancv loads, runs and
 * trains (leancv_train.h). Named small architectures (lcv_build_arch) are written with it.
 *
 * Conventions follow leancv.h: fallible functions return an lcv_status (or, for blocks, a value
 * handle that is -1 on failure) and keep a message naming the block and the bad argument on the
 * builder, read with lcv_builder_errmsg(); destructors accept NULL; ownership is written on
 * every pointer. Errors are sticky: after the first failure every later call on the builder
 * fails too and the first message is kept, so a whole network may be written without checks
 * and tested once at lcv_builder_finish. A builder belongs to one thread at a time; there is
 * no global state.
 *
 * The model: input "images" float32 [batch, C, H, W] (batch symbolic), every value a 4-D
 * [batch, C, H, W] feature map except after lcv_builder_global_avgpool and lcv_builder_linear,
 * which give [batch, F]. ONNX opset 14. Convolutions use "same" padding (kernel / 2, odd
 * kernels only), so a stride-s layer gives ceil(H / s) x ceil(W / s). Weights are initialised
 * like PyTorch's defaults, from the seed alone (the same calls and seed give the same bytes):
 * convolution and linear weights Kaiming-uniform, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), biases
 * the same bound; BatchNormalization scale 1, bias 0, running mean 0, running variance 1,
 * epsilon 1e-5, momentum 0.9 (PyTorch's 0.1). Convolutions followed by BatchNormalization
 * have no bias. */
#ifndef LEANCV_BUILD_H
#define LEANCV_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "leancv.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Activations a block may end with. */
typedef enum lcv_build_act {
    LCV_BUILD_ACT_NONE = 0,
    LCV_BUILD_ACT_RELU = 1,
    LCV_BUILD_ACT_RELU6 = 2,     /* Clip(0, 6) */
    LCV_BUILD_ACT_HARDSWISH = 3, /* x * relu6(x + 3) / 6 */
    LCV_BUILD_ACT_SILU = 4       /* x * sigmoid(x) (Sigmoid and Mul nodes) */
} lcv_build_act;

/* Limits every argument is checked against. */
#define LCV_BUILD_MAX_CHANNELS 65536
#define LCV_BUILD_MAX_SIDE 65536
#define LCV_BUILD_MAX_KERNEL 31
#define LCV_BUILD_MAX_STRIDE 16
#define LCV_BUILD_MAX_PARAMS ((int64_t)1 << 28) /* weights of the whole model */

typedef struct lcv_builder lcv_builder;

/* Starts a model for images of channels x height x width (each in 1..LCV_BUILD_MAX_*), with
 * weights drawn from seed. *out always receives a handle (unless out is NULL or memory ran out,
 * then *out is NULL): on failure it holds only the message for lcv_builder_errmsg(); free it
 * with lcv_builder_free in both cases. Thread-safe. */
LCV_API lcv_status lcv_builder_create(int channels, int height, int width, uint64_t seed,
                                      lcv_builder **out);
LCV_API void lcv_builder_free(lcv_builder *b);
/* First error message ("" if none). Owned by the builder. */
LCV_API const char *lcv_builder_errmsg(const lcv_builder *b);
/* The builder's status: LCV_OK or its first error. */
LCV_API lcv_status lcv_builder_status(const lcv_builder *b);

/* The handle of the image input. Handles are small integers >= 0, valid for the builder's
 * life; -1 stands for a failed block and makes every block it is passed to fail. */
LCV_API int lcv_builder_input(const lcv_builder *b);
/* Shape of value v without the batch: *channels, *height, *width (height = width = 0 for the
 * [batch, F] values; F in *channels). Returns LCV_ERR_INVALID_ARG for a bad handle. Any output
 * pointer may be NULL. */
LCV_API lcv_status lcv_builder_shape(const lcv_builder *b, int v, int *channels, int *height,
                                     int *width);
/* Weights added so far (elements of every float initializer, running statistics included). */
LCV_API int64_t lcv_builder_param_count(const lcv_builder *b);

/* Blocks. x, y: value handles of this builder (feature maps unless said otherwise). Each
 * returns the new value's handle, or -1 (message on the builder). */

/* Convolution (kernel x kernel, stride, groups dividing both channel counts), BatchNorm, act. */
LCV_API int lcv_builder_conv(lcv_builder *b, int x, int out_channels, int kernel, int stride,
                             int groups, lcv_build_act act);
/* An activation alone (also on [batch, F] values). */
LCV_API int lcv_builder_act(lcv_builder *b, int x, lcv_build_act act);
/* Depthwise-separable (MobileNet v1): depthwise kernel x kernel conv with stride, BN, act;
 * pointwise 1x1 conv to out_channels, BN, act. */
LCV_API int lcv_builder_dwsep(lcv_builder *b, int x, int out_channels, int kernel, int stride,
                              lcv_build_act act);
/* Squeeze-excitation (MobileNet v3 style): x * hardsigmoid(W2 relu(W1 avgpool(x) + b1) + b2)
 * with max(1, C / reduction) hidden channels (reduction >= 1); hardsigmoid(z) =
 * clip(z / 6 + 1/2, 0, 1). */
LCV_API int lcv_builder_squeeze_excite(lcv_builder *b, int x, int reduction);
/* Inverted residual (MobileNet v2/v3): 1x1 expansion to C * expansion channels with BN and act
 * (left out when expansion is 1), depthwise kernel x kernel with stride, BN, act, then
 * squeeze-excitation when se_reduction > 0, then a 1x1 projection to out_channels with BN and
 * no activation; the input is added when stride is 1 and the channel counts agree. */
LCV_API int lcv_builder_inverted_residual(lcv_builder *b, int x, int out_channels, int kernel,
                                          int stride, int expansion, int se_reduction,
                                          lcv_build_act act);
/* Channel shuffle (ShuffleNet): [C] viewed as [groups, C / groups], transposed, flattened. */
LCV_API int lcv_builder_channel_shuffle(lcv_builder *b, int x, int groups);
/* ShuffleNet v2 unit with ReLU. stride 1: out_channels must equal C (even); the channels are
 * split in halves, the second goes through 1x1-BN-ReLU, 3x3 depthwise-BN, 1x1-BN-ReLU and is
 * concatenated after the first. stride 2: both halves of the (even) out_channels come from
 * the whole input (3x3 depthwise-BN then 1x1-BN-ReLU; and the stride-1 branch with a strided
 * depthwise). Then channel shuffle with 2 groups. */
LCV_API int lcv_builder_shuffle_unit(lcv_builder *b, int x, int out_channels, int stride);
/* Ghost module (GhostNet): a 1x1 conv-BN-act to out_channels / ratio "intrinsic" channels,
 * and a cheap depthwise dw_kernel conv-BN-act making (ratio - 1) more maps from each;
 * concatenated. ratio >= 2 must divide out_channels. */
LCV_API int lcv_builder_ghost_module(lcv_builder *b, int x, int out_channels, int ratio,
                                     int dw_kernel, lcv_build_act act);
/* ResNet basic block: 3x3 conv-BN-ReLU with stride, 3x3 conv-BN, plus the input (or a 1x1
 * conv-BN projection with stride when the shape changes), then ReLU. */
LCV_API int lcv_builder_basic_block(lcv_builder *b, int x, int out_channels, int stride);
/* Elementwise sum of two values of equal shape. */
LCV_API int lcv_builder_add(lcv_builder *b, int x, int y);
/* Dense prediction (segmentation decoders). Upsampling by an integer factor in
 * 2..LCV_BUILD_MAX_STRIDE (Resize with scales): bilinear == 0 nearest (PyTorch's
 * nn.Upsample(mode="nearest")), else bilinear with half-pixel centres (align_corners=False). */
LCV_API int lcv_builder_upsample(lcv_builder *b, int x, int factor, int bilinear);
/* Concatenation of two maps of equal H and W along channels (x's first). */
LCV_API int lcv_builder_concat(lcv_builder *b, int x, int y);
/* Convolution kernel x kernel (stride 1, same padding) with bias and no normalisation or
 * activation: per-pixel class scores at the end of a segmentation or detection head. prior 0
 * keeps the usual bias initialisation; a prior in (0, 1) sets every bias to
 * -log((1 - prior) / prior), so a sigmoid starts there (RetinaNet's choice, 0.01, keeps the
 * focal loss of the many background locations from swamping the first steps). */
LCV_API int lcv_builder_head_conv(lcv_builder *b, int x, int out_channels, int kernel,
                                  float prior);
/* exp(x) * s with s a learned scalar starting at scale (> 0): positive box distances from a
 * detection head, on the scale of its stride (FCOS's per-level Scale). */
LCV_API int lcv_builder_scaled_exp(lcv_builder *b, int x, float scale);
/* Global average pooling: [batch, C, H, W] -> [batch, C]. */
LCV_API int lcv_builder_global_avgpool(lcv_builder *b, int x);
/* Fully connected layer (Gemm) to out_features, with bias; a feature map input is flattened
 * first ([batch, C * H * W]). */
LCV_API int lcv_builder_linear(lcv_builder *b, int x, int out_features);

/* Finishes the model with value `output` as its only output, named "logits", and serializes
 * it. *data: caller frees with lcv_build_free_buffer; *size: its length. The builder accepts
 * no more blocks afterwards (each fails), but may be finished again with the same output. */
LCV_API lcv_status lcv_builder_finish(lcv_builder *b, int output, void **data, size_t *size);
/* Same, written to the file at path (borrowed). */
LCV_API lcv_status lcv_builder_write(lcv_builder *b, int output, const char *path);
/* Frees a buffer returned by this header's functions; accepts NULL. */
LCV_API void lcv_build_free_buffer(void *data);

/* Named architectures for classification, built for images of channels x height x width and
 * `classes` outputs (2..100000), one for semantic segmentation and one for detection:
 *   "resnet-D-W"        CIFAR-style ResNet, D = 6n + 2 layers: a 3x3 stem of W channels,
 *                       three stages of n basic blocks (W, 2W, 4W channels; strides 1, 2, 2);
 *   "resnet8"           resnet-8-16;
 *   "mobilenetv2-tiny"  inverted residuals (ReLU6), 16..96 channels;
 *   "mobilenetv3-tiny"  inverted residuals with hardswish and squeeze-excitation;
 *   "shufflenetv2-tiny" ShuffleNet v2 units, 24..192 channels;
 *   "ghostnet-tiny"     ghost bottlenecks with squeeze-excitation;
 *   "segnet-tiny"       segmentation (output: per-pixel logits [batch, classes, H, W]): a
 *                       depthwise-separable encoder down to 1/16, a decoder that upsamples by 2
 *                       and concatenates the encoder's map of that size at each step up to
 *                       1/4, logits there, upsampled bilinearly to full size and combined
 *                       with the image itself by a 1x1 convolution;
 *   "fcos-tiny"         detection (output [batch, classes + 5, H / 8, W / 8]: class logits,
 *                       distances l, t, r, b in pixels, centre-ness logit; trained on boxes,
 *                       read by leancv detect --head fcos): the same encoder, its 1/16 map
 *                       merged into the 1/8 one, and FCOS classification / regression towers.
 *                       Both need H and W multiples of 16.
 * An optional "arch:" prefix is accepted. *data: caller frees with lcv_build_free_buffer.
 * errbuf (borrowed, may be NULL) receives a message of at most errcap bytes on failure (an
 * unknown name lists the known ones). Thread-safe. */
LCV_API lcv_status lcv_build_arch(const char *name, int channels, int height, int width,
                                  int classes, uint64_t seed, void **data, size_t *size,
                                  char *errbuf, size_t errcap);
/* The fixed architecture names above (i-th, NULL past the end), for help texts. */
LCV_API const char *lcv_build_arch_name(int i);

#ifdef __cplusplus
}
#endif

#endif /* LEANCV_BUILD_H */
