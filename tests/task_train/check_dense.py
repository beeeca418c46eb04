#!/usr/bin/python3
"""check_dense.py - `leancv build segnet-tiny` and `fcos-tiny` against outside references: the
file passes onnx.checker (full check), declares its output ([batch, classes, H, W] per-pixel
logits; [batch, classes + 5, H / 8, W / 8] detection maps), and with random BatchNorm statistics
(so no layer is a near-identity) gives, through `leancv run`, the outputs of a PyTorch
evaluation of the same graph (tests/builder/onnx_torch.py) and of ONNX Runtime (onnxruntime-node
via bench/ort_runner.js; a missing one is a failure saying how to install it), within 1e-4 of
the largest output. Usage: check_dense.py LEANCV_BINARY WORK_DIR"""
import json
import os
import subprocess
import sys

import numpy as np
import onnx

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "builder"))
from onnx_torch import perturb_bn, run_torch  # noqa: E402

LEANCV, WORK = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
os.makedirs(WORK, exist_ok=True)
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


rng = np.random.default_rng(5)
cases = (("segnet-tiny", "1x32x48", 5, lambda c, h, w: [c, h, w]),
         ("segnet-tiny", "3x64x16", 11, lambda c, h, w: [c, h, w]),
         ("fcos-tiny", "1x48x32", 4, lambda c, h, w: [c + 5, h // 8, w // 8]),
         ("fcos-tiny", "3x32x64", 10, lambda c, h, w: [c + 5, h // 8, w // 8]))
for arch, chw, classes, out_dims in cases:
    tag = f"{arch} {chw}"
    built = os.path.join(WORK, f"{arch}_{chw}.onnx")
    r = subprocess.run([LEANCV, "build", arch, "-o", built, "--input", chw, "--classes",
                        str(classes), "--seed", "2"], capture_output=True, text=True)
    check(r.returncode == 0, f"leancv build {tag}: {r.stderr.strip()}")
    if r.returncode:
        continue
    m = onnx.load(built)
    try:
        onnx.checker.check_model(m, full_check=True)
    except Exception as e:  # noqa: BLE001 - report any checker failure
        check(False, f"{tag}: onnx.checker: {e}")
    c, h, w = (int(v) for v in chw.split("x"))
    want_dims = out_dims(classes, h, w)
    dims = [d.dim_value or d.dim_param for d in m.graph.output[0].type.tensor_type.shape.dim]
    check(m.graph.output[0].name == "logits" and dims[1:] == want_dims,
          f"{tag}: output dims {dims}")
    perturb_bn(m, rng)
    path = built[:-5] + "_bn.onnx"
    onnx.save(m, path)
    x = rng.uniform(0, 1, (2, c, h, w)).astype(np.float32)
    xin = os.path.join(WORK, f"x_{arch}_{chw}.npy")
    np.save(xin, x)
    odir = path[:-5] + "_out"
    r = subprocess.run([LEANCV, "run", path, "-i", xin, "--output-dir", odir],
                       capture_output=True, text=True)
    check(r.returncode == 0, f"leancv run {path}: {r.stderr.strip()}")
    if r.returncode:
        continue
    got = np.load(os.path.join(odir, "logits.npy"))
    want = run_torch(onnx.load(path), x, check)
    err, scale = np.abs(got - want).max(), np.abs(want).max()
    check(list(got.shape) == [2] + want_dims and err <= 1e-4 * max(1.0, scale),
          f"{tag}: max |leancv - torch| = {err} (max |output| {scale})")
    print(f"{tag}: max |leancv - torch| = {err:.2e} (max |output| {scale:.3g})")
    r = subprocess.run(["node", os.path.join(ROOT, "bench", "ort_runner.js"), path, xin,
                        os.path.join(odir, "logits.npy"), "1", "1"], input="quit\n",
                       capture_output=True, text=True)
    line = (r.stdout.splitlines() or [""])[0]
    if not line.startswith("ready "):
        check(False, f"{tag}: ONNX Runtime: {line or r.stderr.strip()} (install it with "
                     "scripts/deps.sh, or: npm ci --prefix bench)")
        continue
    res = json.loads(line[6:])
    rel = res["max_abs_diff"] / max(res["ref_max_abs"], 1e-30)
    check(res["ref_max_abs"] > 0 and rel <= 1e-4, f"{tag}: ONNX Runtime differs by {rel:.3g}")
    print(f"{tag}: ONNX Runtime {res['version']}: max|diff| / max|leancv| = {rel:.2e}")

if failures:
    sys.exit(f"check_dense: {len(failures)} failures")
print("check_dense: passed")
