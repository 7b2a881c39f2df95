# Shared by the run-directory tests (rundir_*_test.sh, issue 20): argument
# handling, a tiny job on the fixture suite, and checks that print what failed.
#
# usage (from a test): source rundir_lib.sh "$@"   with args LLCPRESS_EXE SUITE_DIR WORK_DIR
set -uo pipefail

exe=$1 suite=$2 work=$3
fail() {
  echo "FAIL: $*"
  exit 1
}
[ -x "$exe" ] || fail "llcpress executable $exe not found"
[ -d "$suite/demo-20k" ] || fail "tiny suite missing in $suite (fixture pipeline_make_suite)"
rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)
export OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

# write_job FILE OUTPUT [EXTRA_INI]: 1 model x 2 checkpoints x (llc, svd) = 4
# shards of a few milliseconds each (shards 0, 2: llc; 1, 3: svd).
write_job() {
  cat > "$1" << JOB
[job]
name = rundir
output = $2
seed = 7
threads = 1
[data]
prefix = $suite/data/train
heldout_prefix = $suite/data/heldout
seq_len = 16
batch = 4
sgld_sequences = 0:64
eval_sequences = 0:8
[models]
model = demo-20k:$suite/demo-20k/step0,$suite/demo-20k/step4
[llc]
chains = 2
draws = 4
init_batches = 1
[compress]
methods = svd
eps = 0.01,0.1
${3:-}
JOB
}

# llc ARGS...: runs llcpress with output in $work/last.log; sets $rc.
llc() {
  "$exe" "$@" > "$work/last.log" 2>&1
  rc=$?
}
expect_rc() {  # expect_rc CODE WHAT
  [ "$rc" = "$1" ] || { cat "$work/last.log"; fail "$2: exit $rc, expected $1"; }
}
expect_log() {  # expect_log TEXT WHAT
  grep -qF -- "$1" "$work/last.log" || { cat "$work/last.log"; fail "$2: output lacks '$1'"; }
}
# state_count OUT STATE: shards in STATE according to `status --json`.
state_count() {
  "$exe" status "$1" --json 2> /dev/null | python3 -c "import json,sys; print(json.load(sys.stdin)['totals'].get('$2', 0))"
}
# shard_state OUT ID
shard_state() {
  "$exe" status "$1" --json 2> /dev/null | python3 -c "import json,sys; print(json.load(sys.stdin)['shards'][$2]['state'])"
}
