// What every kernel source of src/cuda includes: the CUDA runtime (or, when
// LLCPRESS_CUDA_EMULATION is defined, the CPU emulation of it, so the same
// source also compiles as host C++), the launch macro, dynamic shared memory,
// and the stream the op launchers run on.
//
//   LLC_LAUNCH(grid, block, shared_bytes, stream, kernel)(arguments...);
//   LLC_CHECK_LAUNCH();
//
// is `kernel<<<grid, block, shared_bytes, stream>>>(arguments...)` under nvcc
// and an emulated launch otherwise. The kernel comes last so that a template
// kernel's argument list may contain commas.
#pragma once

#include <cstdint>

#if defined(LLCPRESS_CUDA_EMULATION)

#include "cuda/check_cuda.h"  // the emulated runtime under LLCPRESS_CUDA_EMULATION

namespace llcpress::cuda::emulation {
template <typename... Parameters>
struct Launcher {
  dim3 grid, block;
  std::size_t shared_bytes;
  void (*kernel)(Parameters...);
  template <typename... Arguments>
  void operator()(Arguments&&... arguments) const {
    launch(grid, block, shared_bytes, [&] { kernel(arguments...); });
  }
};
template <typename... Parameters>
Launcher<Parameters...> make_launcher(dim3 grid, dim3 block, std::size_t shared_bytes, void (*kernel)(Parameters...)) {
  return {grid, block, shared_bytes, kernel};
}
}  // namespace llcpress::cuda::emulation

#define LLC_LAUNCH(grid, block, shared_bytes, stream, ...) \
  ((void)(stream), ::llcpress::cuda::emulation::make_launcher((grid), (block), (shared_bytes), __VA_ARGS__))

#else

#include <cuda_runtime.h>

#include "cuda/check_cuda.h"

#define LLC_LAUNCH(grid, block, shared_bytes, stream, ...) __VA_ARGS__<<<(grid), (block), (shared_bytes), (stream)>>>

#endif

namespace llcpress::cuda {

#if defined(__CUDACC__) || defined(LLCPRESS_CUDA_EMULATION)
// The dynamic shared memory of the running block, as T (16-byte aligned).
template <typename T>
__device__ __forceinline__ T* dynamic_shared() {
#if defined(LLCPRESS_CUDA_EMULATION)
  return static_cast<T*>(emulation::dynamic_shared_memory());
#else
  extern __shared__ __align__(16) unsigned char llc_dynamic_shared[];
  return reinterpret_cast<T*>(llc_dynamic_shared);
#endif
}
#endif

// The stream the op launchers enqueue on (per host thread; the default stream
// outside a KernelStreamScope). The ops keep the CPU twins' signatures, so the
// stream is context rather than an argument.
inline thread_local cudaStream_t g_kernel_stream = nullptr;
inline cudaStream_t kernel_stream() { return g_kernel_stream; }

// Points the launchers at `stream` for the scope's lifetime and restores the
// previous one after, so a stream never outlives its owner in this setting
// (CudaBackend wraps each op in one).
class KernelStreamScope {
 public:
  explicit KernelStreamScope(cudaStream_t stream) : previous_(g_kernel_stream) { g_kernel_stream = stream; }
  ~KernelStreamScope() { g_kernel_stream = previous_; }
  KernelStreamScope(const KernelStreamScope&) = delete;
  KernelStreamScope& operator=(const KernelStreamScope&) = delete;

 private:
  cudaStream_t previous_;
};

// Blocks needed for `count` items at `per_block` items each.
inline unsigned blocks_for(std::int64_t count, std::int64_t per_block) {
  return static_cast<unsigned>((count + per_block - 1) / per_block);
}

}  // namespace llcpress::cuda
