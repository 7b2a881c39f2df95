// A test backend that computes exactly like the CPU backend but claims its
// buffers are device memory — and means it: between ops every buffer it
// allocated is mprotect(PROT_NONE), so host code that dereferences a
// parameter, gradient or activation pointer instead of going through
// download/upload (read_parameters/write_parameters) or a backend op dies
// with SIGSEGV at the offending line (a handler names the cause). Inside an
// op the buffers are readable and writable and the op is the CpuBackend's,
// so results must equal the CPU backend's bit for bit.
//
// It is how the code paths the commands run (llc, llc --grid, calibrate,
// sweep, eval, the pipeline's shards) are checked for host-only access to
// backend memory without a GPU (tests/cuda/device_paths_test.cpp).
#pragma once

#include <cstddef>
#include <map>
#include <memory>

#include "backend/backend.h"
#include "backend/cpu_backend.h"

namespace llcpress::backend::testing {

class FakeDeviceBackend final : public Backend {
 public:
  FakeDeviceBackend();
  ~FakeDeviceBackend() override;

  std::string name() const override { return "fake-device"; }
  MemorySpace memory_space() const override { return MemorySpace::Device; }
  std::string description() const override { return "fake-device (the CPU backend's ops on poisoned host memory)"; }

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

  // Ops run so far (a test can check that work really went through here).
  std::int64_t ops() const { return ops_; }

 private:
  // Opens every allocation for the duration of one op (nesting-safe).
  class OpenScope {
   public:
    explicit OpenScope(FakeDeviceBackend& backend);
    ~OpenScope();

   private:
    FakeDeviceBackend& backend_;
  };
  void protect_all(bool open);

  CpuBackend cpu_;
  std::map<void*, std::size_t> allocations_;  // start → mapped bytes (whole pages)
  int open_depth_ = 0;
  std::int64_t ops_ = 0;
};

}  // namespace llcpress::backend::testing
