// What every CUDA op of one model needs and nobody else should own: the GPU
// it runs on, one stream (all of a model's work is ordered on it, so ops need
// no events between them), one cuBLASLt handle with its workspace, scratch
// for operands cast to bf16, and the cache of bf16 weight copies.
//
// One CudaContext per model (DESIGN.md: one stream per model). Not
// thread-safe: one caller at a time, like GptNeox itself.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>

#include "cuda/cublaslt_api.h"

namespace llcpress::cuda {

// The compute precision of the GEMMs. Parameters and activations stay fp32 in
// every mode; only what the tensor cores multiply changes:
//   fp32: IEEE single precision (CUBLAS_COMPUTE_32F), no tensor-core rounding;
//   tf32: operands rounded to TF32 (10 explicit mantissa bits) by the tensor
//         cores, fp32 accumulation (CUBLAS_COMPUTE_32F_FAST_TF32);
//   bf16: operands cast to bf16 (7 mantissa bits, round to nearest even) by
//         our cast kernel, fp32 accumulation and fp32 output.
enum class Precision : std::uint8_t { Fp32, Tf32, Bf16 };

// "fp32" | "tf32" | "bf16" (ConfigError naming `where` otherwise).
Precision parse_precision(const std::string& text, const std::string& where);
const char* precision_name(Precision precision);

class CudaContext {
 public:
  // Makes `device` current for this thread, creates the stream, the cuBLASLt
  // handle and the workspace. Throws BackendError when the device is absent.
  explicit CudaContext(int device, Precision precision = Precision::Fp32);
  ~CudaContext();
  CudaContext(const CudaContext&) = delete;
  CudaContext& operator=(const CudaContext&) = delete;

  int device() const { return device_; }
  Precision precision() const { return precision_; }
  void set_precision(Precision precision) { precision_ = precision; }

  // The stream every op of this model is queued on.
  cudaStream_t stream() const { return stream_; }
  // The cuBLASLt handle and its workspace.
  cublasLtHandle_t blaslt() const { return blaslt_; }
  void* workspace() const { return workspace_; }
  std::size_t workspace_bytes() const { return kWorkspaceBytes; }

  // Waits until every op queued on the stream has finished.
  void synchronize() const;

  // Device scratch of at least `bytes`, 256-byte aligned, valid until the
  // next call with the same slot (grown, never shrunk). Slots 0 and 1 hold a
  // GEMM's two bf16 operand copies, slot 2 the bias-gradient partial sums.
  void* scratch(int slot, std::size_t bytes);
  static constexpr int kScratchSlots = 3;

  // BF16 mode: the bf16 copy of a weight tensor (count fp32 values at
  // `weight`), cast on first use after mark_weights_changed() and reused by
  // every later GEMM of the same step (a linear layer reads its weight in the
  // forward pass and again for d_input). Valid for the context's lifetime.
  const __nv_bfloat16* bf16_weight(const float* weight, std::int64_t count);
  // The parameters moved (an SGLD step, a compression method, a load): every
  // cached bf16 copy is stale. Costs nothing; the casts happen lazily.
  void mark_weights_changed() { ++weights_generation_; }
  std::uint64_t weights_generation() const { return weights_generation_; }
  // Number of weight casts run so far (tests check the once-per-step claim).
  std::int64_t weight_casts() const { return weight_casts_; }

 private:
  // 32 MiB: what cuBLASLt's heuristics ask for at most on Hopper for the
  // largest split-K algorithms (its documentation recommends 32 MiB on sm_90).
  static constexpr std::size_t kWorkspaceBytes = 32u << 20;

  struct CachedWeight {
    __nv_bfloat16* bf16 = nullptr;  // (count)
    std::int64_t count = 0;
    std::uint64_t generation = 0;
  };

  int device_ = 0;
  Precision precision_ = Precision::Fp32;
  cudaStream_t stream_ = nullptr;
  cublasLtHandle_t blaslt_ = nullptr;
  void* workspace_ = nullptr;
  void* scratch_[kScratchSlots] = {};
  std::size_t scratch_bytes_[kScratchSlots] = {};
  std::unordered_map<const float*, CachedWeight> bf16_weights_;
  std::uint64_t weights_generation_ = 1;  // cached copies start at 0: stale
  std::int64_t weight_casts_ = 0;
};

}  // namespace llcpress::cuda
