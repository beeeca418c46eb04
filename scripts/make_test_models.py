#!/usr/bin/python3
"""Writes the small models used by tests/runtime/ (committed; rerun to change them):
    /usr/bin/python3 scripts/make_test_models.py tests/runtime
dyn_batch_cnn.onnx: Conv-BN-Relu-pool-Gemm with a symbolic batch dimension "N" and a
Shape->Gather->Concat->Reshape chain, so the runtime must re-plan when the batch changes.
"""
import os
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

OUT = sys.argv[1] if len(sys.argv) > 1 else "tests/runtime"
rng = np.random.default_rng(7)


def arr(name, shape, dtype=np.float32):
    return numpy_helper.from_array(rng.standard_normal(shape).astype(dtype), name)


def main():
    os.makedirs(OUT, exist_ok=True)
    inits = [
        arr("w", (4, 2, 3, 3)), arr("b", (4,)),
        numpy_helper.from_array(np.abs(rng.standard_normal(4)).astype(np.float32) + 0.5, "scale"),
        arr("bias", (4,)), arr("mean", (4,)),
        numpy_helper.from_array(np.abs(rng.standard_normal(4)).astype(np.float32) + 0.5, "var"),
        arr("fc_w", (5, 4)), arr("fc_b", (5,)),
        numpy_helper.from_array(np.array([0], np.int64), "zero"),
        numpy_helper.from_array(np.array([-1], np.int64), "minus_one"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c", "scale", "bias", "mean", "var"], ["bn"],
                         name="bn"),
        helper.make_node("Relu", ["bn"], ["r"], name="relu"),
        helper.make_node("GlobalAveragePool", ["r"], ["p"], name="pool"),
        helper.make_node("Shape", ["p"], ["shape"], name="shape"),
        helper.make_node("Gather", ["shape", "zero"], ["batch"], name="batch", axis=0),
        helper.make_node("Concat", ["batch", "minus_one"], ["flat_shape"], name="cat", axis=0),
        helper.make_node("Reshape", ["p", "flat_shape"], ["flat"], name="reshape"),
        helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"], name="fc", transB=1),
    ]
    g = helper.make_graph(nodes, "dyn_batch_cnn",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 6, 6])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 5])],
                          initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)],
                          producer_name="leancv-tests")
    with open(os.path.join(OUT, "dyn_batch_cnn.onnx"), "wb") as f:
        f.write(m.SerializeToString())
    print("wrote", os.path.join(OUT, "dyn_batch_cnn.onnx"))


if __name__ == "__main__":
    main()
