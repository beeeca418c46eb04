#!/usr/bin/python3
"""check_nms.py - leancv's NMS (through nms_driver) against a plain numpy implementation of each
method, on random cases built to be hard: clustered and duplicated boxes, tied scores,
degenerate boxes, several classes, random thresholds and output caps. Every forced ISA level
must give the same kept indices and the same final scores, bit for bit, as the reference
(which uses the same float32 operation order as include/leancv_detect.h documents).

Usage: check_nms.py NMS_DRIVER
"""
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

F32 = np.float32
GREEDY, SOFT_LINEAR, SOFT_GAUSSIAN, MATRIX_LINEAR, MATRIX_GAUSSIAN = range(5)
NAMES = ["greedy", "soft-linear", "soft-gaussian", "matrix-linear", "matrix-gaussian"]


def iou_row(b, i, js):
    """IoU of box i with boxes js, float32, in the documented order of operations."""
    x1, y1, x2, y2 = b[i]
    area = lambda bb: (np.maximum(bb[..., 2] - bb[..., 0], F32(0)) *
                       np.maximum(bb[..., 3] - bb[..., 1], F32(0)))
    o = b[js]
    iw = np.maximum(np.minimum(x2, o[:, 2]) - np.maximum(x1, o[:, 0]), F32(0))
    ih = np.maximum(np.minimum(y2, o[:, 3]) - np.maximum(y1, o[:, 1]), F32(0))
    inter = iw * ih
    uni = (area(b[i]) + area(o)) - inter
    safe = np.where(uni > 0, uni, F32(1))
    return np.where(uni > 0, inter / safe, F32(0)).astype(F32)


def gauss(x64, sigma):
    return np.exp(-x64 / np.float64(F32(sigma))).astype(F32)


def run_class(b, s, idx, method, iou_t, score_t, sigma):
    """One class: idx sorted by (score desc, index asc). Returns [(score, index)]."""
    m = len(idx)
    if method == GREEDY:
        alive = np.ones(m, bool)
        kept = []
        for a in range(m):
            if not alive[a]:
                continue
            kept.append((s[idx[a]], idx[a]))
            if a + 1 < m:
                alive[a + 1:] &= ~(iou_row(b, idx[a], idx[a + 1:]) > F32(iou_t))
        return kept
    if method in (SOFT_LINEAR, SOFT_GAUSSIAN):
        cur = s[idx].astype(F32).copy()
        alive = np.ones(m, bool)
        kept = []
        while alive.any():
            cand = np.nonzero(alive)[0]
            best = max(cand, key=lambda k: (cur[k], -idx[k]))
            alive[best] = False
            kept.append((cur[best], idx[best]))
            o = iou_row(b, idx[best], idx)
            if method == SOFT_LINEAR:
                w = np.where(o > F32(iou_t), F32(1) - o, F32(1)).astype(F32)
            else:
                o64 = o.astype(np.float64)
                w = gauss(o64 * o64, sigma)
            new = (cur * w).astype(F32)
            cur = np.where(alive, new, cur)
            alive &= cur > F32(score_t)
        return kept
    comp = np.zeros(m, F32)
    decay = np.ones(m, F32)
    for a in range(m):
        if a + 1 == m:
            break
        o = iou_row(b, idx[a], idx[a + 1:])
        comp[a + 1:] = np.maximum(comp[a + 1:], o)
        if method == MATRIX_LINEAR:
            den = F32(1) - comp[a]
            r = ((F32(1) - o) / den).astype(F32) if den > 0 else np.ones_like(o)
        else:
            o64, c64 = o.astype(np.float64), np.float64(comp[a])
            r = gauss(o64 * o64 - c64 * c64, sigma)
        decay[a + 1:] = np.minimum(decay[a + 1:], r)
    fin = (s[idx] * decay).astype(F32)
    return [(fin[k], idx[k]) for k in range(m) if fin[k] > F32(score_t)]


