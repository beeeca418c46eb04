#!/usr/bin/python3
"""export_zoo.py - builds leancv's model zoo: torchvision classifiers with seeded random weights,
exported to ONNX with a fixed input and PyTorch's output saved beside each model, so the zoo
check can compare leancv against PyTorch without downloading anything.

Usage: /usr/bin/python3 scripts/export_zoo.py [OUTDIR] [--models a,b,...]
Writes OUTDIR/<model>.onnx, <model>.input.npy, <model>.output.npy (default OUTDIR: build/zoo).
A model whose three files already exist is skipped.
"""
import argparse
import os
import sys
import time

MODELS = [
    "mobilenet_v2",
    "mobilenet_v3_small",
    "mobilenet_v3_large",
    "shufflenet_v2_x1_0",
    "squeezenet1_1",
    "resnet18",
    "resnet50",
    "efficientnet_b0",
    "convnext_tiny",
    "vit_b_16",
]

OPSET = 13


def files_for(outdir, name):
    return [os.path.join(outdir, name + suffix) for suffix in (".onnx", ".input.npy", ".output.npy")]


def build_model(name):
    """The zoo model `name` in eval mode with its seeded random weights (also used by
    bench/torch_runner.py, so both see the same weights)."""
    import torch
    import torchvision

    # Reseed per model so each model's weights and input do not depend on which others were
    # exported before it (skipping must not change the results).
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None).eval()
    # Some classifiers start with an all-zero head (vit_b_16): the output would be all zeros
    # whatever the backbone computes, and the comparison would prove nothing.
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() >= 2 and not bool(p.any()):
                torch.nn.init.normal_(p, std=0.02)
    return model


def export_one(outdir, name):
    import numpy as np
    import torch

    model = build_model(name)
    gen = torch.Generator().manual_seed(1234)
    x = torch.randn(1, 3, 224, 224, generator=gen)
    with torch.no_grad():
        y = model(x)
    onnx_path, in_path, out_path = files_for(outdir, name)
    tmp = onnx_path + ".tmp"
    torch.onnx.export(model, x, tmp, opset_version=OPSET, do_constant_folding=True,
                      input_names=["input"], output_names=["output"])
    np.save(in_path, x.numpy().astype(np.float32))
    np.save(out_path, y.numpy().astype(np.float32))
    # The .onnx appears last and atomically: its presence means the model is complete.
    os.replace(tmp, onnx_path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir", nargs="?", default=os.path.join("build", "zoo"))
    ap.add_argument("--models", default=",".join(MODELS),
                    help="comma-separated subset of: " + ",".join(MODELS))
    args = ap.parse_args()
    wanted = [m for m in args.models.split(",") if m]
    for m in wanted:
        if m not in MODELS:
            print("export_zoo: unknown model %r" % m, file=sys.stderr)
            return 2
    os.makedirs(args.outdir, exist_ok=True)

    import torch
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

    t_all = time.time()
    for m in wanted:
        if all(os.path.exists(f) for f in files_for(args.outdir, m)):
            print("export_zoo: %-20s exists, skipped" % m, flush=True)
            continue
        t0 = time.time()
        print("export_zoo: %-20s exporting..." % m, flush=True)
        export_one(args.outdir, m)
        print("export_zoo: %-20s done in %.1f s" % (m, time.time() - t0), flush=True)
    print("export_zoo: all done in %.1f s -> %s" % (time.time() - t_all, args.outdir), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
