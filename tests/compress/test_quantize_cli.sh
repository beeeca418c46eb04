#!/usr/bin/env bash
# test_quantize_cli.sh - `leancv quantize` end to end on the bundled Fashion-MNIST CNN: int8
# QDQ from 500 training images (min-max and entropy), run by leancv on the 10k test images
# (accuracy drop vs fp32 <= 1 point) and by ONNX Runtime (top-1 agreement with leancv >=
# 99.5%); calibration from .npy arrays and an image folder; opset-11 models (per-tensor
# only); bf16/fp16 weights (file <= 0.52x, accuracy drop <= 0.1 point, ONNX Runtime loads
# them); keep-float options and the report; --equalize with --bias-correction; bad input
# (an empty calibration folder, images of the wrong size, a model without float weights, a
# QDQ model, --equalize with half precision) fails with a message and writes nothing. A
# missing ONNX Runtime is a failure, never a skip.
# Usage: test_quantize_cli.sh LEANCV_BINARY WORK_DIR
set -u
bin=$1
work=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/tests/compress
data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
py=/usr/bin/python3
model=$root/models/fashion_cnn.onnx
calib="idx:$data/train-images-idx3-ubyte.gz,$data/train-labels-idx1-ubyte.gz"
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }

command -v node >/dev/null || fail "node is not installed (ONNX Runtime runs under node)"
node -e "require('$root/bench/node_modules/onnxruntime-node')" 2>/dev/null ||
  fail "onnxruntime-node does not load from $root/bench/node_modules (scripts/deps.sh installs it)"

# The 10k test images as float32 in [0, 1]: .npy for leancv, raw for ONNX Runtime.
$py - "$data" "$work" <<'PYEOF' || fail "cannot write the test set"
import gzip, sys
import numpy as np
d, w = sys.argv[1], sys.argv[2]
x = np.frombuffer(gzip.open(d + "/t10k-images-idx3-ubyte.gz").read()[16:], np.uint8)
x = (x.astype(np.float32) / 255.0).reshape(10000, 1, 28, 28)
y = np.frombuffer(gzip.open(d + "/t10k-labels-idx1-ubyte.gz").read()[8:], np.uint8)
np.save(w + "/x.npy", x)
x.tofile(w + "/x.f32")
np.save(w + "/y.npy", y.astype(np.int64))
PYEOF

# logits NAME MODEL: leancv's logits of MODEL on the test set in $work/NAME/logits.npy.
logits() {
  "$bin" run "$2" --input "$work/x.npy" --output-dir "$work/$1" >"$work/$1.run" 2>&1 ||
    fail "leancv run $2: $(tail -3 "$work/$1.run")"
}
# ort NAME MODEL: ONNX Runtime's logits in $work/NAME.ort.f32.
ort() {
  node "$here/ort_logits.js" "$root/bench/node_modules" "$2" "$work/x.f32" 10000 1 28 28 \
    "$work/$1.ort.f32" >"$work/$1.ort" 2>&1 || fail "ONNX Runtime on $2: $(cat "$work/$1.ort")"
}
# compare A B MAXDROP [ORT]: accuracy of A (float) and B and, with ORT, B's top-1 agreement
# between leancv and ONNX Runtime (>= 99.5%).
compare() {
  $py - "$work" "$1" "$2" "$3" "${4:-}" <<'PYEOF'
import sys
import numpy as np
w, a, b, drop, ort = sys.argv[1:6]
y = np.load(w + "/y.npy")
la, lb = np.load(w + "/" + a + "/logits.npy"), np.load(w + "/" + b + "/logits.npy")
acc_a = 100.0 * np.mean(la.argmax(1) == y)
acc_b = 100.0 * np.mean(lb.argmax(1) == y)
print("%s: accuracy %.2f%%, %s: %.2f%% (drop %.2f points, allowed %s)" % (a, acc_a, b, acc_b, acc_a - acc_b, drop))
ok = acc_a > 85.0 and acc_a - acc_b <= float(drop)
if ort:
    lo = np.fromfile(w + "/" + b + ".ort.f32", np.float32).reshape(lb.shape)
    agree = 100.0 * np.mean(lo.argmax(1) == lb.argmax(1))
    print("%s: ONNX Runtime vs leancv top-1 agreement %.2f%% (>= 99.5), max|diff| %.3g" % (b, agree, np.abs(lo - lb).max()))
    ok = ok and agree >= 99.5
sys.exit(0 if ok else 1)
PYEOF
}

