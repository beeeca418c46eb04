#!/usr/bin/python3
"""check_torchvision_fasterrcnn.py - torchvision's Faster R-CNN MobileNetV3-Large 320 FPN
detector (random weights, seed 0, the whole model: resize and normalisation, backbone, FPN, RPN
with its anchors, box decoding, per-level top-k and NMS, MultiScaleRoIAlign, box head, per-class
decoding, score threshold and batched NMS) exported to ONNX (opset 11, a fixed 320x320 image)
and run by `leancv run`, against PyTorch on the same image: the same number of kept detections
(matched one-to-one), the same labels, scores within 1e-4 and box coordinates within 1e-3 of the
largest coordinate (the zoo's max|diff| / max|ref| rule, as in check_torchvision_ssdlite.py;
measured at most 3e-6 and 0.0033 px at 320 px over scalar, AVX2 and AVX-512, 1 or 2 threads). The
selections have room: the 150th and 151st RPN logits of a level differ by 2.6e-4 or more, the
100th and 101st detection scores by 2e-4.
box_score_thresh is 0 so the untrained classifier keeps detections_per_img (100) boxes.

Usage: check_torchvision_fasterrcnn.py LEANCV WORKDIR
"""
import os
import subprocess
import sys

import numpy as np
import torch
import torchvision

SIZE = 320


def build_model():
    torch.manual_seed(0)
    model = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_320_fpn(
        weights=None, weights_backbone=None, box_score_thresh=0.0).eval()
    rpn, pred = model.rpn.head, model.roi_heads.box_predictor
    # The four layers that end in box deltas or class logits are drawn small on purpose.
    small = {rpn.cls_logits: 1e-4, rpn.bbox_pred: 1e-4, pred.cls_score: 1e-3,
             pred.bbox_pred: 1e-3}
    with torch.no_grad():
        # torchvision's own initialisation leaves this untrained network's FPN features near
        # 1e-7 and all 100 scores equal; fan-in scaled convolutions keep them apart (as in the
        # SSDlite check), but the features then grow to a scale near 150 (FPN) and 25 (box head).
        # Fan-in init on the RPN's output convolutions too turns every proposal into the
        # whole image, and NMS leaves 2; torchvision's RPN-head rule (normal std 0.01, zero
        # bias) leaves 8. Stds scaled down to the features' scale give RPN deltas and logits
        # near 0.3 and box-head ones near 1: 150 distinct proposals, 100 detections.
        for mod in model.modules():
            if mod in small:
                mod.weight.normal_(0.0, small[mod])
                mod.bias.zero_()
            elif isinstance(mod, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(mod.weight, mode="fan_in", nonlinearity="relu")
                if mod.bias is not None:
                    mod.bias.normal_(0.0, 0.1)
    return model


def main():
    leancv, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    model = build_model()
    # Seeded noise: every anchor sees different pixels, so scores do not tie.
    x = torch.from_numpy(np.random.default_rng(0).random((3, SIZE, SIZE), dtype=np.float32))
    with torch.no_grad():
        ref = model([x])[0]
    onnx_path = os.path.join(work, "fasterrcnn_mobilenet_v3_large_320_fpn.onnx")
    torch.onnx.export(model, ([x],), onnx_path, opset_version=11, input_names=["image"],
                      output_names=["boxes", "labels", "scores"])
    # torchvision's R-CNN detections are a dict in the order boxes, labels, scores (SSD's
    # differ), and the exported outputs follow it.
    np.save(os.path.join(work, "image.npy"), x.numpy())

    out_dir = os.path.join(work, "out")
    subprocess.run([leancv, "run", onnx_path, "-i", os.path.join(work, "image.npy"),
                    "--output-dir", out_dir, "--threads", "2"], check=True)
    got = {k: np.load(os.path.join(out_dir, k + ".npy")) for k in ("boxes", "scores", "labels")}
    want = {k: ref[k].numpy() for k in ("boxes", "scores", "labels")}
    n = len(want["scores"])
    print("fasterrcnn: PyTorch keeps %d detections, leancv %d" % (n, len(got["scores"])))
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
    print("fasterrcnn: all %d matched; max |score diff| %.3g, max |box coordinate diff| %.3g px "
          "(tolerance %.3g); %d places hold a near-tie in another order"
          % (n, worst_s, worst_b, box_tol, moved))
    print("ok")


if __name__ == "__main__":
    main()
