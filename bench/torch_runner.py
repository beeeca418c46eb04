#!/usr/bin/python3
"""torch_runner.py - the PyTorch side of bench/run_bench.py: rebuilds a zoo model with the same
seeded weights scripts/export_zoo.py exported, freezes it as TorchScript, checks its output
against the saved reference, then answers the driver's timing requests on stdin/stdout.

Usage: /usr/bin/python3 bench/torch_runner.py MODEL_NAME INPUT.npy REF.npy THREADS WARMUP
Protocol (see run_bench.py): prints "ready {json}" once warm, then
  "run K" -> "ok t1 ... tK" (ms per run)   "rss" -> "rss KB"   "quit" -> exits.
Any failure prints "error MESSAGE" and exits non-zero.
"""
import json
import os
import resource
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def fail(msg):
    sys.stdout.write("error " + " ".join(str(msg).split()) + "\n")
    sys.stdout.flush()
    sys.exit(1)


def blas_warning(torch):
    """Convolutions go through oneDNN, but Linear/MatMul use the system BLAS: with the reference
    libblas the PyTorch column would be unfairly slow. Returns a warning string or None."""
    a = torch.ones(64, 64)
    (a @ a).sum().item()  # make sure the BLAS library is loaded before looking at the maps
    try:
        with open("/proc/self/maps") as f:
            maps = f.read()
    except OSError:
        return None
    if "openblas" in maps:
        return None
    return ("PyTorch is not using OpenBLAS (install libopenblas0-openmp): "
            "MatMul/Gemm timings will be pessimistic")


def build_model(name):
    """The zoo model exactly as scripts/export_zoo.py builds it (same seed, same fix-ups)."""
    sys.path.insert(0, os.path.join(HERE, "..", "scripts"))
    sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
    import export_zoo
    if name not in export_zoo.MODELS:
        fail("unknown zoo model %r" % name)
    return export_zoo.build_model(name)


def main():
    if len(sys.argv) != 6:
        fail("usage: torch_runner.py MODEL_NAME INPUT.npy REF.npy THREADS WARMUP")
    name, in_path, ref_path = sys.argv[1:4]
    try:
        threads, warmup = int(sys.argv[4]), int(sys.argv[5])
    except ValueError:
        fail("THREADS and WARMUP must be integers")
    if not 1 <= threads <= 256 or not 0 <= warmup <= 1000:
        fail("THREADS must be in [1, 256] and WARMUP in [0, 1000]")

    import numpy as np
    import torch
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    warning = blas_warning(torch)

    x = torch.from_numpy(np.load(in_path).astype(np.float32))
    ref = np.load(ref_path).astype(np.float32)
    t0 = time.perf_counter()
    model = build_model(name)
    with torch.no_grad():
        frozen = torch.jit.freeze(torch.jit.trace(model, x).eval())
    load_ms = (time.perf_counter() - t0) * 1e3
    del model

    with torch.inference_mode():
        out = None
        for _ in range(max(1, warmup)):
            out = frozen(x)
        out = out.numpy()
        diff = float(np.max(np.abs(out - ref))) if out.shape == ref.shape else float("inf")
        ready = {"engine": "torch", "version": torch.__version__, "load_ms": load_ms,
                 "max_abs_diff": diff, "ref_max_abs": float(np.max(np.abs(ref))),
                 "threads": torch.get_num_threads()}
        if warning:
            ready["warning"] = warning
        sys.stdout.write("ready " + json.dumps(ready) + "\n")
        sys.stdout.flush()

        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            if words[0] == "run":
                try:
                    k = int(words[1])
                except (IndexError, ValueError):
                    k = 0
                if not 1 <= k <= 100000:
                    fail("run K needs K in [1, 100000], got %r" % line.strip())
                times = []
                for _ in range(k):
                    s = time.perf_counter()
                    frozen(x)
                    times.append((time.perf_counter() - s) * 1e3)
                sys.stdout.write("ok " + " ".join("%.4f" % t for t in times) + "\n")
            elif words[0] == "rss":
                sys.stdout.write("rss %d\n" % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
            elif words[0] == "quit":
                break
            else:
                fail("unknown command %r" % line.strip())
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SystemExit:
        raise
    except BaseException as e:  # report to the driver instead of dying silently
        fail("%s: %s" % (type(e).__name__, e))
