#include "cuda/cublaslt_api.h"

#include <string>

#include "cuda/shared_library.h"

namespace llcpress::cuda {

namespace {

#define LLC_STRINGIFY_VALUE(x) #x
#define LLC_STRINGIFY(x) LLC_STRINGIFY_VALUE(x)
constexpr const char* kCublasLtSoname = "libcublasLt.so." LLC_STRINGIFY(CUBLAS_VER_MAJOR);

CublasLtApi load_cublaslt() {
  // Never closed: handles and descriptors may be destroyed by static
  // destructors at exit, after a library closed here would be gone.
  const auto* library = new SharedLibrary(
      kCublasLtSoname,
      "install the CUDA toolkit's cuBLAS (libcublasLt) or set LD_LIBRARY_PATH to the folder that holds it");
  CublasLtApi api{};
  // Each pointer is converted from the declaration in <cublasLt.h>: a table
  // entry whose type differs from cuBLASLt's signature does not compile.
#define LLC_LOAD(member, function) api.member = library->symbol<decltype(&::function)>(#function)
  LLC_LOAD(create, cublasLtCreate);
  LLC_LOAD(destroy, cublasLtDestroy);
  LLC_LOAD(get_version, cublasLtGetVersion);
  LLC_LOAD(get_status_name, cublasLtGetStatusName);
  LLC_LOAD(get_status_string, cublasLtGetStatusString);
  LLC_LOAD(matmul_desc_create, cublasLtMatmulDescCreate);
  LLC_LOAD(matmul_desc_destroy, cublasLtMatmulDescDestroy);
  LLC_LOAD(matmul_desc_set_attribute, cublasLtMatmulDescSetAttribute);
  LLC_LOAD(matrix_layout_create, cublasLtMatrixLayoutCreate);
  LLC_LOAD(matrix_layout_destroy, cublasLtMatrixLayoutDestroy);
  LLC_LOAD(matmul_preference_create, cublasLtMatmulPreferenceCreate);
  LLC_LOAD(matmul_preference_destroy, cublasLtMatmulPreferenceDestroy);
  LLC_LOAD(matmul_preference_set_attribute, cublasLtMatmulPreferenceSetAttribute);
  LLC_LOAD(matmul_algo_get_heuristic, cublasLtMatmulAlgoGetHeuristic);
  LLC_LOAD(matmul, cublasLtMatmul);
#undef LLC_LOAD
  return api;
}

}  // namespace

const char* cublaslt_soname() { return kCublasLtSoname; }

const CublasLtApi& cublaslt() {
  // A magic static: initialised once, thread-safe; if loading throws, the
  // next call tries again (and throws the same clear error).
  static const CublasLtApi api = load_cublaslt();
  return api;
}

}  // namespace llcpress::cuda
