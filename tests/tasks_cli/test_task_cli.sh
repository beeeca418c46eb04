#!/usr/bin/env bash
# test_task_cli.sh - leancv detect / segment / textdet / evaluate end to end on small ONNX models
# whose outputs have each head's exact layout with known values (built by task_fixtures.py):
# the JSON against numpy-decoded expectations (letterbox mapping included), the drawn PNG's box
# colours at the box edges, empty results, a head that does not match the model's outputs,
# segmentation masks at and below the network size, with --flip and --scales, text quads, and evaluate's mAP / mIoU
# against the numpy references for every accepted input form.
# Usage: test_task_cli.sh LEANCV_BINARY WORK_DIR
set -u
bin=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
py="/usr/bin/python3 $here/task_fixtures.py"
rm -rf "$work" && mkdir -p "$work"
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
# run NAME ARGS...: leancv must exit 0; output kept in $work/NAME.out/.err
run() {
  local name=$1
  shift
  if "$bin" "$@" >"$work/$name.out" 2>"$work/$name.err"; then ok; else
    bad "leancv $* exited non-zero: $(cat "$work/$name.err")"; fi
}
# fails NAME PATTERN ARGS...: leancv must exit non-zero with one stderr line matching PATTERN
fails() {
  local name=$1 pattern=$2
  shift 2
  if "$bin" "$@" >"$work/$name.out" 2>"$work/$name.err"; then bad "leancv $* succeeded"; return; fi
  if [ "$(wc -l <"$work/$name.err")" -eq 1 ] && grep -Eq -- "$pattern" "$work/$name.err"; then ok; else
    bad "leancv $*: stderr is not one line matching /$pattern/: $(cat "$work/$name.err")"; fi
}
check() { if $py "$@" 2>"$work/check.err"; then ok; else bad "check $*: $(cat "$work/check.err")"; fi; }

$py make "$work" || { echo "FAIL: cannot build the fixtures" >&2; exit 1; }
img=$work/scene.png

# Every head: JSON vs expectation, class names, timings in the summary.
for head in yolov8 yolov5 ssd retinanet fcos centernet; do
  extra=()
  [ $head = retinanet ] && extra=(--priors "$work/anchors.npy")
  run "$head" detect "$work/$head.onnx" "$img" --head $head --labels "$work/labels.txt" \
    --json "$work/$head.json" -o "$work/$head.png" "${extra[@]}"
  check check-detect "$work" $head "$work/$head.json" "$work/$head.png"
  grep -Eq '^timings: pre-processing [0-9.]+ ms, network [0-9.]+ ms, post-processing [0-9.]+ ms$' \
    "$work/$head.out" && ok || bad "$head: no timing line: $(cat "$work/$head.out")"
done
grep -Eq '^ +1\. class 1 +dog +0\.900 +\[24\.0, 24\.0, 56\.0, 56\.0\]$' "$work/yolov8.out" && ok ||
  bad "yolov8 summary: $(cat "$work/yolov8.out")"

# An image smaller than the network input is scaled up into the letterbox and mapped back.
run small detect "$work/yolov8.onnx" "$work/small.png" --head yolov8 --labels "$work/labels.txt" \
  --json "$work/small.json"
check check-detect "$work" yolov8 "$work/small.json"

# JSON to stdout: the summary (and "wrote FILE") moves to stderr; stdout is exactly the JSON.
"$bin" detect "$work/yolov8.onnx" "$img" --head yolov8 --json - -o "$work/stdout.png" \
    >"$work/stdout.json" 2>"$work/stdout.err" &&
  /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert len(d['detections'])==4" \
    "$work/stdout.json" && ok || bad "--json - is not clean JSON: $(head -3 "$work/stdout.json")"

# Nothing above the threshold: a valid JSON document with an empty list.
run empty detect "$work/yolov8.onnx" "$img" --head yolov8 --conf 0.95 --json "$work/empty.json"
/usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['detections']==[], d" \
  "$work/empty.json" && ok || bad "empty detections JSON: $(cat "$work/empty.json")"
