// Choosing the device a process computes on: `device = cpu|cuda` in a job
// file, `--device` on the command line. Always built; without the CUDA
// backend, asking for cuda is an error that says so.
#pragma once

#include <string>

#include "core/device.h"

namespace llcpress {

// Whether this binary was built with the CUDA backend (LLCPRESS_CUDA=ON).
bool cuda_backend_built();
// CUDA devices this process sees: 0 without a CUDA build, driver or GPU.
int visible_cuda_devices();

// Resolves `kind` to a device and records it as active_device(), before any
// work starts. For cuda: one GPU per MPI rank, the rank's `local_rank` (see
// local_rank_from_environment) picking it among the visible devices; when a
// launcher gives each task exactly one (srun --gpus-per-task=1 sets
// CUDA_VISIBLE_DEVICES per task), that one. Throws ConfigError (`where`
// names the key or flag) saying what is missing: a CUDA build, the NVIDIA
// driver, a driver new enough for this build's CUDA runtime, a visible GPU,
// or a GPU for this local rank.
DeviceInfo select_device(DeviceKind kind, int local_rank, const std::string& where);

}  // namespace llcpress
