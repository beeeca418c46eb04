#!/usr/bin/env bash
# cli_bad_inputs.sh - every crafted bad file in tests/bad_inputs/ fed to the CLI the way a user
# would (models to `leancv info`, arrays and images to `leancv run` on the demo model): each
# must exit with status 1 (not a crash signal) and print a one-line error naming the file.
# Usage: cli_bad_inputs.sh LEANCV_BINARY REPO_ROOT
set -u
leancv=$1
root=$2
dir=$root/tests/bad_inputs
model=$root/models/fashion_cnn.onnx
pass=0
fail=0
while IFS=$'\t' read -r file status substr; do
    case "$file" in '#'* | '') continue ;; esac
    case "$file" in
        *.onnx) args=(info "$dir/$file") ;;
        *) args=(run "$model" --input "$dir/$file") ;;
    esac
    err=$("$leancv" "${args[@]}" 2>&1 >/dev/null)
    rc=$?
    if [ "$rc" -eq 1 ] && [ -n "$err" ] && echo "$err" | grep -qF "$file"; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL $file: exit $rc, stderr: $err"
    fi
done < "$dir/expected.txt"
echo "cli_bad_inputs: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