grep -q "0 detections" "$work/empty.out" && ok || bad "empty summary: $(cat "$work/empty.out")"
# --topk keeps the best ones.
run top1 detect "$work/yolov8.onnx" "$img" --head yolov8 --topk 1 --json "$work/top1.json"
/usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1]))['detections']; assert len(d)==1 and d[0]['class']==1" \
  "$work/top1.json" && ok || bad "--topk 1"

# A head that does not match the model's outputs: expected and actual shapes, non-zero exit.
fails wrong1 "head 'yolov8' expects output 0 as \[1,4\+classes,N\].*'logits' is float32 \[1,3,32,32\]" \
  detect "$work/seg.onnx" "$work/seg32.png" --head yolov8
fails wrong2 "head 'ssd' expects output 0 as box deltas \[1,P,4\].*'out' is float32 \[1,6,8\]" \
  detect "$work/yolov5.onnx" "$img" --head ssd
fails wrong2b "head 'ssd' expects output 2 as priors \[1,2,4\].*the model has 2 outputs" \
  detect "$work/retinanet.onnx" "$img" --head ssd
fails wrong3 "head 'retinanet' expects output 2 as anchors \[1,2,4\]" \
  detect "$work/retinanet.onnx" "$img" --head retinanet
fails wrong4 "head 'centernet' expects output 1 as sizes \[1,2,8,8\]" \
  detect "$work/fcos.onnx" "$img" --head centernet
fails wrong5 "expects output 0 as class logits \[1,C,h,w\]" segment "$work/yolov8.onnx" "$img"
fails wrong6 "expects output 0 as a probability map \[1,1,h,w\]" textdet "$work/seg.onnx" "$img"
fails nohead "--head is required" detect "$work/yolov8.onnx" "$img"
fails badhead "--head 'yolov9' is not one of" detect "$work/yolov8.onnx" "$img" --head yolov9
fails badconf "--conf '2' is not a number in \[0, 1\]" detect "$work/yolov8.onnx" "$img" --head yolov8 --conf 2
fails noimage "cannot open|No such file" detect "$work/yolov8.onnx" "$work/missing.png" --head yolov8

# Segmentation at the network size (exact labels) and below it (resized, bands).
run seg32 segment "$work/seg.onnx" "$work/seg32.png" --mask "$work/seg32_mask.png" \
  --json "$work/seg32.json" -o "$work/seg32_overlay.png"
check check-segment "$work" "$work/seg32.json" "$work/seg32_mask.png" 1
run bands segment "$work/seg.onnx" "$work/bands.png" --mask "$work/bands_mask.png" --json "$work/bands.json"
check check-segment "$work" "$work/bands.json" "$work/bands_mask.png" 0
# Test-time flip: the mirrored run's logits are mirrored back and added.
run segplain segment "$work/segflip.onnx" "$work/seg32.png" --mask "$work/segflip0.png"
run segflip segment "$work/segflip.onnx" "$work/seg32.png" --flip --mask "$work/segflip1.png" \
  --json "$work/segflip.json"
check check-segment-flip "$work" "$work/segflip0.png" "$work/segflip1.png" "$work/segflip.json"
run segflipnhwc segment "$work/segflip_nhwc.onnx" "$work/seg32.png" --nhwc --flip \
  --mask "$work/segflip2.png" --json "$work/segflip2.json"
check check-segment-flip "$work" "$work/segflip0.png" "$work/segflip2.png" "$work/segflip2.json"
# Multi-scale inference: the model's 16x16 input freed, runs at 16x16 and 32x32 summed.
run segms1 segment "$work/segms.onnx" "$work/blocks32.png" --flip --mask "$work/segms1.png"
run segms2 segment "$work/segms.onnx" "$work/blocks32.png" --flip --scales 1,2 \
  --mask "$work/segms2.png" --json "$work/segms2.json"
