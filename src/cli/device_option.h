// The device a command computes on (--device cpu|cuda, the common option
// table's `device` key: pipeline/task_options.cpp). Header-only: the CLI
// compiles only its .cpp files into the executable.
#pragma once

#include <string>

#include "cli/subcommand.h"
#include "core/check.h"
#include "core/device.h"
#include "cuda/device_select.h"

namespace llcpress::cli {

// Resolves a --device value before any work starts: a missing CUDA build,
// driver or GPU is a ConfigError naming what is missing. The device becomes
// active_device(), which every output's provenance records.
inline DeviceInfo select_command_device(const std::string& text) {
  const DeviceInfo device =
      select_device(parse_device_kind(text, "--device"), local_rank_from_environment(), "--device");
  // The GPU is there; the command's model still computes on the CPU until
  // GptNeox runs on the CUDA backend (issue 16, docs/gpu.md).
  LLC_CHECK(device.kind == DeviceKind::Cpu, ConfigError, "--device",
            "use --device cpu; the CUDA model backend is being wired in (issue 16, docs/gpu.md)",
            "this command cannot compute on {} yet", device.description());
  return device;
}

// --device for the commands outside the common option table (eval, make-suite).
inline void add_device_option(po::options_description& options) {
  options.add_options()("device", po::value<std::string>()->default_value("cpu"),
                        "cpu or cuda (one GPU per MPI rank, chosen by the node-local rank)");
}
inline DeviceInfo read_device_option(const po::variables_map& vm) {
  return select_command_device(vm["device"].as<std::string>());
}

}  // namespace llcpress::cli
