#!/usr/bin/env bash
# Checks that #include lines only point down the layer order written in docs/ARCHITECTURE.md.
set -euo pipefail
cd "$(dirname "$0")/.."
# layer -> layers it may include (besides itself)
declare -A allowed=(
  [core]=""
  [ir]="core"
  [kernels]="core"
  [tasks]="core"
  [ops]="ir core kernels"
  [frontends]="ir core"
  [passes]="ops ir core kernels"
  [runtime]="frontends passes ops ir core kernels"
  [train]="runtime frontends passes ops ir core kernels"
  [compress]="runtime frontends passes ops ir core kernels"
  [data]="frontends core"
)
# layer_of DIR INCLUDE: the first folder under src/ of DIR/INCLUDE ("../" steps resolved).
layer_of() {
    local dir=$1 inc=$2
    while [ "${inc#../}" != "$inc" ]; do
        inc=${inc#../}
        dir=${dir%/*}
    done
    local path=$dir/$inc
    path=${path#src/}
    echo "${path%%/*}"
}
bad=0
for f in $(find src -name '*.c' -o -name '*.h'); do
    layer=$(echo "$f" | cut -d/ -f2)
    [ -n "${allowed[$layer]+x}" ] || continue
    while read -r inc; do
        case "$inc" in ../*) ;; *) continue ;; esac
        # the layer of the included file, resolved against the including file's folder
        target=$(layer_of "$(dirname "$f")" "$inc")
        [ "$target" = "$layer" ] && continue
        if ! echo " ${allowed[$layer]} " | grep -q " $target "; then
            echo "layer violation: $f includes $inc ($layer may include: ${allowed[$layer]:-nothing})"
            bad=1
        fi
    done < <(grep -oE '#include "[^"]+"' "$f" | sed -E 's/#include "([^"]+)"/\1/')
done
# The CLI may include only public headers.
if grep -nE '#include "\.\./|#include "(core|ir|ops|runtime|frontends)/' tools/cli/*.c tools/cli/*.h 2>/dev/null; then
    echo "layer violation: tools/cli must use include/ only"
    bad=1
fi
[ $bad -eq 0 ] && echo "layers: 1 passed, 0 failed" || { echo "layers: 0 passed, 1 failed"; exit 1; }
