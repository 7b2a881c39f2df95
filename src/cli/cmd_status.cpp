// llcpress status OUT — done / stale / bad / failed (with reason) / missing per shard.
#include <fmt/format.h>

#include <iostream>
#include <map>

#include "cli/subcommand.h"
#include "pipeline/plan.h"
#include "pipeline/runner.h"

namespace llcpress::cli {
namespace {

int status_main(int argc, char** argv) {
  po::options_description options("status options");
  options.add_options()("output", po::value<std::string>()->required(), "output directory (holds plan.json)")(
      "all", po::bool_switch(), "list done shards too")("json", po::bool_switch(), "machine-readable output");
  po::positional_options_description positional;
  positional.add("output", 1);
  auto values = parse_options("status", "OUT [--all] [--json]", options, argc, argv, &positional);
  if (!values) return 0;
  Plan plan = Plan::load((*values)["output"].as<std::string>());
  auto statuses = shard_statuses(plan);
  std::map<std::string, int> totals = {{"done", 0}, {"stale", 0}, {"bad", 0}, {"failed", 0}, {"missing", 0}};
  for (const auto& status : statuses) ++totals[shard_state_name(status.state)];
  bool all = (*values)["all"].as<bool>();
  if ((*values)["json"].as<bool>()) {
    nlohmann::json shards = nlohmann::json::array();
    for (const auto& status : statuses) {
      const Shard& shard = plan.shards[status.id];
      shards.push_back({{"id", shard.id},
                        {"model", shard.model},
                        {"step", shard.step},
                        {"task", shard.task},
                        {"checkpoint", shard.checkpoint},
                        {"state", shard_state_name(status.state)},
                        {"reason", status.reason}});
    }
    print_json({{"output", plan.output}, {"totals", totals}, {"shards", shards}});
  } else {
    std::cout << fmt::format("{:>6}  {:<8} {:<16} {:>8}  {:<14} {}\n", "shard", "state", "model", "step", "task",
                             "reason");
    for (const auto& status : statuses) {
      if (status.state == ShardState::Done && !all) continue;
      const Shard& shard = plan.shards[status.id];
      std::cout << fmt::format("{:>6}  {:<8} {:<16} {:>8}  {:<14} {}\n", shard.id, shard_state_name(status.state),
                               shard.model, shard.step, shard.task, status.reason);
    }
    std::cout << fmt::format("total {}: {} done, {} stale, {} bad, {} failed, {} missing\n", statuses.size(),
                             totals["done"], totals["stale"], totals["bad"], totals["failed"], totals["missing"]);
    if (totals["stale"] > 0)
      std::cout << fmt::format(
          "stale shards were made with other settings than the plan: they are not gathered; "
          "`llcpress rerun {} --redo-stale` recomputes them\n",
          plan.output);
  }
  return totals["done"] == static_cast<int>(statuses.size()) ? 0 : 3;
}

}  // namespace
LLCPRESS_SUBCOMMAND("status",
                    "show done / stale / bad / failed (with reason) / missing shards of a run; exit 3 unless all done",
                    status_main)

}  // namespace llcpress::cli
