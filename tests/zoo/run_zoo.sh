#!/bin/sh
# run_zoo.sh - the zoo CTest: exports the model zoo with PyTorch when any of its files is
# missing (scripts/export_zoo.py skips models already there), then runs zoo_check over it.
# Usage: run_zoo.sh ZOO_DIR ZOO_CHECK EXPORT_SCRIPT
# Exits 77 (CTest skip) when the zoo is incomplete and PyTorch is not available to make it.
set -u
zoo_dir=$1
zoo_check=$2
export_script=$3
python=/usr/bin/python3
models="mobilenet_v2 mobilenet_v3_small mobilenet_v3_large shufflenet_v2_x1_0 squeezenet1_1
resnet18 resnet50 efficientnet_b0 convnext_tiny vit_b_16"

missing=0
for m in $models; do
  for f in "$m.onnx" "$m.input.npy" "$m.output.npy"; do
    [ -f "$zoo_dir/$f" ] || missing=1
  done
done
if [ "$missing" = 1 ]; then
  if ! "$python" -c "import torch, torchvision, onnx" >/dev/null 2>&1; then
    echo "run_zoo: zoo incomplete in $zoo_dir and $python lacks torch/torchvision/onnx; skipped"
    exit 77
  fi
  echo "run_zoo: exporting the zoo into $zoo_dir"
  "$python" "$export_script" "$zoo_dir" || exit 1
fi
exec "$zoo_check" "$zoo_dir"
