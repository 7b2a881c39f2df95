#include "cli/subcommand.h"

#include <omp.h>

#include <charconv>
#include <iostream>

#include "cli/device_option.h"
#include "core/check.h"
#include "pipeline/job_spec.h"
#include "pipeline/task_options.h"

namespace llcpress::cli {

std::vector<Subcommand>& subcommand_table() {
  static std::vector<Subcommand> table;
  return table;
}

std::pair<std::size_t, std::size_t> parse_sequence_range(const std::string& text, std::size_t count) {
  const auto colon = text.find(':');
  LLC_CHECK(colon != std::string::npos, ConfigError, "--sequences", "write it as A:B, A: or :B (B exclusive)",
            "'{}' has no ':'", text);
  auto parse = [&](std::string_view part, std::size_t fallback) {
    if (part.empty()) return fallback;
    std::size_t value = 0;
    const auto [end, error] = std::from_chars(part.data(), part.data() + part.size(), value);
    LLC_CHECK(error == std::errc() && end == part.data() + part.size(), ConfigError, "--sequences",
              "write it as A:B with non-negative integers", "'{}' is not a sequence number", part);
    return value;
  };
  const std::string_view view(text);
  const std::size_t first = parse(view.substr(0, colon), 0), last = parse(view.substr(colon + 1), count);
  LLC_CHECK(first < last && last <= count, ConfigError, "--sequences",
            fmt::format("the dataset has {} sequences; choose 0 <= A < B <= {}", count, count),
            "range {}:{} is empty or out of bounds", first, last);
  return {first, last};
}

bool register_subcommand(Subcommand subcommand) {
  subcommand_table().push_back(std::move(subcommand));
  return true;
}

std::optional<po::variables_map> parse_options(const std::string& subcommand, const std::string& usage,
                                               po::options_description& options, int argc, char** argv,
                                               const po::positional_options_description* positional) {
  po::options_description common("Common options");
  common.add_options()("help,h", "show this help and exit")(
      "config", po::value<std::string>(), "INI file supplying option defaults (command-line flags override it)");
  po::options_description all;
  all.add(options).add(common);

  po::variables_map values;
  try {
    po::command_line_parser parser(argc, argv);
    parser.options(all);
    if (positional) parser.positional(*positional);
    const po::parsed_options parsed = parser.run();
    reject_negative_unsigned(parsed, "llcpress " + subcommand);  // "--seed=-1" must not wrap around
    po::store(parsed, values);
    if (values.count("help")) {
      std::cout << "usage: llcpress " << subcommand << " " << usage << "\n\n" << all << "\n";
      return std::nullopt;
    }
    if (values.count("config")) {
      std::string path = values["config"].as<std::string>();
      // Stored after the command line: Boost keeps the first value stored, so flags win.
      po::store(po::parse_config_file<char>(path.c_str(), options, /*allow_unregistered=*/true), values);
    }
    po::notify(values);
  } catch (const po::error& error) {
    throw ConfigError(error.what(), "llcpress " + subcommand, "run `llcpress " + subcommand + " --help`");
  }
  return values;
}

void add_run_options(po::options_description& options) {
  const auto& common = common_option_table();
  common.declare(options, Surface::Cli, common.defaults(), common.section);
}

void apply_run_options(const po::variables_map& values) {
  const auto& common = common_option_table();
  const RunSettings run = common.read(values, common.defaults(), Surface::Cli, common.section);
  select_command_device(run.device, run.precision);  // before any work: a missing GPU is named here
  if (run.threads > 0) omp_set_num_threads(run.threads);
}

void print_json(const nlohmann::json& value) { std::cout << value.dump(2) << std::endl; }

}  // namespace llcpress::cli
