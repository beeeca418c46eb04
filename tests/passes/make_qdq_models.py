#!/usr/bin/python3
"""make_qdq_models.py - writes small QDQ-format quantized models in the layout ONNX Runtime's
quantize_static produces (QuantizeLinear/DequantizeLinear around every Conv, MatMul, Add and
MaxPool; int8 weights per output channel with zero points 0; int32 biases with scale
x_scale * w_scale), calibrated on float activations computed with PyTorch, plus one input each.
tests/passes/test_qdq_models.c runs them with and without leancv's optimizer (fuse_qdq) and
against ONNX Runtime's outputs (ort_qdq.js).

usage: /usr/bin/python3 tests/passes/make_qdq_models.py OUT_DIR
"""
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

RNG = np.random.default_rng(11)


class Builder:
    """Collects nodes and initializers; tracks each quantized tensor's (scale, zero point)."""

    def __init__(self, act_type):
        self.nodes, self.inits, self.n = [], [], 0
        self.act_type = act_type  # np.uint8 or np.int8 for activations

    def name(self, base):
        self.n += 1
        return "%s_%d" % (base, self.n)

    def init(self, arr, base):
        nm = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(arr), nm))
        return nm

    def act_params(self, t):
        """Scale and zero point covering float tensor t (range widened to include 0)."""
        lo, hi = min(float(t.min()), 0.0), max(float(t.max()), 0.0)
        if self.act_type == np.uint8:
            s = np.float32((hi - lo) / 255.0 or 1.0)
            z = int(np.clip(np.round(-lo / s), 0, 255))
        else:
            s = np.float32(max(hi, -lo) / 127.0 or 1.0)
            z = 0
        return s, z

    def quantize(self, x, t, relu_zero=False):
        """Q then DQ of float value x whose calibration data is t: returns (q name, dq name)."""
        s, z = self.act_params(t)
        if relu_zero:  # what quantize_static gives a Relu output: the range starts at 0
            z = 0 if self.act_type == np.uint8 else -128
            s = np.float32(float(t.max()) / 255.0 or 1.0)
        sn = self.init(np.float32(s), "scale")
        zn = self.init(np.array(z, dtype=self.act_type), "zp")
        q, dq = self.name("q"), self.name("dq")
        self.nodes.append(helper.make_node("QuantizeLinear", [x, sn, zn], [q]))
        self.nodes.append(helper.make_node("DequantizeLinear", [q, sn, zn], [dq]))
        return q, dq, (s, z)

    def weight(self, w, axis):
        """DQ of int8 weights quantized symmetrically per channel along axis (or per tensor
        when axis is None). Returns the DQ output and the float32 scales."""
        if axis is None:
            s = np.array(np.abs(w).max() / 127.0, dtype=np.float32)
            q = np.clip(np.round(w / s), -127, 127).astype(np.int8)
            z = np.array(0, dtype=np.int8)
        else:
            red = tuple(i for i in range(w.ndim) if i != axis)
            s = (np.abs(w).max(axis=red) / 127.0).astype(np.float32)
            shp = [1] * w.ndim
            shp[axis] = -1
            q = np.clip(np.round(w / s.reshape(shp)), -127, 127).astype(np.int8)
            z = np.zeros(s.shape, dtype=np.int8)
        names = [self.init(q, "wq"), self.init(s, "ws"), self.init(z, "wz")]
        out = self.name("w")
        kw = {} if axis is None else {"axis": axis}
        self.nodes.append(helper.make_node("DequantizeLinear", names, [out], **kw))
        return out, s

    def bias(self, b, sx, sw):
        bs = (np.float32(sx) * sw).astype(np.float32)
        bq = np.round(b / bs).astype(np.int32)
        names = [self.init(bq, "bq"), self.init(bs, "bs"), self.init(np.zeros(bs.shape, np.int32), "bz")]
        out = self.name("b")
        self.nodes.append(helper.make_node("DequantizeLinear", names, [out], axis=0))
        return out


