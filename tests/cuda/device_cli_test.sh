#!/usr/bin/env bash
# `llcpress make-suite --device cuda` where CUDA cannot run: exit 2 (a
# ConfigError) with a message naming what is missing, before any work (the
# output directory is never created). Exit 77 (skipped) where a GPU is visible.
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
echo "PASS"
