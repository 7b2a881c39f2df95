#include "cuda/cusolver_library.h"

#include "cuda/shared_library.h"

namespace llcpress::cuda {

namespace {

#define LLC_STRINGIFY_VALUE(x) #x
#define LLC_STRINGIFY(x) LLC_STRINGIFY_VALUE(x)
// The library's ABI changes only with its major version: the soname of the
// cuSOLVER whose headers this was built with (libcusolver.so.12 for CUDA 13).
constexpr const char* kCusolverSoname = "libcusolver.so." LLC_STRINGIFY(CUSOLVER_VER_MAJOR);

CusolverLibrary load() {
  // Never closed (as cuBLASLt, cublaslt_api.cpp): a handle destroyed by a
  // static destructor at exit must still find its library.
  const auto* library = new SharedLibrary(
      kCusolverSoname,
      "install the CUDA toolkit's cuSOLVER (libcusolver) or set LD_LIBRARY_PATH to the folder that holds it");
  CusolverLibrary api;
  api.path = library->soname();
  // Each pointer is converted from the declaration in <cusolverDn.h>: an entry
  // whose type differs from cuSOLVER's signature does not compile.
#define LLC_LOAD(member, function) api.member = library->symbol<decltype(&::function)>(#function)
  LLC_LOAD(create, cusolverDnCreate);
  LLC_LOAD(destroy, cusolverDnDestroy);
  LLC_LOAD(set_stream, cusolverDnSetStream);
  LLC_LOAD(create_gesvdj_info, cusolverDnCreateGesvdjInfo);
  LLC_LOAD(destroy_gesvdj_info, cusolverDnDestroyGesvdjInfo);
  LLC_LOAD(dgesvdj_buffer_size, cusolverDnDgesvdj_bufferSize);
  LLC_LOAD(dgesvdj, cusolverDnDgesvdj);
#undef LLC_LOAD
  return api;
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
