#!/usr/bin/env bash
# quant_fixtures.sh - accuracy fixtures for post-training quantization: trains resnet8 and
# mobilenetv2-tiny on Fashion-MNIST with `leancv train`, quantizes each with every calibrator,
# per channel and per tensor, with min-max plus bias correction and cross-layer equalization,
# with entropy and its most sensitive layer kept in float, and to bf16 weights, evaluates all
# on the test set, and writes the table into its own section of docs/QUANTIZATION.md (between
# the quant-fixtures markers).
#
# Usage: scripts/quant_fixtures.sh [--epochs N] [--limit N] [--eval-limit N] [--calib N]
#          [--threads N] [--build DIR] [--data DIR] [--work DIR] [--doc FILE | --no-doc]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
data=/usr/share/datasets/fashion-mnist
epochs=5 limit=0 eval_limit=0 calib=500 threads=2 work="" doc=$root/docs/QUANTIZATION.md
archs="resnet8 mobilenetv2-tiny"
methods="minmax percentile entropy mse"

die() { echo "quant_fixtures.sh: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
    case $1 in
        --epochs) epochs=$2; shift 2 ;;
        --limit) limit=$2; shift 2 ;;
        --eval-limit) eval_limit=$2; shift 2 ;;
        --calib) calib=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --build) build=$2; shift 2 ;;
        --data) data=$2; shift 2 ;;
        --work) work=$2; shift 2 ;;
        --doc) doc=$2; shift 2 ;;
        --no-doc) doc=""; shift ;;
        -h|--help) sed -n 2,10p "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
cli=$build/leancv
[ -x "$cli" ] || die "$cli not found: build leancv first (make)"
train_spec=idx:$data/train-images-idx3-ubyte.gz,$data/train-labels-idx1-ubyte.gz
test_spec=idx:$data/t10k-images-idx3-ubyte.gz,$data/t10k-labels-idx1-ubyte.gz
for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz \
         t10k-labels-idx1-ubyte.gz; do
    [ -f "$data/$f" ] || die "$data/$f missing (--data DIR: the Fashion-MNIST IDX files)"
done
if [ -z "$work" ]; then
    work=$(mktemp -d -t quant_fixtures.XXXXXX)
    trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"

limit_args=() eval_args=()
[ "$limit" -gt 0 ] && limit_args=(--limit "$limit")
[ "$eval_limit" -gt 0 ] && eval_args=(--limit "$eval_limit")

# Accuracy in percent, parsed from eval's "accuracy: 93.00% (186 / 200)" line.
accuracy() {
    local out
    out=$("$cli" eval "$1" --data "$test_spec" --threads "$threads" "${eval_args[@]}") ||
        die "eval of $1 failed"
    sed -n 's/^accuracy: \([0-9.]*\)%.*/\1/p' <<<"$out" | head -n 1
}

# Difference to fp32 in percentage points, signed.
delta() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.2f", a - b }'; }

# row ARCH FP32_MODEL FP32_ACC LABEL QUANTIZE_OPTIONS...: quantizes, evaluates, adds a row.
row() {
    local arch=$1 fp32=$2 base=$3 label=$4 q
    shift 4
    q=$work/$arch.$(tr -c 'a-z0-9\n' '_' <<<"$label" | head -c 80).onnx
    "$cli" quantize "$fp32" -o "$q" --calib "$train_spec" --limit "$calib" --threads "$threads" \
        "$@" >&2
    a=$(accuracy "$q")
    echo "== $arch $label: $a%" >&2
    echo "| $arch | $label | $a | $(delta "$a" "$base") |" >>"$table"
}

