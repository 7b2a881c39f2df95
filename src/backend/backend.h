// The backend seam (DESIGN.md, "Backends"; docs/backends.md): everything the
// model, the samplers and the compression methods compute on a buffer goes
// through a Backend&, one virtual call per op (never per element). The
// control flow (GptNeox, Sampler, the methods) is written once; a backend
// supplies memory and ops.
//
// Conventions every op follows (those of src/model/ops, whose CPU functions
// the CpuBackend calls one to one):
//   * names `<op>_forward` / `<op>_backward`, arguments in the order
//     OUTPUTS, then INPUTS, then SIZES, then settings;
//   * every float* / int32_t* argument is a pointer into a Buffer of THIS
//     backend (Buffer::data(), possibly offset), unless the comment says
//     "host"; shapes are given as (rows, cols) row-major in the comments;
//   * WRITTEN means the old contents are not read; ACCUMULATED means +=;
//   * ops are stream-ordered: a backend may run them asynchronously; only the
//     calls that return a host value (cross_entropy_forward, sampler_step,
//     download) and synchronize() wait for the work before them.
//
// A backend that cannot do an op throws UnsupportedOp (tests turn it into a
// GTEST_SKIP with the message, never a silent pass).
//
// This header is C++20 (std::span). CUDA sources compiled as C++17 include
// only backend/elementwise.h and their own launcher headers; the CudaBackend
// class that derives from Backend lives in a .cpp file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend/buffer.h"
#include "backend/sampler_step.h"
#include "model/ops/gelu.h"  // GeluKind
#include "model/ops/gemm.h"  // Transpose

namespace llcpress::backend {

using ops::GeluKind;
using ops::Transpose;

// Thrown by an op a backend does not implement (yet). what() names the
// backend and the op.
class UnsupportedOp : public std::runtime_error {
 public:
  UnsupportedOp(const std::string& backend, const std::string& op);
};

class Backend {
 public:
  virtual ~Backend() = default;
  Backend() = default;
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  // ------------------------------------------------------------ identity
  // Registry name: "cpu", "cuda".
  virtual std::string name() const = 0;
  // Where this backend's buffers live.
  virtual MemorySpace memory_space() const = 0;
  // One line for logs and provenance: "cpu (2 OpenMP threads, OpenBLAS)".
  virtual std::string description() const = 0;

  // ------------------------------------------------------------ memory
  // `bytes` of uninitialised memory in memory_space(), aligned to 64 bytes
  // (the CPU ops' reductions depend on alignment: model/aligned_allocator.h).
  // Throws std::bad_alloc or a backend error when it cannot. Use Buffer<T>,
  // which calls these two, rather than calling them directly.
  virtual void* allocate(std::size_t bytes) = 0;
  virtual void deallocate(void* memory, std::size_t bytes) noexcept = 0;

  // destination (this backend) ← host source, `bytes` bytes. Synchronous:
  // the host buffer may be reused when it returns.
  virtual void upload(void* destination, const void* host_source, std::size_t bytes) = 0;
  // host destination ← source (this backend). Synchronous (waits for the
  // ops before it).
  virtual void download(void* host_destination, const void* source, std::size_t bytes) = 0;
  // destination ← source, both this backend's, `count` floats; may not overlap.
  virtual void copy(float* destination, const float* source, std::int64_t count) = 0;
  // buffer ← 0, `count` floats.
  virtual void zero(float* buffer, std::int64_t count) = 0;
  // Waits until every op issued so far has finished (a no-op on the CPU).
  virtual void synchronize() = 0;

