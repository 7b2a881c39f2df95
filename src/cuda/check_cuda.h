#pragma once
// Include only from CUDA translation units or code built with LLCPRESS_CUDA.
#include <cuda_runtime.h>

#include "core/check.h"
#include "cuda/cublaslt_api.h"

#define LLC_CHECK_CUDA(call)                                                                                        \
  do {                                                                                                              \
    cudaError_t llc_cuda_status_ = (call);                                                                          \
    if (llc_cuda_status_ != cudaSuccess)                                                                            \
      LLC_THROW(::llcpress::BackendError, #call,                                                                    \
                "check nvidia-smi, CUDA_VISIBLE_DEVICES and that the driver supports CUDA 13", "CUDA error {}: {}", \
                cudaGetErrorName(llc_cuda_status_), cudaGetErrorString(llc_cuda_status_));                          \
  } while (0)

// After a kernel launch: catches bad launch configurations immediately.
#define LLC_CHECK_LAUNCH() LLC_CHECK_CUDA(cudaGetLastError())

// cuBLASLt calls (through the run-time loaded table, cuda/cublaslt_api.h):
// its own status strings, so nothing links the classic cuBLAS library.
#define LLC_CHECK_CUBLASLT(call)                                                                             \
  do {                                                                                                       \
    cublasStatus_t llc_cublaslt_status_ = (call);                                                            \
    if (llc_cublaslt_status_ != CUBLAS_STATUS_SUCCESS)                                                       \
      LLC_THROW(::llcpress::BackendError, #call,                                                             \
                "check matrix sizes/leading dimensions and that the handle is on this device",               \
                "cuBLASLt error {}: {}", ::llcpress::cuda::cublaslt().get_status_name(llc_cublaslt_status_), \
                ::llcpress::cuda::cublaslt().get_status_string(llc_cublaslt_status_));                       \
  } while (0)
