#!/usr/bin/env bash
# Installs the Debian packages leancv's build, demo and tests need, only those missing
# (idempotent, a no-op once everything is there), then ONNX Runtime for node into
# bench/node_modules (the benchmarks and the trained-model check in tests/train use it) unless
# it already loads. Needs root to install packages; otherwise it lists what is missing and fails.
set -euo pipefail
packages=(build-essential cmake clang libclang-rt-14-dev pkg-config libpng-dev libjpeg-dev
          zlib1g-dev libonnx-testdata dataset-fashion-mnist python3 python3-numpy python3-torch
          python3-torchvision python3-onnx libopenblas0-openmp
          gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)
# node and npm: Debian's packages unless both commands are there already (e.g. NodeSource's
# nodejs, which bundles npm and conflicts with Debian's npm package).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then packages+=(nodejs npm); fi
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "leancv needs these Debian packages: ${missing[*]}" >&2
        echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# onnxruntime-node, pinned by bench/package-lock.json; CPU only (no CUDA download).
bench="$(cd "$(dirname "$0")/.." && pwd)/bench"
if ! node -e "require('$bench/node_modules/onnxruntime-node')" >/dev/null 2>&1; then
    echo "installing onnxruntime-node into $bench/node_modules"
    ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm ci --prefix "$bench" --no-audit --no-fund
fi
