// Runs a plan's shards on the ranks of MPI_COMM_WORLD (mpiexec or srun).
//
// Scheduling: dynamic, with no master rank. Rank 0 exposes one 64-bit counter
// in an MPI window; every rank (rank 0 included) takes the next shard with an
// atomic MPI_Fetch_and_op, so fast ranks take more shards and a long LLC shard
// never holds up the rest. Which rank runs which shard does not affect any
// result (seeds depend on the job seed and shard id only).
//
// Output: a finished shard becomes OUT/shards/<id>.h5, written under a
// temporary name and renamed when complete; a failed shard writes
// OUT/shards/<id>.error.json (reason, rank, host, time) and the rank moves on.
#pragma once

#include <string>
#include <vector>

#include "pipeline/plan.h"

namespace llcpress {

// done:    the shard file is valid and was made with the settings the plan asks for;
// stale:   a valid shard file made with other settings (pipeline/shard_settings.h);
//          kept, never gathered, recomputed only with --redo-stale;
// bad:     a shard file that cannot be read as a complete shard (truncated, empty,
//          wrong schema); redone by run and rerun;
// failed:  no shard file, an error record OUT/shards/<id>.error.json;
// missing: neither.
enum class ShardState { Done, Stale, Bad, Failed, Missing };
const char* shard_state_name(ShardState state);

struct ShardStatus {
  int id = 0;
  ShardState state = ShardState::Missing;
  std::string reason;  // failed: the recorded error; stale: what changed; bad: why it cannot be read
};

// Looks at OUT/shards/ for every shard of the plan (no MPI needed): opens each
// shard file, checks its schema and compares its recorded settings with the plan.
std::vector<ShardStatus> shard_statuses(const Plan& plan);
ShardStatus shard_status(const Plan& plan, int id);

// Whether run/rerun compute a shard in this state.
bool shard_needs_run(ShardState state, bool redo_done, bool redo_stale);

class RunDirectoryLock;

// Before plan.json in next.output is replaced by `next`: the done shards of
// the current plan there that `next` would make stale (other settings under
// the same id, or no longer planned), one line each. Empty when there is no
// current plan or nothing would change.
std::vector<std::string> shards_made_stale_by(const Plan& next);

// Refuses (ConfigError listing them, naming `flag`) to replace a plan whose
// done shards would go stale, unless `allowed`; then it logs them.
void guard_replan(const Plan& next, bool allowed, const std::string& flag);

struct RunOptions {
  std::vector<int> only_shards;  // empty: every shard that is not done
  bool redo_done = false;        // also rerun shards that are done
  bool redo_stale = false;       // also rerun shards made with other settings than the plan
};

struct RunSummary {
  int shards_attempted = 0, shards_done = 0, shards_failed = 0;  // on this rank
  bool stopped = false;  // SIGTERM/SIGINT: this rank stopped early (pipeline/stop_signal.h)
  int shards_stale_kept = 0;                                     // rank 0: stale shards left as they are
  int shards_claimed_elsewhere = 0;                              // being run by another process: skipped
};

// Call between MPI_Init and MPI_Finalize on every rank. `lock` is this
// process's handle on OUT/.llcpress.lock; rank 0 has taken the directory lock.
RunSummary run_plan(const Plan& plan, const RunOptions& options, RunDirectoryLock& lock);

std::string shard_error_path(const Plan& plan, int id);
// OUT/shards/<id>.partial.h5: the finished chains of an interrupted LLC shard (slt/chain_checkpoint.h).
std::string shard_partial_path(const Plan& plan, int id);
// OUT/shards/<id>.failed.h5: the result of a shard that ran but is not usable (too few healthy chains).
std::string shard_failed_result_path(const Plan& plan, int id);

}  // namespace llcpress
