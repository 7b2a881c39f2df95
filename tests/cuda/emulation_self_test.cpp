// The CPU emulation itself (src/cuda/emulation): barriers, shuffles, shared
// memory and deadlock reporting, on tiny kernels whose answers are known.
#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>
#include <vector>

#include "cuda/block_reduce.h"
#include "cuda/kernel_launch.h"

namespace llcpress::cuda {
namespace {

// Reverses each block's slice through shared memory: needs the barrier.
__global__ void reverse_in_block(int* out, const int* in) {
  __shared__ int tile[128];
  const int t = static_cast<int>(threadIdx.x);
  tile[t] = in[blockIdx.x * blockDim.x + t];
  __syncthreads();
  out[blockIdx.x * blockDim.x + t] = tile[blockDim.x - 1 - t];
}

__global__ void block_sums(double* out, const double* in) {
  __shared__ double scratch[32];
  const double total = block_sum(in[blockIdx.x * blockDim.x + threadIdx.x], scratch);
  if (threadIdx.x == 0) out[blockIdx.x] = total;
}

__global__ void shuffle_down(int* out) {
  out[threadIdx.x] = __shfl_down_sync(kFullWarp, static_cast<int>(threadIdx.x) * 10, 3u);
}

// Even threads wait at the block barrier, odd ones at a shuffle that half of
// their warp never joins: a hang on a GPU, a reported deadlock here.
__global__ void divergent_barrier(int* out) {
  int value = static_cast<int>(threadIdx.x);
  if (threadIdx.x % 2 == 0)
    __syncthreads();
  else
    value = __shfl_xor_sync(kFullWarp, value, 1);
  out[threadIdx.x] = value;
}

TEST(CudaEmulation, SharedMemoryAndBarrier) {
  std::vector<int> in(3 * 128), out(in.size());
  std::iota(in.begin(), in.end(), 0);
  LLC_LAUNCH(3, 128, 0, nullptr, reverse_in_block)(out.data(), in.data());
  for (int b = 0; b < 3; ++b)
    for (int t = 0; t < 128; ++t) EXPECT_EQ(out[b * 128 + t], in[b * 128 + 127 - t]);
}

TEST(CudaEmulation, BlockSumIsExactOnIntegers) {
  std::vector<double> in(2 * 256), out(2);
  std::iota(in.begin(), in.end(), 1.0);
  LLC_LAUNCH(2, 256, 0, nullptr, block_sums)(out.data(), in.data());
  EXPECT_EQ(out[0], 256.0 * 257.0 / 2.0);
  EXPECT_EQ(out[1], 512.0 * 513.0 / 2.0 - 256.0 * 257.0 / 2.0);
}

TEST(CudaEmulation, ShuffleDownKeepsOwnValueBeyondTheWarp) {
  std::vector<int> out(64);
  LLC_LAUNCH(1, 64, 0, nullptr, shuffle_down)(out.data());
  for (int t = 0; t < 64; ++t) EXPECT_EQ(out[t], (t % 32) + 3 < 32 ? (t + 3) * 10 : t * 10) << t;
}

TEST(CudaEmulation, ReportsADivergentBarrier) {
  std::vector<int> out(64);
  EXPECT_THROW(LLC_LAUNCH(1, 64, 0, nullptr, divergent_barrier)(out.data()), emulation::EmulationError);
}

// CudaBackend wraps each op in a scope: after it, the launchers are back on
// the stream they had, so no destroyed backend's stream is ever used.
TEST(CudaKernelStream, ScopeRestoresThePreviousStream) {
  auto* first = reinterpret_cast<cudaStream_t>(std::uintptr_t{0x10});
  auto* second = reinterpret_cast<cudaStream_t>(std::uintptr_t{0x20});
  ASSERT_EQ(kernel_stream(), nullptr);
  {
    const KernelStreamScope outer(first);
    EXPECT_EQ(kernel_stream(), first);
    {
      const KernelStreamScope inner(second);
      EXPECT_EQ(kernel_stream(), second);
    }
    EXPECT_EQ(kernel_stream(), first);
  }
  EXPECT_EQ(kernel_stream(), nullptr);
}

}  // namespace
}  // namespace llcpress::cuda
