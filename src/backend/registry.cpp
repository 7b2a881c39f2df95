// The backend registry and the pieces of Buffer that need the Backend class.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <mutex>

#include "backend/backend.h"
#include "backend/cpu_backend.h"
#include "core/check.h"

namespace llcpress::backend {

const char* memory_space_name(MemorySpace space) { return space == MemorySpace::Host ? "host" : "device"; }

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return "f32";
    case DType::I32:
      return "i32";
    case DType::BF16:
      return "bf16";
  }
  return "?";
}

UnsupportedOp::UnsupportedOp(const std::string& backend, const std::string& op)
    : std::runtime_error(fmt::format("the {} backend does not implement {}", backend, op)) {}

RawBuffer::RawBuffer(Backend& backend, std::size_t bytes) : backend_(&backend), bytes_(bytes) {
  data_ = backend.allocate(bytes);
}

void RawBuffer::release() noexcept {
  if (backend_ != nullptr && data_ != nullptr) backend_->deallocate(data_, bytes_);
  data_ = nullptr;
  bytes_ = 0;
}

MemorySpace RawBuffer::space() const { return backend_ ? backend_->memory_space() : MemorySpace::Host; }

namespace {

struct Registry {
  std::mutex mutex;
  std::vector<BackendEntry> entries;
};

// Built on first use, "cpu" first, so a static registrar in another library
// may run before or after this file's statics.
Registry& registry() {
  static Registry instance{
      {}, {BackendEntry{"cpu", [] { return std::string(); }, [] { return std::make_unique<CpuBackend>(); }, {}}}};
  return instance;
}

}  // namespace

bool register_backend(BackendEntry entry) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  for (BackendEntry& existing : r.entries) {
    if (existing.name == entry.name) {
      existing = std::move(entry);
      return true;
    }
  }
  r.entries.push_back(std::move(entry));
  return true;
}

std::vector<BackendEntry> registered_backends() {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  return r.entries;
}

std::vector<std::string> backend_names() {
  std::vector<std::string> names;
  for (const BackendEntry& entry : registered_backends()) names.push_back(entry.name);
  return names;
}

std::unique_ptr<Backend> make_backend(const std::string& name) {
  for (const BackendEntry& entry : registered_backends()) {
    if (entry.name != name) continue;
    const std::string reason = entry.unavailable_reason ? entry.unavailable_reason() : std::string();
    LLC_CHECK(reason.empty(), ConfigError, "backend", "choose another backend (--backend cpu)",
              "the {} backend cannot run here: {}", name, reason);
    return entry.make();
  }
  LLC_THROW(ConfigError, "backend", fmt::format("use one of: {}", fmt::join(backend_names(), ", ")),
            "unknown backend '{}'", name);
}

std::unique_ptr<Backend> make_backend(const std::string& name, const ComputeSettings& settings) {
  for (const BackendEntry& entry : registered_backends()) {
    if (entry.name != name) continue;
    if (entry.make_for_compute) {
      const std::string reason = entry.unavailable_reason ? entry.unavailable_reason() : std::string();
      LLC_CHECK(reason.empty(), ConfigError, "device", "use device = cpu, or run where a GPU is visible",
                "the {} backend cannot run here: {}", name, reason);
      return entry.make_for_compute(settings);
    }
    LLC_CHECK(settings.precision == "fp32", ConfigError, "precision",
              "leave precision at fp32 with device = cpu (tf32 and bf16 are GEMM modes of the CUDA backend)",
              "the {} backend computes in fp32, not {}", name, settings.precision);
    return make_backend(name);
  }
  return make_backend(name);  // unknown: the error listing the names
}

namespace {
// The installed compute backend; never destroyed (see set_compute_backend).
Backend*& installed_compute_backend() {
  static Backend* installed = nullptr;
  return installed;
}
}  // namespace

Backend& compute_backend() {
  Backend* installed = installed_compute_backend();
  return installed != nullptr ? *installed : default_backend();
}

void set_compute_backend(std::unique_ptr<Backend> backend) {
  // The previous one is left alive on purpose: models built on it may still be in use by the caller.
  installed_compute_backend() = backend.release();
}

Backend& select_compute_backend(const std::string& name, const ComputeSettings& settings) {
  if (name == "cpu") {
    LLC_CHECK(settings.precision == "fp32", ConfigError, "precision",
              "leave precision at fp32 with device = cpu (tf32 and bf16 are GEMM modes of the CUDA backend)",
              "the cpu backend computes in fp32, not {}", settings.precision);
    set_compute_backend(nullptr);
  } else {
    set_compute_backend(make_backend(name, settings));
  }
  return compute_backend();
}

Backend& default_backend() {
  static CpuBackend instance;
  return instance;
}

}  // namespace llcpress::backend
