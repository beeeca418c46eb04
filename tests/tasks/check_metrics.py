#!/usr/bin/python3
"""check_metrics.py - leancv's mAP and mIoU (through metrics_driver) against a plain numpy
implementation written the way pycocotools evaluates boxes (per image and class: detections by
descending score, each taking the unmatched ground truth of highest IoU >= t; then per class
accumulated precision/recall, a right-to-left precision envelope and 101 recall points) and
a bincount confusion matrix. Random cases mix jittered copies of ground truths (IoUs across
all thresholds), duplicates, background boxes, tied scores, several images and classes, and
classes without ground truth or without detections. mAP must agree within 1e-6, mIoU too.

Usage: check_metrics.py METRICS_DRIVER
"""
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

F32 = np.float32
THRESH = [(50 + 5 * i) / 100.0 for i in range(10)]


def iou_f32(a, b):
    """IoU in float32 in the order include/leancv_detect.h documents for lcv_box_iou."""
    a = a.astype(F32)
    b = b.astype(F32)
    area = lambda x: np.maximum(x[2] - x[0], F32(0)) * np.maximum(x[3] - x[1], F32(0))
    iw = np.maximum(np.minimum(a[2], b[2]) - np.maximum(a[0], b[0]), F32(0))
    ih = np.maximum(np.minimum(a[3], b[3]) - np.maximum(a[1], b[1]), F32(0))
    inter = F32(iw * ih)
    uni = F32(F32(area(a) + area(b)) - inter)
    return float(F32(inter / uni)) if uni > 0 else 0.0


def ref_map(classes, db, ds, dl, di, gb, gl, gi):
    aps = np.full((classes, 10), -1.0)
    for c in range(classes):
        n_gt = int((gl == c).sum())
        if n_gt == 0:
            continue
        dets = [k for k in range(len(ds)) if dl[k] == c]
        tp = {k: [False] * 10 for k in dets}
        for img in sorted(set(di[dets].tolist())):
            mine = sorted([k for k in dets if di[k] == img], key=lambda k: (-ds[k], k))
            gts = [k for k in range(len(gl)) if gl[k] == c and gi[k] == img]
            ious = np.array([[iou_f32(db[d], gb[g]) for g in gts] for d in mine]).reshape(
                len(mine), len(gts))
            for t, th in enumerate(THRESH):
                used = [False] * len(gts)
                for r, d in enumerate(mine):
                    best, m = th, -1
                    for q in range(len(gts)):
                        if used[q] or ious[r, q] < best:
                            continue
                        best, m = ious[r, q], q
                    if m >= 0:
                        used[m] = True
                        tp[d][t] = True
        order = sorted(dets, key=lambda k: (-ds[k], k))
        for t in range(10):
            flags = np.array([tp[k][t] for k in order], dtype=np.int64)
            ctp = np.cumsum(flags)
            prec = ctp / np.arange(1, len(order) + 1) if len(order) else np.zeros(0)
            for i in range(len(prec) - 2, -1, -1):
                prec[i] = max(prec[i], prec[i + 1])
            q = np.zeros(101)
            for k in range(101):
                idx = np.nonzero(ctp * 100 >= k * n_gt)[0]
                if len(idx):
                    q[k] = prec[idx[0]]
            aps[c, t] = q.mean()
    present = aps[:, 0] >= 0
    if not present.any():
        return 0.0, 0.0, 0.0, aps
    return aps[present].mean(), aps[present, 0].mean(), aps[present, 5].mean(), aps


def ref_miou(classes, ignore, pred, truth):
    keep = truth != ignore if ignore >= 0 else np.ones(len(truth), bool)
    m = np.bincount(truth[keep].astype(np.int64) * classes + pred[keep],
                    minlength=classes * classes).reshape(classes, classes)
    inter = np.diag(m).astype(np.float64)
    uni = m.sum(0) + m.sum(1) - np.diag(m)
    iou = np.where(uni > 0, inter / np.maximum(uni, 1), -1.0)
    miou = iou[uni > 0].mean() if (uni > 0).any() else 0.0
    acc = inter.sum() / m.sum() if m.sum() else 0.0
    return miou, acc, iou, m


