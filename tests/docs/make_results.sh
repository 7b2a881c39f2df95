#!/usr/bin/env bash
# make_results.sh LLCPRESS SUITE WORK: a tiny job (llc + quant on two checkpoints of one model of SUITE), run on
# one rank and gathered into WORK/out/results.h5; then checks that `query` names λ̂ llc_mean.
set -euo pipefail
exe=$1 suite=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
model=$(cd "$suite" && ls -d demo-* | head -n 1)
cat > "$work/job.ini" <<INI
[job]
name = docs
output = $work/out
seed = 3
[data]
prefix = $suite/data/train
heldout_prefix = $suite/data/heldout
seq_len = 16
batch = 4
sgld_sequences = 0:64
eval_sequences = 0:8
[models]
model = $model:$suite/$model/step0,$suite/$model/step16
[llc]
chains = 2
draws = 8
init_batches = 2
[compress]
methods = quant
eps = 0.01,0.1
[compress.quant]
clip_search_evaluations = 2
INI
"$exe" run "$work/job.ini" > "$work/run.log" 2>&1 || { cat "$work/run.log"; exit 1; }
"$exe" gather "$work/out" > "$work/gather.log" 2>&1 || { cat "$work/gather.log"; exit 1; }
header=$("$exe" query "$work/out/results.h5" --table llc --format csv | head -n 1)
echo "query --table llc header: $header"
case ",$header," in
  *,llc_mean,*llc_std,*) ;;
  *) echo "query's llc columns do not name λ̂ llc_mean/llc_std" >&2; exit 1 ;;
esac
case "$header" in *lambda*) echo "query still shows a lambda_* column" >&2; exit 1 ;; esac
