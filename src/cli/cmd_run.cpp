// llcpress run JOB.ini|OUT — run the plan's shards on the MPI ranks.
#include <fmt/format.h>

#include <exception>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

#include "cli/subcommand.h"
#include "core/check.h"
#include "core/log.h"
#include "pipeline/mpi_session.h"
#include "pipeline/plan.h"
#include "pipeline/run_lock.h"
#include "pipeline/runner.h"
#include "pipeline/shard_settings.h"

namespace llcpress::cli {

std::vector<std::string> take_job_overrides(int& argc, char** argv);  // cmd_plan.cpp

namespace {

// Finds the run directory: the target itself, or a job file's job.output.
// Overrides change settings only through a plan (a job file target).
struct Target {
  std::string output;
  std::optional<JobSpec> job;  // when the target is a job file
};

Target resolve_target(const std::string& target, const std::vector<std::string>& overrides) {
  namespace fs = std::filesystem;
  if (fs::is_directory(target)) {
    LLC_CHECK(overrides.empty(), ConfigError, overrides.empty() ? "" : overrides.front(),
              "a run's settings change only by planning again: `llcpress run JOB.ini " +
                  (overrides.empty() ? std::string() : overrides.front()) + " --replan`",
              "settings overrides are not accepted with an output directory ({})", target);
    return {target, std::nullopt};
  }
  JobSpec job = load_job(target, overrides);  // every rank validates the same file: same errors everywhere
  return {job.output, std::move(job)};
}

// Rank 0 takes the directory lock and (re)plans when asked; the other ranks
// wait for its verdict, so that no rank waits for a plan that will never come.
Plan prepare_run(const Target& target, const std::vector<std::string>& overrides, bool replan, bool exclusive,
                 const std::string& name, RunDirectoryLock*& lock, std::unique_ptr<RunDirectoryLock>& lock_owner,
                 const MpiSession& mpi) {
  namespace fs = std::filesystem;
  std::exception_ptr failure;
  int failure_kind = 0;
  if (mpi.rank() == 0) {
    try {
      // Planning validates the job before anything is written.
      std::optional<Plan> fresh;
      if (target.job && (replan || !fs::exists(fs::path(target.output) / "plan.json")))
        fresh = make_plan(*target.job, overrides);
      fs::create_directories(target.output);
      lock_owner = std::make_unique<RunDirectoryLock>(target.output);
      lock_owner->lock_directory(exclusive, name);
      if (fresh) {
        guard_replan(*fresh, /*allowed=*/true, "--replan");  // --replan is the user's consent; lists what goes stale
        fresh->save();
      }
    } catch (const Error& error) {
      failure = std::current_exception();
      failure_kind = static_cast<int>(error.kind()) + 1;
    } catch (...) {
      failure = std::current_exception();
      failure_kind = static_cast<int>(ErrorKind::Internal) + 1;
    }
  }
  failure_kind = mpi.broadcast_from_root(failure_kind);
  if (failure_kind != 0) {
    if (failure) std::rethrow_exception(failure);
    throw Error(static_cast<ErrorKind>(failure_kind - 1), "rank 0 could not prepare the run", target.output,
                "rank 0 printed the reason");
  }
  if (!lock_owner) lock_owner = std::make_unique<RunDirectoryLock>(target.output);
  lock = lock_owner.get();
  Plan plan = Plan::load(target.output);
  if (target.job && !replan) {
    // The plan runs as planned; a job file or overrides that say otherwise need --replan.
    nlohmann::json planned = plan.job_resolved, asked = target.job->resolved();
    planned.erase("job.path");
    asked.erase("job.path");
    if (planned != asked)
      throw ConfigError(fmt::format("the job differs from the plan in {}: {}", target.output,
                                    describe_settings_change(planned, asked)),
                        plan.plan_path(), "pass --replan to plan again, or run on the output directory as planned");
  }
  return plan;
}

std::vector<int> parse_shard_list(const std::string& text) {
  std::vector<int> ids;
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, ',')) {
    if (part.empty()) continue;
    auto dash = part.find('-');
    try {
      if (dash == std::string::npos) {
        ids.push_back(std::stoi(part));
      } else {
        int first = std::stoi(part.substr(0, dash)), last = std::stoi(part.substr(dash + 1));
        LLC_CHECK(first <= last, ConfigError, "--shards", "", "range {} is reversed", part);
        for (int id = first; id <= last; ++id) ids.push_back(id);
      }
    } catch (const std::logic_error&) {
      throw ConfigError(fmt::format("'{}' is not a shard id or range", part), "--shards", "e.g. --shards 0-3,7");
    }
  }
  return ids;
}

}  // namespace

