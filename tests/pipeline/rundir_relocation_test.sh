#!/bin/bash
# Issue 20, finding 1: a run directory can be moved and copied; every command
# works on the directory it is given and never touches the original.
#   run into a/; mv a b: status b sees 4 done; gather b writes b/results.h5 and
#   does not re-create a/; cp -r b c: gather c writes c/results.h5 and leaves
#   b/results.h5 unchanged; a shard deleted in c is rerun into c (b untouched).
# usage: rundir_relocation_test.sh LLCPRESS_EXE SUITE_DIR WORK_DIR
source "$(dirname "$0")/rundir_lib.sh" "$@"

write_job "$work/job.ini" "$work/a"
llc run "$work/job.ini"
expect_rc 0 "run"
mv "$work/a" "$work/b"

llc status "$work/b"
expect_rc 0 "status of the moved run"
expect_log "total 4: 4 done" "status of the moved run"

llc gather "$work/b"
expect_rc 0 "gather of the moved run"
[ -f "$work/b/results.h5" ] || fail "gather of the moved run wrote no b/results.h5"
[ -e "$work/a" ] && fail "gather of the moved run re-created the old directory a/"

cp -r "$work/b" "$work/c"
before=$(sha256sum < "$work/b/results.h5")
sleep 1  # a rewrite of b/results.h5 would also show in its mtime
llc gather "$work/c"
expect_rc 0 "gather of the copy"
expect_log "$work/c/results.h5" "gather of the copy names its own results file"
[ "$(sha256sum < "$work/b/results.h5")" = "$before" ] || fail "gather of the copy c/ rewrote the original b/results.h5"

rm "$work/c/shards/00001.h5"
llc status "$work/c"
expect_rc 3 "status of the copy with a deleted shard"
expect_log "1  missing" "status of the copy with a deleted shard"
[ -f "$work/b/shards/00001.h5" ] || fail "deleting a shard of the copy touched the original"
b_listing=$(ls -l --time-style=full-iso "$work/b/shards")
llc rerun "$work/c"
expect_rc 0 "rerun of the copy"
[ -f "$work/c/shards/00001.h5" ] || fail "rerun of the copy did not write c/shards/00001.h5"
[ "$(ls -l --time-style=full-iso "$work/b/shards")" = "$b_listing" ] || fail "rerun of the copy changed b/shards"
[ -e "$work/a" ] && fail "rerun of the copy re-created a/"

# From another working directory, with a relative path and a trailing slash.
(cd "$work/c/shards" && "$exe" status ../../c/ > "$work/last.log" 2>&1)
rc=$?
expect_rc 0 "status through a relative path from another directory"
echo "PASS"
