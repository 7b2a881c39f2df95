#!/usr/bin/env bash
# λ̂ of every demo-suite model at a list of training steps (the seed paper's
# "LLC rises over training"), one `llcpress llc --json` per checkpoint:
#   bench/slt/llc_over_training.sh LLCPRESS SUITE_DIR "0 16 64 100 200 400" [extra llc keys...]
# Prints one TSV line per checkpoint: model, step, λ̂ mean, std (n−1), chains used,
# L_init, mean fraction of draws below L_init, process CPU seconds.
set -euo pipefail
llcpress=$1 suite=$2 steps=$3
shift 3
printf 'model\tstep\tllc_mean\tllc_std\tchains_used\tinit_loss\tfraction_below_init\tcpu_seconds\n'
for model in "$suite"/demo-*; do
  for step in $steps; do
    [ -d "$model/step$step" ] || { echo "missing $model/step$step" >&2; exit 1; }
    json=$(mktemp)
    /usr/bin/env time -f '%U %S' -o "$json.time" "$llcpress" llc --checkpoint "$model/step$step" \
      --data "$suite/data/train" --json "$@" > "$json"
    cpu=$(awk '{print $1 + $2}' "$json.time")
    python3 - "$json" "$(basename "$model")" "$step" "$cpu" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
s = r.get("summary", r)
below = [c["fraction_below_init"] for c in r.get("chains", []) if not c.get("diverged")]
print("\t".join([sys.argv[2], sys.argv[3], f"{s['llc_mean']:.3f}", f"{s['llc_std']:.3f}", str(s["chains_used"]),
                 f"{s['init_loss']:.4f}", f"{sum(below) / max(1, len(below)):.3f}", sys.argv[4]]))
EOF
    rm -f "$json" "$json.time"
  done
done
