#!/usr/bin/env bash
# Builds every libFuzzer target tests/fuzz/fuzz_<name>.c with clang and runs each for the given
# number of seconds (default 60) on its seed corpus tests/fuzz/corpus_<name>/ (fuzz_model
# shares corpus_onnx; fuzz_checkpoint writes its own seed). A crash, leak or sanitizer report
# fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
out=build-fuzz
flags=(-std=c11 -D_POSIX_C_SOURCE=200809L -g -O1 -fno-sanitize-recover=all -Iinclude -Isrc)
rm -rf "$out/obj"
mkdir -p "$out/obj"
# The core library's sources, as CMakeLists.txt collects them (image I/O is not part of it),
# compiled once with coverage instrumentation and shared by every target.
find src/core src/ir src/ops src/kernels src/passes src/runtime src/train src/frontends/onnx \
     src/frontends/lcvm \
     src/frontends/npy -name '*.c' | sort > "$out/sources.txt"
echo "== compiling $(wc -l < "$out/sources.txt") library sources"
xargs -P "$(nproc)" -I{} sh -c 'clang "$@" -fsanitize=fuzzer-no-link,address,undefined \
    -c {} -o '"$out"'/obj/$(echo {} | tr / _).o' _ "${flags[@]}" < "$out/sources.txt"
# leancv_data and leancv_image (zlib, libpng, libjpeg), for the data-set reader's target only.
rm -rf "$out/obj_io"
mkdir -p "$out/obj_io"
find src/data src/frontends/image -name '*.c' | sort | xargs -P "$(nproc)" -I{} sh -c \
    'clang "$@" -fsanitize=fuzzer-no-link,address,undefined -c {} \
     -o '"$out"'/obj_io/$(echo {} | tr / _).o' _ "${flags[@]}"
for target in tests/fuzz/fuzz_*.c; do
    name=$(basename "$target" .c)
    corpus_src=tests/fuzz/corpus_${name#fuzz_}
    [ "$name" = fuzz_model ] && corpus_src=tests/fuzz/corpus_onnx
    io=()
    [ "$name" = fuzz_idx ] && io=("$out"/obj_io/*.o -lz -lpng -ljpeg)
    [ "$name" = fuzz_json ] && io=(tools/cli/cli_json.c)
    echo "== $name: building"
    clang "${flags[@]}" -fsanitize=fuzzer,address,undefined "$target" "${io[@]}" "$out"/obj/*.o \
        -lm -lpthread -o "$out/$name"
    work=$out/corpus_$name
    rm -rf "$work"
    mkdir -p "$work"
    if [ -d "$corpus_src" ]; then cp -r "$corpus_src"/. "$work"/; fi
    echo "== $name: fuzzing for ${seconds}s"
    "$out/$name" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$out/$name-" "$work" 2>"$out/$name.log" || {
        tail -50 "$out/$name.log"
        echo "fuzz: $name found a problem"
        exit 1
    }
    grep -E "stat::number_of_executed_units|Done" "$out/$name.log" | tail -2
done
echo "fuzz: all targets ran without a finding"
