#!/usr/bin/python3
"""seg_fixtures.py OUTDIR - PyTorch reference values for test_seg_loss.c: F.cross_entropy on
4-D logits [N, K, H, W] against label maps [N, H, W] (mean over pixels), with and without label
smoothing, and its gradient with respect to the logits, on odd shapes (pixel counts that are
not multiples of the loss's 256-pixel chunks) and one case with large logits."""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(20261127)


def save(name, a):
    np.save(os.path.join(out, name + ".npy"), np.ascontiguousarray(a))


def case(name, n, k, h, w, scale, smoothing):
    x = (rng.standard_normal((n, k, h, w)) * scale).astype(np.float32)
    y = rng.integers(0, k, (n, h, w)).astype(np.int64)
    t = torch.tensor(x, dtype=torch.float32, requires_grad=True)
    loss = F.cross_entropy(t, torch.tensor(y), label_smoothing=smoothing)
    loss.backward()
    save(name + "_x", x)
    save(name + "_y", y)
    save(name + "_grad", t.grad.numpy())
    save(name + "_loss", np.array([loss.item()], dtype=np.float64))


case("segce_small", 2, 3, 5, 7, 1.0, 0.0)
case("segce_chunks", 3, 11, 17, 19, 2.0, 0.0)    # 323 pixels: one full chunk and a remainder
case("segce_smooth", 2, 5, 16, 20, 1.5, 0.1)
case("segce_large", 1, 4, 9, 31, 40.0, 0.0)      # logits far from 0: log-sum-exp must be stable
case("segce_one", 1, 2, 1, 1, 1.0, 0.05)
print("seg fixtures written to", out)


# ---- the FCOS detection loss (test_det_loss.c) ----
# An independent reference: the assignment written as plain loops, the terms with torchvision's
# sigmoid_focal_loss and generalized_box_iou_loss and PyTorch's BCE, in float64 with autograd.
from torchvision.ops import generalized_box_iou_loss, sigmoid_focal_loss  # noqa: E402


def fcos_reference(out, boxes, stride, alpha=0.25, gamma=2.0, radius=1.5):
    n, ch, h, w = out.shape
    classes = ch - 5
    t = torch.tensor(out, dtype=torch.float64, requires_grad=True)
    target = torch.zeros((n, classes, h, w), dtype=torch.float64)
    pos = []  # (image, gy, gx, location x, y, box)
    for i in range(n):
        for gy in range(h):
            for gx in range(w):
                x, y = gx * stride + stride // 2, gy * stride + stride // 2
                best, best_area = None, float("inf")
                for b in boxes[i]:
                    if b[4] < 0 or not (b[0] < x < b[2] and b[1] < y < b[3]):
                        continue
                    if (abs(x - (b[0] + b[2]) / 2) >= radius * stride or
                            abs(y - (b[1] + b[3]) / 2) >= radius * stride):
                        continue
                    area = (b[2] - b[0]) * (b[3] - b[1])
                    if area < best_area:
                        best, best_area = b, area
                if best is not None:
                    target[i, int(best[4]), gy, gx] = 1
                    pos.append((i, gy, gx, x, y, best))
    p = max(1, len(pos))
    loss = sigmoid_focal_loss(t[:, :classes], target, alpha, gamma, reduction="sum") / p
    if pos:
        pred, gt, ctr_t, ctr_z = [], [], [], []
        for i, gy, gx, x, y, b in pos:
            d = t[i, classes:classes + 4, gy, gx]
            pred.append(torch.stack([x - d[0], y - d[1], x + d[2], y + d[3]]))
            gt.append(torch.tensor([b[0], b[1], b[2], b[3]], dtype=torch.float64))
            l_, t_, r_, b_ = x - b[0], y - b[1], b[2] - x, b[3] - y
            ctr_t.append(np.sqrt(min(l_, r_) / max(l_, r_) * min(t_, b_) / max(t_, b_)))
            ctr_z.append(t[i, classes + 4, gy, gx])
        c = torch.tensor(ctr_t, dtype=torch.float64)
        giou = generalized_box_iou_loss(torch.stack(pred), torch.stack(gt), reduction="none")
        loss = loss + (giou * c).sum() / c.sum()
        loss = loss + F.binary_cross_entropy_with_logits(torch.stack(ctr_z), c,
                                                         reduction="sum") / p
    loss.backward()
    return loss.item(), t.grad.numpy().astype(np.float32), len(pos)


def det_case(name, n, classes, h, w, stride, boxes):
    out = rng.standard_normal((n, classes + 5, h, w)).astype(np.float32)
    out[:, classes:classes + 4] = np.exp(out[:, classes:classes + 4] * 0.5) * stride
    b = np.array(boxes, dtype=np.float32)
    loss, grad, positives = fcos_reference(out, b, stride)
    save(name + "_out", out)
    save(name + "_boxes", b)
    save(name + "_grad", grad)
    save(name + "_loss", np.array([loss, positives, stride], dtype=np.float64))


NB = [-1, -1, -1, -1, -1]
# overlapping boxes (the smaller wins), an unused row, a box too small to hold a location
det_case("fcos_small", 2, 3, 5, 6, 8,
         [[[2, 3, 30, 37, 1], [10, 5, 45, 30, 0], NB],
          [[0, 0, 48, 40, 2], [20, 12, 36, 28, 1], [5, 5, 9, 9, 0]]])
# many random boxes, stride 4, an image with no box at all
rb = []
for i in range(3):
    rows = []
    for k in range(6 if i < 2 else 0):
        x1, y1 = rng.uniform(0, 40), rng.uniform(0, 30)
        rows.append([x1, y1, x1 + rng.uniform(4, 24), y1 + rng.uniform(4, 20),
                     int(rng.integers(0, 4))])
    rows += [NB] * (6 - len(rows))
    rb.append(rows)
det_case("fcos_many", 3, 4, 13, 17, 4, rb)
print("detection fixtures written to", out)