"$bin" quantize --help | grep -q "usage: leancv quantize" || fail "quantize --help"
"$bin" help quantize | grep -q "usage: leancv quantize" || fail "help quantize"
logits fp32 "$model"

# int8 QDQ, min-max (default) with the report printed and written.
"$bin" quantize "$model" -o "$work/q.onnx" --calib "$calib" --limit 500 --report "$work/report.txt" \
  >"$work/q.out" 2>"$work/q.err" || fail "leancv quantize: $(tail -3 "$work/q.err")"
cat "$work/q.out"
grep -q "calibration pass 1/3 (ranges): .*ETA" "$work/q.err" || fail "no progress line: $(cat "$work/q.err")"
grep -q "^/conv2/Conv  *Conv  *int8 " "$work/report.txt" || fail "report lacks /conv2/Conv: $(cat "$work/report.txt")"
grep -q "top-1 agreement" "$work/report.txt" || fail "report lacks the model line"
$py - "$work/q.onnx" <<'PYEOF' || fail "the QDQ file is not what ONNX Runtime's QDQ format looks like"
import sys
import onnx
m = onnx.load(sys.argv[1])
onnx.checker.check_model(m)
ops = [n.op_type for n in m.graph.node]
init = {t.name: t for t in m.graph.initializer}
# Q/DQ pairs: the four layers' inputs and the two MaxPool inputs (after conv1 and conv2 with
# their Relu); DQ also on the four weights and four biases
assert ops.count("QuantizeLinear") == 6 and ops.count("DequantizeLinear") == 14, ops
assert "BatchNormalization" not in ops and not any(o.startswith("Fused") for o in ops)
for n in m.graph.node:
    if n.op_type in ("Conv", "Gemm"):
        prod = {o: p for p in m.graph.node for o in p.output}
        assert all(prod[i].op_type == "DequantizeLinear" for i in n.input), n.name
        w = init[prod[n.input[1]].input[0]]
        assert w.data_type == onnx.TensorProto.INT8, w.name
        b = init[prod[n.input[2]].input[0]]
        assert b.data_type == onnx.TensorProto.INT32, b.name
print("QDQ structure ok:", ops.count("QuantizeLinear"), "Q,", ops.count("DequantizeLinear"), "DQ")
PYEOF
logits q "$work/q.onnx"
ort q "$work/q.onnx"
compare fp32 q 1.0 ort || fail "int8 (min-max) accuracy or ONNX Runtime agreement out of bounds"

# The same quantization written as .lcvm in one step: the fused integer graph, whose logits are
# bit-identical to those of the QDQ file (leancv fuses that one the same way at load).
"$bin" quantize "$model" -o "$work/q.lcvm" --calib "$calib" --limit 500 >"$work/ql.out" 2>&1 ||
  fail "quantize -o q.lcvm: $(tail -3 "$work/ql.out")"
[[ $(head -c 4 "$work/q.lcvm") == LCVM ]] || fail "q.lcvm is not in leancv's format"
logits ql "$work/q.lcvm"
cmp -s "$work/q/logits.npy" "$work/ql/logits.npy" || fail "q.lcvm's logits differ from q.onnx's"
echo "q.lcvm: $(stat -c %s "$work/q.lcvm") bytes, logits identical to q.onnx's"

# Entropy calibration, int8 symmetric activations, per-tensor weights.
"$bin" quantize "$model" -o "$work/qe.onnx" --calib "$calib" --limit 500 --method entropy \
  --act int8 --per-tensor >"$work/qe.out" 2>"$work/qe.err" || fail "quantize --method entropy: $(tail -3 "$work/qe.err")"
logits qe "$work/qe.onnx"
ort qe "$work/qe.onnx"
compare fp32 qe 1.0 ort || fail "int8 (entropy, int8 activations, per-tensor) out of bounds"
for m in percentile mse; do
  "$bin" quantize "$model" -o "$work/q$m.onnx" --calib "$calib" --limit 200 --method $m \
    >"$work/q$m.out" 2>"$work/q$m.err" || fail "quantize --method $m: $(tail -3 "$work/q$m.err")"
  logits "q$m" "$work/q$m.onnx"
  compare fp32 "q$m" 1.0 || fail "int8 ($m) accuracy out of bounds"
