#!/usr/bin/python3
"""check_decode.py - leancv's detection head decoders (through decode_driver) against plain numpy
implementations of the formulas in include/leancv_detect.h, on random head outputs: YOLO
decoded in the graph (v5 and v8 layouts, both memory orders), raw YOLO v3/v5 grids over several
levels, YOLOv8 distribution focal loss, SSD, RetinaNet, FCOS and CenterNet, each with random
thresholds and top-k. Candidate sets must agree exactly in indices, labels and scores; boxes
within 1e-5 relative (the DFL expectation sums in a different order here).

Usage: check_decode.py DECODE_DRIVER
"""
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

F32 = np.float32
HEADS = ["yolo", "yolo-grid", "dfl", "ssd", "retinanet", "fcos", "centernet"]


def sig(x):
    return (1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))).astype(F32)


def corners(cx, cy, w, h):
    return np.stack([cx - w * F32(0.5), cy - h * F32(0.5), cx + w * F32(0.5), cy + h * F32(0.5)],
                    -1).astype(F32)


def first_argmax(v, axis):
    return np.argmax(v, axis=axis)  # numpy returns the first maximum


def ref_yolo(pred, n, classes, layout, cf, base):
    first = 5 if layout == 0 else 4
    rows = pred.reshape(first + classes, n).T if cf else pred.reshape(n, first + classes)
    best = first_argmax(rows[:, first:], 1)
    score = rows[np.arange(n), first + best]
    if layout == 0:
        score = (rows[:, 4] * score).astype(F32)
    b = corners(rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3])
    return [(b[i], score[i], int(best[i]), base + i) for i in range(n)]


def ref_grid(raw, anchors, awh, classes, h, w, stride, v5, base):
    r = raw.reshape(anchors, 5 + classes, h, w)
    out = []
    gy, gx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    for a in range(anchors):
        best = first_argmax(r[a, 5:], 0)
        cls = np.take_along_axis(r[a, 5:], best[None], 0)[0]
        score = (sig(r[a, 4]) * sig(cls)).astype(F32)
        sx, sy = sig(r[a, 0]), sig(r[a, 1])
        if v5:
            qw, qh = sig(r[a, 2]) * F32(2), sig(r[a, 3]) * F32(2)
            cx = ((sx * F32(2) - F32(0.5)) + gx.astype(F32)) * F32(stride)
            cy = ((sy * F32(2) - F32(0.5)) + gy.astype(F32)) * F32(stride)
            bw, bh = (qw * qw) * awh[2 * a], (qh * qh) * awh[2 * a + 1]
        else:
            cx = (sx + gx.astype(F32)) * F32(stride)
            cy = (sy + gy.astype(F32)) * F32(stride)
            bw = np.exp(r[a, 2].astype(np.float64)).astype(F32) * awh[2 * a]
            bh = np.exp(r[a, 3].astype(np.float64)).astype(F32) * awh[2 * a + 1]
        b = corners(cx.astype(F32), cy.astype(F32), bw.astype(F32), bh.astype(F32))
        for y in range(h):
            for x in range(w):
                out.append((b[y, x], score[y, x], int(best[y, x]), base + a * h * w + y * w + x))
    return out


def ref_dfl(box, cls, bins, classes, h, w, stride, base):
    bx = box.reshape(4, bins, h, w).astype(np.float64)
    e = np.exp(bx - bx.max(1, keepdims=True))
    d = ((e * np.arange(bins)[None, :, None, None]).sum(1) / e.sum(1)).astype(F32)
    c = cls.reshape(classes, h, w)
    best = first_argmax(c, 0)
    score = sig(np.take_along_axis(c, best[None], 0)[0])
    out = []
    for y in range(h):
        for x in range(w):
            cx, cy = F32(x) + F32(0.5), F32(y) + F32(0.5)
            s = F32(stride)
            b = np.array([(cx - d[0, y, x]) * s, (cy - d[1, y, x]) * s, (cx + d[2, y, x]) * s,
                          (cy + d[3, y, x]) * s], F32)
            out.append((b, score[y, x], int(best[y, x]), base + y * w + x))
    return out


def ref_ssd(deltas, probs, priors, n, classes, vc, vs, iw, ih, base):
    d, p, pr = deltas.reshape(n, 4), probs.reshape(n, classes), priors.reshape(n, 4)
    cx = pr[:, 0] + (d[:, 0] * F32(vc)) * pr[:, 2]
    cy = pr[:, 1] + (d[:, 1] * F32(vc)) * pr[:, 3]
    bw = pr[:, 2] * np.exp((d[:, 2] * F32(vs)).astype(np.float64)).astype(F32)
    bh = pr[:, 3] * np.exp((d[:, 3] * F32(vs)).astype(np.float64)).astype(F32)
    b = corners(cx, cy, bw, bh) * np.array([iw, ih, iw, ih], F32)
    return [(b[i], p[i, k], k, base + i) for i in range(n) for k in range(1, classes)]


