# cli_lib.sh - what test_seg_cli.sh and test_det_cli.sh share (sourced; needs $bin, $work,
# $root): fail, tiny synthetic scenes, and a three-epoch `leancv train` of a named architecture
# whose loss must fall, which must write its model, and whose rerun must print the same epoch
# lines (training is deterministic).

fail() { echo "FAIL: $*" >&2; exit 1; }

# scenes SIZE TRAIN TEST MIN_SCALE MAX_SCALE SEED: scenes of SIZE x SIZE in $work/data, with
# every held-out image as a PNG
scenes() {
  /usr/bin/python3 "$root/scripts/synth_fashion.py" "$work/data" --train "$2" --test "$3" \
    --size "$1" --min-scale "$4" --max-scale "$5" --seed "$6" --png "$3" >"$work/synth.out" 2>&1 ||
    fail "synth_fashion.py: $(cat "$work/synth.out")"
}

# train_checked ARCH LABELS BUILT MODEL [train options...]: trains ARCH on $work/data's
# train_LABELS.npy (validation on test_LABELS.npy) into MODEL; BUILT is the expected "built"
# line. Leaves the output in $work/train.out.
train_checked() {
  local arch=$1 labels=$2 built=$3 model=$4
  shift 4
  local d=$work/data
  local args=(train "arch:$arch" --data "npy:$d/train_images.npy,$d/train_$labels.npy"
              --val "npy:$d/test_images.npy,$d/test_$labels.npy" --epochs 3 "$@")
  "$bin" "${args[@]}" --out "$model" >"$work/train.out" 2>"$work/train.err" ||
    fail "leancv train: $(tail -3 "$work/train.err")"
  cat "$work/train.out"
  grep -qF "$built" "$work/train.out" || fail "the model was not built for the data set"
  grep -q "^wrote $model" "$work/train.out" || fail "no model written"
  local first last
  first=$(grep "^epoch 1/3:" "$work/train.out" | sed 's/.*: loss \([0-9.]*\) .*/\1/')
  last=$(grep "^epoch 3/3:" "$work/train.out" | sed 's/.*: loss \([0-9.]*\) .*/\1/')
  [[ -n $first && -n $last ]] || fail "no epoch lines"
  awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a) }' ||
    fail "the loss did not fall: epoch 1 $first, epoch 3 $last"
  "$bin" "${args[@]}" >"$work/again.out" 2>/dev/null || fail "second leancv train failed"
  diff <(grep '^epoch' "$work/train.out" | sed 's/ (.*//') \
       <(grep '^epoch' "$work/again.out" | sed 's/ (.*//') >/dev/null ||
    fail "two identical runs differ"
}
