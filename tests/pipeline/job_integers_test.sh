#!/bin/bash
# Issue 20, finding 6 (integers): seed = -1 was stored as 18446744073709551615.
# Negative values of unsigned keys and integers out of range are refused with
# the key named, in job files, in overrides and on subcommand command lines.
# usage: job_integers_test.sh LLCPRESS_EXE SUITE_DIR WORK_DIR
source "$(dirname "$0")/rundir_lib.sh" "$@"
check() {  # check KEY WHAT ARGS...
  local key=$1 what=$2
  shift 2
  llc "$@"
  expect_rc 2 "$what"
  expect_log "$key" "$what names the key"
  [ -e "$work/out" ] && fail "$what: output written for a rejected job"
  return 0
}
write_job "$work/job.ini" "$work/out"
sed "s/^seed = 7/seed = -1/" "$work/job.ini" > "$work/seed.ini"
check job.seed "seed = -1 in the job file" plan "$work/seed.ini"
check job.seed "--job.seed=-1" plan "$work/job.ini" --job.seed=-1
check job.seed "seed = 2^64" plan "$work/job.ini" --job.seed=18446744073709551616
check llc.chains "chains beyond int" plan "$work/job.ini" --llc.chains=99999999999
check llc.burn_in "burn_in = -1" plan "$work/job.ini" --llc.burn_in=-1
check seed "llcpress llc --seed=-1" llc --seed=-1 --data "$suite/data/train" --checkpoint "$suite/demo-20k/step0"
echo "PASS"
