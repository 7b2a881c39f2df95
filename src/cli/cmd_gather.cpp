// llcpress gather OUT — merge the finished shards into OUT/results.h5.
// llcpress query OUT/results.h5 [--table T] [--where ...] [--columns ...] [--format F]
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>
#include <map>

#include "cli/subcommand.h"
#include "core/check.h"
#include "io/hdf5.h"
#include "io/provenance.h"
#include "pipeline/gather.h"
#include "pipeline/plan.h"
#include "pipeline/query.h"
#include "pipeline/runner.h"

namespace llcpress::cli {
namespace {

int gather_main(int argc, char** argv) {
  po::options_description options("gather options");
  options.add_options()("output", po::value<std::string>()->required(), "output directory (holds plan.json)")(
      "require-complete", po::bool_switch(), "fail (exit 3, no results.h5 written) unless every shard is done")(
      "json", po::bool_switch(), "print the summary as JSON");
  po::positional_options_description positional;
  positional.add("output", 1);
  auto values = parse_options("gather", "OUT [--require-complete] [--json]", options, argc, argv, &positional);
  if (!values) return 0;
  const Plan plan = Plan::load((*values)["output"].as<std::string>());
  if ((*values)["require-complete"].as<bool>()) {
    for (const auto& status : shard_statuses(plan))
      if (status.state != ShardState::Done) {
        std::cerr << "llcpress gather: shard " << status.id << " is " << shard_state_name(status.state)
                  << "; `llcpress status " << plan.output << "` lists all, `llcpress rerun` completes them\n";
        return 3;
      }
  }
  const GatherSummary summary = gather_results(plan);
  if ((*values)["json"].as<bool>()) {
    print_json({{"results", summary.path},
                {"shards_done", summary.shards_done},
                {"shards_failed", summary.shards_failed},
                {"shards_missing", summary.shards_missing},
                {"shards_stale", summary.shards_stale},
                {"shards_bad", summary.shards_bad},
                {"llc_rows", summary.llc_rows},
                {"llc_rows_failed", summary.llc_rows_failed},
                {"critical_rows", summary.critical_rows},
                {"curve_rows", summary.curve_rows}});
  } else {
    std::cout << fmt::format("gathered {} of {} shards ({} stale, {} bad, {} failed, {} missing) into {}\n",
                             summary.shards_done, plan.shards.size(), summary.shards_stale, summary.shards_bad,
                             summary.shards_failed, summary.shards_missing, summary.path);
    if (summary.shards_stale > 0)
      std::cout << fmt::format(
          "  {} stale shards (made with other settings than the plan) were left out: `llcpress status {}` lists "
          "them, `llcpress rerun {} --redo-stale` recomputes them\n",
          summary.shards_stale, plan.output, plan.output);
    std::cout << fmt::format(
        "  tables/llc: {} rows{}, tables/critical: {} rows, tables/curves: {} rows\n", summary.llc_rows,
        summary.llc_rows_failed
            ? fmt::format(" ({} failed: status = failed, not used for predicted bits)", summary.llc_rows_failed)
            : "",
        summary.critical_rows, summary.curve_rows);
  }
  return summary.shards_done == static_cast<int>(plan.shards.size()) ? 0 : 3;
}

std::vector<std::string> split_names(const std::string& text) {
  std::vector<std::string> names;
  std::string name;
  for (char c : text + ",") {
    if (c == ',' || c == ' ') {
      if (!name.empty()) names.push_back(name);
      name.clear();
    } else {
      name += c;
    }
  }
  return names;
}

int query_main(int argc, char** argv) {
  po::options_description options("query options");
  options.add_options()("results", po::value<std::string>()->required(), "OUT/results.h5 (or the directory OUT)")(
      "table", po::value<std::string>()->default_value("critical"), "llc | critical | curves | shards")(
      "where", po::value<std::vector<std::string>>()->composing(),
      "conditions, e.g. 'model=demo-32 step>=100 method=quant' (repeatable; all must hold)")(
      "columns", po::value<std::string>()->default_value(""), "comma-separated columns to print (default: all)")(
      "format", po::value<std::string>()->default_value("table"), "table | csv | json");
  po::positional_options_description positional;
  positional.add("results", 1);
  auto values = parse_options("query", "RESULTS.h5 [--table T] [--where COND] [--columns A,B] [--format F]", options,
                              argc, argv, &positional);
  if (!values) return 0;
  std::filesystem::path path = (*values)["results"].as<std::string>();
  if (std::filesystem::is_directory(path)) path /= "results.h5";
  const QueryFormat format = parse_query_format((*values)["format"].as<std::string>());
  std::vector<RowCondition> conditions;
  if (values->count("where"))
    for (const auto& text : (*values)["where"].as<std::vector<std::string>>())
      for (auto& condition : parse_conditions(text)) conditions.push_back(std::move(condition));
  const std::vector<std::string> columns = split_names((*values)["columns"].as<std::string>());
  const std::string table_name = (*values)["table"].as<std::string>();

  LLC_CHECK(std::filesystem::is_regular_file(path), InputError, path.string(), "run `llcpress gather OUT` first",
            "no results file");
  io::File file = io::File::open_read_only(path);
  io::check_schema_version(file.root());
  LLC_CHECK(file.root().is_group("tables/" + table_name), ConfigError, "--table",
            "tables: llc, critical, curves, shards", "{} has no table '{}'", path.string(), table_name);
  const io::Table table = io::read_table(file.root(), "tables/" + table_name);
  std::cout << format_rows(select_rows(table, conditions, columns), format);
  return 0;
}

}  // namespace
LLCPRESS_SUBCOMMAND("gather", "merge finished shards into OUT/results.h5 (tables llc, critical, curves, shards)",
                    gather_main)
LLCPRESS_SUBCOMMAND("query", "print rows of a results.h5 table (--where, --columns, --format table|csv|json)",
                    query_main)

}  // namespace llcpress::cli
