// `llcpress gather OUT`: merges the finished shards of a run into
// OUT/results.h5 (written under a temporary name and renamed, so a reader
// never sees a half-written file). Layout (docs/hdf5-schema.md §4):
//   /                  provenance, kind = "llcpress-results", shard counts
//   /shards/<id>       external link to each finished shard file's root group
//   /tables/shards     one row per planned shard: state, reason, timings
//   /tables/llc        one row per checkpoint with an llc shard
//   /tables/critical   one row per checkpoint × method × ε
//   /tables/curves     one row per evaluated point of every sweep
// The tables are io::write_table groups that h5py/pandas read in one call.
#pragma once

#include <cstdint>
#include <string>

#include "pipeline/plan.h"

namespace llcpress {

struct GatherSummary {
  std::string path;  // OUT/results.h5
  int shards_done = 0, shards_failed = 0, shards_missing = 0;
  int shards_stale = 0, shards_bad = 0;  // present but not gathered (pipeline/runner.h)
  std::int64_t llc_rows = 0, critical_rows = 0, curve_rows = 0;
  std::int64_t llc_rows_failed = 0;  // rows of /tables/llc with status "failed" (kept results of failed shards)
};

// Reads every done shard of the plan (IoError naming a shard file that cannot
// be read) and writes OUT/results.h5 atomically. Stale (made with other
// settings than the plan), bad, failed and missing shards appear in
// /tables/shards, with their state and reason; a failed LLC shard whose result
// was kept (OUT/shards/<id>.failed.h5: too few healthy chains) also gets a row
// in /tables/llc with status "failed", and its λ̂ reaches no critical row. The
// caller decides whether that is an error.
GatherSummary gather_results(const Plan& plan);

}  // namespace llcpress
