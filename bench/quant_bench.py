#!/usr/bin/python3
"""quant_bench.py - leancv int8 / bf16 against fp32, and against ONNX Runtime on the same QDQ file.

For each model (zoo resnet18, resnet50, mobilenet_v2 and models/fashion_cnn.onnx) it writes the
int8 QDQ model with `leancv quantize` and the bf16-weight model with `--dtype bf16`, then times
leancv fp32/int8/bf16 and ORT fp32/int8 at each thread count with run_bench.py's runners,
alternating short rounds between the five, and writes bench/QUANT_RESULTS.md.

Calibration: the zoo has no data set, so it calibrates on its own input.npy plus seeded Gaussian
noise (speed only: its int8 accuracy is not meaningful); fashion_cnn calibrates on Fashion-MNIST
test images. Agreement (top-1, max|diff|) is leancv int8 vs ORT int8 on the benchmark input.
Example: /usr/bin/python3 bench/quant_bench.py --quick --models fashion_cnn --threads 1
"""
import argparse
import datetime
import gzip
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

import run_bench as rb

DEFAULT_MODELS = "resnet18,resnet50,mobilenet_v2,fashion_cnn"
VARIANTS = (("leancv", "fp32"), ("leancv", "int8"), ("leancv", "bf16"),
            ("onnxruntime", "fp32"), ("onnxruntime", "int8"))
FASHION_IMAGES = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"


