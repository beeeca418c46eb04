#!/usr/bin/env bash
# test_train_ort.sh - a model trained by leancv runs identically in ONNX Runtime: `leancv
# train` trains the Fashion-MNIST CNN fixture a few steps and writes it (--out); `leancv run`
# gives its logits on a batch of test images; ONNX Runtime (onnxruntime-node, through
# bench/ort_runner.js) runs the same file on the same batch; max|diff| / max|leancv| must be
# <= 1e-5. A missing ONNX Runtime is a failure that says how to install it, never a skip.
# Usage: test_train_ort.sh LEANCV_BINARY FIXTURE_DIR WORK_DIR
set -u
bin=$1
fx=$2
work=$3
root=$(cd "$(dirname "$0")/../.." && pwd)
data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
install="install it with scripts/deps.sh (or: ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm ci --prefix $root/bench)"
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }

command -v node >/dev/null || fail "node is not installed: ONNX Runtime runs under node; $install"
node -e "require('$root/bench/node_modules/onnxruntime-node')" 2>/dev/null ||
  fail "onnxruntime-node does not load from $root/bench/node_modules; $install"

# Train 12 steps (SGD with momentum and weight decay: every parameter and BatchNorm statistic
# moves away from its initial value) and export.
"$bin" train "$fx/fmnist_cnn.onnx" \
  --data "idx:$data/t10k-images-idx3-ubyte.gz,$data/t10k-labels-idx1-ubyte.gz" --limit 384 \
  --batch 32 --lr 0.05 --wd 0.0005 --seed 4 --out "$work/trained.onnx" >"$work/train.out" \
  2>"$work/train.err" || fail "leancv train: $(tail -2 "$work/train.err")"

# A batch of 16 test images, as float32 [16, 1, 28, 28] in [0, 1].
/usr/bin/python3 - "$data/t10k-images-idx3-ubyte.gz" "$work/x.npy" <<'EOF' || fail "cannot write the input batch"
import gzip, sys
import numpy as np
raw = gzip.open(sys.argv[1], "rb").read()
x = np.frombuffer(raw[16:16 + 16 * 784], dtype=np.uint8).astype(np.float32) / 255.0
np.save(sys.argv[2], x.reshape(16, 1, 28, 28))
EOF

"$bin" run "$work/trained.onnx" --input "$work/x.npy" --output-dir "$work/lcv" >"$work/run.out" \
  2>&1 || fail "leancv run: $(cat "$work/run.out")"
ref=$(ls "$work"/lcv/*.npy 2>/dev/null | head -1)
[[ -n $ref ]] || fail "leancv run wrote no output .npy"

# The untrained fixture must differ from the trained one, or the check proves nothing.
"$bin" run "$fx/fmnist_cnn.onnx" --input "$work/x.npy" --output-dir "$work/untrained" \
  >/dev/null 2>&1 || fail "leancv run on the untrained model failed"
cmp -s "$ref" "$work/untrained/$(basename "$ref")" && fail "training did not change the logits"

ready=$(echo quit | node "$root/bench/ort_runner.js" "$work/trained.onnx" "$work/x.npy" "$ref" 1 1 |
  head -1)
case $ready in
ready*) ;;
*) fail "ONNX Runtime: ${ready:-no answer} (if it is not installed: $install)" ;;
esac
echo "$ready"
node -e '
const r = JSON.parse(process.argv[1].slice(6));
const rel = r.max_abs_diff / r.ref_max_abs;
console.log("ONNX Runtime " + r.version + ": max|diff| " + r.max_abs_diff.toExponential(3) +
            ", max|leancv| " + r.ref_max_abs.toFixed(4) + ", ratio " + rel.toExponential(3));
process.exit(r.ref_max_abs > 0 && rel <= 1e-5 ? 0 : 1);' "$ready" ||
  fail "ONNX Runtime's logits differ from leancv's by more than 1e-5 of their largest magnitude"
echo "test_train_ort: passed"
