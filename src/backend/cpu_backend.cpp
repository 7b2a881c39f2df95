#include "backend/cpu_backend.h"

#include <fmt/format.h>
#include <omp.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "backend/cpu_sampler_step.h"
#include "backend/elementwise.h"
#include "core/rng.h"
#include "core/version.h"
#include "model/aligned_allocator.h"
#include "model/ops/attention.h"
#include "model/ops/cross_entropy.h"
#include "model/ops/embedding.h"
#include "model/ops/layernorm.h"
#include "model/ops/linear.h"
#include "model/ops/rotary.h"

namespace llcpress::backend {

namespace {

// Element loops below this size are not worth an OpenMP fork (the threshold
// the model's copy/zero helpers and the quantizer have always used).
constexpr std::int64_t kParallelThreshold = std::int64_t{1} << 16;

}  // namespace

CpuBackend::CpuBackend() = default;
CpuBackend::~CpuBackend() = default;

void CpuBackend::set_threads(int threads) {
  if (threads > 0) omp_set_num_threads(threads);
}
int CpuBackend::threads() const { return omp_get_max_threads(); }
std::size_t CpuBackend::workspace_bytes() const { return attention_ ? attention_->bytes() : 0; }

std::string CpuBackend::description() const {
  return fmt::format("cpu ({} OpenMP threads, GEMM {})", threads(), gemm_library());
}

// ---------------------------------------------------------------- memory

void* CpuBackend::allocate(std::size_t bytes) {
  if (bytes == 0) return nullptr;
  const std::size_t rounded = (bytes + kBufferAlignment - 1) / kBufferAlignment * kBufferAlignment;
  void* memory = std::aligned_alloc(kBufferAlignment, rounded);
  if (memory == nullptr) throw std::bad_alloc();
  return memory;
}
void CpuBackend::deallocate(void* memory, std::size_t) noexcept { std::free(memory); }

void CpuBackend::upload(void* destination, const void* host_source, std::size_t bytes) {
  if (bytes > 0) std::memcpy(destination, host_source, bytes);
}
void CpuBackend::download(void* host_destination, const void* source, std::size_t bytes) {
  if (bytes > 0) std::memcpy(host_destination, source, bytes);
}

void CpuBackend::copy(float* destination, const float* source, std::int64_t count) {
#pragma omp parallel for schedule(static) if (count > kParallelThreshold)
  for (std::int64_t i = 0; i < count; ++i) destination[i] = source[i];
}

void CpuBackend::zero(float* buffer, std::int64_t count) {
#pragma omp parallel for schedule(static) if (count > kParallelThreshold)
  for (std::int64_t i = 0; i < count; ++i) buffer[i] = 0.0f;
}

// ---------------------------------------------------------------- generic math

void CpuBackend::gemm(float* c, const float* a, const float* b, std::int64_t m, std::int64_t n, std::int64_t k,
                      Transpose transpose_a, Transpose transpose_b, float alpha, float beta, std::int64_t lda,
                      std::int64_t ldb, std::int64_t ldc) {
  ops::gemm(c, a, b, m, n, k, transpose_a, transpose_b, alpha, beta, lda, ldb, ldc);
}

void CpuBackend::add_scaled(float* destination, const float* source, float weight, std::int64_t count) {
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < count; ++i) destination[i] += weight * source[i];
}

// ---------------------------------------------------------------- model ops

void CpuBackend::embedding_forward(float* output, const std::int32_t* tokens, const float* table, std::int64_t rows,
                                   int hidden) {
  ops::embedding_forward(output, tokens, table, rows, hidden);
}
void CpuBackend::embedding_backward(float* d_table, const float* d_output, const std::int32_t* tokens,
                                    std::int64_t rows, int hidden) {
  ops::embedding_backward(d_table, d_output, tokens, rows, hidden);
}

void CpuBackend::layernorm_forward(float* output, float* mean, float* rstd, const float* input, const float* weight,
                                   const float* bias, std::int64_t rows, int hidden, float eps) {
  ops::layernorm_forward(output, mean, rstd, input, weight, bias, rows, hidden, eps);
}
void CpuBackend::layernorm_backward(float* d_input, float* d_weight, float* d_bias, const float* d_output,
                                    const float* input, const float* mean, const float* rstd, const float* weight,
                                    std::int64_t rows, int hidden) {
  ops::layernorm_backward(d_input, d_weight, d_bias, d_output, input, mean, rstd, weight, rows, hidden);
}

// The add, then ops::layernorm_forward: the reference the CUDA kernel (one
// pass per row) is tested against.
void CpuBackend::residual_layernorm_forward(float* sum, float* output, float* mean, float* rstd, const float* input,
                                            const float* residual, const float* weight, const float* bias,
                                            std::int64_t rows, int hidden, float eps) {
  const std::int64_t count = rows * hidden;
  for (std::int64_t i = 0; i < count; ++i) sum[i] = input[i] + residual[i];
  ops::layernorm_forward(output, mean, rstd, sum, weight, bias, rows, hidden, eps);
}
void CpuBackend::residual_layernorm_backward(float* d_sum, float* d_weight, float* d_bias, const float* d_output,
                                             const float* sum, const float* mean, const float* rstd,
                                             const float* weight, std::int64_t rows, int hidden) {
  ops::layernorm_backward(d_sum, d_weight, d_bias, d_output, sum, mean, rstd, weight, rows, hidden);
}

