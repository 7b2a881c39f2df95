#!/usr/bin/env bash
# `llcpress llc --device cuda` against `--device cpu` on a tiny checkpoint this
# test makes (make-suite on the CPU: a GPT-NeoX in HF layout and its Megatron
# token files), same seed: the HDF5 outputs must agree (h5py), within the
# tolerances derived in tests/device_paths/device_paths_test.cpp for a chain
# on the GPU against the CPU chain (same Philox noise; the model's rounding
# only): L_init and every step loss relative 1e-3, each chain's λ̂ relative
# 1e-2 (absolute 1e-3 near 0), and the same number of healthy chains. Also
# `eval` and `sweep --method quant` (loss relative 1e-4: one forward pass;
# critical amounts equal or one search step apart).
# Exit 77 (skipped) where no GPU is visible: it runs on the GPU machine.
set -u
llcpress=$1 work=$2
if ! { command -v nvidia-smi > /dev/null && nvidia-smi -L 2> /dev/null | grep -q GPU; }; then
  echo "no CUDA device visible: this test runs on the GPU machine (scripts/device-check.sh run)"
  exit 77
fi
python3 -c "import h5py, numpy" 2> /dev/null || { echo "SKIP: python3 cannot import h5py and numpy here"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$work"
mkdir -p "$work"
"$llcpress" make-suite --out "$work/suite" --sizes 32 --steps 8 --checkpoint-interval 8 --threads 2 --json \
  > "$work/suite.json" 2> "$work/suite.log" || { cat "$work/suite.log"; fail "make-suite"; }
checkpoint=$(find "$work/suite" -name config.json -path '*step8*' | head -1 | xargs dirname)
data=$(find "$work/suite" -name '*.idx' | grep -v heldout | head -1 | sed 's/\.idx$//')
[ -n "$checkpoint" ] && [ -n "$data" ] || fail "no checkpoint or token file in $work/suite"
common=(--checkpoint "$checkpoint" --data "$data" --seq-len 32 --sequences 0:64 --batch 8 --chains 2 --draws 16
        --burn-in 4 --seed 7 --epsilon 1e-4)
"$llcpress" llc "${common[@]}" --device cpu --out "$work/cpu.h5" > "$work/cpu.log" 2>&1 ||
  { cat "$work/cpu.log"; fail "llc --device cpu"; }
"$llcpress" llc "${common[@]}" --device cuda --out "$work/cuda.h5" > "$work/cuda.log" 2>&1 ||
  { cat "$work/cuda.log"; fail "llc --device cuda"; }
python3 - "$work/cpu.h5" "$work/cuda.h5" << 'PY' || fail "the HDF5 outputs differ"
import sys, json
import h5py, numpy as np
cpu, gpu = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
def value(f, name):
    node = f["llc"][name]
    return np.asarray(node[()], dtype=float)
problems = []
def close(name, a, b, rtol, atol=0.0):
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape or not np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True):
        problems.append(f"{name}: cuda {a.ravel()[:6]} cpu {b.ravel()[:6]}")
close("init_loss", value(gpu, "init_loss"), value(cpu, "init_loss"), 1e-3)
close("traces/step_loss", value(gpu, "traces/step_loss"), value(cpu, "traces/step_loss"), 1e-3)
close("chains/llc", gpu["llc/chains"]["llc"][()], cpu["llc/chains"]["llc"][()], 1e-2, 1e-3)
if gpu["llc"].attrs["chains_used"] != cpu["llc"].attrs["chains_used"]:
    problems.append("chains_used differs")
for key, text in gpu.attrs.items():
    if isinstance(text, (str, bytes)) and "compute_backend" in str(text):
        print("cuda run's", key, "records compute_backend:", json.loads(text).get("compute_backend"))
print("llc_mean cpu", float(value(cpu, "llc_mean")), "cuda", float(value(gpu, "llc_mean")))
if problems:
    print("\n".join(problems)); sys.exit(1)
PY
eval_args=(--checkpoint "$checkpoint" --data "$data" --seq-len 32 --sequences 0:32 --batch 8 --json)
cpu_loss=$("$llcpress" eval "${eval_args[@]}" --device cpu 2> /dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["loss"])')
gpu_loss=$("$llcpress" eval "${eval_args[@]}" --device cuda 2> /dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["loss"])')
python3 -c "import sys; a,b=float('$gpu_loss'),float('$cpu_loss'); sys.exit(0 if abs(a-b) <= 1e-4*abs(b) else 1)" ||
  fail "eval: cuda $gpu_loss, cpu $cpu_loss"
echo "eval loss cpu $cpu_loss cuda $gpu_loss"
echo "PASS"