done

# Keep-float: the most sensitive layer, and a pattern; those layers have no Q/DQ.
"$bin" quantize "$model" -o "$work/qk.onnx" --calib "$calib" --limit 200 --keep-float 1 \
  --keep-float-pattern '/fc2/*' >"$work/qk.out" 2>"$work/qk.err" || fail "quantize --keep-float: $(tail -3 "$work/qk.err")"
[[ $(grep -c " float " "$work/qk.out") == 2 ]] || fail "keep-float did not keep 2 layers: $(cat "$work/qk.out")"
grep -q "^/fc2/Gemm  *Gemm  *float" "$work/qk.out" || fail "/fc2/Gemm was not kept in float"
$py -c "
import onnx, sys
m = onnx.load('$work/qk.onnx')
prod = {o: p for p in m.graph.node for o in p.output}
fc2 = [n for n in m.graph.node if n.name == '/fc2/Gemm'][0]
sys.exit(1 if any(i in prod and prod[i].op_type == 'DequantizeLinear' for i in fc2.input) else 0)
" || fail "/fc2/Gemm still reads DequantizeLinear outputs"

# Cross-layer equalization and bias correction: fc1 -> Relu -> fc2 is the one pair to
# equalize, the four layers get corrected biases; accuracy and ONNX Runtime as above.
"$bin" quantize "$model" -o "$work/qbe.onnx" --calib "$calib" --limit 200 --per-tensor \
  --equalize --bias-correction >"$work/qbe.out" 2>"$work/qbe.err" ||
  fail "quantize --equalize --bias-correction: $(tail -3 "$work/qbe.err")"
grep -q "^equalized 1 layer pairs in [0-9]* rounds; ReLU6 links: 0 replaced by Relu, 0 skipped" \
  "$work/qbe.out" || fail "equalization summary: $(cat "$work/qbe.out")"
grep -q "^bias correction: 4 layers" "$work/qbe.out" || fail "bias correction summary: $(cat "$work/qbe.out")"
logits qbe "$work/qbe.onnx"
ort qbe "$work/qbe.onnx"
compare fp32 qbe 1.0 ort || fail "int8 with --equalize --bias-correction out of bounds"

# Calibration from .npy arrays and from an image folder (28x28 gray PNGs in class folders).
$py - "$data" "$work" <<'PYEOF' || fail "cannot write the npy / folder calibration sets"
import gzip, os, struct, sys, zlib
import numpy as np
d, w = sys.argv[1], sys.argv[2]
x = np.frombuffer(gzip.open(d + "/train-images-idx3-ubyte.gz").read()[16:16 + 60 * 784], np.uint8)
x = x.reshape(60, 28, 28)
np.save(w + "/xcal.npy", x)
np.save(w + "/ycal.npy", np.zeros(60, np.int64))
chunk = lambda t, b: struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b))
for i in range(40):
    os.makedirs("%s/imgs/c%d" % (w, i % 2), exist_ok=True)
    raw = b"".join(b"\x00" + x[i, r].tobytes() for r in range(28))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 28, 28, 8, 0, 0, 0, 0)) +
           chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    open("%s/imgs/c%d/%d.png" % (w, i % 2, i), "wb").write(png)
PYEOF
for spec in "npy:$work/xcal.npy,$work/ycal.npy" "folder:$work/imgs"; do
  name=${spec%%:*}
  "$bin" quantize "$model" -o "$work/q_$name.onnx" --calib "$spec" --batch 16 >"$work/q_$name.out" 2>&1 ||
    fail "quantize --calib $spec: $(tail -3 "$work/q_$name.out")"
  logits "q_$name" "$work/q_$name.onnx"
  compare fp32 "q_$name" 1.0 || fail "int8 calibrated on $name data out of bounds"
done

