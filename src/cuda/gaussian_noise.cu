#include "core/rng.h"
#include "cuda/gaussian_noise.h"
#include "cuda/kernel_launch.h"

namespace llcpress::cuda {

namespace {

constexpr int kThreads = 256;

// One thread per Philox block: 4 normals, elements 4b … 4b + 3.
__global__ void gaussian_noise_kernel(float* out, const float* reference, std::int64_t count, float sigma,
                                      std::uint64_t seed, std::uint64_t stream) {
  const std::int64_t blocks = (count + 3) / 4;
  const std::int64_t grid_stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t block = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; block < blocks;
       block += grid_stride) {
    const Float4 normals = philox_normal4(seed, stream, static_cast<std::uint64_t>(block));
    for (int lane = 0; lane < 4; ++lane) {
      const std::int64_t i = 4 * block + lane;
      if (i < count) out[i] = reference[i] + sigma * normals.v[lane];
    }
  }
}

}  // namespace

void noise_forward(float* out, const float* in, float sigma, std::uint64_t seed, std::uint64_t stream,
                   std::int64_t count) {
  if (count <= 0) return;
  const unsigned needed = blocks_for((count + 3) / 4, kThreads);
  LLC_LAUNCH(needed < 4096u ? needed : 4096u, kThreads, 0, kernel_stream(), gaussian_noise_kernel)
  (out, in, count, sigma, seed, stream);
  LLC_CHECK_LAUNCH();
}

}  // namespace llcpress::cuda
