#!/bin/bash
# End-to-end SLURM test of the pipeline (issue 7, "SLURM, for real").
#
# Starts a throwaway single-node SLURM (slurmctld + slurmd, REFERENCE §6) with
# its own slurm.conf, state, spool, logs and job-completion log in a temporary
# directory, then:
#   1. `llcpress submit JOB.ini` on the tiny suite: 2 models x 1 checkpoint x
#      (llc, svd) = 4 shards in 2 array tasks of 2 shards; model "badheldout"
#      has held-out tokens outside the vocabulary, which fails exactly its svd
#      shard (shard 3; its llc shard 2 uses the training split and succeeds);
#   2. waits for the array; checks the completion log (task 0 COMPLETED, task 1
#      FAILED), that `status` names exactly shard 3 as failed, and that the
#      afterok gather is held back with DependencyNeverSatisfied;
#   3. restores the token file and runs `llcpress rerun OUT --slurm`: checks that
#      the new submission holds exactly shard 3 (not shard 2, which shared its
#      failed array task but finished), that the stale gather was cancelled, and
#      that the new array task and its dependent gather + fit job COMPLETED;
#   4. `llcpress query` returns every row of the shards, llc and critical tables.
# One checkpoint per model keeps every fitted line under `fit`'s 3-point
# minimum, so the gather job's `fit` step runs but fits no line (a 3-point line
# fails the bootstrap's usable-replicate check, which is the fit's business).
# The daemons are stopped by PID on every exit path. Exit 77 (CTest
# SKIP_RETURN_CODE) when SLURM is not installed or the daemons do not come up.
#
# usage: slurm_pipeline_test.sh LLCPRESS_EXE SUITE_DIR WORK_DIR
set -uo pipefail

exe=$1 suite=$2 work=$3
skip() {
  echo "SKIP: $*"
  exit 77
}
fail() {
  echo "FAIL: $*"
  exit 1
}

for tool in slurmctld slurmd sbatch squeue sinfo scontrol scancel srun; do
  command -v "$tool" > /dev/null || skip "$tool is not installed (packages slurmctld slurmd slurm-client)"
done
[ -x "$exe" ] || fail "llcpress executable $exe not found"
[ -d "$suite/demo-20k" ] && [ -d "$suite/demo-46k" ] || fail "tiny suite missing in $suite (fixture pipeline_make_suite)"

rm -rf "$work"
mkdir -p "$work"/{state,spool,log}
work=$(cd "$work" && pwd)
node=$(hostname -s)
# Ports away from the defaults (6817/6818) so a site SLURM is never touched;
# offset by our PID so two copies of the test do not collide.
ctld_port=$((20000 + $$ % 20000))
slurmd_port=$((ctld_port + 1))
# Job ids and the PMIx client directories (named after uid and job id) also
# differ between copies, and the latter live in our temporary directory.
first_job_id=$((1000 * (1 + $$ % 1000)))
mkdir -p "$work/pmix"
echo "PMIxCliTmpDirBase=$work/pmix" > "$work/mpi.conf"
export SLURM_CONF=$work/slurm.conf
cat > "$SLURM_CONF" << EOF
ClusterName=llcpresstest
SlurmctldHost=$node
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=$(id -un)
SlurmdUser=$(id -un)
AuthType=auth/none
CredType=cred/none
MpiDefault=pmix
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SlurmdParameters=config_overrides
JobCompType=jobcomp/filetxt
JobCompLoc=$work/log/jobcomp.txt
AccountingStorageType=accounting_storage/none
MinJobAge=3600
ReturnToService=2
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
SchedulerParameters=sched_interval=1
FirstJobId=$first_job_id
NodeName=$node CPUs=4 State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF

