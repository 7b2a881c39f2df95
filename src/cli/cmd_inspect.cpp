// llcpress inspect PATH [--json] [--values N]: what a checkpoint or a token
// dataset holds (see formats/inspect.h for the report).
#include <iostream>

#include "cli/subcommand.h"
#include "formats/inspect.h"

namespace llcpress::cli {
namespace {

int run_inspect(int argc, char** argv) {
  po::options_description options("inspect options");
  options.add_options()("path", po::value<std::string>()->required(),
                        "checkpoint directory, .safetensors / .bin / *.index.json file, or Megatron dataset prefix "
                        "(PREFIX, PREFIX.idx)")("json", po::bool_switch(), "print the report as JSON on stdout")(
      "values", po::value<std::size_t>()->default_value(0),
      "also show the first N values of each tensor upcast to fp32 (datasets: first N tokens of the first sequences)")(
      "scan-sequences", po::value<std::size_t>()->default_value(100000),
      "datasets: scan at most this many sequences for the token range");
  po::positional_options_description positional;
  positional.add("path", 1);
  auto values = parse_options("inspect", "PATH [--json] [--values N]", options, argc, argv, &positional);
  if (!values) return 0;

  formats::InspectOptions inspect_options;
  inspect_options.values = (*values)["values"].as<std::size_t>();
  inspect_options.scan_sequences = (*values)["scan-sequences"].as<std::size_t>();
  const nlohmann::json report = formats::inspect_path((*values)["path"].as<std::string>(), inspect_options);
  if ((*values)["json"].as<bool>())
    print_json(report);
  else
    std::cout << formats::format_inspect_report(report);
  return 0;
}

}  // namespace

LLCPRESS_SUBCOMMAND("inspect", "show what a checkpoint (tensors, config, hash) or a token dataset holds", run_inspect)

}  // namespace llcpress::cli
