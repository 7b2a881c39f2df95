// cuBLASLt through a table of function pointers, filled on first use from
// the library opened at run time (cuda/shared_library.h), not linked: a
// process that never multiplies on a GPU never loads the 540 MB library.
// Types and enums are cuBLASLt's own (<cublasLt.h>); only the functions come
// through the table. Under the CPU emulation (LLCPRESS_CUDA_EMULATION) the
// table is the host implementation of cuda/emulation/cublaslt_emulation.h.
//
// Only the functions the GEMMs (cuda/gemm.cu) and CudaContext call are
// listed: add a member and a line in load_cublaslt() (cublaslt_api.cpp), and
// its emulation, when a new one is needed. Other CUDA libraries (cuSOLVER)
// follow the same pattern: a struct of pointers, one loader, one soname.
#pragma once

#include <cstddef>
#include <cstdint>

#if defined(LLCPRESS_CUDA_EMULATION)
#include "cuda/emulation/cublaslt_emulation.h"
#else
#include <cublasLt.h>
#endif

namespace llcpress::cuda {

struct CublasLtApi {
  cublasStatus_t (*create)(cublasLtHandle_t* handle);
  cublasStatus_t (*destroy)(cublasLtHandle_t handle);
  // major·10000 + minor·100 + patch of the library actually loaded.
  std::size_t (*get_version)();
  const char* (*get_status_name)(cublasStatus_t status);
  const char* (*get_status_string)(cublasStatus_t status);

  cublasStatus_t (*matmul_desc_create)(cublasLtMatmulDesc_t* description, cublasComputeType_t compute,
                                       cudaDataType_t scale_type);
  cublasStatus_t (*matmul_desc_destroy)(cublasLtMatmulDesc_t description);
  cublasStatus_t (*matmul_desc_set_attribute)(cublasLtMatmulDesc_t description,
                                              cublasLtMatmulDescAttributes_t attribute, const void* value,
                                              std::size_t bytes);

  cublasStatus_t (*matrix_layout_create)(cublasLtMatrixLayout_t* layout, cudaDataType_t type, std::uint64_t rows,
                                         std::uint64_t cols, std::int64_t ld);
  cublasStatus_t (*matrix_layout_destroy)(cublasLtMatrixLayout_t layout);

  cublasStatus_t (*matmul_preference_create)(cublasLtMatmulPreference_t* preference);
  cublasStatus_t (*matmul_preference_destroy)(cublasLtMatmulPreference_t preference);
  cublasStatus_t (*matmul_preference_set_attribute)(cublasLtMatmulPreference_t preference,
                                                    cublasLtMatmulPreferenceAttributes_t attribute, const void* value,
                                                    std::size_t bytes);

  cublasStatus_t (*matmul_algo_get_heuristic)(cublasLtHandle_t handle, cublasLtMatmulDesc_t operation,
                                              cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b,
                                              cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t d,
                                              cublasLtMatmulPreference_t preference, int requested,
                                              cublasLtMatmulHeuristicResult_t results[], int* returned);
  cublasStatus_t (*matmul)(cublasLtHandle_t handle, cublasLtMatmulDesc_t operation, const void* alpha, const void* a,
                           cublasLtMatrixLayout_t a_layout, const void* b, cublasLtMatrixLayout_t b_layout,
                           const void* beta, const void* c, cublasLtMatrixLayout_t c_layout, void* d,
                           cublasLtMatrixLayout_t d_layout, const cublasLtMatmulAlgo_t* algo, void* workspace,
                           std::size_t workspace_bytes, cudaStream_t stream);
};

// The table, loaded once per process on first call (thread-safe). Throws
// BackendError naming the library or symbol that is missing, with a hint.
const CublasLtApi& cublaslt();

// The soname cublaslt() opens: libcublasLt.so.<major of the cuBLAS headers>
// (the library's ABI changes only with its major version).
const char* cublaslt_soname();

}  // namespace llcpress::cuda
