#!/usr/bin/python3
"""train_bench.py - training throughput (images/s) of `leancv train` vs PyTorch on the same
small ResNet-style net (scripts/fashion_resnet.py, exported untrained to ONNX so both start
from the identical architecture and weights), same batch, same thread count, Fashion-MNIST.

Rounds alternate (leancv, torch, leancv, ...) so the drifts of a shared machine hit both
alike; each round trains --steps steps (SGD, Nesterov momentum, weight decay; no
augmentation, so only the training step is measured; leancv's loader normalises the next
batch on a background thread, torch gets pre-normalised tensors). leancv's time is the one
it prints ("trained N steps in T s", model loading excluded); torch's is measured around its
step loop after one warm-up step. Also per round: images per CPU-second (user + system time
of all the engine's threads; for leancv the whole process, model load and data decoding
included, so that figure is biased against leancv), which is steadier than wall time when
other jobs share the cores. Writes bench/TRAIN_RESULTS.md (medians, ratios).

Example: /usr/bin/python3 bench/train_bench.py --build build --rounds 5

Steady state: from untrained weights PyTorch's first few hundred steps run at about half its
later speed (denormal numbers), which flattered leancv in short rounds. So both engines start
their rounds from weights leancv has already trained for --warm-steps steps (default 300),
and PyTorch keeps training one model across its rounds.
"""
import argparse
import datetime
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import fashion_resnet as fr  # noqa: E402

DATA = fr.DATA


def leancv_round(args, onnx_path, steps=None, out=None):
    spec = "idx:%s/train-images-idx3-ubyte.gz,%s/train-labels-idx1-ubyte.gz" % (DATA, DATA)
    steps = steps or args.steps
    cmd = [os.path.join(args.build, "leancv"), "train", onnx_path, "--data", spec,
           "--limit", str(steps * args.batch), "--batch", str(args.batch),
           "--threads", str(args.threads), "--lr", "0.05", "--nesterov", "--wd", "5e-4",
           "--mean", str(fr.MEAN), "--std", str(fr.STD)] + (["--out", out] if out else [])
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, capture_output=True, text=True)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    if out.returncode != 0:
        sys.exit("leancv train failed: %s" % out.stderr.strip().splitlines()[-1:])
    m = re.search(r"trained (\d+) steps in ([0-9.]+) s", out.stdout)
    if not m:
        sys.exit("no 'trained N steps' line in leancv's output:\n" + out.stdout)
    images = int(m.group(1)) * args.batch
    return images / float(m.group(2)), images / cpu


