#!/usr/bin/python3
"""run_bench.py - leancv vs ONNX Runtime vs PyTorch on the model zoo, side by side.

For each zoo model x thread count it starts the three runners (bench/leancv_runner.c,
bench/ort_runner.js, bench/torch_runner.py), lets each warm up, then alternates rounds of a few
timed runs (leancv, ORT, torch, leancv, ...) so drifts of this shared machine hit every engine
alike, until each engine has --runs timed runs. It writes bench/RESULTS.md: median latency,
ratios, GFLOP/s and share of peak, peak RSS and output error per engine.

Needs: build/zoo (scripts/export_zoo.py), BUILD/leancv and BUILD/bench/leancv_runner, and
bench/node_modules (ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm ci --prefix bench).
Example: /usr/bin/python3 bench/run_bench.py --quick --models resnet18,mobilenet_v2
"""
import argparse
import datetime
import json
import math
import os
import platform
import re
import select
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ENGINES = ("leancv", "onnxruntime", "torch")
SHORT = {"leancv": "leancv", "onnxruntime": "ORT", "torch": "torch"}
STARTUP_TIMEOUT_S = 900  # a reference-kernel leancv warm-up of a big model is slow
REQUEST_TIMEOUT_S = 900
MIN_RUNS = 3             # fewest timed runs reported when --budget cuts a config short
ROUND_TARGET_MS = 1500   # rounds are shortened for slow engines so alternation stays fine


def sh_join(argv):
    return " ".join(shlex.quote(a) for a in argv)


class RunnerError(Exception):
    pass