ctld_pid='' slurmd_pid=''
stop_daemons() {
  # Jobs still queued or running (a failed check, a timeout) are cancelled
  # first, so no job step outlives the throwaway cluster (SLURM_CONF is ours).
  if [ -n "$ctld_pid" ] && kill -0 "$ctld_pid" 2> /dev/null; then
    timeout 5 scancel --user="$(id -un)" 2> /dev/null
    local _
    for _ in $(seq 30); do
      [ -z "$(timeout 2 squeue -h -t R,CG 2> /dev/null)" ] && break
      sleep 0.2
    done
  fi
  for pid in $slurmd_pid $ctld_pid; do
    kill "$pid" 2> /dev/null
  done
  for pid in $slurmd_pid $ctld_pid; do
    for _ in $(seq 50); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2> /dev/null
  done
}
on_exit() {
  status=$?
  stop_daemons
  if [ "$status" -ne 0 ] && [ "$status" -ne 77 ]; then
    echo "--- slurmctld.log (tail)"; tail -n 30 "$work/log/slurmctld.log" 2> /dev/null
    echo "--- slurmd.log (tail)"; tail -n 30 "$work/log/slurmd.log" 2> /dev/null
    for log in "$work"/out/slurm/logs/*.out; do
      [ -f "$log" ] && { echo "--- $log"; tail -n 20 "$log"; }
    done
  fi
  exit "$status"
}
trap on_exit EXIT
trap 'exit 1' INT TERM

slurmctld -D -i > "$work/log/slurmctld.stdout" 2>&1 &
ctld_pid=$!
slurmd -D -N "$node" > "$work/log/slurmd.stdout" 2>&1 &
slurmd_pid=$!

# The node comes up idle in about a second (REFERENCE §6); 30 s is the limit.
up=0
deadline=$((SECONDS + 30))
while [ "$SECONDS" -lt "$deadline" ]; do
  kill -0 "$ctld_pid" 2> /dev/null || break
  kill -0 "$slurmd_pid" 2> /dev/null || break
  if [ "$(timeout 5 sinfo -h -n "$node" -o %t 2> /dev/null)" = "idle" ]; then up=1; break; fi
  sleep 0.1
done
if [ "$up" != 1 ]; then
  echo "slurmctld: $(tail -n 5 "$work/log/slurmctld.log" "$work/log/slurmctld.stdout" 2> /dev/null)"
  echo "slurmd: $(tail -n 5 "$work/log/slurmd.log" "$work/log/slurmd.stdout" 2> /dev/null)"
  skip "the throwaway SLURM did not come up (a daemon exited, or no idle node within 30 s)"
fi
echo "SLURM up: slurmctld pid $ctld_pid, slurmd pid $slurmd_pid, node $node, conf $SLURM_CONF"

# Waits until none of the given jobs is pending or running (limit $2 seconds).
wait_jobs_done() {
  local jobs=$1 limit=$2
  local deadline=$((SECONDS + limit))
  while [ "$SECONDS" -lt "$deadline" ]; do
    local queued
    if queued=$(timeout 5 squeue -h -j "$jobs" -t PD,R,CG,CF,S 2> /dev/null) && [ -z "$queued" ]; then return 0; fi
    sleep 0.2
  done
  timeout 5 squeue -j "$jobs"
  fail "jobs $jobs still queued after $limit s"
}
# Prints the JobState of array task $1_$2 from the completion log.
task_state() {
  grep -E "ArrayJobId=$1 ArrayTaskId=$2 |ArrayJobId=$1 .*ArrayTaskId=$2( |$)" "$work/log/jobcomp.txt" 2> /dev/null |
    tail -n 1 | sed -E 's/.*JobState=([A-Z_]+).*/\1/'
}
job_state() {
  grep -E "^JobId=$1 " "$work/log/jobcomp.txt" 2> /dev/null | tail -n 1 | sed -E 's/.*JobState=([A-Z_]+).*/\1/'
}

# The job: demo-20k step 4, plus model "badheldout" (demo-46k step 4)
# whose held-out split is all 0xFFFF tokens (vocabulary 512).
cp "$suite/data/heldout.idx" "$work/heldout_bad.idx"
head -c "$(stat -c %s "$suite/data/heldout.bin")" /dev/zero | tr '\0' '\377' > "$work/heldout_bad.bin"
out=$work/out
cat > "$work/job.ini" << EOF
[job]
name = slurmtest
output = $out
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
model = demo-20k:$suite/demo-20k/step4
model = badheldout:$suite/demo-46k/step4
heldout = badheldout:$work/heldout_bad
[llc]
chains = 2
draws = 8
init_batches = 2
[compress]
methods = svd
eps = 0.01,0.1
[slurm]
time = 00:05:00
array_tasks = 2
EOF

export OMP_NUM_THREADS=1
t0=$(date +%s)
echo "== submit"
timeout 60 "$exe" submit "$work/job.ini" || fail "submit failed"
record=$out/slurm/submissions.json
[ -f "$record" ] || fail "no $record"
read -r array0 gather0 tasks0 < <(python3 -c "
import json,sys; r=json.load(open('$record')); s=r[0]
print(s['array_job_id'], s['gather_job_id'], len(s['task_shards']))")
[ "$tasks0" = 2 ] || fail "first submission has $tasks0 array tasks, expected 2 (slurm.array_tasks)"
wait_jobs_done "$array0" 60
echo "array $array0 finished after $(($(date +%s) - t0)) s"

# The completion log: task 0 (shards 0,1) COMPLETED, task 1 (shards 2,3) FAILED.
bad_shard=$(python3 -c "
import json; p=json.load(open('$out/plan.json'))
print(*[s['id'] for s in p['shards'] if s['model']=='badheldout' and s['task']=='svd'])")
[ "$bad_shard" = 3 ] || fail "expected the badheldout svd shard to be shard 3, plan says '$bad_shard'"
[ "$(python3 -c "import json; print(json.load(open('$record'))[0]['task_shards'])")" = "[[0, 1], [2, 3]]" ] ||
  fail "unexpected slicing of the first submission: $(cat "$record")"
for task in 0 1; do
  state=$(task_state "$array0" "$task")
  expected=COMPLETED
  [ "$task" = 1 ] && expected=FAILED
  [ "$state" = "$expected" ] || fail "array task ${array0}_$task ended '$state', expected $expected"
done
"$exe" status "$out" --json > "$work/status1.json" || true
python3 - "$work/status1.json" << 'EOF' || fail "status after the first array is wrong"
import json, sys
status = json.load(open(sys.argv[1]))
states = {s["id"]: (s["state"], s.get("reason", "")) for s in status["shards"]}
failed = [i for i, (state, _) in states.items() if state != "done"]
assert failed == [3], f"not-done shards {failed}, expected [3]"
assert states[3][0] == "failed" and "outside the vocabulary" in states[3][1], states[3]
print("status: shards 0-2 done, shard 3 failed:", states[3][1][:80])
EOF
# slurmctld marks the dependency DependencyNeverSatisfied on its next
# scheduling pass after the array ends (about 2 s later; until then squeue says
# "Dependency"), so one read right after the array races it: poll, with a bound
# of 30 s (15 passes at sched_interval=1 plus the main loop's own period).
reason='' deadline=$((SECONDS + 30))
while [ "$SECONDS" -lt "$deadline" ]; do
  reason=$(timeout 5 squeue -h -j "$gather0" -o %r)
  [ "$reason" = "DependencyNeverSatisfied" ] && break
  case "$reason" in
    Dependency | None | "") sleep 0.2 ;;  # not yet evaluated: wait for the pass
    *) break ;;  # any other reason is a wrong answer, not a race
  esac