int run_shards_main(const std::string& name, int argc, char** argv, bool rerun_only_unfinished) {
  auto overrides = take_job_overrides(argc, argv);
  po::options_description options(name + " options");
  // clang-format off
  options.add_options()
    ("target", po::value<std::string>()->required(), "job file, or an output directory with plan.json")
    ("shards", po::value<std::string>(), "only these shard ids, e.g. 0-3,7")
    ("redo", po::bool_switch(), "also run shards that are already done")
    ("redo-stale", po::bool_switch(), "also run stale shards (made with other settings than the plan)")
    ("replan", po::bool_switch(), "plan again from the job file before running (done shards whose settings change become stale)");
  // clang-format on
  po::positional_options_description positional;
  positional.add("target", 1);
  auto values = parse_options(name, "JOB.ini|OUT [--shards LIST] [--redo] [--redo-stale] [--section.key=value ...]",
                              options, argc, argv, &positional);
  if (!values) return 0;

  MpiSession mpi;
  const int rank = mpi.rank();
  int exit_code = 0;
  try {
    const Target target = resolve_target((*values)["target"].as<std::string>(), overrides);
    RunOptions run_options;
    if (values->count("shards")) run_options.only_shards = parse_shard_list((*values)["shards"].as<std::string>());
    run_options.redo_done = (*values)["redo"].as<bool>() && !rerun_only_unfinished;
    run_options.redo_stale = (*values)["redo-stale"].as<bool>();
    RunDirectoryLock* lock = nullptr;
    std::unique_ptr<RunDirectoryLock> lock_owner;
    // A whole-plan run holds the directory alone; --shards runs (SLURM array tasks) share it.
    Plan plan = prepare_run(target, overrides, (*values)["replan"].as<bool>(), run_options.only_shards.empty(), name,
                            lock, lock_owner, mpi);
    RunSummary summary = run_plan(plan, run_options, *lock);
    int local[6] = {summary.shards_attempted,  summary.shards_done,
                    summary.shards_failed,     summary.shards_stale_kept,
                    summary.shards_claimed_elsewhere, summary.stopped ? 1 : 0},
        total[6] = {0, 0, 0, 0, 0, 0};
    mpi.sum_to_root(local, total, 6);
    if (rank == 0) {
      spdlog::info("{}: {} shards run, {} done, {} failed; `llcpress status {}` lists them", name, total[0], total[1],
                   total[2], plan.output);
      if (total[3] > 0)
        spdlog::warn("{}: {} stale shards were left as they are: `llcpress rerun {} --redo-stale` recomputes them",
                     name, total[3], plan.output);
      if (total[4] > 0)
        spdlog::warn("{}: {} shards were skipped because another process was running them", name, total[4]);
      exit_code = total[2] + total[3] + total[4] > 0 ? 3 : 0;
      if (total[5] > 0) {  // a stop request outranks shard failures: the run is unfinished on purpose
        spdlog::warn("{}: {} rank(s) stopped on SIGTERM/SIGINT; `llcpress rerun {}` continues (exit 4)", name, total[5],
                     plan.output);
        exit_code = 4;
      }
    }
    exit_code = mpi.broadcast_from_root(exit_code);
  } catch (const Error& error) {
    // An error before any shard ran (bad job, missing plan, a held lock): every
    // rank sees the same one (or rank 0's verdict); rank 0 reports it.
    if (rank == 0)
      std::cerr << "llcpress " << name << ": " << error_kind_name(error.kind()) << ": " << error.what() << "\n";
    exit_code = error.kind() == ErrorKind::Config ? 2 : 1;
  }
  return exit_code;
}

namespace {
int run_main(int argc, char** argv) { return run_shards_main("run", argc, argv, false); }
}  // namespace

LLCPRESS_SUBCOMMAND("run", "run a job's shards under MPI (mpiexec -n P / srun); exit 3 if any shard failed", run_main)

}  // namespace llcpress::cli
