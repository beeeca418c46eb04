#!/usr/bin/python3
"""check_segment.py - leancv's segmentation post-processing (through segment_driver) against
PyTorch: lcv_seg_argmax vs torch.nn.functional.interpolate(bilinear, align_corners=False)
followed by argmax, lcv_seg_accumulate (a further run's logits, mirrored back or not, resized
and added) vs torch.flip, the same interpolation and a sum, and lcv_instance_mask vs the prototype product, the same interpolation, a
sigmoid threshold and the box crop, on random sizes (up- and down-scaling, odd shapes). A pixel
may differ only where the reference itself is a near-tie (the two best logits, or the mask
logit and the threshold, within 1e-5): interpolation rounding may order such pixels either way.

Usage: check_segment.py SEGMENT_DRIVER
"""
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

F32 = np.float32


def run(driver, mode, ints, floats, data, tmp, dtype=np.uint8):
    cpath, opath = os.path.join(tmp, "case.bin"), os.path.join(tmp, "out.bin")
    with open(cpath, "wb") as f:
        f.write(struct.pack("<i6q6f", mode, *(ints + [0] * (6 - len(ints))),
                            *(floats + [0.0] * (6 - len(floats)))))
        f.write(struct.pack("<q", data.size) + data.astype("<f4").tobytes())
    subprocess.run([driver, cpath, opath], check=True)
    return np.frombuffer(open(opath, "rb").read(), dtype).reshape(-1, ints[3], ints[4])


def resize(x, oh, ow):
    t = torch.from_numpy(x[None].astype(np.float64))
    return F.interpolate(t, size=(oh, ow), mode="bilinear", align_corners=False)[0].numpy()


def main():
    driver = sys.argv[1]
    rng = np.random.default_rng(11)
    bad, pixels, near = 0, 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for case in range(40):
            c, h, w = int(rng.integers(1, 22)), int(rng.integers(1, 20)), int(rng.integers(1, 20))
            oh, ow = int(rng.integers(1, 70)), int(rng.integers(1, 70))
            logits = rng.normal(0, 3, (c, h, w)).astype(F32)
            got = run(driver, 0, [c, h, w, oh, ow], [], logits, tmp)[0]
            ref = resize(logits, oh, ow)
            want = np.argmax(ref, 0)
            top2 = np.sort(ref, 0)[-2:] if c > 1 else np.stack([ref[0] - 1, ref[0]])
            tie = (top2[1] - top2[0]) <= 1e-5 * (1 + np.abs(top2[1]))
            diff = got != want
            near += int((diff & tie).sum())
            bad += int((diff & ~tie).sum())
            pixels += oh * ow
        for case in range(40):
            k, ph, pw = int(rng.integers(1, 33)), int(rng.integers(1, 20)), int(rng.integers(1, 20))
            oh, ow = int(rng.integers(1, 90)), int(rng.integers(1, 90))
            protos = rng.normal(0, 1, (k, ph, pw)).astype(F32)
            coeffs = rng.normal(0, 0.5, k).astype(F32)
            x1, y1 = rng.uniform(-5, ow * 0.7), rng.uniform(-5, oh * 0.7)
            box = [float(F32(x1)), float(F32(y1)), float(F32(x1 + rng.uniform(1, ow))),
                   float(F32(y1 + rng.uniform(1, oh)))]
            thr = float(F32(rng.choice([0.3, 0.5, 0.7])))
            got = run(driver, 1, [k, ph, pw, oh, ow], box + [thr],
                      np.concatenate([protos.ravel(), coeffs]), tmp)[0]
            m = np.tensordot(coeffs.astype(np.float64), protos.astype(np.float64), 1)
            logit = resize(m[None], oh, ow)[0]
            cy, cx = np.mgrid[0:oh, 0:ow].astype(F32) + F32(0.5)
            inside = (cx >= box[0]) & (cx < box[2]) & (cy >= box[1]) & (cy < box[3])
            want = (inside & (1 / (1 + np.exp(-logit)) > thr)).astype(np.uint8)
            tie = np.abs(logit - np.log(thr / (1 - thr))) <= 1e-5 * (1 + np.abs(logit))
            diff = got != want
            near += int((diff & tie).sum())
            bad += int((diff & ~tie).sum())
            pixels += oh * ow
        worst = 0.0
        for case in range(40):
            c, lh, lw = int(rng.integers(1, 12)), int(rng.integers(1, 20)), int(rng.integers(1, 20))
            h, w = int(rng.integers(1, 40)), int(rng.integers(1, 40))
            if case % 4 == 0:  # the flip of one size
                h, w = lh, lw
            mirrored = case % 2
            acc = rng.normal(0, 3, (c, h, w)).astype(F32)
            logits = rng.normal(0, 3, (c, lh, lw)).astype(F32)
            got = run(driver, 2, [c, lh, lw, h, w, mirrored], [],
                      np.concatenate([acc.ravel(), logits.ravel()]), tmp, np.float32)
            src = logits[:, :, ::-1] if mirrored else logits
            want = acc.astype(np.float64) + resize(np.ascontiguousarray(src), h, w)
            worst = max(worst, float(np.max(np.abs(got - want) / (1 + np.abs(want)))))
    print("segmentation vs torch: 80 cases, %d pixels, %d differ at near-ties, %d differ elsewhere;"
          " 40 logit sums, largest relative error %.2g" % (pixels, near, bad, worst))
    sys.exit(1 if bad or worst > 3e-5 else 0)


if __name__ == "__main__":
    main()