done
[ "$reason" = "DependencyNeverSatisfied" ] || fail "gather $gather0 should wait forever behind the failed array, squeue says '$reason' (polled for up to 30 s)"
echo "gather $gather0 held: $reason"

echo "== fix the held-out tokens, rerun --slurm"
cp "$suite/data/heldout.bin" "$work/heldout_bad.bin"
timeout 60 "$exe" rerun "$out" --slurm || fail "rerun --slurm failed"
read -r count array1 gather1 shards1 < <(python3 -c "
import json; r=json.load(open('$record')); s=r[-1]
print(len(r), s['array_job_id'], s['gather_job_id'], json.dumps(s['task_shards']).replace(' ',''))")
[ "$count" = 2 ] || fail "expected 2 recorded submissions, found $count"
[ "$shards1" = "[[3]]" ] || fail "rerun submitted $shards1, expected exactly [[3]]"
[ "$(job_state "$gather0")" = CANCELLED ] || fail "stale gather $gather0 ended '$(job_state "$gather0")', expected CANCELLED"
wait_jobs_done "$array1,$gather1" 60
[ "$(task_state "$array1" 0)" = COMPLETED ] || fail "rerun array task ${array1}_0 ended '$(task_state "$array1" 0)'"
[ "$(job_state "$gather1")" = COMPLETED ] || fail "gather $gather1 ended '$(job_state "$gather1")', expected COMPLETED"
echo "rerun array $array1 = shards $shards1 COMPLETED; gather $gather1 COMPLETED after $(($(date +%s) - t0)) s"
[ -f "$out/results.h5" ] || fail "the gather job wrote no $out/results.h5"

echo "== query"
check_rows() {  # table, expected data rows
  "$exe" query "$out/results.h5" --table "$1" --format csv > "$work/query_$1.csv" || fail "query --table $1 failed"
  rows=$(($(wc -l < "$work/query_$1.csv") - 1))
  [ "$rows" = "$2" ] || fail "query --table $1 returned $rows rows, expected $2"
  echo "query --table $1: $rows rows"
}
check_rows shards 4
check_rows llc 2
check_rows critical 4  # 2 checkpoints x svd x 2 eps
"$exe" query "$out/results.h5" --table critical --where "model=badheldout"

# The same job run locally in one process (no SLURM, no rerun) gives the same
# llc and critical tables, value for value (timings excepted): results do not
# depend on the array slicing, on srun, or on a rerun.
echo "== compare with a local run"
timeout 60 "$exe" run "$work/job.ini" --job.output="$work/local" > "$work/local_run.log" 2>&1
[ $? = 0 ] || fail "local run failed: $(tail -n 5 "$work/local_run.log")"
timeout 60 "$exe" gather "$work/local" > /dev/null || fail "local gather failed"
for table in llc critical; do
  "$exe" query "$work/local/results.h5" --table "$table" --format csv > "$work/local_$table.csv" ||
    fail "query of the local run failed"
done
python3 - "$work" << 'PYEOF' || fail "SLURM and local results differ"
import csv, sys
work = sys.argv[1]
for table in ("llc", "critical"):
    rows = {}
    for source in ("query", "local"):
        with open(f"{work}/{source}_{table}.csv") as f:
            rows[source] = sorted([{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(f)],
                                  key=lambda r: (r["model"], r["step"], r.get("method", ""), r.get("eps", "")))
    assert rows["query"] == rows["local"], f"{table}: {rows['query']} != {rows['local']}"
    print(f"{table}: {len(rows['query'])} rows equal to the local run's (all columns but seconds)")
PYEOF
echo "PASS in $(($(date +%s) - t0)) s after SLURM came up"