void CpuBackend::linear_forward(float* output, const float* input, const float* weight, const float* bias,
                                std::int64_t rows, int in_features, int out_features, bool accumulate) {
  ops::linear_forward(output, input, weight, bias, rows, in_features, out_features, accumulate);
}
void CpuBackend::linear_backward(float* d_input, float* d_weight, float* d_bias, const float* d_output,
                                 const float* input, const float* weight, std::int64_t rows, int in_features,
                                 int out_features) {
  ops::linear_backward(d_input, d_weight, d_bias, d_output, input, weight, rows, in_features, out_features);
}

void CpuBackend::rotary_forward(float* qkv, const float* cos_table, const float* sin_table, std::int64_t batch,
                                int seq_len, int heads, int head_dim, int rotary_dims) {
  ops::rotary_forward(qkv, cos_table, sin_table, batch, seq_len, heads, head_dim, rotary_dims);
}
void CpuBackend::rotary_backward(float* d_qkv, const float* cos_table, const float* sin_table, std::int64_t batch,
                                 int seq_len, int heads, int head_dim, int rotary_dims) {
  ops::rotary_backward(d_qkv, cos_table, sin_table, batch, seq_len, heads, head_dim, rotary_dims);
}

void CpuBackend::reserve_attention(int max_seq_len, int head_dim) {
  // A new workspace when the sequences grow or the OpenMP thread count
  // changed since the last one was sized (attention runs on the workspace's
  // thread count, which the model has always fixed at construction).
  if (!attention_ || attention_->max_seq_len() < max_seq_len || attention_->threads() != omp_get_max_threads()) {
    const int keys = attention_ ? std::max(max_seq_len, attention_->max_seq_len()) : max_seq_len;
    attention_ = std::make_unique<ops::AttentionWorkspace>(keys, head_dim);
  } else {
    attention_->reserve_head_dim(head_dim);
  }
}

ops::AttentionWorkspace& CpuBackend::workspace(int seq_len) {
  if (!attention_ || attention_->max_seq_len() < seq_len) reserve_attention(seq_len, 0);
  return *attention_;
}

void CpuBackend::attention_forward(float* output, float* row_log_sum_exp, const float* qkv, std::int64_t batch,
                                   int seq_len, int heads, int head_dim) {
  ops::attention_forward(output, row_log_sum_exp, qkv, batch, seq_len, heads, head_dim, workspace(seq_len));
}
void CpuBackend::attention_backward(float* d_qkv, const float* d_output, const float* output,
                                    const float* row_log_sum_exp, const float* qkv, std::int64_t batch, int seq_len,
                                    int heads, int head_dim) {
  ops::attention_backward(d_qkv, d_output, output, row_log_sum_exp, qkv, batch, seq_len, heads, head_dim,
                          workspace(seq_len));
}

void CpuBackend::gelu_forward(float* output, const float* input, std::int64_t count, GeluKind kind) {
  ops::gelu_forward(output, input, count, kind);
}
void CpuBackend::gelu_backward(float* d_input, const float* d_output, const float* input, std::int64_t count,
                               GeluKind kind) {
  ops::gelu_backward(d_input, d_output, input, count, kind);
}

double CpuBackend::cross_entropy_forward(float* losses, float* log_sum_exp, const float* logits,
                                         const std::int32_t* targets, std::int64_t rows, int vocab) {
  return ops::cross_entropy_forward(losses, log_sum_exp, logits, targets, rows, vocab);
}
void CpuBackend::cross_entropy_backward(float* d_logits, const float* logits, const float* log_sum_exp,
                                        const std::int32_t* targets, float d_loss, std::int64_t rows, int vocab) {
  ops::cross_entropy_backward(d_logits, logits, log_sum_exp, targets, d_loss, rows, vocab);
}

// ---------------------------------------------------------------- sampler

StepSums CpuBackend::sampler_step(float* parameters, float* square_avg, float* displacement, const float* gradient,
                                  const float* center, std::span<const SamplerChunk> chunks,
                                  const SamplerStepScalars& scalars) {
  return cpu_sampler_step(parameters, square_avg, displacement, gradient, center, chunks, scalars);
}

// ---------------------------------------------------------------- compression

void CpuBackend::quantize_rows_forward(float* out, const float* in, const float* host_clips, std::int64_t rows,
                                       std::int64_t cols, int levels) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const LevelMap map(levels, host_clips[r]);
    float* row_out = out + r * cols;
    const float* row_in = in + r * cols;
#pragma omp parallel for schedule(static) if (cols > kParallelThreshold)
    for (std::int64_t i = 0; i < cols; ++i) row_out[i] = map(row_in[i]);
  }
}

void CpuBackend::noise_forward(float* out, const float* in, float sigma, std::uint64_t seed, std::uint64_t stream,
                               std::int64_t count) {
  const std::size_t size = static_cast<std::size_t>(count);
  const CounterRng rng(seed, stream);
  if (out != in) {
    // The normals go straight into out, then out = in + σ·out.
    rng.fill_normal(out, size);
    for (std::size_t i = 0; i < size; ++i) out[i] = in[i] + sigma * out[i];
    return;
  }
  std::vector<float> normals(size);
  rng.fill_normal(normals.data(), size);
  for (std::size_t i = 0; i < size; ++i) out[i] = in[i] + sigma * normals[i];
}

void CpuBackend::zero_elements(float* buffer, const std::size_t* host_indices, std::int64_t count) {
  for (std::int64_t i = 0; i < count; ++i) buffer[host_indices[i]] = 0.0f;
}

void CpuBackend::zero_columns(float* matrix, std::int64_t rows, std::int64_t cols, std::int64_t first,
                              std::int64_t count) {
  for (std::int64_t r = 0; r < rows; ++r) std::fill(matrix + r * cols + first, matrix + r * cols + first + count, 0.0f);
}

}  // namespace llcpress::backend
