#pragma once
#include <string>

namespace llcpress::cuda {
// Number of visible CUDA devices; 0 when there is no GPU or no driver.
int device_count();
// "NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB)" for a device, for provenance.
std::string device_description(int device);
}  // namespace llcpress::cuda
