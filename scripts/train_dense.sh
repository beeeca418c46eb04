#!/usr/bin/env bash
# train_dense.sh segmenter|detector [BUILD] - the recipes of the two task models trained on
# synthetic Fashion-MNIST scenes (scripts/synth_fashion.py: 128x128 canvases, 1-4 items each;
# held-out scenes from the test images only):
#   segmenter  arch:segnet-tiny on the label maps (per-pixel cross-entropy); prints the
#              held-out mIoU, then labels a held-out scene with `leancv segment`;
#   detector   arch:fcos-tiny on the boxes (FCOS loss: focal, GIoU, centre-ness), then runs
#              `leancv detect` on every held-out scene and scores the results with
#              `leancv evaluate` (COCO-style mAP); prints mAP@0.5.
# Both train with AdamW, a cosine schedule and horizontal flips on THREADS threads, print the
# wall time of training (with the per-epoch validation), and save a checkpoint after every
# epoch (OUT/model.ckpt; `leancv train ... --resume` goes on from it).
# Environment: OUT (default BUILD/TASK), DATA (the scenes, default BUILD/scenes, shared by both
# tasks and reused when generated with the same arguments), TRAIN / TEST scenes (24000 / 1000),
# EPOCHS (6), BATCH (16), LR (segmenter 0.004, detector 0.002), THREADS (2), SEED (0),
# FASHION_MNIST_DIR.
set -eu
task=${1:-}
build=${2:-build}
case $task in
  segmenter) arch=segnet-tiny labels=labels lr=${LR:-0.004} ;;
  detector) arch=fcos-tiny labels=boxes lr=${LR:-0.002} ;;
  *) echo "usage: train_dense.sh segmenter|detector [BUILD]" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$build/leancv
out=${OUT:-$build/$task}
d=${DATA:-$build/scenes}
train=${TRAIN:-24000}
test=${TEST:-1000}
epochs=${EPOCHS:-6}
batch=${BATCH:-16}
threads=${THREADS:-2}
seed=${SEED:-0}
[[ -x $bin ]] || { echo "train_dense.sh: no $bin (build first: make)" >&2; exit 1; }
mkdir -p "$out"

gen=(--fashion "${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}" --train "$train"
     --test "$test" --seed "$seed" --png "$test")
if [[ -f $d/args.txt && $(cat "$d/args.txt") == "${gen[*]}" ]]; then
  echo "== reusing the scenes in $d"
else
  echo "== generating $train training and $test held-out scenes in $d"
  mkdir -p "$d"
  rm -f "$d/args.txt"
  /usr/bin/python3 "$root/scripts/synth_fashion.py" "$d" "${gen[@]}"
  echo "${gen[*]}" >"$d/args.txt"
fi

steps=$((train / batch * epochs))
echo "== leancv train arch:$arch: $epochs epochs of $((train / batch)) steps, $threads threads"
t0=$(date +%s.%N)
"$bin" train "arch:$arch" --data "npy:$d/train_images.npy,$d/train_$labels.npy" \
  --val "npy:$d/test_images.npy,$d/test_$labels.npy" --epochs "$epochs" --batch "$batch" \
  --opt adamw --lr "$lr" --schedule cosine --warmup $((steps / 50)) --hflip --threads "$threads" \
  --seed "$seed" --checkpoint "$out/model.ckpt" --out "$out/model.onnx" | tee "$out/train.log"
t1=$(date +%s.%N)
wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }')
took="after $epochs epochs; wall time $wall s ($(awk -v s="$wall" 'BEGIN { printf "%.1f", s / 60 }') min) for training and validation on $threads threads"

if [[ $task == segmenter ]]; then
  last=$(grep "^epoch $epochs/$epochs:" "$out/train.log")
  echo "held-out mIoU $(sed -n 's/.* val mIoU \([0-9.]*\).*/\1/p' <<<"$last") (pixel accuracy" \
    "$(sed -n 's/.* val accuracy \([0-9.]*\)%.*/\1/p' <<<"$last")%) on $test scenes $took"
  "$bin" segment "$out/model.onnx" "$d/test_0.png" -o "$out/overlay.png" --mask "$out/mask.png" \
    --json "$out/segment.json"
  echo "overlay: $out/overlay.png (truth: $d/test_labels.npy[0])"
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
