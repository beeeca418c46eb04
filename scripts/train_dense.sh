#!/usr/bin/env bash
# train_dense.sh segmenter|detector [BUILD] - the recipes of the two task models trained on
# synthetic Fashion-MNIST scenes (scripts/synth_fashion.py: 128x128 canvases, 1-4 items each;
# held-out scenes from the test images only):
#   segmenter  arch:segnet-tiny on the label maps (per-pixel cross-entropy), in two stages:
#              first on 64x64 canvases of 1-2 items at the scenes' item scale (a quarter of
#              the pixels for more than half the items: about twice the items per second),
#              then on the 128x128 scenes starting from those weights (--init; the network is
#              convolutional, so every weight carries over); then runs `leancv segment` on
#              every held-out scene plain, with --flip (test-time flip) and with --flip
#              --scales SCALES (multi-scale inference too), scores each with `leancv evaluate
#              --task segment` and prints the three held-out mIoUs;
#   detector   arch:fcos-tiny on the boxes (FCOS loss: focal, GIoU, centre-ness), then runs
#              `leancv detect` on every held-out scene and scores the results with
#              `leancv evaluate` (COCO-style mAP); prints mAP@0.5.
# Both train with AdamW, a cosine schedule and horizontal flips on THREADS threads, print the
# wall time of training (with the per-epoch validation), and save a checkpoint after every
# epoch (OUT/model.ckpt; `leancv train ... --resume` goes on from it). The segmenter's stages
# validate and export a moving average of the weights (leancv train --ema EMA).
# Environment: OUT (default BUILD/TASK), DATA (the scenes, default BUILD/scenes, shared by both
# tasks and reused when generated with the same arguments), TRAIN / TEST scenes (24000 / 1000),
# EPOCHS (segmenter 5, detector 6), BATCH (16), LR (segmenter 0.004, detector 0.002), EMA
# (segmenter 0.999, detector 0: off), THREADS (2), SEED (0), FASHION_MNIST_DIR; the
# segmenter's first stage: SMALL (its canvases, default BUILD/scenes64: 48000 for training,
# 500 to validate), SMALL_EPOCHS (6; 0 skips the stage), SMALL_LR (0.004); its scales at test
# time: SCALES (1,1.125).
set -euo pipefail
task=${1:-}
build=${2:-build}
case $task in
  segmenter) arch=segnet-tiny labels=labels lr=${LR:-0.004} epochs=${EPOCHS:-5}
             ema=${EMA:-0.999} small_epochs=${SMALL_EPOCHS:-6} small_lr=${SMALL_LR:-0.004} ;;
  detector) arch=fcos-tiny labels=boxes lr=${LR:-0.002} epochs=${EPOCHS:-6} ema=${EMA:-0}
            small_epochs=0 ;;
  *) echo "usage: train_dense.sh segmenter|detector [BUILD]" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$build/leancv
out=${OUT:-$build/$task}
d=${DATA:-$build/scenes}
train=${TRAIN:-24000}
test=${TEST:-1000}
batch=${BATCH:-16}
threads=${THREADS:-2}
seed=${SEED:-0}
[[ -x $bin ]] || { echo "train_dense.sh: no $bin (build first: make)" >&2; exit 1; }
mkdir -p "$out"

fashion=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
# scenes DIR WHAT ARGS...: generates synthetic scenes into DIR unless it holds those already
scenes() {
  local dir=$1 what=$2
  shift 2
  local gen=(--fashion "$fashion" --seed "$seed" "$@")
  local same=false
  [[ -f $dir/args.txt && $(cat "$dir/args.txt") == "${gen[*]}" ]] && same=true
  # scenes written before the generator wrote the held-out label PNGs are made again
  [[ " ${gen[*]} " != *" --png "* || -d $dir/test_masks ]] || same=false
  if $same; then
    echo "== reusing the $what in $dir"
  else
    echo "== generating the $what in $dir"
    mkdir -p "$dir"
    rm -f "$dir/args.txt"
    /usr/bin/python3 "$root/scripts/synth_fashion.py" "$dir" "${gen[@]}"
    echo "${gen[*]}" >"$dir/args.txt"
  fi
}
scenes "$d" "$train training and $test held-out scenes" --train "$train" --test "$test" \
  --png "$test"
small=${SMALL:-$build/scenes64}
small_train=48000
((small_epochs == 0)) || scenes "$small" "64x64 canvases of the first stage" --size 64 \
  --max-items 2 --train "$small_train" --test 500

