#pragma once
// Include only from CUDA translation units, code built with LLCPRESS_CUDA, or
// code built under the CPU emulation (LLCPRESS_CUDA_EMULATION), where the
// runtime is cuda/emulation/cuda_emulation.h's.
#if defined(LLCPRESS_CUDA_EMULATION)
#include "cuda/emulation/cuda_emulation.h"
#define LLC_CUDA_ERROR_HINT "a misuse of the emulated CUDA runtime (bad device, stream or size) or out of host memory"
#else
#include <cuda_runtime.h>
#define LLC_CUDA_ERROR_HINT "check nvidia-smi, CUDA_VISIBLE_DEVICES and that the driver supports CUDA 13"
#endif

#include "core/check.h"
#include "cuda/cublaslt_api.h"

#define LLC_CHECK_CUDA(call)                                                               \
  do {                                                                                     \
    cudaError_t llc_cuda_status_ = (call);                                                 \
    if (llc_cuda_status_ != cudaSuccess)                                                   \
      LLC_THROW(::llcpress::BackendError, #call, LLC_CUDA_ERROR_HINT, "CUDA error {}: {}", \
                cudaGetErrorName(llc_cuda_status_), cudaGetErrorString(llc_cuda_status_)); \
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
