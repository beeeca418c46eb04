#!/usr/bin/env bash
# test_cli.sh - drives the leancv CLI on the demo model (models/fashion_cnn.onnx): info (text and
# JSON), run on an image and on a .npy (the two must give identical outputs), bench, eval on a
# slice of Fashion-MNIST, --help of every subcommand, and error exits that must print exactly
# one "leancv <cmd>: ..." line. Usage: test_cli.sh LEANCV_BINARY REPO_ROOT WORK_DIR
set -u
bin=$1
root=$2
work=$3
model=$root/models/fashion_cnn.onnx
labels=$root/models/fashion_labels.txt
sample=$root/models/fashion_samples/0_ankle_boot.png
data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
rm -rf "$work" && mkdir -p "$work"
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# expect_ok PATTERN ARGS...: exit 0 and stdout matches the extended regex PATTERN.
expect_ok() {
  local pattern=$1
  shift
  if "$bin" "$@" >"$work/out" 2>"$work/err"; then
    if grep -Eq -- "$pattern" "$work/out"; then ok; else bad "'$*' output lacks /$pattern/"; cat "$work/out" >&2; fi
  else
    bad "'$*' exited $?: $(cat "$work/err")"
  fi
}

# expect_fail CMD PATTERN ARGS...: non-zero exit, stderr is one line "leancv CMD: ..." matching
# PATTERN.
expect_fail() {
  local cmd=$1 pattern=$2
  shift 2
  if "$bin" "$@" >"$work/out" 2>"$work/err"; then
    bad "'$*' succeeded but should fail"
    return
  fi
  local lines
  lines=$(wc -l <"$work/err")
  if [[ $lines -ne 1 ]]; then
    bad "'$*' printed $lines lines on stderr: $(cat "$work/err")"
  elif ! grep -Eq -- "^leancv $cmd: .*$pattern" "$work/err"; then
    bad "'$*' stderr '$(cat "$work/err")' does not match 'leancv $cmd: .*$pattern'"
  else
    ok
  fi
}

# Global options and help.
expect_ok '^leancv [0-9]+\.[0-9]+\.[0-9]+$' --version
expect_ok 'usage: leancv <command>' help
for c in info run bench eval train; do
  expect_ok "usage: leancv $c" "$c" --help
  expect_ok "usage: leancv $c" help "$c"
done

# info
expect_ok 'image +float32 +\[batch,1,28,28\]' info "$model"
expect_ok 'logits +float32 +\[batch,10\]' info "$model"
expect_ok 'Conv +2 ' info "$model"
expect_ok 'total MACs: 1117056' info "$model"
expect_ok 'activations: .* peak' info "$model"
expect_ok '"peak_activation_bytes":' info "$model" --json
# every initializer's elements, BatchNorm running statistics included
expect_ok 'parameters: 106058' info "$model"
expect_ok '"shape":\["batch",1,28,28\]' info "$model" --json
expect_ok '"ops":\{.*"Gemm":2' info "$model" --json

# run: image with top-k and labels; outputs written; .npy input gives the same bytes.
expect_ok '1\. ankle boot' run "$model" --input "$sample" --topk 3 --labels "$labels"
expect_ok 'latency: ' run "$model" --input "image=$sample" --output-dir "$work/png_out"
expect_ok "output 'logits': float32 \[1,10\]" run "$model" -i "$root/tests/cli/data/ankle_boot.npy" \
  --output-dir "$work/npy_out"
if [[ -f $work/png_out/logits.npy ]] && cmp -s "$work/png_out/logits.npy" "$work/npy_out/logits.npy"; then
  ok
else
  bad "outputs from the PNG and the .npy input differ (or are missing)"
fi
expect_ok '3\. ' run "$model" --input "$sample" --topk 3 --size 28x28 --gray
expect_ok 'class 9' run "$model" --input "$sample" --topk 1 --resize-short 28 --crop 28x28 --scale 0.00392156863

# convert: the .lcvm gives the same bytes out as the ONNX model; damaged files are refused.
expect_ok 'wrote .*fashion\.lcvm' convert "$model" -o "$work/fashion.lcvm"
expect_ok "output 'logits'" run "$work/fashion.lcvm" -i "$root/tests/cli/data/ankle_boot.npy" \
  --output-dir "$work/lcvm_out"
