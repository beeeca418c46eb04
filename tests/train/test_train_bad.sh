#!/usr/bin/env bash
# test_train_bad.sh - `leancv train` and `leancv eval` on bad input, end to end: damaged data
# set files (truncated gzip, wrong magic, label count differing from the image count), a
# learning rate that drives the loss to Inf/NaN (the run stops naming the step and the last
# good checkpoint stays byte-identical and resumable), and a checkpoint of another model given
# to --resume. Each failure must be one "leancv CMD: ..." line on stderr naming what and where.
# Usage: test_train_bad.sh LEANCV_BINARY FIXTURE_DIR WORK_DIR
set -u
bin=$1
fx=$2
work=$3
model=$fx/fmnist_cnn.onnx
other=$(cd "$(dirname "$0")/../.." && pwd)/models/fashion_cnn.onnx # 28x28 too, other params
data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
timg=$data/t10k-images-idx3-ubyte.gz
tlab=$data/t10k-labels-idx1-ubyte.gz
rm -rf "$work" && mkdir -p "$work"
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
for f in "$model" "$other" "$timg" "$tlab"; do
  [[ -r $f ]] || { echo "FAIL: missing $f (fixtures not made, or Fashion-MNIST not installed:" \
    "scripts/deps.sh installs dataset-fashion-mnist)" >&2; exit 1; }
done

# expect_fail CMD PATTERN ARGS...: non-zero exit, exactly one stderr line "leancv CMD: ..."
# matching PATTERN (extended regex).
expect_fail() {
  local cmd=$1 pattern=$2
  shift 2
  if "$bin" "$cmd" "$@" >"$work/out" 2>"$work/err"; then bad "'$cmd $*' should fail"; return; fi
  # Ignore train's progress lines (full lines when stderr is not a terminal).
  grep -v -e "^epoch [0-9]*/[0-9]* step " "$work/err" >"$work/err1"
  local lines
  lines=$(wc -l <"$work/err1")
  if [[ $lines -ne 1 ]]; then
    bad "'$cmd $*' printed $lines error lines: $(cat "$work/err1")"
  elif ! grep -Eq -- "^leancv $cmd: .*$pattern" "$work/err1"; then
    bad "'$cmd $*': '$(cat "$work/err1")' does not match '$pattern'"
  else
    ok
  fi
}

# Damaged data set files, made from the real test set.
head -c 200000 "$timg" >"$work/trunc-images.gz"                 # gzip stream cut short
gzip -dc "$timg" | head -c 300000 | gzip -c >"$work/short-images.gz" # complete gzip, short payload
printf 'this is not gzip nor IDX at all, just some text padding it out' >"$work/text-images"
gzip -dc "$tlab" | head -c 5008 | gzip -c >"$work/5000-labels.gz"    # header says 10000
{ printf '\x00\x00\x08\x01\x00\x00\x13\x88'; gzip -dc "$tlab" | tail -c +9 | head -c 5000; } \
  | gzip -c >"$work/labels-5000.gz"                                   # consistent 5000 labels
gzip -dc "$tlab" | gzip -c >"$work/labels-ok.gz"
{ printf '\x12\x34\x08\x03'; gzip -dc "$timg" | tail -c +5; } | gzip -c >"$work/magic-images.gz"

for cmd in train eval; do
  expect_fail $cmd 'trunc-images.gz.: corrupt gzip data .*truncated' "$model" \
    --data "idx:$work/trunc-images.gz,$tlab"
  expect_fail $cmd 'short-images.gz. is truncated: its header declares 10000 images of 28 x 28' "$model" \
    --data "idx:$work/short-images.gz,$tlab"
  expect_fail $cmd 'text-images. is not an IDX image file .magic 0x74686973' "$model" --data "idx:$work/text-images,$tlab"
  expect_fail $cmd 'magic-images.gz. is not an IDX image file .magic 0x12340803' "$model" \
    --data "idx:$work/magic-images.gz,$tlab"
  expect_fail $cmd '5000-labels.gz. is truncated: its header declares 10000 labels' "$model" \
    --data "idx:$timg,$work/5000-labels.gz"
  expect_fail $cmd '10000 images but 5000 labels' "$model" --data "idx:$timg,$work/labels-5000.gz"
done

# A checkpoint of another model given to --resume: names the first differing parameter.
common=(--data "idx:$timg,$tlab" --limit 256 --batch 32 --lr 0.05 --seed 1)
if "$bin" train "$model" "${common[@]}" --epochs 1 --checkpoint "$work/good.ckpt" \
    >"$work/good.out" 2>"$work/good.err"; then ok; else bad "training failed: $(tail -2 "$work/good.err")"; fi
if "$bin" train "$other" "${common[@]}" --epochs 1 --checkpoint "$work/other.ckpt" \
    >/dev/null 2>"$work/other.err"; then ok; else bad "training $other failed: $(tail -2 "$work/other.err")"; fi
expect_fail train "checkpoint '$work/other.ckpt' is of another model: parameter .*'conv1.weight'" "$model" "${common[@]}" --epochs 2 \
  --resume "$work/other.ckpt"
# A weight-average decay outside [0, 1), and resuming a run without the average with one.
expect_fail train 'weight-average decay 1 is outside \[0, 1\)' "$model" "${common[@]}" --ema 1
expect_fail train "checkpoint '$work/good.ckpt' has no averaged weights; this trainer keeps them" \
  "$model" "${common[@]}" --epochs 2 --ema 0.9 --resume "$work/good.ckpt"
cp "$work/good.ckpt" "$work/keep.ckpt"

# A huge learning rate: the run stops at the first non-finite loss or gradient, naming the
# epoch and step; the checkpoint of the last good epoch is untouched and still resumes.
expect_fail train 'epoch 2: step 9: the loss is not finite.*the last checkpoint is kept' "$model" "${common[@]}" \
  --epochs 3 --lr 1e30 --resume "$work/good.ckpt" --checkpoint "$work/good.ckpt"
cmp -s "$work/good.ckpt" "$work/keep.ckpt" && ok || bad "the last good checkpoint was changed"
[[ ! -e "$work/good.ckpt.tmp" ]] && ok || bad "a temporary checkpoint was left behind"
if "$bin" train "$model" "${common[@]}" --epochs 2 --resume "$work/good.ckpt" \
    >"$work/res.out" 2>"$work/res.err" && grep -q 'resumed from .* at epoch 1, step 8' "$work/res.out"; then
  ok
else
  bad "the kept checkpoint does not resume: $(tail -2 "$work/res.err") $(cat "$work/res.out")"
fi

echo "test_train_bad: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
