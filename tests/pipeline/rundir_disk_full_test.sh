#!/bin/bash
# Issue 20, finding 4: when the disk refuses a write, run and gather end with
# the error and an exit code, never a signal (it was SIGSEGV in H5F__close_cb
# under MPI_Finalize, exit 139).
#
# The full disk is a file size limit: `ulimit -f` with SIGXFSZ ignored makes
# every write past the limit fail with EFBIG, through the same write() error
# path that ENOSPC takes. A real full file system (tmpfs or a loop mount) needs
# privileges CI does not have. 16 KiB lets the small JSON records (plan, error
# records, lock) through and stops every shard and results file.
# usage: rundir_disk_full_test.sh LLCPRESS_EXE SUITE_DIR WORK_DIR
source "$(dirname "$0")/rundir_lib.sh" "$@"
out=$work/out
write_job "$work/job.ini" "$out"
llc plan "$work/job.ini"
expect_rc 0 "plan"

# limited COMMAND...: runs llcpress under the limit; output through a pipe
# (not limited), exit status of llcpress in $rc. MPI's own shared-memory files
# would hit the limit inside MPI_Init: PMIx keeps its data store in process
# memory (gds=hash) and the single rank needs no shared-memory transport.
limited() {
  (ulimit -f 16 && trap '' XFSZ && PMIX_MCA_gds=hash OMPI_MCA_btl=self exec "$exe" "$@") 2>&1 | cat > "$work/last.log"
  rc=${PIPESTATUS[0]}
}
limited run "$out"
[ "$rc" -lt 128 ] || { cat "$work/last.log"; fail "run under a full disk died of signal $((rc - 128))"; }
expect_rc 3 "run under a full disk (shards failed)"
expect_log "File too large" "run reports the refused write"
[ "$(state_count "$out" failed)" = 4 ] || fail "every shard should be failed with its reason"
ls "$out/shards" | grep -q '\.tmp\.' && fail "temporary files left behind: $(ls "$out/shards")"

# Without the limit the shards run; then gather under the limit fails cleanly.
llc rerun "$out"
expect_rc 0 "rerun without the limit"
limited gather "$out"
[ "$rc" -lt 128 ] || { cat "$work/last.log"; fail "gather under a full disk died of signal $((rc - 128))"; }
expect_rc 1 "gather under a full disk"
expect_log "File too large" "gather reports the refused write"
[ -e "$out/results.h5" ] && fail "gather under a full disk left a results.h5"
ls "$out" | grep -q '\.tmp\.' && fail "gather left a temporary file: $(ls "$out")"

# fit rewrites results.h5 with /fits added: under the limit it must fail with
# the error (it crashed with SIGSEGV in HDF5's close, exit 139) and leave the
# gathered file as it was. The limit is the file's own size plus 2 KiB, so the
# copy with /fits cannot be written.
llc gather "$out"
expect_rc 0 "gather without the limit"
before=$(sha256sum < "$out/results.h5")
blocks=$(( $(stat -c %s "$out/results.h5") / 1024 + 2 ))
(ulimit -f "$blocks" && trap '' XFSZ && PMIX_MCA_gds=hash OMPI_MCA_btl=self exec "$exe" fit "$out") > "$work/last.log" 2>&1
rc=$?
[ "$rc" -lt 128 ] || { cat "$work/last.log"; fail "fit under a full disk died of signal $((rc - 128))"; }
expect_rc 1 "fit under a full disk"
expect_log "File too large" "fit reports the refused write"
[ "$(sha256sum < "$out/results.h5")" = "$before" ] || fail "fit under a full disk changed results.h5"
ls "$out" | grep -q '\.tmp\.' && fail "fit left a temporary file: $(ls "$out")"
llc fit "$out"
expect_rc 0 "fit without the limit"
echo "PASS"
