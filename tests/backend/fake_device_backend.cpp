#include "fake_device_backend.h"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <new>

#include "core/check.h"

namespace llcpress::backend::testing {

namespace {

std::size_t page_rounded(std::size_t bytes) {
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return (bytes + page - 1) / page * page;
}

// A SIGSEGV while a fake-device buffer is poisoned is almost surely host code
// reading backend memory: say so before the default action (core dump, the
// test binary's failure) so the reader looks for the host access, not a bug
// in an op.
void on_segfault(int) {
  static const char message[] =
      "\n*** SIGSEGV under the fake-device backend: host code dereferenced backend (\"device\") memory; use "
      "read_parameters/write_parameters, download/upload or a backend op (run under gdb for the line) ***\n";
  [[maybe_unused]] const ssize_t written = write(STDERR_FILENO, message, sizeof(message) - 1);
  signal(SIGSEGV, SIG_DFL);
  raise(SIGSEGV);
}

}  // namespace

FakeDeviceBackend::FakeDeviceBackend() { signal(SIGSEGV, on_segfault); }

FakeDeviceBackend::~FakeDeviceBackend() {
  for (auto& [start, bytes] : allocations_) munmap(start, bytes);
}

FakeDeviceBackend::OpenScope::OpenScope(FakeDeviceBackend& backend) : backend_(backend) {
  if (backend_.open_depth_++ == 0) backend_.protect_all(true);
  ++backend_.ops_;
}
FakeDeviceBackend::OpenScope::~OpenScope() {
  if (--backend_.open_depth_ == 0) backend_.protect_all(false);
}

void FakeDeviceBackend::protect_all(bool open) {
  for (auto& [start, bytes] : allocations_)
    LLC_REQUIRE(mprotect(start, bytes, open ? PROT_READ | PROT_WRITE : PROT_NONE) == 0, "mprotect failed: {}",
                std::strerror(errno));
}

void* FakeDeviceBackend::allocate(std::size_t bytes) {
  if (bytes == 0) return nullptr;
  const std::size_t mapped = page_rounded(bytes);
  // Page-aligned, so 64-byte aligned like the CPU backend's memory (the CPU ops' reductions depend on it).
  void* memory =
      mmap(nullptr, mapped, open_depth_ > 0 ? PROT_READ | PROT_WRITE : PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) throw std::bad_alloc();
  allocations_[memory] = mapped;
  return memory;
}

void FakeDeviceBackend::deallocate(void* memory, std::size_t) noexcept {
  auto found = allocations_.find(memory);
  if (found == allocations_.end()) return;
  munmap(found->first, found->second);
  allocations_.erase(found);
}

void FakeDeviceBackend::upload(void* destination, const void* host_source, std::size_t bytes) {
  OpenScope open(*this);
  cpu_.upload(destination, host_source, bytes);
}
void FakeDeviceBackend::download(void* host_destination, const void* source, std::size_t bytes) {
  OpenScope open(*this);
  cpu_.download(host_destination, source, bytes);
}
void FakeDeviceBackend::copy(float* destination, const float* source, std::int64_t count) {
  OpenScope open(*this);
  cpu_.copy(destination, source, count);
}
void FakeDeviceBackend::zero(float* buffer, std::int64_t count) {
  OpenScope open(*this);
  cpu_.zero(buffer, count);
}
void FakeDeviceBackend::gemm(float* c, const float* a, const float* b, std::int64_t m, std::int64_t n, std::int64_t k,
                             Transpose transpose_a, Transpose transpose_b, float alpha, float beta, std::int64_t lda,
                             std::int64_t ldb, std::int64_t ldc) {
  OpenScope open(*this);
  cpu_.gemm(c, a, b, m, n, k, transpose_a, transpose_b, alpha, beta, lda, ldb, ldc);
}
void FakeDeviceBackend::add_scaled(float* destination, const float* source, float weight, std::int64_t count) {
  OpenScope open(*this);
  cpu_.add_scaled(destination, source, weight, count);
}
void FakeDeviceBackend::embedding_forward(float* output, const std::int32_t* tokens, const float* table,
                                          std::int64_t rows, int hidden) {
  OpenScope open(*this);
  cpu_.embedding_forward(output, tokens, table, rows, hidden);
}
void FakeDeviceBackend::embedding_backward(float* d_table, const float* d_output, const std::int32_t* tokens,
                                           std::int64_t rows, int hidden) {
  OpenScope open(*this);
  cpu_.embedding_backward(d_table, d_output, tokens, rows, hidden);
}
void FakeDeviceBackend::layernorm_forward(float* output, float* mean, float* rstd, const float* input,
                                          const float* weight, const float* bias, std::int64_t rows, int hidden,
                                          float eps) {
  OpenScope open(*this);
  cpu_.layernorm_forward(output, mean, rstd, input, weight, bias, rows, hidden, eps);
}
void FakeDeviceBackend::layernorm_backward(float* d_input, float* d_weight, float* d_bias, const float* d_output,
                                           const float* input, const float* mean, const float* rstd,
                                           const float* weight, std::int64_t rows, int hidden) {
  OpenScope open(*this);
  cpu_.layernorm_backward(d_input, d_weight, d_bias, d_output, input, mean, rstd, weight, rows, hidden);
}
void FakeDeviceBackend::residual_layernorm_forward(float* sum, float* output, float* mean, float* rstd,
                                                   const float* input, const float* residual, const float* weight,
                                                   const float* bias, std::int64_t rows, int hidden, float eps) {
  OpenScope open(*this);
  cpu_.residual_layernorm_forward(sum, output, mean, rstd, input, residual, weight, bias, rows, hidden, eps);
}
void FakeDeviceBackend::residual_layernorm_backward(float* d_sum, float* d_weight, float* d_bias, const float* d_output,
                                                    const float* sum, const float* mean, const float* rstd,
                                                    const float* weight, std::int64_t rows, int hidden) {
  OpenScope open(*this);
  cpu_.residual_layernorm_backward(d_sum, d_weight, d_bias, d_output, sum, mean, rstd, weight, rows, hidden);
}
void FakeDeviceBackend::linear_forward(float* output, const float* input, const float* weight, const float* bias,
                                       std::int64_t rows, int in_features, int out_features, bool accumulate) {
  OpenScope open(*this);
  cpu_.linear_forward(output, input, weight, bias, rows, in_features, out_features, accumulate);
}
void FakeDeviceBackend::linear_backward(float* d_input, float* d_weight, float* d_bias, const float* d_output,
                                        const float* input, const float* weight, std::int64_t rows, int in_features,
                                        int out_features) {
  OpenScope open(*this);
  cpu_.linear_backward(d_input, d_weight, d_bias, d_output, input, weight, rows, in_features, out_features);
}
void FakeDeviceBackend::rotary_forward(float* qkv, const float* cos_table, const float* sin_table, std::int64_t batch,
                                       int seq_len, int heads, int head_dim, int rotary_dims) {
  OpenScope open(*this);
  cpu_.rotary_forward(qkv, cos_table, sin_table, batch, seq_len, heads, head_dim, rotary_dims);
}
void FakeDeviceBackend::rotary_backward(float* d_qkv, const float* cos_table, const float* sin_table,
                                        std::int64_t batch, int seq_len, int heads, int head_dim, int rotary_dims) {
  OpenScope open(*this);
  cpu_.rotary_backward(d_qkv, cos_table, sin_table, batch, seq_len, heads, head_dim, rotary_dims);
}
void FakeDeviceBackend::reserve_attention(int max_seq_len, int head_dim) {
  OpenScope open(*this);
  cpu_.reserve_attention(max_seq_len, head_dim);
}
void FakeDeviceBackend::attention_forward(float* output, float* row_log_sum_exp, const float* qkv, std::int64_t batch,
                                          int seq_len, int heads, int head_dim) {
  OpenScope open(*this);
  cpu_.attention_forward(output, row_log_sum_exp, qkv, batch, seq_len, heads, head_dim);
}
void FakeDeviceBackend::attention_backward(float* d_qkv, const float* d_output, const float* output,
                                           const float* row_log_sum_exp, const float* qkv, std::int64_t batch,
                                           int seq_len, int heads, int head_dim) {
  OpenScope open(*this);
  cpu_.attention_backward(d_qkv, d_output, output, row_log_sum_exp, qkv, batch, seq_len, heads, head_dim);
}
void FakeDeviceBackend::gelu_forward(float* output, const float* input, std::int64_t count, GeluKind kind) {
  OpenScope open(*this);
  cpu_.gelu_forward(output, input, count, kind);
}
void FakeDeviceBackend::gelu_backward(float* d_input, const float* d_output, const float* input, std::int64_t count,
                                      GeluKind kind) {
  OpenScope open(*this);
  cpu_.gelu_backward(d_input, d_output, input, count, kind);
}
double FakeDeviceBackend::cross_entropy_forward(float* losses, float* log_sum_exp, const float* logits,
                                                const std::int32_t* targets, std::int64_t rows, int vocab) {
  OpenScope open(*this);
  return cpu_.cross_entropy_forward(losses, log_sum_exp, logits, targets, rows, vocab);
}
void FakeDeviceBackend::cross_entropy_backward(float* d_logits, const float* logits, const float* log_sum_exp,
                                               const std::int32_t* targets, float d_loss, std::int64_t rows,
                                               int vocab) {
  OpenScope open(*this);
  cpu_.cross_entropy_backward(d_logits, logits, log_sum_exp, targets, d_loss, rows, vocab);
}
StepSums FakeDeviceBackend::sampler_step(float* parameters, float* square_avg, float* displacement,
                                         const float* gradient, const float* center,
                                         std::span<const SamplerChunk> chunks, const SamplerStepScalars& scalars) {
  OpenScope open(*this);
  return cpu_.sampler_step(parameters, square_avg, displacement, gradient, center, chunks, scalars);
}
void FakeDeviceBackend::quantize_rows_forward(float* out, const float* in, const float* host_clips, std::int64_t rows,
                                              std::int64_t cols, int levels) {
  OpenScope open(*this);
  cpu_.quantize_rows_forward(out, in, host_clips, rows, cols, levels);
}
void FakeDeviceBackend::noise_forward(float* out, const float* in, float sigma, std::uint64_t seed,
                                      std::uint64_t stream, std::int64_t count) {
  OpenScope open(*this);
  cpu_.noise_forward(out, in, sigma, seed, stream, count);
}
void FakeDeviceBackend::zero_elements(float* buffer, const std::size_t* host_indices, std::int64_t count) {
  OpenScope open(*this);
  cpu_.zero_elements(buffer, host_indices, count);
}
void FakeDeviceBackend::zero_columns(float* matrix, std::int64_t rows, std::int64_t cols, std::int64_t first,
                                     std::int64_t count) {
  OpenScope open(*this);
  cpu_.zero_columns(matrix, rows, cols, first, count);
}

}  // namespace llcpress::backend::testing
