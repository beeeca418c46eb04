"""detector_check.py - the part the torchvision detector checks share: a seeded-noise image,
PyTorch's detections, the whole model exported to ONNX, `leancv run` on it, and a one-to-one
match of the detections (same label, score within 1e-4, every box coordinate within 1e-3 of the
largest coordinate: the zoo's max|diff| / max|ref| rule)."""
import os
import subprocess

import numpy as np
import torch

SIZE = 320


def check(tag, model, leancv, work, onnx_name, output_names):
    """Runs the check of `model` (eval mode, weights set); output_names: the exported outputs
    in the order of the model's detection dict (boxes, scores, labels in some order)."""
    os.makedirs(work, exist_ok=True)
    # Seeded noise: every anchor sees different pixels, so scores do not tie.
    x = torch.from_numpy(np.random.default_rng(0).random((3, SIZE, SIZE), dtype=np.float32))
    with torch.no_grad():
        ref = model([x])[0]
    onnx_path = os.path.join(work, onnx_name)
    torch.onnx.export(model, ([x],), onnx_path, opset_version=11, input_names=["image"],
                      output_names=output_names)
    np.save(os.path.join(work, "image.npy"), x.numpy())

    out_dir = os.path.join(work, "out")
    subprocess.run([leancv, "run", onnx_path, "-i", os.path.join(work, "image.npy"),
                    "--output-dir", out_dir, "--threads", "2"], check=True)
    got = {k: np.load(os.path.join(out_dir, k + ".npy")) for k in ("boxes", "scores", "labels")}
    want = {k: ref[k].numpy() for k in ("boxes", "scores", "labels")}
    n = len(want["scores"])
    print("%s: PyTorch keeps %d detections, leancv %d" % (tag, n, len(got["scores"])))
    assert n > 10, "the check needs detections"
    assert got["boxes"].shape == want["boxes"].shape, (got["boxes"].shape, want["boxes"].shape)
    # Each of PyTorch's detections matched one-to-one by a leancv detection (order may differ
    # only between detections whose scores are that close).
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
    print("%s: all %d matched; max |score diff| %.3g, max |box coordinate diff| %.3g px "
          "(tolerance %.3g); %d places hold a near-tie in another order"
          % (tag, n, worst_s, worst_b, box_tol, moved))
    print("ok")
