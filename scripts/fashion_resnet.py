#!/usr/bin/python3
"""fashion_resnet.py - the small ResNet-style Fashion-MNIST net that leancv's accuracy recipe
(scripts/fashion_accuracy.sh) and training benchmark (bench/train_bench.py) use, defined once
here so leancv and PyTorch train the identical architecture from identical initial weights.

  export OUT.onnx [--seed S]        write the untrained, seeded net as ONNX (opset 13)
  train --onnx M.onnx [recipe]      train that ONNX's initial weights with the recipe in
                                    PyTorch; prints per-epoch lines and "test accuracy X%"

The recipe (the same one fashion_accuracy.sh passes to `leancv train`): SGD with Nesterov
momentum 0.9, batch 128, peak lr 0.1 with linear warm-up then cosine decay to 0 (per step,
the formula of include/leancv_train.h), weight decay 5e-4 on non-1-D parameters only,
augmentation by random crop after zero-padding 2 and random horizontal flip, pixels scaled to
[0, 1] then (x - 0.2860) / 0.3530 (Fashion-MNIST training-set mean and std). A final partial
batch is dropped each epoch, as `leancv train` does.
"""
import argparse
import gzip
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN, STD = 0.2860, 0.3530
DATA = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")


class Block(nn.Module):
    """Two 3x3 conv + BN with a residual connection (1x1 conv + BN when the shape changes)."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                       nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        return F.relu(y + (x if self.short is None else self.short(x)))


class FashionResNet(nn.Module):
    """Stem 16 @28x28, blocks 16->32 @14x14 and 32->64 @7x7, global average pool, linear."""

    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16),
                                  nn.ReLU())
        self.layer1 = Block(16, 32, 2)
        self.layer2 = Block(32, 64, 2)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = self.layer2(self.layer1(self.stem(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def export(path, seed):
    torch.manual_seed(seed)
    model = FashionResNet().eval()
    # Dynamic batch; no constant folding so every BatchNorm stays a node of its own.
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), path, opset_version=13,
                      input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
                      do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE)


def load_onnx_weights(model, path):
    """Copies the ONNX file's initializers into model (names are the state_dict keys)."""
    import onnx
    from onnx import numpy_helper
    graph = onnx.load(path).graph
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    # The exporter deduplicates equal initializers into Identity(other); follow those.
    for n in graph.node:
        if n.op_type == "Identity" and n.input[0] in inits:
            inits[n.output[0]] = inits[n.input[0]]
    state = model.state_dict()
    for k in state:
        if k.endswith("num_batches_tracked"):
            continue
        if k not in inits:
            sys.exit("%s: no initializer '%s'" % (path, k))
        state[k] = torch.from_numpy(np.array(inits[k]))
    model.load_state_dict(state)


def read_idx(path, magic):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    head = np.frombuffer(raw[:4], dtype=">u4")[0]
    if head != magic:
        sys.exit("%s: bad IDX magic %#x" % (path, head))
    nd = magic & 0xff
    dims = [int(d) for d in np.frombuffer(raw[4:4 + 4 * nd], dtype=">u4")]
    return np.frombuffer(raw[4 + 4 * nd:], dtype=np.uint8).reshape(dims)


def load_split(prefix):
    x = read_idx(os.path.join(DATA, prefix + "-images-idx3-ubyte.gz"), 2051)
    y = read_idx(os.path.join(DATA, prefix + "-labels-idx1-ubyte.gz"), 2049)
    x = (x.astype(np.float32) / 255.0 - MEAN) / STD
    return x[:, None], y.astype(np.int64)


def augment(x, rng, pad):
    """Random crop after zero-padding (in pixel space: pad value is the normalised 0) and
    random horizontal flip, per image."""
    n, c, h, w = x.shape
    zero = (0.0 - MEAN) / STD
    padded = np.full((n, c, h + 2 * pad, w + 2 * pad), zero, dtype=np.float32)
    padded[:, :, pad:pad + h, pad:pad + w] = x
    out = np.empty_like(x)
    oy = rng.integers(0, 2 * pad + 1, size=n)
    ox = rng.integers(0, 2 * pad + 1, size=n)
    flip = rng.integers(0, 2, size=n).astype(bool)
    for i in range(n):
        crop = padded[i, :, oy[i]:oy[i] + h, ox[i]:ox[i] + w]
        out[i] = crop[:, :, ::-1] if flip[i] else crop
    return out


def lr_at(step, args, total):
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    t, T = step - args.warmup, total - args.warmup
    if T <= 0:
        return args.lr
    return 0.5 * args.lr * (1 + math.cos(math.pi * min(t, T) / T))


def evaluate(model, x, y):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), 1000):
            correct += int((model(torch.from_numpy(x[i:i + 1000])).argmax(1).numpy()
                            == y[i:i + 1000]).sum())
    return 100.0 * correct / len(x)


def train(args):
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    model = FashionResNet()
    load_onnx_weights(model, args.onnx)
    tx, ty = load_split("train")
    vx, vy = load_split("t10k")
    if args.limit:
        tx, ty = tx[:args.limit], ty[:args.limit]
    decay = [p for p in model.parameters() if p.dim() != 1]
    nodecay = [p for p in model.parameters() if p.dim() == 1]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": args.wd},
                           {"params": nodecay, "weight_decay": 0.0}],
                          lr=args.lr, momentum=0.9, nesterov=True)
    nb = len(tx) // args.batch
    total = nb * args.epochs
    step = 0
    acc = 0.0
    t_start = time.time()
    for epoch in range(args.epochs):
        model.train()
        t0 = time.time()
        order = rng.permutation(len(tx))
        loss_sum = 0.0
        for b in range(nb):
            idx = order[b * args.batch:(b + 1) * args.batch]
            x = torch.from_numpy(augment(tx[idx], rng, args.pad_crop))
            for g in opt.param_groups:
                g["lr"] = lr_at(step, args, total)
            loss = F.cross_entropy(model(x), torch.from_numpy(ty[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += float(loss)
            step += 1
        acc = evaluate(model, vx, vy)
        el = time.time() - t_start
        print("epoch %d/%d: loss %.4f val accuracy %.2f%% (%.1f s, ETA %.0f s)"
              % (epoch + 1, args.epochs, loss_sum / nb, acc, time.time() - t0,
                 el / (epoch + 1) * (args.epochs - epoch - 1)), flush=True)
    print("test accuracy %.2f%%" % acc)  # after the last epoch


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    ex = sub.add_parser("export")
    ex.add_argument("out")
    ex.add_argument("--seed", type=int, default=0)
    tr = sub.add_parser("train")
    tr.add_argument("--onnx", required=True)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--epochs", type=int, default=15)
    tr.add_argument("--batch", type=int, default=128)
    tr.add_argument("--lr", type=float, default=0.1)
    tr.add_argument("--wd", type=float, default=5e-4)
    tr.add_argument("--warmup", type=int, default=468)
    tr.add_argument("--pad-crop", type=int, default=2)
    tr.add_argument("--limit", type=int, default=0)
    tr.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if args.cmd == "export":
        export(args.out, args.seed)
    else:
        train(args)


if __name__ == "__main__":
    main()
