#!/usr/bin/env bash
# test_distill_cli.sh - `leancv distill` end to end on a little Fashion-MNIST: every mode runs
# with the models of scripts/distill_models.py (untrained: this checks the plumbing, not
# accuracy); a FitNets run resumed from its epoch-1 checkpoint (adapters included) ends
# byte-identical to an uninterrupted one, and so does deep mutual learning (both students);
# bad arguments fail with one "leancv distill: ..." line naming the problem.
# Usage: test_distill_cli.sh LEANCV_BINARY WORK_DIR
set -u
bin=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
train="idx:$data/train-images-idx3-ubyte.gz,$data/train-labels-idx1-ubyte.gz"
val="idx:$data/t10k-images-idx3-ubyte.gz,$data/t10k-labels-idx1-ubyte.gz"
rm -rf "$work" && mkdir -p "$work"
m=$work/models
/usr/bin/python3 "$here/../../scripts/distill_models.py" "$m" >/dev/null || { echo "FAIL: export"; exit 1; }
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
T=$m/teacher.onnx
S=$m/student.onnx
common=(--data "$train" --limit 64 --batch 32 --seed 5 --opt adamw --lr 0.01)

args_for() {
  case $1 in
    ce) echo "--student $S" ;;
    hinton) echo "--student $S --teacher $T" ;;
    fitnets) echo "--student $S --teacher $T --hint s_feat2:t_feat2" ;;
    at) echo "--student $S --teacher $T --hint s_feat2:t_feat2 --hint s_feat3:t_feat3" ;;
    rkd) echo "--student $S --teacher $T --hint s_emb:t_emb" ;;
    dml) echo "--student $S --peer $m/student_peer.onnx" ;;
    self) echo "--student $m/student_self.onnx" ;;
  esac
}

for mode in ce hinton fitnets at rkd dml self; do
  # shellcheck disable=SC2046
  if "$bin" distill --mode $mode $(args_for $mode) "${common[@]}" --val "$val" --val-limit 32 \
      --out "$work/$mode.onnx" >"$work/$mode.out" 2>"$work/$mode.err"; then
    grep -Eq '^epoch 1/1: loss [0-9.]+ train accuracy [0-9.]+% val accuracy' "$work/$mode.out" &&
      grep -Eq '^epoch 1/1 step 2/2 loss [0-9.]+ acc' "$work/$mode.err" && [[ -s $work/$mode.onnx ]] &&
      ok || bad "$mode: unexpected output: $(cat "$work/$mode.out" "$work/$mode.err")"
  else
    bad "$mode failed: $(tail -2 "$work/$mode.err")"
  fi
done
grep -q 'peer val accuracy' "$work/dml.out" && ok || bad "dml: no peer accuracy"

# resume == uninterrupted (fitnets: adapters and their AdamW moments; dml: both students)
for mode in fitnets dml; do
  # shellcheck disable=SC2046
  "$bin" distill --mode $mode $(args_for $mode) "${common[@]}" --epochs 1 \
    --checkpoint "$work/$mode.e1" >/dev/null 2>&1 &&
  "$bin" distill --mode $mode $(args_for $mode) "${common[@]}" --epochs 2 --resume "$work/$mode.e1" \
    --checkpoint "$work/$mode.r2" >"$work/$mode.r.out" 2>&1 &&
  "$bin" distill --mode $mode $(args_for $mode) "${common[@]}" --epochs 2 \
    --checkpoint "$work/$mode.s2" >/dev/null 2>&1 || bad "$mode resume runs failed: $(cat "$work/$mode.r.out")"
  cmp -s "$work/$mode.r2" "$work/$mode.s2" && ok || bad "$mode: resumed differs from uninterrupted"
  grep -q 'resumed from .* at epoch 1, step 2' "$work/$mode.r.out" && ok || bad "$mode resume message"
done
cmp -s "$work/dml.r2.peer" "$work/dml.s2.peer" && ok || bad "dml peer: resumed differs"

expect_fail() {
  local pattern=$1
  shift
  if "$bin" distill "$@" >"$work/out" 2>"$work/err"; then bad "'$*' should fail"; return; fi
  local lines
  lines=$(wc -l <"$work/err")
  if [[ $lines -ne 1 ]]; then
    bad "'$*' printed $lines lines on stderr: $(cat "$work/err")"
  elif ! grep -Eq -- "^leancv distill: .*$pattern" "$work/err"; then
    bad "'$*': '$(cat "$work/err")' does not match '$pattern'"
  else
    ok
  fi
}
expect_fail 'no student' --data "$train"
expect_fail "--mode 'kd'" --student "$S" --data "$train" --mode kd
expect_fail 'hinton needs a teacher' --student "$S" --data "$train"
expect_fail 'self takes no --teacher' --student "$S" --data "$train" --mode self --teacher "$T"
expect_fail "--hint 'nocolon' is not" --student "$S" --data "$train" --mode at --teacher "$T" --hint nocolon
expect_fail 'fitnets needs at least one --hint' --student "$S" --data "$train" --mode fitnets --teacher "$T"
expect_fail 'rkd needs exactly one' --student "$S" --data "$train" --mode rkd --teacher "$T"
expect_fail "teacher value 'nope' is not an output" --student "$S" --data "$train" --limit 64 \
  --mode at --teacher "$T" --hint s_feat2:nope
expect_fail "student value 'nope' is not in the model" --student "$S" --data "$train" --limit 64 \
  --mode at --teacher "$T" --hint nope:t_feat2
expect_fail "spatial sizes differ: student value 's_feat2' is \[32,16,14,14\], teacher value 't_feat3'" \
  --student "$S" --data "$train" --limit 64 --batch 32 --mode at --teacher "$T" --hint s_feat2:t_feat3
expect_fail "self: exit 's_feat2' must be float32 logits \[64, 10\] like output 0" --student "$S" \
  --data "$train" --limit 64 --mode self
expect_fail 'dml needs --peer' --student "$S" --data "$train" --limit 64 --mode dml
expect_fail "unknown option '--bogus'" --student "$S" --data "$train" --bogus 1
"$bin" distill --help | grep -q 'usage: leancv distill' && ok || bad "distill --help"

echo "test_distill_cli: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
