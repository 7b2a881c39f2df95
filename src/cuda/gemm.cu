#include <fmt/format.h>

#include <algorithm>
#include <cstdint>

#include "core/check.h"
#include "cuda/check_cuda.h"
#include "cuda/gemm.h"

namespace llcpress::cuda {

// ------------------------------------------------------------------ kernels

namespace {

constexpr int kCastThreads = 256;

// Four values per thread: one 16-byte load, one 8-byte store.
__global__ void cast_to_bf16_vector_kernel(__nv_bfloat162* output, const float4* input, std::int64_t quads) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < quads;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const float4 value = input[i];
    output[2 * i] = __floats2bfloat162_rn(value.x, value.y);
    output[2 * i + 1] = __floats2bfloat162_rn(value.z, value.w);
  }
}

// Any alignment and length (the tail of the vector kernel, odd offsets).
__global__ void cast_to_bf16_scalar_kernel(__nv_bfloat16* output, const float* input, std::int64_t count) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < count;
       i += std::int64_t(gridDim.x) * blockDim.x)
    output[i] = __float2bfloat16_rn(input[i]);
}

// Rows per partial sum of column_sum: each partial is the sum of at most
// this many rows, taken in row order by one thread. Fixed, so the result is a
// function of the shape alone.
constexpr std::int64_t kColumnSumChunkRows = 256;
constexpr int kColumnSumThreads = 256;

// partials: (chunks, columns); block (x: column tile, y: row chunk).
__global__ void column_sum_partials_kernel(float* partials, const float* input, std::int64_t rows,
                                           std::int64_t columns) {
  const std::int64_t column = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x;
  if (column >= columns) return;
  const std::int64_t first = blockIdx.y * kColumnSumChunkRows;
  const std::int64_t last = rows < first + kColumnSumChunkRows ? rows : first + kColumnSumChunkRows;
  float sum = 0.0f;
  for (std::int64_t row = first; row < last; ++row) sum += input[row * columns + column];  // coalesced in column
  partials[blockIdx.y * columns + column] = sum;
}

// output: (columns) = Σ_chunk partials[chunk, column], chunks in order.
__global__ void column_sum_finish_kernel(float* output, const float* partials, std::int64_t chunks,
                                         std::int64_t columns) {
  const std::int64_t column = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x;
  if (column >= columns) return;
  float sum = 0.0f;
  for (std::int64_t chunk = 0; chunk < chunks; ++chunk) sum += partials[chunk * columns + column];
  output[column] = sum;
}

int grid_for(std::int64_t work, int threads) {
  // Enough blocks to fill a Hopper GPU several times over; grid-stride loops do the rest.
  return static_cast<int>(std::clamp<std::int64_t>((work + threads - 1) / threads, 1, 132 * 16));
}

}  // namespace

// ------------------------------------------------------------------ launchers

void cast_to_bf16(__nv_bfloat16* output, const float* input, std::int64_t count, cudaStream_t stream) {
  if (count <= 0) return;
  const bool aligned =
      reinterpret_cast<std::uintptr_t>(input) % 16 == 0 && reinterpret_cast<std::uintptr_t>(output) % 8 == 0;
  std::int64_t done = 0;
  if (aligned && count >= 4) {
    const std::int64_t quads = count / 4;
    cast_to_bf16_vector_kernel<<<grid_for(quads, kCastThreads), kCastThreads, 0, stream>>>(
        reinterpret_cast<__nv_bfloat162*>(output), reinterpret_cast<const float4*>(input), quads);
    LLC_CHECK_LAUNCH();
    done = quads * 4;
  }
  if (done < count) {
    cast_to_bf16_scalar_kernel<<<grid_for(count - done, kCastThreads), kCastThreads, 0, stream>>>(
        output + done, input + done, count - done);
    LLC_CHECK_LAUNCH();
  }
}

std::int64_t column_sum_partials(std::int64_t rows, std::int64_t columns) {
  return std::max<std::int64_t>(1, (rows + kColumnSumChunkRows - 1) / kColumnSumChunkRows) * columns;
}

void column_sum(float* output, const float* input, std::int64_t rows, std::int64_t columns, float* partials,
                cudaStream_t stream) {
  if (columns <= 0) return;
  if (rows <= 0) {
    LLC_CHECK_CUDA(cudaMemsetAsync(output, 0, columns * sizeof(float), stream));
    return;
  }
  const std::int64_t chunks = (rows + kColumnSumChunkRows - 1) / kColumnSumChunkRows;
  LLC_REQUIRE(chunks <= 65535, "column_sum: {} row chunks exceed the grid's y limit", chunks);
  const dim3 grid(static_cast<unsigned>((columns + kColumnSumThreads - 1) / kColumnSumThreads),
                  static_cast<unsigned>(chunks));
  column_sum_partials_kernel<<<grid, kColumnSumThreads, 0, stream>>>(partials, input, rows, columns);
  LLC_CHECK_LAUNCH();
  column_sum_finish_kernel<<<static_cast<unsigned>((columns + kColumnSumThreads - 1) / kColumnSumThreads),
                             kColumnSumThreads, 0, stream>>>(output, partials, chunks, columns);
  LLC_CHECK_LAUNCH();
}

