// The CUDA backend: the Backend interface (backend/backend.h) on one GPU.
// Buffers are device memory (cudaMalloc); every op is queued on the
// CudaContext's stream, so the model's ops run in order without host waits;
// only download, synchronize and the ops that return a host value wait.
// GEMMs and linear layers go through cuBLASLt (cuda/gemm.h) in the context's
// precision (fp32 | tf32 | bf16).
//
// The other ops (embedding, layer norm, rotary, attention, GELU,
// cross-entropy, the sampler step, the compression primitives) are the
// kernels of src/cuda/*.cu (the `# --- kernels` block of
// src/cuda/CMakeLists.txt), each launched on this backend's stream.
//
// Registered as "cuda" (cuda_backend.cpp): available when a CUDA device is
// visible; it runs on the device select_device() chose for this process
// (one GPU per MPI rank), or on the local rank's GPU when nothing chose one.
#pragma once

#include <memory>
#include <string>

#include "backend/backend.h"
#include "cuda/cuda_context.h"

namespace llcpress::cuda {

class CudaBackend final : public backend::Backend {
 public:
  using GeluKind = backend::GeluKind;
  using Transpose = backend::Transpose;

  explicit CudaBackend(int device, Precision precision = Precision::Fp32);
  ~CudaBackend() override;

  CudaContext& context() { return context_; }
  // GEMM compute precision of every later op (parameters stay fp32).
  void set_precision(Precision precision) { context_.set_precision(precision); }
  // The parameters changed (an SGLD step, a compression method, a load): the
  // bf16 weight copies are recast on their next use. Cheap; call once per step.
  void mark_weights_changed() { context_.mark_weights_changed(); }

  // Which causal-attention kernels attention_forward/backward run: Fused (the
  // default: cuda/flash_attention.h, for speed; heads wider than 128 features
  // go to the parity kernel) or Parity (cuda/attention.h, one warp per row,
  // the kernel the CPU-parity tests pin down). Both save the same log-sum-exp,
  // so either backward accepts either forward's outputs.
  enum class AttentionKernel { Fused, Parity };
  void set_attention_kernel(AttentionKernel kernel) { attention_kernel_ = kernel; }
  AttentionKernel attention_kernel() const { return attention_kernel_; }

  std::string name() const override { return "cuda"; }
  backend::MemorySpace memory_space() const override { return backend::MemorySpace::Device; }
  std::string description() const override;

  void* allocate(std::size_t bytes) override;
  void deallocate(void* memory, std::size_t bytes) noexcept override;
  void upload(void* destination, const void* host_source, std::size_t bytes) override;
  void download(void* host_destination, const void* source, std::size_t bytes) override;
  void copy(float* destination, const float* source, std::int64_t count) override;
  void zero(float* buffer, std::int64_t count) override;
  void synchronize() override;

  void gemm(float* c, const float* a, const float* b, std::int64_t m, std::int64_t n, std::int64_t k,
            Transpose transpose_a, Transpose transpose_b, float alpha, float beta, std::int64_t lda, std::int64_t ldb,
            std::int64_t ldc) override;
  void add_scaled(float* destination, const float* source, float weight, std::int64_t count) override;

  void embedding_forward(float* output, const std::int32_t* tokens, const float* table, std::int64_t rows,
                         int hidden) override;
  void embedding_backward(float* d_table, const float* d_output, const std::int32_t* tokens, std::int64_t rows,
                          int hidden) override;
  void layernorm_forward(float* output, float* mean, float* rstd, const float* input, const float* weight,
                         const float* bias, std::int64_t rows, int hidden, float eps) override;
  void layernorm_backward(float* d_input, float* d_weight, float* d_bias, const float* d_output, const float* input,
                          const float* mean, const float* rstd, const float* weight, std::int64_t rows,
                          int hidden) override;
  void residual_layernorm_forward(float* sum, float* output, float* mean, float* rstd, const float* input,
                                  const float* residual, const float* weight, const float* bias, std::int64_t rows,
                                  int hidden, float eps) override;
  void residual_layernorm_backward(float* d_sum, float* d_weight, float* d_bias, const float* d_output,
                                   const float* sum, const float* mean, const float* rstd, const float* weight,
                                   std::int64_t rows, int hidden) override;
  void linear_forward(float* output, const float* input, const float* weight, const float* bias, std::int64_t rows,
                      int in_features, int out_features, bool accumulate) override;
  void linear_backward(float* d_input, float* d_weight, float* d_bias, const float* d_output, const float* input,
                       const float* weight, std::int64_t rows, int in_features, int out_features) override;
  void rotary_forward(float* qkv, const float* cos_table, const float* sin_table, std::int64_t batch, int seq_len,
                      int heads, int head_dim, int rotary_dims) override;
  void rotary_backward(float* d_qkv, const float* cos_table, const float* sin_table, std::int64_t batch, int seq_len,
                       int heads, int head_dim, int rotary_dims) override;
  void reserve_attention(int max_seq_len, int head_dim) override;
  void attention_forward(float* output, float* row_log_sum_exp, const float* qkv, std::int64_t batch, int seq_len,
                         int heads, int head_dim) override;
  void attention_backward(float* d_qkv, const float* d_output, const float* output, const float* row_log_sum_exp,
                          const float* qkv, std::int64_t batch, int seq_len, int heads, int head_dim) override;
  void gelu_forward(float* output, const float* input, std::int64_t count, GeluKind kind) override;
  void gelu_backward(float* d_input, const float* d_output, const float* input, std::int64_t count,
                     GeluKind kind) override;
  double cross_entropy_forward(float* losses, float* log_sum_exp, const float* logits, const std::int32_t* targets,
                               std::int64_t rows, int vocab) override;
  void cross_entropy_backward(float* d_logits, const float* logits, const float* log_sum_exp,
                              const std::int32_t* targets, float d_loss, std::int64_t rows, int vocab) override;

  backend::StepSums sampler_step(float* parameters, float* square_avg, float* displacement, const float* gradient,
                                 const float* center, std::span<const backend::SamplerChunk> chunks,
                                 const backend::SamplerStepScalars& scalars) override;

  void quantize_rows_forward(float* out, const float* in, const float* host_clips, std::int64_t rows, std::int64_t cols,
                             int levels) override;
  void noise_forward(float* out, const float* in, float sigma, std::uint64_t seed, std::uint64_t stream,
                     std::int64_t count) override;
  void zero_elements(float* buffer, const std::size_t* host_indices, std::int64_t count) override;
  void zero_columns(float* matrix, std::int64_t rows, std::int64_t cols, std::int64_t first,
                    std::int64_t count) override;
  void svd_factorize_forward(float* left_scaled, float* singular_values, float* right, const float* matrix,
                             std::int64_t rows, std::int64_t cols) override;

 private:
  [[noreturn]] void unsupported(const char* op) const;
  CudaContext context_;
  AttentionKernel attention_kernel_ = AttentionKernel::Fused;
  bool use_fused_attention(int head_dim) const;
};

// The reason the "cuda" backend cannot run in this process ("" when it can).
std::string cuda_backend_unavailable_reason();

}  // namespace llcpress::cuda
