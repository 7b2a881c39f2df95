#pragma once
// Include only from CUDA translation units or code built with LLCPRESS_CUDA.
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "core/check.h"

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

#define LLC_CHECK_CUBLAS(call)                                                                                    \
  do {                                                                                                            \
    cublasStatus_t llc_cublas_status_ = (call);                                                                   \
    if (llc_cublas_status_ != CUBLAS_STATUS_SUCCESS)                                                              \
      LLC_THROW(::llcpress::BackendError, #call,                                                                  \
                "check matrix sizes/leading dimensions and that the handle is on this device", "cuBLAS error {}", \
                cublasGetStatusString(llc_cublas_status_));                                                       \
  } while (0)

// cuBLASLt calls: its own status strings, so a binary that uses only
// cuBLASLt does not link the classic cuBLAS library for them.
#define LLC_CHECK_CUBLASLT(call)                                                               \
  do {                                                                                         \
    cublasStatus_t llc_cublaslt_status_ = (call);                                              \
    if (llc_cublaslt_status_ != CUBLAS_STATUS_SUCCESS)                                         \
      LLC_THROW(::llcpress::BackendError, #call,                                               \
                "check matrix sizes/leading dimensions and that the handle is on this device", \
                "cuBLASLt error {}: {}", cublasLtGetStatusName(llc_cublaslt_status_),          \
                cublasLtGetStatusString(llc_cublaslt_status_));                                \
  } while (0)
