#!/usr/bin/python3
"""Writes the crafted bad model files of tests/bad_inputs/ and their manifest.

Each case is a file that leancv must refuse with a given status and a message naming what is
wrong; tests/bad_inputs/test_bad_inputs.c checks them. Run with Debian's python3-onnx:
    /usr/bin/python3 scripts/make_bad_inputs.py tests/bad_inputs
The files are committed; rerun only to change the set.
"""
import os
import random
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = sys.argv[1] if len(sys.argv) > 1 else "tests/bad_inputs"
cases = []  # (file, status, message substring)


def model(nodes, inputs, outputs, inits=(), opset=13, domains=()):
    g = helper.make_graph(nodes, "bad", inputs, outputs, initializer=list(inits))
    ops = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, 1) for d in domains]
    return helper.make_model(g, opset_imports=ops, producer_name="leancv-bad-inputs")


def vi(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def raw_tensor(name, dtype, dims, raw=None, floats=None):
    """A TensorProto built field by field, so its size may disagree with its dims."""
    t = TensorProto()
    t.name, t.data_type = name, dtype
    t.dims.extend(dims)
    if raw is not None:
        t.raw_data = raw
    if floats is not None:
        t.float_data.extend(floats)
    return t


def save_bytes(name, data, status, msg):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
    cases.append((name, status, msg))


def save(name, m, status, msg):
    save_bytes(name, m.SerializeToString(), status, msg)


def relu_model():
    return model([helper.make_node("Relu", ["x"], ["y"], name="relu")], [vi("x", [1, 4])],
                 [vi("y", [1, 4])])


def conv_model():
    w = numpy_helper.from_array(np.ones((2, 3, 3, 3), np.float32), "w")
    return model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv", pads=[1, 1, 1, 1])],
                 [vi("x", [1, 3, 8, 8])], [vi("y", [1, 2, 8, 8])], [w])


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = random.Random(1234)
    good = conv_model().SerializeToString()

    # -- wire-level damage
    save_bytes("empty.onnx", b"", "LCV_ERR_PARSE", "")
    save_bytes("random_bytes.onnx", bytes(rng.getrandbits(8) for _ in range(4096)),
               "LCV_ERR_PARSE", "")
    save_bytes("truncated_half.onnx", good[: len(good) // 2], "LCV_ERR_PARSE", "")
    save_bytes("truncated_last_byte.onnx", good[:-1], "LCV_ERR_PARSE", "")
    save_bytes("varint_overlong.onnx", b"\x08" + b"\xff" * 11 + b"\x01", "LCV_ERR_PARSE", "varint")
    save_bytes("length_past_end.onnx", b"\x3a\xff\xff\xff\x0f" + b"\x00" * 8, "LCV_ERR_PARSE",
               "")
    save_bytes("group_wire_type.onnx", b"\x0b\x0c", "LCV_ERR_PARSE", "")
    save_bytes("text_file.onnx", b"this is not an onnx model\n" * 10, "LCV_ERR_PARSE", "")

    # -- tensors whose declared size disagrees with the data
    t = raw_tensor("w", TensorProto.FLOAT, [1000], raw=b"\0\0\0\0")
    save("raw_data_too_short.onnx",
         model([helper.make_node("Add", ["x", "w"], ["y"])], [vi("x", [1000])], [vi("y", [1000])],
               [t]), "LCV_ERR_PARSE", "w")
    t = raw_tensor("w", TensorProto.FLOAT, [2], raw=b"\0" * 64)
    save("raw_data_too_long.onnx",
         model([helper.make_node("Add", ["x", "w"], ["y"])], [vi("x", [2])], [vi("y", [2])], [t]),
         "LCV_ERR_PARSE", "w")
    t = raw_tensor("w", TensorProto.FLOAT, [4], floats=[1.0, 2.0])
    save("float_data_count_mismatch.onnx",
         model([helper.make_node("Add", ["x", "w"], ["y"])], [vi("x", [4])], [vi("y", [4])], [t]),
         "LCV_ERR_PARSE", "w")
    t = raw_tensor("w", TensorProto.FLOAT, [-3], raw=b"")
    save("negative_dim_initializer.onnx",
         model([helper.make_node("Add", ["x", "w"], ["y"])], [vi("x", [3])], [vi("y", [3])], [t]),
         "LCV_ERR_PARSE", "w")
    t = raw_tensor("w", TensorProto.FLOAT, [1 << 40, 1 << 40], raw=b"\0" * 4)
    save("overflowing_dims_initializer.onnx",
         model([helper.make_node("Add", ["x", "w"], ["y"])], [vi("x", [1])], [vi("y", [1])], [t]),
         "LCV_ERR_PARSE", "w")
    t = raw_tensor("w", TensorProto.FLOAT, [1 << 28], raw=b"\0" * 16)
    save("huge_declared_tensor.onnx",
         model([helper.make_node("Add", ["x", "w"], ["y"])], [vi("x", [1])], [vi("y", [1])], [t]),
         "LCV_ERR_PARSE", "w")
    t = helper.make_tensor("s", TensorProto.STRING, [1], vals=[b"hello"])
    save("string_initializer.onnx",
         model([helper.make_node("Identity", ["s"], ["y"])], [], [vi("y", [1], TensorProto.STRING)],
               [t]), "LCV_ERR_UNSUPPORTED", "s")
    m = conv_model()
    w = m.graph.initializer[0]
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    e = w.external_data.add()
    e.key, e.value = "location", "../../../../etc/passwd"
    save("external_data_traversal.onnx", m, "LCV_ERR_PARSE", "..")
    m = conv_model()
    w = m.graph.initializer[0]
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    e = w.external_data.add()
    e.key, e.value = "location", "no_such_weights.bin"
    save("external_data_missing.onnx", m, "LCV_ERR_IO", "no_such_weights.bin")

    # -- graph structure
    save("cycle.onnx",
         model([helper.make_node("Relu", ["x_b"], ["a"], name="first"),
                helper.make_node("Add", ["a", "x"], ["x_b"], name="second"),
                helper.make_node("Relu", ["a"], ["y"], name="third")],
               [vi("x", [2])], [vi("y", [2])]), "LCV_ERR_PARSE", "cycle")
    save("undefined_input.onnx",
         model([helper.make_node("Add", ["x", "ghost"], ["y"], name="adder")], [vi("x", [2])],
               [vi("y", [2])]), "LCV_ERR_PARSE", "ghost")
    save("duplicate_output.onnx",
         model([helper.make_node("Relu", ["x"], ["y"], name="one"),
                helper.make_node("Sigmoid", ["x"], ["y"], name="two")],
               [vi("x", [2])], [vi("y", [2])]), "LCV_ERR_PARSE", "'y'")
    w1 = numpy_helper.from_array(np.ones(2, np.float32), "w")
    w2 = numpy_helper.from_array(np.zeros(2, np.float32), "w")
    save("duplicate_initializer.onnx",
         model([helper.make_node("Add", ["x", "w"], ["y"])], [vi("x", [2])], [vi("y", [2])],
               [w1, w2]), "LCV_ERR_PARSE", "'w'")
    save("duplicate_input.onnx",
         model([helper.make_node("Relu", ["x"], ["y"])], [vi("x", [2]), vi("x", [2])],
               [vi("y", [2])]), "LCV_ERR_PARSE", "'x'")
    save("missing_initializer.onnx",
         model([helper.make_node("Conv", ["x", "weights"], ["y"], name="conv")],
               [vi("x", [1, 3, 8, 8])], [vi("y", [1, 2, 6, 6])]), "LCV_ERR_PARSE", "weights")
    save("output_never_produced.onnx",
         model([helper.make_node("Relu", ["x"], ["y"])], [vi("x", [2])],
               [vi("y", [2]), vi("z", [2])]), "LCV_ERR_PARSE", "'z'")
    save("unknown_op.onnx",
         model([helper.make_node("FancyOp", ["x"], ["y"], name="fancy")], [vi("x", [2])],
               [vi("y", [2])]), "LCV_ERR_UNSUPPORTED", "FancyOp")
    save("unknown_domain_op.onnx",
         model([helper.make_node("Relu", ["x"], ["y"], name="custom", domain="com.example")],
               [vi("x", [2])], [vi("y", [2])], domains=["com.example"]),
         "LCV_ERR_UNSUPPORTED", "com.example")
    save("domain_not_imported.onnx",
         model([helper.make_node("Relu", ["x"], ["y"], name="custom", domain="org.nowhere")],
               [vi("x", [2])], [vi("y", [2])]), "", "org.nowhere")
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [vi("x", [2])],
                          [vi("y", [2])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ClearField("graph")
    save("no_graph.onnx", m, "LCV_ERR_PARSE", "graph")
    seq_in = helper.make_tensor_sequence_value_info("x", TensorProto.FLOAT, [2])
    save("sequence_input.onnx",
         model([helper.make_node("Identity", ["x"], ["y"])], [seq_in], [vi("y", [2])]),
         "LCV_ERR_UNSUPPORTED", "'x'")
    save("too_many_inputs.onnx",
         model([helper.make_node("Relu", ["x", "x"], ["y"], name="relu2")], [vi("x", [2])],
               [vi("y", [2])]), "LCV_ERR_SHAPE", "relu2")
    sp = onnx.SparseTensorProto()
    sp.values.CopyFrom(numpy_helper.from_array(np.ones(1, np.float32), "sv"))
    sp.indices.CopyFrom(numpy_helper.from_array(np.zeros(1, np.int64), "si"))
    sp.dims.extend([4])
    m = model([helper.make_node("Add", ["x", "sv"], ["y"])], [vi("x", [4])], [vi("y", [4])])
    m.graph.sparse_initializer.append(sp)
    save("sparse_initializer.onnx", m, "LCV_ERR_UNSUPPORTED", "sparse")

    # -- shapes that cannot work
    w = numpy_helper.from_array(np.ones((2, 3), np.float32), "w")
    save("conv_weight_rank.onnx",
         model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")],
               [vi("x", [1, 3, 8, 8])], [vi("y", [1, 2, 8, 8])], [w]), "LCV_ERR_SHAPE", "conv")
    w = numpy_helper.from_array(np.ones((4, 5, 3, 3), np.float32), "w")
    save("conv_channel_mismatch.onnx",
         model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv", group=1)],
               [vi("x", [1, 3, 8, 8])], [vi("y", [1, 4, 6, 6])], [w]), "LCV_ERR_SHAPE", "conv")
    save("add_not_broadcastable.onnx",
         model([helper.make_node("Add", ["x", "z"], ["y"], name="adder")],
               [vi("x", [2, 3]), vi("z", [4])], [vi("y", [2, 3])]), "LCV_ERR_SHAPE", "adder")
    shape = numpy_helper.from_array(np.array([7, 7], np.int64), "shape")
    save("reshape_wrong_size.onnx",
         model([helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape")],
               [vi("x", [2, 3])], [vi("y", [7, 7])], [shape]), "LCV_ERR_SHAPE", "reshape")
    idx = numpy_helper.from_array(np.array([5], np.int64), "idx")
    data = numpy_helper.from_array(np.ones(3, np.float32), "data")
    save("gather_index_out_of_range.onnx",
         model([helper.make_node("Gather", ["data", "idx"], ["g"], name="gather"),
                helper.make_node("Add", ["x", "g"], ["y"])],
               [vi("x", [1])], [vi("y", [1])], [data, idx]), "", "gather")
    save("input_rank_too_high.onnx",
         model([helper.make_node("Relu", ["x"], ["y"])], [vi("x", [1] * 9)], [vi("y", [1] * 9)]),
         "", "'x'")
    save("transpose_bad_perm.onnx",
         model([helper.make_node("Transpose", ["x"], ["y"], name="tr", perm=[0, 0])],
               [vi("x", [2, 3])], [vi("y", [3, 2])]), "LCV_ERR_SHAPE", "tr")

    # -- .npy arrays (read with lcv_npy_read_file) and images (read by the CLI)
    def npy(header, payload=b"", magic=b"\x93NUMPY\x01\x00"):
        h = header.encode()
        h += b" " * ((64 - (len(magic) + 2 + len(h) + 1) % 64) % 64) + b"\n"
        return magic + struct.pack("<H", len(h)) + h + payload

    save_bytes("npy_bad_magic.npy", b"\x93NUMPZ\x01\x00" + b"\0" * 60, "LCV_ERR_PARSE", "")
    save_bytes("npy_truncated_header.npy", npy("{'descr': '<f4', 'fortran_order': False, "
                                               "'shape': (2,), }")[:20], "LCV_ERR_PARSE", "")
    save_bytes("npy_short_data.npy", npy("{'descr': '<f4', 'fortran_order': False, "
                                         "'shape': (100,), }", b"\0" * 8), "LCV_ERR_PARSE", "")
    save_bytes("npy_huge_shape.npy", npy("{'descr': '<f4', 'fortran_order': False, "
                                         "'shape': (4294967296, 4294967296), }", b"\0" * 8),
               "", "")
    save_bytes("npy_negative_shape.npy", npy("{'descr': '<f4', 'fortran_order': False, "
                                             "'shape': (-2,), }"), "LCV_ERR_PARSE", "")
    save_bytes("npy_fortran_order.npy", npy("{'descr': '<f4', 'fortran_order': True, "
                                            "'shape': (2, 2), }", b"\0" * 16), "", "fortran")
    save_bytes("npy_object_dtype.npy", npy("{'descr': '|O', 'fortran_order': False, "
                                           "'shape': (1,), }", b"\0" * 8), "", "O")
    save_bytes("npy_garbage_header.npy", npy("{'descr': <f4 'shape': ((((", b"\0" * 8),
               "LCV_ERR_PARSE", "")
    png_sig = b"\x89PNG\r\n\x1a\n"
    save_bytes("image_truncated.png", png_sig + b"\x00\x00\x00\x0dIHDR\x00\x00", "", "")
    save_bytes("image_random.png", png_sig + bytes(rng.getrandbits(8) for _ in range(512)), "",
               "")
    save_bytes("image_truncated.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "", "")
    save_bytes("image_not_an_image.jpg", b"GIF89a" + b"\0" * 64, "", "")

    with open(os.path.join(OUT, "expected.txt"), "w") as f:
        f.write("# file  expected-status (empty: any error)  message-substring (may be empty)\n")
        for name, status, msg in cases:
            f.write(f"{name}\t{status or '-'}\t{msg or '-'}\n")
    print(f"wrote {len(cases)} bad files to {OUT}")


if __name__ == "__main__":
    main()
