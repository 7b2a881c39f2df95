#!/bin/bash
# Issue 20, finding 6 (lock): two `run`s cannot work in one run directory. The
# second exits with a message naming the holder (pid, host); once the holder
# is killed (kill -9: no chance to clean up) its lock is gone and a rerun
# completes every shard. Two --shards runs over the same shards (they share
# the directory, as SLURM array tasks do) compute each shard once.
# usage: rundir_lock_test.sh LLCPRESS_EXE SUITE_DIR WORK_DIR
source "$(dirname "$0")/rundir_lib.sh" "$@"
out=$work/out
# LLC shards of ~1 s each (2000 SGLD steps) keep the first run busy long enough.
# The steps are 20 draws x 100 steps, not 2000 draws: this test is about the
# lock, and 2000 draws of the untrained step-0 checkpoint drift enough for the
# stationarity rule (docs/llc.md, chain health) to fail the shard.
write_job "$work/job.ini" "$out"
llc plan "$work/job.ini" --llc.draws=20 --llc.steps_between_draws=100
expect_rc 0 "plan"
"$exe" run "$out" > "$work/first.log" 2>&1 &
first=$!
trap 'kill -9 $first 2> /dev/null' EXIT
# The holder record appears once the first run holds the directory.
for _ in $(seq 300); do
  grep -q "\"pid\":$first" "$out/.llcpress.lock" 2> /dev/null && break
  kill -0 "$first" 2> /dev/null || break
  sleep 0.05
done
grep -q "\"pid\":$first" "$out/.llcpress.lock" 2> /dev/null || { cat "$work/first.log"; fail "the first run never took the lock"; }
kill -0 "$first" 2> /dev/null || fail "the first run finished before the second started: make its shards longer"

llc run "$out"
expect_rc 1 "a second run in the same directory"
expect_log "in use by \`llcpress run\` (pid $first on host $(hostname)" "the refusal names the holder"
llc rerun "$out" --shards 0
expect_rc 1 "a --shards run beside a whole-plan run"
kill -0 "$first" 2> /dev/null || fail "the first run finished before the checks: make its shards longer"

kill -9 "$first"
wait "$first" 2> /dev/null
llc rerun "$out"
expect_rc 0 "rerun after the holder was killed (its lock died with it)"
[ "$(state_count "$out" done)" = 4 ] || fail "every shard should be done after the rerun"
ls "$out/shards" | grep -q '\.tmp\.' && fail "temporary files of the killed run left behind: $(ls "$out/shards")"

# Two --shards runs (as SLURM array tasks, sharing the directory) over the same
# shards: each shard is claimed by one of them and computed once.
# 300 steps (30 draws x 10): long enough to overlap (both start together), short enough to be cheap.
llc plan "$work/job.ini" --llc.draws=30 --llc.steps_between_draws=10 --force
expect_rc 0 "replan with fewer draws"
rm "$out"/shards/*.h5
"$exe" run "$out" --shards 0-3 > "$work/one.log" 2>&1 &
one=$!
"$exe" run "$out" --shards 0-3 > "$work/two.log" 2>&1
two_rc=$?
wait "$one"
one_rc=$?
computed=$(cat "$work/one.log" "$work/two.log" | grep -c "shard [0-9] done in")
[ "$computed" = 4 ] || { cat "$work/one.log" "$work/two.log"; fail "4 shards computed $computed times by two overlapping runs"; }
[ "$(state_count "$out" done)" = 4 ] || fail "every shard should be done after the overlapping runs"
ls "$out/shards" | grep -q 'error.json' && fail "an overlapping run left an error record: $(ls "$out/shards")"
echo "overlapping --shards runs: exit $one_rc and $two_rc, 4 shards computed once each"
echo "PASS"
