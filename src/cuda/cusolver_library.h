// cuSOLVER, opened at run time (cuda/shared_library.h, as cuBLASLt in
// cuda/cublaslt_api.h) on the first SVD rather than linked: libcusolver (and
// the cuBLAS/cuSPARSE it pulls in) then costs a process nothing until a
// compression sweep asks the GPU for a factorisation. The function-pointer
// types come from the toolkit's header, so a signature change is a compile
// error here, not a crash.
#pragma once

#include <cusolverDn.h>

#include <string>

namespace llcpress::cuda {

struct CusolverLibrary {
  decltype(&cusolverDnCreate) create = nullptr;
  decltype(&cusolverDnDestroy) destroy = nullptr;
  decltype(&cusolverDnSetStream) set_stream = nullptr;
  decltype(&cusolverDnCreateGesvdjInfo) create_gesvdj_info = nullptr;
  decltype(&cusolverDnDestroyGesvdjInfo) destroy_gesvdj_info = nullptr;
  decltype(&cusolverDnDgesvdj_bufferSize) dgesvdj_buffer_size = nullptr;
  decltype(&cusolverDnDgesvdj) dgesvdj = nullptr;
  std::string path;  // the soname opened (libcusolver.so.<major>), for logs and provenance
};

// The process's one copy, loaded on the first call (thread-safe). BackendError
// naming the library (or symbol) and what to install or set when it cannot be
// loaded or lacks a symbol.
const CusolverLibrary& cusolver_library();

// A cuSOLVER status as a name ("CUSOLVER_STATUS_INVALID_VALUE").
const char* cusolver_status_name(cusolverStatus_t status);

}  // namespace llcpress::cuda
