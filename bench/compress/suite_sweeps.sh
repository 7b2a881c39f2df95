#!/usr/bin/env bash
# Sweeps every checkpoint of every model of a demo suite (`llcpress make-suite`)
# with the given compression methods, on the same held-out sequences, and
# writes OUT/<model>/<step>/<method>.{h5,json,log}. Reruns skip finished sweeps.
#
#   bench/compress/suite_sweeps.sh SUITE OUT [methods...]
#   python3 bench/compress/suite_table.py OUT        # the tables
set -euo pipefail
suite=$1
out=$2
shift 2
methods=${*:-quant quant-maxabs svd noise noise-rel prune prune-heads prune-neurons lattice}
llcpress=${LLCPRESS:-build/bin/llcpress}
for model_dir in $(ls -d "$suite"/demo-*k | sort -V); do  # smallest model first
  model=$(basename "$model_dir")
  for step_dir in $(ls -d "$model_dir"/step* | sort -V); do
    step=$(basename "$step_dir")
    mkdir -p "$out/$model/$step"
    for method in $methods; do
      target="$out/$model/$step/$method"
      [ -f "$target.json" ] && continue
      "$llcpress" sweep --checkpoint "$step_dir" --data "$suite/data/heldout" --method "$method" \
        --sequences 0:64 --batch 16 --threads "${THREADS:-1}" --out "$target.h5" --json \
        > "$target.json.tmp" 2> "$target.log"
      mv "$target.json.tmp" "$target.json"
    done
    echo "$model $step done $(date +%T)"
  done
done
