#!/usr/bin/env bash
# test_seg_cli.sh - segmentation end to end through the CLI on a few tiny synthetic scenes
# (scripts/synth_fashion.py at 32x32): `leancv train arch:segnet-tiny` on the label maps with
# --hflip and --pad-crop for three epochs (the loss must fall from the first epoch to the last,
# validation must report pixel accuracy and an mIoU in [0, 1], the model is written), a rerun
# must give the same epoch lines (determinism), bad combinations (a segmenter on one label per
# image, its distillation, `leancv eval` of label maps) are refused with messages,
# `leancv segment` labels a held-out PNG and writes the overlay and mask PNGs, and --init
# starts a run from the trained model.
# Usage: test_seg_cli.sh LEANCV_BINARY WORK_DIR
set -u
bin=$1
work=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$work" && mkdir -p "$work"
. "$(dirname "$0")/cli_lib.sh"

scenes 32 64 16 12 28 1
d=$work/data
train_checked segnet-tiny labels "built arch:segnet-tiny for 1x32x32 images and 11 classes" \
  "$work/seg.onnx" --batch 8 --opt adamw --lr 0.01 --hflip --pad-crop 2 --threads 2 --seed 3
miou=$(grep "^epoch 3/3:" "$work/train.out" | sed -n 's/.* val mIoU \([0-9.]*\).*/\1/p')
[[ -n $miou ]] || fail "validation printed no mIoU"
awk -v m="$miou" 'BEGIN { exit !(m >= 0 && m <= 1) }' || fail "mIoU $miou outside [0, 1]"
grep "^epoch 3/3:" "$work/train.out" | grep -q "val accuracy [0-9.]*%" || fail "no pixel accuracy"

# refusals: a segmenter with one label per image; distillation of a segmenter
/usr/bin/python3 - "$d" <<'PY' || fail "cannot write the class labels"
import sys
import numpy as np
np.save(sys.argv[1] + "/class_labels.npy", (np.arange(64) % 3).astype(np.int64))
PY
"$bin" train "$work/seg.onnx" --data "npy:$d/train_images.npy,$d/class_labels.npy" --batch 8 \
  >"$work/bad1.out" 2>&1 && fail "a segmenter trained on one label per image"
grep -q "need label maps \[8, 32, 32\], got one label per image" "$work/bad1.out" ||
  fail "unclear message: $(cat "$work/bad1.out")"
"$bin" distill --student "$work/seg.onnx" --teacher "$work/seg.onnx" \
  --data "npy:$d/train_images.npy,$d/train_labels.npy" --batch 8 >"$work/bad2.out" 2>&1 &&
  fail "distillation of a segmenter was accepted"
grep -q "distillation needs logits \[N, classes\]" "$work/bad2.out" ||
  fail "unclear message: $(cat "$work/bad2.out")"

# --init: the trained segmenter starts another run with all its weights; a missing file fails
"$bin" train arch:segnet-tiny --data "npy:$d/train_images.npy,$d/train_labels.npy" --batch 8 \
  --init "$work/seg.onnx" >"$work/init.out" 2>&1 || fail "--init: $(cat "$work/init.out")"
grep -q "^initialised [1-9][0-9]* tensors (parameters and running statistics) from $work/seg.onnx" \
  "$work/init.out" || fail "--init printed: $(cat "$work/init.out")"
"$bin" train arch:segnet-tiny --data "npy:$d/train_images.npy,$d/train_labels.npy" --batch 8 \
  --init "$work/none.onnx" >"$work/bad4.out" 2>&1 && fail "--init of a missing file was accepted"
grep -q "none.onnx" "$work/bad4.out" || fail "unclear message: $(cat "$work/bad4.out")"

"$bin" eval "$work/seg.onnx" --data "npy:$d/test_images.npy,$d/test_labels.npy" \
  >"$work/bad3.out" 2>&1 && fail "leancv eval took label maps"
grep -q "has label maps (segmentation)" "$work/bad3.out" || fail "unclear: $(cat "$work/bad3.out")"

# leancv segment on a held-out image
"$bin" segment "$work/seg.onnx" "$d/test_0.png" -o "$work/overlay.png" --mask "$work/mask.png" \
  >"$work/segment.out" 2>&1 || fail "leancv segment: $(cat "$work/segment.out")"
cat "$work/segment.out"
for f in overlay mask; do
  head -c 8 "$work/$f.png" | od -An -c | grep -q "P   N   G" || fail "$f.png is not a PNG"
done
echo "test_seg_cli: passed"
