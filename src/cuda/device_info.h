// Queries of the CUDA driver and devices (CUDA runtime only: no cuBLAS, so
// binaries that only need to know the device do not load the 500 MB library).
#pragma once

#include <string>

#include "core/device.h"

namespace llcpress::cuda {
// Number of visible CUDA devices; 0 when there is no GPU or no driver.
int device_count();
// "NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB)" for a device, for provenance.
std::string device_description(int device);

// CUDA versions as "13.0" from the runtime API's 1000·major + 10·minor.
std::string cuda_version_string(int version);
// The cuBLAS version this was compiled against, "13.1.0 (headers)".
std::string cublas_header_version();

// The device for this local rank (device_select.h explains the rule), with
// its name, memory, compute capability, the driver's and the runtime's CUDA
// versions. Throws ConfigError naming `where` and what is missing.
DeviceInfo probe_device(int local_rank, const std::string& where);
}  // namespace llcpress::cuda