if cmp -s "$work/lcvm_out/logits.npy" "$work/npy_out/logits.npy"; then ok; else bad ".lcvm output differs"; fi
expect_ok 'parameters: ' info "$work/fashion.lcvm"
head -c 5000 "$work/fashion.lcvm" >"$work/cut.lcvm"
expect_fail info 'checksum' info "$work/cut.lcvm"
expect_fail convert 'a model and -o OUT are required' convert "$model"
expect_fail convert "cannot open '.*missing.onnx'" convert "$work/missing.onnx" -o "$work/x.lcvm"

# bench
expect_ok 'latency: median [0-9.]+ ms +min' bench "$model" --runs 3 --warmup 1
expect_ok 'Conv +2 ' bench "$model" --runs 2 --warmup 0 --top 0
expect_ok '"median_ms":[0-9.]+,"min_ms"' bench "$model" --runs 2 --json
expect_ok 'latency' bench "$model" --runs 2 --input "$root/tests/cli/data/ankle_boot.npy" --threads 2

# eval on the first 500 test images: accuracy must be in the trained model's range.
if [[ -f $data/t10k-images-idx3-ubyte.gz ]]; then
  expect_ok 'accuracy: (8[5-9]|9[0-9])\.[0-9]+% \([0-9]+ / 500\)' eval "$model" --limit 500 --batch 64 \
    --data "idx:$data/t10k-images-idx3-ubyte.gz,$data/t10k-labels-idx1-ubyte.gz"
  expect_ok 'confusion matrix' eval "$model" --limit 10 --batch 3 \
    --data "idx:$data/t10k-images-idx3-ubyte.gz,$data/t10k-labels-idx1-ubyte.gz"
  expect_fail eval 'not an IDX image file' eval "$model" \
    --data "idx:$data/t10k-labels-idx1-ubyte.gz,$data/t10k-labels-idx1-ubyte.gz"
  expect_fail eval '10000 images but 60000 labels' eval "$model" \
    --data "idx:$data/t10k-images-idx3-ubyte.gz,$data/train-labels-idx1-ubyte.gz"
else
  echo "note: $data not found, eval checks skipped"
fi

# Errors: one line on stderr, non-zero exit.
expect_fail info 'no-such-model.onnx' info "$work/no-such-model.onnx"
expect_fail info 'no model given' info
expect_fail info "unknown option '--bogus'" info "$model" --bogus
expect_fail info 'more than one model' info "$model" "$model"
expect_fail info '' info "$root/tests/cli/test_cli.sh"
expect_fail run 'no model given' run
expect_fail run "input 'image' is not given" run "$model"
expect_fail run "no input named 'nosuch'" run "$model" --input "nosuch=$sample"
expect_fail run 'PNG' run "$model" --input "$root/tests/image/data/truncated.png"
expect_fail run 'neither a .npy file nor a PNG/JPEG' run "$model" --input "$root/tests/cli/test_cli.sh"
expect_fail run 'cannot open input' run "$model" --input "$work/missing.npy"
expect_fail run 'fortran_order' run "$model" --input "$root/tests/npy/data/f4_fortran_2x3.npy"
expect_fail run '' run "$model" --input "$root/tests/npy/data/f4_2x3.npy"
expect_fail run "--topk '0'" run "$model" --input "$sample" --topk 0
expect_fail run "--threads 'x'" run "$model" --input "$sample" --threads x
expect_fail run '--labels needs --topk' run "$model" --input "$sample" --labels "$labels"
expect_fail run 'cannot open labels' run "$model" --input "$sample" --topk 1 --labels "$work/nolabels"
expect_fail run "--size 'abc'" run "$model" --input "$sample" --size abc
expect_fail run "--std '0'" run "$model" --input "$sample" --std 0
expect_fail run 'needs a value' run "$model" --input
expect_fail run '2 inputs given' run "$model" --input "$sample" --input "$sample"
expect_fail run 'larger than the resized' run "$model" --input "$sample" --resize-short 20 --crop 28x28
expect_fail bench "--runs '0'" bench "$model" --runs 0
expect_fail bench 'no model given' bench
expect_fail eval 'no data set given' eval "$model"
expect_fail eval 'is not idx:IMAGES,LABELS' eval "$model" --data foo
expect_fail eval 'cannot open' eval "$model" --data "idx:$work/a.gz,$work/b.gz"
if "$bin" frobnicate >/dev/null 2>"$work/err"; then bad "unknown command succeeded"; else ok; fi
if "$bin" >/dev/null 2>&1; then bad "no command succeeded"; else ok; fi

echo "cli_test: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
