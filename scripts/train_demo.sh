#!/usr/bin/env bash
# train_demo.sh - retrains the demo classifier (make demo) with leancv itself: exports the
# untrained net of scripts/train_demo.py (seeded), trains it with `leancv train` on
# Fashion-MNIST, evaluates it and the current models/fashion_cnn.onnx on the full test set with
# `leancv eval`, and writes the new model to models/fashion_cnn.onnx only when its test accuracy
# is at least the current one's (the current model is kept otherwise; both figures printed).
# Usage: scripts/train_demo.sh [BUILD_DIR]
# Environment: EPOCHS (12), THREADS (2), WORK (BUILD_DIR/train_demo), MODELS (models/: where
# fashion_cnn.onnx is compared and replaced), FASHION_MNIST_DIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
epochs=${EPOCHS:-12}
threads=${THREADS:-2}
work=${WORK:-$build/train_demo}
data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
models=${MODELS:-$here/../models}
[[ -x $build/leancv ]] || { echo "no leancv binary in $build (build first)" >&2; exit 1; }
mkdir -p "$work"
train="idx:$data/train-images-idx3-ubyte.gz,$data/train-labels-idx1-ubyte.gz"
test="idx:$data/t10k-images-idx3-ubyte.gz,$data/t10k-labels-idx1-ubyte.gz"

/usr/bin/python3 "$here/train_demo.py" --export-untrained "$work/untrained.onnx"
# AdamW with a short warm-up and cosine decay (PyTorch's recipe in train_demo.py is Adam with a
# one-cycle schedule peaking at 4e-3), horizontal flips; inputs are pixels / 255 as the demo
# and `leancv eval` feed them.
"$build/leancv" train "$work/untrained.onnx" --data "$train" --val "$test" \
  --epochs "$epochs" --batch 128 --opt adamw --lr 4e-3 --wd 1e-4 --schedule cosine \
  --warmup 300 --hflip --seed 0 --threads "$threads" --checkpoint "$work/demo.ckpt" \
  --out "$work/fashion_cnn.onnx"

acc_of() {
  "$build/leancv" eval "$1" --data "$test" --batch 500 --threads "$threads" |
    sed -n 's/^accuracy: \([0-9.]*\)%.*/\1/p'
}
new=$(acc_of "$work/fashion_cnn.onnx")
old=$(acc_of "$models/fashion_cnn.onnx")
echo "test accuracy: leancv-trained $new%, current models/fashion_cnn.onnx $old%"
if awk -v a="$new" -v b="$old" 'BEGIN { exit !(a >= b) }'; then
  cp "$work/fashion_cnn.onnx" "$models/fashion_cnn.onnx"
  echo "wrote models/fashion_cnn.onnx (trained by leancv)"
else
  echo "kept the current models/fashion_cnn.onnx (more accurate); the new one is $work/fashion_cnn.onnx"
fi