  // ------------------------------------------------------------ generic math
  // c: (m, n), row stride ldc, WRITTEN when beta = 0, else scaled by beta and
  // ACCUMULATED; op(a): (m, k), a stored (m, k) or, transposed, (k, m) with
  // row stride lda; op(b): (k, n), b stored (k, n) or (n, k), row stride ldb.
  // C = alpha · op(A) · op(B) + beta · C (ops::gemm).
  virtual void gemm(float* c, const float* a, const float* b, std::int64_t m, std::int64_t n, std::int64_t k,
                    Transpose transpose_a, Transpose transpose_b, float alpha, float beta, std::int64_t lda,
                    std::int64_t ldb, std::int64_t ldc) = 0;
  // destination: (count), ACCUMULATED: destination[i] += weight · source[i].
  // source: (count). (NeoxLossModel sums chunk gradients of an oversized batch.)
  virtual void add_scaled(float* destination, const float* source, float weight, std::int64_t count) = 0;

  // ------------------------------------------------------------ model ops
  // Shapes use rows = batch · seq_len token rows, hidden H, vocab V.

  // output: (rows, hidden), WRITTEN, row r = table row tokens[r];
  // tokens: (rows) int32, each in [0, vocab) (validated on the host before
  // upload: GptNeox::forward); table: (vocab, hidden).
  virtual void embedding_forward(float* output, const std::int32_t* tokens, const float* table, std::int64_t rows,
                                 int hidden) = 0;
  // d_table: (vocab, hidden), ACCUMULATED (rows never looked up untouched;
  // the caller zeroes it first); d_output: (rows, hidden); tokens: (rows).
  virtual void embedding_backward(float* d_table, const float* d_output, const std::int32_t* tokens, std::int64_t rows,
                                  int hidden) = 0;

  // output: (rows, hidden), WRITTEN; mean, rstd: (rows), WRITTEN (kept for
  // the backward pass); input: (rows, hidden); weight, bias: (hidden).
  // torch.nn.LayerNorm with biased variance and rstd = 1/√(var + eps).
  virtual void layernorm_forward(float* output, float* mean, float* rstd, const float* input, const float* weight,
                                 const float* bias, std::int64_t rows, int hidden, float eps) = 0;
  // d_input: (rows, hidden), ACCUMULATED; d_weight, d_bias: (hidden),
  // WRITTEN; d_output: (rows, hidden); input, mean, rstd, weight as forward.
  virtual void layernorm_backward(float* d_input, float* d_weight, float* d_bias, const float* d_output,
                                  const float* input, const float* mean, const float* rstd, const float* weight,
                                  std::int64_t rows, int hidden) = 0;

  // The residual add fused with the layer norm of its result (cuda-kernels3).
  // sum: (rows, hidden), WRITTEN = input + residual (may alias either);
  // output: (rows, hidden), WRITTEN = layer norm of sum; mean, rstd: (rows),
  // WRITTEN, sum's statistics; input, residual: (rows, hidden); weight, bias:
  // (hidden). Not called by GptNeox (docs/cuda-kernels.md says why).
  virtual void residual_layernorm_forward(float* sum, float* output, float* mean, float* rstd, const float* input,
                                          const float* residual, const float* weight, const float* bias,
                                          std::int64_t rows, int hidden, float eps) = 0;
  // d_sum: (rows, hidden), ACCUMULATED, the gradient of input and of residual
  // alike; d_weight, d_bias: (hidden), WRITTEN; d_output: (rows, hidden);
  // sum, mean, rstd, weight as forward. (The add's backward is the identity:
  // this is layernorm_backward of sum.)
  virtual void residual_layernorm_backward(float* d_sum, float* d_weight, float* d_bias, const float* d_output,
                                           const float* sum, const float* mean, const float* rstd, const float* weight,
                                           std::int64_t rows, int hidden) = 0;

  // output: (rows, out_features), WRITTEN, or ACCUMULATED when `accumulate`;
  // input: (rows, in_features); weight: (out_features, in_features);
  // bias: (out_features) or nullptr. y = x·Wᵀ + b.
  virtual void linear_forward(float* output, const float* input, const float* weight, const float* bias,
                              std::int64_t rows, int in_features, int out_features, bool accumulate) = 0;
  // d_input: (rows, in_features), WRITTEN (nullptr: skip); d_weight:
  // (out_features, in_features), WRITTEN; d_bias: (out_features), WRITTEN
  // (nullptr: no bias); d_output: (rows, out_features); input, weight as forward.
  virtual void linear_backward(float* d_input, float* d_weight, float* d_bias, const float* d_output,
                               const float* input, const float* weight, std::int64_t rows, int in_features,
                               int out_features) = 0;

