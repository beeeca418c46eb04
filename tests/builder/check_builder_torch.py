#!/usr/bin/env python3
"""check_builder_torch.py - checks models written by `leancv build` against PyTorch: every named
architecture passes onnx.checker; several are rebuilt as PyTorch computations from the ONNX
weights (an interpreter over the few ops the builder emits, written with torch.nn.functional)
and must give leancv's outputs (`leancv run`) within 1e-4; the initial weights follow PyTorch's
default bounds; the same seed gives the same file and another seed a different one.
Usage: check_builder_torch.py LEANCV_BINARY WORK_DIR"""
import os
import subprocess
import sys

import numpy as np
import onnx
import torch
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx_torch import perturb_bn, run_torch  # noqa: E402

LEANCV, WORK = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
os.makedirs(WORK, exist_ok=True)
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def build(arch, path, chw="1x28x28", classes=10, seed=0):
    r = subprocess.run([LEANCV, "build", arch, "-o", path, "--input", chw, "--classes",
                        str(classes), "--seed", str(seed)], capture_output=True, text=True)
    check(r.returncode == 0, f"leancv build {arch}: {r.stderr.strip()}")
    return r.returncode == 0


# Every named architecture: the checker, the declared types, the initial weights.
archs = ["resnet8", "resnet-14-8", "mobilenetv2-tiny", "mobilenetv3-tiny", "shufflenetv2-tiny",
         "ghostnet-tiny"]
for arch in archs:
    path = os.path.join(WORK, arch + ".onnx")
    if not build(arch, path):
        continue
    m = onnx.load(path)
    try:
        onnx.checker.check_model(m, full_check=True)
    except Exception as e:  # noqa: BLE001 - report any checker failure
        check(False, f"{arch}: onnx.checker: {e}")
    out = m.graph.output[0].type.tensor_type.shape.dim
    check(m.graph.output[0].name == "logits" and out[1].dim_value == 10, f"{arch}: output")
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    for n in m.graph.node:
        if n.op_type in ("Conv", "Gemm"):
            w = inits[n.input[1]]
            bound = 1 / np.sqrt(np.prod(w.shape[1:]))
            check(np.abs(w).max() <= bound and np.abs(w).max() > 0.5 * bound,
                  f"{arch} {n.name}: weights not in U(+-{bound})")
            if len(n.input) > 2:
                check(np.abs(inits[n.input[2]]).max() <= bound, f"{arch} {n.name}: bias bound")
        if n.op_type == "BatchNormalization":
            s, b, mu, var = (inits[i] for i in n.input[1:])
            check((s == 1).all() and (b == 0).all() and (mu == 0).all() and (var == 1).all(),
                  f"{arch} {n.name}: BN init")

# PyTorch's own default bound for the formula used above (kaiming_uniform_ with a = sqrt(5)).
torch.manual_seed(0)
conv = torch.nn.Conv2d(12, 8, 3, groups=4)
check(conv.weight.abs().max().item() <= 1 / np.sqrt(3 * 9) and
      conv.weight.abs().max().item() > 0.9 / np.sqrt(3 * 9), "torch default conv bound")



# Outputs vs PyTorch on odd shapes, batch 3: the built weights, then random BN parameters.
rng = np.random.default_rng(1)
for arch, chw, classes in [("mobilenetv3-tiny", "3x19x17", 7), ("shufflenetv2-tiny", "1x28x28", 10),
                           ("ghostnet-tiny", "2x21x23", 5), ("resnet-8-6", "3x15x13", 4),
                           ("mobilenetv2-tiny", "1x28x28", 10)]:
    built = os.path.join(WORK, f"{arch}_{chw}.onnx")
    if not build(arch, built, chw, classes, seed=7):
        continue
    c, h, w = (int(v) for v in chw.split("x"))
    x = rng.standard_normal((3, c, h, w)).astype(np.float32)
    xin = os.path.join(WORK, "x.npy")
    np.save(xin, x)
    m = onnx.load(built)
    perturb_bn(m, rng)
    perturbed = os.path.join(WORK, f"{arch}_{chw}_bn.onnx")
    onnx.save(m, perturbed)
    for path in (built, perturbed):
        odir = path[:-5] + "_out"
        r = subprocess.run([LEANCV, "run", path, "-i", xin, "--output-dir", odir],
                           capture_output=True, text=True)
        check(r.returncode == 0, f"leancv run {path}: {r.stderr.strip()}")
        if r.returncode:
            continue
        got = np.load(os.path.join(odir, "logits.npy"))
        want = run_torch(onnx.load(path), x, check)
        err, scale = np.abs(got - want).max(), np.abs(want).max()
        check(got.shape == (3, classes) and err <= 1e-4 * max(1.0, scale),
              f"{os.path.basename(path)}: max |leancv - torch| = {err} (max |logit| {scale})")
        print(f"{os.path.basename(path)}: max |leancv - torch| = {err:.2e} (max |logit| "
              f"{scale:.3g})")

# Determinism of the initialisation.
a, b, c = (os.path.join(WORK, f"seed{i}.onnx") for i in range(3))
if build("ghostnet-tiny", a, seed=3) and build("ghostnet-tiny", b, seed=3) and \
        build("ghostnet-tiny", c, seed=4):
    data = [open(p, "rb").read() for p in (a, b, c)]
    check(data[0] == data[1], "same seed, different files")
    check(data[0] != data[2], "different seeds, same file")

# `leancv train ARCH`: built for the data set's shape and classes, trained, exported.
xs = rng.integers(0, 256, (40, 1, 12, 12)).astype(np.uint8)
ys = (np.arange(40) % 3).astype(np.int64)
np.save(os.path.join(WORK, "tx.npy"), xs)
np.save(os.path.join(WORK, "ty.npy"), ys)
spec = "npy:" + os.path.join(WORK, "tx.npy") + "," + os.path.join(WORK, "ty.npy")
trained = os.path.join(WORK, "trained.onnx")
r = subprocess.run([LEANCV, "train", "resnet-8-4", "--data", spec, "--batch", "8", "--out", trained],
                   capture_output=True, text=True, cwd=WORK)
check(r.returncode == 0 and "built resnet-8-4 for 1x12x12 images and 3 classes" in r.stdout,
      f"leancv train resnet-8-4: {r.stdout} {r.stderr}")
if r.returncode == 0:
    m = onnx.load(trained)
    check(m.graph.output[0].type.tensor_type.shape.dim[1].dim_value == 3, "trained model classes")
for args, want in [(["train", "nosuch-net", "--batch", "8", "--data", spec], "not an architecture: unknown "
                     "architecture 'nosuch-net'"),
                    (["train", "arch:resnet-7-4", "--batch", "8", "--data", spec], "6n + 2"),
                    (["build", "resnet8"], "no output file"),
                    (["build", "resnet8", "-o", trained, "--input", "1x28"], "not CxHxW"),
                    (["build", "resnet8", "-o", trained, "--input", "0x28x28"], "channels is 0"),
                    (["build", "resnet8", "-o", trained, "--classes", "1"], "--classes '1'"),
                    (["build", "lenet", "-o", trained], "unknown architecture 'lenet'")]:
    r = subprocess.run([LEANCV] + args, capture_output=True, text=True, cwd=WORK)
    check(r.returncode == 1 and want in r.stderr and r.stderr.startswith("leancv "),
          f"leancv {' '.join(args)}: rc {r.returncode}, stderr {r.stderr.strip()!r}")

print(f"builder_torch: {0 if failures else 1} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
