#!/usr/bin/env bash
# distill_table.sh - the results table of docs/DISTILLATION.md: trains the ResNet-style teacher
# of scripts/distill_models.py on Fashion-MNIST with `leancv train`, then the ~1/4-MACs student
# with every `leancv distill` mode (ce = the cross-entropy-only baseline) for each seed, and
# prints a markdown table of test accuracies (per seed, mean, difference to ce).
# Settings (environment): BIN (leancv binary, default build-rel/leancv), WORK (scratch dir),
# EPOCHS (student epochs, 1), T_EPOCHS (teacher epochs, 2), LIMIT (training images, 60000),
# VAL_LIMIT (test images, 10000), BATCH (64), LR (0.05), SEEDS ("1 2 3"), THREADS (1),
# MODES ("ce hinton fitnets at rkd dml self"), DATA (Fashion-MNIST idx directory).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
BIN=${BIN:-$here/../build-rel/leancv}
WORK=${WORK:-/tmp/leancv_distill_table}
EPOCHS=${EPOCHS:-1}
T_EPOCHS=${T_EPOCHS:-2}
LIMIT=${LIMIT:-60000}
VAL_LIMIT=${VAL_LIMIT:-10000}
BATCH=${BATCH:-64}
LR=${LR:-0.05}
SEEDS=${SEEDS:-"1 2 3"}
THREADS=${THREADS:-1}
MODES=${MODES:-"ce hinton fitnets at rkd dml self"}
DATA=${DATA:-${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}}
train="idx:$DATA/train-images-idx3-ubyte.gz,$DATA/train-labels-idx1-ubyte.gz"
val="idx:$DATA/t10k-images-idx3-ubyte.gz,$DATA/t10k-labels-idx1-ubyte.gz"
mkdir -p "$WORK"
m=$WORK/models
[[ -s $m/student_self.onnx ]] || /usr/bin/python3 "$here/distill_models.py" "$m" >/dev/null
common=(--data "$train" --limit "$LIMIT" --val "$val" --val-limit "$VAL_LIMIT" --batch "$BATCH"
        --lr "$LR" --wd 0.0005 --schedule cosine --threads "$THREADS")

start=$(date +%s)
if [[ ! -s $WORK/teacher_trained.onnx ]]; then
  echo "training the teacher ($T_EPOCHS epochs on $LIMIT images)..." >&2
  "$BIN" train "$m/teacher.onnx" "${common[@]}" --epochs "$T_EPOCHS" --seed 0 \
    --out "$WORK/teacher_trained.onnx" >"$WORK/teacher.log" 2>"$WORK/teacher.err" ||
    { echo "teacher training failed: $(tail -1 "$WORK/teacher.err")" >&2; exit 1; }
fi
tacc=$(sed -n 's/.*val accuracy \([0-9.]*\)%.*/\1/p' "$WORK/teacher.log" | tail -1)
echo "teacher: ${tacc}% test accuracy" >&2

runs=()
for mode in $MODES; do for s in $SEEDS; do runs+=("$mode:$s"); done; done
total=${#runs[@]}
done_runs=0
t_runs=$(date +%s)
for r in "${runs[@]}"; do
  mode=${r%%:*}
  s=${r##*:}
  log=$WORK/$mode.$s.log
  if [[ ! -s $log ]] || ! grep -q '^distilled' "$log"; then
    student=$m/student.onnx
    extra=()
    case $mode in
      hinton) extra=(--teacher "$WORK/teacher_trained.onnx") ;;
      fitnets) extra=(--teacher "$WORK/teacher_trained.onnx" --hint s_feat2:t_feat2) ;;
      at) extra=(--teacher "$WORK/teacher_trained.onnx" --hint s_feat2:t_feat2
                 --hint s_feat3:t_feat3) ;;
      rkd) extra=(--teacher "$WORK/teacher_trained.onnx" --hint s_emb:t_emb) ;;
      dml) extra=(--peer "$m/student_peer.onnx") ;;
      self) student=$m/student_self.onnx ;;
    esac
    "$BIN" distill --student "$student" --mode "$mode" "${extra[@]}" "${common[@]}" \
      --epochs "$EPOCHS" --seed "$s" >"$log" 2>"$WORK/$mode.$s.err" ||
      { echo "run $mode seed $s failed: $(tail -1 "$WORK/$mode.$s.err")" >&2; exit 1; }
  fi
  done_runs=$((done_runs + 1))
  now=$(date +%s)
  eta=$(( (now - t_runs) * (total - done_runs) / done_runs ))
  acc=$(sed -n 's/.*: loss.* val accuracy \([0-9.]*\)%.*/\1/p' "$log" | tail -1)
  echo "[$done_runs/$total] $mode seed $s: ${acc}% (ETA $((eta / 60))m$((eta % 60))s)" >&2
done

echo "| mode | $(for s in $SEEDS; do printf 'seed %s | ' "$s"; done)mean | vs ce |"
echo "|---|$(for s in $SEEDS; do printf -- '---|'; done)---|---|"
base=""
for mode in $MODES; do
  accs=()
  for s in $SEEDS; do
    accs+=("$(sed -n 's/.*: loss.* val accuracy \([0-9.]*\)%.*/\1/p' "$WORK/$mode.$s.log" | tail -1)")
  done
  mean=$(printf '%s\n' "${accs[@]}" | awk '{ s += $1; n++ } END { printf "%.2f", s / n }')
  [[ $mode == ce ]] && base=$mean
  delta=$([[ -n $base ]] && awk -v a="$mean" -v b="$base" 'BEGIN { printf "%+.2f", a - b }' || echo "-")
  echo "| $mode | $(printf '%s | ' "${accs[@]}")$mean | $delta |"
done
echo
echo "Teacher ${tacc}% (${T_EPOCHS} epochs). Students: ${EPOCHS} epoch(s), ${LIMIT} training and" \
     "${VAL_LIMIT} test images, batch ${BATCH}, SGD lr ${LR} cosine, wd 5e-4, seeds ${SEEDS};" \
     "$(($(date +%s) - start)) s in all."
