#!/usr/bin/env bash
# scripts/device-check.sh run on a machine without a GPU: exit 2 at once with a
# "no GPU" message, and no report written. Exit 77 (skipped) where a GPU is visible.
set -u
script=$1 work=$2
if command -v nvidia-smi > /dev/null && nvidia-smi -L 2> /dev/null | grep -q GPU; then
  echo "a GPU is visible: the refusal is checked where there is none"
  exit 77
fi
rm -rf "$work"
mkdir -p "$work"
"$script" run "$work/report.json" > "$work/output.txt" 2>&1
status=$?
cat "$work/output.txt"
[ "$status" -eq 2 ] || { echo "FAIL: exit status $status, expected 2"; exit 1; }
grep -q "no GPU" "$work/output.txt" || { echo "FAIL: no 'no GPU' message"; exit 1; }
[ ! -e "$work/report.json" ] || { echo "FAIL: a report was written"; exit 1; }
echo "PASS"
