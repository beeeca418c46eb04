#!/usr/bin/python3
"""make_pass_models.py - writes the small ONNX models tests/passes/test_pass_models.c loads
with and without graph optimisation (outputs must agree). Each model exercises patterns the
passes rewrite: Conv+BN, activations, SiLU, residual Add, Identity/Dropout, duplicates, and the
decomposed HardSwish, GELU and LayerNormalization that exporters write before opsets 14/20/17.

usage: /usr/bin/python3 scripts/make_pass_models.py [OUT_DIR]   (default tests/passes/models)
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

RNG = np.random.default_rng(7)


def const(name, shape, lo=-1.0, hi=1.0):
    return numpy_helper.from_array(RNG.uniform(lo, hi, shape).astype(np.float32), name)


def bn_params(prefix, c):
    return [const(prefix + "_s", [c], 0.5, 1.5), const(prefix + "_b", [c]),
            const(prefix + "_m", [c]), const(prefix + "_v", [c], 0.1, 1.0)]


def bn(prefix, x, y):
    return helper.make_node("BatchNormalization", [x, prefix + "_s", prefix + "_b", prefix + "_m",
                                                   prefix + "_v"], [y], epsilon=1e-3)


def save(out_dir, name, nodes, inputs, outputs, inits, opset=14):
    graph = helper.make_graph(nodes, name, inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    # outputs are declared without shapes (leancv infers them), which the checker refuses
    onnx.save(model, os.path.join(out_dir, name + ".onnx"))


def resnet_block(out_dir, name, batch):
    """Conv-BN-Relu, Conv-BN + skip -> Relu, with Identity/Dropout and a shared weight."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 4, 7, 9])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, None)
    nodes = [
        helper.make_node("Identity", ["x"], ["xi"]),
        helper.make_node("Conv", ["xi", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        bn("bn1", "c1", "n1"),
        helper.make_node("Relu", ["n1"], ["r1"]),
        helper.make_node("Dropout", ["r1"], ["d1"]),
        helper.make_node("Conv", ["d1", "w2"], ["c2"], pads=[1, 1, 1, 1]),
        bn("bn2", "c2", "n2"),
        helper.make_node("Add", ["xi", "n2"], ["a2"]),
        helper.make_node("Relu", ["a2"], ["y"]),
        # the same weight read by a second conv: it must not change under the first one's BN
        helper.make_node("Conv", ["x", "w2"], ["c3"], pads=[1, 1, 1, 1]),
        helper.make_node("Identity", ["c3"], ["z"]),
    ]
    inits = [const("w1", [4, 4, 3, 3]), const("b1", [4]), const("w2", [4, 4, 3, 3])]
    inits += bn_params("bn1", 4) + bn_params("bn2", 4)
    save(out_dir, name, nodes, [x], [y, z], inits)


def activations(out_dir):
    """Every fusable activation after Conv, Gemm or MatMul, SiLU, and duplicate nodes."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 6, 5])
    v = helper.make_tensor_value_info("v", TensorProto.FLOAT, [2, 6])
    outs = []
    nodes = []
    inits = [const("cw", [4, 3, 3, 3]), const("cb", [4]), const("gw", [6, 5]), const("gb", [5]),
             const("mw", [6, 5]), numpy_helper.from_array(np.array(0.0, np.float32), "lo"),
             numpy_helper.from_array(np.array(0.25, np.float32), "hi")]
    convs = {
        "relu": helper.make_node("Relu", ["c_relu"], ["o_relu"]),
        "clip": helper.make_node("Clip", ["c_clip", "lo", "hi"], ["o_clip"]),
        "leaky": helper.make_node("LeakyRelu", ["c_leaky"], ["o_leaky"], alpha=0.3),
        "hsig": helper.make_node("HardSigmoid", ["c_hsig"], ["o_hsig"], alpha=0.4, beta=0.6),
        "hswish": helper.make_node("HardSwish", ["c_hswish"], ["o_hswish"]),
        "tanh": helper.make_node("Tanh", ["c_tanh"], ["o_tanh"]),
    }
    for key, act in convs.items():
        # distinct weights, or CSE would merge the convs and leave nothing to fuse
        inits.append(const("cw_" + key, [4, 3, 3, 3]))
        nodes.append(helper.make_node("Conv", ["x", "cw_" + key, "cb"], ["c_" + key],
                                      pads=[1, 0, 1, 0]))
        nodes.append(act)
        outs.append("o_" + key)
    # SiLU on a conv: x * sigmoid(x)
    nodes += [helper.make_node("Conv", ["x", "cw"], ["c_silu"]),
              helper.make_node("Sigmoid", ["c_silu"], ["s_silu"]),
              helper.make_node("Mul", ["s_silu", "c_silu"], ["o_silu"])]
    outs.append("o_silu")
    # Gemm + Sigmoid, MatMul + Relu; a MatMul whose output is also a graph output stays unfused
    nodes += [helper.make_node("Gemm", ["v", "gw", "gb"], ["g1"]),
              helper.make_node("Sigmoid", ["g1"], ["o_gemm"]),
              helper.make_node("MatMul", ["v", "mw"], ["m1"]),
              helper.make_node("Relu", ["m1"], ["o_matmul"]),
              helper.make_node("MatMul", ["v", "gw"], ["m2"]),
              helper.make_node("Tanh", ["m2"], ["o_m2"])]
    outs += ["o_gemm", "o_matmul", "m2", "o_m2"]
    # duplicates for CSE: two identical Relu of v, summed
    nodes += [helper.make_node("Relu", ["v"], ["d1"]), helper.make_node("Relu", ["v"], ["d2"]),
              helper.make_node("Add", ["d1", "d2"], ["o_cse"])]
    outs.append("o_cse")
    save(out_dir, "activations", nodes, [x, v],
         [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outs], inits)


def scalar(name, v):
    return numpy_helper.from_array(np.array(v, np.float32), name)


def layernorm(p, x, y, axis=-1, gamma=None, beta=None):
    """LayerNormalization over `axis` written out as torch exports it at opset 13."""
    nodes = [helper.make_node("ReduceMean", [x], [p + "_m"], axes=[axis]),
             helper.make_node("Sub", [x, p + "_m"], [p + "_d"]),
             helper.make_node("Pow", [p + "_d", "two"], [p + "_p"]),
             helper.make_node("ReduceMean", [p + "_p"], [p + "_v"], axes=[axis]),
             helper.make_node("Add", [p + "_v", "eps"], [p + "_ve"]),
             helper.make_node("Sqrt", [p + "_ve"], [p + "_s"])]
    if gamma is None:
        return nodes + [helper.make_node("Div", [p + "_d", p + "_s"], [y])]
    return nodes + [helper.make_node("Div", [p + "_d", p + "_s"], [p + "_n"]),
                    helper.make_node("Mul", [p + "_n", gamma], [p + "_g"]),
                    helper.make_node("Add", [p + "_g", beta], [y])]


def gelu(p, x, y, form):
    """GELU with Erf: 0 as torch writes it, 1 with Mul by 1/sqrt(2) and x * 0.5 first."""
    if form == 0:
        return [helper.make_node("Div", [x, "sqrt2"], [p + "_u"]),
                helper.make_node("Erf", [p + "_u"], [p + "_e"]),
                helper.make_node("Add", [p + "_e", "one"], [p + "_t"]),
                helper.make_node("Mul", [x, p + "_t"], [p + "_q"]),
                helper.make_node("Mul", [p + "_q", "half"], [y])]
    return [helper.make_node("Mul", ["rsqrt2", x], [p + "_u"]),
            helper.make_node("Erf", [p + "_u"], [p + "_e"]),
            helper.make_node("Add", ["one", p + "_e"], [p + "_t"]),
            helper.make_node("Mul", ["half", x], [p + "_h"]),
            helper.make_node("Mul", [p + "_t", p + "_h"], [y])]


def transformer(out_dir):
    """A pre-norm MLP block (LayerNorm, MatMul + bias, GELU, MatMul + bias, residual) in both
    GELU forms, a normalisation without gamma/beta, one over a middle axis (not fused), a
    convnext-style LayerNorm between Transposes, and a GELU on a Conv."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 5, 8])
    im = helper.make_tensor_value_info("im", TensorProto.FLOAT, [1, 3, 5, 6])
    inits = [scalar("two", 2.0), scalar("eps", 1e-5), scalar("sqrt2", 1.4142135),
             scalar("rsqrt2", 0.70710678), scalar("one", 1.0), scalar("half", 0.5),
             const("g1", [8], 0.5, 1.5), const("b1", [8]), const("w1", [8, 12]), const("c1", [12]),
             const("w2", [12, 8]), const("c2", [8]), const("w3", [8, 12]), const("c3", [12]),
             const("cw", [8, 3, 3, 3]), const("cb", [8]), const("g2", [8], 0.5, 1.5),
             const("b2", [8])]
    nodes = layernorm("ln1", "x", "n1", gamma="g1", beta="b1")
    nodes += [helper.make_node("MatMul", ["n1", "w1"], ["h1"]),
              helper.make_node("Add", ["h1", "c1"], ["h1b"])]
    nodes += gelu("ge1", "h1b", "a1", 0)
    nodes += [helper.make_node("MatMul", ["a1", "w2"], ["h2"]),
              helper.make_node("Add", ["c2", "h2"], ["h2b"]),
              helper.make_node("Add", ["x", "h2b"], ["r1"])]
    nodes += layernorm("ln2", "r1", "n2")
    nodes += [helper.make_node("MatMul", ["n2", "w3"], ["h3"]),
              helper.make_node("Add", ["h3", "c3"], ["h3b"])]
    nodes += gelu("ge2", "h3b", "o_mlp", 1)
    nodes += layernorm("ln3", "x", "o_mid", axis=1)  # middle axis: stays decomposed
    nodes += [helper.make_node("Conv", ["im", "cw", "cb"], ["cv"], pads=[1, 1, 1, 1]),
              helper.make_node("Transpose", ["cv"], ["cvt"], perm=[0, 2, 3, 1])]
    nodes += layernorm("ln4", "cvt", "cvn", gamma="g2", beta="b2")
    nodes += [helper.make_node("Transpose", ["cvn"], ["o_cnx"], perm=[0, 3, 1, 2]),
              helper.make_node("Conv", ["im", "cw"], ["cg"], pads=[1, 1, 1, 1])]
    nodes += gelu("ge3", "cg", "o_cgelu", 0)
    outs = ["o_mlp", "o_mid", "o_cnx", "o_cgelu"]
    save(out_dir, "transformer", nodes, [x, im],
         [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outs], inits)


def hardswish(out_dir):
    """mobilenet_v3's HardSwish as x * HardSigmoid(x) after a Conv and a Gemm, its
    squeeze-excitation gate (HardSigmoid of another value: no HardSwish), and a near miss
    with HardSigmoid's default alpha."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 6, 7])
    v = helper.make_tensor_value_info("v", TensorProto.FLOAT, [3, 6])
    inits = [const("w1", [8, 4, 3, 3]), const("b1", [8]), const("w2", [8, 8, 1, 1]),
             const("b2", [8], 1.0, 3.0), const("w3", [8, 4, 1, 1]), const("gw", [6, 5]),
             const("gb", [5])]
    sixth = 1.0 / 6.0
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("HardSigmoid", ["c1"], ["s1"], alpha=sixth),
             helper.make_node("Mul", ["c1", "s1"], ["a1"]),
             helper.make_node("GlobalAveragePool", ["a1"], ["p1"]),
             helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"]),
             helper.make_node("HardSigmoid", ["c2"], ["s2"], alpha=sixth),
             helper.make_node("Mul", ["s2", "a1"], ["o_se"]),
             helper.make_node("Conv", ["x", "w3"], ["c3"]),
             helper.make_node("HardSigmoid", ["c3"], ["s3"]),
             helper.make_node("Mul", ["s3", "c3"], ["o_miss"]),
             helper.make_node("Gemm", ["v", "gw", "gb"], ["g1"]),
             helper.make_node("HardSigmoid", ["g1"], ["s4"], alpha=sixth, beta=0.5),
             helper.make_node("Mul", ["s4", "g1"], ["o_gemm"])]
    outs = ["o_se", "o_miss", "o_gemm"]
    save(out_dir, "hardswish", nodes, [x, v],
         [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outs], inits,
         opset=13)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "passes", "models")
    os.makedirs(out_dir, exist_ok=True)
    resnet_block(out_dir, "resnet_block", 2)
    resnet_block(out_dir, "resnet_block_dynamic", "N")
    activations(out_dir)
    transformer(out_dir)
    hardswish(out_dir)


if __name__ == "__main__":
    main()
