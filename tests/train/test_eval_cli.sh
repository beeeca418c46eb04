#!/usr/bin/env bash
# test_eval_cli.sh - `leancv eval`'s report: accuracy, the confusion matrix (rows true class,
# columns predicted, row sums = samples per class, diagonal sum = correct) and per-class
# accuracy, with class names from --labels; the same on an npy data set holding the same
# images; bad --labels files and labels outside the model's classes fail with one line.
# Usage: test_eval_cli.sh LEANCV_BINARY WORK_DIR
set -u
bin=$1
work=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
model=$root/models/fashion_cnn.onnx
labels=$root/models/fashion_labels.txt
data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
idx="idx:$data/t10k-images-idx3-ubyte.gz,$data/t10k-labels-idx1-ubyte.gz"
rm -rf "$work" && mkdir -p "$work"
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

if ! "$bin" eval "$model" --data "$idx" --limit 300 --batch 64 --labels "$labels" \
    >"$work/a.out" 2>"$work/a.err"; then
  echo "FAIL: leancv eval: $(cat "$work/a.err")" >&2
  exit 1
fi
cat "$work/a.out"
# Parse: accuracy line, the 10 matrix rows, the 10 per-class rows; check they agree.
awk -v names="$labels" '
BEGIN { while ((getline l < names) > 0) name[n++] = l }
/^accuracy: / { correct = substr($3, 2) + 0 }
/^confusion matrix \(rows: true class, columns: predicted\):/ { sec = 1; next }
/^per-class accuracy:/ { sec = 2; next }
sec == 1 && $1 ~ /^[0-9]+$/ && NF >= 11 {
  t = $1; rows++; s = 0
  for (p = 0; p < 10; p++) { c[t, p] = $(p + 2); s += $(p + 2) }
  rowsum[t] = s; diag += c[t, t]; all += s
  rest = substr($0, 69) # 11 columns of %6d, then two spaces and the name
  if (rest != name[t]) { print "row " t " is named \"" rest "\", not \"" name[t] "\""; bad++ }
}
sec == 2 && $1 ~ /^[0-9]+$/ {
  t = $1; pcs++; okc = substr($3, 2) + 0; tot = $5 + 0
  if (okc != c[t, t] || tot != rowsum[t]) { print "class " t ": per-class " okc "/" tot " vs matrix " c[t, t] "/" rowsum[t]; bad++ }
  want = tot ? sprintf("%.2f%%", 100 * okc / tot) : ""
  if ($2 != want) { print "class " t ": " $2 " is not " want; bad++ }
}
END {
  if (rows != 10 || pcs != 10) { print "expected 10 matrix rows and 10 per-class rows, got " rows " and " pcs; bad++ }
  if (all != 300 || diag != correct) { print "matrix total " all " (want 300), diagonal " diag " vs correct " correct; bad++ }
  exit bad != 0
}' "$work/a.out" >"$work/check.txt" && ok || bad "report inconsistent: $(cat "$work/check.txt")"
acc=$(sed -n 's/^accuracy: \([0-9.]*\)%.*/\1/p' "$work/a.out")
awk -v a="$acc" 'BEGIN { exit !(a >= 85) }' && ok || bad "accuracy '$acc' of the bundled model is below 85%"

# Without --labels: rows carry no names.
"$bin" eval "$model" --data "$idx" --limit 50 >"$work/b.out" 2>&1 && ok || bad "eval without --labels"
grep -Eq '^ +9( +[0-9]+){10}$' "$work/b.out" && ok || bad "unnamed matrix row: $(cat "$work/b.out")"

# The same 300 images as npy (uint8 [N, 28, 28], int64 labels): the identical report.
/usr/bin/python3 - "$data" "$work" <<'EOF' && ok || bad "cannot write the npy set"
import gzip, sys
import numpy as np
d, w = sys.argv[1], sys.argv[2]
x = np.frombuffer(gzip.open(d + "/t10k-images-idx3-ubyte.gz").read()[16:], np.uint8)
y = np.frombuffer(gzip.open(d + "/t10k-labels-idx1-ubyte.gz").read()[8:], np.uint8)
np.save(w + "/x.npy", x.reshape(-1, 28, 28)[:300])
np.save(w + "/y.npy", y[:300].astype(np.int64))
y7 = y[:300].astype(np.int64)
y7[17] = 12
np.save(w + "/y12.npy", y7)
EOF
"$bin" eval "$model" --data "npy:$work/x.npy,$work/y.npy" --batch 64 --labels "$labels" \
  >"$work/n.out" 2>&1 && ok || bad "eval on npy: $(cat "$work/n.out")"
diff <(sed -n '/^accuracy/p; /^confusion/,$p' "$work/a.out") \
  <(sed -n '/^accuracy/p; /^confusion/,$p' "$work/n.out") >/dev/null && ok ||
  bad "npy report differs from the IDX one"

# expect_fail PATTERN ARGS...: non-zero exit, exactly one stderr line "leancv eval: ..." matching.
expect_fail() {
  local pattern=$1
  shift
  if "$bin" eval "$@" >"$work/out" 2>"$work/err"; then bad "'eval $*' should fail"; return; fi
  if [[ $(wc -l <"$work/err") -ne 1 ]] || ! grep -Eq -- "^leancv eval: .*$pattern" "$work/err"; then
    bad "'eval $*': '$(cat "$work/err")' does not match '$pattern'"
  else
    ok
  fi
}
head -n 9 "$labels" >"$work/nine.txt"
{ cat "$labels"; echo extra; } >"$work/eleven.txt"
printf 'a\0b\n' >"$work/nul.txt"
expect_fail "labels file '$work/nine.txt' has 9 lines, the model predicts 10 classes" \
  "$model" --data "$idx" --limit 10 --labels "$work/nine.txt"
expect_fail "'$work/eleven.txt' has more than 10 lines" "$model" --data "$idx" --limit 10 \
  --labels "$work/eleven.txt"
expect_fail "'$work/nul.txt' is not text" "$model" --data "$idx" --limit 10 --labels "$work/nul.txt"
expect_fail "cannot open labels file '$work/none.txt'" "$model" --data "$idx" --limit 10 \
  --labels "$work/none.txt"
expect_fail 'sample 17 has label 12, outside the model.s 10 classes' "$model" \
  --data "npy:$work/x.npy,$work/y12.npy"
expect_fail "is not idx:IMAGES,LABELS, npy:X.npy,Y.npy or folder:DIR" "$model" --data "x.npy"

echo "test_eval_cli: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
