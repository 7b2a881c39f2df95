#!/bin/bash
# Issue 20, finding 5: `submit` quotes every value it writes into the sbatch
# scripts. The output path and the job name carry spaces, both quotes, $(...),
# backticks, '#', '%' and a placeholder-like "@MPI@"; each $(...) and backtick
# would create a canary file if the shell ever ran it. The scripts are checked
# with `bash -n`, then run for real with a stub srun that records its argv
# (the array script) and with the real llcpress (the gather script), and the
# #SBATCH lines are read back the way sbatch's own parser reads them
# (whitespace-separated, backslash escapes, quotes, '#' starts a comment).
# A newline in a job name or output path is refused (an #SBATCH line cannot
# hold one), before any script is written.
# usage: submit_quoting_test.sh LLCPRESS_EXE SUITE_DIR WORK_DIR
source "$(dirname "$0")/rundir_lib.sh" "$@"
canary=$work/canary
weird="$work/out dir 'single' \"double\" \$(touch $canary.path1) \`touch $canary.path2\` #hash 50% @MPI@"
name="name 'q' \"d\" \$(touch $canary.name1) \`touch $canary.name2\` #x"
write_job "$work/job.ini" "$work/unused"
llc submit "$work/job.ini" --dry-run "--job.output=$weird" "--job.name=$name" --json
expect_rc 0 "submit --dry-run with a hostile path and name"
ls "$canary".* > /dev/null 2>&1 && fail "submit itself ran shell code: $(ls "$canary".*)"
array=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['array_script'])" "$work/last.log")
gather=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['gather_script'])" "$work/last.log")
[ -f "$array" ] && [ -f "$gather" ] || fail "scripts not written: $array $gather"
bash -n "$array" || fail "array script is not valid bash"
bash -n "$gather" || fail "gather script is not valid bash"

# #SBATCH values as sbatch reads them.
python3 - "$array" "$gather" "$name" "$weird" << 'PY' || fail "#SBATCH values do not read back"
import sys
def sbatch_words(line):
    # sbatch's reading of an #SBATCH line: split at unquoted whitespace,
    # a backslash takes the next character literally, quotes group, '#' ends it.
    words, word, quote, escape, started = [], "", None, False, False
    for c in line:
        if escape:
            word += c; escape = False; started = True; continue
        if c == "\\":
            escape = True; continue
        if quote:
            if c == quote: quote = None
            else: word += c
            continue
        if c in "\"'":
            quote = c; started = True; continue
        if c == "#": break
        if c.isspace():
            if started: words.append(word)
            word, started = "", False
            continue
        word += c; started = True
    if started: words.append(word)
    return words
array, gather, name, out = sys.argv[1:]
def options(path):
    found = {}
    for line in open(path):
        if line.startswith("#SBATCH"):
            for word in sbatch_words(line[len("#SBATCH"):]):
                key, _, value = word.partition("=")
                found[key] = value
    return found
a, g = options(array), options(gather)
escaped = out.replace("%", "%%")
checks = [(a.get("--job-name"), name), (g.get("--job-name"), name + "-gather"),
          (a.get("--output"), escaped + "/slurm/logs/%A_%a.out"), (g.get("--output"), escaped + "/slurm/logs/gather_%j.out")]
for got, want in checks:
    if got != want:
        print("read back", repr(got), "expected", repr(want)); sys.exit(1)
PY

# The array script for real, with a stub srun that records its arguments.
mkdir -p "$work/bin"
cat > "$work/bin/srun" << 'STUB'
#!/bin/bash
printf '%s\0' "$@" > "$SRUN_ARGS"
STUB
chmod +x "$work/bin/srun"
SRUN_ARGS=$work/srun.args SLURM_ARRAY_TASK_ID=0 SLURM_ARRAY_JOB_ID=1 PATH="$work/bin:$PATH" bash "$array" \
  > "$work/array.log" 2>&1 || { cat "$work/array.log"; fail "array script failed"; }
python3 - "$work/srun.args" "$weird" << 'PY' || fail "srun did not receive the output path as one exact argument"
import sys
args = open(sys.argv[1], "rb").read().split(b"\0")[:-1]
out = sys.argv[2].encode()
i = args.index(b"run")
if args[i + 1] != out:
    print("srun argv:", args); sys.exit(1)
PY
# The gather script with the real llcpress: nothing is done yet, so gather
# --require-complete exits 3; what matters is that nothing else ran.
bash "$gather" > "$work/gather.log" 2>&1
grep -qF "$weird" "$work/gather.log" || { cat "$work/gather.log"; fail "gather script did not pass the output path through"; }
ls "$canary".* > /dev/null 2>&1 && fail "a script ran shell code from a value: $(ls "$canary".*)"

# A newline cannot be written into an #SBATCH line: refused, nothing written.
llc submit "$work/job.ini" --dry-run "--job.output=$work/nl" "--job.name=two
lines"
expect_rc 2 "submit with a newline in the job name"
expect_log "job.name" "the refusal names the key"
ls "$work/nl/slurm"/*.sbatch > /dev/null 2>&1 && fail "scripts written for a refused job name"
llc submit "$work/job.ini" --dry-run "--job.output=$work/nl
touch $canary.nl"
expect_rc 2 "submit with a newline in the output path"
ls "$canary".* > /dev/null 2>&1 && fail "a newline in the output path ran shell code"
echo "PASS"
