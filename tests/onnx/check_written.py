#!/usr/bin/env python3
"""check_written.py - the ONNX writer seen by ONNX itself. Runs each writer test binary in
--write-dir mode, then for every written model: onnx.checker.check_model must accept it when it
accepts the original (always, for models written from graphs built in memory), and ONNX's own
protobuf parser must read the same graph from both files (IR version, opsets, nodes with their
attributes, initializer values, graph inputs and outputs with element types and shapes).
Fails when the onnx package is missing.
Usage: check_written.py OUT_DIR TEST_BINARY..."""
import math
import os
import shutil
import subprocess
import sys

try:
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper
except ImportError as exc:  # the check is mandatory: no silent skip
    print(f"check_written: FAIL: cannot import onnx/numpy ({exc})")
    sys.exit(1)


def norm_domain(d):
    return "" if d in ("", "ai.onnx") else d


def same_value(a, b):
    """Attribute values as helper.get_attribute_value returns them."""
    if isinstance(a, onnx.TensorProto) and isinstance(b, onnx.TensorProto):
        return same_array(numpy_helper.to_array(a), numpy_helper.to_array(b))
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    return a == b


def same_array(a, b):
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind == "f":
        return np.array_equal(a, b, equal_nan=True)
    return np.array_equal(a, b)


def value_types(values, skip):
    out = []
    for v in values:
        if v.name in skip:
            continue
        t = v.type.tensor_type
        dims = None
        if t.HasField("shape"):
            dims = [d.dim_value if d.HasField("dim_value") else d.dim_param for d in t.shape.dim]
        out.append((v.name, t.elem_type, dims))
    return out


def compare(orig, written):
    """Returns a description of the first difference, or None."""
    if orig.ir_version != written.ir_version:
        return f"ir_version {orig.ir_version} vs {written.ir_version}"
    if written.producer_name != "leancv":
        return f"producer_name '{written.producer_name}'"
    ops_a = {norm_domain(o.domain): o.version for o in orig.opset_import}
    ops_b = {norm_domain(o.domain): o.version for o in written.opset_import}
    if ops_a != ops_b:
        return f"opset imports {ops_a} vs {ops_b}"
    ga, gb = orig.graph, written.graph
    if len(ga.node) != len(gb.node):
        return f"{len(ga.node)} vs {len(gb.node)} nodes"
    for i, (na, nb) in enumerate(zip(ga.node, gb.node)):
        if (na.op_type, norm_domain(na.domain), list(na.input), list(na.output)) != (
                nb.op_type, norm_domain(nb.domain), list(nb.input), list(nb.output)):
            return f"node {i} ({na.op_type}) signature"
        if na.name and na.name != nb.name:
            return f"node {i} name '{na.name}' vs '{nb.name}'"
        aa = {a.name: helper.get_attribute_value(a) for a in na.attribute}
        ab = {a.name: helper.get_attribute_value(a) for a in nb.attribute}
        if aa.keys() != ab.keys():
            return f"node {i} ({na.op_type}) attribute names {sorted(aa)} vs {sorted(ab)}"
        for k in aa:
            if not same_value(aa[k], ab[k]):
                return f"node {i} ({na.op_type}) attribute '{k}'"
    ia = {t.name: numpy_helper.to_array(t) for t in ga.initializer}
    ib = {t.name: numpy_helper.to_array(t) for t in gb.initializer}
    if ia.keys() != ib.keys():
        return "initializer names"
    for k in ia:
        if not same_array(ia[k], ib[k]):
            return f"initializer '{k}'"
    if value_types(ga.input, ia) != value_types(gb.input, ib):
        return "graph inputs"
    if value_types(ga.output, {}) != value_types(gb.output, {}):
        return "graph outputs"
    return None


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    out_dir, binaries = sys.argv[1], sys.argv[2:]
    shutil.rmtree(out_dir, ignore_errors=True)
    pairs = []
    for k, binary in enumerate(binaries):
        sub = os.path.join(out_dir, str(k))
        os.makedirs(sub)
        proc = subprocess.run([binary, "--write-dir", sub], capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stdout + proc.stderr)
            print(f"check_written: FAIL: {binary} --write-dir failed")
            return 1
        with open(os.path.join(sub, "manifest.tsv")) as f:
            pairs += [line.rstrip("\n").split("\t") for line in f if line.strip()]
    failed, checked, orig_invalid = 0, 0, 0
    for written_path, orig_path in pairs:
        orig = onnx.load(orig_path) if orig_path != "-" else None
        written = onnx.load(written_path)
        orig_ok = True
        try:
            if orig:
                onnx.checker.check_model(orig)
        except onnx.checker.ValidationError:
            orig_ok = False
            orig_invalid += 1
        if orig_ok:
            try:
                onnx.checker.check_model(written)
            except onnx.checker.ValidationError as exc:
                failed += 1
                print(f"FAIL: {written_path}: onnx.checker: {str(exc).splitlines()[0]}")
                continue
        diff = compare(orig, written) if orig else None
        if diff:
            failed += 1
            print(f"FAIL: {written_path} differs from {orig_path}: {diff}")
        checked += 1
    print(f"check_written: {len(pairs)} written models, {checked} checked, {orig_invalid} "
          f"originals the checker itself refuses, {failed} failed")
    if len(pairs) < 1000:
        print("check_written: FAIL: too few models were written")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
