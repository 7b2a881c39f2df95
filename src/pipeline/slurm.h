// SLURM submission: an array job whose task i runs line i of a shard list with
// srun, and a dependent gather + fit job (--dependency=afterok). Every
// submission is recorded in OUT/slurm/submissions.json; `rerun --slurm` reads
// that record, SLURM's durable job-completion log (JobCompType=jobcomp/filetxt,
// REFERENCE §6) and the shard files to decide what to resubmit.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pipeline/job_spec.h"
#include "pipeline/plan.h"

namespace llcpress {

struct SlurmSettings {
  int ranks_per_task = 1;
  int cpus_per_task = 1;
  int gpus_per_task = 0;
  int array_tasks = 0;  // 0: one array task per shard (capped at the shard count)
  std::string time = "01:00:00";
  std::string partition, account, extra_directives;
  std::string mpi = "pmix";
  static SlurmSettings from_job(const JobSpec& job);
};

struct Submission {
  std::string array_job_id, gather_job_id;
  std::string list_file, array_script, gather_script;
  std::vector<std::vector<int>> task_shards;  // shards of each array task
  bool dry_run = false;
  nlohmann::json to_json() const;
};

// Writes the scripts and list for `shard_ids`, submits them unless dry_run,
// and appends the submission to OUT/slurm/submissions.json.
Submission submit_to_slurm(const Plan& plan, const std::vector<int>& shard_ids, const SlurmSettings& settings,
                           const std::string& llcpress_executable, bool dry_run);

// One line of the job-completion log, as key → value.
struct JobCompletion {
  std::string job_id, array_job_id, array_task_id, state, exit_code;
};
std::vector<JobCompletion> read_job_completions(const std::string& path);
std::string job_completion_log_path();  // from `scontrol show config` (JobCompLoc)

struct RerunDecision {
  std::vector<int> shards;                     // to resubmit
  std::vector<std::string> explanations;       // one line per failed array task / shard state, for the user
  std::vector<std::string> stale_gather_jobs;  // gather jobs whose dependency can never be satisfied
};
// Stale shards (pipeline/runner.h) are resubmitted only with `redo_stale`.
RerunDecision decide_slurm_rerun(const Plan& plan, const std::string& completion_log, bool redo_stale = false);

// `text` as one shell word: single-quoted, each ' written as '\''.
std::string shell_quote(const std::string& text);
// `text` as the value of an #SBATCH option: sbatch splits these lines at
// whitespace, honours backslash escapes and quotes and cuts at '#', so every
// character but letters, digits and ._/%:=,+@- gets a backslash. A control
// character (a newline would end the directive and start shell code) is a
// ConfigError naming `key`.
std::string sbatch_directive_value(const std::string& text, const std::string& key);

// Runs a command, returns its stdout; throws BackendError with its stderr on failure.
std::string run_command(const std::vector<std::string>& arguments);

// Registers the [slurm] keys of the job file.
void add_slurm_options(po::options_description& options);

}  // namespace llcpress
