#include "cuda/cusolver_library.h"

#include <dlfcn.h>

#include <array>

#include "core/check.h"

namespace llcpress::cuda {

namespace {

// The sonames the CUDA 12 and 13 toolkits install (cuSOLVER 11 and 12), the
// newest first, then the unversioned development link.
constexpr std::array<const char*, 3> kCandidates = {"libcusolver.so.12", "libcusolver.so.11", "libcusolver.so"};

template <typename Function>
void bind(Function& slot, void* handle, const char* symbol, const std::string& path) {
  void* address = dlsym(handle, symbol);
  LLC_CHECK(address != nullptr, ::llcpress::BackendError, "cuSOLVER",
            "install a cuSOLVER matching the CUDA toolkit this build used (CUDA 12 or 13)", "{} has no symbol {}", path,
            symbol);
  slot = reinterpret_cast<Function>(address);
}

CusolverLibrary load() {
  void* handle = nullptr;
  std::string tried, last_error;
  for (const char* candidate : kCandidates) {
    handle = dlopen(candidate, RTLD_NOW | RTLD_LOCAL);
    if (handle != nullptr) {
      CusolverLibrary library;
      library.path = candidate;
      bind(library.create, handle, "cusolverDnCreate", library.path);
      bind(library.destroy, handle, "cusolverDnDestroy", library.path);
      bind(library.set_stream, handle, "cusolverDnSetStream", library.path);
      bind(library.create_gesvdj_info, handle, "cusolverDnCreateGesvdjInfo", library.path);
      bind(library.destroy_gesvdj_info, handle, "cusolverDnDestroyGesvdjInfo", library.path);
      bind(library.dgesvdj_buffer_size, handle, "cusolverDnDgesvdj_bufferSize", library.path);
      bind(library.dgesvdj, handle, "cusolverDnDgesvdj", library.path);
      return library;  // the handle stays open for the life of the process
    }
    if (!tried.empty()) tried += ", ";
    tried += candidate;
    const char* error = dlerror();
    last_error = error != nullptr ? error : "unknown dlopen error";
  }
  LLC_THROW(::llcpress::BackendError, "cuSOLVER",
            "install the CUDA toolkit's cuSOLVER (libcusolver) or add its directory to LD_LIBRARY_PATH",
            "cannot load cuSOLVER (tried {}): {}", tried, last_error);
}

}  // namespace

const CusolverLibrary& cusolver_library() {
  static const CusolverLibrary library = load();  // a throw leaves it unset: the next call tries again
  return library;
}

const char* cusolver_status_name(cusolverStatus_t status) {
  switch (status) {
    case CUSOLVER_STATUS_SUCCESS:
      return "CUSOLVER_STATUS_SUCCESS";
    case CUSOLVER_STATUS_NOT_INITIALIZED:
      return "CUSOLVER_STATUS_NOT_INITIALIZED";
    case CUSOLVER_STATUS_ALLOC_FAILED:
      return "CUSOLVER_STATUS_ALLOC_FAILED";
    case CUSOLVER_STATUS_INVALID_VALUE:
      return "CUSOLVER_STATUS_INVALID_VALUE";
    case CUSOLVER_STATUS_ARCH_MISMATCH:
      return "CUSOLVER_STATUS_ARCH_MISMATCH";
    case CUSOLVER_STATUS_EXECUTION_FAILED:
      return "CUSOLVER_STATUS_EXECUTION_FAILED";
    case CUSOLVER_STATUS_INTERNAL_ERROR:
      return "CUSOLVER_STATUS_INTERNAL_ERROR";
    case CUSOLVER_STATUS_NOT_SUPPORTED:
      return "CUSOLVER_STATUS_NOT_SUPPORTED";
    default:
      return "a cuSOLVER error";
  }
}

}  // namespace llcpress::cuda