table=$work/table.md
{
    echo "| model | variant | top-1 % | vs fp32 (pp) |"
    echo "|---|---|---|---|"
} >"$table"
for arch in $archs; do
    fp32=$work/$arch.onnx
    echo "== $arch: training $epochs epoch(s)" >&2
    "$cli" train "$arch" --data "$train_spec" --epochs "$epochs" --threads "$threads" \
        --opt adamw --lr 0.002 --schedule cosine --seed 1 "${limit_args[@]}" --out "$fp32" >&2
    base=$(accuracy "$fp32")
    echo "| $arch | fp32 | $base | - |" >>"$table"
    for m in $methods; do
        for gran in per-channel per-tensor; do
            q=$work/$arch.$m.$gran.onnx
            extra=()
            [ "$gran" = per-tensor ] && extra=(--per-tensor)
            "$cli" quantize "$fp32" -o "$q" --calib "$train_spec" --limit "$calib" --method "$m" \
                "${extra[@]}" --threads "$threads" >&2
            a=$(accuracy "$q")
            echo "== $arch int8 $m $gran: $a%" >&2
            echo "| $arch | int8 $m, $gran | $a | $(delta "$a" "$base") |" >>"$table"
        done
    done
    # Min-max with bias correction and cross-layer equalization; the ReLU6 variants only where
    # the model has ReLU6 links (they turn into Relu: the float row shows what that costs).
    extras=("--bias-correction" "--equalize" "--equalize --bias-correction")
    if [ "$arch" = mobilenetv2-tiny ]; then
        extras+=("--equalize-relu6" "--equalize-relu6 --bias-correction")
        row "$arch" "$fp32" "$base" "fp32, --equalize-relu6 (no layer quantized)" \
            --equalize-relu6 --keep-float-pattern '*'
    fi
    for gran in per-channel per-tensor; do
        extra=()
        [ "$gran" = per-tensor ] && extra=(--per-tensor)
        for x in "${extras[@]}"; do
            # shellcheck disable=SC2086 # $x holds several options
            row "$arch" "$fp32" "$base" "int8 minmax, $gran, $x" --method minmax "${extra[@]}" $x
        done
    done
    # The entropy calibrator clips some layers hard; keeping the most sensitive one in float.
    row "$arch" "$fp32" "$base" "int8 entropy, per-channel, --keep-float 1" --method entropy \
        --keep-float 1
    "$cli" quantize "$fp32" -o "$work/$arch.bf16.onnx" --dtype bf16 >&2
    a=$(accuracy "$work/$arch.bf16.onnx")
    echo "| $arch | bf16 weights | $a | $(delta "$a" "$base") |" >>"$table"
done
cat "$table"
[ -n "$doc" ] || exit 0

section=$work/section.md
{
    echo "<!-- quant-fixtures:begin (generated by scripts/quant_fixtures.sh; rerun, do not edit) -->"
    echo "## Accuracy fixtures"
    echo
    echo "resnet8 and mobilenetv2-tiny trained with \`leancv train\` on Fashion-MNIST"
    echo "($epochs epoch(s), AdamW, cosine, seed 1, $([ "$limit" -gt 0 ] && echo "first $limit" || echo all)"
    echo "training images), then quantized with each calibrator ($calib training images) and"
    echo "evaluated on $([ "$eval_limit" -gt 0 ] && echo "the first $eval_limit" || echo "all 10000") test images."
    echo "Command: \`scripts/quant_fixtures.sh --epochs $epochs --limit $limit --eval-limit $eval_limit --calib $calib\`."
    if [ "$limit" -gt 0 ] || [ "$eval_limit" -gt 0 ]; then
        echo "A reduced run: the script's defaults (5 epochs, all training and test images) give"
        echo "the reference figures."
    fi
    echo
    cat "$table"
    echo "<!-- quant-fixtures:end -->"
} >"$section"
# Replace the old section when there is one, else append: the rest of the file is left alone.
awk -v sec="$section" '
    /<!-- quant-fixtures:begin/ { while ((getline l < sec) > 0) print l; skip = 1; done = 1; next }
    /<!-- quant-fixtures:end -->/ { skip = 0; next }
    !skip { print }
    END { if (!done) { print ""; while ((getline l < sec) > 0) print l } }
' "$doc" >"$work/doc.md"
cp "$work/doc.md" "$doc"
echo "wrote the accuracy fixtures section of $doc" >&2
