#!/usr/bin/python3
"""check_textdet.py - leancv's DBNet text-region post-processing (through textdet_driver)
against an independent numpy check on random probability maps holding blobs, bars at random
angles and noise: the regions (8-connected, raster order of their first pixel), their mean
probabilities and the filters must match a plain breadth-first labelling; each rectangle must
contain every pixel square of its region and be no larger than the best of a dense search over
orientations (so it is the minimum-area one); the grown rectangle must be the minimum one with
DBNet's offset D = area * ratio / perimeter added on every side.

Usage: check_textdet.py TEXTDET_DRIVER
"""
import math
import os
import struct
import subprocess
import sys
import tempfile
from collections import deque

import numpy as np

F32 = np.float32


def regions(prob, thr):
    h, w = prob.shape
    seen = np.zeros((h, w), bool)
    out = []
    for y in range(h):
        for x in range(w):
            if seen[y, x] or not prob[y, x] > thr:
                continue
            seen[y, x] = True
            q, pix = deque([(y, x)]), []
            while q:
                cy, cx = q.popleft()
                pix.append((cy, cx))
                for dy in (-1, 0, 1):
                    for dx in (-1, 0, 1):
                        ny, nx = cy + dy, cx + dx
                        if 0 <= ny < h and 0 <= nx < w and not seen[ny, nx] and prob[ny, nx] > thr:
                            seen[ny, nx] = True
                            q.append((ny, nx))
            out.append(np.array(pix))
    return out


def corners_of(pix):
    y, x = pix[:, 0].astype(np.float64), pix[:, 1].astype(np.float64)
    return np.concatenate([np.stack([x + a, y + b], 1) for a in (0, 1) for b in (0, 1)])


def best_area_by_search(pts):
    best = math.inf
    for ang in np.linspace(0, math.pi / 2, 1801):
        u = np.array([math.cos(ang), math.sin(ang)])
        v = np.array([-u[1], u[0]])
        pu, pv = pts @ u, pts @ v
        best = min(best, (pu.max() - pu.min()) * (pv.max() - pv.min()))
    return best


def quad_geometry(q):
    """Side lengths, area and centre of a rectangle given as 4 corners in order."""
    p = np.asarray(q, np.float64)
    a, b = np.linalg.norm(p[1] - p[0]), np.linalg.norm(p[2] - p[1])
    return a, b, p.mean(0)


def contains(q, pts, tol):
    p = np.asarray(q, np.float64)
    sign = None
    for i in range(4):
        e, o = p[(i + 1) % 4] - p[i], pts - p[i]
        c = e[0] * o[:, 1] - e[1] * o[:, 0]
        t = tol * np.linalg.norm(e)
        s = 1 if (c >= -t).all() else (-1 if (c <= t).all() else 0)
        if s == 0 or (sign is not None and s != sign):
            return False
        sign = s
    return True


def random_map(rng, h, w):
    prob = rng.uniform(0, 0.25, (h, w))
    yy, xx = np.mgrid[0:h, 0:w]
    for _ in range(int(rng.integers(1, 6))):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        ang = rng.uniform(0, math.pi)
        ln, th = rng.uniform(1, w * 0.6), rng.uniform(0.5, 4)
        du = (xx - cx) * math.cos(ang) + (yy - cy) * math.sin(ang)
        dv = -(xx - cx) * math.sin(ang) + (yy - cy) * math.cos(ang)
        inside = (np.abs(du) < ln / 2) & (np.abs(dv) < th)
        prob[inside] = rng.uniform(0.5, 1.0, inside.sum())
    noise = rng.random((h, w)) < 0.01
    prob[noise] = 0.9  # single pixels: regions of one square
    return prob.astype(F32)


def run(driver, prob, cap, params, tmp):
    cpath, opath = os.path.join(tmp, "case.bin"), os.path.join(tmp, "out.bin")
    h, w = prob.shape
    with open(cpath, "wb") as f:
        f.write(struct.pack("<qqq6f", h, w, cap, *params) + prob.astype("<f4").tobytes())
    subprocess.run([driver, cpath, opath], check=True)
    raw = open(opath, "rb").read()
    count, found = struct.unpack_from("<qq", raw)
    rec = np.frombuffer(raw, np.dtype([("x", "<f4", 4), ("y", "<f4", 4), ("s", "<f4")]), count, 16)
    return found, [(np.stack([r["x"], r["y"]], 1), float(r["s"])) for r in rec]


def main():
    driver = sys.argv[1]
    rng = np.random.default_rng(5)
    fails, checked = 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for case in range(30):
            h, w = int(rng.integers(1, 48)), int(rng.integers(1, 64))
            prob = random_map(rng, h, w)
            bin_t, box_t = 0.3, float(F32(rng.choice([0.0, 0.6, 0.8])))
            ratio, min_side = float(F32(rng.choice([1.5, 2.0]))), float(rng.choice([0.0, 3.0]))
            cap = int(rng.choice([1000, 2]))
            # the plain rectangles (no offset, no size filter), then the grown ones
            f0, plain = run(driver, prob, 1000, [bin_t, box_t, 0.0, 0.0, 1.0, 1.0], tmp)
            found, grown = run(driver, prob, cap, [bin_t, box_t, ratio, min_side, 1.0, 1.0], tmp)
            want = []
            for pix in regions(prob, F32(bin_t)):
                score = F32(prob[pix[:, 0], pix[:, 1]].astype(np.float64).sum() / len(pix))
                if score > F32(box_t):
                    want.append((pix, score))
            ok = f0 == len(want) == len(plain)
            kept_grown = []
            for (pix, score), (q, s) in zip(want, plain) if ok else []:
                pts = corners_of(pix)
                a, b, centre = quad_geometry(q)
                ok &= s == score and contains(q, pts, 1e-3)
                ok &= a * b <= best_area_by_search(pts) + 1e-3
                d = a * b * ratio / (2 * (a + b))
                if min(a, b) + 2 * d >= min_side:
                    kept_grown.append((a + 2 * d, b + 2 * d, centre, score))
                checked += 1
            ok &= found == len(kept_grown) and len(grown) == min(cap, found)
            for (ga, gb, gc, gs), (q, s) in zip(kept_grown, grown) if ok else []:
                a, b, centre = quad_geometry(q)
                ok &= (abs(a - ga) < 1e-3 and abs(b - gb) < 1e-3 and
                       np.abs(centre - gc).max() < 1e-3 and s == gs)
            if not ok:
                fails += 1
                print("case %d (%dx%d): %d plain / %d grown regions, reference %d / %d"
                      % (case, h, w, len(plain), found, len(want), len(kept_grown)))
    print("text regions vs numpy: 30 maps, %d regions checked, %d failing maps" % (checked, fails))
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
