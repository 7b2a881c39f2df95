#include <algorithm>

#include "cuda/add_scaled.h"
#include "cuda/kernel_launch.h"

namespace llcpress::cuda {

namespace {
// Grid-stride. A separately rounded product and sum (no FMA contraction, which
// nvcc would otherwise do): the CPU loop, built with -std=c++20, does not
// contract either, so both backends give the same bits.
__global__ void add_scaled_kernel(float* destination, const float* source, float weight, std::int64_t count) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < count;
       i += std::int64_t(gridDim.x) * blockDim.x)
    destination[i] = __fadd_rn(destination[i], __fmul_rn(weight, source[i]));
}
}  // namespace

void add_scaled(float* destination, const float* source, float weight, std::int64_t count, cudaStream_t stream) {
  if (count <= 0) return;
  constexpr int kThreads = 256;
  const int blocks = static_cast<int>(std::clamp<std::int64_t>((count + kThreads - 1) / kThreads, 1, 132 * 16));
  LLC_LAUNCH(blocks, kThreads, 0, stream, add_scaled_kernel)(destination, source, weight, count);
  LLC_CHECK_LAUNCH();
}

}  // namespace llcpress::cuda