def ref_retina(deltas, logits, anchors, n, classes, base):
    d, a = deltas.reshape(n, 4), anchors.reshape(n, 4)
    aw, ah = a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]
    acx, acy = a[:, 0] + F32(0.5) * aw, a[:, 1] + F32(0.5) * ah
    clamp = F32(np.log(1000.0 / 16.0))
    dw, dh = np.minimum(d[:, 2], clamp), np.minimum(d[:, 3], clamp)
    b = corners(d[:, 0] * aw + acx, d[:, 1] * ah + acy,
                np.exp(dw.astype(np.float64)).astype(F32) * aw,
                np.exp(dh.astype(np.float64)).astype(F32) * ah)
    s = sig(logits.reshape(n, classes))
    return [(b[i], s[i, k], k, base + i) for i in range(n) for k in range(classes)]


def ref_fcos(cls, reg, ctr, classes, h, w, stride, base):
    c, r, t = cls.reshape(classes, h, w), reg.reshape(4, h, w), ctr.reshape(h, w)
    out = []
    st = sig(t)
    sc = sig(c)
    for y in range(h):
        for x in range(w):
            lx, ly = F32(x * stride + stride // 2), F32(y * stride + stride // 2)
            b = np.array([lx - r[0, y, x], ly - r[1, y, x], lx + r[2, y, x], ly + r[3, y, x]], F32)
            for k in range(classes):
                out.append((b, np.sqrt(sc[k, y, x] * st[y, x]), k, base + y * w + x))
    return out


def ref_centernet(heat, wh, off, classes, h, w, down, base):
    hm, s, o = heat.reshape(classes, h, w), wh.reshape(2, h, w), off.reshape(2, h, w)
    pad = np.pad(hm, ((0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    mx = np.max([pad[:, dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)], 0)
    out = []
    for k in range(classes):
        for y in range(h):
            for x in range(w):
                if hm[k, y, x] < mx[k, y, x]:
                    continue
                b = corners(F32(x) + o[0, y, x], F32(y) + o[1, y, x], s[0, y, x], s[1, y, x])
                out.append((b * F32(down), hm[k, y, x], k, base + (k * h + y) * w + x))
    return out


def random_call(rng, head, base):
    """(ints, floats, arrays, reference candidates, candidates this call can produce)."""
    classes = int(rng.integers(1, 6))
    if head == 0:
        n, layout, cf = int(rng.integers(1, 60)), int(rng.integers(0, 2)), int(rng.integers(0, 2))
        vals = (5 if layout == 0 else 4) + classes
        pred = rng.uniform(0, 1, n * vals).astype(F32)
        pred[:] = np.round(pred, 2)  # ties in class scores and between rows
        return ([n, classes, layout, cf, base], [], [pred],
                ref_yolo(pred, n, classes, layout, cf, base), n)
    if head == 1:
        a, h, w = int(rng.integers(1, 4)), int(rng.integers(1, 7)), int(rng.integers(1, 7))
        raw = rng.normal(0, 2, a * (5 + classes) * h * w).astype(F32)
        awh = rng.uniform(4, 60, 2 * a).astype(F32)
        stride, v5 = float(rng.choice([8, 16, 32])), int(rng.integers(0, 2))
        return ([a, classes, h, w, v5, base], [stride], [raw, awh],
                ref_grid(raw, a, awh, classes, h, w, stride, v5, base), a * h * w)
    if head == 2:
        bins, h, w = int(rng.integers(1, 17)), int(rng.integers(1, 6)), int(rng.integers(1, 6))
        box = rng.normal(0, 3, 4 * bins * h * w).astype(F32)
        cls = rng.normal(0, 2, classes * h * w).astype(F32)
        stride = float(rng.choice([8, 16, 32]))
        return ([bins, classes, h, w, base], [stride], [box, cls],
                ref_dfl(box, cls, bins, classes, h, w, stride, base), h * w)
    if head == 3:
        classes += 1
        n = int(rng.integers(1, 40))
        deltas = rng.normal(0, 1, 4 * n).astype(F32)
        logits = rng.normal(0, 2, (n, classes))
        probs = (np.exp(logits) / np.exp(logits).sum(1, keepdims=True)).astype(F32).ravel()
        pr = np.concatenate([rng.uniform(0, 1, (n, 2)), rng.uniform(0.05, 0.5, (n, 2))], 1)
        pr = pr.astype(F32).ravel()
        return ([n, classes, base], [0.1, 0.2, 320.0, 240.0], [deltas, probs, pr],
                ref_ssd(deltas, probs, pr, n, classes, 0.1, 0.2, 320.0, 240.0, base),
                n * (classes - 1))
    if head == 4:
        n = int(rng.integers(1, 40))
        deltas = rng.normal(0, 1, 4 * n).astype(F32)
        deltas[::7] = 9.0  # beyond the exp clamp
        logits = rng.normal(-1, 2, n * classes).astype(F32)
        xy = rng.uniform(0, 300, (n, 2))
        anc = np.concatenate([xy, xy + rng.uniform(8, 128, (n, 2))], 1).astype(F32).ravel()
        return ([n, classes, base], [], [deltas, logits, anc],
                ref_retina(deltas, logits, anc, n, classes, base), n * classes)
    if head == 5:
        h, w, stride = int(rng.integers(1, 7)), int(rng.integers(1, 7)), int(rng.choice([8, 16, 7]))
        cls = rng.normal(-1, 2, classes * h * w).astype(F32)
        reg = rng.uniform(0, 50, 4 * h * w).astype(F32)
        ctr = rng.normal(0, 1, h * w).astype(F32)
        return ([classes, h, w, stride, base], [], [cls, reg, ctr],
                ref_fcos(cls, reg, ctr, classes, h, w, stride, base), h * w * classes)
    h, w = int(rng.integers(1, 9)), int(rng.integers(1, 9))
    heat = np.round(rng.uniform(0, 1, classes * h * w), 1).astype(F32)  # plateaus: equal peaks
    wh = rng.uniform(1, 10, 2 * h * w).astype(F32)
    off = rng.uniform(0, 1, 2 * h * w).astype(F32)
    return ([classes, h, w, base], [4.0], [heat, wh, off],
            ref_centernet(heat, wh, off, classes, h, w, 4.0, base), classes * h * w)


def select(cands, thr, topk, capacity):
    kept = [c for c in cands if c[1] > F32(thr)]
    kept.sort(key=lambda c: (-c[1], c[3], c[2]))
    return kept[:topk if topk > 0 else capacity]


def run_driver(driver, calls, capacity, topk, thr, tmp):
    cpath, opath = os.path.join(tmp, "case.bin"), os.path.join(tmp, "out.bin")
    with open(cpath, "wb") as f:
        f.write(struct.pack("<iqqf", len(calls), capacity, topk, thr))
        for head, ints, floats, arrays in calls:
            f.write(struct.pack("<i8q8fi", head, *(ints + [0] * (8 - len(ints))),
                                *(floats + [0.0] * (8 - len(floats))), len(arrays)))
            for a in arrays:
                f.write(struct.pack("<q", a.size) + a.astype("<f4").tobytes())
    subprocess.run([driver, cpath, opath], check=True)
    raw = open(opath, "rb").read()
    n = struct.unpack_from("<q", raw)[0]
    rec = np.dtype([("box", "<f4", 4), ("score", "<f4"), ("label", "<i4"), ("index", "<i8")])
    return np.frombuffer(raw, rec, n, 8)


def main():
    driver = sys.argv[1]
    rng = np.random.default_rng(7)
    fails, cases, produced = 0, 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for case in range(280):
            head = case % len(HEADS)
            levels = int(rng.integers(1, 4)) if head in (1, 2, 5) else 1
            calls, ref, base = [], [], 0
            for _ in range(levels):
                ints, floats, arrays, cands, count = random_call(rng, head, base)
                calls.append((head, ints, floats, arrays))
                ref += cands
                base += count
            thr = float(F32(rng.choice([0.0, 0.2, 0.5, 0.9])))
            capacity = int(rng.integers(1, 400))
            topk = int(rng.choice([0, 1, 5, capacity]))
            want = select(ref, thr, topk, capacity)
            got = run_driver(driver, calls, capacity, topk, thr, tmp)
            cases += 1
            produced += len(got)
            ok = len(got) == len(want)
            for g, w in zip(got, want) if ok else []:
                ok &= (g["index"] == w[3] and g["label"] == w[2] and
                       g["score"].tobytes() == F32(w[1]).tobytes() and
                       np.allclose(g["box"], w[0], rtol=1e-5, atol=1e-4))
            if not ok:
                fails += 1
                print("case %d (%s): %d candidates, reference %d; first %s vs %s"
                      % (case, HEADS[head], len(got), len(want), got[:1], want[:1]))
    print("decoders vs numpy: %d cases (%d candidates), %d mismatches" % (cases, produced, fails))
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