def random_boxes(rng, n, size):
    xy = rng.uniform(0, size, (n, 2))
    wh = rng.uniform(2, size / 3, (n, 2))
    return np.concatenate([xy, xy + wh], 1).astype(F32)


def map_case(rng):
    classes = int(rng.integers(1, 6))
    images = int(rng.integers(1, 5))
    ng = int(rng.integers(0, 25))
    gb = random_boxes(rng, ng, 100)
    gl = rng.integers(0, classes, ng).astype(np.int32)
    gi = rng.integers(0, images, ng).astype(np.int64) * 7 - 3  # ids need not be 0..n-1
    db, dl, di = [], [], []
    for k in range(ng):
        for _ in range(int(rng.integers(0, 3))):  # jittered copies, IoU spread over 0.3..1
            j = rng.normal(0, rng.choice([0.5, 2, 5]), 4)
            db.append(gb[k] + j.astype(F32))
            dl.append(gl[k] if rng.random() < 0.9 else rng.integers(0, classes))
            di.append(gi[k])
    nb = int(rng.integers(0, 10))
    bg = random_boxes(rng, nb, 100)
    for k in range(nb):
        db.append(bg[k])
        dl.append(rng.integers(0, classes))
        di.append(rng.integers(0, images) * 7 - 3)
    nd = len(db)
    db = np.array(db, F32).reshape(nd, 4)
    ds = np.round(rng.random(nd) * rng.choice([4, 1000])).astype(F32) / F32(1000)  # ties
    dl = np.array(dl, np.int32)
    di = np.array(di, np.int64)
    return classes, db, ds, dl, di, gb, gl, gi


def run(driver, mode, payload, tmp):
    case, out = os.path.join(tmp, "case.bin"), os.path.join(tmp, "out.bin")
    with open(case, "wb") as f:
        f.write(payload)
    subprocess.run([driver, mode, case, out], check=True)
    return open(out, "rb").read()


def main():
    driver = sys.argv[1]
    rng = np.random.default_rng(20261126)
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for case in range(150):
            classes, db, ds, dl, di, gb, gl, gi = map_case(rng)
            payload = (struct.pack("<iq", classes, len(ds)) + db.tobytes() + ds.tobytes() +
                       dl.tobytes() + di.tobytes() + struct.pack("<q", len(gl)) + gb.tobytes() +
                       gl.tobytes() + gi.tobytes())
            got = np.frombuffer(run(driver, "map", payload, tmp), np.float64)
            want_map, want50, want75, want_ap = ref_map(classes, db, ds, dl, di, gb, gl, gi)
            want = np.concatenate([[want_map, want50, want75], want_ap.ravel()])
            if got.shape != want.shape or np.abs(got - want).max() > 1e-6:
                bad += 1
                print("map case %d: got %s want %s" % (case, got[:3], want[:3]))
        for case in range(60):
            classes = int(rng.integers(1, 12))
            ignore = int(rng.choice([-1, 255, classes - 1]))
            n = int(rng.integers(0, 3000))
            truth = rng.integers(0, classes, n).astype(np.uint8)
            pred = np.where(rng.random(n) < 0.6, truth, rng.integers(0, classes, n)).astype(np.uint8)
            if ignore == 255:
                truth[rng.random(n) < 0.1] = 255
            payload = struct.pack("<iiq", classes, ignore, n) + pred.tobytes() + truth.tobytes()
            raw = run(driver, "miou", payload, tmp)
            got = np.frombuffer(raw[:8 * (2 + classes)], np.float64)
            gm = np.frombuffer(raw[8 * (2 + classes):], np.int64).reshape(classes, classes)
            miou, acc, iou, m = ref_miou(classes, ignore, pred, truth)
            want = np.concatenate([[miou, acc], iou])
            if np.abs(got - want).max() > 1e-6 or not (gm == m).all():
                bad += 1
                print("miou case %d: got %s want %s" % (case, got[:2], want[:2]))
    print("check_metrics: %d mismatching cases" % bad)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
