#!/usr/bin/env bash
# test_train_cli.sh - `leancv train` end to end on Fashion-MNIST: an untrained CNN exported by
# make_fixtures.py is trained for one epoch on 4000 images and must reach well above chance on
# 1000 test images; the exported model must score the same under `leancv eval`; resuming the
# epoch-1 checkpoint for a second epoch must give a checkpoint byte-identical to two epochs in
# one run; bad arguments fail with one "leancv train: ..." line.
# Usage: test_train_cli.sh LEANCV_BINARY FIXTURE_DIR WORK_DIR
set -u
bin=$1
fx=$2
work=$3
model=$fx/fmnist_cnn.onnx
data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
train="idx:$data/train-images-idx3-ubyte.gz,$data/train-labels-idx1-ubyte.gz"
val="idx:$data/t10k-images-idx3-ubyte.gz,$data/t10k-labels-idx1-ubyte.gz"
rm -rf "$work" && mkdir -p "$work"
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

common=(--data "$train" --limit 4000 --batch 32 --lr 0.05 --seed 3 --wd 0.0005)

# One epoch with validation, a checkpoint and the exported model.
start=$(date +%s)
if "$bin" train "$model" "${common[@]}" --epochs 1 --val "$val" --val-limit 1000 \
    --checkpoint "$work/e1.ckpt" --out "$work/e1.onnx" >"$work/b.out" 2>"$work/b.err"; then
  ok
else
  bad "training failed: $(tail -2 "$work/b.err")"
fi
cat "$work/b.out"
acc=$(sed -n 's/.*val accuracy \([0-9.]*\)%.*/\1/p' "$work/b.out")
if [[ -n "$acc" ]] && awk -v a="$acc" 'BEGIN { exit !(a >= 60) }'; then ok; else
  bad "validation accuracy '$acc' after one epoch is not >= 60% (chance: 10%)"; fi
grep -Eq '^epoch 1/1 step 125/125 loss [0-9.]+ acc [0-9.]+% [0-9]+ img/s ETA' "$work/b.err" && ok ||
  bad "no final progress line on stderr: $(tail -1 "$work/b.err")"
[[ -s "$work/e1.ckpt" && ! -e "$work/e1.ckpt.tmp" ]] && ok || bad "no checkpoint written"

# The exported model scores the same under leancv eval (same images, same preprocessing).
if "$bin" eval "$work/e1.onnx" --data "$val" --limit 1000 >"$work/eval.out" 2>&1; then
  eacc=$(sed -n 's/^accuracy: \([0-9.]*\)%.*/\1/p' "$work/eval.out")
  if [[ -n "$eacc" ]] && awk -v a="$acc" -v b="$eacc" 'BEGIN { d = a - b; exit !(d <= 0.2 && d >= -0.2) }'; then
    ok
  else
    bad "exported model: eval accuracy '$eacc'%, training reported '$acc'%"
  fi
else
  bad "leancv eval on the exported model failed: $(cat "$work/eval.out")"
fi

# Resume for a second epoch == two epochs in one run (byte-identical checkpoints).
"$bin" train "$model" "${common[@]}" --epochs 2 --resume "$work/e1.ckpt" \
  --checkpoint "$work/resumed.ckpt" >"$work/r.out" 2>"$work/r.err" && ok ||
  bad "resume failed: $(tail -2 "$work/r.err")"
grep -q 'resumed from .* at epoch 1, step 125' "$work/r.out" && ok || bad "resume message: $(cat "$work/r.out")"
"$bin" train "$model" "${common[@]}" --epochs 2 --checkpoint "$work/straight.ckpt" \
  >"$work/s.out" 2>"$work/s.err" && ok || bad "two-epoch run failed: $(tail -2 "$work/s.err")"
cmp -s "$work/resumed.ckpt" "$work/straight.ckpt" && ok ||
  bad "resumed training differs from uninterrupted training"
grep -q '^epoch 2/2' "$work/r.out" && ! grep -q '^epoch 1/2' "$work/r.out" && ok ||
  bad "the resumed run should train epoch 2 only: $(cat "$work/r.out")"
end=$(date +%s)
echo "training runs took $((end - start)) s"

# expect_fail PATTERN ARGS...: non-zero exit, one stderr line "leancv train: ..." matching.
expect_fail() {
  local pattern=$1
  shift
  if "$bin" train "$@" >"$work/out" 2>"$work/err"; then bad "'$*' should fail"; return; fi
  local lines
  lines=$(wc -l <"$work/err")
  if [[ $lines -ne 1 ]]; then
    bad "'$*' printed $lines lines on stderr: $(cat "$work/err")"
  elif ! grep -Eq -- "^leancv train: .*$pattern" "$work/err"; then
    bad "'$*': '$(cat "$work/err")' does not match '$pattern'"
  else
    ok
  fi
}
expect_fail 'no model' --data "$train"
expect_fail 'no training data' "$model"
expect_fail "unknown option '--bogus'" "$model" --data "$train" --bogus 1
expect_fail "--opt 'lbfgs'" "$model" --data "$train" --opt lbfgs
expect_fail "--schedule 'linear'" "$model" --data "$train" --schedule linear
expect_fail "--epochs '0'" "$model" --data "$train" --epochs 0
expect_fail 'momentum' "$model" --data "$train" --limit 64 --momentum 1.5
expect_fail 'not a leancv checkpoint' "$model" --data "$train" --limit 64 --resume "$model"
expect_fail 'cannot open|No such|missing' "$work/missing.onnx" --data "$train" --limit 64
expect_fail 'idx|IDX|open' "$model" --data "idx:$work/none,$work/none2"
expect_fail 'fewer than one batch' "$model" --data "$train" --limit 10 --batch 32
"$bin" train --help | grep -q 'usage: leancv train' && ok || bad "train --help"
"$bin" help train | grep -q 'usage: leancv train' && ok || bad "help train"

echo "test_train_cli: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
