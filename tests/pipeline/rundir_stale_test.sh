#!/bin/bash
# Issue 20, finding 2: shards made with other settings than the plan are
# stale: listed by status, left out of gather, recomputed only with
# --redo-stale; `plan` refuses to make done shards stale unless --force.
# usage: rundir_stale_test.sh LLCPRESS_EXE SUITE_DIR WORK_DIR
source "$(dirname "$0")/rundir_lib.sh" "$@"
out=$work/out
write_job "$work/job.ini" "$out"
llc run "$work/job.ini"
expect_rc 0 "first run"

# A plain `plan` with new settings would make the two llc shards stale: refused, plan unchanged.
cp "$out/plan.json" "$work/plan.before"
llc plan "$work/job.ini" --llc.draws=6
expect_rc 2 "plan over done shards with other settings"
expect_log "2 done shards would go stale" "plan refusal"
expect_log "llc.draws 4 -> 6" "plan refusal names the change"
expect_log "--force" "plan refusal says how to override"
cmp -s "$out/plan.json" "$work/plan.before" || fail "the refused plan rewrote plan.json"
# Settings that change no shard (threads) replan freely.
llc plan "$work/job.ini" --job.log_level=warn
expect_rc 0 "plan with settings that change no shard (log level)"

# `run --replan` with more draws: the old llc shards are stale, not kept as done.
llc run "$work/job.ini" --llc.draws=6 --replan
expect_rc 3 "run --replan over done shards with other settings"
expect_log "stale" "run --replan"
[ "$(state_count "$out" stale)" = 2 ] || fail "status should list the 2 llc shards as stale"
[ "$(shard_state "$out" 0)" = stale ] || fail "shard 0 (llc) should be stale"
[ "$(shard_state "$out" 1)" = done ] || fail "shard 1 (svd) does not depend on llc.draws: done"
llc status "$out"
expect_rc 3 "status with stale shards"
expect_log "llc.draws 4 -> 6" "status names what changed"
llc gather "$out"
expect_rc 3 "gather with stale shards"
expect_log "2 stale" "gather says what it left out"
rows=$("$exe" query "$out" --table llc --format csv | tail -n +2 | wc -l)
[ "$rows" = 0 ] || fail "gather put $rows stale llc rows into tables/llc"

llc rerun "$out"
expect_rc 3 "rerun without --redo-stale leaves stale shards"
llc rerun "$out" --redo-stale
expect_rc 0 "rerun --redo-stale"
[ "$(state_count "$out" done)" = 4 ] || fail "after --redo-stale every shard is done"
llc gather "$out"
expect_rc 0 "gather after --redo-stale"
draws=$("$exe" query "$out" --table llc --format csv | tail -n +2 | wc -l)
[ "$draws" = 2 ] || fail "tables/llc should hold the 2 recomputed rows, has $draws"

# A shard copied in from a job with another eps is stale, never gathered.
write_job "$work/other.ini" "$work/other" && sed -i 's/^eps = .*/eps = 0.02,0.1/' "$work/other.ini"
llc run "$work/other.ini" --llc.draws=6
expect_rc 0 "run of the other job"
cp "$work/other/shards/00001.h5" "$out/shards/00001.h5"
[ "$(shard_state "$out" 1)" = stale ] || fail "a shard made with another compress.eps must be stale"
llc gather "$out"
expect_rc 3 "gather with a foreign shard"
expect_log "1 stale" "gather with a foreign shard"
echo "PASS"