def read_idx_images(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as fh:
        data = fh.read()
    if len(data) < 16 or int.from_bytes(data[0:4], "big") != 0x803:
        raise SystemExit("%s: not an IDX3 ubyte image file" % path)
    n, h, w = (int.from_bytes(data[i:i + 4], "big") for i in (4, 8, 12))
    if len(data) != 16 + n * h * w:
        raise SystemExit("%s: %d bytes, header says %d" % (path, len(data), 16 + n * h * w))
    return np.frombuffer(data, np.uint8, offset=16).reshape(n, 1, h, w)


def prepare_inputs(args, model, work):
    """Returns (model.onnx, input.npy, calib X.npy, calib Y.npy, note)."""
    xs, ys = os.path.join(work, model + ".calib_x.npy"), os.path.join(work, model + ".calib_y.npy")
    if model == "fashion_cnn":
        imgs = read_idx_images(args.fashion_images).astype(np.float32) / 255.0
        np.save(xs, np.ascontiguousarray(imgs[:args.calib]))
        inp = os.path.join(work, model + ".input.npy")
        np.save(inp, np.ascontiguousarray(imgs[args.calib:args.calib + 1]))
        np.save(ys, np.zeros(args.calib, np.int64))
        return (os.path.join(rb.ROOT, "models", "fashion_cnn.onnx"), inp, xs, ys,
                "%d Fashion-MNIST test images" % args.calib)
    inp = os.path.join(args.zoo, model + ".input.npy")
    x0 = np.load(inp).astype(np.float32)
    rng = np.random.default_rng(20261127)
    calib = [x0[0]] + [x0[0] + rng.normal(0, 0.5, x0.shape[1:]).astype(np.float32)
                       for _ in range(args.calib - 1)]
    np.save(xs, np.stack(calib).astype(np.float32))
    np.save(ys, np.zeros(args.calib, np.int64))
    return (os.path.join(args.zoo, model + ".onnx"), inp, xs, ys,
            "synthetic: input.npy + %d seeded-noise copies (speed only)" % (args.calib - 1))


def quantize(args, src, dst, extra):
    cmd = [args.cli, "quantize", src, "-o", dst] + extra
    t0 = time.time()
    r = subprocess.run(cmd, cwd=rb.ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise SystemExit("%s failed:\n%s" % (rb.sh_join(cmd), r.stdout[-2000:]))
    return time.time() - t0


def runner_argv(args, engine, model, inp, ref, threads):
    if engine == "leancv":
        return [os.path.join(args.build, "bench", "leancv_runner"), model, inp, ref, str(threads),
                str(args.warmup)]
    return ["node", os.path.join(rb.HERE, "ort_runner.js"), model, inp, ref, str(threads),
            str(args.warmup)]


def fp32_reference(args, model, inp, work):
    """leancv's own fp32 output, the reference every runner checks against."""
    ref = os.path.join(work, os.path.basename(model) + ".leancv_fp32.npy")
    # The runner needs some reference to start: a 1-element dummy is reported as "no match".
    dummy = os.path.join(work, "dummy.npy")
    np.save(dummy, np.zeros(1, np.float32))
    r = rb.Runner("leancv", runner_argv(args, "leancv", model, inp, dummy, 1))
    r.wait_ready()
    if not r.error:
        try:
            r._request("out " + ref, "out")
        except rb.RunnerError as e:
            r.fail(e)
    err = r.error
    r.finish()
    if err:
        raise SystemExit("leancv fp32 reference of %s: %s" % (model, err))
    return ref


def bench_config(args, files, inp, ref, threads, work, tag):
    runners = {v: rb.Runner(v[0], runner_argv(args, v[0], files[v[1]], inp, ref, threads))
               for v in VARIANTS}
    for r in runners.values():
        r.wait_ready()
    t_end = time.time() + args.budget
    while True:
        live = [r for r in runners.values() if not r.error and len(r.times) < args.runs]
        if not live or (time.time() > t_end and all(len(r.times) >= rb.MIN_RUNS for r in live)):
            break
        for r in live:
            # ORT's (and a pool's) idle workers spin for a while after a run: without a pause the
            # next engine of the round shares the cores with them (50x on fashion_cnn, 2 threads).
            time.sleep(args.settle)
            r.run(args.per_round)
    outs = {}
    for v in (("leancv", "int8"), ("onnxruntime", "int8")):
        r = runners[v]
        if r.error:
            continue
        path = os.path.join(work, "%s.%s.%d.npy" % (tag, v[0], threads))
        try:
            r._request("out " + path, "out")
            outs[v[0]] = np.load(path).astype(np.float64)
        except (rb.RunnerError, OSError, ValueError) as e:
            r.fail(e)
    res = {}
    for v, r in runners.items():
        res[v] = {"median": r.median(), "runs": len(r.times), "error": r.error,
                  "diff_fp32": r.info.get("max_abs_diff"), "ref_max": r.info.get("ref_max_abs"),
                  "isa": r.info.get("isa")}
        r.finish()
    agree = None
    if len(outs) == 2 and outs["leancv"].shape == outs["onnxruntime"].shape:
        a, b = outs["leancv"], outs["onnxruntime"]
        a2, b2 = a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)
        agree = {"top1": float(np.mean(a2.argmax(1) == b2.argmax(1))),
                 "maxdiff": float(np.max(np.abs(a - b))), "absmax": float(np.max(np.abs(b)))}
    return res, agree


def fmt(x, spec=None):
    if x is None:
        return "-"
    return (spec or ("%.3f" if x < 1 else "%.1f" if x >= 100 else "%.2f")) % x


def write_results(args, rows, notes, elapsed, command):
    L = ["# leancv quantized inference: int8 QDQ and bf16 weights vs fp32, vs ONNX Runtime", "",
         "Generated by `bench/quant_bench.py` (rerun rather than edit). Command: `%s`." % command,
         "%s UTC, %s, %s CPUs, %.0f min. Median of %d timed runs per cell after %d warm-up runs "
         "(or fewer where the %d s budget per model x threads ran out: see the runs column), the "
         "five engines alternated in rounds of %d." % (
             datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M"), rb.platform.machine(),
             os.cpu_count(), elapsed / 60, args.runs, args.warmup, args.budget, args.per_round),
         ] + (["", args.note] if args.note else []) + [
         "", "Latencies in ms. `int8 x` = leancv fp32 / leancv int8 (speed-up). `vs ORT` = leancv "
         "int8 / ORT int8 on the same QDQ file (below 1: leancv faster). Agreement: top-1 and "
         "max|diff| between leancv int8 and ORT int8 outputs on the benchmark input (|out| max in "
         "brackets). int8 err: max|diff| of leancv int8 vs leancv fp32 (the quantization error on "
         "that input; the zoo calibration is synthetic). fp32 err: ORT fp32 vs leancv fp32.", "",
         "| model | thr | leancv fp32 | leancv int8 | leancv bf16 | ORT fp32 | ORT int8 | int8 x "
         "| bf16 x | vs ORT | runs | top-1 agree | max\\|diff\\| int8 | int8 err | fp32 err |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for model, thr, res, agree in rows:
        m = {v: res[v]["median"] for v in VARIANTS}
        lf, li, lb = m[("leancv", "fp32")], m[("leancv", "int8")], m[("leancv", "bf16")]
        of, oi = m[("onnxruntime", "fp32")], m[("onnxruntime", "int8")]
        runs = min(res[v]["runs"] for v in VARIANTS)
        L.append("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %d | %s | %s | %s | %s |" % (
            model, thr, fmt(lf), fmt(li), fmt(lb), fmt(of), fmt(oi),
            fmt(lf / li if lf and li else None, "%.2fx"),
            fmt(lf / lb if lf and lb else None, "%.2fx"),
            fmt(li / oi if li and oi else None, "%.2f"), runs,
            fmt(agree["top1"] * 100 if agree else None, "%.0f%%"),
            "%.3g (%.3g)" % (agree["maxdiff"], agree["absmax"]) if agree else "-",
            fmt(res[("leancv", "int8")]["diff_fp32"], "%.2g"),
            fmt(res[("onnxruntime", "fp32")]["diff_fp32"], "%.2g")))
    isas = sorted({res[v]["isa"] for _, _, res, _ in rows for v in VARIANTS if res[v]["isa"]})
    L += ["", "leancv ISA: %s." % (", ".join(isas) or "-")]
    tiny = sorted({model for model, _, _, agree in rows if agree and agree["absmax"] < 1e-6})
    if tiny:
        # The zoo's seeded weights can shrink the logits to nothing: agreement is then vacuous.
        L.append("Outputs of %s are below 1e-6 in magnitude on this input (the zoo's seeded "
                 "weights): their agreement columns say little." % ", ".join(tiny))
    errs = [(model, thr, v, res[v]["error"]) for model, thr, res, _ in rows for v in VARIANTS
            if res[v]["error"]]
    if errs:
        L += ["", "Failures:", ""] + ["- %s, %d threads, %s %s: %s" % (m, t, v[0], v[1], e)
                                       for m, t, v, e in errs]
    L += ["", "| model | fp32 file | int8 QDQ file | bf16 file | calibration | quantize s |",
          "|---|---|---|---|---|---|"]
    for model, n in notes.items():
        L.append("| %s | %.2f MB | %.2f MB | %.2f MB | %s | %.1f |" % (
            model, n["sizes"]["fp32"] / 1e6, n["sizes"]["int8"] / 1e6, n["sizes"]["bf16"] / 1e6,
            n["calib"], n["qsec"]))
    L += ["", "Targets (leancv issue 5): leancv int8 >= 2.0x leancv fp32 on resnet18 and resnet50, "
          ">= 1.5x on mobilenet_v2; leancv int8 at most 0.8x ORT int8 latency.", ""]
    with open(args.out, "w") as fh:
        fh.write("\n".join(L))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default=DEFAULT_MODELS)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--per-round", type=int, default=3)
    ap.add_argument("--budget", type=float, default=600, help="seconds per model x threads")
    ap.add_argument("--settle", type=float, default=0.05,
                    help="seconds of pause before each engine's round")
    ap.add_argument("--calib", type=int, default=32, help="calibration images")
    ap.add_argument("--quick", action="store_true", help="5 runs, 1 warm-up, 60 s budget")
    ap.add_argument("--build", default=os.path.join(rb.ROOT, "build"))
    ap.add_argument("--cli", default=None, help="leancv CLI (default BUILD/leancv)")
    ap.add_argument("--zoo", default=os.path.join(rb.ROOT, "build", "zoo"))
    ap.add_argument("--fashion-images", default=FASHION_IMAGES)
    ap.add_argument("--work", default=None, help="keep the quantized models here")
    ap.add_argument("--out", default=os.path.join(rb.HERE, "QUANT_RESULTS.md"))
    ap.add_argument("--note", default="", help="a line for the results header (run conditions)")
    args = ap.parse_args()
    if args.quick:
        args.runs, args.warmup, args.budget = 5, 1, 60
    args.cli = args.cli or os.path.join(args.build, "leancv")
    threads = [int(t) for t in args.threads.split(",")]
    # --work names a folder of this machine: left out of the command the results show.
    argv = sys.argv[1:]
    shown = [a for i, a in enumerate(argv) if a != "--work" and (i == 0 or argv[i - 1] != "--work")]
    command = "bench/quant_bench.py " + rb.sh_join(shown)
    tmp = None if args.work else tempfile.TemporaryDirectory(prefix="quant_bench.")
    work = args.work or tmp.name
    os.makedirs(work, exist_ok=True)
    t0 = time.time()
    rows, notes = [], {}
    for model in args.models.split(","):
        src, inp, xs, ys, calib_note = prepare_inputs(args, model, work)
        files = {"fp32": src, "int8": os.path.join(work, model + ".int8.onnx"),
                 "bf16": os.path.join(work, model + ".bf16.onnx")}
        qsec = quantize(args, src, files["int8"], ["--calib", "npy:%s,%s" % (xs, ys),
                                                   "--limit", str(args.calib), "--batch", "1",
                                                   "--scale", "1"])
        quantize(args, src, files["bf16"], ["--dtype", "bf16"])
        notes[model] = {"calib": calib_note, "qsec": qsec,
                        "sizes": {k: os.path.getsize(p) for k, p in files.items()}}
        ref = fp32_reference(args, src, inp, work)
        for thr in threads:
            print("%s, %d thread(s)..." % (model, thr), flush=True)
            res, agree = bench_config(args, files, inp, ref, thr, work, model)
            rows.append((model, thr, res, agree))
            print("  " + "  ".join("%s %s %s" % (rb.SHORT[v[0]], v[1], fmt(res[v]["median"]))
                                   for v in VARIANTS), flush=True)
            write_results(args, rows, notes, time.time() - t0, command)
    print("wrote %s" % args.out)


if __name__ == "__main__":
    main()
