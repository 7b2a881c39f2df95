#!/bin/bash
# Issue 20, finding 6 (token ids): one token outside the vocabulary, in a
# sequence of the SGLD range that a random minibatch may never draw, fails the
# LLC shards before any sampling, with the dataset's sequence number in the
# reason. A passed check is cached in the run directory.
# usage: rundir_tokens_test.sh LLCPRESS_EXE SUITE_DIR WORK_DIR
source "$(dirname "$0")/rundir_lib.sh" "$@"
for suffix in idx bin; do cp "$suite/data/train.$suffix" "$work/bad.$suffix"; done
python3 - "$work/bad" << 'PY'
import struct, sys
prefix = sys.argv[1]
idx = open(prefix + ".idx", "rb").read()
dtype = idx[17]
size = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 8: 2}[dtype]
n = struct.unpack_from("<Q", idx, 18)[0]
pointers = struct.unpack_from("<%dq" % n, idx, 34 + 4 * n)
with open(prefix + ".bin", "r+b") as f:
    f.seek(pointers[37] + 3 * size)           # sequence 37, position 3
    f.write((2**(8 * size - 1) - 1).to_bytes(size, "little"))  # far beyond any vocabulary
PY
out=$work/out
write_job "$work/job.ini" "$out" && sed -i "s|^prefix = .*|prefix = $work/bad|" "$work/job.ini"
llc run "$work/job.ini"
expect_rc 3 "run with a bad token in the SGLD range"
for id in 0 2; do
  [ "$(shard_state "$out" $id)" = failed ] || fail "llc shard $id should be failed"
done
for id in 1 3; do  # the sweeps read the held-out split only
  [ "$(shard_state "$out" $id)" = done ] || fail "svd shard $id (held-out data) should be done"
done
llc status "$out"
expect_log "sequence 37 of $work/bad holds token" "the reason names the sequence"
expect_log "outside the vocabulary" "the reason says what is wrong"

good=$work/good
write_job "$work/good.ini" "$good"
llc run "$work/good.ini"
expect_rc 0 "run on good data"
[ "$(ls "$good/cache/token_checks" | wc -l)" = 2 ] || fail "the two passed checks (SGLD and held-out ranges) should be cached"
echo "PASS"