namespace {

// One operand as cuBLASLt sees it: column-major storage of `rows` × `cols`
// with leading dimension `ld`, transposed or not by the op.
struct Operand {
  const void* data = nullptr;
  cudaDataType_t type = CUDA_R_32F;
  std::int64_t rows = 0, cols = 0, ld = 0;
  bool transposed = false;
};

enum class Epilogue { None, Bias, GeluTanhBias };

// Largest power of two (≤ 256) dividing the address: cuBLASLt only offers
// algorithms whose vector loads the actual pointers allow.
std::uint32_t alignment_of(const void* pointer) {
  const auto address = reinterpret_cast<std::uintptr_t>(pointer);
  std::uint32_t alignment = 256;
  while (alignment > 1 && address % alignment != 0) alignment /= 2;
  return alignment;
}

// RAII for the descriptors of one cublasLtMatmul call.
struct MatmulDescriptors {
  const CublasLtApi& api;
  cublasLtMatmulDesc_t operation = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
  cublasLtMatmulPreference_t preference = nullptr;
  ~MatmulDescriptors() {
    if (preference) api.matmul_preference_destroy(preference);
    if (d) api.matrix_layout_destroy(d);
    if (b) api.matrix_layout_destroy(b);
    if (a) api.matrix_layout_destroy(a);
    if (operation) api.matmul_desc_destroy(operation);
  }
};

// Column-major D (m × n, leading dimension ldd) = alpha · op(A) · op(B)
// + beta · D (+ bias per row of D) (→ GELU, saving its input in aux).
// This is the one place that talks to cuBLASLt.
void matmul_column_major(CudaContext& context, float* d, std::int64_t ldd, const Operand& a, const Operand& b,
                         std::int64_t m, std::int64_t n, std::int64_t k, float alpha, float beta,
                         cublasComputeType_t compute, Epilogue epilogue, const float* bias, float* aux) {
  const CublasLtApi& api = cublaslt();
  MatmulDescriptors descriptors{api};
  LLC_CHECK_CUBLASLT(api.matmul_desc_create(&descriptors.operation, compute, CUDA_R_32F));
  const cublasOperation_t op_a = a.transposed ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = b.transposed ? CUBLAS_OP_T : CUBLAS_OP_N;
  LLC_CHECK_CUBLASLT(
      api.matmul_desc_set_attribute(descriptors.operation, CUBLASLT_MATMUL_DESC_TRANSA, &op_a, sizeof op_a));
  LLC_CHECK_CUBLASLT(
      api.matmul_desc_set_attribute(descriptors.operation, CUBLASLT_MATMUL_DESC_TRANSB, &op_b, sizeof op_b));
  cublasLtEpilogue_t mode = CUBLASLT_EPILOGUE_DEFAULT;
  if (epilogue == Epilogue::Bias) mode = CUBLASLT_EPILOGUE_BIAS;
  if (epilogue == Epilogue::GeluTanhBias) mode = CUBLASLT_EPILOGUE_GELU_AUX_BIAS;
  LLC_CHECK_CUBLASLT(
      api.matmul_desc_set_attribute(descriptors.operation, CUBLASLT_MATMUL_DESC_EPILOGUE, &mode, sizeof mode));
  if (epilogue != Epilogue::None)
    LLC_CHECK_CUBLASLT(
        api.matmul_desc_set_attribute(descriptors.operation, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
  if (epilogue == Epilogue::GeluTanhBias) {
    LLC_CHECK_CUBLASLT(api.matmul_desc_set_attribute(descriptors.operation, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER,
                                                     &aux, sizeof aux));
    LLC_CHECK_CUBLASLT(
        api.matmul_desc_set_attribute(descriptors.operation, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &ldd, sizeof ldd));
  }
  LLC_CHECK_CUBLASLT(api.matrix_layout_create(&descriptors.a, a.type, a.rows, a.cols, a.ld));
  LLC_CHECK_CUBLASLT(api.matrix_layout_create(&descriptors.b, b.type, b.rows, b.cols, b.ld));
  LLC_CHECK_CUBLASLT(api.matrix_layout_create(&descriptors.d, CUDA_R_32F, m, n, ldd));

  LLC_CHECK_CUBLASLT(api.matmul_preference_create(&descriptors.preference));
  const std::size_t workspace_bytes = context.workspace_bytes();
  LLC_CHECK_CUBLASLT(api.matmul_preference_set_attribute(
      descriptors.preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace_bytes, sizeof workspace_bytes));
  const std::uint32_t align_a = alignment_of(a.data), align_b = alignment_of(b.data), align_d = alignment_of(d);
  LLC_CHECK_CUBLASLT(api.matmul_preference_set_attribute(
      descriptors.preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &align_a, sizeof align_a));
  LLC_CHECK_CUBLASLT(api.matmul_preference_set_attribute(
      descriptors.preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &align_b, sizeof align_b));
  LLC_CHECK_CUBLASLT(api.matmul_preference_set_attribute(
      descriptors.preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align_d, sizeof align_d));
  LLC_CHECK_CUBLASLT(api.matmul_preference_set_attribute(
      descriptors.preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align_d, sizeof align_d));

  cublasLtMatmulHeuristicResult_t heuristic{};
  int found = 0;
  LLC_CHECK_CUBLASLT(api.matmul_algo_get_heuristic(context.blaslt(), descriptors.operation, descriptors.a,
                                                   descriptors.b, descriptors.d, descriptors.d, descriptors.preference,
                                                   1, &heuristic, &found));
  LLC_CHECK(found > 0, BackendError, "cublasLtMatmulAlgoGetHeuristic",
            "an operand's alignment or leading dimension rules out every algorithm; pad the buffers to 16 bytes",
            "no cuBLASLt algorithm for m={} n={} k={} (lda {} ldb {} ldd {}, alignments {}/{}/{} bytes)", m, n, k, a.ld,
            b.ld, ldd, align_a, align_b, align_d);
  LLC_CHECK_CUBLASLT(api.matmul(context.blaslt(), descriptors.operation, &alpha, a.data, descriptors.a, b.data,
                                descriptors.b, &beta, d, descriptors.d, d, descriptors.d, &heuristic.algo,
                                context.workspace(), workspace_bytes, context.stream()));
}

cublasComputeType_t compute_type(Precision precision) {
  return precision == Precision::Tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
}

// Elements from the first to the last one a strided row-major (rows, cols)
// matrix touches: what a cast to bf16 must cover.
std::int64_t strided_extent(std::int64_t rows, std::int64_t cols, std::int64_t ld) {
  return rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols;
}

// A row-major fp32 operand (stored_rows, stored_cols, row stride ld) as a
// cuBLASLt operand in the context's precision: in bf16 mode cast into
// scratch `slot` (activations) or taken from the weight cache (weights).
enum class Role { Activation, Weight };
Operand as_operand(CudaContext& context, const float* data, std::int64_t stored_rows, std::int64_t stored_cols,
                   std::int64_t ld, bool transposed, Role role, int slot) {
  // Row-major (r, c, ld) is column-major (c, r, ld): same bytes.
  Operand operand{data, CUDA_R_32F, stored_cols, stored_rows, ld, transposed};
  if (context.precision() != Precision::Bf16) return operand;
  const std::int64_t extent = strided_extent(stored_rows, stored_cols, ld);
  operand.type = CUDA_R_16BF;
  if (role == Role::Weight) {
    operand.data = context.bf16_weight(data, extent);
  } else {
    auto* copy = static_cast<__nv_bfloat16*>(context.scratch(slot, extent * sizeof(__nv_bfloat16)));
    cast_to_bf16(copy, data, extent, context.stream());
    operand.data = copy;
  }
  return operand;
}

// Row-major C (m, n) = op(A) · op(B) is column-major Cᵀ (n, m) = op(B)ᵀ · op(A)ᵀ:
// swap the operands, keep each one's transpose flag. A bias per column of the
// row-major C is a bias per row of the column-major Cᵀ, which is what
// cuBLASLt's bias epilogue adds.
void row_major_product(CudaContext& context, float* c, const float* a, Role role_a, const float* b, Role role_b,
                       std::int64_t m, std::int64_t n, std::int64_t k, Transpose transpose_a, Transpose transpose_b,
                       float alpha, float beta, std::int64_t lda, std::int64_t ldb, std::int64_t ldc, Epilogue epilogue,
                       const float* bias, float* aux) {
  const bool ta = transpose_a == Transpose::Yes, tb = transpose_b == Transpose::Yes;
  LLC_REQUIRE(m >= 0 && n >= 0 && k >= 0, "gemm sizes m={} n={} k={}", m, n, k);
  LLC_REQUIRE(ldc >= n && lda >= (ta ? m : k) && ldb >= (tb ? k : n), "gemm strides lda={} ldb={} ldc={}", lda, ldb,
              ldc);
  if (m == 0 || n == 0) return;
  if (k == 0) {
    // cuBLASLt rejects k = 0; the product is empty, C = beta · C (+ bias).
    LLC_REQUIRE(epilogue == Epilogue::None, "gemm with k = 0 and an epilogue");
    LLC_REQUIRE(beta == 0.0f, "gemm with k = 0 accumulates nothing; call with beta = 0 to clear");
    LLC_CHECK_CUDA(cudaMemset2DAsync(c, ldc * sizeof(float), 0, n * sizeof(float), m, context.stream()));
    return;
  }
  // The stored shapes of the row-major operands.
  const Operand left = as_operand(context, b, tb ? n : k, tb ? k : n, ldb, tb, role_b, 0);   // op: (n, k) col-major
  const Operand right = as_operand(context, a, ta ? k : m, ta ? m : k, lda, ta, role_a, 1);  // op: (k, m) col-major
  matmul_column_major(context, c, ldc, left, right, n, m, k, alpha, beta, compute_type(context.precision()), epilogue,
                      bias, aux);
}

}  // namespace

void gemm(CudaContext& context, float* c, const float* a, const float* b, std::int64_t m, std::int64_t n,
          std::int64_t k, Transpose transpose_a, Transpose transpose_b, float alpha, float beta, std::int64_t lda,
          std::int64_t ldb, std::int64_t ldc) {
  // A generic product does not know which operand is a weight: both are cast per call in bf16 mode.
  row_major_product(context, c, a, Role::Activation, b, Role::Activation, m, n, k, transpose_a, transpose_b, alpha,
                    beta, lda, ldb, ldc, Epilogue::None, nullptr, nullptr);
}

void linear_forward(CudaContext& context, float* output, const float* input, const float* weight, const float* bias,
                    std::int64_t rows, int in_features, int out_features, bool accumulate) {
  // output (rows, out) = input (rows, in) · weightᵀ (in, out)
  row_major_product(context, output, input, Role::Activation, weight, Role::Weight, rows, out_features, in_features,
                    Transpose::No, Transpose::Yes, 1.0f, accumulate ? 1.0f : 0.0f, in_features, in_features,
                    out_features, bias ? Epilogue::Bias : Epilogue::None, bias, nullptr);
}

void linear_gelu_tanh_forward(CudaContext& context, float* output, float* pre_activation, const float* input,
                              const float* weight, const float* bias, std::int64_t rows, int in_features,
                              int out_features) {
  LLC_REQUIRE(bias != nullptr && pre_activation != nullptr, "linear_gelu_tanh_forward needs a bias and aux output");
  // cuBLASLt wants the auxiliary (pre-GELU) buffer's leading dimension to be a multiple of 8.
  LLC_CHECK(out_features % 8 == 0, ConfigError, "linear_gelu_tanh_forward",
            "use linear_forward + a separate GELU for this layer", "out_features {} is not a multiple of 8",
            out_features);
  row_major_product(context, output, input, Role::Activation, weight, Role::Weight, rows, out_features, in_features,
                    Transpose::No, Transpose::Yes, 1.0f, 0.0f, in_features, in_features, out_features,
                    Epilogue::GeluTanhBias, bias, pre_activation);
}

void linear_backward(CudaContext& context, float* d_input, float* d_weight, float* d_bias, const float* d_output,
                     const float* input, const float* weight, std::int64_t rows, int in_features, int out_features) {
  if (d_input)  // d_input (rows, in) = d_output (rows, out) · weight (out, in)
    row_major_product(context, d_input, d_output, Role::Activation, weight, Role::Weight, rows, in_features,
                      out_features, Transpose::No, Transpose::No, 1.0f, 0.0f, out_features, in_features, in_features,
                      Epilogue::None, nullptr, nullptr);
  // d_weight (out, in) = d_outputᵀ (out, rows) · input (rows, in)
  row_major_product(context, d_weight, d_output, Role::Activation, input, Role::Activation, out_features, in_features,
                    rows, Transpose::Yes, Transpose::No, 1.0f, 0.0f, out_features, in_features, in_features,
                    Epilogue::None, nullptr, nullptr);
  if (d_bias) {
    auto* partials = static_cast<float*>(
        context.scratch(2, column_sum_partials(rows, out_features) * sizeof(float)));  // (chunks, out)
    column_sum(d_bias, d_output, rows, out_features, partials, context.stream());
  }
}

}  // namespace llcpress::cuda
