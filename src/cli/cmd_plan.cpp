// llcpress plan JOB.ini — expand a job into numbered shards (OUT/plan.json).
#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <map>

#include "cli/subcommand.h"
#include "core/check.h"
#include "pipeline/plan.h"
#include "pipeline/run_lock.h"
#include "pipeline/runner.h"

namespace llcpress::cli {
namespace {

// Splits argv into the subcommand's own flags and job-key overrides
// (--section.key=value), which go to the job loader.
std::vector<std::string> take_overrides(int& argc, char** argv) {
  std::vector<std::string> overrides;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    std::string argument = argv[i];
    auto dot = argument.find('.');
    // --device X and --precision X are the job's [job] keys, as on the commands without a job file.
    if ((argument == "--device" || argument == "--precision") && i + 1 < argc) {
      overrides.push_back("--job." + argument.substr(2) + "=" + std::string(argv[++i]));
    } else if (argument.rfind("--device=", 0) == 0 || argument.rfind("--precision=", 0) == 0) {
      overrides.push_back("--job." + argument.substr(2));
    } else if (argument.rfind("--", 0) == 0 && dot != std::string::npos && dot < argument.find('=')) {
      overrides.push_back(argument);
      if (argument.find('=') == std::string::npos && i + 1 < argc) overrides.push_back(argv[++i]);
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  return overrides;
}

int plan_main(int argc, char** argv) {
  auto overrides = take_overrides(argc, argv);
  po::options_description options("plan options");
  // clang-format off
  options.add_options()
    ("job", po::value<std::string>()->required(), "job file (INI)")
    ("force", po::bool_switch(), "rewrite the plan even if done shards would go stale (they are kept and listed as stale)")
    ("json", po::bool_switch(), "print the plan summary as JSON");
  // clang-format on
  po::positional_options_description positional;
  positional.add("job", 1);
  auto values =
      parse_options("plan", "JOB.ini [--section.key=value ...] [--force] [--json]", options, argc, argv, &positional);
  if (!values) return 0;
  JobSpec job = load_job((*values)["job"].as<std::string>(), overrides);
  Plan plan = make_plan(job, overrides);
  std::filesystem::create_directories(plan.output);
  RunDirectoryLock lock(plan.output);  // never rewrite the plan under a running run
  lock.lock_directory(/*exclusive=*/true, "plan");
  guard_replan(plan, (*values)["force"].as<bool>(), "--force");
  plan.save();
  std::map<std::string, int> per_task;
  for (const auto& shard : plan.shards) ++per_task[shard.task];
  if ((*values)["json"].as<bool>()) {
    print_json({{"plan", plan.output + "/plan.json"},
                {"shards", plan.shards.size()},
                {"per_task", per_task},
                {"estimated_token_passes", plan.estimated_token_passes}});
    return 0;
  }
  std::cout << "plan: " << plan.shards.size() << " shards written to " << plan.output << "/plan.json\n";
  for (const auto& [task, count] : per_task) std::cout << "  " << task << ": " << count << " shards\n";
  std::cout << fmt::format("estimated work: {:.3g} token-passes (forward = 1, forward+backward = 3)\n",
                           plan.estimated_token_passes);
  return 0;
}

}  // namespace

std::vector<std::string> take_job_overrides(int& argc, char** argv) { return take_overrides(argc, argv); }

LLCPRESS_SUBCOMMAND("plan", "expand a job file into numbered shards (OUT/plan.json)", plan_main)

}  // namespace llcpress::cli
