#!/usr/bin/python3
"""synth_fashion.py - a synthetic detection / segmentation data set made of Fashion-MNIST items
pasted on blank canvases (1-4 per image, random scale and position, later items occluding
earlier ones), written as .npy files that `leancv train --data npy:X,Y` reads, plus boxes.

Usage: synth_fashion.py OUTDIR [--fashion DIR] [--train N] [--test N] [--size S]
                        [--min-scale A] [--max-scale B] [--max-items K] [--seed N] [--uint8]
                        [--png K]

Writes, per split (train from Fashion-MNIST's training images, test from its test images, so
no item appears in both):
  SPLIT_images.npy  float32 [N, 1, S, S] in [0, 1] (uint8 0..255 with --uint8)
  SPLIT_labels.npy  uint8 [N, S, S]: 0 background, 1..10 = Fashion-MNIST class + 1
  SPLIT_boxes.json  per image a list of [x1, y1, x2, y2, class] (class 0..9, x2/y2 exclusive),
                    the tight box of each item's visible pixels, in paste order; items that
                    later ones hide completely are left out.
  SPLIT_boxes.npy   the same boxes as float32 [N, K, 5] for `leancv train` (K = --max-items;
                    unused rows are -1).
  test_gt.json      the held-out boxes as `leancv evaluate --gt` reads them: records
                    {"image": "test_I.png", "box": [x1, y1, x2, y2], "class": c}.
  test_K.png        with --png K: the first K held-out images as 8-bit grey PNGs, and
  test_masks/test_K.png  their label maps (pixel value = label) as `leancv evaluate --task
                    segment --gt` reads them.
An item's mask is its pixels above --threshold (0.1) after scaling to [0, 1] and resizing.
Everything depends only on --seed and the sizes. Needs numpy only.
"""
import argparse
import gzip
import json
import os
import struct
import sys
import zlib

import numpy as np


