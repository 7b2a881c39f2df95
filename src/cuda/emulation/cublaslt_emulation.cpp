// cuBLASLt's matmul on the host, for the CPU emulation of the CUDA backend
// (cublaslt_emulation.h says why). What it implements, from NVIDIA's cuBLASLt
// documentation:
//   D = epilogue(alpha · op(A) · op(B) + beta · C), all matrices column-major:
//   element (i, j) of a layout (rows, cols, ld) is at i + j·ld, ld ≥ rows;
//   op(X) = X for CUBLAS_OP_N, Xᵀ for CUBLAS_OP_T; D is m × n (its layout's
//   rows and cols), op(A) m × k, op(B) k × n, C m × n; C is not read when
//   beta = 0; alpha and beta are host fp32 scalars (pointer mode host).
//   Epilogues: BIAS adds a packed vector of length m (rows of D) to every
//   column; GELU applies the tanh-form GELU, 0.5·x·(1 + tanh(√(2/π)·(x +
//   0.044715·x³))); the _AUX variants also store the GELU's input (after the
//   bias) in the aux matrix (rows of D × cols of D, leading dimension
//   EPILOGUE_AUX_LD, a multiple of 8 and ≥ m, D's type).
//   Compute types: CUBLAS_COMPUTE_32F with fp32 or bf16 A/B (fp32 C/D and
//   scale); CUBLAS_COMPUTE_32F_FAST_TF32 with fp32 A/B, each operand rounded
//   to TF32 (10 explicit mantissa bits) before the products.
//   The heuristic returns one algorithm needing no workspace; it remembers
//   the pointer alignments the preference promised, and matmul refuses
//   pointers that break the promise (a GPU kernel would fault on them).
// Anything else (other types, epilogues, attributes) is CUBLAS_STATUS_NOT_SUPPORTED,
// and shapes that do not fit are CUBLAS_STATUS_INVALID_VALUE, as on a GPU,
// so a caller's mistake cannot pass silently.
//
// Products are accumulated in double and rounded once: at least as accurate
// as a GPU's fp32 accumulation, so comparisons with the CPU backend bound the
// caller's error by the CPU's own rounding (kernel_test_support.h).
#include <cmath>
#include <cstring>
#include <vector>

#include "cuda/cublaslt_api.h"

namespace {
constexpr std::uint64_t kHandleMagic = 0x6c74'6864'6c63'7072ull;  // a live emulated handle
constexpr std::uint64_t kAlgoMagic = 0x6c74'616c'676f'6c63ull;    // an algorithm from the emulated heuristic
}  // namespace

struct cublasLtContext {
  std::uint64_t magic = kHandleMagic;
};

struct cublasLtMatmulDescOpaque_t {
  cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
  cudaDataType_t scale_type = CUDA_R_32F;
  std::int32_t pointer_mode = 0;  // 0: host scalars
  std::int32_t transa = CUBLAS_OP_N, transb = CUBLAS_OP_N, transc = CUBLAS_OP_N;
  std::uint32_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
  const void* bias = nullptr;
  void* aux = nullptr;
  std::int64_t aux_ld = 0;
  std::int32_t bias_type = -1;  // -1: the default, D's type
  std::int32_t aux_type = -1;
};

struct cublasLtMatrixLayoutOpaque_t {
  cudaDataType_t type = CUDA_R_32F;
  std::uint64_t rows = 0, cols = 0;
  std::int64_t ld = 0;
};

struct cublasLtMatmulPreferenceOpaque_t {
  std::uint64_t max_workspace = 0;
  std::uint32_t min_alignment[4] = {256, 256, 256, 256};  // A, B, C, D; cuBLASLt's default
};

