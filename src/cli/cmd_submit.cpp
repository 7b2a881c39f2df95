// llcpress submit JOB.ini — plan, write the sbatch scripts, submit the array
// and the dependent gather + fit job. llcpress rerun OUT [--slurm] — run only
// the failed and missing shards, locally under MPI or as a new SLURM array.
#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <map>

#include "cli/subcommand.h"
#include "core/check.h"
#include "pipeline/plan.h"
#include "pipeline/run_lock.h"
#include "pipeline/runner.h"
#include "pipeline/slurm.h"

namespace llcpress::cli {

int run_shards_main(const std::string& name, int argc, char** argv, bool rerun_only_unfinished);
std::vector<std::string> take_job_overrides(int& argc, char** argv);  // cmd_plan.cpp

namespace {

std::string this_executable() {
  std::error_code error;
  auto path = std::filesystem::read_symlink("/proc/self/exe", error);
  LLC_CHECK(!error, IoError, "/proc/self/exe", "", "cannot find the llcpress executable: {}", error.message());
  return path.string();
}

void print_submission(const Submission& submission, std::size_t shard_count) {
  std::cout << fmt::format("{} {} shards in {} array tasks\n", submission.dry_run ? "would submit" : "submitted",
                           shard_count, submission.task_shards.size());
  std::cout << "  array script:  " << submission.array_script << "\n  gather script: " << submission.gather_script
            << "\n  shard lists:   " << submission.list_file << "\n";
  if (!submission.dry_run)
    std::cout << "  array job " << submission.array_job_id << ", gather job " << submission.gather_job_id
              << " (afterok)\n";
}

int submit_main(int argc, char** argv) {
  auto overrides = take_job_overrides(argc, argv);
  po::options_description options("submit options");
  // clang-format off
  options.add_options()
    ("job", po::value<std::string>()->required(), "job file (INI)")
    ("dry-run", po::bool_switch(), "write the scripts but do not call sbatch")
    ("force", po::bool_switch(), "rewrite the plan even if done shards would go stale")
    ("redo-stale", po::bool_switch(), "also submit stale shards (made with other settings than the plan)")
    ("json", po::bool_switch(), "print the submission as JSON");
  // clang-format on
  po::positional_options_description positional;
  positional.add("job", 1);
  auto values = parse_options("submit", "JOB.ini [--dry-run] [--force] [--redo-stale] [--section.key=value ...]",
                              options, argc, argv, &positional);
  if (!values) return 0;
  JobSpec job = load_job((*values)["job"].as<std::string>(), overrides);
  // The name and the output path go into #SBATCH lines: refuse what cannot
  // (a newline) before anything is written.
  sbatch_directive_value(job.name, "job.name");
  sbatch_directive_value(std::filesystem::absolute(job.output).string(), "job.output");
  Plan plan = make_plan(job, overrides);
  std::filesystem::create_directories(plan.output);
  {
    RunDirectoryLock lock(plan.output);  // never rewrite the plan under a running run
    lock.lock_directory(/*exclusive=*/true, "submit");
    guard_replan(plan, (*values)["force"].as<bool>(), "--force");
    plan.save();
  }
  std::vector<int> ids, stale;
  for (const auto& status : shard_statuses(plan)) {
    if (shard_needs_run(status.state, false, (*values)["redo-stale"].as<bool>())) ids.push_back(status.id);
    if (status.state == ShardState::Stale && !(*values)["redo-stale"].as<bool>()) stale.push_back(status.id);
  }
  if (!stale.empty())
    std::cerr << "llcpress submit: " << stale.size()
              << " stale shards (made with other settings than the plan) are not submitted; --redo-stale submits "
                 "them too\n";
  LLC_CHECK(!ids.empty(), InputError, plan.output, "every shard is already done; run `llcpress gather`",
            "nothing to submit");
  Submission submission =
      submit_to_slurm(plan, ids, SlurmSettings::from_job(job), this_executable(), (*values)["dry-run"].as<bool>());
  if ((*values)["json"].as<bool>())
    print_json(submission.to_json());
  else
    print_submission(submission, ids.size());
  return 0;
}

int rerun_main(int argc, char** argv) {
  bool slurm = false, dry_run = false, redo_stale = false;
  std::string completion_log;
  // --slurm / --dry-run / --completion-log are ours; everything else is `run`'s.
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    std::string argument = argv[i];
    if (argument == "--slurm")
      slurm = true;
    else if (argument == "--dry-run")
      dry_run = true;
    else if (argument == "--redo-stale") {
      redo_stale = true;
      argv[kept++] = argv[i];  // `run` and `rerun --slurm` both accept it
    } else if (argument == "--completion-log" && i + 1 < argc)
      completion_log = argv[++i];
    else
      argv[kept++] = argv[i];
  }
  argc = kept;
  if (!slurm) return run_shards_main("rerun", argc, argv, true);

  po::options_description options("rerun --slurm options");
  options.add_options()("output", po::value<std::string>()->required(), "output directory of the run")(
      "redo-stale", po::bool_switch(), "also resubmit stale shards (made with other settings than the plan)");
  po::positional_options_description positional;
  positional.add("output", 1);
  auto values =
      parse_options("rerun", "OUT [--slurm [--dry-run] [--completion-log FILE]] [--redo-stale] [--shards LIST]",
                    options, argc, argv, &positional);
  if (!values) return 0;
  Plan plan = Plan::load((*values)["output"].as<std::string>());
  if (completion_log.empty()) completion_log = job_completion_log_path();
  RerunDecision decision = decide_slurm_rerun(plan, completion_log, redo_stale);
  for (const auto& line : decision.explanations) std::cout << "  " << line << "\n";
  if (decision.shards.empty()) {
    std::cout << "nothing to resubmit\n";
    return 0;
  }
  // Gather jobs of earlier submissions wait on arrays that failed: they can
  // never start, so they are cancelled; the new submission has its own.
  if (!dry_run)
    for (const auto& job_id : decision.stale_gather_jobs) {
      try {
        run_command({"scancel", job_id});
      } catch (const Error&) {
        // already gone
      }
    }
  const JobSpec job = plan.job();
  Submission submission =
      submit_to_slurm(plan, decision.shards, SlurmSettings::from_job(job), this_executable(), dry_run);
  print_submission(submission, decision.shards.size());
  return 0;
}

}  // namespace
LLCPRESS_SUBCOMMAND("submit", "plan a job and submit it to SLURM (array + dependent gather/fit)", submit_main)
LLCPRESS_SUBCOMMAND("rerun", "run only failed and missing shards (locally under MPI, or --slurm as a new array)",
                    rerun_main)

}  // namespace llcpress::cli
