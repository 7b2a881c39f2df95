#!/bin/bash
# Issue 19 (schema_version 3): a sweep shard written before the sweep columns took the results tables' names
# (schema_version 1 or 2) is not read under the new names. status and gather report it as bad, naming both schema
# versions and telling to rerun it; rerun computes it again; llc shards of version 2 are still read.
# usage: rundir_old_schema_test.sh LLCPRESS_EXE SUITE_DIR WORK_DIR
source "$(dirname "$0")/rundir_lib.sh" "$@"
out=$work/out
write_job "$work/job.ini" "$out"
llc run "$work/job.ini"
expect_rc 0 "run"
# Shard 1 is an svd sweep, shard 0 an llc estimate (write_job): mark both as written by schema version 2.
/usr/bin/python3 - "$out/shards/00001.h5" "$out/shards/00000.h5" << 'PY' || fail "could not rewrite schema_version"
import sys, h5py, numpy as np
for path in sys.argv[1:]:
    with h5py.File(path, "r+") as f:
        f.attrs["schema_version"] = np.int64(2)
PY
llc status "$out"
expect_rc 3 "status with a version-2 sweep shard"
expect_log "total 4: 3 done, 0 stale, 1 bad" "the old sweep shard is bad, the old llc shard still done"
[ "$(shard_state "$out" 1)" = bad ] || fail "the version-2 sweep shard 1 should be bad"
[ "$(shard_state "$out" 0)" = done ] || fail "the version-2 llc shard 0 should still be done"
llc gather "$out"
expect_rc 3 "gather with an old sweep shard"
/usr/bin/python3 - "$out/results.h5" << 'PY' || fail "gather's shards table does not explain the old shard"
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    t = f["tables/shards"]
    reason = t["reason"].asstr()[()][1]
    assert t["state"].asstr()[()][1] == "bad", t["state"].asstr()[()]
    for text in ("schema_version 2", "schema_version 3", "rerun"):
        assert text in reason, f"reason lacks {text!r}: {reason}"
    print("shard 1:", reason)
PY
llc rerun "$out"
expect_rc 0 "rerun redoes the old sweep shard"
[ "$(state_count "$out" done)" = 4 ] || fail "every shard should be done after the rerun"
llc gather "$out" --require-complete
expect_rc 0 "gather after the rerun"
echo "PASS"
