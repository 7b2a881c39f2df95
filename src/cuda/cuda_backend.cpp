#include "cuda/cuda_backend.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/check.h"
#include "core/device.h"
#include "cuda/add_scaled.h"
#include "cuda/attention.h"
#include "cuda/check_cuda.h"
#include "cuda/cross_entropy.h"
#include "cuda/device_info.h"
#if !defined(LLCPRESS_CUDA_EMULATION)
#include "cuda/device_select.h"
#endif
#include "cuda/embedding.h"
#include "cuda/flash_attention.h"
#include "cuda/gaussian_noise.h"
#include "cuda/gelu.h"
#include "cuda/gemm.h"
#include "cuda/kernel_launch.h"
#include "cuda/layernorm.h"
#include "cuda/prune.h"
#include "cuda/quantize.h"
#include "cuda/residual_layernorm.h"
#include "cuda/rotary.h"
#include "cuda/sampler_step.h"
#if !defined(LLCPRESS_CUDA_EMULATION)
#include "cuda/svd_factorize.h"
#endif

namespace llcpress::cuda {

using backend::GeluKind;
using backend::UnsupportedOp;

CudaBackend::CudaBackend(int device, Precision precision) : context_(device, precision) {}

CudaBackend::~CudaBackend() = default;

std::string CudaBackend::description() const {
  const DeviceInfo device = active_device();
  const std::string gpu = device.kind == DeviceKind::Cuda && device.ordinal == context_.device()
                              ? device.description()
                              : fmt::format("cuda:{} {}", context_.device(), device_description(context_.device()));
  return fmt::format("{}, GEMMs {} (cuBLASLt)", gpu, precision_name(context_.precision()));
}

void CudaBackend::unsupported(const char* op) const {
  throw UnsupportedOp("cuda", fmt::format("{} (its kernel is not wired into this build yet)", op));
}

// ---------------------------------------------------------------- memory

void* CudaBackend::allocate(std::size_t bytes) {
  void* memory = nullptr;
  // cudaMalloc aligns to 256 bytes, more than the 64 the interface promises.
  if (bytes > 0) LLC_CHECK_CUDA(cudaMalloc(&memory, bytes));
  return memory;
}

void CudaBackend::deallocate(void* memory, std::size_t) noexcept {
  // cudaFree waits for work that may still use the memory; errors cannot be thrown from here.
  if (memory != nullptr) cudaFree(memory);
}

void CudaBackend::upload(void* destination, const void* host_source, std::size_t bytes) {
  // Stream-ordered after the ops before it, and synchronous for the host buffer (the interface's promise).
  LLC_CHECK_CUDA(cudaMemcpyAsync(destination, host_source, bytes, cudaMemcpyHostToDevice, context_.stream()));
  context_.weights_written(destination, bytes);
  context_.synchronize();
}

void CudaBackend::download(void* host_destination, const void* source, std::size_t bytes) {
  LLC_CHECK_CUDA(cudaMemcpyAsync(host_destination, source, bytes, cudaMemcpyDeviceToHost, context_.stream()));
  context_.synchronize();
}

void CudaBackend::copy(float* destination, const float* source, std::int64_t count) {
  if (count <= 0) return;
  LLC_CHECK_CUDA(
      cudaMemcpyAsync(destination, source, count * sizeof(float), cudaMemcpyDeviceToDevice, context_.stream()));
  context_.weights_written(destination, count * sizeof(float));
}

void CudaBackend::zero(float* buffer, std::int64_t count) {
  if (count <= 0) return;
  LLC_CHECK_CUDA(cudaMemsetAsync(buffer, 0, count * sizeof(float), context_.stream()));
  context_.weights_written(buffer, count * sizeof(float));
}

void CudaBackend::synchronize() { context_.synchronize(); }

// ---------------------------------------------------------------- generic math

void CudaBackend::gemm(float* c, const float* a, const float* b, std::int64_t m, std::int64_t n, std::int64_t k,
                       Transpose transpose_a, Transpose transpose_b, float alpha, float beta, std::int64_t lda,
                       std::int64_t ldb, std::int64_t ldc) {
  cuda::gemm(context_, c, a, b, m, n, k, transpose_a, transpose_b, alpha, beta, lda, ldb, ldc);
  if (m > 0) context_.weights_written(c, ((m - 1) * ldc + n) * sizeof(float));
}

void CudaBackend::add_scaled(float* destination, const float* source, float weight, std::int64_t count) {
  cuda::add_scaled(destination, source, weight, count, context_.stream());
  if (count > 0) context_.weights_written(destination, count * sizeof(float));
}

// ---------------------------------------------------------------- model ops

void CudaBackend::linear_forward(float* output, const float* input, const float* weight, const float* bias,
                                 std::int64_t rows, int in_features, int out_features, bool accumulate) {
  cuda::linear_forward(context_, output, input, weight, bias, rows, in_features, out_features, accumulate);
}

void CudaBackend::linear_backward(float* d_input, float* d_weight, float* d_bias, const float* d_output,
                                  const float* input, const float* weight, std::int64_t rows, int in_features,
                                  int out_features) {
  cuda::linear_backward(context_, d_input, d_weight, d_bias, d_output, input, weight, rows, in_features, out_features);
}

// The kernels (cuda-kernels): each op points the kernels at this backend's
// stream for its duration, then calls the launcher of the same name.

void CudaBackend::embedding_forward(float* output, const std::int32_t* tokens, const float* table, std::int64_t rows,
                                    int hidden) {
  const KernelStreamScope stream_scope(context_.stream());
  cuda::embedding_forward(output, tokens, table, rows, hidden);
}
void CudaBackend::embedding_backward(float* d_table, const float* d_output, const std::int32_t* tokens,
                                     std::int64_t rows, int hidden) {
  const KernelStreamScope stream_scope(context_.stream());
  cuda::embedding_backward(d_table, d_output, tokens, rows, hidden);
}
void CudaBackend::layernorm_forward(float* output, float* mean, float* rstd, const float* input, const float* weight,
                                    const float* bias, std::int64_t rows, int hidden, float eps) {
  const KernelStreamScope stream_scope(context_.stream());
  cuda::layernorm_forward(output, mean, rstd, input, weight, bias, rows, hidden, eps);
}
void CudaBackend::layernorm_backward(float* d_input, float* d_weight, float* d_bias, const float* d_output,
                                     const float* input, const float* mean, const float* rstd, const float* weight,
                                     std::int64_t rows, int hidden) {
  const KernelStreamScope stream_scope(context_.stream());
  cuda::layernorm_backward(d_input, d_weight, d_bias, d_output, input, mean, rstd, weight, rows, hidden);
}
void CudaBackend::residual_layernorm_forward(float* sum, float* output, float* mean, float* rstd, const float* input,
                                             const float* residual, const float* weight, const float* bias,
                                             std::int64_t rows, int hidden, float eps) {
  const KernelStreamScope stream_scope(context_.stream());
  cuda::residual_layernorm_forward(sum, output, mean, rstd, input, residual, weight, bias, rows, hidden, eps);
}
void CudaBackend::residual_layernorm_backward(float* d_sum, float* d_weight, float* d_bias, const float* d_output,
                                              const float* sum, const float* mean, const float* rstd,
                                              const float* weight, std::int64_t rows, int hidden) {
  const KernelStreamScope stream_scope(context_.stream());
  cuda::residual_layernorm_backward(d_sum, d_weight, d_bias, d_output, sum, mean, rstd, weight, rows, hidden);
}
void CudaBackend::rotary_forward(float* qkv, const float* cos_table, const float* sin_table, std::int64_t batch,
                                 int seq_len, int heads, int head_dim, int rotary_dims) {
  const KernelStreamScope stream_scope(context_.stream());
  cuda::rotary_forward(qkv, cos_table, sin_table, batch, seq_len, heads, head_dim, rotary_dims);
}
void CudaBackend::rotary_backward(float* d_qkv, const float* cos_table, const float* sin_table, std::int64_t batch,
                                  int seq_len, int heads, int head_dim, int rotary_dims) {
  const KernelStreamScope stream_scope(context_.stream());
  cuda::rotary_backward(d_qkv, cos_table, sin_table, batch, seq_len, heads, head_dim, rotary_dims);
}
// The attention kernels keep no workspace (the backward's one scratch row is
// stream-ordered allocated per call); only the head dimension is checked here.
void CudaBackend::reserve_attention(int, int head_dim) { cuda::check_attention_head_dim(head_dim); }
// The fused kernels unless set_attention_kernel(Parity) or the heads are
// wider than they take (Pythia-1b's 256).
bool CudaBackend::use_fused_attention(int head_dim) const {
  return attention_kernel_ == AttentionKernel::Fused && cuda::flash_attention_supports(head_dim);
}
void CudaBackend::attention_forward(float* output, float* row_log_sum_exp, const float* qkv, std::int64_t batch,
                                    int seq_len, int heads, int head_dim) {
  const KernelStreamScope stream_scope(context_.stream());
  if (use_fused_attention(head_dim))
    cuda::flash_attention_forward(output, row_log_sum_exp, qkv, batch, seq_len, heads, head_dim);
  else
    cuda::attention_forward(output, row_log_sum_exp, qkv, batch, seq_len, heads, head_dim);
}
void CudaBackend::attention_backward(float* d_qkv, const float* d_output, const float* output,
                                     const float* row_log_sum_exp, const float* qkv, std::int64_t batch, int seq_len,
                                     int heads, int head_dim) {
  const KernelStreamScope stream_scope(context_.stream());
  if (use_fused_attention(head_dim))
    cuda::flash_attention_backward(d_qkv, d_output, output, row_log_sum_exp, qkv, batch, seq_len, heads, head_dim);
  else
    cuda::attention_backward(d_qkv, d_output, output, row_log_sum_exp, qkv, batch, seq_len, heads, head_dim);
}
void CudaBackend::gelu_forward(float* output, const float* input, std::int64_t count, GeluKind kind) {
  const KernelStreamScope stream_scope(context_.stream());
  cuda::gelu_forward(output, input, count, kind);
}
void CudaBackend::gelu_backward(float* d_input, const float* d_output, const float* input, std::int64_t count,
                                GeluKind kind) {
  const KernelStreamScope stream_scope(context_.stream());
  cuda::gelu_backward(d_input, d_output, input, count, kind);
}
double CudaBackend::cross_entropy_forward(float* losses, float* log_sum_exp, const float* logits,
                                          const std::int32_t* targets, std::int64_t rows, int vocab) {
  const KernelStreamScope stream_scope(context_.stream());
  return cuda::cross_entropy_forward(losses, log_sum_exp, logits, targets, rows, vocab);
}
void CudaBackend::cross_entropy_backward(float* d_logits, const float* logits, const float* log_sum_exp,
                                         const std::int32_t* targets, float d_loss, std::int64_t rows, int vocab) {
  const KernelStreamScope stream_scope(context_.stream());
  cuda::cross_entropy_backward(d_logits, logits, log_sum_exp, targets, d_loss, rows, vocab);
}

backend::StepSums CudaBackend::sampler_step(float* parameters, float* square_avg, float* displacement,
                                            const float* gradient, const float* center,
                                            std::span<const backend::SamplerChunk> chunks,
                                            const backend::SamplerStepScalars& scalars) {
  const KernelStreamScope stream_scope(context_.stream());
  // The step moves the parameters of every chunk: the bf16 copies of the weights there are stale.
  for (const backend::SamplerChunk& chunk : chunks)
    if (scalars.apply) context_.weights_written(parameters + chunk.begin, (chunk.end - chunk.begin) * sizeof(float));
  return cuda::sampler_step(parameters, square_avg, displacement, gradient, center, chunks.data(), chunks.size(),
                            scalars);
}

// ---------------------------------------------------------------- compression

void CudaBackend::quantize_rows_forward(float* out, const float* in, const float* host_clips, std::int64_t rows,
                                        std::int64_t cols, int levels) {
  const KernelStreamScope stream_scope(context_.stream());
  cuda::quantize_rows_forward(out, in, host_clips, rows, cols, levels);
  context_.weights_written(out, static_cast<std::size_t>(rows * cols) * sizeof(float));
}
void CudaBackend::noise_forward(float* out, const float* in, float sigma, std::uint64_t seed, std::uint64_t stream,
                                std::int64_t count) {
  const KernelStreamScope stream_scope(context_.stream());
  cuda::noise_forward(out, in, sigma, seed, stream, count);
  if (count > 0) context_.weights_written(out, count * sizeof(float));
}
void CudaBackend::zero_elements(float* buffer, const std::size_t* host_indices, std::int64_t count) {
  const KernelStreamScope stream_scope(context_.stream());
  cuda::zero_elements(buffer, host_indices, count);
  if (count > 0) {  // the span of the indices: one overlap test, not one per element
    const auto [lowest, highest] = std::minmax_element(host_indices, host_indices + count);
    context_.weights_written(buffer + *lowest, (*highest - *lowest + 1) * sizeof(float));
  }
}
void CudaBackend::zero_columns(float* matrix, std::int64_t rows, std::int64_t cols, std::int64_t first,
                               std::int64_t count) {
  // A strided 2-D memset: `rows` rows of `count` floats, `cols` floats apart.
  if (rows > 0 && count > 0) {
    LLC_CHECK_CUDA(
        cudaMemset2DAsync(matrix + first, cols * sizeof(float), 0, count * sizeof(float), rows, context_.stream()));
    context_.weights_written(matrix, static_cast<std::size_t>(rows * cols) * sizeof(float));
  }
}

// cuSOLVER (loaded on first use) in double, then the factors' layout kernels.
// Under the CPU emulation cuSOLVER is out of reach: UnsupportedOp, and the
// svd method takes its host path.
void CudaBackend::svd_factorize_forward(float* left_scaled, float* singular_values, float* right, const float* matrix,
                                        std::int64_t rows, std::int64_t cols) {
#if defined(LLCPRESS_CUDA_EMULATION)
  (void)left_scaled, (void)singular_values, (void)right, (void)matrix, (void)rows, (void)cols;
  throw UnsupportedOp("cuda (CPU emulation)", "svd_factorize_forward: cuSOLVER is a library call");
#else
  const KernelStreamScope stream_scope(context_.stream());
  cuda::svd_factorize_forward(left_scaled, singular_values, right, matrix, rows, cols);
#endif
}

// ---------------------------------------------------------------- registry

// Under the CPU emulation (tests/cuda: test_cuda_emulated) CudaBackend is
// constructed directly and never registered: the emulated "GPU" must not be
// offered to code that asks the registry for cuda.
#if !defined(LLCPRESS_CUDA_EMULATION)
std::string cuda_backend_unavailable_reason() {
  return device_count() > 0 ? std::string() : std::string("no CUDA device visible (no GPU or no NVIDIA driver)");
}

namespace {
std::unique_ptr<backend::Backend> make_cuda_backend() {
  DeviceInfo device = active_device();
  // Nothing chose a GPU for this process yet: the local rank's, by select_device's rule (and its errors).
  if (device.kind != DeviceKind::Cuda)
    device = select_device(DeviceKind::Cuda, local_rank_from_environment(), "backend cuda");
  return std::make_unique<CudaBackend>(device.ordinal);
}
// A command's backend: the GPU it chose (select_device, before any work) and its `precision` key.
std::unique_ptr<backend::Backend> make_cuda_compute_backend(const backend::ComputeSettings& settings) {
  const Precision precision = parse_precision(settings.precision, "precision");
  int ordinal = settings.device;
  if (ordinal < 0) {
    DeviceInfo device = active_device();
    if (device.kind != DeviceKind::Cuda)
      device = select_device(DeviceKind::Cuda, local_rank_from_environment(), "backend cuda");
    ordinal = device.ordinal;
  }
  return std::make_unique<CudaBackend>(ordinal, precision);
}
}  // namespace

LLCPRESS_REGISTER_BACKEND(backend::BackendEntry{"cuda", cuda_backend_unavailable_reason, make_cuda_backend,
                                                make_cuda_compute_backend});
#endif

}  // namespace llcpress::cuda
