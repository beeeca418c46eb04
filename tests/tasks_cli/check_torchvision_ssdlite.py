#!/usr/bin/python3
"""check_torchvision_ssdlite.py - torchvision's SSDlite320 MobileNetV3-Large detector (random
weights, seed 0, the whole model: resize and normalisation, backbone, heads, box decoding,
score threshold, per-class top-k and batched NMS, whose scripted part exports as an If)
exported to ONNX and run by `leancv run`, against PyTorch on the same image: the same number of
kept detections (matched one-to-one), the same labels, scores within 1e-4 and box coordinates
within 1e-3 of the largest coordinate (the zoo's max|diff| / max|ref| rule; measured about
2e-5 of it, 0.006 px at 320 px).

Usage: check_torchvision_ssdlite.py LEANCV WORKDIR
"""
import os
import subprocess
import sys

import numpy as np
import torch
import torchvision

SIZE = 320


def main():
    leancv, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    torch.manual_seed(0)
    model = torchvision.models.detection.ssdlite320_mobilenet_v3_large(
        weights=None, weights_backbone=None).eval()
    # torchvision's initialisation leaves this untrained network's features near 1e-14 and
    # every class score tied at 1/91. Fan-in scaled convolutions keep activations near unit
    # scale, so kept boxes and their order are decided by the network, not by tie-breaking.
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(mod.weight, mode="fan_in", nonlinearity="relu")
                if mod.bias is not None:
                    mod.bias.normal_(0.0, 0.1)
    # Seeded noise: every anchor sees different pixels, so scores do not tie.
    x = torch.from_numpy(np.random.default_rng(0).random((3, SIZE, SIZE), dtype=np.float32))
    with torch.no_grad():
        ref = model([x])[0]
    onnx_path = os.path.join(work, "ssdlite320_mobilenet_v3_large.onnx")
    torch.onnx.export(model, ([x],), onnx_path, opset_version=11, input_names=["image"],
                      output_names=["boxes", "scores", "labels"])
    np.save(os.path.join(work, "image.npy"), x.numpy())

    out_dir = os.path.join(work, "out")
    subprocess.run([leancv, "run", onnx_path, "-i", os.path.join(work, "image.npy"),
                    "--output-dir", out_dir, "--threads", "2"], check=True)
    got = {k: np.load(os.path.join(out_dir, k + ".npy")) for k in ("boxes", "scores", "labels")}
    want = {k: ref[k].numpy() for k in ("boxes", "scores", "labels")}
    n = len(want["scores"])
    print("ssdlite: PyTorch keeps %d detections, leancv %d" % (n, len(got["scores"])))
    assert n > 10, "the check needs detections"
    assert got["boxes"].shape == want["boxes"].shape, (got["boxes"].shape, want["boxes"].shape)
    # The same kept detections: each of PyTorch's matched one-to-one by a leancv detection
    # with the same label, a score within 1e-4 and every box coordinate within box_tol
    # (order may differ only between detections whose scores are that close).
    box_tol = 1e-3 * float(np.abs(want["boxes"]).max())
    free = np.ones(n, bool)
    worst_s = worst_b = 0.0
    for i in range(n):
        ds = np.abs(got["scores"] - want["scores"][i])
        db = np.abs(got["boxes"] - want["boxes"][i]).max(1)
        ok = free & (got["labels"] == want["labels"][i]) & (ds <= 1e-4) & (db <= box_tol)
        assert ok.any(), "PyTorch's detection %d (label %d, score %.6f, box %s) has no match" % (
            i, want["labels"][i], want["scores"][i], want["boxes"][i])
        j = int(np.argmax(np.where(ok, -ds, -np.inf)))
        free[j] = False
        worst_s, worst_b = max(worst_s, float(ds[j])), max(worst_b, float(db[j]))
    moved = int((got["labels"] != want["labels"]).sum())
    print("ssdlite: all %d matched; max |score diff| %.3g, max |box coordinate diff| %.3g px "
          "(tolerance %.3g); %d places hold a near-tie in another order"
          % (n, worst_s, worst_b, box_tol, moved))
    print("ok")


if __name__ == "__main__":
    main()
