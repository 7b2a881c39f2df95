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

enum class ShardState { Done, Failed, Missing };
const char* shard_state_name(ShardState state);

struct ShardStatus {
  int id = 0;
  ShardState state = ShardState::Missing;
  std::string reason;  // for failed shards: the recorded error
};

// Looks at OUT/shards/ for every shard of the plan (no MPI needed).
std::vector<ShardStatus> shard_statuses(const Plan& plan);

struct RunOptions {
  std::vector<int> only_shards;  // empty: every shard that is not done
  bool redo_done = false;        // also rerun shards that are done
};

struct RunSummary {
  int shards_attempted = 0, shards_done = 0, shards_failed = 0;  // on this rank
  bool stopped = false;  // SIGTERM/SIGINT: this rank stopped early (pipeline/stop_signal.h)
};

// Call between MPI_Init and MPI_Finalize on every rank.
RunSummary run_plan(const Plan& plan, const RunOptions& options);

std::string shard_error_path(const Plan& plan, int id);
// OUT/shards/<id>.partial.h5: the finished chains of an interrupted LLC shard (slt/chain_checkpoint.h).
std::string shard_partial_path(const Plan& plan, int id);
// OUT/shards/<id>.failed.h5: the result of a shard that ran but is not usable (too few healthy chains).
std::string shard_failed_result_path(const Plan& plan, int id);

}  // namespace llcpress