# fit TAG DATA_DIR COUNT EPOCHS LR [ARGS...]: one leancv train run of the recipe, to OUT/TAG.*
fit() {
  local tag=$1 dir=$2 count=$3 n=$4 rate=$5
  shift 5
  local steps=$((count / batch * n))
  echo "== leancv train arch:$arch on $dir: $n epochs of $((count / batch)) steps, $threads threads"
  "$bin" train "arch:$arch" --data "npy:$dir/train_images.npy,$dir/train_$labels.npy" \
    --val "npy:$dir/test_images.npy,$dir/test_$labels.npy" --epochs "$n" --batch "$batch" \
    --opt adamw --lr "$rate" --schedule cosine --warmup $((steps / 50)) --hflip \
    --ema "$ema" --threads "$threads" --seed "$seed" --checkpoint "$out/$tag.ckpt" \
    --out "$out/$tag.onnx" "$@" | tee "$out/$tag.log"
}

t0=$(date +%s.%N)
init=()
if ((small_epochs > 0)); then
  fit small "$small" "$small_train" "$small_epochs" "$small_lr"
  init=(--init "$out/small.onnx")
fi
fit model "$d" "$train" "$epochs" "$lr" "${init[@]}"
t1=$(date +%s.%N)
wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }')
stages="$epochs epochs"
((small_epochs == 0)) || stages="$small_epochs epochs of 64x64 canvases and $epochs of scenes"
took="after $stages; wall time $wall s ($(awk -v s="$wall" 'BEGIN { printf "%.1f", s / 60 }') min) for training and validation on $threads threads"

if [[ $task == segmenter ]]; then
  last=$(grep "^epoch $epochs/$epochs:" "$out/model.log")
  echo "leancv train's validation: mIoU $(sed -n 's/.* val mIoU \([0-9.]*\).*/\1/p' <<<"$last")"
  scales=${SCALES:-1,1.125}
  echo "== leancv segment on the $test held-out scenes, plain, with --flip and with --flip" \
    "--scales $scales, then leancv evaluate"
  for mode in plain flip scales; do
    tta=()
    [[ $mode == flip ]] && tta=(--flip)
    [[ $mode == scales ]] && tta=(--flip --scales "$scales")
    rm -rf "$out/pred_$mode"
    mkdir -p "$out/pred_$mode"
    for ((i = 0; i < test; i++)); do
      "$bin" segment "$out/model.onnx" "$d/test_$i.png" "${tta[@]}" \
        --mask "$out/pred_$mode/test_$i.png" >/dev/null
    done
    "$bin" evaluate --task segment --pred "$out/pred_$mode" --gt "$d/test_masks" --classes 11 \
      --json "$out/evaluate_$mode.json" >"$out/evaluate_$mode.txt"
  done
  cat "$out/evaluate_scales.txt"
  score() { sed -n "s/^$1: *\([0-9.]*\).*/\1/p" "$out/evaluate_$2.txt"; }
  echo "held-out mIoU $(score mIoU scales) with --flip --scales $scales, $(score mIoU flip) with" \
    "--flip, $(score mIoU plain) without (pixel accuracy $(score "pixel accuracy" scales) /" \
    "$(score "pixel accuracy" flip) / $(score "pixel accuracy" plain)) on $test scenes $took"
  "$bin" segment "$out/model.onnx" "$d/test_0.png" --flip --scales "$scales" -o "$out/overlay.png" \
    --mask "$out/mask.png" --json "$out/segment.json"
  echo "overlay: $out/overlay.png (truth: $d/test_masks/test_0.png)"
  exit 0
fi

echo "== leancv detect on the $test held-out scenes, then leancv evaluate"
rm -rf "$out/pred"
mkdir -p "$out/pred"
for ((i = 0; i < test; i++)); do
  "$bin" detect "$out/model.onnx" "$d/test_$i.png" --head fcos --conf 0.05 --iou 0.5 \
    --topk 100 --json "$out/pred/test_$i.json" >/dev/null
done
"$bin" evaluate --pred "$out/pred" --gt "$d/test_gt.json" --classes 10 \
  --json "$out/evaluate.json" | tee "$out/evaluate.txt"
echo "held-out mAP@0.5 $(sed -n 's/^mAP@\.5: *\([0-9.]*\).*/\1/p' "$out/evaluate.txt") on" \
  "$test scenes $took"
"$bin" detect "$out/model.onnx" "$d/test_0.png" --head fcos --conf 0.3 -o "$out/detect_0.png"
echo "picture: $out/detect_0.png (truth: $d/test_boxes.json[0])"
