#!/usr/bin/env python3
"""calib_ref.py - the numpy reference for leancv's calibrators (src/compress/calib.c): fixed
histograms of |x| and the clip each calibrator should choose, written as text for
test_calib.c to compare against. The definitions follow the comment in src/compress/compress.h.
Usage: calib_ref.py OUT.txt"""
import sys

import numpy as np


def percentile(c, amax, pct):
    n = len(c)
    tot = c.sum()
    if tot <= 0:
        return amax
    i = int(np.searchsorted(np.cumsum(c), tot * pct / 100.0, side="left"))
    return min(i + 1, n) * (amax / n)


def entropy(c, amax, levels):
    n = len(c)
    if c.sum() <= 0 or levels > n:
        return amax
    best, best_i = np.inf, n
    for i in range(levels, n + 1):
        p = c[:i].astype(np.float64).copy()
        p[i - 1] += c[i:].sum()
        seg = c[:i]
        starts = (np.arange(levels) * i) // levels
        sums = np.add.reduceat(seg, starts)
        nzs = np.add.reduceat((seg != 0).astype(np.float64), starts)
        grp = np.repeat(np.arange(levels), np.diff(np.append(starts, i)))
        q = np.where(seg != 0, (sums / np.maximum(nzs, 1))[grp], 0.0)
        sp, sq = p.sum(), q.sum()
        if sp <= 0 or sq <= 0:
            continue
        m = p > 0
        pk, qk = p[m] / sp, q[m] / sq
        kl = np.sum(pk * np.log(pk / np.maximum(qk, 1e-12)))
        if kl < best:
            best, best_i = kl, i
    return best_i * (amax / n)


def mse(c, amax, levels):
    n = len(c)
    if c.sum() <= 0:
        return amax
    w = amax / n
    cen = (np.arange(n) + 0.5) * w
    best, best_i = np.inf, n
    for i in range(1, n + 1):
        t = i * w
        d = t / (levels - 1)
        r = np.where(cen < t, cen - np.round(cen / d) * d, cen - t)
        err = np.sum(c * r * r)
        if err < best:
            best, best_i = err, i
    return best_i * w


def histograms():
    rng = np.random.default_rng(7)
    out = []
    k = np.arange(2048)
    g = np.round(1e6 * np.exp(-((k / 300.0) ** 2)))
    g[1990] += 3  # a few outliers far out
    out.append(("gauss_outliers", g, 6.5))
    out.append(("laplace", np.round(5e5 * np.exp(-np.arange(2048) / 90.0)), 3.0))
    u = np.full(512, 40.0)
    u[::3] = 0
    out.append(("uniform_gaps", u, 1.0))
    s = rng.integers(0, 50, 1024).astype(np.float64)
    s[rng.random(1024) < 0.6] = 0
    s[700:] = 0
    s[1000] = 2
    out.append(("sparse_random", s, 12.0))
    k = np.arange(1024)
    bi = np.round(2e4 * np.exp(-(((k - 100) / 40.0) ** 2)) + 8e3 * np.exp(-(((k - 600) / 60.0) ** 2)))
    out.append(("bimodal", bi, 20.0))
    out.append(("empty", np.zeros(256), 4.0))
    return out


def main():
    lines = []
    for name, c, amax in histograms():
        cases = [("percentile", 99.9, percentile(c, amax, 99.9)),
                 ("percentile", 99.99, percentile(c, amax, 99.99)),
                 ("percentile", 100.0, percentile(c, amax, 100.0))]
        for levels in (128, 256):
            cases.append(("entropy", levels, entropy(c, amax, levels)))
            cases.append(("mse", levels, mse(c, amax, levels)))
        for method, param, want in cases:
            lines.append("%s %s %r %d %r %r" % (name, method, float(param), len(c), amax, want))
            lines.append(" ".join("%d" % v for v in c))
    with open(sys.argv[1], "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