class TorchTrainer:
    def __init__(self, args, onnx_path):
        import numpy as np
        import torch
        import torch.nn.functional as F
        self.torch, self.F = torch, F
        torch.set_num_threads(args.threads)
        torch.manual_seed(0)
        self.model = fr.FashionResNet()
        fr.load_onnx_weights(self.model, onnx_path)
        self.model.train()
        decay = [p for p in self.model.parameters() if p.dim() != 1]
        nodecay = [p for p in self.model.parameters() if p.dim() == 1]
        self.opt = torch.optim.SGD([{"params": decay, "weight_decay": 5e-4},
                                    {"params": nodecay, "weight_decay": 0.0}],
                                   lr=0.05, momentum=0.9, nesterov=True)
        x, y = fr.load_split("train")
        n = args.steps * args.batch
        self.x = [torch.from_numpy(np.ascontiguousarray(x[i:i + args.batch]))
                  for i in range(0, n, args.batch)]
        self.y = [torch.from_numpy(y[i:i + args.batch]) for i in range(0, n, args.batch)]
        self.batch = args.batch
        self.step(0)  # warm-up: first-call allocations

    def step(self, i):
        loss = self.F.cross_entropy(self.model(self.x[i]), self.y[i])
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()

    def round(self):
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(len(self.x)):
            self.step(i)
        images = len(self.x) * self.batch
        return images / (time.perf_counter() - t0), images / (time.process_time() - c0)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=30, help="training steps per round")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warm-steps", type=int, default=300,
                    help="steps leancv trains the untrained net before the rounds start")
    ap.add_argument("--out", default=os.path.join(HERE, "TRAIN_RESULTS.md"))
    args = ap.parse_args()
    if not os.access(os.path.join(args.build, "leancv"), os.X_OK):
        sys.exit("no leancv binary in %s (build first, or pass --build DIR)" % args.build)
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = os.path.join(tmp, "fashion_resnet.onnx")
        fr.export(onnx_path, 0)
        info = subprocess.run([os.path.join(args.build, "leancv"), "info", onnx_path],
                              capture_output=True, text=True).stdout
        m = re.search(r"MACs: ([0-9.]+ ?[KMG]?)", info)
        macs = m.group(1) if m else "unknown"
        if args.warm_steps > 0:
            warm = os.path.join(tmp, "fashion_resnet_warm.onnx")
            leancv_round(args, onnx_path, args.warm_steps, warm)
            onnx_path = warm
        torch_tr = TorchTrainer(args, onnx_path)
        lcv, tch, lcv_cpu, tch_cpu = [], [], [], []
        t_start = time.time()
        for r in range(args.rounds):
            w, c = leancv_round(args, onnx_path)
            lcv.append(w)
            lcv_cpu.append(c)
            w, c = torch_tr.round()
            tch.append(w)
            tch_cpu.append(c)
            el = time.time() - t_start
            print("round %d/%d: leancv %.0f img/s (%.0f per CPU-s), torch %.0f img/s (%.0f per "
                  "CPU-s) (ETA %.0f s)" % (r + 1, args.rounds, lcv[-1], lcv_cpu[-1], tch[-1],
                                           tch_cpu[-1], el / (r + 1) * (args.rounds - r - 1)),
                  flush=True)
    ml, mt = statistics.median(lcv), statistics.median(tch)
    mlc, mtc = statistics.median(lcv_cpu), statistics.median(tch_cpu)
    import torch
    lines = [
        "# Training throughput: leancv vs PyTorch",
        "",
        "Written by `bench/train_bench.py` on %s." % datetime.datetime.now(
            datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "",
        "- net: scripts/fashion_resnet.py FashionResNet (stem 16, residual blocks 16->32 and "
        "32->64 with stride 2, GAP, linear; %s MACs per 28x28 image forward, from `leancv "
        "info`), exported untrained (seed 0) to ONNX and trained %d steps by leancv; every "
        "round of both engines starts from those weights (torch keeps training across its "
        "rounds)" % (macs, args.warm_steps),
        "- data: Fashion-MNIST, batch %d, %d steps per round, SGD Nesterov momentum 0.9, "
        "weight decay 5e-4, no augmentation" % (args.batch, args.steps),
        "- threads: %d (torch.set_num_threads(%d); leancv --threads %d); CPU: %s (%d cores "
        "visible, shared machine)" % (args.threads, args.threads, args.threads, cpu_name(),
                                      os.cpu_count() or 0),
        "- PyTorch %s; leancv from %s" % (torch.__version__, os.path.relpath(args.build, ROOT)),
        "- %d alternated rounds (leancv, torch, leancv, ...); medians" % args.rounds,
        "",
        "| engine | median images/s (wall) | rounds | median images per CPU-second | rounds |",
        "|---|---:|---|---:|---|",
        "| leancv | %.0f | %s | %.0f | %s |" % (ml, ", ".join("%.0f" % v for v in lcv), mlc,
                                               ", ".join("%.0f" % v for v in lcv_cpu)),
        "| PyTorch | %.0f | %s | %.0f | %s |" % (mt, ", ".join("%.0f" % v for v in tch), mtc,
                                                ", ".join("%.0f" % v for v in tch_cpu)),
        "",
        "leancv / PyTorch: **%.2f** (wall-clock throughput), **%.2f** (per CPU-second)"
        % (ml / mt, mlc / mtc),
        "",
        "Load average when the run ended: %s (the machine's cores are shared; wall-clock "
        "figures move with the other jobs)." % " ".join("%.1f" % v for v in os.getloadavg()),
        "",
        "Command: `/usr/bin/python3 bench/train_bench.py --build %s --rounds %d --steps %d "
        "--batch %d --threads %d --warm-steps %d`" % (os.path.relpath(args.build, ROOT),
                                                      args.rounds, args.steps, args.batch,
                                                      args.threads, args.warm_steps),
        "",
    ]
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