check check-segment-scales "$work" "$work/segms1.png" "$work/segms2.png" "$work/segms2.json"
fails badscales "--scales '1,0' is not a list of 1 to 8 numbers in \(0, 8\]" segment \
  "$work/segms.onnx" "$work/blocks32.png" --scales 1,0
fails tinyscale "scale 0.01 of the 16x16 input gives no usable network size" segment \
  "$work/segms.onnx" "$work/blocks32.png" --scales 1,0.01

# Text detection.
run text textdet "$work/text.onnx" "$work/bands.png" --json "$work/text.json" -o "$work/text.png"
check check-textdet "$work" "$work/text.json" "$work/text.png"

# evaluate: detection in three input forms, all against the numpy reference.
$py make-eval "$work" || bad "cannot build the evaluation fixtures"
ev=$work/eval
run ev_dir evaluate --pred "$ev/pred" --gt "$ev/gt" --classes 4 --json "$ev/r_dir.json"
check check-eval "$work" detect "$ev/r_dir.json"
run ev_flat evaluate --pred "$ev/pred_flat.json" --gt "$ev/gt_list.json" --json "$ev/r_flat.json"
check check-eval "$work" detect "$ev/r_flat.json"
run ev_cap evaluate --pred "$ev/pred_flat.json" --gt "$ev/gt" --max-det 2 --json "$ev/r_cap.json"
check check-eval "$work" detect2 "$ev/r_cap.json"
grep -q "^note: 1 detections on 1 images without ground truth" "$work/ev_flat.out" && ok ||
  bad "no note on the image without ground truth: $(cat "$work/ev_flat.out")"
grep -Eq '^mAP@\[\.5:\.95\]: 0\.[0-9]{4}$' "$work/ev_dir.out" && ok || bad "evaluate summary: $(cat "$work/ev_dir.out")"
# detect's own JSON against itself: a perfect score.
run ev_self evaluate --pred "$work/yolov8.json" --gt "$work/yolov8.json" --json "$ev/r_self.json"
check check-eval "$work" perfect "$ev/r_self.json"
# segmentation
run ev_seg evaluate --task segment --pred "$ev/seg_pred" --gt "$ev/seg_gt" --classes 4 --json "$ev/r_seg.json"
check check-eval "$work" segment "$ev/r_seg.json"
grep -Eq '^mIoU: 0\.[0-9]{4}$' "$work/ev_seg.out" && ok || bad "mIoU line: $(cat "$work/ev_seg.out")"
# errors
printf '{"detections": [\n  {"box": [1, 2, 3], "class": 0}\n]}' >"$ev/bad_box.json"
fails ev_badbox "bad_box.json: record 0 needs \"box\"" evaluate --pred "$ev/pred_flat.json" --gt "$ev/bad_box.json"
printf '{"detections": [\n  {"box": [1, 2, 3, 4], "class": 0},\n  oops\n]}' >"$ev/bad_syntax.json"
fails ev_syntax "bad_syntax.json: line 3: expected a value" evaluate --pred "$ev/bad_syntax.json" --gt "$ev/gt_list.json"
fails ev_noscore "detection 0 needs a numeric \"score\"" evaluate --pred "$ev/gt_list.json" --gt "$ev/gt_list.json"
fails ev_classes "class 3 found, but --classes is 2" evaluate --pred "$ev/pred_flat.json" --gt "$ev/gt_list.json" --classes 2
fails ev_segcls "pixel [0-9]+ has (ground-truth|predicted) label 3, outside 0..2" evaluate --task segment --pred "$ev/seg_pred" --gt "$ev/seg_gt" --classes 3 --ignore -1
fails ev_nodir "cannot open directory" evaluate --task segment --pred "$ev/nothing" --gt "$ev/nothing" --classes 3
for c in detect segment textdet evaluate; do
  "$bin" $c --help >"$work/help.out" 2>&1 && grep -q "^usage: leancv $c" "$work/help.out" && ok || bad "$c --help"
done

echo "test_task_cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
