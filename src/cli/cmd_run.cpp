// llcpress run JOB.ini|OUT — run the plan's shards on the MPI ranks.
#include <fmt/format.h>

#include <exception>
#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>

#include "cli/subcommand.h"
#include "core/check.h"
#include "core/log.h"
#include "pipeline/mpi_session.h"
#include "pipeline/plan.h"
#include "pipeline/runner.h"

namespace llcpress::cli {

std::vector<std::string> take_job_overrides(int& argc, char** argv);  // cmd_plan.cpp

namespace {

// Finds the plan: from an output directory (its plan.json), or from a job file
// (planned now on rank 0 if OUT/plan.json is missing or --replan is given).
Plan resolve_plan(const std::string& target, const std::vector<std::string>& overrides, bool replan,
                  const MpiSession& mpi) {
  namespace fs = std::filesystem;
  if (fs::is_directory(target)) return Plan::load(target);
  JobSpec job = load_job(target, overrides);  // every rank validates the same file: same errors everywhere
  std::string plan_path = (fs::path(job.output) / "plan.json").string();
  // Only rank 0 expands the patterns and checks the datasets; its verdict is
  // broadcast so that no rank waits for a plan that will never come.
  std::exception_ptr failure;
  if (mpi.rank() == 0 && (replan || !fs::exists(plan_path))) {
    try {
      make_plan(job, overrides).save();
    } catch (...) {
      failure = std::current_exception();
    }
  }
  if (mpi.broadcast_from_root(failure ? 1 : 0) != 0) {
    if (failure) std::rethrow_exception(failure);
    throw ConfigError("rank 0 could not plan the job", target, "rank 0 printed the reason");
  }
  Plan plan = Plan::load(job.output);
  if (plan.overrides != overrides)
    throw ConfigError("the existing plan was made with other overrides", plan_path,
                      "pass --replan to plan again, or run on the output directory");
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
  options.add_options()("target", po::value<std::string>()->required(),
                        "job file, or an output directory with plan.json")(
      "shards", po::value<std::string>(), "only these shard ids, e.g. 0-3,7")("redo", po::bool_switch(),
                                                                              "also run shards that are already done")(
      "replan", po::bool_switch(), "plan again from the job file before running");
  po::positional_options_description positional;
  positional.add("target", 1);
  auto values = parse_options(name, "JOB.ini|OUT [--shards LIST] [--redo] [--section.key=value ...]", options, argc,
                              argv, &positional);
  if (!values) return 0;

  MpiSession mpi;
  const int rank = mpi.rank();
  int exit_code = 0;
  try {
    Plan plan = resolve_plan((*values)["target"].as<std::string>(), overrides, (*values)["replan"].as<bool>(), mpi);
    RunOptions run_options;
    if (values->count("shards")) run_options.only_shards = parse_shard_list((*values)["shards"].as<std::string>());
    run_options.redo_done = (*values)["redo"].as<bool>() && !rerun_only_unfinished;
    RunSummary summary = run_plan(plan, run_options);
    int local[4] = {summary.shards_attempted, summary.shards_done, summary.shards_failed, summary.stopped ? 1 : 0},
        total[4] = {0, 0, 0, 0};
    mpi.sum_to_root(local, total, 4);
    if (rank == 0) {
      spdlog::info("{}: {} shards run, {} done, {} failed; `llcpress status {}` lists them", name, total[0], total[1],
                   total[2], plan.output);
      exit_code = total[2] > 0 ? 3 : 0;
      if (total[3] > 0) {  // a stop request outranks shard failures: the run is unfinished on purpose
        spdlog::warn("{}: {} rank(s) stopped on SIGTERM/SIGINT; `llcpress rerun {}` continues (exit 4)", name, total[3],
                     plan.output);
        exit_code = 4;
      }
    }
    exit_code = mpi.broadcast_from_root(exit_code);
  } catch (const Error& error) {
    // An error before any shard ran (bad job, missing plan): every rank sees
    // the same one (or rank 0's verdict); rank 0 reports it.
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
