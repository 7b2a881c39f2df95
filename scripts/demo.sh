#!/usr/bin/env bash
# Does everything on a fresh machine: installs what is missing, builds, runs
# the stages that exist on the embedded demo suite, and prints where the
# results are. (The MPI pipeline, gather, fit and figures join when their
# issues land.)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
build=${LLCPRESS_BUILD_DIR:-build}
out=${LLCPRESS_DEMO_OUT:-demo-out}
threads=$(nproc)
echo "== build ($build)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release > "$build.configure.log" 2>&1 || { cat "$build.configure.log"; exit 1; }
cmake --build "$build" -j "$threads" --target llcpress
llcpress="$build/bin/llcpress"
mkdir -p "$out"

echo "== make-suite: synthetic corpus + three GPT-NeoX sizes ($out/suite)"
if [ ! -f "$out/suite/suite.json" ]; then
  "$llcpress" make-suite --out "$out/suite" --threads "$threads"
fi
last_model=$(ls -d "$out"/suite/demo-*k | sort -t- -k2 -n | tail -n 1)
last_step=$(ls -d "$last_model"/step* | sort -V | tail -n 1)

echo "== inspect $last_step"
"$llcpress" inspect "$last_step" | head -n 12
echo "== eval $last_step on the held-out split"
"$llcpress" eval --checkpoint "$last_step" --data "$out/suite/data/heldout" --sequences 0:64 --batch 16 --threads "$threads"

echo "== sweep: critical quantization levels of $last_step"
"$llcpress" sweep --checkpoint "$last_step" --data "$out/suite/data/heldout" --method quant --sequences 0:32 \
  --threads "$threads" --out "$out/sweep_quant.h5"

if "$llcpress" --help | grep -q '^  llc '; then
  echo "== llc: SGLD estimate of λ̂ at $last_step"
  "$llcpress" llc --checkpoint "$last_step" --data "$out/suite/data/train" --chains 2 --draws 50 --threads "$threads" \
    --out "$out/llc.h5"
fi

echo "== matmul-bench: nested-lattice (E8) vs scalar quantization of AᵀB"
"$llcpress" matmul-bench --n 1536 --scheme lattice --lattice E8
"$llcpress" matmul-bench --n 1536 --scheme scalar

echo
echo "demo: results are under $out/ (suite: $out/suite, sweep: $out/sweep_quant.h5$( [ -f "$out/llc.h5" ] && echo ", llc: $out/llc.h5"))"
