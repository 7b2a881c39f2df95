#!/usr/bin/env bash
# `llcpress make-suite|llc|llc --grid|sweep|eval|calibrate --device cuda` where
# CUDA cannot run: exit 2 (a ConfigError) with a message naming what is
# missing, before any work (no output is created, the checkpoint is not even
# opened). Exit 77 (skipped) where a GPU is visible.
set -u
llcpress=$1 work=$2
if command -v nvidia-smi > /dev/null && nvidia-smi -L 2> /dev/null | grep -q GPU; then
  echo "a GPU is visible: the refusal is checked where there is none"
  exit 77
fi
rm -rf "$work"
mkdir -p "$work"
"$llcpress" make-suite --out "$work/suite" --sizes 16 --steps 2 --device cuda > "$work/output.txt" 2>&1
status=$?
cat "$work/output.txt"
[ "$status" -eq 2 ] || { echo "FAIL: exit status $status, expected 2 (ConfigError)"; exit 1; }
grep -Eq -- "--device.*(built without the CUDA backend|no NVIDIA driver|no CUDA device is visible|driver supports CUDA|too old)" \
  "$work/output.txt" || { echo "FAIL: the message does not name --device and what is missing"; exit 1; }
[ ! -e "$work/suite" ] || { echo "FAIL: $work/suite was created: work started before the device check"; exit 1; }

# The commands that compute on the GPU: the same refusal, before they open their (here absent) checkpoint and
# data, and before any output file exists.
check() {
  local name=$1
  shift
  "$llcpress" "$@" > "$work/$name.txt" 2>&1
  local code=$?
  cat "$work/$name.txt"
  [ "$code" -eq 2 ] || { echo "FAIL: $name: exit status $code, expected 2 (ConfigError)"; exit 1; }
  grep -Eq -- "--device.*(built without the CUDA backend|no NVIDIA driver|no CUDA device is visible|driver supports CUDA|too old)" \
    "$work/$name.txt" || { echo "FAIL: $name: the message does not name --device and what is missing"; exit 1; }
  ! grep -q "missing-checkpoint" "$work/$name.txt" || { echo "FAIL: $name opened the checkpoint first"; exit 1; }
  [ ! -e "$work/$name.h5" ] || { echo "FAIL: $name wrote $work/$name.h5"; exit 1; }
}
check llc llc --checkpoint "$work/missing-checkpoint" --data "$work/missing-data" --device cuda --out "$work/llc.h5"
check llc_grid llc --grid --checkpoint "$work/missing-checkpoint" --data "$work/missing-data" --device cuda \
  --precision bf16 --out "$work/llc_grid.h5"
check sweep sweep --method quant --checkpoint "$work/missing-checkpoint" --data "$work/missing-data" --device cuda \
  --out "$work/sweep.h5"
check eval eval --checkpoint "$work/missing-checkpoint" --data "$work/missing-data" --device cuda --precision tf32
check calibrate calibrate --device cuda

# precision is a GPU setting: the CPU refuses anything but fp32 (before any work), naming the key.
"$llcpress" calibrate --precision bf16 > "$work/precision.txt" 2>&1
code=$?
cat "$work/precision.txt"
[ "$code" -eq 2 ] && grep -q "precision" "$work/precision.txt" ||
  { echo "FAIL: --precision bf16 with --device cpu: exit $code, expected 2 naming precision"; exit 1; }
echo "PASS"
