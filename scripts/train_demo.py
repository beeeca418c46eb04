#!/usr/bin/python3
"""train_demo.py - trains leancv's demo classifier: a small CNN on Fashion-MNIST, exported to
ONNX so the `leancv` CLI can classify sample images and evaluate the test set (make demo).
Runs on CPU in a few minutes, seeded so reruns give the same model.

Usage: /usr/bin/python3 scripts/train_demo.py [--data DIR] [--out DIR] [--epochs N]
Writes OUT/fashion_cnn.onnx, OUT/fashion_labels.txt and OUT/fashion_samples/<i>_<label>.png.
With --export-untrained FILE it only writes the seeded, untrained net to FILE as ONNX (every
BatchNorm kept as a node, so it can be trained): scripts/train_demo.sh trains that with
`leancv train` instead of PyTorch.
"""
import argparse
import gzip
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

LABELS = ["t-shirt/top", "trouser", "pullover", "dress", "coat",
          "sandal", "shirt", "sneaker", "bag", "ankle boot"]


def read_idx(path, magic, header_words):
    """Reads a gzip'd IDX file; returns (dims, uint8 payload)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    head = np.frombuffer(raw[:4 * header_words], dtype=">u4")
    if head[0] != magic:
        sys.exit("%s: bad IDX magic %#x" % (path, head[0]))
    return [int(d) for d in head[1:]], np.frombuffer(raw[4 * header_words:], dtype=np.uint8)


def load_split(data_dir, prefix):
    dims, pix = read_idx(os.path.join(data_dir, prefix + "-images-idx3-ubyte.gz"), 2051, 4)
    _, lab = read_idx(os.path.join(data_dir, prefix + "-labels-idx1-ubyte.gz"), 2049, 2)
    images = pix.reshape(dims[0], 1, dims[1], dims[2])
    return images, lab.astype(np.int64)


class FashionCNN(nn.Module):
    """Two conv blocks and a small classifier head: ~90% test accuracy, well under 1 MB."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(32)
        self.fc1 = nn.Linear(32 * 7 * 7, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = torch.flatten(x, 1)
        return self.fc2(F.relu(self.fc1(x)))


def evaluate(model, images, labels):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(images), 1000):
            x = torch.from_numpy(images[i:i + 1000].astype(np.float32) / 255.0)
            correct += int((model(x).argmax(1).numpy() == labels[i:i + 1000]).sum())
    return correct / len(images)


def write_samples(out_dir, images, labels, count):
    from PIL import Image
    sample_dir = os.path.join(out_dir, "fashion_samples")
    os.makedirs(sample_dir, exist_ok=True)
    for name in os.listdir(sample_dir):
        if name.endswith(".png"):
            os.remove(os.path.join(sample_dir, name))
    # The first test image of each class, in order of first appearance, so the demo shows
    # variety; files are named <ordinal>_<true label>.png.
    seen = []
    for idx in range(len(labels)):
        if len(seen) == count:
            break
        cls = int(labels[idx])
        if cls in seen:
            continue
        safe = LABELS[cls].replace("/", "_").replace("-", "_").replace(" ", "_")
        Image.fromarray(images[idx, 0]).save(os.path.join(sample_dir, "%d_%s.png" % (len(seen), safe)))
        seen.append(cls)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--out", default=os.path.join(here, "..", "models"))
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--export-untrained", metavar="FILE")
    args = ap.parse_args()

    if args.export_untrained:
        torch.manual_seed(0)
        torch.onnx.export(FashionCNN().eval(), torch.zeros(1, 1, 28, 28), args.export_untrained,
                          opset_version=13, input_names=["image"], output_names=["logits"],
                          dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
                          do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE)
        return

    torch.manual_seed(0)
    np.random.seed(0)
    torch.set_num_threads(args.threads)
    train_x, train_y = load_split(args.data, "train")
    test_x, test_y = load_split(args.data, "t10k")

    model = FashionCNN()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    steps_per_epoch = (len(train_x) + 127) // 128
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=4e-3, total_steps=args.epochs * steps_per_epoch)
    gen = np.random.default_rng(0)
    for epoch in range(args.epochs):
        model.train()
        t0 = time.time()
        order = gen.permutation(len(train_x))
        total = 0.0
        for i in range(0, len(order), 128):
            idx = order[i:i + 128]
            x = torch.from_numpy(train_x[idx].astype(np.float32) / 255.0)
            y = torch.from_numpy(train_y[idx])
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(idx)
        acc = evaluate(model, test_x, test_y)
        print("epoch %d: loss %.4f, test accuracy %.2f%% (%.0f s)"
              % (epoch + 1, total / len(train_x), 100 * acc, time.time() - t0), flush=True)

    os.makedirs(args.out, exist_ok=True)
    model.eval()
    onnx_path = os.path.join(args.out, "fashion_cnn.onnx")
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), onnx_path, opset_version=13,
                      input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
                      do_constant_folding=True)
    with open(os.path.join(args.out, "fashion_labels.txt"), "w") as f:
        f.write("\n".join(LABELS) + "\n")
    write_samples(args.out, test_x, test_y, 8)
    print("wrote %s (%d bytes), test accuracy %.2f%%"
          % (onnx_path, os.path.getsize(onnx_path), 100 * evaluate(model, test_x, test_y)))


if __name__ == "__main__":
    main()
