// The CPU backend: a thin adapter from the Backend interface to the CPU ops
// of src/model/ops (OpenBLAS/Eigen GEMMs, AVX2 attention, OpenMP loops), the
// vectorised sampler step (cpu_sampler_step.cpp) and the compression
// primitives. Every op is the ops:: function of the same name with the same
// arguments, so the numbers are those of the ops themselves, bit for bit.
//
// It owns what the ops need beyond their arguments: the attention workspace
// (per-thread scratch, sized by reserve_attention for the OpenMP thread count
// at that moment) and the thread setting (set_threads = omp_set_num_threads).
// Memory is host RAM, 64-byte aligned. One caller at a time (the workspace is
// shared by the models that use this backend).
#pragma once

#include <memory>

#include "backend/backend.h"

namespace llcpress::ops {
class AttentionWorkspace;
}

namespace llcpress::backend {

class CpuBackend final : public Backend {
 public:
  CpuBackend();
  ~CpuBackend() override;

  // OpenMP threads for every op (omp_set_num_threads; 0 or less: leave as is).
  void set_threads(int threads);
  int threads() const;
  // Bytes of the attention workspace (reported by benchmarks).
  std::size_t workspace_bytes() const;

  std::string name() const override { return "cpu"; }
  MemorySpace memory_space() const override { return MemorySpace::Host; }
  std::string description() const override;

  void* allocate(std::size_t bytes) override;
  void deallocate(void* memory, std::size_t bytes) noexcept override;
  void upload(void* destination, const void* host_source, std::size_t bytes) override;
  void download(void* host_destination, const void* source, std::size_t bytes) override;
  void copy(float* destination, const float* source, std::int64_t count) override;
  void zero(float* buffer, std::int64_t count) override;
  void synchronize() override {}

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

  StepSums sampler_step(float* parameters, float* square_avg, float* displacement, const float* gradient,
                        const float* center, std::span<const SamplerChunk> chunks,
                        const SamplerStepScalars& scalars) override;

  void quantize_rows_forward(float* out, const float* in, const float* host_clips, std::int64_t rows, std::int64_t cols,
                             int levels) override;
  void noise_forward(float* out, const float* in, float sigma, std::uint64_t seed, std::uint64_t stream,
                     std::int64_t count) override;
  void zero_elements(float* buffer, const std::size_t* host_indices, std::int64_t count) override;
  void zero_columns(float* matrix, std::int64_t rows, std::int64_t cols, std::int64_t first,
                    std::int64_t count) override;

 private:
  ops::AttentionWorkspace& workspace(int seq_len);
  std::unique_ptr<ops::AttentionWorkspace> attention_;
};

}  // namespace llcpress::backend
