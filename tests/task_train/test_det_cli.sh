#!/usr/bin/env bash
# test_det_cli.sh - detection end to end through the CLI on a few tiny synthetic scenes
# (scripts/synth_fashion.py at 48x48): `leancv train arch:fcos-tiny` on the boxes with --hflip
# and --pad-crop for three epochs (the loss must fall, validation must report mAP in [0, 1],
# the model is written), a rerun must give the same epoch lines (determinism), bad combinations
# (a detector on label maps, boxes for a classifier, a head layout that does not fit) are
# refused with messages, and `leancv detect` finds boxes in a held-out PNG, draws them and
# writes JSON that `leancv evaluate` scores against the generator's ground truth.
# Usage: test_det_cli.sh LEANCV_BINARY WORK_DIR
set -u
bin=$1
work=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$work" && mkdir -p "$work"
. "$(dirname "$0")/cli_lib.sh"

scenes 48 96 8 16 32 2
d=$work/data
train_checked fcos-tiny boxes "built arch:fcos-tiny for 1x48x48 images and 10 classes" \
  "$work/det.onnx" --batch 8 --opt adamw --lr 0.004 --hflip --pad-crop 3 --threads 2 --seed 3
map=$(grep "^epoch 3/3:" "$work/train.out" | sed -n 's/.* val mAP@0.5 \([0-9.]*\) .*/\1/p')
[[ -n $map ]] || fail "validation printed no mAP"
awk -v m="$map" 'BEGIN { exit !(m >= 0 && m <= 1) }' || fail "mAP $map outside [0, 1]"
grep -q "train accuracy" "$work/train.out" && fail "a detector reported an accuracy"

# refusals: a detector on label maps; boxes for a classifier; a classifier read as fcos
"$bin" train "$work/det.onnx" --data "npy:$d/train_images.npy,$d/train_labels.npy" --batch 8 \
  >"$work/bad1.out" 2>&1 && fail "a detector trained on label maps"
grep -q "need label maps \[8, 6, 6\], got maps of another size" "$work/bad1.out" ||
  fail "unclear message: $(cat "$work/bad1.out")"
"$bin" train arch:resnet8 --data "npy:$d/train_images.npy,$d/train_boxes.npy" --batch 8 \
  >"$work/bad2.out" 2>&1 && fail "a classifier trained on boxes"
grep -q "boxes need a detection head's output \[N, classes + 5, H / s, W / s\]" \
  "$work/bad2.out" || fail "unclear message: $(cat "$work/bad2.out")"
"$bin" build resnet8 -o "$work/cls.onnx" --input 1x48x48 --classes 10 >/dev/null 2>&1 ||
  fail "could not build a classifier to misuse"
"$bin" detect "$work/cls.onnx" "$d/test_0.png" --head fcos >"$work/bad3.out" 2>&1 &&
  fail "a classifier was decoded as fcos"
grep -qF "[1,C+5,h,w]" "$work/bad3.out" && grep -qF "float32 [1,10]" "$work/bad3.out" ||
  fail "unclear message: $(cat "$work/bad3.out")"

# leancv detect on the held-out images, then leancv evaluate against the ground truth
mkdir -p "$work/pred"
for i in 0 1 2 3 4 5 6 7; do
  "$bin" detect "$work/det.onnx" "$d/test_$i.png" --head fcos --conf 0.05 --iou 0.5 \
    --json "$work/pred/test_$i.json" -o "$work/det_$i.png" >"$work/detect_$i.out" 2>&1 ||
    fail "leancv detect: $(cat "$work/detect_$i.out")"
done
cat "$work/detect_0.out"
head -c 8 "$work/det_0.png" | od -An -c | grep -q "P   N   G" || fail "det_0.png is not a PNG"
grep -q '"head": "fcos"' "$work/pred/test_0.json" || fail "no results JSON"
"$bin" evaluate --pred "$work/pred" --gt "$d/test_gt.json" --classes 10 >"$work/eval.out" 2>&1 ||
  fail "leancv evaluate: $(cat "$work/eval.out")"
cat "$work/eval.out"
grep -q "^detection: 8 images with ground truth" "$work/eval.out" ||
  fail "evaluate did not match the images: $(head -1 "$work/eval.out")"
echo "test_det_cli: passed"
