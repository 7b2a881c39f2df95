#include <fmt/format.h>

#include "cuda/check_cuda.h"
#include "cuda/device_info.h"

namespace llcpress::cuda {

int device_count() {
  int count = 0;
  // No driver or no device is not an error here: callers fall back to the CPU.
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return count;
}

std::string device_description(int device) {
  cudaDeviceProp properties{};
  LLC_CHECK_CUDA(cudaGetDeviceProperties(&properties, device));
  return fmt::format("{} (sm_{}{}, {:.1f} GiB)", properties.name, properties.major, properties.minor,
                     properties.totalGlobalMem / double(1ull << 30));
}

}  // namespace llcpress::cuda
