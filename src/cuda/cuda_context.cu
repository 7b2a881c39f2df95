#include <fmt/format.h>

#include <algorithm>

#include "core/check.h"
#include "core/device.h"
#include "cuda/check_cuda.h"
#include "cuda/cublaslt_api.h"
#include "cuda/cuda_context.h"
#include "cuda/gemm.h"

namespace llcpress::cuda {

Precision parse_precision(const std::string& text, const std::string& where) {
  if (text == "fp32") return Precision::Fp32;
  if (text == "tf32") return Precision::Tf32;
  if (text == "bf16") return Precision::Bf16;
  LLC_THROW(ConfigError, where, "use fp32 (exact parity with the CPU), tf32 or bf16 (faster, fp32 accumulation)",
            "unknown precision '{}'", text);
}

const char* precision_name(Precision precision) {
  switch (precision) {
    case Precision::Fp32:
      return "fp32";
    case Precision::Tf32:
      return "tf32";
    case Precision::Bf16:
      return "bf16";
  }
  return "?";
}

CudaContext::CudaContext(int device, Precision precision) : device_(device), precision_(precision) {
  LLC_CHECK_CUDA(cudaSetDevice(device));
  // Non-blocking: the legacy default stream (which other libraries may use) does not serialise with ours.
  LLC_CHECK_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  // The first context of the process loads cuBLASLt (cuda/cublaslt_api.h).
  LLC_CHECK_CUBLASLT(cublaslt().create(&blaslt_));
  LLC_CHECK_CUDA(cudaMalloc(&workspace_, kWorkspaceBytes));
  // cuBLASLt is loaded now: provenance records the library that runs, not the headers it was built with.
  DeviceInfo active = active_device();
  if (active.kind == DeviceKind::Cuda && active.ordinal == device) {
    const std::size_t version = cublaslt().get_version();  // major·10000 + minor·100 + patch
    active.cublas = fmt::format("{}.{}.{}", version / 10000, version / 100 % 100, version % 100);
    set_active_device(active);
  }
}

CudaContext::~CudaContext() {
  // Destructors do not throw: report nothing, release what exists.
  cudaSetDevice(device_);
  if (stream_) cudaStreamSynchronize(stream_);
  for (auto& [weight, cached] : bf16_weights_) cudaFree(cached.bf16);
  for (void* buffer : scratch_) cudaFree(buffer);
  cudaFree(workspace_);
  if (blaslt_) cublaslt().destroy(blaslt_);
  if (stream_) cudaStreamDestroy(stream_);
}

void CudaContext::synchronize() const { LLC_CHECK_CUDA(cudaStreamSynchronize(stream_)); }

void* CudaContext::scratch(int slot, std::size_t bytes) {
  LLC_REQUIRE(slot >= 0 && slot < kScratchSlots, "scratch slot {}", slot);
  if (bytes > scratch_bytes_[slot]) {
    // Grow by half again, so a sequence of slightly larger requests does not reallocate each time.
    const std::size_t grown = std::max(bytes, scratch_bytes_[slot] + scratch_bytes_[slot] / 2);
    // Work queued on the stream may still read the old buffer.
    LLC_CHECK_CUDA(cudaStreamSynchronize(stream_));
    LLC_CHECK_CUDA(cudaFree(scratch_[slot]));
    scratch_[slot] = nullptr;
    scratch_bytes_[slot] = 0;
    LLC_CHECK_CUDA(cudaMalloc(&scratch_[slot], grown));
    scratch_bytes_[slot] = grown;
  }
  return scratch_[slot];
}

const __nv_bfloat16* CudaContext::bf16_weight(const float* weight, std::int64_t count) {
  CachedWeight& cached = bf16_weights_[weight];
  if (cached.count != count) {
    LLC_CHECK_CUDA(cudaStreamSynchronize(stream_));
    LLC_CHECK_CUDA(cudaFree(cached.bf16));
    cached = CachedWeight{};
    LLC_CHECK_CUDA(cudaMalloc(&cached.bf16, count * sizeof(__nv_bfloat16)));
    cached.count = count;
  }
  if (cached.generation != weights_generation_) {
    cast_to_bf16(cached.bf16, weight, count, stream_);
    cached.generation = weights_generation_;
    ++weight_casts_;
  }
  return cached.bf16;
}

}  // namespace llcpress::cuda
