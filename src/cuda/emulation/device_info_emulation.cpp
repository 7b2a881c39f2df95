// The device queries of cuda/device_info.h that CudaBackend uses, for the CPU
// emulation: one device, ordinal 0, named as what it is.
#include "cuda/device_info.h"

namespace llcpress::cuda {

int device_count() { return 1; }

std::string device_description(int device) {
  return "CPU emulation of CUDA device " + std::to_string(device) + " (src/cuda/emulation; not a GPU)";
}

}  // namespace llcpress::cuda