  // qkv: (batch · seq_len, 3 · heads · head_dim), IN PLACE, per-head
  // interleaved q, k, v; rotate-half rotary on the first rotary_dims features
  // of q and k; token t has position t. cos_table, sin_table: (≥ seq_len,
  // rotary_dims / 2), this backend's memory (from ops::rotary_tables on the
  // host, uploaded once by the model).
  virtual void rotary_forward(float* qkv, const float* cos_table, const float* sin_table, std::int64_t batch,
                              int seq_len, int heads, int head_dim, int rotary_dims) = 0;
  // d_qkv: as qkv, IN PLACE (the transposed rotation).
  virtual void rotary_backward(float* d_qkv, const float* cos_table, const float* sin_table, std::int64_t batch,
                               int seq_len, int heads, int head_dim, int rotary_dims) = 0;

  // Sizes whatever scratch attention needs for sequences of up to
  // max_seq_len tokens and heads of head_dim (the CPU backend's per-thread
  // AttentionWorkspace). Called by the model's constructor; calling it again
  // with smaller sizes allocates nothing.
  virtual void reserve_attention(int max_seq_len, int head_dim) = 0;
  // output: (batch · seq_len, heads · head_dim), WRITTEN, heads concatenated;
  // row_log_sum_exp: (batch, heads, seq_len), WRITTEN (for the backward pass);
  // qkv: (batch · seq_len, 3 · heads · head_dim) after rotary. Causal softmax
  // attention with scores q·kᵀ/√head_dim. seq_len ≤ the reserved max_seq_len.
  virtual void attention_forward(float* output, float* row_log_sum_exp, const float* qkv, std::int64_t batch,
                                 int seq_len, int heads, int head_dim) = 0;
  // d_qkv: (batch · seq_len, 3 · heads · head_dim), WRITTEN (q, k and v
  // parts); d_output: (batch · seq_len, heads · head_dim); output,
  // row_log_sum_exp, qkv as forward.
  virtual void attention_backward(float* d_qkv, const float* d_output, const float* output,
                                  const float* row_log_sum_exp, const float* qkv, std::int64_t batch, int seq_len,
                                  int heads, int head_dim) = 0;

  // output, input: (count), may alias; exact erf or tanh GELU.
  virtual void gelu_forward(float* output, const float* input, std::int64_t count, GeluKind kind) = 0;
  // d_input, d_output, input: (count); d_input may alias d_output.
  virtual void gelu_backward(float* d_input, const float* d_output, const float* input, std::int64_t count,
                             GeluKind kind) = 0;

  // losses: (rows), WRITTEN per-row loss logsumexp(logits_r) − logits_r[t_r];
  // log_sum_exp: (rows), WRITTEN; logits: (rows, vocab); targets: (rows)
  // int32 in [0, vocab). Returns (to the host, so it waits) the mean of
  // `losses`, summed in double in row order.
  virtual double cross_entropy_forward(float* losses, float* log_sum_exp, const float* logits,
                                       const std::int32_t* targets, std::int64_t rows, int vocab) = 0;
  // d_logits: (rows, vocab), WRITTEN = d_loss·(softmax − onehot); may alias
  // logits (the model does it in place).
  virtual void cross_entropy_backward(float* d_logits, const float* logits, const float* log_sum_exp,
                                      const std::int32_t* targets, float d_loss, std::int64_t rows, int vocab) = 0;

