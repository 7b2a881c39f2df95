// llcpress: one subcommand per pipeline stage (see `llcpress --help`).
#include <algorithm>
#include <cstring>
#include <iostream>

#include "cli/subcommand.h"
#include "core/error.h"
#include "core/log.h"
#include "core/version.h"

namespace {

void print_usage() {
  auto table = llcpress::cli::subcommand_table();
  std::sort(table.begin(), table.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  std::cout << "llcpress " << llcpress::version_string() << " (" << llcpress::git_revision()
            << "): local learning coefficient vs compressibility of language models\n\n"
            << "usage: llcpress <subcommand> [options]     llcpress <subcommand> --help\n\nsubcommands:\n";
  for (const auto& command : table)
    std::cout << "  " << command.name << std::string(16 - std::min<size_t>(15, command.name.size()), ' ')
              << command.summary << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    print_usage();
    return argc < 2 ? 2 : 0;
  }
  if (!std::strcmp(argv[1], "--version")) {
    std::cout << "llcpress " << llcpress::version_string() << " " << llcpress::git_revision()
              << "\nGEMM: " << llcpress::gemm_library() << "\n";
    return 0;
  }
  const auto& table = llcpress::cli::subcommand_table();
  auto found = std::find_if(table.begin(), table.end(), [&](const auto& c) { return c.name == argv[1]; });
  if (found == table.end()) {
    std::cerr << "llcpress: unknown subcommand '" << argv[1] << "' (run `llcpress --help` for the list)\n";
    return 2;
  }
  // Subcommands that run under MPI re-initialise logging with the rank.
  llcpress::init_logging();
  try {
    return found->run(argc - 1, argv + 1);
  } catch (const llcpress::Error& error) {
    std::cerr << "llcpress " << argv[1] << ": " << llcpress::error_kind_name(error.kind()) << ": " << error.what()
              << "\n";
    return error.kind() == llcpress::ErrorKind::Config ? 2 : 1;
  } catch (const std::exception& error) {
    std::cerr << "llcpress " << argv[1] << ": unexpected error: " << error.what() << "\n";
    return 1;
  }
}