# Half-precision weights.
size_fp32=$(stat -c %s "$model")
for dt in bf16 fp16; do
  "$bin" quantize "$model" -o "$work/$dt.onnx" --dtype $dt >"$work/$dt.out" 2>&1 ||
    fail "quantize --dtype $dt: $(cat "$work/$dt.out")"
  size=$(stat -c %s "$work/$dt.onnx")
  $py -c "import sys; r = $size / $size_fp32; print('$dt: %d bytes, %.3fx fp32' % ($size, r)); sys.exit(0 if r <= 0.52 else 1)" ||
    fail "$dt file is larger than 0.52x fp32"
  logits "$dt" "$work/$dt.onnx"
  ort "$dt" "$work/$dt.onnx"
  compare fp32 "$dt" 0.1 ort || fail "$dt accuracy drop above 0.1 point or ONNX Runtime disagrees"
done

# Bad input: a message naming the problem, non-zero status, nothing written.
bad() { # bad NAME GREP ARGS...
  local name=$1 want=$2
  shift 2
  if "$bin" quantize "$@" -o "$work/bad_$name.onnx" >"$work/bad_$name.out" 2>&1; then
    fail "$name: quantize succeeded"
  fi
  grep -q "$want" "$work/bad_$name.out" || fail "$name: message lacks '$want': $(cat "$work/bad_$name.out")"
  [[ ! -e $work/bad_$name.onnx ]] || fail "$name: an output file was written"
  echo "$name: $(head -1 "$work/bad_$name.out")"
}
mkdir -p "$work/empty" "$work/empty_class/a"
bad empty_folder "folder" "$model" --calib "folder:$work/empty"
bad empty_class_folder "no PNG or JPEG" "$model" --calib "folder:$work/empty_class"
$py - "$work" <<'PYEOF' || fail "cannot write the bad inputs"
import struct, sys, zlib
import numpy as np
import onnx
from onnx import TensorProto, helper
w = sys.argv[1]
np.save(w + "/x32.npy", np.zeros((8, 1, 32, 32), np.float32))
np.save(w + "/y32.npy", np.zeros(8, np.int64))
import os
for cls in ("a", "b"):
    os.makedirs(w + "/img32/" + cls, exist_ok=True)
    raw = b"".join(b"\x00" + bytes(range(32)) for _ in range(32))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 32, 32, 8, 0, 0, 0, 0)) +
           chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    open(w + "/img32/" + cls + "/0.png", "wb").write(png)
x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 28, 28])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1, 28, 28])
g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu_only", [x], [y])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), w + "/relu.onnx")
PYEOF
# An opset-11 copy: per-channel scales (DequantizeLinear's axis) and Cast from bfloat16 need
# opset 13, so those fail by name; per-tensor int8 and fp16 work and ONNX Runtime runs them.
$py -c "
import onnx
m = onnx.load('$model')
m.opset_import[0].version = 11
m.ir_version = 6
onnx.save(m, '$work/op11.onnx')" || fail "cannot write the opset-11 model"
bad opset11_per_channel "per-channel weight scales need opset >= 13" "$work/op11.onnx" --calib "$calib" --limit 50
bad opset11_bf16 "bfloat16 weights need opset >= 13" "$work/op11.onnx" --dtype bf16
"$bin" quantize "$work/op11.onnx" -o "$work/q11.onnx" --calib "$calib" --limit 200 --per-tensor \
  >"$work/q11.out" 2>&1 || fail "opset 11 --per-tensor: $(tail -3 "$work/q11.out")"
logits q11 "$work/q11.onnx"
ort q11 "$work/q11.onnx"
compare fp32 q11 1.0 ort || fail "opset-11 per-tensor int8 out of bounds"
bad wrong_size_npy "does not fit the model input" "$model" --calib "npy:$work/x32.npy,$work/y32.npy"
bad wrong_size_png "does not fit the model input" "$model" --calib "folder:$work/img32"
bad no_weights "nothing to quantize" "$work/relu.onnx" --calib "$calib" --limit 10
bad qdq_input "already quantized" "$work/q.onnx" --calib "$calib" --limit 10
bad qdq_input_half "already quantized" "$work/q.onnx" --dtype bf16
bad no_calib "no calibration data" "$model"
bad half_equalize "apply to --dtype int8 only" "$model" --dtype bf16 --equalize
echo "test_quantize_cli: passed"
