#!/usr/bin/env bash
# The whole study on the embedded demo suite, on a fresh machine:
# installs what is missing, builds, makes the suite, runs jobs/demo.ini under
# MPI (2 ranks), gathers, fits, draws the figures, and prints the report's
# headline table and where every file is.
#
#   scripts/demo.sh                    everything (a second run reuses the suite and finished shards)
#   LLCPRESS_DEMO_RANKS=N ...          MPI ranks (default 2)
#   LLCPRESS_BUILD_DIR=dir ...         build directory (default: build)
#
# Outputs (paths fixed by jobs/demo.ini): demo-out/suite (checkpoints + data),
# demo-out/run (plan.json, shards/, results.h5, report.md, figures/).
set -euo pipefail
cd "$(dirname "$0")/.."

start=$SECONDS
# CPU seconds (user + system) of the finished child processes so far: on a
# shared machine wall time measures the other jobs too, CPU time does not.
# `times` must run in this shell (in $(...) it would report the subshell's
# children, none), so it writes to a file that awk then reads.
cpu_file=$(mktemp)
trap 'rm -f "$cpu_file"' EXIT
child_cpu_seconds() {
  times > "$cpu_file"
  child_cpu=$(tail -n 1 "$cpu_file" | awk '{ total = 0; for (i = 1; i <= 2; ++i) { split($i, t, "m"); total += t[1] * 60 + t[2] } printf "%.0f", total }')
}
stage() {
  child_cpu_seconds
  echo
  echo "== [$((SECONDS - start)) s wall, $child_cpu s CPU, load $(cut -d' ' -f1 /proc/loadavg)] $*"
}

stage "install: Debian packages that are missing"
scripts/install-deps.sh

build=${LLCPRESS_BUILD_DIR:-build}
ranks=${LLCPRESS_DEMO_RANKS:-2}
threads=$(nproc)
suite=demo-out/suite
run=demo-out/run
llcpress="$build/bin/llcpress"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

stage "build ($build, target llcpress)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release > "$build.configure.log" 2>&1 || {
  cat "$build.configure.log"
  exit 1
}
cmake --build "$build" -j "$threads" --target llcpress

# The demo's suite: hidden 32/48/64 with 2 heads (demo-58k, demo-106k, demo-166k),
# 64-token sequences, 400 steps: sized so that the whole script fits 10 minutes
# on 2 cores (the CPU-seconds budget is in docs/analysis.md, "The 10-minute budget").
suite_options=(--sizes 32,48,64 --heads 2 --seq-len 64 --steps 400)
stage "make-suite: synthetic corpus + three GPT-NeoX sizes trained with Pythia's recipe ($suite: ${suite_options[*]})"
if [ ! -f "$suite/suite.json" ]; then
  "$llcpress" make-suite --out "$suite" "${suite_options[@]}" --threads "$threads"
else
  echo "reusing $suite (delete it to rebuild)"
fi

stage "plan: jobs/demo.ini"
"$llcpress" plan jobs/demo.ini

stage "run: mpiexec -n $ranks llcpress run jobs/demo.ini (one thread per rank)"
# A failed shard makes `run` exit 3; status names it and the demo still goes on
# to gather what finished (rerun with `llcpress rerun $run`).
OMP_NUM_THREADS=1 mpiexec -n "$ranks" "$llcpress" run jobs/demo.ini || true
"$llcpress" status "$run" || echo "demo: some shards did not finish; see above, and \`$llcpress rerun $run\`"

stage "gather: $run/shards -> $run/results.h5"
"$llcpress" gather "$run"

stage "fit: critical amounts against λ̂, report and figures"
"$llcpress" fit "$run" > /dev/null

stage "done"
# The headline: the fit table of the report (its first section).
awk '/^## Does the LLC predict/{show=1} /^### Every fit/{show=0} show' "$run/report.md"
echo
echo "demo: finished in $((SECONDS - start)) s wall; load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
child_cpu_seconds
echo "demo: CPU time of its child processes (build, make-suite, MPI ranks, fit): $child_cpu s"
echo "  report:   $run/report.md"
echo "  results:  $run/results.h5   (llcpress query $run/results.h5 --table critical --where 'method=quant')"
echo "  figures:  $run/figures/"
echo "  shards:   $run/shards/   (llcpress status $run)"
echo "  suite:    $suite/   (checkpoints load in transformers: GPTNeoXForCausalLM.from_pretrained)"
