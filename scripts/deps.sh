#!/usr/bin/env bash
# Installs the Debian packages leancv's build, demo and tests need, only those missing
# (idempotent, a no-op once everything is there). Needs root to install; otherwise it lists
# what is missing and fails.
set -euo pipefail
packages=(build-essential cmake clang libclang-rt-14-dev pkg-config libpng-dev libjpeg-dev
          zlib1g-dev libonnx-testdata dataset-fashion-mnist python3 python3-numpy python3-torch
          python3-torchvision python3-onnx libopenblas0-openmp
          gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "leancv needs these Debian packages: ${missing[*]}" >&2
    echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
