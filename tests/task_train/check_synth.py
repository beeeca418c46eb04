#!/usr/bin/python3
"""check_synth.py - tests scripts/synth_fashion.py on small sizes: shapes and types of every
file, labels in 0..10, the label map exactly where the image passes the mask threshold, every
box tight around visible pixels of its class and every labelled pixel inside a box of its
class, the box table for training and the ground-truth records for leancv evaluate equal to
the box lists, determinism by seed (same bytes; another seed differs; one split's size leaves the other
unchanged), --uint8 and --png (the images, and the label maps as PNGs). Needs the Fashion-MNIST files of the Debian package
dataset-fashion-mnist (or FASHION_MNIST_DIR). Usage: check_synth.py SYNTH_FASHION.py WORK_DIR"""
import json
import os
import struct
import subprocess
import sys
import zlib

import numpy as np

SCRIPT, WORK = sys.argv[1], os.path.abspath(sys.argv[2])
FASHION = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def generate(name, *args):
    out = os.path.join(WORK, name)
    r = subprocess.run(["/usr/bin/python3", SCRIPT, out, "--fashion", FASHION, "--size", "64",
                        "--min-scale", "16", "--max-scale", "40"] + list(args),
                       capture_output=True, text=True)
    check(r.returncode == 0, f"{name}: exit {r.returncode}: {r.stderr.strip()}")
    return out


def files(d):
    return {f: open(os.path.join(d, f), "rb").read() for f in sorted(os.listdir(d))
            if os.path.isfile(os.path.join(d, f))}


def grey_png(path):
    """The pixels of an 8-bit grey PNG as the generator writes it (one IDAT, filter 0 rows)."""
    data = open(path, "rb").read()
    w, h = struct.unpack(">II", data[16:24])
    n = struct.unpack(">I", data[33:37])[0]
    rows = zlib.decompress(data[41:41 + n])
    return np.frombuffer(rows, np.uint8).reshape(h, w + 1)[:, 1:]


a = generate("a", "--train", "30", "--test", "12", "--seed", "3", "--png", "2")
b = generate("b", "--train", "30", "--test", "12", "--seed", "3", "--png", "2")
c = generate("c", "--train", "30", "--test", "12", "--seed", "4")
d = generate("d", "--train", "5", "--test", "12", "--seed", "3")
u = generate("u", "--train", "30", "--test", "12", "--seed", "3", "--uint8")
fa, fb, fc, fd = files(a), files(b), files(c), files(d)
check(fa == fb, "the same seed gave different files")
check(fa["train_labels.npy"] != fc["train_labels.npy"], "another seed gave the same labels")
for f in ("test_images.npy", "test_labels.npy", "test_boxes.json", "test_boxes.npy",
          "test_gt.json"):
    check(fa[f] == fd[f], f"{f} changed with the training split's size")

for split, n in (("train", 30), ("test", 12)):
    x = np.load(os.path.join(a, split + "_images.npy"))
    y = np.load(os.path.join(a, split + "_labels.npy"))
    boxes = json.load(open(os.path.join(a, split + "_boxes.json")))
    check(x.shape == (n, 1, 64, 64) and x.dtype == np.float32,
          f"{split} images {x.shape} {x.dtype}")
    check(y.shape == (n, 64, 64) and y.dtype == np.uint8, f"{split} labels {y.shape} {y.dtype}")
    check(x.min() >= 0 and x.max() <= 1, f"{split}: pixels outside [0, 1]")
    check(y.max() <= 10, f"{split}: label {y.max()} > 10")
    # where an item was pasted the pixel passed the threshold; elsewhere the canvas is blank
    check(((x[:, 0] > 0.1) == (y > 0)).all(), f"{split}: labels differ from the mask threshold")
    check((x[:, 0][y == 0] == 0).all(), f"{split}: background pixels are not 0")
    check(len(boxes) == n, f"{split}: {len(boxes)} box lists for {n} images")
    classes_seen = set()
    for i, bl in enumerate(boxes):
        check(1 <= len(bl) <= 4, f"{split} {i}: {len(bl)} boxes")
        covered = np.zeros((64, 64), dtype=bool)
        for x1, y1, x2, y2, cls in bl:
            classes_seen.add(cls)
            check(0 <= x1 < x2 <= 64 and 0 <= y1 < y2 <= 64 and 0 <= cls <= 9,
                  f"{split} {i}: box {[x1, y1, x2, y2, cls]}")
            region = y[i, y1:y2, x1:x2] == cls + 1
            # tight: the visible pixels touch all four sides
            check(region[0].any() and region[-1].any() and region[:, 0].any() and
                  region[:, -1].any(), f"{split} {i}: box {[x1, y1, x2, y2, cls]} is not tight")
            covered[y1:y2, x1:x2] |= region
        check((covered == (y[i] > 0)).all(), f"{split} {i}: labelled pixels outside their boxes")
    check(len(classes_seen) >= 8, f"{split}: only classes {sorted(classes_seen)}")
    # the training table: the same boxes in order, unused rows -1
    table = np.load(os.path.join(a, split + "_boxes.npy"))
    check(table.shape == (n, 4, 5) and table.dtype == np.float32,
          f"{split} box table {table.shape} {table.dtype}")
    for i, bl in enumerate(boxes):
        want = np.full((4, 5), -1.0, dtype=np.float32)
        want[:len(bl)] = bl
        check((table[i] == want).all(), f"{split} {i}: box table row differs from the JSON")
    if split == "test":  # the records leancv evaluate reads
        gt = json.load(open(os.path.join(a, "test_gt.json")))
        flat = [{"image": f"test_{i}.png", "box": b[:4], "class": b[4]}
                for i, bl in enumerate(boxes) for b in bl]
        check(gt == flat, "test_gt.json differs from test_boxes.json")

xu = np.load(os.path.join(u, "train_images.npy"))
xf = np.load(os.path.join(a, "train_images.npy"))
check(xu.dtype == np.uint8 and (xu == np.round(xf * 255)).all(), "--uint8 images")
for k in range(2):
    png = fa.get(f"test_{k}.png", b"")
    check(png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 60, f"test_{k}.png")
check("test_2.png" not in fa and "test_0.png" not in fc, "--png wrote the wrong count")
ya = np.load(os.path.join(a, "test_labels.npy"))
masks = sorted(os.listdir(os.path.join(a, "test_masks")))
check(masks == ["test_0.png", "test_1.png"], f"--png wrote the masks {masks}")
for k in range(2):
    m = grey_png(os.path.join(a, "test_masks", f"test_{k}.png"))
    check(m.shape == (64, 64) and (m == ya[k]).all(), f"test_masks/test_{k}.png is not its labels")
check(not os.path.exists(os.path.join(c, "test_masks")), "test_masks without --png")

r = subprocess.run(["/usr/bin/python3", SCRIPT, os.path.join(WORK, "bad"), "--fashion", FASHION,
                    "--min-scale", "70", "--max-scale", "60"], capture_output=True, text=True)
check(r.returncode != 0 and "--min-scale" in r.stderr, f"bad scales accepted: {r.stderr}")

if failures:
    sys.exit(f"check_synth: {len(failures)} failures")
print("check_synth: passed")