  // ------------------------------------------------------------ sampler
  // One SGLD / pSGLD step (REFERENCE §3; the element update is
  // sgld_update_element in backend/elementwise.h) over the elements of
  // `chunks` (host memory, in order; together they are the sampled ranges):
  //   parameters: (total) flat w, updated IN PLACE (unless !scalars.apply);
  //   square_avg: (sampled) pSGLD's V, compact, IN PLACE; nullptr for SGLD;
  //   displacement: (sampled) MALA δ, compact, read for close_mala, WRITTEN for
  //     open_mala; nullptr when neither;
  //   gradient: (total) the mean minibatch-loss gradient at `parameters`;
  //   center: (total) w*, indexed like `parameters` (the model's one copy).
  // The normal of flat element e is normal e of Philox(scalars.seed,
  // scalars.stream) by the block transform of elementwise.h. Returns the
  // sums, each chunk's partial added in chunk order.
  virtual StepSums sampler_step(float* parameters, float* square_avg, float* displacement, const float* gradient,
                                const float* center, std::span<const SamplerChunk> chunks,
                                const SamplerStepScalars& scalars) = 0;

  // ------------------------------------------------------------ compression
  // out: (rows, cols), WRITTEN: row r of `in` quantized to `levels` ≥ 2
  // uniform levels on [−clips[r], clips[r]] (quantize_value in
  // elementwise.h); in: (rows, cols), may alias out; clips: (rows), HOST.
  virtual void quantize_rows_forward(float* out, const float* in, const float* host_clips, std::int64_t rows,
                                     std::int64_t cols, int levels) = 0;
  // out: (count), WRITTEN = in + sigma · ξ with ξ_i = core/rng.h's
  // philox_normal_at(seed, stream, i) (Random123 Box–Muller); in: (count),
  // may alias out.
  virtual void noise_forward(float* out, const float* in, float sigma, std::uint64_t seed, std::uint64_t stream,
                             std::int64_t count) = 0;
  // buffer[indices[i]] = 0 for i < count; indices: (count), HOST.
  virtual void zero_elements(float* buffer, const std::size_t* host_indices, std::int64_t count) = 0;
  // matrix: (rows, cols), columns [first, first + count) set to 0.
  virtual void zero_columns(float* matrix, std::int64_t rows, std::int64_t cols, std::int64_t first,
                            std::int64_t count) = 0;