def read_idx(path):
    """An IDX array (as Fashion-MNIST ships them, gzip'd or plain) as a numpy uint8 array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 8:
        raise ValueError("%s: not an unsigned-byte IDX file" % path)
    ndim = data[3]
    if len(data) < 4 + 4 * ndim:
        raise ValueError("%s: truncated header" % path)
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    count = int(np.prod(dims))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != count:
        raise ValueError("%s: %d values, header says %d" % (path, body.size, count))
    return body.reshape(dims)


def load_split(root, prefix):
    images = read_idx(os.path.join(root, prefix + "-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(root, prefix + "-labels-idx1-ubyte.gz"))
    if images.ndim != 3 or labels.shape != (images.shape[0],):
        raise ValueError("%s: %s images but labels %s" % (prefix, images.shape, labels.shape))
    return images.astype(np.float32) / 255.0, labels.astype(np.int64)


def resize_bilinear(img, size):
    """img [h, w] resized to size x size with half-pixel centres (PyTorch's align_corners=False)
    and edge clamping."""
    h, w = img.shape

    def taps(n_in, n_out):
        c = (np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
        c = np.clip(c, 0.0, n_in - 1)
        lo = np.floor(c).astype(np.int64)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, (c - lo).astype(np.float32)

    y0, y1, fy = taps(h, size)
    x0, x1, fx = taps(w, size)
    top = img[y0][:, x0] * (1 - fx) + img[y0][:, x1] * fx
    bot = img[y1][:, x0] * (1 - fx) + img[y1][:, x1] * fx
    return top * (1 - fy[:, None]) + bot * fy[:, None]


def write_png(path, grey):
    """grey: uint8 [h, w] written as an 8-bit greyscale PNG (zlib from the standard library)."""
    h, w = grey.shape

    def chunk(tag, body):
        return (struct.pack(">I", len(body)) + tag + body +
                struct.pack(">I", zlib.crc32(tag + body) & 0xffffffff))

    rows = b"".join(b"\x00" + grey[y].tobytes() for y in range(h))  # filter 0 on every row
    header = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)  # 8-bit greyscale, no interlace
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) +
                chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def make_split(images, labels, count, args, rng):
    s = args.size
    x = np.zeros((count, 1, s, s), dtype=np.float32)
    y = np.zeros((count, s, s), dtype=np.uint8)
    boxes = []
    for i in range(count):
        canvas, label = x[i, 0], y[i]
        owner = np.full((s, s), -1, dtype=np.int64)  # which paste each pixel shows
        items = []
        for k in range(int(rng.integers(1, args.max_items + 1))):
            j = int(rng.integers(0, images.shape[0]))
            side = int(rng.integers(args.min_scale, args.max_scale + 1))
            top = int(rng.integers(0, s - side + 1))
            left = int(rng.integers(0, s - side + 1))
            patch = resize_bilinear(images[j], side)
            mask = patch > args.threshold
            region = (slice(top, top + side), slice(left, left + side))
            canvas[region][mask] = patch[mask]
            label[region][mask] = labels[j] + 1
            owner[region][mask] = k
            items.append(int(labels[j]))
        found = []
        for k, cls in enumerate(items):
            ys, xs = np.nonzero(owner == k)
            if ys.size:
                found.append([int(xs.min()), int(ys.min()), int(xs.max()) + 1,
                              int(ys.max()) + 1, cls])
        boxes.append(found)
    if args.uint8:
        x = np.round(x * 255.0).astype(np.uint8)
    return x, y, boxes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--fashion", default="/usr/share/datasets/fashion-mnist",
                    help="folder of the four Fashion-MNIST .gz IDX files (Debian's "
                         "dataset-fashion-mnist package)")
    ap.add_argument("--train", type=int, default=8000, help="training canvases")
    ap.add_argument("--test", type=int, default=1000, help="held-out canvases")
    ap.add_argument("--size", type=int, default=128, help="canvas side")
    ap.add_argument("--min-scale", type=int, default=28)
    ap.add_argument("--max-scale", type=int, default=64)
    ap.add_argument("--max-items", type=int, default=4)
    ap.add_argument("--threshold", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--uint8", action="store_true", help="write 8-bit images")
    ap.add_argument("--png", type=int, default=0, help="also write the first K held-out images "
                    "as PNGs")
    args = ap.parse_args()
    if not (1 <= args.min_scale <= args.max_scale <= args.size):
        sys.exit("synth_fashion: need 1 <= --min-scale <= --max-scale <= --size")
    if args.max_items < 1 or args.train < 0 or args.test < 0:
        sys.exit("synth_fashion: --max-items must be >= 1 and the counts >= 0")
    os.makedirs(args.outdir, exist_ok=True)
    for split, prefix, count, stream in (("train", "train", args.train, 0),
                                         ("test", "t10k", args.test, 1)):
        images, labels = load_split(args.fashion, prefix)
        # one generator per split, so changing one split's size leaves the other unchanged
        rng = np.random.default_rng([args.seed, stream])
        x, y, boxes = make_split(images, labels, count, args, rng)
        np.save(os.path.join(args.outdir, split + "_images.npy"), x)
        np.save(os.path.join(args.outdir, split + "_labels.npy"), y)
        with open(os.path.join(args.outdir, split + "_boxes.json"), "w") as f:
            json.dump(boxes, f, separators=(",", ":"))
        table = np.full((count, args.max_items, 5), -1.0, dtype=np.float32)
        for i, found in enumerate(boxes):
            if found:
                table[i, :len(found)] = found
        np.save(os.path.join(args.outdir, split + "_boxes.npy"), table)
        if split == "test":
            gt = [{"image": "test_%d.png" % i, "box": b[:4], "class": b[4]}
                  for i, found in enumerate(boxes) for b in found]
            with open(os.path.join(args.outdir, "test_gt.json"), "w") as f:
                json.dump(gt, f, separators=(",", ":"))
        print("%s: %d images of %dx%d, %d items" % (split, count, args.size, args.size,
                                                     sum(len(b) for b in boxes)))
        pngs = min(args.png, count) if split == "test" else 0
        if pngs:
            os.makedirs(os.path.join(args.outdir, "test_masks"), exist_ok=True)
        for i in range(pngs):
            grey = x[i, 0] if x.dtype == np.uint8 else np.round(x[i, 0] * 255.0)
            write_png(os.path.join(args.outdir, "test_%d.png" % i), grey.astype(np.uint8))
            write_png(os.path.join(args.outdir, "test_masks", "test_%d.png" % i), y[i])


if __name__ == "__main__":
    main()
