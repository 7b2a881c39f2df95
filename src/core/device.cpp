#include "core/device.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>

#include "core/check.h"

namespace llcpress {

DeviceKind parse_device_kind(const std::string& text, const std::string& where) {
  if (text == "cpu") return DeviceKind::Cpu;
  if (text == "cuda") return DeviceKind::Cuda;
  LLC_THROW(ConfigError, where, "use cpu or cuda", "unknown device '{}'", text);
}

const char* device_kind_name(DeviceKind kind) { return kind == DeviceKind::Cuda ? "cuda" : "cpu"; }

int local_rank_from_environment() {
  for (const char* variable : {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "MPI_LOCALRANKID"}) {
    const char* value = std::getenv(variable);
    if (value == nullptr || *value == '\0') continue;
    char* end = nullptr;
    const long rank = std::strtol(value, &end, 10);
    LLC_CHECK(*end == '\0' && rank >= 0 && rank < 1 << 20, ConfigError, variable,
              "the MPI launcher sets it to this process's rank on its node; unset it when starting by hand",
              "'{}' is not a local rank", value);
    return static_cast<int>(rank);
  }
  return 0;
}

std::string DeviceInfo::description() const {
  if (kind == DeviceKind::Cpu) return "cpu";
  std::string arch = compute_capability;  // "9.0" -> "90"
  arch.erase(std::remove(arch.begin(), arch.end(), '.'), arch.end());
  return fmt::format("cuda:{} {} (sm_{}, {:.1f} GiB; driver {} for CUDA {}, runtime {}, cuBLAS {})", ordinal, name,
                     arch, memory_gib, driver, driver_cuda, runtime_cuda, cublas);
}

namespace {
std::mutex active_mutex;
DeviceInfo& active_storage() {
  static DeviceInfo device;
  return device;
}
}  // namespace

DeviceInfo active_device() {
  std::lock_guard lock(active_mutex);
  return active_storage();
}

void set_active_device(const DeviceInfo& device) {
  std::lock_guard lock(active_mutex);
  active_storage() = device;
}

}  // namespace llcpress
