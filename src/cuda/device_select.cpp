#include "cuda/device_select.h"

#include "core/check.h"

#if LLCPRESS_HAVE_CUDA
#include "cuda/device_info.h"
#endif

namespace llcpress {

bool cuda_backend_built() { return LLCPRESS_HAVE_CUDA != 0; }

int visible_cuda_devices() {
#if LLCPRESS_HAVE_CUDA
  return cuda::device_count();
#else
  return 0;
#endif
}

DeviceInfo select_device(DeviceKind kind, int local_rank, const std::string& where) {
  DeviceInfo device;  // the CPU
  if (kind == DeviceKind::Cuda) {
#if LLCPRESS_HAVE_CUDA
    device = cuda::probe_device(local_rank, where);
#else
    LLC_THROW(ConfigError, where,
              "rebuild with the CUDA toolkit installed (nvcc found at configure time, or -DLLCPRESS_CUDA=ON), or "
              "set device = cpu",
              "device = cuda, but this llcpress was built without the CUDA backend (LLCPRESS_CUDA=OFF)");
#endif
  }
  set_active_device(device);
  return device;
}

}  // namespace llcpress