def reference(b, s, labels, method, iou_t, score_t, sigma, max_out, agnostic):
    cand = [i for i in range(len(s)) if s[i] > F32(score_t)]
    lab = np.zeros(len(s), np.int64) if agnostic else labels
    kept = []
    for c in sorted(set(int(lab[i]) for i in cand)):
        idx = np.array(sorted((i for i in cand if lab[i] == c), key=lambda i: (-s[i], i)))
        kept += run_class(b, s, idx, method, iou_t, score_t, sigma)
    kept.sort(key=lambda t: (-t[0], t[1]))
    if max_out > 0:
        kept = kept[:max_out]
    return [int(i) for _, i in kept], np.array([v for v, _ in kept], F32)


def random_case(rng):
    n = int(rng.choice([0, 1, 2, 5, 17, 64, 150, 300]))
    centers = rng.uniform(0, 100, size=(max(1, n // 6), 2))
    pick = rng.integers(0, len(centers), n)
    c = centers[pick] + rng.normal(0, 3, size=(n, 2))
    wh = rng.uniform(0.5, 30, size=(n, 2))
    b = np.concatenate([c - wh / 2, c + wh / 2], axis=1).astype(F32)
    if n:
        dup = rng.random(n) < 0.1               # exact duplicates
        b[dup] = b[rng.integers(0, n, dup.sum())]
        bad = rng.random(n) < 0.05              # degenerate: x2 < x1
        b[bad, 2] = b[bad, 0] - F32(1)
    s = rng.random(n).astype(F32)
    if rng.random() < 0.5:
        s = np.round(s, 1).astype(F32)          # many ties
    labels = rng.integers(0, int(rng.choice([1, 3, 7])), n).astype(np.int32)
    method = int(rng.integers(0, 5))
    iou_t = float(F32(rng.choice([0.0, 0.3, 0.5, 0.7, 1.0])))
    score_t = float(F32(rng.choice([0.0, 0.05, 0.3])))
    sigma = float(F32(rng.choice([0.1, 0.5, 2.0])))
    max_out = int(rng.choice([0, 0, 1, 10]))
    agnostic = int(rng.random() < 0.3)
    return b, s, labels, method, iou_t, score_t, sigma, max_out, agnostic


def run_driver(driver, case, isa, tmp):
    b, s, labels, method, iou_t, score_t, sigma, max_out, agnostic = case
    cpath, opath = os.path.join(tmp, "case.bin"), os.path.join(tmp, "out.bin")
    with open(cpath, "wb") as f:
        f.write(struct.pack("<qifffqi", len(s), method, iou_t, score_t, sigma, max_out, agnostic))
        f.write(b.astype("<f4").tobytes() + s.astype("<f4").tobytes() +
                labels.astype("<i4").tobytes())
    env = dict(os.environ, LCV_ISA=isa)
    subprocess.run([driver, cpath, opath], check=True, env=env)
    raw = open(opath, "rb").read()
    k = struct.unpack_from("<q", raw)[0]
    keep = np.frombuffer(raw, "<i8", k, 8)
    sc = np.frombuffer(raw, "<f4", k, 8 + 8 * k)
    return [int(i) for i in keep], sc


def main():
    driver = sys.argv[1]
    rng = np.random.default_rng(2026)
    isas = ["scalar", "avx2", "avx512"] if os.uname().machine == "x86_64" else ["scalar"]
    fails = 0
    cases = 240
    per_method = [0] * 5
    with tempfile.TemporaryDirectory() as tmp:
        for c in range(cases):
            case = random_case(rng)
            want_k, want_s = reference(*case)
            per_method[case[3]] += 1
            for isa in isas:
                got_k, got_s = run_driver(driver, case, isa, tmp)
                if got_k != want_k or got_s.tobytes() != want_s.tobytes():
                    fails += 1
                    print("case %d (%s, n=%d, isa %s): kept %s..., reference %s..."
                          % (c, NAMES[case[3]], len(case[1]), isa, got_k[:8], want_k[:8]))
    print("nms vs numpy: %d cases x %d ISA levels (%s), %d mismatches"
          % (cases, len(isas), ", ".join("%s %d" % (NAMES[m], per_method[m]) for m in range(5)),
             fails))
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
