// The plan: a job expanded into numbered shards (one checkpoint × one task),
// written to OUT/plan.json. Shard ids are positions in a deterministic order —
// models as listed, checkpoints by training step (then path), tasks as listed —
// so the same job over the same files always gives the same ids.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pipeline/job_spec.h"

namespace llcpress {

struct Shard {
  int id = 0;
  std::string model;
  std::string checkpoint;                   // absolute path
  std::int64_t step = -1;                   // from "step<k>" in the path; -1 when absent
  std::string task;                         // "llc" or a compression method
  std::string data_prefix, heldout_prefix;  // absolute dataset prefixes of the shard's model
};

struct Plan {
  std::string job_path;  // absolute; informational: commands run from job_resolved, not from this file
  // Absolute output directory: always the directory the plan was loaded from
  // (load() rebases it), never the one recorded when it was written, so a run
  // can be moved or copied and every command works on the copy it is given.
  std::string output;
  std::vector<std::string> overrides;  // command-line overrides the job was loaded with
  nlohmann::json job_resolved;
  std::vector<Shard> shards;
  double estimated_token_passes = 0;

  std::string shard_path(int id) const;  // OUT/shards/<id>.h5 (5-digit zero-padded)
  static std::string shard_file_name(int id);
  nlohmann::json to_json() const;
  static Plan from_json(const nlohmann::json& json, const std::string& where);
  static Plan load(const std::string& output_directory);  // reads OUT/plan.json
  void save() const;                                      // writes OUT/plan.json atomically
  std::string plan_path() const;                          // OUT/plan.json

  // The job the plan was made from, rebuilt from job_resolved (never from the
  // job file, which may have moved or changed since), with job.output = output.
  JobSpec job() const;
  // What shard `id` depends on and its digest (pipeline/shard_settings.h).
  nlohmann::json shard_settings(int id) const;
  std::string shard_settings_digest(int id) const;
};

// Extracts k from a path component "step<k>" (the last one that matches); -1 if none.
std::int64_t step_from_path(const std::string& path);

// Expands the models' patterns (every pattern must match at least one
// checkpoint directory or file), checks the sequence ranges against the
// datasets, and numbers the shards.
Plan make_plan(const JobSpec& job, const std::vector<std::string>& overrides = {});

}  // namespace llcpress
