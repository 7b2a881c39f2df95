#include <cublas_api.h>
#include <fmt/format.h>

#include <cstdlib>
#include <fstream>

#include "cuda/check_cuda.h"
#include "cuda/device_info.h"

namespace llcpress::cuda {

namespace {
// This build's device code: sm_90 machine code plus compute_80 PTX (top-level
// CMakeLists.txt), which the driver compiles for any GPU of compute
// capability 8.0 or newer. Older GPUs cannot run it.
constexpr int kMinimumComputeCapability = 80;

// "580.159.04" from the kernel module's banner ("NVRM version: NVIDIA UNIX
// x86_64 Kernel Module  580.159.04  ..."); "unknown" where it is not readable.
std::string driver_release() {
  std::ifstream banner("/proc/driver/nvidia/version");
  std::string word, previous;
  while (banner >> word) {
    if (previous == "Module") return word;
    previous = word;
  }
  return "unknown";
}

std::string visible_devices() {
  const char* value = std::getenv("CUDA_VISIBLE_DEVICES");
  return value == nullptr ? "unset" : fmt::format("'{}'", value);
}
}  // namespace

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

std::string cuda_version_string(int version) { return fmt::format("{}.{}", version / 1000, version % 1000 / 10); }

std::string cublas_header_version() {
  return fmt::format("{}.{}.{} (headers)", CUBLAS_VER_MAJOR, CUBLAS_VER_MINOR, CUBLAS_VER_PATCH);
}

DeviceInfo probe_device(int local_rank, const std::string& where) {
  int runtime = 0, driver = 0;
  LLC_CHECK_CUDA(cudaRuntimeGetVersion(&runtime));
  // 0 when no driver is installed (libcuda.so.1 cannot be loaded).
  if (cudaDriverGetVersion(&driver) != cudaSuccess) driver = 0;
  LLC_CHECK(driver != 0, ConfigError, where,
            "install the NVIDIA driver (580 or newer for CUDA 13) or run on a GPU node; device = cpu computes on "
            "the CPU",
            "device = cuda, but no NVIDIA driver was found (libcuda.so.1 is not loadable)");
  LLC_CHECK(driver / 1000 >= runtime / 1000, ConfigError, where,
            "update the NVIDIA driver (580 or newer for CUDA 13), or rebuild against an older CUDA toolkit",
            "device = cuda, but the NVIDIA driver supports CUDA {} and this llcpress needs CUDA {}",
            cuda_version_string(driver), cuda_version_string(runtime));
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  cudaGetLastError();
  LLC_CHECK(status != cudaErrorInsufficientDriver, ConfigError, where,
            "update the NVIDIA driver (580 or newer for CUDA 13)",
            "device = cuda, but the NVIDIA driver (CUDA {}) is too old for this llcpress's CUDA {} runtime",
            cuda_version_string(driver), cuda_version_string(runtime));
  LLC_CHECK(status == cudaSuccess || status == cudaErrorNoDevice, ConfigError, where, "check nvidia-smi on this node",
            "device = cuda, but the CUDA driver failed to start: {} ({})", cudaGetErrorName(status),
            cudaGetErrorString(status));
  LLC_CHECK(status == cudaSuccess && count > 0, ConfigError, where,
            "run on a node with a GPU (srun --gpus-per-task=1), check nvidia-smi, or set device = cpu",
            "device = cuda, but no CUDA device is visible (CUDA_VISIBLE_DEVICES {})", visible_devices());
  // One GPU per rank: the local rank picks it; a launcher that hands each
  // task its own GPU (srun --gpus-per-task=1) leaves exactly one visible.
  int ordinal = local_rank;
  if (ordinal >= count) {
    LLC_CHECK(count == 1 && std::getenv("CUDA_VISIBLE_DEVICES") != nullptr, ConfigError, where,
              "run at most one rank per visible GPU on each node (srun --gpus-per-task=1, or mpiexec -n <GPUs>)",
              "device = cuda: local rank {} needs a GPU of its own, but only {} are visible (CUDA_VISIBLE_DEVICES {})",
              local_rank, count, visible_devices());
    ordinal = 0;
  }
  cudaDeviceProp properties{};
  LLC_CHECK_CUDA(cudaGetDeviceProperties(&properties, ordinal));
  LLC_CHECK(properties.major * 10 + properties.minor >= kMinimumComputeCapability, ConfigError, where,
            "use a GPU of compute capability 8.0 or newer (A100, H100, ...), or rebuild with "
            "-DCMAKE_CUDA_ARCHITECTURES=<its arch>",
            "device = cuda: {} has compute capability {}.{}, older than this build's code (sm_90, PTX compute_80)",
            properties.name, properties.major, properties.minor);
  DeviceInfo device;
  device.kind = DeviceKind::Cuda;
  device.ordinal = ordinal;
  device.name = properties.name;
  device.compute_capability = fmt::format("{}.{}", properties.major, properties.minor);
  device.memory_gib = properties.totalGlobalMem / double(1ull << 30);
  device.driver = driver_release();
  device.driver_cuda = cuda_version_string(driver);
  device.runtime_cuda = cuda_version_string(runtime);
  device.cublas = cublas_header_version();
  return device;
}

}  // namespace llcpress::cuda