def conv_block(b, x_dq, x_qp, t, cin, cout, k, stride=1, group=1, relu=True, relu6=False):
    """DQ'd input -> Conv(+bias) [-> Relu, or Clip(0, 6)] -> Q -> DQ; returns (dq name,
    qparams, float data)."""
    w = RNG.normal(0, (2.0 / (cin // group * k * k)) ** 0.5, (cout, cin // group, k, k)).astype(np.float32)
    bias = RNG.normal(0, 0.1, cout).astype(np.float32)
    wn, sw = b.weight(w, 0)
    bn = b.bias(bias, x_qp[0], sw)
    y = b.name("conv")
    b.nodes.append(helper.make_node("Conv", [x_dq, wn, bn], [y], pads=[k // 2] * 4,
                                    strides=[stride] * 2, group=group))
    ty = F.conv2d(torch.from_numpy(t), torch.from_numpy(w), torch.from_numpy(bias), stride=stride,
                  padding=k // 2, groups=group)
    if relu6:
        r = b.name("relu6")
        lo, hi = b.init(np.float32(0), "clip_lo"), b.init(np.float32(6), "clip_hi")
        b.nodes.append(helper.make_node("Clip", [y, lo, hi], [r]))
        y, ty, relu = r, torch.clamp(ty, 0, 6), True
    elif relu:
        r = b.name("relu")
        b.nodes.append(helper.make_node("Relu", [y], [r]))
        y, ty = r, F.relu(ty)
    ty = ty.numpy()
    _, dq, qp = b.quantize(y, ty, relu_zero=relu)
    return dq, qp, ty


def finish(b, out_dir, name, x_shape, x, out_q, out_shape):
    dt = TensorProto.UINT8 if b.act_type == np.uint8 else TensorProto.INT8
    graph = helper.make_graph(b.nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                              [helper.make_tensor_value_info(out_q, dt, list(out_shape))], b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="qdq-test")
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(out_dir, name + ".onnx"))
    np.save(os.path.join(out_dir, name + ".x.npy"), x)


def resnet(out_dir, act_type, name):
    """stem conv -> maxpool -> two residual blocks (conv-relu-conv + Add -> Relu) -> 1x1 conv."""
    b = Builder(act_type)
    x = RNG.uniform(-1, 1, (2, 3, 40, 36)).astype(np.float32)
    _, h, qp = b.quantize("x", x)
    h, qp, t = conv_block(b, h, qp, x, 3, 8, 3, stride=2)
    p = b.name("pool")
    b.nodes.append(helper.make_node("MaxPool", [h], [p], kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4))
    t = F.max_pool2d(torch.from_numpy(t), 3, 2, 1).numpy()
    s, z = qp  # quantize_static keeps a MaxPool's input parameters on its output
    sn, zn = b.init(np.float32(s), "scale"), b.init(np.array(z, dtype=act_type), "zp")
    pq, h = b.name("q"), b.name("dq")
    b.nodes += [helper.make_node("QuantizeLinear", [p, sn, zn], [pq]),
                helper.make_node("DequantizeLinear", [pq, sn, zn], [h])]
    for _ in range(2):
        a, aqp, ta = conv_block(b, h, qp, t, 8, 8, 3)
        c, cqp, tc = conv_block(b, a, aqp, ta, 8, 8, 3, relu=False)
        add = b.name("add")
        b.nodes.append(helper.make_node("Add", [c, h], [add]))
        r = b.name("relu")
        b.nodes.append(helper.make_node("Relu", [add], [r]))
        t = np.maximum(tc + t, 0)
        _, h, qp = b.quantize(r, t, relu_zero=True)
    w = RNG.normal(0, 0.3, (5, 8, 1, 1)).astype(np.float32)
    wn, sw = b.weight(w, 0)
    y = b.name("head")
    b.nodes.append(helper.make_node("Conv", [h, wn, b.bias(RNG.normal(0, 0.1, 5).astype(np.float32), qp[0], sw)], [y]))
    ty = F.conv2d(torch.from_numpy(t), torch.from_numpy(w)).numpy()
    q, _, _ = b.quantize(y, ty)
    finish(b, out_dir, name, list(x.shape), x, q, ty.shape)


def depthwise(out_dir):
    """int8 activations, a MobileNetV2 block: 1x1 expand, 3x3 depthwise stride 2 (both with
    ReLU6 as Clip), 1x1 project."""
    b = Builder(np.int8)
    x = RNG.uniform(-1, 1, (2, 6, 15, 13)).astype(np.float32)
    _, h, qp = b.quantize("x", x)
    h, qp, t = conv_block(b, h, qp, x, 6, 12, 1, relu6=True)
    h, qp, t = conv_block(b, h, qp, t, 12, 12, 3, stride=2, group=12, relu6=True)
    h, qp, t = conv_block(b, h, qp, t, 12, 7, 1, relu=False)
    finish(b, out_dir, "qdq_depthwise", list(x.shape), x, b.nodes[-2].output[0], t.shape)


def matmul(out_dir):
    """two MatMuls on a [batch, tokens, features] input, per-tensor then per-column weights."""
    b = Builder(np.uint8)
    x = RNG.uniform(-1, 1, (3, 17, 16)).astype(np.float32)
    _, h, qp = b.quantize("x", x)
    t = x
    for axis, n_out in ((None, 24), (1, 10)):
        w = RNG.normal(0, 0.25, (t.shape[-1], n_out)).astype(np.float32)
        wn, _ = b.weight(w, axis)
        y = b.name("mm")
        b.nodes.append(helper.make_node("MatMul", [h, wn], [y]))
        t = t @ w
        q, h, qp = b.quantize(y, t)
    finish(b, out_dir, "qdq_matmul", list(x.shape), x, q, t.shape)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    resnet(out_dir, np.uint8, "qdq_resnet_u8")
    resnet(out_dir, np.int8, "qdq_resnet_i8")
    depthwise(out_dir)
    matmul(out_dir)


if __name__ == "__main__":
    main()
