#!/usr/bin/env bash
# demo.sh - the Fashion-MNIST demo (`make demo`): classifies each sample image in
# models/fashion_samples with the leancv CLI (top-3 labels, probabilities, latency), then
# evaluates the model on the 10,000 test images and prints the accuracy.
# Usage: scripts/demo.sh [BUILD_DIR]   (default: build; or set LEANCV=/path/to/leancv)
#        FASHION_MNIST_DIR overrides /usr/share/datasets/fashion-mnist.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
bin=${LEANCV:-$build/leancv}
data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
model=$root/models/fashion_cnn.onnx
labels=$root/models/fashion_labels.txt

if [[ ! -x $bin ]]; then
  echo "demo: leancv binary not found at $bin (build first, or pass the build dir)" >&2
  exit 1
fi

echo "== leancv $("$bin" --version | cut -d' ' -f2): Fashion-MNIST demo"
echo "model: $model"
echo
for img in "$root"/models/fashion_samples/*.png; do
  name=$(basename "$img" .png)
  echo "-- $name.png (true label: ${name#*_})"
  "$bin" run "$model" --input "$img" --topk 3 --labels "$labels" | grep -v "^output '"
done

echo
echo "-- test set"
"$bin" eval "$model" --batch 100 \
  --data "idx:$data/t10k-images-idx3-ubyte.gz,$data/t10k-labels-idx1-ubyte.gz"
