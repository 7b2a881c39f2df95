// --device cpu|cuda, shared by every command that computes (header-only: the
// CLI compiles only cmd_*.cpp files as translation units).
#pragma once

#include <string>

#include "cli/subcommand.h"
#include "core/check.h"
#include "core/device.h"
#include "cuda/device_select.h"

namespace llcpress::cli {

inline void add_device_option(po::options_description& options) {
  options.add_options()("device", po::value<std::string>()->default_value("cpu"),
                        "cpu or cuda (one GPU per MPI rank, chosen by the node-local rank)");
}

// Resolves --device before any work starts: a missing CUDA build, driver or
// GPU is a ConfigError naming what is missing. The device becomes
// active_device(), which every output's provenance records.
inline DeviceInfo read_device_option(const po::variables_map& vm, const std::string& command) {
  const DeviceInfo device = select_device(parse_device_kind(vm["device"].as<std::string>(), "--device"),
                                          local_rank_from_environment(), "--device");
  // The GPU is there; the model of this command still computes on the CPU
  // until the CUDA backend is wired in behind the Backend interface (issue 16).
  LLC_CHECK(device.kind == DeviceKind::Cpu, ConfigError, "--device",
            "use --device cpu; the CUDA model backend is being wired in (issue 16, docs/gpu.md)",
            "`llcpress {}` cannot compute on {} yet", command, device.description());
  return device;
}

}  // namespace llcpress::cli
