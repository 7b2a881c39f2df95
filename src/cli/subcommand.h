// The CLI is a table of subcommands. Each lives in its own cmd_<name>.cpp and
// adds itself to the table with LLCPRESS_SUBCOMMAND; main() dispatches.
#pragma once

#include <boost/program_options.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/option_table.h"

namespace llcpress::cli {

namespace po = boost::program_options;

struct Subcommand {
  std::string name;
  std::string summary;                            // one line, shown by `llcpress --help`
  std::function<int(int argc, char** argv)> run;  // argv[0] is the subcommand name
};

std::vector<Subcommand>& subcommand_table();
bool register_subcommand(Subcommand subcommand);

// Parses a subcommand's options. Handles --help (prints usage and returns
// nullopt) and --config FILE: an INI file whose keys supply defaults that the
// command line overrides. Unknown options are errors that name the option.
std::optional<po::variables_map> parse_options(const std::string& subcommand, const std::string& usage,
                                               po::options_description& options, int argc, char** argv,
                                               const po::positional_options_description* positional = nullptr);

// Parses --sequences: "A:B", "A:" (to the end) or ":B" (from 0) over a dataset
// of `count` sequences; returns [first, last) with first < last <= count.
// ConfigError naming --sequences otherwise.
std::pair<std::size_t, std::size_t> parse_sequence_range(const std::string& text, std::size_t count);

// The common option table's flags (pipeline/task_options.h: --threads), and applying them after parsing.
void add_run_options(po::options_description& options);
void apply_run_options(const po::variables_map& values);

// Parses a command whose task settings come from an option table (pipeline/task_options.h): declares the
// table's flags with this command's defaults and the common ones (--threads), parses, applies --threads and
// reads the settings (ConfigError naming the flag). nullopt after --help.
template <typename Target>
struct ParsedTaskOptions {
  po::variables_map values;
  Target settings;
};
template <typename Target>
std::optional<ParsedTaskOptions<Target>> parse_task_options(const std::string& command, const std::string& usage,
                                                            po::options_description& options,
                                                            const OptionTable<Target>& table, int argc, char** argv) {
  const Target defaults = table.defaults(command);
  table.declare(options, Surface::Cli, defaults, table.section);
  add_run_options(options);
  auto values = parse_options(command, usage, options, argc, argv);
  if (!values) return std::nullopt;
  ParsedTaskOptions<Target> parsed{*values, table.read(*values, defaults, Surface::Cli, table.section)};
  apply_run_options(parsed.values);
  return parsed;
}

// Prints `value` as pretty JSON on stdout (the only thing on stdout with --json).
void print_json(const nlohmann::json& value);

}  // namespace llcpress::cli

#define LLCPRESS_SUBCOMMAND(name, summary, function)                                                           \
  namespace {                                                                                                  \
  const bool llcpress_registered_##function = ::llcpress::cli::register_subcommand({name, summary, function}); \
  }