class Runner:
    """One engine process speaking the line protocol: ready / run K / rss / quit."""

    def __init__(self, engine, argv):
        self.engine = engine
        self.argv = argv
        self.times = []
        self.info = {}
        self.rss_kb = None
        self.error = None
        self.errlog = tempfile.TemporaryFile(mode="w+")
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=self.errlog, text=True, bufsize=1, cwd=ROOT)
        except OSError as e:
            self.proc = None
            self.error = "cannot start %s: %s" % (argv[0], e)

    def _stderr_tail(self):
        self.errlog.seek(0)
        lines = [l.strip() for l in self.errlog.read().splitlines() if l.strip()]
        return lines[-1] if lines else ""

    def _readline(self, timeout):
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise RunnerError("no answer within %d s" % timeout)
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            tail = self._stderr_tail()
            raise RunnerError("exited with status %s%s" % (self.proc.returncode,
                                                           (": " + tail) if tail else ""))
        line = line.strip()
        if line.startswith("error "):
            raise RunnerError(line[6:])
        return line

    def _request(self, cmd, expect, timeout=REQUEST_TIMEOUT_S):
        try:
            self.proc.stdin.write(cmd + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise RunnerError("pipe closed: %s" % e)
        line = self._readline(timeout)
        if not line.startswith(expect + " ") and line != expect:
            raise RunnerError("unexpected reply to %r: %r" % (cmd, line[:200]))
        return line[len(expect):].strip()

    def wait_ready(self):
        if self.error:
            return
        try:
            line = self._readline(STARTUP_TIMEOUT_S)
            if not line.startswith("ready "):
                raise RunnerError("unexpected first line %r" % line[:200])
            self.info = json.loads(line[6:])
        except (RunnerError, ValueError) as e:
            self.fail(e)

    def run(self, k):
        if self.error:
            return
        try:
            self.times += [float(t) for t in self._request("run %d" % k, "ok").split()]
        except (RunnerError, ValueError) as e:
            self.fail(e)

    def finish(self):
        if not self.error:
            try:
                self.rss_kb = int(self._request("rss", "rss", 60))
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
            except (RunnerError, ValueError, OSError) as e:
                self.fail(e)
        self.close()

    def fail(self, err):
        self.error = str(err)
        self.close()

    def close(self):
        if self.proc and self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        if not self.errlog.closed:
            self.errlog.close()

    def median(self):
        return statistics.median(self.times) if self.times else None


def fmt_time(s):
    s = int(max(0, s))
    return "%dh%02dm" % (s // 3600, s % 3600 // 60) if s >= 3600 else "%dm%02ds" % (s // 60, s % 60)


class Progress:
    """One status line on stderr with an ETA: the configs left are estimated from the seconds
    per MAC measured on the finished ones (latency grows roughly with MACs)."""

    def __init__(self, configs):
        self.configs = configs  # list of (model, threads, macs or None)
        known = all(c[2] for c in configs)
        self.weight = [(c[2] if known else 1) for c in configs]
        self.t0 = time.time()
        self.done_secs = 0.0
        self.done_macs = 0
        self.tty = sys.stderr.isatty()
        self.last_print = 0.0

    def config_done(self, idx, secs):
        self.done_secs += secs
        self.done_macs += self.weight[idx]

    def show(self, idx, runners, target, force=False):
        now = time.time()
        if not force and not self.tty and now - self.last_print < 15:
            return
        self.last_print = now
        model, threads, _ = self.configs[idx]
        counts = " ".join("%s %d/%d" % (SHORT[r.engine], len(r.times), target) for r in runners)
        # Current config: remaining runs at each engine's median so far.
        cur = 0.0
        for r in runners:
            if r.times and not r.error:
                cur += max(0, target - len(r.times)) * r.median() / 1e3
        rest_macs = sum(self.weight[idx + 1:])
        if self.done_macs > 0:
            rest = rest_macs * self.done_secs / self.done_macs
            eta = fmt_time(cur + rest)
        else:
            eta = "?"
        msg = "[%d/%d] %s t=%d: %s | elapsed %s, ETA %s" % (
            idx + 1, len(self.configs), model, threads, counts, fmt_time(now - self.t0), eta)
        if self.tty:
            sys.stderr.write("\r\033[K" + msg)
        else:
            sys.stderr.write(msg + "\n")
        sys.stderr.flush()

    def line(self, msg):
        sys.stderr.write(("\r\033[K" if self.tty else "") + msg + "\n")
        sys.stderr.flush()


def model_macs(leancv_cli, onnx_path):
    try:
        out = subprocess.run([leancv_cli, "info", "--json", onnx_path], capture_output=True,
                             text=True, timeout=300)
        macs = json.loads(out.stdout).get("macs") if out.returncode == 0 else None
        return macs if isinstance(macs, int) and macs > 0 else None
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None


def machine_peak(build, given):
    """Single-core fp32 peak in GFLOP/s and where it came from."""
    if given:
        return given, "--peak"
    exe = os.path.join(build, "bench", "gemm_bench")
    if not os.access(exe, os.X_OK):
        return None, "unknown (no %s; pass --peak)" % os.path.relpath(exe, ROOT)
    try:
        out = subprocess.run([exe, "--peak-only"], capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, "unknown (%s failed: %s)" % (exe, e)
    m = re.search(r"best-isa peak:\s*([0-9]+(?:\.[0-9]+)?)\s*GFLOP", out.stdout)
    if out.returncode != 0 or not m:
        return None, "unknown (%s --peak-only gave no number)" % exe
    return float(m.group(1)), "`%s --peak-only`" % os.path.relpath(exe, ROOT)


def machine_info():
    name, flags = None, ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and name is None:
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    fl = line.split(":", 1)[1].split()
                    flags = ",".join(x for x in ("avx2", "fma", "avx512f", "avx512_bf16") if x in fl)
    except OSError:
        pass
    return "%s, %d logical CPUs (%s), Linux %s" % (name or platform.machine(), os.cpu_count() or 0, flags or "?",
                                                   platform.release())


def bench_config(args, model, threads, macs, progress, idx):
    zoo = args.zoo
    onnx_path = os.path.join(zoo, model + ".onnx")
    inp = os.path.join(zoo, model + ".input.npy")
    ref = os.path.join(zoo, model + ".output.npy")
    t, w = str(threads), str(args.warmup)
    argv = {
        "leancv": [args.leancv_runner, onnx_path, inp, ref, t, w],
        "onnxruntime": ["node", os.path.join(HERE, "ort_runner.js"), onnx_path, inp, ref, t, w],
        "torch": ["/usr/bin/python3", os.path.join(HERE, "torch_runner.py"), model, inp, ref, t, w],
    }
    t_cfg = time.time()
    runners = [Runner(e, argv[e]) for e in args.engines]
    # Warm up one engine at a time: loads compete for the same two cores otherwise.
    for r in runners:
        r.wait_ready()
    start = time.time()
    while True:
        live = [r for r in runners if not r.error]
        need = [r for r in live if len(r.times) < args.runs]
        if not need:
            break
        if args.budget and time.time() - start > args.budget and \
                all(len(r.times) >= MIN_RUNS for r in live):
            break
        for r in need:
            med = r.median()
            k = min(args.per_round, args.runs - len(r.times))
            if med:
                k = max(1, min(k, int(ROUND_TARGET_MS / med)))
            r.run(k)
            progress.show(idx, runners, args.runs)
            # Lets the engine's worker threads stop spinning before the next engine starts.
            time.sleep(0.05)
    for r in runners:
        r.finish()
    progress.show(idx, runners, args.runs, force=True)
    return {r.engine: {
        "median_ms": r.median(),
        "min_ms": min(r.times) if r.times else None,
        "runs": len(r.times),
        "rss_mb": r.rss_kb / 1024.0 if r.rss_kb else None,
        "max_abs_diff": r.info.get("max_abs_diff"),
        "ref_max_abs": r.info.get("ref_max_abs"),
        "load_ms": r.info.get("load_ms"),
        "version": r.info.get("version"),
        "isa": r.info.get("isa"),
        "warning": r.info.get("warning"),
        "error": r.error,
        "command": sh_join(r.argv),
    } for r in runners}, time.time() - t_cfg


def geomean(xs):
    xs = [x for x in xs if x and x > 0 and math.isfinite(x)]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def f(x, spec, none="-"):
    return none if x is None else format(x, spec)


def diff_cell(e):
    d = e.get("max_abs_diff")
    if e.get("error"):
        return "fail"
    if d is None:
        return "mismatch"
    ref = e.get("ref_max_abs") or 0.0
    mark = " (!)" if d > 1e-4 + 1e-3 * ref else ""
    return "%.1e%s" % (d, mark)


def write_results(args, results, peak, peak_src, command, elapsed):
    lines = ["# leancv vs ONNX Runtime vs PyTorch", "",
             "Generated by `bench/run_bench.py` on %s in %s (do not edit by hand; rerun it)." % (
                 datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), fmt_time(elapsed)), "",
             "- Command: `%s`" % command,
             "- Machine: %s" % machine_info()]
    versions = {}
    for per_t in results.values():
        for res in per_t.values():
            for eng, e in res["engines"].items():
                if e.get("version") and eng not in versions:
                    versions[eng] = e["version"] + (" (isa %s)" % e["isa"] if e.get("isa") else "")
    lines.append("- Engines: leancv %s, default params (all passes, best ISA); onnxruntime-node %s, "
                 "CPU EP, graphOptimizationLevel all, sequential, 1 inter-op thread; PyTorch %s, "
                 "frozen TorchScript (trace), oneDNN convolutions" % (
                     versions.get("leancv", "?"), versions.get("onnxruntime", "?"),
                     versions.get("torch", "?")))
    lines.append("- Load average (1 min) when the run started: %.2f on %d CPUs; other jobs on a "
                 "shared machine inflate absolute times, the alternated rounds keep ratios fairer"
                 % (args.load_at_start, os.cpu_count() or 0))
    lines.append("- Peak: %s GFLOP/s per core fp32, from %s; %% peak = GFLOP/s / (peak x threads)"
                 % (f(peak, ".1f", "?"), peak_src))
    lines.append("- Method: batch 1, the zoo's fixed 1x3x224x224 input; each engine warms up %d "
                 "runs, then rounds of up to %d runs alternate leancv, ORT, torch until each has "
                 "%d timed runs%s; times are medians in ms. GFLOP/s counts 2 x MACs from "
                 "`leancv info --json`. Ratios > 1: leancv is slower. RSS is each process's peak "
                 "(the Python and Node interpreters included). Error is max |out - PyTorch eager "
                 "output|; (!) marks one above 1e-4 + 1e-3 max|ref|." % (
                     args.warmup, args.per_round, args.runs,
                     (" (or %d s per model, then at least %d)" % (args.budget, MIN_RUNS))
                     if args.budget else ""))
    notes = []
    for threads in args.threads:
        per_t = results.get(threads, {})
        if not per_t:
            continue
        lines += ["", "## %d thread%s" % (threads, "" if threads == 1 else "s"), "",
                  "| model | GMAC | leancv ms | ORT ms | torch ms | leancv/ORT | leancv/torch | "
                  "leancv GFLOP/s | % peak | ORT GFLOP/s | RSS MB leancv/ORT/torch | "
                  "error leancv/ORT/torch |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
        r_ort, r_torch = [], []
        for model, res in per_t.items():
            e = res["engines"]
            get = lambda eng, key: (e.get(eng) or {}).get(key)
            lc, ort, tc = get("leancv", "median_ms"), get("onnxruntime", "median_ms"), get("torch", "median_ms")
            ro = lc / ort if lc and ort else None
            rt = lc / tc if lc and tc else None
            r_ort.append(ro)
            r_torch.append(rt)
            macs = res["macs"]
            gf = lambda ms: 2.0 * macs / (ms * 1e6) if macs and ms else None
            pct = gf(lc) / (peak * threads) * 100 if gf(lc) and peak else None
            rss = "/".join(f(get(eng, "rss_mb"), ".0f") for eng in ENGINES)
            err = "/".join(diff_cell(e[eng]) if eng in e else "-" for eng in ENGINES)
            cell = lambda eng, ms: (f(ms, ".2f") + ("" if get(eng, "runs") in (None, args.runs)
                                                    else " (n=%d)" % get(eng, "runs")))
            lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                model, f(macs / 1e9 if macs else None, ".2f"), cell("leancv", lc),
                cell("onnxruntime", ort), cell("torch", tc), f(ro, ".2f"), f(rt, ".2f"),
                f(gf(lc), ".1f"), f(pct, ".1f"), f(gf(ort), ".1f"), rss, err))
            for eng, x in e.items():
                if x.get("error"):
                    notes.append("%s, %d thread(s), %s failed: %s" % (model, threads, eng, x["error"]))
                if x.get("warning"):
                    notes.append("%s: %s" % (eng, x["warning"]))
        go, gt = geomean(r_ort), geomean(r_torch)
        lines += ["", "Geomean leancv/ORT: %s over %d models; leancv/torch: %s over %d models." % (
            f(go, ".2f"), len([x for x in r_ort if x]), f(gt, ".2f"), len([x for x in r_torch if x]))]
    if notes:
        lines += ["", "## Notes", ""] + ["- " + n for n in dict.fromkeys(notes)]
    with open(args.out, "w") as fh:
        fh.write("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zoo", default=os.path.join(ROOT, "build", "zoo"),
                    help="directory made by scripts/export_zoo.py (default build/zoo)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"),
                    help="CMake build dir holding leancv and bench/leancv_runner (default build)")
    ap.add_argument("--models", default="", help="comma-separated subset (default: every model in ZOO)")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    ap.add_argument("--runs", type=int, default=None, help="timed runs per engine (default 30, quick 10)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed runs first (default 3, quick 1)")
    ap.add_argument("--per-round", type=int, default=3, help="runs per engine per round (default 3)")
    ap.add_argument("--budget", type=float, default=None,
                    help="seconds of timing per model x threads before stopping at >= %d runs "
                         "(default none, quick 60)" % MIN_RUNS)
    ap.add_argument("--quick", action="store_true", help="fewer runs and a time budget per model")
    ap.add_argument("--peak", type=float, default=None,
                    help="single-core fp32 peak GFLOP/s (default: BUILD/bench/gemm_bench --peak-only)")
    ap.add_argument("--engines", default=",".join(ENGINES), help="subset of " + ",".join(ENGINES))
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"), help="default bench/RESULTS.md")
    ap.add_argument("--json", default=None, help="also write the raw results as JSON here")
    args = ap.parse_args()

    args.runs = args.runs or (10 if args.quick else 30)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.quick else 3)
    args.budget = args.budget if args.budget is not None else (60 if args.quick else 0)
    try:
        args.threads = [int(t) for t in args.threads.split(",") if t]
    except ValueError:
        ap.error("--threads takes integers, e.g. 1,2")
    args.engines = [e for e in args.engines.split(",") if e]
    bad = [e for e in args.engines if e not in ENGINES]
    if bad or not args.engines or not args.threads or min(args.threads) < 1 or args.runs < 1 \
            or args.per_round < 1 or args.warmup < 0:
        ap.error("bad --engines/--threads/--runs/--per-round/--warmup")
    args.zoo = os.path.abspath(args.zoo)
    build = os.path.abspath(args.build)
    args.leancv_runner = os.path.join(build, "bench", "leancv_runner")
    leancv_cli = os.path.join(build, "leancv")

    if not os.path.isdir(args.zoo):
        sys.exit("run_bench: no zoo at %s (run /usr/bin/python3 scripts/export_zoo.py)" % args.zoo)
    have = sorted(f[:-5] for f in os.listdir(args.zoo) if f.endswith(".onnx"))
    models = [m for m in args.models.split(",") if m] or have
    missing = [m for m in models if m not in have]
    if missing:
        sys.exit("run_bench: not in %s: %s" % (args.zoo, ", ".join(missing)))
    if "leancv" in args.engines and not os.access(args.leancv_runner, os.X_OK):
        sys.exit("run_bench: %s is missing (build %s first)" % (args.leancv_runner, build))
    if "onnxruntime" in args.engines and not os.path.isdir(os.path.join(HERE, "node_modules", "onnxruntime-node")):
        sys.exit("run_bench: run `ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm ci --prefix bench` first")

    args.load_at_start = os.getloadavg()[0]
    command = "/usr/bin/python3 bench/run_bench.py " + sh_join(sys.argv[1:])
    peak, peak_src = machine_peak(build, args.peak)
    macs = {m: model_macs(leancv_cli, os.path.join(args.zoo, m + ".onnx")) for m in models}
    configs = [(m, t, macs[m]) for t in args.threads for m in models]
    progress = Progress(configs)
    results = {}
    t_all = time.time()
    for idx, (m, t, mac) in enumerate(configs):
        engines, secs = bench_config(args, m, t, mac, progress, idx)
        progress.config_done(idx, secs)
        results.setdefault(t, {})[m] = {"macs": mac, "engines": engines}
        summary = " ".join("%s %s" % (SHORT[e], f(x["median_ms"], ".1f") if not x["error"] else "FAIL")
                           for e, x in engines.items())
        progress.line("%s t=%d: %s ms" % (m, t, summary))
        # Rewritten after every config, so an interrupted run still leaves its numbers.
        write_results(args, results, peak, peak_src, command, time.time() - t_all)
        if args.json:
            with open(args.json, "w") as fh:
                json.dump({"command": command, "peak_gflops": peak, "results": results}, fh, indent=1)
    progress.line("run_bench: wrote %s in %s" % (os.path.relpath(args.out, ROOT), fmt_time(time.time() - t_all)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
