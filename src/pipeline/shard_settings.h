// The settings a shard's result depends on, and their digest.
//
// A shard file records the SHA-256 of the canonical JSON of these settings
// (attribute settings_sha256, and the JSON itself as settings_json). `status`,
// `rerun`, `gather` and `plan` recompute them from plan.json and call a done
// shard *stale* when they differ: the shard was made with other settings than
// the plan now asks for (another ε, more draws, another checkpoint under the
// same shard id). Only keys that change the numbers are included, so adding a
// compression method to a job, changing the thread count, the log level or
// the SLURM keys leaves finished shards current:
//   every task:  task, shard id (seeds depend on it), checkpoint path, the two
//                dataset prefixes of the shard, job.seed, data.seq_len,
//                data.batch, data.sgld_sequences, data.eval_sequences;
//   llc:         every llc.* key except llc.enabled;
//   method m:    compress.eps and every compress.m.* key.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pipeline/plan.h"

namespace llcpress {

// `job_resolved` is JobSpec::resolved() (plan.json's "job", or a shard's
// provenance config_json). The keys of a JSON object are sorted, so dump() is
// canonical.
nlohmann::json shard_settings(const nlohmann::json& job_resolved, const Shard& shard);

// Lower-case hex SHA-256 of settings.dump().
std::string settings_digest(const nlohmann::json& settings);

// "llc.draws 10 -> 20, checkpoint /a -> /b": the keys whose values differ
// (keys present on one side only included), for messages.
std::string describe_settings_change(const nlohmann::json& recorded, const nlohmann::json& planned);

}  // namespace llcpress
