#include "cuda/kernel_launch.h"
#include "cuda/prune.h"
#include "cuda/scratch_buffer.h"

namespace llcpress::cuda {

namespace {

constexpr int kThreads = 256;

__global__ void prune_kernel(float* out, std::int64_t count, float threshold, std::int64_t last_index) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    const float magnitude = fabsf(out[i]);
    if (magnitude < threshold || (magnitude == threshold && i <= last_index)) out[i] = 0.0f;
  }
}

__global__ void zero_elements_kernel(float* buffer, const std::size_t* indices, std::int64_t count) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride)
    buffer[indices[i]] = 0.0f;
}

}  // namespace

void zero_elements(float* buffer, const std::size_t* host_indices, std::int64_t count) {
  if (count <= 0) return;
  const ScratchBuffer<std::size_t> indices(static_cast<std::size_t>(count));  // (count)
  LLC_CHECK_CUDA(cudaMemcpyAsync(indices.data(), host_indices, sizeof(std::size_t) * count, cudaMemcpyHostToDevice,
                                 kernel_stream()));
  const unsigned needed = blocks_for(count, kThreads);
  LLC_LAUNCH(needed < 4096u ? needed : 4096u, kThreads, 0, kernel_stream(), zero_elements_kernel)
  (buffer, indices.data(), count);
  LLC_CHECK_LAUNCH();
}

void prune_magnitude_apply(float* out, std::int64_t count, float threshold, std::int64_t last_index) {
  if (count <= 0 || last_index < 0) return;
  const unsigned needed = blocks_for(count, kThreads);
  LLC_LAUNCH(needed < 4096u ? needed : 4096u, kThreads, 0, kernel_stream(), prune_kernel)
  (out, count, threshold, last_index);
  LLC_CHECK_LAUNCH();
}

}  // namespace llcpress::cuda
