#!/usr/bin/python3
"""check_torchvision_seg.py - torchvision's LR-ASPP MobileNetV3-Large segmenter (random weights,
seed 0, the whole model: backbone, LR-ASPP head and its bilinear upsampling to the input size)
exported to ONNX, run by leancv, against PyTorch: the raw logits within 1e-3 of max|ref| (`leancv
run`) and the label map of `leancv segment` on a PNG equal to PyTorch's argmax on the same pixels.

Usage: check_torchvision_seg.py LEANCV WORKDIR
"""
import os
import subprocess
import sys

import numpy as np
import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from task_fixtures import png_read, png_write  # noqa: E402

SIZE = 224
# Input normalisation (x / 255 - MEAN) / STD: with random weights a wide input range is what
# makes the label map hold several classes.
MEAN, STD = 0.5, 0.05


class Logits(torch.nn.Module):
    """The segmentation model's "out" (its dict output is not an ONNX tensor)."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        return self.m(x)["out"]


def main():
    leancv, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    torch.manual_seed(0)
    net = torchvision.models.segmentation.lraspp_mobilenet_v3_large(
        weights=None, weights_backbone=None)
    model = Logits(net).eval()
    # A smooth picture with edges (random weights still give class regions, not noise).
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    img = np.stack([128 + 127 * np.sin(xx / 17.0), 128 + 127 * np.cos(yy / 23.0),
                    np.where((xx - 112) ** 2 + (yy - 100) ** 2 < 60 ** 2, 230.0, 30.0)], -1)
    img = np.clip(np.round(img), 0, 255).astype(np.uint8)
    png = os.path.join(work, "picture.png")
    png_write(png, img)
    x = torch.from_numpy((img.astype(np.float32).transpose(2, 0, 1)[None] / 255.0 - MEAN) / STD)
    with torch.no_grad():
        ref = model(x).numpy()
    onnx_path = os.path.join(work, "lraspp_mobilenet_v3_large.onnx")
    torch.onnx.export(model, x, onnx_path, opset_version=13, input_names=["image"],
                      output_names=["out"])
    np.save(os.path.join(work, "image.npy"), x.numpy())

    out_dir = os.path.join(work, "out")
    subprocess.run([leancv, "run", onnx_path, "-i", os.path.join(work, "image.npy"),
                    "--output-dir", out_dir, "--threads", "2"], check=True)
    got = np.load(os.path.join(out_dir, "out.npy"))
    assert got.shape == ref.shape, (got.shape, ref.shape)
    rel = float(np.abs(got - ref).max() / np.abs(ref).max())
    print("lraspp logits: max|diff| / max|ref| = %.3g" % rel)
    assert rel <= 1e-3, rel

    mask_png = os.path.join(work, "mask.png")
    subprocess.run([leancv, "segment", onnx_path, png, "--mask", mask_png, "--threads", "2",
                    "--mean", str(MEAN), "--std", str(STD)], check=True)
    mask = png_read(mask_png)
    want = ref[0].argmax(0)
    # Where PyTorch's two best logits are closer than the tolerance, either label is right.
    top2 = np.sort(ref[0], axis=0)[-2:]
    tie = (top2[1] - top2[0]) <= 1e-3 * np.abs(ref).max()
    wrong = (mask != want) & ~tie
    print("lraspp labels: %d of %d pixels differ from PyTorch's argmax (%d near-ties)"
          % (int((mask != want).sum()), mask.size, int(tie.sum())))
    assert not wrong.any(), np.argwhere(wrong)[:5]
    assert len(np.unique(want)) > 1, "the check needs more than one class in the picture"
    print("ok")


if __name__ == "__main__":
    main()
