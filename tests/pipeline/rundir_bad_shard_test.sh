#!/bin/bash
# Issue 20, finding 6 (shard validation): a truncated or empty shard file is
# not done. status opens every shard file and reports it as bad (with the
# reason); rerun moves it aside (<id>.h5.bad) and computes the shard again.
# usage: rundir_bad_shard_test.sh LLCPRESS_EXE SUITE_DIR WORK_DIR
source "$(dirname "$0")/rundir_lib.sh" "$@"
out=$work/out
write_job "$work/job.ini" "$out"
llc run "$work/job.ini"
expect_rc 0 "run"
truncate -s $(($(stat -c %s "$out/shards/00000.h5") / 2)) "$out/shards/00000.h5"
: > "$out/shards/00003.h5"
llc status "$out"
expect_rc 3 "status with a truncated and an empty shard"
expect_log "total 4: 2 done, 0 stale, 2 bad" "status counts them as bad"
[ "$(shard_state "$out" 0)" = bad ] || fail "the truncated shard 0 should be bad"
[ "$(shard_state "$out" 3)" = bad ] || fail "the empty shard 3 should be bad"
llc gather "$out" --require-complete
expect_rc 3 "gather --require-complete with bad shards"
llc rerun "$out"
expect_rc 0 "rerun redoes the bad shards"
[ "$(state_count "$out" done)" = 4 ] || fail "every shard should be done after the rerun"
[ -f "$out/shards/00000.h5.bad" ] && [ -f "$out/shards/00003.h5.bad" ] || fail "the bad files should be kept aside"
llc gather "$out" --require-complete
expect_rc 0 "gather after the rerun"
echo "PASS"
