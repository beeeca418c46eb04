#!/usr/bin/env bash
# fashion_accuracy.sh - the Fashion-MNIST accuracy recipe: for each seed, exports the untrained
# small ResNet of scripts/fashion_resnet.py (seeded), trains it with `leancv train` and the same
# net from the same initial weights with PyTorch (same recipe: SGD Nesterov momentum 0.9, lr
# 0.1, linear warm-up for one epoch (a fifth of runs under 5 epochs) then cosine to 0, weight
# decay 5e-4 on non-1-D parameters, pad-crop 2 + horizontal flip, batch 128), and prints a
# table of the test accuracies (each seed, the mean of the seeds, leancv minus PyTorch).
# Usage: scripts/fashion_accuracy.sh [BUILD_DIR]
# Environment: SEEDS ("0 1 2"), EPOCHS (30; 15 stops short of 93%), THREADS (2), ENGINES ("leancv torch"),
# WORK (build dir/fashion_accuracy: models, logs, trained models), FASHION_MNIST_DIR,
# LIMIT (train on the first N images only, for a quick check of the pipeline; default all).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
seeds=${SEEDS:-0 1 2}
epochs=${EPOCHS:-30}
threads=${THREADS:-2}
limit=${LIMIT:-0}
engines=${ENGINES:-leancv torch}
work=${WORK:-$build/fashion_accuracy}
data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
py=/usr/bin/python3
[[ -x $build/leancv ]] || { echo "no leancv binary in $build (build first)" >&2; exit 1; }
mkdir -p "$work"
# Warm-up: one epoch (60000 / 128 steps, a final partial batch is dropped), or a fifth of a
# shorter run.
steps=$(( (limit > 0 && limit < 60000 ? limit : 60000) / 128 ))
warmup=$steps
(( epochs < 5 )) && warmup=$((steps * epochs / 5))
lim=()
(( limit > 0 )) && lim=(--limit "$limit")
mean=0.2860
std=0.3530

declare -A acc
for s in $seeds; do
  onnx=$work/fashion_resnet_s$s.onnx
  $py "$here/fashion_resnet.py" export "$onnx" --seed "$s"
  for e in $engines; do
    log=$work/${e}_s$s.log
    echo "== seed $s: $e, $epochs epochs (log: $log)" >&2
    if [[ $e == leancv ]]; then
      "$build/leancv" train "$onnx" \
        --data "idx:$data/train-images-idx3-ubyte.gz,$data/train-labels-idx1-ubyte.gz" \
        --val "idx:$data/t10k-images-idx3-ubyte.gz,$data/t10k-labels-idx1-ubyte.gz" \
        --epochs "$epochs" --batch 128 --opt sgd --lr 0.1 --momentum 0.9 --nesterov \
        --wd 5e-4 --schedule cosine --warmup $warmup --pad-crop 2 --hflip \
        --mean $mean --std $std --seed "$s" --threads "$threads" "${lim[@]}" \
        --checkpoint "$work/leancv_s$s.ckpt" --out "$work/leancv_s$s.onnx" | tee "$log"
      a=$(sed -n "s|^epoch $epochs/$epochs: .*val accuracy \([0-9.]*\)%.*|\1|p" "$log")
    else
      $py "$here/fashion_resnet.py" train --onnx "$onnx" --seed "$s" --epochs "$epochs" \
        --batch 128 --lr 0.1 --wd 5e-4 --warmup $warmup --pad-crop 2 --threads "$threads" \
        "${lim[@]}" |
        tee "$log"
      a=$(sed -n 's/^test accuracy \([0-9.]*\)%.*/\1/p' "$log")
    fi
    [[ -n $a ]] || { echo "no final accuracy in $log" >&2; exit 1; }
    acc[$e,$s]=$a
  done
done

echo
echo "Fashion-MNIST test accuracy (%), small ResNet (scripts/fashion_resnet.py), $epochs epochs"
printf '%-8s' seed
for e in $engines; do printf '%10s' "$e"; done
[[ $engines == "leancv torch" ]] && printf '%12s' "difference"
echo
for s in $seeds mean; do
  printf '%-8s' "$s"
  for e in $engines; do
    if [[ $s == mean ]]; then
      v=$(for t in $seeds; do echo "${acc[$e,$t]}"; done | awk '{ s += $1 } END { printf "%.2f", s / NR }')
      acc[$e,mean]=$v
    fi
    printf '%10s' "${acc[$e,$s]}"
  done
  if [[ $engines == "leancv torch" ]]; then
    printf '%12s' "$(awk -v a="${acc[leancv,$s]}" -v b="${acc[torch,$s]}" 'BEGIN { printf "%+.2f", a - b }')"
  fi
  echo
done
