// The device a command computes on (--device cpu|cuda and --precision
// fp32|tf32|bf16, the common option table's `device` and `precision` keys:
// pipeline/task_options.cpp). Header-only: the CLI compiles only its .cpp
// files into the executable.
#pragma once

#include <string>

#include "backend/backend.h"
#include "cli/subcommand.h"
#include "core/check.h"
#include "core/device.h"
#include "cuda/device_select.h"

namespace llcpress::cli {

// Resolves --device/--precision before any work starts: a missing CUDA build,
// driver or GPU is a ConfigError naming what is missing. The device becomes
// active_device(), which every output's provenance records, and with cuda the
// command's models are built on a CUDA backend of that GPU in that precision
// (backend::compute_backend()).
inline DeviceInfo select_command_device(const std::string& device_text, const std::string& precision) {
  const DeviceInfo device =
      select_device(parse_device_kind(device_text, "--device"), local_rank_from_environment(), "--device");
  backend::select_compute_backend(device.kind == DeviceKind::Cuda ? "cuda" : "cpu",
                                  backend::ComputeSettings{device.ordinal, precision});
  return device;
}

// --device and --precision for the commands outside the common option table (eval).
inline void add_device_option(po::options_description& options) {
  options.add_options()("device", po::value<std::string>()->default_value("cpu"),
                        "cpu or cuda (one GPU per MPI rank, chosen by the node-local rank; docs/gpu.md)")(
      "precision", po::value<std::string>()->default_value("fp32"),
      "GEMM compute precision on cuda: fp32, tf32 or bf16 (fp32 accumulation; parameters stay fp32; docs/gpu.md)");
}
inline DeviceInfo read_device_option(const po::variables_map& vm) {
  return select_command_device(vm["device"].as<std::string>(), vm["precision"].as<std::string>());
}

}  // namespace llcpress::cli