  // ------------------------------------------------------------ optional ops
  // A backend may lack these (the default throws UnsupportedOp); callers then
  // take their host path. (cuda-kernels3)
  //
  // The SVD of the "svd" compression method, once per matrix: left_scaled:
  // (rows, r), WRITTEN, column i = U_i·s_i; singular_values: (r), WRITTEN,
  // descending; right: (cols, r), WRITTEN, column i = V_i; matrix: (rows,
  // cols); r = min(rows, cols). The best rank-k approximation is then
  // gemm(out, left_scaled, right, rows, cols, k, NoTrans, Trans, 1, 0, r, r,
  // cols). The CPU's twin is the method's host path (compress/svd.h, Eigen in
  // double), which keeps its factors in host memory.
  virtual void svd_factorize_forward(float* left_scaled, float* singular_values, float* right, const float* matrix,
                                     std::int64_t rows, std::int64_t cols) {
    (void)left_scaled, (void)singular_values, (void)right, (void)matrix, (void)rows, (void)cols;
    throw UnsupportedOp(name(), "svd_factorize_forward");
  }
};

// ---------------------------------------------------------------- registry
// How a command's backend is made: the `device` and `precision` keys of the
// common option table (pipeline/task_options.cpp, docs/gpu.md).
struct ComputeSettings {
  int device = -1;                 // GPU ordinal in this process; -1: the one select_device chose
  std::string precision = "fp32";  // GEMM compute precision: fp32 | tf32 | bf16 (parameters stay fp32)
};

// Every backend this build knows, by name. "cpu" is always registered; other
// backends register themselves (LLCPRESS_REGISTER_BACKEND in one of their
// .cpp files, their library linked whole-archive so the registration runs).
// Tests iterate over registered_backends() (tests/backend/backend_test.h).
struct BackendEntry {
  std::string name;
  // Empty when this process can use the backend; otherwise why not
  // ("no CUDA device visible"), for logs and test skips.
  std::function<std::string()> unavailable_reason;
  std::function<std::unique_ptr<Backend>()> make;
  // The backend for computing with `settings` (device ordinal, GEMM
  // precision); empty for backends that take no settings (the CPU's).
  std::function<std::unique_ptr<Backend>(const ComputeSettings&)> make_for_compute;
};

// Adds (or replaces, by name) an entry. Returns true, for static registrars.
bool register_backend(BackendEntry entry);
// Entries in registration order, "cpu" first.
std::vector<BackendEntry> registered_backends();
std::vector<std::string> backend_names();
// A new backend by name; ConfigError listing the names when unknown, and the
// unavailable reason when it cannot run here.
std::unique_ptr<Backend> make_backend(const std::string& name);
// The same with settings; a backend without make_for_compute accepts only
// the defaults (precision fp32: the CPU computes in fp32), ConfigError else.
std::unique_ptr<Backend> make_backend(const std::string& name, const ComputeSettings& settings);

// The backend the commands compute on (llc, calibrate, sweep, eval and the
// pipeline's shards build their models on it): default_backend() until
// select_compute_backend or set_compute_backend chose another. Process-wide,
// like the device (one GPU per MPI rank).
Backend& compute_backend();
// Makes `name` with `settings` the compute backend ("cpu": default_backend()).
// Before any work: errors (no GPU, a bad precision) surface here.
Backend& select_compute_backend(const std::string& name, const ComputeSettings& settings);
// Installs `backend` as the compute backend (tests: a fake device); nullptr
// goes back to default_backend(). Backends installed here live until the
// process ends (never destroyed at exit: a GPU context must not be torn down
// after the CUDA runtime has unloaded), so models built on one stay valid.
void set_compute_backend(std::unique_ptr<Backend> backend);

// The process-wide CPU backend: what GptNeox, the samplers and the methods
// use when the caller names none. Serves one caller at a time, like a model.
Backend& default_backend();

#define LLCPRESS_REGISTER_BACKEND_CONCAT2(a, b) a##b
#define LLCPRESS_REGISTER_BACKEND_CONCAT(a, b) LLCPRESS_REGISTER_BACKEND_CONCAT2(a, b)
// LLCPRESS_REGISTER_BACKEND(entry_expression) at namespace scope in a .cpp.
#define LLCPRESS_REGISTER_BACKEND(...)                                                                          \
  [[maybe_unused]] static const bool LLCPRESS_REGISTER_BACKEND_CONCAT(llcpress_backend_registered_, __LINE__) = \
      ::llcpress::backend::register_backend(__VA_ARGS__)

// ---------------------------------------------------------------- Buffer<T> members

template <typename T>
std::span<T> Buffer<T>::host_span() {
  if (space() != MemorySpace::Host) throw UnsupportedOp(backend()->name(), "host_span of a device buffer");
  return {data(), size_};
}
template <typename T>
std::span<const T> Buffer<T>::host_span() const {
  if (space() != MemorySpace::Host) throw UnsupportedOp(backend()->name(), "host_span of a device buffer");
  return {data(), size_};
}
template <typename T>
void Buffer<T>::upload(std::span<const T> host) {
  if (host.size() != size_) throw std::invalid_argument("Buffer::upload: host span size differs from the buffer");
  if (size_ > 0) backend()->upload(data(), host.data(), bytes());
}
template <typename T>
void Buffer<T>::download(std::span<T> host) const {
  if (host.size() != size_) throw std::invalid_argument("Buffer::download: host span size differs from the buffer");
  if (size_ > 0) backend()->download(host.data(), data(), bytes());
}

}  // namespace llcpress::backend