namespace llcpress::cuda::emulation {

namespace {

template <typename T>
cublasStatus_t store(T& field, const void* value, std::size_t bytes) {
  if (value == nullptr || bytes != sizeof(T)) return CUBLAS_STATUS_INVALID_VALUE;
  std::memcpy(&field, value, sizeof(T));
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t create(cublasLtHandle_t* handle) {
  if (handle == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *handle = new cublasLtContext;
  return CUBLAS_STATUS_SUCCESS;
}

bool live(cublasLtHandle_t handle) { return handle != nullptr && handle->magic == kHandleMagic; }

cublasStatus_t destroy(cublasLtHandle_t handle) {
  if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->magic = 0;
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}

std::size_t get_version() { return 0; }  // not a cuBLAS library: provenance never records this one

const char* get_status_name(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS:
      return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED:
      return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return "CUBLAS_STATUS_NOT_SUPPORTED";
    default:
      return "CUBLAS_STATUS_INTERNAL_ERROR";
  }
}

const char* get_status_string(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS:
      return "success (emulated cuBLASLt)";
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "the emulated cuBLASLt handle is not live";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "an argument is invalid for cuBLASLt (shapes, leading dimensions, pointers or attribute sizes)";
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return "a type, epilogue or attribute the emulated cuBLASLt does not implement";
    default:
      return "emulated cuBLASLt error";
  }
}

cublasStatus_t matmul_desc_create(cublasLtMatmulDesc_t* description, cublasComputeType_t compute,
                                  cudaDataType_t scale_type) {
  if (description == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *description = new cublasLtMatmulDescOpaque_t;
  (*description)->compute = compute;
  (*description)->scale_type = scale_type;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t matmul_desc_destroy(cublasLtMatmulDesc_t description) {
  delete description;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t matmul_desc_set_attribute(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t attribute,
                                         const void* value, std::size_t bytes) {
  if (d == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  switch (attribute) {
    case CUBLASLT_MATMUL_DESC_COMPUTE_TYPE: {
      std::int32_t v = 0;
      const cublasStatus_t status = store(v, value, bytes);
      d->compute = static_cast<cublasComputeType_t>(v);
      return status;
    }
    case CUBLASLT_MATMUL_DESC_SCALE_TYPE: {
      std::int32_t v = 0;
      const cublasStatus_t status = store(v, value, bytes);
      d->scale_type = static_cast<cudaDataType_t>(v);
      return status;
    }
    case CUBLASLT_MATMUL_DESC_POINTER_MODE:
      return store(d->pointer_mode, value, bytes);
    case CUBLASLT_MATMUL_DESC_TRANSA:
      return store(d->transa, value, bytes);
    case CUBLASLT_MATMUL_DESC_TRANSB:
      return store(d->transb, value, bytes);
    case CUBLASLT_MATMUL_DESC_TRANSC:
      return store(d->transc, value, bytes);
    case CUBLASLT_MATMUL_DESC_EPILOGUE:
      return store(d->epilogue, value, bytes);
    case CUBLASLT_MATMUL_DESC_BIAS_POINTER:
      return store(d->bias, value, bytes);
    case CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER:
      return store(d->aux, value, bytes);
    case CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD:
      return store(d->aux_ld, value, bytes);
    case CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE:
      return store(d->bias_type, value, bytes);
    case CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_DATA_TYPE:
      return store(d->aux_type, value, bytes);
  }
  return CUBLAS_STATUS_NOT_SUPPORTED;
}

cublasStatus_t matrix_layout_create(cublasLtMatrixLayout_t* layout, cudaDataType_t type, std::uint64_t rows,
                                    std::uint64_t cols, std::int64_t ld) {
  if (layout == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  // Column-major: a column of `rows` elements fits in the leading dimension.
  if (ld < 0 || static_cast<std::uint64_t>(ld) < rows) return CUBLAS_STATUS_INVALID_VALUE;
  *layout = new cublasLtMatrixLayoutOpaque_t{type, rows, cols, ld};
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t matrix_layout_destroy(cublasLtMatrixLayout_t layout) {
  delete layout;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t matmul_preference_create(cublasLtMatmulPreference_t* preference) {
  if (preference == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *preference = new cublasLtMatmulPreferenceOpaque_t;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t matmul_preference_destroy(cublasLtMatmulPreference_t preference) {
  delete preference;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t matmul_preference_set_attribute(cublasLtMatmulPreference_t p,
                                               cublasLtMatmulPreferenceAttributes_t attribute, const void* value,
                                               std::size_t bytes) {
  if (p == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  switch (attribute) {
    case CUBLASLT_MATMUL_PREF_SEARCH_MODE: {
      std::uint32_t mode = 0;
      return store(mode, value, bytes);
    }
    case CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES:
      return store(p->max_workspace, value, bytes);
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES:
      return store(p->min_alignment[0], value, bytes);
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES:
      return store(p->min_alignment[1], value, bytes);
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES:
      return store(p->min_alignment[2], value, bytes);
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES:
      return store(p->min_alignment[3], value, bytes);
  }
  return CUBLAS_STATUS_NOT_SUPPORTED;
}

bool is_transposed(std::int32_t op) { return op == CUBLAS_OP_T || op == CUBLAS_OP_C; }

// The m, n, k of a call, once its descriptors are known to be consistent.
struct Shape {
  std::int64_t m = 0, n = 0, k = 0;
};

// Everything cuBLASLt checks before it can pick an algorithm.
cublasStatus_t validate(const cublasLtMatmulDescOpaque_t* op, const cublasLtMatrixLayoutOpaque_t* a,
                        const cublasLtMatrixLayoutOpaque_t* b, const cublasLtMatrixLayoutOpaque_t* c,
                        const cublasLtMatrixLayoutOpaque_t* d, Shape& shape) {
  if (op == nullptr || a == nullptr || b == nullptr || c == nullptr || d == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  for (std::int32_t t : {op->transa, op->transb})
    if (t != CUBLAS_OP_N && t != CUBLAS_OP_T && t != CUBLAS_OP_C) return CUBLAS_STATUS_INVALID_VALUE;
  if (op->transc != CUBLAS_OP_N) return CUBLAS_STATUS_NOT_SUPPORTED;  // cuBLASLt supports only non-transposed C
  if (op->pointer_mode != 0 || op->scale_type != CUDA_R_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
  // Types: fp32 output and scale; fp32 or bf16 inputs under COMPUTE_32F; fp32 inputs under FAST_TF32.
  if (c->type != CUDA_R_32F || d->type != CUDA_R_32F || a->type != b->type) return CUBLAS_STATUS_NOT_SUPPORTED;
  if (op->compute == CUBLAS_COMPUTE_32F) {
    if (a->type != CUDA_R_32F && a->type != CUDA_R_16BF) return CUBLAS_STATUS_NOT_SUPPORTED;
  } else if (op->compute == CUBLAS_COMPUTE_32F_FAST_TF32) {
    if (a->type != CUDA_R_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
  } else {
    return CUBLAS_STATUS_NOT_SUPPORTED;
  }
  // Shapes: D is m × n, C the same, op(A) m × k, op(B) k × n.
  const auto m = static_cast<std::int64_t>(d->rows), n = static_cast<std::int64_t>(d->cols);
  if (static_cast<std::int64_t>(c->rows) != m || static_cast<std::int64_t>(c->cols) != n)
    return CUBLAS_STATUS_INVALID_VALUE;
  const bool ta = is_transposed(op->transa), tb = is_transposed(op->transb);
  const auto a_rows = static_cast<std::int64_t>(ta ? a->cols : a->rows);  // rows of op(A)
  const auto k = static_cast<std::int64_t>(ta ? a->rows : a->cols);
  const auto b_rows = static_cast<std::int64_t>(tb ? b->cols : b->rows);
  const auto b_cols = static_cast<std::int64_t>(tb ? b->rows : b->cols);
  if (a_rows != m || b_rows != k || b_cols != n) return CUBLAS_STATUS_INVALID_VALUE;
  if (m <= 0 || n <= 0 || k <= 0) return CUBLAS_STATUS_INVALID_VALUE;
  // Epilogues.
  switch (op->epilogue) {
    case CUBLASLT_EPILOGUE_DEFAULT:
    case CUBLASLT_EPILOGUE_BIAS:
    case CUBLASLT_EPILOGUE_GELU:
    case CUBLASLT_EPILOGUE_GELU_BIAS:
    case CUBLASLT_EPILOGUE_GELU_AUX:
    case CUBLASLT_EPILOGUE_GELU_AUX_BIAS:
      break;
    default:
      return CUBLAS_STATUS_NOT_SUPPORTED;
  }
  if ((op->epilogue & CUBLASLT_EPILOGUE_BIAS) != 0) {
    if (op->bias == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
    if (op->bias_type != -1 && op->bias_type != CUDA_R_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
  }
  if ((op->epilogue & 128) != 0) {  // _AUX
    if (op->aux == nullptr || op->aux_ld < m || op->aux_ld % 8 != 0) return CUBLAS_STATUS_INVALID_VALUE;
    if (op->aux_type != -1 && op->aux_type != CUDA_R_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
  }
  shape = {m, n, k};
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t matmul_algo_get_heuristic(cublasLtHandle_t handle, cublasLtMatmulDesc_t operation,
                                         cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b, cublasLtMatrixLayout_t c,
                                         cublasLtMatrixLayout_t d, cublasLtMatmulPreference_t preference, int requested,
                                         cublasLtMatmulHeuristicResult_t results[], int* returned) {
  if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (preference == nullptr || requested < 1 || results == nullptr || returned == nullptr)
    return CUBLAS_STATUS_INVALID_VALUE;
  Shape shape;
  *returned = 0;
  const cublasStatus_t status = validate(operation, a, b, c, d, shape);
  if (status != CUBLAS_STATUS_SUCCESS) return status;
  for (std::uint32_t alignment : preference->min_alignment)
    if (alignment == 0 || (alignment & (alignment - 1)) != 0) return CUBLAS_STATUS_INVALID_VALUE;
  cublasLtMatmulHeuristicResult_t& result = results[0];
  result = cublasLtMatmulHeuristicResult_t{};
  result.algo.data[0] = kAlgoMagic;
  for (int i = 0; i < 4; ++i) result.algo.data[1 + i] = preference->min_alignment[i];
  result.workspaceSize = 0;
  result.state = CUBLAS_STATUS_SUCCESS;
  result.wavesCount = 1.0f;
  *returned = 1;
  return CUBLAS_STATUS_SUCCESS;
}

// An fp32 value with its mantissa rounded to TF32's 10 explicit bits (to
// nearest, ties away from zero, as the tensor cores' conversion does).
float round_to_tf32(float value) {
  std::uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  if ((bits & 0x7f80'0000u) != 0x7f80'0000u) {  // finite: inf and NaN pass through
    bits += 0x0000'1000u;                       // half of the 13 dropped bits
    bits &= 0xffff'e000u;
  }
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

float load(const void* base, cudaDataType_t type, std::int64_t index) {
  if (type == CUDA_R_16BF) {
    std::uint16_t half;
    std::memcpy(&half, static_cast<const unsigned char*>(base) + index * 2, sizeof half);
    const std::uint32_t bits = std::uint32_t(half) << 16;  // bf16 is the top half of an fp32
    float value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
  }
  return static_cast<const float*>(base)[index];
}

bool aligned(const void* pointer, std::uint64_t alignment) {
  return reinterpret_cast<std::uintptr_t>(pointer) % alignment == 0;
}

float gelu_tanh(float x) {
  const double inner = 0.7978845608028654 * (x + 0.044715 * double(x) * x * x);  // √(2/π)(x + 0.044715x³)
  return static_cast<float>(0.5 * x * (1.0 + std::tanh(inner)));
}

cublasStatus_t matmul(cublasLtHandle_t handle, cublasLtMatmulDesc_t operation, const void* alpha_pointer, const void* a,
                      cublasLtMatrixLayout_t a_layout, const void* b, cublasLtMatrixLayout_t b_layout,
                      const void* beta_pointer, const void* c, cublasLtMatrixLayout_t c_layout, void* d,
                      cublasLtMatrixLayout_t d_layout, const cublasLtMatmulAlgo_t* algo, void* /*workspace*/,
                      std::size_t /*workspace_bytes*/, cudaStream_t /*stream*/) {
  if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  Shape shape;
  const cublasStatus_t status = validate(operation, a_layout, b_layout, c_layout, d_layout, shape);
  if (status != CUBLAS_STATUS_SUCCESS) return status;
  if (alpha_pointer == nullptr || beta_pointer == nullptr || a == nullptr || b == nullptr || d == nullptr)
    return CUBLAS_STATUS_INVALID_VALUE;
  const float alpha = *static_cast<const float*>(alpha_pointer), beta = *static_cast<const float*>(beta_pointer);
  if (beta != 0.0f && c == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  // In place (C = D) only with one layout for both.
  if (c == d && (c_layout->ld != d_layout->ld)) return CUBLAS_STATUS_INVALID_VALUE;
  // The algorithm: one the heuristic returned, whose promised alignments the pointers keep.
  if (algo != nullptr) {
    if (algo->data[0] != kAlgoMagic) return CUBLAS_STATUS_INVALID_VALUE;
    if (!aligned(a, algo->data[1]) || !aligned(b, algo->data[2]) || (c != nullptr && !aligned(c, algo->data[3])) ||
        !aligned(d, algo->data[4]))
      return CUBLAS_STATUS_INVALID_VALUE;
  }
  const auto [m, n, k] = shape;
  const bool ta = is_transposed(operation->transa), tb = is_transposed(operation->transb);
  const bool tf32 = operation->compute == CUBLAS_COMPUTE_32F_FAST_TF32;
  // op(A) as m × k and op(B) as k × n, row by row, in double.
  std::vector<double> left(static_cast<std::size_t>(m * k)), right(static_cast<std::size_t>(k * n));
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t p = 0; p < k; ++p) {
      float value = load(a, a_layout->type, ta ? p + i * a_layout->ld : i + p * a_layout->ld);
      left[i * k + p] = tf32 ? round_to_tf32(value) : value;
    }
  for (std::int64_t p = 0; p < k; ++p)
    for (std::int64_t j = 0; j < n; ++j) {
      float value = load(b, b_layout->type, tb ? j + p * b_layout->ld : p + j * b_layout->ld);
      right[p * n + j] = tf32 ? round_to_tf32(value) : value;
    }
  const std::uint32_t epilogue = operation->epilogue;
  const auto* bias = static_cast<const float*>(operation->bias);
  auto* aux = static_cast<float*>(operation->aux);
  auto* out = static_cast<float*>(d);
  const auto* in = static_cast<const float*>(c);
  for (std::int64_t j = 0; j < n; ++j)
    for (std::int64_t i = 0; i < m; ++i) {
      double sum = 0.0;
      for (std::int64_t p = 0; p < k; ++p) sum += left[i * k + p] * right[p * n + j];
      float value = alpha * static_cast<float>(sum);
      if (beta != 0.0f) value += beta * in[i + j * c_layout->ld];  // C is not read when beta = 0
      if ((epilogue & CUBLASLT_EPILOGUE_BIAS) != 0) value += bias[i];
      if ((epilogue & 128) != 0) aux[i + j * operation->aux_ld] = value;
      if ((epilogue & CUBLASLT_EPILOGUE_GELU) != 0) value = gelu_tanh(value);
      out[i + j * d_layout->ld] = value;
    }
  return CUBLAS_STATUS_SUCCESS;
}

}  // namespace

}  // namespace llcpress::cuda::emulation

namespace llcpress::cuda {

const CublasLtApi& cublaslt() {
  namespace e = emulation;
  static const CublasLtApi api{
      .create = e::create,
      .destroy = e::destroy,
      .get_version = e::get_version,
      .get_status_name = e::get_status_name,
      .get_status_string = e::get_status_string,
      .matmul_desc_create = e::matmul_desc_create,
      .matmul_desc_destroy = e::matmul_desc_destroy,
      .matmul_desc_set_attribute = e::matmul_desc_set_attribute,
      .matrix_layout_create = e::matrix_layout_create,
      .matrix_layout_destroy = e::matrix_layout_destroy,
      .matmul_preference_create = e::matmul_preference_create,
      .matmul_preference_destroy = e::matmul_preference_destroy,
      .matmul_preference_set_attribute = e::matmul_preference_set_attribute,
      .matmul_algo_get_heuristic = e::matmul_algo_get_heuristic,
      .matmul = e::matmul,
  };
  return api;
}

const char* cublaslt_soname() { return "emulated cuBLASLt (host C++, cuda/emulation/cublaslt_emulation.cpp)"; }

}  // namespace llcpress::cuda
